"""SoftmaxRegressionCV: the regularization path of SoftmaxRegression, cross-validated.

Each fold builds its loss once (:func:`sklse._data.numpy_loss`, the estimator's own
validated loss) and moves along the path by changing only the penalty
(``ScaledObjective._set_penalty``), warm-starting :func:`sklse._solvers.minimize`
from the solutions already on the path. The solver is the estimator's
(``_solver_for``) with its ``tol``, so every point is the model
``SoftmaxRegression(C=C, l1_ratio=l1_ratio)`` fits on that fold.
"""

import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from sklearn.callback import with_callbacks
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed

from sklse._compat import (
    check_sample_weight,
    effective_n_threads,
    neg_log_loss,
    raise_for_params,
    routing_enabled,
    rows_of_params,
    scorer_with_labels,
)
from sklse._data import (
    _check_n_classes,
    _encode_labels,
    _validate_data,
    fit_weights,
    numpy_loss,
)
from sklse._estimator import SoftmaxRegression
from sklse._numerics import softmax
from sklse._objective import _pack
from sklse._solvers import minimize

__all__ = ["SoftmaxRegressionCV"]

# glmnet's stand-in for l1_ratio = 0 when it computes the start of a ridge path: its
# lambda_max is max|gradient| / max(alpha, 1e-3).
_RIDGE_RATIO = 1e-3
_DECADES = 4  # span of a data-driven grid


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


def intercept_only_gradient(X, y_encoded, n_classes, sample_weight, fit_intercept):
    """Return ``G = (P0 - Y)^T diag(s) X`` (n_classes, n_features), float64.

    ``P0`` is the intercept-only optimum: every row holds the weighted class shares
    (``1 / n_classes`` without intercept, where it is the zero model). ``C * G`` is
    the gradient of the data term of F with respect to W at ``W = 0``.
    """
    n_samples = len(y_encoded)
    s = np.ones(n_samples) if sample_weight is None else sample_weight
    s = np.asarray(s, dtype=np.float64)
    weighted_onehot = sp.csr_array(
        (s, (y_encoded, np.arange(n_samples))), shape=(n_classes, n_samples)
    )
    class_sums = weighted_onehot @ X  # row k: sum of s_i x_i over class k
    class_sums = class_sums.toarray() if sp.issparse(class_sums) else class_sums
    class_sums = np.asarray(class_sums, dtype=np.float64)
    if fit_intercept:
        shares = np.bincount(y_encoded, weights=s, minlength=n_classes) / s.sum()
    else:
        shares = np.full(n_classes, 1.0 / n_classes)
    return shares[:, np.newaxis] * class_sums.sum(axis=0) - class_sums


def data_driven_grid(gradient, l1_ratios, n_Cs):
    """Return the grid ``Cs`` of shape (n_l1_ratios, n_Cs), each row ascending.

    Row ``r > 0`` starts at ``r / max|G|``, the largest C whose optimum has ``W = 0``
    (the L1 subgradient ``r`` covers ``C * G``); row ``r = 0`` at ``1e-3 / max|G|``,
    where glmnet starts a ridge path. Each spans four decades, log-spaced.
    """
    scale = np.max(np.abs(gradient), initial=0.0)
    if scale == 0:  # W = 0 is optimal for every C: any grid gives the same models
        scale = 1.0
    first = np.where(l1_ratios > 0, l1_ratios, _RIDGE_RATIO) / scale
    return first[:, np.newaxis] * np.logspace(0, _DECADES, n_Cs)


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
    if len(present) < 2:
        raise ValueError(
            "Every training fold needs samples of at least 2 classes; got a fold of "
            f"{len(y)} samples of class {classes[present].tolist()} only: use a "
            "stratified cv (e.g. StratifiedKFold) or fewer folds."
        )
    point = estimator._point(estimator.Cs_[0, 0], estimator.l1_ratios_[0])
    sample_weight = None if path.sample_weight is None else path.sample_weight[train]
    # Class weights as SoftmaxRegression computes them on this fold (its classes);
    # the loss still has every class, so that all folds' models have one layout.
    sample_weight = fit_weights(
        point, X, np.searchsorted(present, y), classes[present], sample_weight
    )
    loss = numpy_loss(
        point, X, y, len(classes), sample_weight, n_threads=path.n_threads
    )
    return X, y, loss, point


