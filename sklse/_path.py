"""The regularization path of one fold: its loss, its warm starts, its points.

Every point is :func:`sklse._solvers.minimize` on the fold's loss (made once, by
:func:`sklse._data.numpy_loss`) with only the penalty changed
(``ScaledObjective._set_penalty``), warm-started from the solutions already on the
path; :mod:`sklse._cv` runs the folds and chooses.
"""

from typing import NamedTuple

import numpy as np

from sklse._compat import (
    neg_log_loss,
    rows_of_params,
)
from sklse._data import (
    fit_weights,
    numpy_loss,
)
from sklse._estimator import SoftmaxRegression
from sklse._numerics import softmax
from sklse._solvers import minimize


def _in_dtype(arrays, dtype):
    """Return the float64 ``(coef, intercept)`` of the estimator in X's dtype."""
    return tuple(array.astype(dtype, copy=False) for array in arrays)


def _grid_array(values, name, expectation, valid):
    """Return ``values`` as a non-empty 1-D float64 array of ``valid`` entries."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1 or array.size == 0 or not valid(array).all():
        raise ValueError(f"{name} must be {expectation}; got {values!r}.")
    return array


class _Path(NamedTuple):
    """What the folds' paths share; read-only in the workers but for ``stop``."""

    estimator: object  # the SoftmaxRegressionCV: settings, callbacks
    X: object  # validated, (n_samples, n_features)
    y_encoded: np.ndarray  # (n_samples,) codes of classes_
    sample_weight: np.ndarray | None  # the caller's, checked; no class weights
    scorer: object  # None: the "neg_log_loss" scorer, see _fold_scorer
    score_params: dict  # scorer metadata, one entry per row of X
    n_threads: int  # block threads of each fold's loss
    stop: list  # non-empty once a callback asked to stop: the folds' one shared state


def _fold_loss(path, train):
    """Return X[train], its labels and the fold's loss (C and l1_ratio: the first)."""
    estimator, classes = path.estimator, path.estimator.classes_
    X, y = path.X[train], path.y_encoded[train]
    present = np.flatnonzero(np.bincount(y, minlength=len(classes)))
    point = estimator._point(estimator.Cs_.min(), estimator.l1_ratios_[0])
    sample_weight = None if path.sample_weight is None else path.sample_weight[train]
    # Class weights as SoftmaxRegression computes them on this fold (its classes);
    # the loss still has every class, so that all folds' models have one layout.
    sample_weight = fit_weights(
        point, X, np.searchsorted(present, y), classes[present], sample_weight
    )
    # The path changes only the penalty: a point that starts where the last one
    # ended reuses its data sums (_warm_start's settled points).
    loss = numpy_loss(
        point,
        X,
        y,
        len(classes),
        sample_weight,
        n_threads=path.n_threads,
        keep_last_sums=True,
    )
    return X, y, loss, point


def _warm_start(solutions, Cs, l1_ratios, m, j, n_dof, settled=False):
    """Return the start of the ``j``-th point of path ``m`` from the ``solutions``.

    ``Cs`` is the grid ascending, ``solutions`` keyed by (m, j) in that order.

    The first point of a path starts from the first point of the previous
    l1_ratio's path (zeros for the first path), the others from the point before.
    On an L2 path (``l1_ratio = 0``), smooth in log C, the start from the third
    point on is extrapolated from the last step (:func:`_path_step`), unless the
    point before was ``settled`` (its start met ``tol``, no iteration): the path
    has flattened there, and from the same point the fold's loss reuses its data
    sums (:meth:`~sklse._loss.SoftmaxLoss.loss_gradient`), so that a point
    already within ``tol`` costs no pass over X. An L1 path
    has kinks where coefficients leave zero, which an extrapolation crosses (and
    L-BFGS-B then can stall). The rule compares no objectives, so that paths equal
    in exact arithmetic (weights against repeated rows) take the same starts,
    unless a gradient falls within rounding of ``tol`` (``settled``).
    """
    if j == 0:
        return solutions.get((m - 1, 0), np.zeros(n_dof))
    last = solutions[m, j - 1]
    if j == 1 or settled or l1_ratios[m] > 0 or np.isinf(Cs[j]):
        return last
    log_C = np.log(Cs[max(j - 3, 0) : j + 1])
    if not np.all(np.diff(log_C) > 0):
        return last
    steps = [solutions[m, i] - solutions[m, i - 1] for i in range(max(j - 2, 1), j)]
    return last + _path_step(steps, np.diff(log_C))


