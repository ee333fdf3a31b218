"""SoftmaxRegression: the scikit-learn estimator on top of the loss and solvers."""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sklse._compat import (
    array_namespace,
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklse._data import _host, _is_dask_array, _validate_data, make_loss
from sklse._numerics import log_softmax, softmax
from sklse._objective import _pack, _unpack
from sklse._solvers import SOLVERS, minimize
from sklse._threads import one_blas_thread


def _in_place(logits):
    """Return ``logits`` as the ``out=`` of the numerics: numpy only works in place."""
    return logits if array_namespace(logits) is None else None


def _is_fitted_attribute(name):
    """Whether ``name`` is a fitted attribute by ``check_is_fitted``'s rule."""
    return name.endswith("_") and not name.startswith("__")


_UNFITTED = "Estimator, %(name)s, must be fitted before {what}."  # sklearn's words


def _whole_fit(fit):
    """Decorate ``fit``: one BLAS thread throughout, underflow as numpy's default has
    it; if it raises, attributes as before.

    Every evaluation of the fit runs under :func:`sklse._threads.one_blas_thread`, so
    that its results do not depend on the BLAS thread count that the rest of the
    process happens to set. Underflow to 0 is part of the numerics (the exp of a
    logit far below its row's max, the square of a tiny feature), so the fit ignores
    it even under the caller's ``np.errstate(under="raise")``; the caller's other
    settings stand. ``validate_data`` sets ``n_features_in_`` before the
    solver runs, and a KeyboardInterrupt can end a fit anywhere: a fit that raises
    leaves the fitted attributes (names ending in ``_``) as it found them, so the
    estimator is unfitted or as fitted before, never half-set.
    """

    @functools.wraps(fit)
    def whole_fit(self, *args, **kwargs):
        before = {
            name: v for name, v in vars(self).items() if _is_fitted_attribute(name)
        }
        try:
            with one_blas_thread(), np.errstate(under="ignore"):
                return fit(self, *args, **kwargs)
        except BaseException:
            attributes = vars(self)
            for name in [name for name in attributes if _is_fitted_attribute(name)]:
                del attributes[name]
            attributes.update(before)
            raise

    return whole_fit


class SoftmaxRegression(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic (softmax) regression with a stable log-softmax loss.

    A drop-in for :class:`~sklearn.linear_model.LogisticRegression` on the same
    multinomial objective, minimised through :func:`scipy.optimize.minimize`. Every
    softmax quantity uses the max-shift (log-sum-exp) trick, so
    :meth:`predict_log_proba` is finite wherever the logits are.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the penalty strength, as in LogisticRegression; ``np.inf`` fits
        without penalty (and ignores ``l1_ratio``).
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing, as in LogisticRegression: the penalty is
        ``(1 - l1_ratio) / 2 * ||W||_F^2 + l1_ratio * ||W||_1``, so 0 is L2 and 1 is
        L1. Above 0, coefficients that the optimum sets to zero are exactly 0.0;
        only "lbfgs" (and "auto") can fit it, as L-BFGS-B on ``W = P - N``,
        ``P, N >= 0``.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept per class.
    class_weight : dict or "balanced", default=None
        Weights per class, multiplied into ``sample_weight``. "balanced" uses
        ``n_samples / (n_classes * np.bincount(y))`` with counts weighted by
        ``sample_weight``, as LogisticRegression.
    solver : {"auto", "lbfgs", "newton-cg", "trust-ncg", "newton-cholesky"}, \
            default="auto"
        "lbfgs" is scipy's L-BFGS-B with the analytic gradient, without an L1
        term on standardised variables (each feature centred and scaled, without
        touching X, dense or sparse; the README says how); "newton-cg" and
        "trust-ncg" are scipy's line-search and trust-region Newton-CG with the
        exact Hessian-vector product, on the same variables (trust-ncg reaches
        the tightest ``tol``);
        "newton-cholesky" takes Newton steps on the dense Hessian (no L1 term;
        not on Dask arrays). "auto" is "lbfgs" with an L1 term; otherwise
        newton-cholesky where a Hessian costs at most 2**23 multiply-adds, else
        lbfgs, which gives way to newton-cholesky where its rate of progress says
        Newton is cheaper.
    tol : float, default=1e-4
        Stop once the largest absolute entry of the gradient of the objective
        divided by ``C * sum(sample_weight)`` is at most ``tol`` (LogisticRegression's
        lbfgs criterion); with ``C=np.inf`` the divisor is ``sum(sample_weight)``.
    max_iter : int, default=100
        Maximum number of solver iterations; 0 keeps the starting model.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when the classes and the
        number of features are unchanged.
    verbose : int, default=0
        Print the objective and gradient max-norm after each iteration when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (n_classes, n_features)
        Weights ``W``, one row per class, also for two classes; columns sum to 0
        when ``l1_ratio == 0``.
    intercept_ : ndarray of shape (n_classes,)
        Intercepts ``b`` (zeros when ``fit_intercept=False``); they sum to 0.
    n_iter_ : ndarray of shape (1,)
        Number of solver iterations.
    objective_ : float
        Final value of the objective ``F(W, b)`` (see Notes).
    gradient_norm_ : float
        Final ``max |grad|`` of the scaled objective (its smallest subgradient with
        an L1 term), the quantity compared to ``tol``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : the same objective, other solvers.

    Notes
    -----
    The fit minimises, with sample weights :math:`s_i` (times class weights),

    .. math::

        F(W, b) = C \sum_i s_i \left(\operatorname{logsumexp}(z_i) - z_{i, y_i}\right)
                  + \tfrac{1 - r}{2} \lVert W \rVert_F^2 + r \lVert W \rVert_1,
                  \qquad z_i = W x_i + b, \quad r = \mathrm{l1\_ratio},

    LogisticRegression's multinomial objective. With two classes and ``l1_ratio=0``,
    the symmetric parametrisation halves the penalty of the margin
    ``w = W[1] - W[0]``, so the fit equals ``LogisticRegression(C=2 * C)``:
    ``coef_[1] - coef_[0]`` is its ``coef_[0]``. In general the margin is that of
    ``LogisticRegression(C=2 * C / (1 + r), l1_ratio=2 * r / (1 + r))``: the L1
    norm of the two rows is at least ``||w||_1``, reached at ``W[0] = -w / 2``,
    where the L2 term is ``||w||^2 / 4`` (with ``l1_ratio=1``: the same C).

    :meth:`set_callbacks` takes scikit-learn's callbacks (:mod:`sklearn.callback`)
    with every solver: each solver iteration is one sub-task, whose model has that
    iterate's ``coef_`` and ``intercept_``; a callback asking to stop ends the fit
    after that iteration, without a ConvergenceWarning.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklse import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(max_iter=1000).fit(X, y)
    >>> clf.predict(X[:2])
    array([0, 0])
    >>> clf.predict_proba(X[:1]).round(3)
    array([[0.982, 0.018, 0.   ]])
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions(set(SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        class_weight=None,
        solver="auto",
        tol=1e-4,
        max_iter=100,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.verbose = verbose

    @with_callbacks
    @_whole_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the model to training data.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data; float32 stays float32, sparse CSR/CSC stays sparse. A
            row-chunked ``dask.array.Array`` is fitted chunk-wise under the active
            Dask scheduler (see the README's Dask section).
        y : array-like or dask array of shape (n_samples,)
            Target labels.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Non-negative weights, not all zero; None weighs every sample 1.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
        self._validate_params()
        if np.isinf(self.C) and self.l1_ratio > 0:
            warnings.warn(
                f"l1_ratio={self.l1_ratio!r} has no effect with C=np.inf (no penalty), "
                "as in LogisticRegression.",
                UserWarning,
                stacklevel=4,  # _whole_fit's and with_callbacks' wrappers, the caller
            )
        if self._has_l1():
            self._check_l1_solver("l1_ratio")
        # The caller's weights go to the callbacks, as LogisticRegression passes them.
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        X, y, classes, loss = make_loss(self, X, y, sample_weight)
        solver = self._solver_for(X, loss)
        if solver == "newton-cholesky" and not hasattr(loss, "hessian"):
            raise ValueError(
                "solver='newton-cholesky' needs the dense Hessian, which sklse does "
                "not compute on dask arrays; use solver='auto', 'lbfgs', "
                "'newton-cg' or 'trust-ncg'."
            )
        start = self._start(classes, X.shape[1])
        # One sub-task per solver iteration; max_iter=0 makes the fit task a leaf.
        context = self._init_callback_context(max_subtasks=self.max_iter)
        task_data = {"X": X, "y": y, "metadata": metadata}
        context.call_on_fit_task_begin(estimator=self, **task_data)
        result = minimize(
            loss,
            start,
            solver=solver,
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            # None without callbacks: the solver path is then the one without them.
            on_iteration=(
                self._on_iteration(context, loss, start, solver, task_data, classes)
                if hasattr(self, "_skl_callbacks")
                else None
            ),
        )
        self._set_fitted(result, loss, X.dtype, classes)
        if not (result.converged or result.interrupted):  # a stop asked for: no warning
            self._warn_not_converged(result, solver, np.dtype(loss.dtype).name)
        context.call_on_fit_task_end(
            estimator=self, reconstruction_attributes={}, **task_data
        )
        return self

    def _solver_for(self, X, loss):
        """Return the solver that ``solver="auto"`` stands for on this X and loss."""
        if self.solver != "auto":
            return self.solver
        return "lbfgs" if loss.l1 > 0 else "auto"

    def _set_fitted(self, result, loss, dtype, classes):
        """Set the fitted attributes from the solver's ``result``, all at once.

        They are put where the loss's data is (X's namespace and device).
        """
        coef, intercept = self._coef_intercept(result.params, loss)
        # objective_ is F of the returned (centred) model. Centring leaves the data
        # term as it is (softmax is shift invariant) and changes only the penalty:
        # F is the solver's last value, its penalty swapped, exact to a few ulps of
        # that value while the swap takes at most half of it (the data term is >= 0,
        # so the value bounds both penalties); else (a warm start far from centred)
        # F is evaluated there. (An iterate drifts off centred by its gradient's
        # round-off, float32's for float32 X: no evaluation for that.)
        params = _pack(coef, intercept if loss.fit_intercept else None)
        saved = loss.penalty(result.params) - loss.penalty(params)
        if saved <= 0.5 * result.value:
            objective = loss.scale * (result.value - saved)
        else:
            objective = loss.objective(params)
        # One update of the instance dict: no attribute is set without the others.
        vars(self).update(
            classes_=classes,
            coef_=loss.fitted_array(coef, dtype),
            intercept_=loss.fitted_array(intercept, dtype),
            n_iter_=loss.fitted_array(np.array([result.n_iter]), np.int32),
            objective_=objective,
            gradient_norm_=result.gradient_norm,
        )

    def _check_l1_solver(self, name):
        """Raise unless the solver minimises an L1 term, which parameter ``name``
        (``l1_ratio``, or the CV's ``l1_ratios``) asks for."""
        if self.solver not in ("auto", "lbfgs"):
            raise ValueError(
                f"solver={self.solver!r} does not support l1_ratio > 0 (an L1 term); "
                f"use solver='lbfgs' or 'auto'. Got {name}={getattr(self, name)!r}."
            )

    def _has_l1(self):
        """Whether the objective has an L1 term (C = inf has no penalty at all)."""
        return self.l1_ratio > 0 and not np.isinf(self.C)

    def _coef_intercept(self, params, loss):
        """Return ``coef_`` and ``intercept_`` of ``params``: new float64 arrays.

        The fitted attributes and those of every callback's model, so that the last
        iteration's model is the fitted one. ``params`` is not modified.
        """
        dtype = np.float64
        coef, intercept = _unpack(params, loss.n_classes, loss.fit_intercept)
        # The data term is invariant to adding one vector to every class row (softmax
        # is shift invariant) and the L2 penalty is smallest when the rows sum to 0:
        # centring is the symmetric parametrisation, and never raises F. (It could
        # raise an L1 term, so then only the unpenalised intercept is centred.)
        if loss.l1 == 0:
            coef = coef - coef.mean(axis=0)
        if intercept is None:
            return coef.astype(dtype), np.zeros(loss.n_classes, dtype=dtype)
        return coef.astype(dtype), (intercept - intercept.mean()).astype(dtype)

    def _on_iteration(self, context, loss, start, solver, task_data, classes):
        """Return :func:`minimize`'s ``on_iteration``: one callback sub-task per step.

        Each call opens the iteration's sub-context and calls begin (model at the
        previous iterate, or the start) and end (model at this iterate) together, so
        every iteration is one begin/end pair. scipy has no hook before an iteration,
        so both run after its work: a sub-task's duration is not the iteration's
        (sklearn's LogisticRegression bridge instead opens the next sub-task at once
        and closes one extra, empty sub-task at the end). The models are built only
        when a callback asks for ``fitted_estimator``. Returns True when a callback
        asks to stop, which ends the solver after this iteration.
        """
        dtype = task_data["X"].dtype
        previous = [start]

        def model(params):
            def attributes():
                coef, intercept = self._coef_intercept(params, loss)
                return {
                    "classes_": classes,
                    "coef_": loss.fitted_array(coef, dtype),
                    "intercept_": loss.fitted_array(intercept, dtype),
                }

            return attributes  # evaluated lazily, by the hooks that need it

        def on_iteration(params):
            iteration = context.subcontext(task_name=f"{solver}-iter")
            iteration.call_on_fit_task_begin(
                estimator=self,
                reconstruction_attributes=model(previous[0]),
                **task_data,
            )
            previous[0] = params.copy()  # scipy may reuse its buffer
            return iteration.call_on_fit_task_end(
                estimator=self,
                reconstruction_attributes=model(previous[0]),
                **task_data,
            )

        return on_iteration

    def _warn_not_converged(self, result, solver, precision):
        """Warn, as LogisticRegression does, with the reason and a remedy.

        The message starts as LogisticRegression's own (``"lbfgs failed to converge
        after 100 iteration(s)"``), so that filters written for it apply.
        ``precision``: the name of the evaluations' dtype, whose reach ``tol`` may
        be beyond.
        """
        # "auto" starts as lbfgs, and LogisticRegression's users filter on its name.
        solver = "lbfgs" if solver == "auto" else solver
        what = f"{solver} failed to converge after {result.n_iter} iteration(s): " + (
            f"max|gradient| = {self.gradient_norm_:.2e} > tol = {self.tol:.1e}"
            if self.gradient_norm_ > self.tol
            else result.message  # another test of the stop, which it names
        )
        if result.n_iter >= self.max_iter:
            remedy = (
                f"max_iter={self.max_iter} was reached: increase max_iter or scale "
                "the features (e.g. with StandardScaler)."
            )
        else:
            remedy = (
                f"{result.message}: this tol is out of {precision}'s reach on this "
                f"problem (the gradient reached {self.gradient_norm_:.1e}); use a "
                "larger tol, or if the gradient is large, scale the features (e.g. "
                "with StandardScaler)."
            )
        # Frames: this method, fit, _whole_fit's and with_callbacks' wrappers, then the
        # caller of fit.
        warnings.warn(f"{what}; {remedy}", category=ConvergenceWarning, stacklevel=5)

    def _start(self, classes, n_features):
        """Return the starting ``params``: the fitted model on warm start, else 0."""
        n_classes = classes.shape[0]
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and np.array_equal(_host(self.classes_), _host(classes))
            and tuple(self.coef_.shape) == (n_classes, n_features)
        ):
            intercept = _host(self.intercept_) if self.fit_intercept else None
            coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
            return _pack(_host(coef), intercept)
        return np.zeros(n_classes * (n_features + int(self.fit_intercept)))

    def _predict_dask(self, method, X):
        """Return ``method`` applied to each row chunk of dask X: a lazy dask array."""
        from sklse import _dask  # dask is imported only when X is a dask array

        check_is_fitted(self)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must be 2-D with {self.n_features_in_} features, as in fit; got "
                f"a dask array of shape {X.shape}."
            )
        n_classes = len(self.classes_)
        if method == "predict":
            return _dask.predict_lazily(self, method, X, None, self.classes_.dtype)
        two_class_margin = method == "decision_function" and n_classes == 2
        x_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        dtype = np.result_type(x_dtype, self.coef_.dtype)
        n_columns = None if two_class_margin else n_classes
        return _dask.predict_lazily(self, method, X, n_columns, dtype)

    def _logits(self, X, method):
        """Return ``X @ coef_.T + intercept_`` of shape (n_samples, n_classes).

        Under array API dispatch X must have the namespace and device of the fit
        (sklearn's ``check_same_namespace`` raises, naming ``method``).
        """
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="coef_", method=method)
        xp, _ = get_namespace(X)
        X = _validate_data(self, X, reset=False, xp=xp)
        if array_namespace(X) is not None:
            # X's float dtype and the fit's promote as numpy's do (torch's matmul
            # refuses to mix them)
            dtype = xp.result_type(X.dtype, self.coef_.dtype)
            coef, intercept = (
                xp.astype(a, dtype, copy=False) for a in (self.coef_, self.intercept_)
            )
            return xp.astype(X, dtype, copy=False) @ coef.T + intercept
        with np.errstate(under="ignore"):  # as in fit (_whole_fit)
            logits = X @ self.coef_.T  # dense unless X and coef_ (sparsify) are sparse
            logits = logits.toarray() if sp.issparse(logits) else np.asarray(logits)
            logits += self.intercept_
        return logits

    def decision_function(self, X):
        """Return the logits, or for two classes the margin ``z_1 - z_0``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array chunked as
            X's rows, computed chunk by chunk.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            ``scores = X @ coef_.T + intercept_``; for two classes the 1-D margin
            ``scores[:, 1] - scores[:, 0]`` (scikit-learn's binary convention).
        """
        if _is_dask_array(X):
            return self._predict_dask("decision_function", X)
        logits = self._logits(X, "decision_function")
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict(self, X):
        """Return the class of largest logit for each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array chunked as
            X's rows, computed chunk by chunk.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``classes_[argmax_k z_k]``.
        """
        if _is_dask_array(X):
            return self._predict_dask("predict", X)
        logits = self._logits(X, "predict")  # first: it checks that the model is fitted
        if array_namespace(logits) is None:
            return self.classes_[np.argmax(logits, axis=1)]
        return self._classes_of(logits)

    def predict_log_proba(self, X):
        """Return the log-probabilities, the log-softmax of the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array chunked as
            X's rows, computed chunk by chunk.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log_proba = z - logsumexp(z)``, computed without forming the
            probabilities: finite wherever the logits are, even where
            :meth:`predict_proba` underflows to 0.
        """
        if _is_dask_array(X):
            return self._predict_dask("predict_log_proba", X)
        logits = self._logits(X, "predict_log_proba")
        return log_softmax(logits, out=_in_place(logits))

    def predict_proba(self, X):
        """Return the class probabilities, the softmax of the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array chunked as
            X's rows, computed chunk by chunk.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``proba = exp(z - logsumexp(z))``; rows sum to 1.
        """
        if _is_dask_array(X):
            return self._predict_dask("predict_proba", X)
        logits = self._logits(X, "predict_proba")
        return softmax(logits, out=_in_place(logits))

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy on ``X``, ``y``, as ClassifierMixin's.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Test samples.
        y : array-like or dask array of shape (n_samples,)
            True labels.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``accuracy_score(y, self.predict(X), sample_weight=sample_weight)``.
            With dask inputs the predictions, labels and weights are computed
            together, X read once (their chunk sizes may be unknown).
        """
        values = (X, y, sample_weight)
        if not any(map(_is_dask_array, values)):
            return super().score(X, y, sample_weight=sample_weight)
        from sklse import _dask  # dask is imported only when it is handed dask

        y_pred, y, sample_weight = _dask.computed(self.predict(X), y, sample_weight)
        return float(accuracy_score(y, y_pred, sample_weight=sample_weight))

    def sparsify(self):
        """Convert ``coef_`` to a scipy sparse CSR matrix, as LogisticRegression's.

        An L1 or elastic-net fit has exact zeros in ``coef_``
        (:func:`sklse._solvers.minimize`); with more than about half of them zero
        the sparse format takes less memory. ``intercept_`` stays dense; prediction
        takes either format, and the next fit (a warm start included) sets a dense
        ``coef_`` again. The sparse interface (``csr_array`` or ``csr_matrix``)
        follows scikit-learn's ``sparse_interface`` setting. Not for models fitted
        on array-API inputs, whose ``coef_`` lives on their device.

        Returns
        -------
        self : SoftmaxRegression
            The estimator, its ``coef_`` sparse.
        """
        check_is_fitted(self, msg=_UNFITTED.format(what="sparsifying"))
        if array_namespace(self.coef_) is not None:
            raise TypeError(
                "sparsify() needs a numpy coef_; this model was fitted on "
                f"{type(self.coef_).__module__}.{type(self.coef_).__qualname__} "
                "inputs (array API dispatch)."
            )
        sparray = get_config().get("sparse_interface", "spmatrix") == "sparray"
        self.coef_ = (sp.csr_array if sparray else sp.csr_matrix)(self.coef_)
        return self

    def densify(self):
        """Convert a sparsified ``coef_`` back to a numpy array (else a no-op).

        Returns
        -------
        self : SoftmaxRegression
            The estimator, its ``coef_`` dense.
        """
        check_is_fitted(self, msg=_UNFITTED.format(what="densifying"))
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    def _classes_of(self, logits):
        """Return ``classes_[argmax_k z_k]`` for array-API logits, on their device.

        The labels are taken where ``classes_`` lives (y's namespace in fit) and
        moved to the logits' namespace and device, unless they are strings.
        """
        xp, _, device = get_namespace_and_device(logits)
        xp_classes, _, device_classes = get_namespace_and_device(self.classes_)
        indices = move_to(
            xp.argmax(logits, axis=1), xp=xp_classes, device=device_classes
        )
        labels = xp_classes.take(self.classes_, indices, axis=0)
        if not xp_classes.isdtype(labels.dtype, ("bool", "numeric")):
            return labels  # strings or objects: numpy, as classes_
        return move_to(labels, xp=xp, device=device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags
