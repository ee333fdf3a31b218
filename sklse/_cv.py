"""SoftmaxRegressionCV: the regularization path of SoftmaxRegression, cross-validated.

Each fold's path (:mod:`sklse._path`) builds its loss once
(:func:`sklse._data.numpy_loss`, the estimator's own validated loss) and moves along
the path by changing only the penalty, warm-starting :func:`sklse._solvers.minimize`
from the solutions already on the path. The solver is the estimator's
(``_solver_for``) with its ``tol``, so every point meets the ``tol`` of
``SoftmaxRegression(C=C, l1_ratio=l1_ratio)`` on that fold (at large C a warm start
can meet it as it is: 0 iterations, as in LogisticRegressionCV). This module runs
the folds, chooses the point and refits.
"""

import warnings
from numbers import Integral

import numpy as np
from joblib import effective_n_jobs
from sklearn import get_config
from sklearn.callback import with_callbacks
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed

from sklse._compat import (
    array_namespace,
    check_sample_weight,
    effective_n_threads,
    raise_for_params,
    routing_enabled,
    scorer_with_labels,
)
from sklse._data import (
    _check_n_classes,
    _encode_labels,
    _validate_data,
    fit_weights,
    numpy_loss,
)
from sklse._estimator import SoftmaxRegression, _whole_fit
from sklse._objective import _pack
from sklse._path import (
    _fit_point,
    _fold_path,
    _grid_array,
    _in_dtype,
    _Path,
)

__all__ = ["SoftmaxRegressionCV"]


class SoftmaxRegressionCV(SoftmaxRegression):
    r"""SoftmaxRegression with C (and l1_ratio) chosen by cross-validation.

    Fits the whole regularization path on every fold, from the most regularised end,
    each point warm-started from those before it; each point is the model
    ``SoftmaxRegression(C=C, l1_ratio=l1_ratio)`` fits on the fold (same solvers,
    same ``tol``). The chosen point is refitted on all the data.

    Parameters
    ----------
    Cs : int or array-like of shape (n_Cs,), default=10
        As in LogisticRegressionCV: an int gives that many values log-spaced from
        1e-4 to 1e4, an array of positive values (``np.inf``: no penalty) is the
        grid, in its order; the same grid for every l1_ratio. Each path runs from
        the smallest C up, whatever the order.
    l1_ratios : array-like of shape (n_l1_ratios,), default=(0.0,)
        Elastic-net mixings to try, each in [0, 1] (see SoftmaxRegression).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept per class.
    class_weight : dict or "balanced", default=None
        As in SoftmaxRegression; on each fold, "balanced" uses that fold's counts.
    solver : {"auto", "lbfgs", "newton-cg", "trust-ncg", "newton-cholesky"}, \
            default="auto"
        SoftmaxRegression's solver for every fit; "auto" and "lbfgs" for
        ``l1_ratios`` above 0.
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
        fold models. False, as LogisticRegressionCV: the model is the mean of
        each fold's best model (with ``select="1se"``: of the chosen point's fold
        models), ``C_`` and ``l1_ratio_`` the means of their values.
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
    Cs_ : ndarray of shape (n_Cs,)
        The grid of C, in the order given.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The l1_ratios, as given.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Test score of each fold at each grid point.
    mean_scores_ : ndarray of shape (n_l1_ratios, n_Cs)
        ``scores_.mean(axis=0)``; NaN where a fold's score is NaN.
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
        ``(m, j)``: the point chosen by ``select``, ``l1_ratios_[m]`` and
        ``Cs_[j]``.
    C_ : float
        The chosen C (``refit=False``: see ``refit``).
    l1_ratio_ : float
        The chosen l1_ratio (``refit=False``: see ``refit``).
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
        LogisticRegression.

    Notes
    -----
    A training fold that misses a class still has a row per class (that class's
    logits decrease until ``tol`` is met; a fold of one class, as
    LogisticRegressionCV, is fitted so), and scorers whose metric takes ``labels``
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
    ((3, 1, 5), (5,))
    >>> clf.predict(X[:2])
    array([0, 0])
    """

    # score's sample_weight is the scorer's to request (as LogisticRegressionCV's):
    # a self-request would take it as consumed, and an unrequested one would be
    # dropped silently instead of raising.
    __metadata_request__score = {"sample_weight": UNUSED}

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
    @_whole_fit
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
        on_device = [a for a in (X, y, sample_weight) if array_namespace(a) is not None]
        if get_config()["array_api_dispatch"] and on_device:
            kind = type(on_device[0])
            raise TypeError(
                "SoftmaxRegressionCV fits numpy arrays and scipy sparse matrices; got "
                f"a {kind.__module__}.{kind.__qualname__} under array API dispatch. "
                "Tune SoftmaxRegression with GridSearchCV there: it keeps X on its "
                "device."
            )
        l1_ratios = self._check_l1_ratios()
        Cs = self._check_Cs()
        X, y = _validate_data(self, X, y)
        self.classes_, y_encoded = _encode_labels(y)
        _check_n_classes(self.classes_)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        split_params, score_params = self._routed_params(sample_weight, params)
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **split_params))
        if not folds:
            raise ValueError(f"cv={self.cv!r} gives no (train, test) split.")
        # Class weights of all the data, the refit's (checked whether or not it runs).
        weight = fit_weights(
            self._point(1.0, 0.0), X, y_encoded, self.classes_, sample_weight
        )
        self.l1_ratios_ = l1_ratios
        self.Cs_ = Cs
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
        converged, at_max = self._set_path(results)
        self._choose()
        refit = self.refit and not path.stop  # a stop asked for: no refit either
        refit_converged, refit_at_max = self._fit_chosen(
            X, y_encoded, weight, (context, task_data), refit
        )
        converged = np.append(converged, refit_converged)
        if not converged.all():
            at_max = np.append(at_max, refit_at_max)
            self._warn_not_converged_path(converged, at_max)
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
            context.subcontext(
                task_name="fold-path", max_subtasks=self.Cs_.size * len(self.l1_ratios_)
            )
            for _ in folds
        ]
        # sklearn's delayed rebuilds the warnings filters in each job inside
        # catch_warnings, whose saves and restores of the process's filters
        # interleave on threads: the last job out could leave its rebuilt copy. The
        # caller's come back here.
        with warnings.catch_warnings():
            return Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(_fold_path)(path, train, test, fold_context)
                for (train, test), fold_context in zip(
                    folds, fold_contexts, strict=True
                )
            )

    def _check_l1_ratios(self):
        """Return ``l1_ratios`` as an array, checked against the solver."""
        l1_ratios = _grid_array(
            self.l1_ratios,
            "l1_ratios",
            "a non-empty 1-D array of numbers in [0, 1]",
            lambda array: (array >= 0) & (array <= 1),
        )
        if np.any(l1_ratios > 0):
            self._check_l1_solver("l1_ratios")
        return l1_ratios

    def _check_Cs(self):
        """Return the grid: LogisticRegressionCV's ``logspace(-4, 4, Cs)``, or Cs."""
        if isinstance(self.Cs, Integral):
            return np.logspace(-4, 4, self.Cs)
        return _grid_array(
            self.Cs,
            "Cs",
            "a positive int or a non-empty 1-D array of C > 0",
            lambda array: array > 0,  # NaN fails; inf: no penalty
        )

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
        """Set the path's attributes from the folds' results; return converged and
        at_max (whether a run reached max_iter), flat.

        Points a callback's stop left unfitted (NaN models) are left out of the
        means and standard errors (NaN where no fold, or one, fitted them); a
        NaN score of a fitted point makes its mean NaN, as in GridSearchCV.
        """
        coefs, scores, n_iter, converged, at_max = map(
            np.stack, zip(*results, strict=True)
        )
        self.coefs_paths_, self.scores_, self.n_iter_ = coefs, scores, n_iter
        fitted = self._fitted_points()
        n_folds = fitted.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0: NaN, unfitted
            self.mean_scores_ = np.where(fitted, scores, 0.0).sum(axis=0) / n_folds
            squares = np.where(fitted, scores - self.mean_scores_, 0.0) ** 2
            variance = squares.sum(axis=0) / (n_folds - 1)  # ddof=1
            self.std_errors_ = np.sqrt(variance / n_folds)
        return converged.ravel(), at_max.ravel()

    def _path_order(self):
        """Return the indices of ``Cs_`` ascending (ties in the given order): the
        order of every path, and of the tie rules."""
        return np.argsort(self.Cs_, kind="stable")

    def _fitted_points(self):
        """Return (n_folds, n_l1_ratios, n_Cs): which points were fitted (a
        callback's stop leaves the others' models NaN)."""
        return ~np.isnan(self.coefs_paths_[..., 0, 0])

    def _best(self, scores):
        """Return the index ``(m, j)`` of the largest of ``scores`` (n_l1, n_Cs).

        Ties go to the smallest C, then to the first l1_ratio (LogisticRegressionCV
        and GridSearchCV's order for an ascending grid); NaN never wins.
        """
        order = self._path_order()
        ranked = np.where(np.isnan(scores), -np.inf, scores)[:, order]
        i, m = np.unravel_index(np.argmax(ranked.T), ranked.T.shape)
        return int(m), int(order[i])

    def _choose(self):
        """Set ``best_index_``, ``C_`` and ``l1_ratio_`` by the ``select`` rule.

        After a callback's stop, only the points fitted on every fold compete (on
        any fold, when there are none).
        """
        fitted = self._fitted_points()
        candidate = fitted.all(axis=0) if fitted.all(axis=0).any() else fitted.any(0)
        m, j = self._best(np.where(candidate, self.mean_scores_, np.nan))
        if self.select == "1se":
            if len(self.scores_) < 2:
                raise ValueError(
                    "select='1se' needs at least 2 folds for a standard error; got "
                    f"{len(self.scores_)} fold."
                )
            threshold = self.mean_scores_[m, j] - self.std_errors_[m, j]
            order = self._path_order()
            # the smallest C within; none if threshold is NaN
            within = order[
                np.where(candidate[m], self.mean_scores_[m], np.nan)[order] >= threshold
            ]
            j = int(within[0]) if within.size else j
        self.best_index_ = (m, j)
        self.C_ = float(self.Cs_[j])
        self.l1_ratio_ = float(self.l1_ratios_[m])

    def _fit_chosen(self, X, y_encoded, sample_weight, callback, refit):
        """Set ``coef_``, ``intercept_``: the refit from the mean fold model, or it.

        The mean is over the folds that fitted the chosen point, or, for
        ``refit=False`` (and ``select="min"``, every point fitted), over each
        fold's own best point, as LogisticRegressionCV's. ``callback`` is the
        fit's context and the hooks' task data. Returns whether the refit met
        ``tol`` and whether a run reached ``max_iter`` (True, False without refit).
        """
        n_features = X.shape[1]
        fitted = self._fitted_points()
        if not self.refit and self.select == "min" and fitted.all():
            # LogisticRegressionCV's refit=False: each fold's own best point.
            m, j = np.transpose([self._best(scores) for scores in self.scores_])
            models = self.coefs_paths_[np.arange(len(m)), m, j]
            self.C_ = float(np.mean(self.Cs_[j]))
            self.l1_ratio_ = float(np.mean(self.l1_ratios_[m]))
        else:
            m, j = self.best_index_
            models = self.coefs_paths_[fitted[:, m, j], m, j]
        mean = np.mean(models, axis=0, dtype=np.float64)
        coef, intercept = mean[:, :n_features], mean[:, n_features:].ravel()
        if not self.fit_intercept:
            intercept = np.zeros(len(self.classes_))
        if not refit:
            self.coef_, self.intercept_ = (
                coef.astype(X.dtype),
                intercept.astype(X.dtype),
            )
            return True, False
        point = self._point(self.C_, self.l1_ratio_)
        loss = numpy_loss(point, X, y_encoded, len(self.classes_), sample_weight)
        start = _pack(coef, intercept if self.fit_intercept else None)
        context, task_data = callback
        result, _, reached = _fit_point(
            point, loss, start, context.subcontext(task_name="refit"), task_data
        )
        self.coef_, self.intercept_ = _in_dtype(
            point._coef_intercept(result.params, loss), X.dtype
        )
        return result.converged, reached

    def _warn_not_converged_path(self, converged, at_max):
        """Warn once for every fit (path or refit) that stopped above ``tol``.

        The message starts as SoftmaxRegression's and LogisticRegression's (``"lbfgs
        failed to converge"``), so that filters written for them apply; its remedy
        is max_iter's only for the fits that reached it.
        """
        solver = "lbfgs" if self.solver == "auto" else self.solver
        failed = ~converged
        at_max = np.count_nonzero(failed & at_max)
        remedies = []
        if at_max:
            remedies.append(
                f"{at_max} reached max_iter={self.max_iter}: increase max_iter or "
                "scale the features (e.g. with StandardScaler)"
            )
        if at_max < np.count_nonzero(failed):
            remedies.append(
                f"{np.count_nonzero(failed) - at_max} stopped before max_iter, tol "
                "out of the precision's reach there: use a larger tol"
            )
        warnings.warn(
            f"{solver} failed to converge in {np.count_nonzero(failed)} of "
            f"{converged.size} fits (path and refit) of SoftmaxRegressionCV: "
            f"max|gradient| > tol = {self.tol:.1e}, or, with it met, Newton's "
            "decrement or tol on the features standardised unmet (n_iter_ shows "
            "which fits); " + "; ".join(remedies) + ".",
            category=ConvergenceWarning,
            # This method, fit, _whole_fit's and with_callbacks' wrappers, then the
            # caller of fit.
            stacklevel=5,
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