def _path_step(steps, log_steps):
    """Return the predicted change of the solution over the next step in log C.

    ``steps`` holds the last one or two changes of the solution, ``log_steps``
    the steps in log C before them and the next one. The prediction is the last
    change at its speed per unit of log C (the secant), slowed by the ratio of the
    last two speeds when that is below 1. A ridge path whose data are separable
    grows about linearly in log C (ratio ~1: the secant); one that saturates
    towards the unpenalised optimum, ``W(C) - W(inf) ~ 1 / C``, slows by
    ``exp(-step)`` per step, where the secant would overshoot by ~the whole last
    change and "no change" is closer. Never faster than the secant: as C grows
    from its smallest values (``W ~ C``) the speed rises, but the path soon bends.
    """
    *_, last_step, next_step = log_steps
    speed = np.linalg.norm(steps[-1]) / last_step
    factor = next_step / last_step
    if len(steps) == 2:
        before = np.linalg.norm(steps[0]) / log_steps[0]
        if speed < before:
            mid_last = 0.5 * (log_steps[0] + last_step)
            mid_next = 0.5 * (last_step + next_step)
            factor *= (speed / before) ** (mid_next / mid_last)
    return factor * steps[-1]


def _fold_scorer(path, test):
    """Return ``score(model)``: the scorer on the fold's test rows.

    ``"neg_log_loss"`` encodes the test labels once per fold (see
    :func:`sklse._compat.neg_log_loss`) and takes the model's probabilities as
    ``predict_proba`` computes them, without its validation of ``X_test`` (rows of
    the validated X) at every point; any other scorer is called as it is.
    """
    X_test, y_test = path.X[test], path.y_encoded[test]
    params = rows_of_params(path.X, path.score_params, test)
    if path.scorer is None:
        onehot = np.eye(len(path.estimator.classes_))[y_test]
        weight = params.get("sample_weight")
        if weight is not None and not np.any(weight):  # sklearn scorers check it
            raise ValueError(
                "Sample weights must contain at least one non-zero number: every "
                f"row of a test fold ({len(test)} rows) has sample_weight 0, and "
                "neg_log_loss is their weighted mean."
            )

        def score(model):
            logits = np.asarray(X_test @ model.coef_.T)
            logits += model.intercept_
            return neg_log_loss(onehot, softmax(logits, out=logits), weight)

        return score
    y_test = path.estimator.classes_[y_test]
    return lambda model: path.scorer(model, X_test, y_test, **params)


def _point_model(estimator, n_features):
    """Return a SoftmaxRegression ready to predict once coef_, intercept_ are set."""
    model = SoftmaxRegression()
    model.classes_, model.n_features_in_ = estimator.classes_, n_features
    return model


def _empty_path(estimator, n_features, dtype):
    """Return the arrays of a fold's path before any point is fitted.

    ``coefs`` and ``scores`` NaN, ``n_iter`` 0, ``converged`` True (a point not
    fitted, after a callback's stop, is not a fit that failed), ``at_max``
    (whether a solver run reached ``max_iter``) False.
    """
    shape = (len(estimator.l1_ratios_), len(estimator.Cs_))
    columns = n_features + int(estimator.fit_intercept)
    coefs = np.full(shape + (len(estimator.classes_), columns), np.nan, dtype)
    scores, n_iter = np.full(shape, np.nan), np.zeros(shape, dtype=np.int32)
    converged, at_max = np.ones(shape, dtype=bool), np.zeros(shape, dtype=bool)
    return coefs, scores, n_iter, converged, at_max


def _fold_path(path, train, test, context):
    """Fit and score every point of the grid on one fold, from the smallest C up
    (each l1_ratio in turn).

    Returns ``coefs`` (n_l1_ratios, n_Cs, n_classes, n_features + intercept) in X's
    dtype, ``scores``, ``n_iter`` and ``converged``, each (n_l1_ratios, n_Cs). Once
    a callback has asked to stop (``path.stop``), no further point is fitted.
    """
    estimator = path.estimator
    fold = _empty_path(estimator, path.X.shape[1], path.X.dtype)
    if path.stop:
        return fold
    X, y, loss, point = _fold_loss(path, train)
    metadata = None
    if path.sample_weight is not None:
        metadata = {"sample_weight": path.sample_weight[train]}
    task_data = {"estimator": estimator, "X": X, "y": estimator.classes_[y]}
    task_data["metadata"] = metadata
    context.call_on_fit_task_begin(**task_data)
    fit = (point, loss, _point_model(estimator, X.shape[1]), _fold_scorer(path, test))
    solutions = {}
    order = estimator._path_order()
    for m, i in np.ndindex(len(estimator.l1_ratios_), len(order)):
        point_context = context.subcontext(task_name="path-point")
        index = (m, i, order)
        if _path_point(fit, index, solutions, fold, (point_context, task_data)):
            path.stop.append(True)
        if path.stop:
            break
    if context.call_on_fit_task_end(**task_data):
        path.stop.append(True)
    return fold