def _warm_start(solutions, Cs, l1_ratios, m, j, n_dof):
    """Return the start of grid point (m, j) from the ``solutions`` so far.

    The first point of a path starts from the first point of the previous
    l1_ratio's path (zeros for the first path), the others from the point before.
    On an L2 path (``l1_ratio = 0``), smooth in log C, the start from the third
    point on is extrapolated from the last step (:func:`_path_step`). An L1 path
    has kinks where coefficients leave zero, which an extrapolation crosses (and
    L-BFGS-B then can stall). The rule compares no objectives, so that paths equal
    in exact arithmetic (weights against repeated rows) take the same starts.
    """
    if j == 0:
        return solutions.get((m - 1, 0), np.zeros(n_dof))
    last = solutions[m, j - 1]
    if j == 1 or l1_ratios[m] > 0 or np.isinf(Cs[m, j]):
        return last
    log_C = np.log(Cs[m, max(j - 3, 0) : j + 1])
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
    fitted, after a callback's stop, is not a fit that failed).
    """
    Cs = estimator.Cs_
    columns = n_features + int(estimator.fit_intercept)
    coefs = np.full(Cs.shape + (len(estimator.classes_), columns), np.nan, dtype)
    scores, n_iter = np.full(Cs.shape, np.nan), np.zeros(Cs.shape, dtype=np.int32)
    return coefs, scores, n_iter, np.ones(Cs.shape, dtype=bool)


def _fold_path(path, train, test, context):
    """Fit and score every point of the grid on one fold, from the smallest C up.

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
    for m, j in np.ndindex(estimator.Cs_.shape):
        point_context = context.subcontext(task_name="path-point")
        if _path_point(fit, (m, j), solutions, fold, (point_context, task_data)):
            path.stop.append(True)
        if path.stop:
            break
    if context.call_on_fit_task_end(**task_data):
        path.stop.append(True)
    return fold


def _path_point(fit, index, solutions, fold, callback):
    """Fit and score grid point ``index`` into ``fold``; return a callback's stop.

    ``fit`` is ``(point, loss, model, score)``, ``callback`` the point's context
    and the hooks' task data.
    """
    (point, loss, model, score), (m, j) = fit, index
    estimator, X = callback[1]["estimator"], callback[1]["X"]
    Cs, l1_ratios = estimator.Cs_, estimator.l1_ratios_
    loss._set_penalty(X.shape[1], loss.sw_sum, Cs[m, j], l1_ratios[m])
    start = _warm_start(solutions, Cs, l1_ratios, m, j, loss.n_dof)
    result, stop = _fit_point(point, loss, start, *callback)
    solutions[m, j] = result.params
    model.coef_, model.intercept_ = _in_dtype(
        point._coef_intercept(result.params, loss), X.dtype
    )
    coefs, scores, n_iter, converged = fold
    scores[m, j] = score(model)
    coefs[m, j, :, : X.shape[1]] = model.coef_
    if estimator.fit_intercept:
        coefs[m, j, :, -1] = model.intercept_
    n_iter[m, j], converged[m, j] = result.n_iter, result.converged
    if estimator.verbose:
        print(
            f"[SoftmaxRegressionCV] C={Cs[m, j]:.4g} l1_ratio={l1_ratios[m]:g}: "
            f"{result.n_iter} iterations, score {scores[m, j]:.6g}"
        )
    return stop


def _minimize_from(point, loss, start, X):
    """Return :func:`minimize`'s result from ``start``, or from 0 where it stalls.

    A warm-started L-BFGS-B can stall above ``tol`` before ``max_iter`` (scipy:
    no decrease of f) where the fit from 0, SoftmaxRegression's, gets below it;
    then that fit runs too, and the result of smaller gradient norm is kept, its
    ``n_iter`` the iterations of both.
    """
    solver = point._solver_for(X, loss)
    fit = {"solver": solver, "tol": point.tol, "max_iter": point.max_iter}
    result = minimize(loss, start, **fit)
    if result.converged or result.n_iter >= point.max_iter or not np.any(start):
        return result
    cold = minimize(loss, np.zeros_like(start), **fit)
    best = min(result, cold, key=lambda fitted: fitted.gradient_norm)
    return best._replace(n_iter=result.n_iter + cold.n_iter)