def _path_point(fit, index, solutions, fold, callback):
    """Fit and score a grid point into ``fold``; return a callback's stop.

    ``fit`` is ``(point, loss, model, score)``, ``index`` ``(m, i, order)``: the
    ``i``-th point of path ``m``, the grid's ascending ``order``; ``callback``
    the point's context and the hooks' task data.
    """
    (point, loss, model, score), (m, i, order) = fit, index
    estimator, X = callback[1]["estimator"], callback[1]["X"]
    Cs, l1_ratios, j = estimator.Cs_[order], estimator.l1_ratios_, order[i]
    loss._set_penalty(X.shape[1], loss.sw_sum, Cs[i], l1_ratios[m])
    settled = i > 0 and fold[2][m, order[i - 1]] == 0  # n_iter of the point before
    start = _warm_start(solutions, Cs, l1_ratios, m, i, loss.n_dof, settled)
    result, stop, reached = _fit_point(point, loss, start, *callback)
    solutions[m, i] = result.params
    model.coef_, model.intercept_ = _in_dtype(
        point._coef_intercept(result.params, loss), X.dtype
    )
    coefs, scores, n_iter, converged, at_max = fold
    scores[m, j] = score(model)
    coefs[m, j, :, : X.shape[1]] = model.coef_
    if estimator.fit_intercept:
        coefs[m, j, :, -1] = model.intercept_
    n_iter[m, j], converged[m, j] = result.n_iter, result.converged
    at_max[m, j] = reached
    if estimator.verbose:
        print(
            f"[SoftmaxRegressionCV] C={Cs[i]:.4g} l1_ratio={l1_ratios[m]:g}: "
            f"{result.n_iter} iterations, score {scores[m, j]:.6g}"
        )
    return stop


def _minimize_from(point, loss, start, X):
    """Return :func:`minimize`'s result from ``start``, or from 0 where it stalls.

    A warm-started L-BFGS-B can stall above ``tol`` before ``max_iter`` (scipy:
    no decrease of f) where the fit from 0, SoftmaxRegression's, gets below it;
    then that fit runs too, and the result of smaller gradient norm is kept, its
    ``n_iter`` the iterations of both. Returns it and whether a run reached
    ``max_iter`` (the sum of two can pass it where neither did).
    """
    solver = point._solver_for(X, loss)
    fit = {"solver": solver, "tol": point.tol, "max_iter": point.max_iter}
    result = minimize(loss, start, **fit)
    if result.converged or result.n_iter >= point.max_iter or not np.any(start):
        return result, result.n_iter >= point.max_iter
    cold = minimize(loss, np.zeros_like(start), **fit)
    best = min(result, cold, key=lambda fitted: fitted.gradient_norm)
    return best._replace(n_iter=result.n_iter + cold.n_iter), (
        cold.n_iter >= point.max_iter
    )


def _fit_point(point, loss, start, point_context, task_data):
    """Minimise ``loss`` from ``start`` as the callback (leaf) task ``point_context``.

    ``task_data`` holds the hooks' ``estimator``, ``X``, ``y`` and ``metadata``.
    Returns the solver's result, whether a callback asked to stop at its end and
    whether a solver run reached ``max_iter`` (:func:`_minimize_from`).
    """
    dtype = task_data["X"].dtype

    def model(params):
        def attributes():
            coef, intercept = _in_dtype(point._coef_intercept(params, loss), dtype)
            return {"coef_": coef, "intercept_": intercept}

        return attributes  # evaluated lazily, by the hooks that need it

    point_context.call_on_fit_task_begin(
        reconstruction_attributes=model(start), **task_data
    )
    result, reached = _minimize_from(point, loss, start, task_data["X"])
    stop = point_context.call_on_fit_task_end(
        reconstruction_attributes=model(result.params), **task_data
    )
    return result, stop, reached