def _fit_point(point, loss, start, point_context, task_data):
    """Minimise ``loss`` from ``start`` as the callback (leaf) task ``point_context``.

    ``task_data`` holds the hooks' ``estimator``, ``X``, ``y`` and ``metadata``.
    Returns the solver's result and whether a callback asked to stop at its end.
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
    result = _minimize_from(point, loss, start, task_data["X"])
    stop = point_context.call_on_fit_task_end(
        reconstruction_attributes=model(result.params), **task_data
    )
    return result, stop


class SoftmaxRegressionCV(SoftmaxRegression):
    r"""SoftmaxRegression with C (and l1_ratio) chosen by cross-validation.

    Fits the whole regularization path on every fold, from the most regularised end,
    each point warm-started from those before it; each point is the model
    ``SoftmaxRegression(C=C, l1_ratio=l1_ratio)`` fits on the fold (same solvers,
    same ``tol``). The chosen point is refitted on all the data.

    Parameters
    ----------
    Cs : int or array-like of shape (n_Cs,), default=10
        An int gives a data-driven grid of that many values per l1_ratio, log-spaced
        over four decades (see Notes); an array of positive values is the grid of
        every l1_ratio (sorted ascending).
    l1_ratios : array-like of shape (n_l1_ratios,), default=(0.0,)
        Elastic-net mixings to try, each in [0, 1] (see SoftmaxRegression).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept per class.
    class_weight : dict or "balanced", default=None
        As in SoftmaxRegression; on each fold, "balanced" uses that fold's counts.
    solver : {"auto", "lbfgs", "newton-cg", "trust-ncg"}, default="auto"
        SoftmaxRegression's solver for every fit.
    tol : float, default=1e-4
        SoftmaxRegression's stopping rule for every fit.
    max_iter : int, default=100
        Maximum number of solver iterations of each fit.
    verbose : int, default=0
        Print one line per point of the path when positive.
    cv : int, cross-validation generator or iterable, default=None
        As in :func:`~sklearn.model_selection.check_cv`: None is 5-fold stratified.
    scoring : str, callable or None, default="neg_log_loss"
        Any scikit-learn scorer (greater is better); None is accuracy.
    refit : bool, default=True
        Refit the chosen point on all the data, starting from the mean of its
        fold models; False keeps that mean as the model.
    n_jobs : int or None, default=None
        Folds fitted in parallel through joblib (threads unless a joblib backend
        says otherwise); the block threads of each fit are bounded so that all
        jobs together use at most the cores.
    select : {"min", "1se"}, default="min"
        "min" takes the point of best mean score. "1se" takes, at that point's
        l1_ratio, the smallest C whose mean score is at least the best mean minus
        its standard error (glmnet's ``lambda.1se``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    Cs_ : ndarray of shape (n_l1_ratios, n_Cs)
        The grid: row ``m`` holds the C values (ascending) of ``l1_ratios_[m]``.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The l1_ratios, as given.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Test score of each fold at each grid point.
    mean_scores_ : ndarray of shape (n_l1_ratios, n_Cs)
        ``scores_.mean(axis=0)``.
    std_errors_ : ndarray of shape (n_l1_ratios, n_Cs)
        ``scores_.std(axis=0, ddof=1) / sqrt(n_folds)`` (glmnet's ``cvsd``); NaN
        for one fold.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs, n_classes, \
            n_features + fit_intercept)
        Each fold's model at each grid point: ``coef_`` with ``intercept_`` as
        its last column when ``fit_intercept``.
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Solver iterations of each fit of the path.
    best_index_ : tuple of int
        ``(m, j)``: the chosen point is ``Cs_[m, j]``, ``l1_ratios_[m]``.
    C_ : float
        The chosen C.
    l1_ratio_ : float
        The chosen l1_ratio.
    coef_ : ndarray of shape (n_classes, n_features)
        Weights of the final model (refitted, or the mean of the fold models).
    intercept_ : ndarray of shape (n_classes,)
        Intercepts of the final model.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    SoftmaxRegression : one point of the path.
    sklearn.linear_model.LogisticRegressionCV : the same search for
        LogisticRegression, on a fixed grid.

    Notes
    -----
    The data-driven grid is computed on all the data (with its sample and class
    weights). At the intercept-only model (intercepts at their optimum, ``W = 0``),
    the data term's gradient with respect to ``W`` is ``C G`` with

    .. math::

        G = (P_0 - Y)^\top \operatorname{diag}(s) X,

    where every row of :math:`P_0` holds the weighted class shares. With an L1 term
    (``l1_ratio = r > 0``), ``W = 0`` is the optimum exactly when
    :math:`C \max_{kj} |G_{kj}| \le r`: the grid of ``r`` starts at
    :math:`C = r / \max |G|`, where every coefficient is zero (glmnet's
    ``lambda_max``). For ``r = 0`` it starts at :math:`10^{-3} / \max |G|`, glmnet's
    start of a ridge path. Each row spans four decades from there.

    A training fold that misses a class still has a row per class (that class's
    logits decrease until ``tol`` is met), and scorers whose metric takes ``labels``
    are given every class, so test folds that miss one are scored.

    :meth:`set_callbacks` takes scikit-learn's callbacks: the fit has one sub-task
    per fold and one for the refit; each fold's sub-tasks are its grid points, in
    path order, whose model is the fold's at that point. A callback asking to stop
    (``on_fit_task_end`` returning True) at a point or at a fold ends the path
    there: no further point is fitted on any fold (folds running in other
    processes finish theirs), those points have NaN ``scores_`` and
    ``coefs_paths_`` and ``n_iter_`` 0, the choice is made among the points fitted
    on every fold (on any fold if none is), and the model is the mean of the chosen
    point's fold models, without refit and without a ConvergenceWarning for the
    points not fitted.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklse import SoftmaxRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegressionCV(Cs=5, cv=3, max_iter=1000).fit(X, y)
    >>> clf.scores_.shape, clf.Cs_.shape
    ((3, 1, 5), (1, 5))
    >>> clf.predict(X[:2])
    array([0, 0])
    """

    _parameter_constraints = {
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like"],
        **{
            name: SoftmaxRegression._parameter_constraints[name]
            for name in (
                "fit_intercept",
                "class_weight",
                "solver",
                "tol",
                "max_iter",
                "verbose",
            )
        },
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
        "select": [StrOptions({"min", "1se"})],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=(0.0,),
        fit_intercept=True,
        class_weight=None,
        solver="auto",
        tol=1e-4,
        max_iter=100,
        verbose=0,
        cv=None,
        scoring="neg_log_loss",
        refit=True,
        n_jobs=None,
        select="min",
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.select = select

    @with_callbacks
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the path on every fold, choose a point and refit it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 stays float32, sparse CSR/CSC stays sparse.
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, used in every fit and, as LogisticRegressionCV
            does, in the scorer (with metadata routing: where it requests them).
        **params : dict
            Metadata for the splitter (e.g. ``groups``) and the scorer; only with
            metadata routing enabled.

        Returns
        -------
        self : SoftmaxRegressionCV
            The fitted estimator.
        """
        raise_for_params(params, self, "fit")
        self._validate_params()
        l1_ratios = self._check_l1_ratios()
        Cs = self._check_Cs()
        X, y = _validate_data(self, X, y)
        self.classes_, y_encoded = _encode_labels(y)
        _check_n_classes(self.classes_)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        split_params, score_params = self._routed_params(sample_weight, params)
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **split_params))
        # Class weights of all the data: the grid's and the refit's.
        weight = fit_weights(
            self._point(1.0, 0.0), X, y_encoded, self.classes_, sample_weight
        )
        self.l1_ratios_ = l1_ratios
        self.Cs_ = self._grid(Cs, X, y_encoded, weight)
        context = self._init_callback_context(max_subtasks=len(folds) + self.refit)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        task_data = {"estimator": self, "X": X, "y": y, "metadata": metadata}
        context.call_on_fit_task_begin(**task_data)
        path = _Path(
            self,
            X,
            y_encoded,
            sample_weight,
            self._path_scorer(score_params),
            score_params,
            self._block_threads(len(folds)),
            [],
        )
        results = self._fold_paths(path, folds, context)
        converged = self._set_path(results)
        self._choose()
        refit = self.refit and not path.stop  # a stop asked for: no refit either
        converged = np.append(
            converged,
            self._fit_chosen(X, y_encoded, weight, (context, task_data), refit),
        )
        if not converged.all():
            self._warn_not_converged_path(converged)
        context.call_on_fit_task_end(reconstruction_attributes={}, **task_data)
        return self

    def _block_threads(self, n_folds):
        """Return the block threads of each fold's fits: the cores over the jobs."""
        n_jobs = min(effective_n_jobs(self.n_jobs), n_folds)
        return max(1, effective_n_threads() // n_jobs)

    def _fold_paths(self, path, folds, context):
        """Return :func:`_fold_path` of every fold, in ``n_jobs`` joblib threads.

        The folds' callback contexts are made here, in order, before the jobs run.
        """
        fold_contexts = [
            context.subcontext(task_name="fold-path", max_subtasks=self.Cs_.size)
            for _ in folds
        ]
        return Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fold_path)(path, train, test, fold_context)
            for (train, test), fold_context in zip(folds, fold_contexts, strict=True)
        )

    def _check_l1_ratios(self):
        """Return ``l1_ratios`` as an array, checked against the solver."""
        l1_ratios = _grid_array(
            self.l1_ratios,
            "l1_ratios",
            "a non-empty 1-D array of numbers in [0, 1]",
            lambda array: (array >= 0) & (array <= 1),
        )
        if self.solver in ("newton-cg", "trust-ncg") and np.any(l1_ratios > 0):
            raise ValueError(
                f"solver={self.solver!r} does not support l1_ratio > 0 (an L1 term); "
                f"use solver='lbfgs' or 'auto'. Got l1_ratios={self.l1_ratios!r}."
            )
        return l1_ratios

    def _check_Cs(self):
        """Return ``Cs``: the int, or the array sorted ascending."""
        if isinstance(self.Cs, Integral):
            return int(self.Cs)
        Cs = _grid_array(
            self.Cs,
            "Cs",
            "a positive int or a non-empty 1-D array of C > 0",
            np.isfinite,
        )
        if not np.all(Cs > 0):
            raise ValueError(f"Cs must be positive; got {self.Cs!r}.")
        return np.sort(Cs)

    def _grid(self, Cs, X, y_encoded, sample_weight):
        """Return ``Cs_`` (n_l1_ratios, n_Cs): Cs for every l1_ratio, or the data's."""
        if not isinstance(Cs, int):
            return np.tile(Cs, (len(self.l1_ratios_), 1))
        gradient = intercept_only_gradient(
            X, y_encoded, len(self.classes_), sample_weight, self.fit_intercept
        )
        return data_driven_grid(gradient, self.l1_ratios_, Cs)

    def _point(self, C, l1_ratio):
        """Return the SoftmaxRegression of one grid point, with these settings."""
        return SoftmaxRegression(
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=self.fit_intercept,
            class_weight=self.class_weight,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
        )

    def _get_scorer(self):
        """Return the scorer of ``scoring`` (None: accuracy)."""
        return check_scoring(SoftmaxRegression(), scoring=self.scoring or "accuracy")

    def _path_scorer(self, score_params):
        """Return the scorer of the path, told every class; None for neg_log_loss.

        None: :func:`_fold_scorer`'s equivalent of the ``"neg_log_loss"`` scorer,
        used where ``sample_weight`` is its only metadata.
        """
        if self.scoring == "neg_log_loss" and set(score_params) <= {"sample_weight"}:
            return None
        return scorer_with_labels(self._get_scorer(), self.classes_)

    def _routed_params(self, sample_weight, params):
        """Return the splitter's and the scorer's metadata.

        Without metadata routing, as LogisticRegressionCV: ``sample_weight`` goes
        to the scorer as well as to every fit.
        """
        if routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
            return routed.splitter.split, routed.scorer.score
        score_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return {}, score_params

    def _set_path(self, results):
        """Set the path's attributes from the folds' results; return converged.

        Points a callback's stop left unfitted (NaN scores) are left out of the
        means and standard errors (NaN where no fold, or one, fitted them).
        """
        coefs, scores, n_iter, converged = map(np.stack, zip(*results, strict=True))
        self.coefs_paths_, self.scores_, self.n_iter_ = coefs, scores, n_iter
        fitted = ~np.isnan(scores)
        n_folds = fitted.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0: NaN, unfitted
            self.mean_scores_ = np.where(fitted, scores, 0.0).sum(axis=0) / n_folds
            squares = np.where(fitted, scores - self.mean_scores_, 0.0) ** 2
            variance = squares.sum(axis=0) / (n_folds - 1)  # ddof=1
            self.std_errors_ = np.sqrt(variance / n_folds)
        return converged.ravel()

    def _choose(self):
        """Set ``best_index_``, ``C_`` and ``l1_ratio_`` by the ``select`` rule.

        Ties go to the smallest C, then to the first l1_ratio (LogisticRegressionCV
        and GridSearchCV's order). After a callback's stop, only the points fitted
        on every fold compete (on any fold, when there are none).
        """
        fitted = ~np.isnan(self.scores_)
        candidate = fitted.all(axis=0) if fitted.all(axis=0).any() else fitted.any(0)
        mean = np.where(candidate, self.mean_scores_, -np.inf)
        j, m = np.unravel_index(np.argmax(mean.T), mean.T.shape)
        if self.select == "1se":
            if len(self.scores_) < 2:
                raise ValueError(
                    "select='1se' needs at least 2 folds for a standard error; got "
                    f"{len(self.scores_)} fold."
                )
            threshold = self.mean_scores_[m, j] - self.std_errors_[m, j]
            within = np.flatnonzero(mean[m] >= threshold)  # none if threshold is NaN
            j = within[0] if within.size else j
        self.best_index_ = (int(m), int(j))
        self.C_ = float(self.Cs_[m, j])
        self.l1_ratio_ = float(self.l1_ratios_[m])

    def _fit_chosen(self, X, y_encoded, sample_weight, callback, refit):
        """Set ``coef_``, ``intercept_``: the refit from the mean fold model, or it.

        The mean is over the folds that fitted the chosen point; ``callback`` is
        the fit's context and the hooks' task data. Returns whether the refit met
        ``tol`` (True without refit).
        """
        n_features = X.shape[1]
        models = self.coefs_paths_[:, *self.best_index_].astype(np.float64)
        mean = models[~np.isnan(self.scores_[:, *self.best_index_])].mean(axis=0)
        coef, intercept = mean[:, :n_features], mean[:, n_features:].ravel()
        if not self.fit_intercept:
            intercept = np.zeros(len(self.classes_))
        if not refit:
            self.coef_, self.intercept_ = (
                coef.astype(X.dtype),
                intercept.astype(X.dtype),
            )
            return True
        point = self._point(self.C_, self.l1_ratio_)
        loss = numpy_loss(point, X, y_encoded, len(self.classes_), sample_weight)
        start = _pack(coef, intercept if self.fit_intercept else None)
        context, task_data = callback
        result, _ = _fit_point(
            point, loss, start, context.subcontext(task_name="refit"), task_data
        )
        self.coef_, self.intercept_ = _in_dtype(
            point._coef_intercept(result.params, loss), X.dtype
        )
        return result.converged

    def _warn_not_converged_path(self, converged):
        """Warn once for every fit (path or refit) that stopped above ``tol``."""
        warnings.warn(
            f"SoftmaxRegressionCV: {np.count_nonzero(~converged)} of {converged.size} "
            f"fits (path and refit) stopped above tol = {self.tol:.1e} "
            f"(max_iter={self.max_iter}); n_iter_ shows which: increase max_iter or "
            "scale the features (e.g. with StandardScaler).",
            category=ConvergenceWarning,
            stacklevel=3,
        )

    def score(self, X, y, sample_weight=None, **score_params):
        """Return the ``scoring`` score of the model on ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to the scorer.
        **score_params : dict
            Further metadata for the scorer; only with metadata routing enabled.

        Returns
        -------
        score : float
            ``scoring`` (accuracy when None) of this model on ``X``, ``y``.
        """
        raise_for_params(score_params, self, "score")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        if routing_enabled():
            score_params = process_routing(self, "score", **score_params).scorer.score
        return self._get_scorer()(self, X, y, **score_params)

    def get_metadata_routing(self):
        """Return the metadata routing: fit's sample_weight, the splitter, the scorer.

        Returns
        -------
        routing : MetadataRouter
            ``groups`` and the like go to the splitter's ``split``, the scorer's
            metadata to its ``score`` (from ``fit`` and ``score``).
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=self.cv,
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._get_scorer(),
                method_mapping=MethodMapping()
                .add(caller="score", callee="score")
                .add(caller="fit", callee="score"),
            )
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The path is fitted on numpy folds only (SoftmaxRegression alone has the
        # array-API path).
        tags.array_api_support = False
        return tags
