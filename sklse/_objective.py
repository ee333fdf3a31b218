"""The penalised multinomial cross-entropy, written once for every evaluator.

The objective, written once (the solvers and the estimator refer here)::

    F(W, b) = C * sum_i s_i * (logsumexp(z_i) - z_{i, y_i})
              + (1 - r)/2 * ||W||_F^2 + r * ||W||_1
    z_i = W @ x_i + b                       (C = inf: the data term alone)

``W`` is (n_classes, n_features), ``b`` (n_classes,) and never penalised, ``s_i`` the
sample weights (1 when absent), ``S = sum_i s_i``, ``r = l1_ratio`` in [0, 1]. This is
LogisticRegression's multinomial objective. scipy is handed the same minimiser at a
scale where the gradient is of order one, so that ``tol`` means what it means for
LogisticRegression's lbfgs::

    f = F / (C * S) = 1/S * sum_i s_i * CE_i + alpha/2 * ||W||_F^2 + l1 * ||W||_1
    alpha = (1 - r) / (C * S),  l1 = r / (C * S)      (C = inf: f = F / S, no penalty)
    grad_W = 1/S * (P - Y)^T diag(s) X + alpha * W,     grad_b = 1/S * (P - Y)^T s
    hessp(V, v):  Z_V = X V^T + v,   R = P * (Z_V - rowsum(P * Z_V))
                  H[V] = 1/S * R^T diag(s) X + alpha * V,   H[v] = 1/S * R^T s
    hessian:      H = 1/S * sum_i s_i (diag(p_i) - p_i p_i^T) kron x~_i x~_i^T
                      + alpha * I on the coef entries,        x~_i = [x_i, 1]

with ``P = softmax(Z)``, ``Y = onehot(y)``. Gradient and Hessian are those of the smooth
part (all of ``f`` but the L1 term, whose handling is the solvers').

The data terms are sums over rows. Each way of evaluating them is one module that
hands its sums to :class:`ScaledObjective` (the scaling by ``S`` and the penalty) and
packs with :func:`_pack` / :func:`_unpack`: numpy row blocks (:mod:`sklse._loss`),
Dask row chunks (:mod:`sklse._dask`) and array-API arrays on their device
(:mod:`sklse._array_api`). Conventions: ``params`` is the float64 vector
``concatenate([W.ravel(), b])`` (each class row contiguous; no ``b`` without
intercept); only :func:`_unpack` knows that layout.
"""

import numpy as np

from sklse._compat import numpy_namespace

__all__ = ["ScaledObjective"]

# Below it 1 / scale overflows; a Python float, so that np.errstate(under=...) is moot.
_MIN_SCALE = 1 / float(np.finfo(np.float64).max)
_CANCELLED = 2.0**10  # E[x^2] / variance beyond which the variance is recomputed


def _unpack(params, n_classes, fit_intercept, xp=np):
    """Return views ``coef`` (n_classes, n_features) and ``intercept`` (n_classes,).

    ``intercept`` is None without intercept. ``xp`` is the namespace of ``params``
    (numpy, or an array-API namespace for params on a device).
    """
    coef, intercept = (
        (params[:-n_classes], params[-n_classes:]) if fit_intercept else (params, None)
    )
    if xp is np:  # the method: np.reshape's dispatch costs 3 times as much
        return coef.reshape(n_classes, -1), intercept
    return xp.reshape(coef, (n_classes, -1)), intercept  # the standard has no method


def _pack(coef, intercept, xp=numpy_namespace):
    """Return the float64 ``params`` vector of ``coef`` and ``intercept`` (or None).

    ``xp`` is the namespace of ``coef`` (by default numpy's, through the array API);
    the vector is made where ``coef`` is.
    """
    parts = [xp.reshape(coef, (-1,))]
    if intercept is not None:
        parts.append(xp.reshape(intercept, (-1,)))
    return xp.astype(xp.concat(parts), xp.float64, copy=False)


class ScaledObjective:
    """The scaling of ``f`` and its penalty: what every evaluator of the data shares.

    A subclass sums the data terms (over row blocks, chunks, or on a device) and hands
    the sums to :meth:`_finish` / :meth:`_finish_hessp` / :meth:`_finish_hessian`,
    which divide by ``S`` and add the L2 part; :meth:`objective` adds the L1 part.
    """

    sparse = False  # X a scipy sparse matrix (in-memory loss only)
    # Every positive weight on one class: set by an evaluator (see f_star_positive).
    one_class = False

    @property
    def f_star_positive(self):
        """Whether ``f* = min f > 0``: the gap ``f - f*`` has a scale relative to f.

        So with a penalty, but where every positive weight is on one class and the
        model has an intercept: ``W = 0`` and ``b_y - b_k -> inf`` take f to 0,
        which no finite point reaches (a cross-validation fold of one class).
        """
        return self.alpha > 0 and not (self.one_class and self.fit_intercept)

    def _set_one_class(self, count_weighted_classes):
        """Set ``one_class`` where :attr:`f_star_positive` depends on it (a penalty
        and an intercept), from ``count_weighted_classes()``: the number of classes
        of positive total weight, which the evaluator counts on its data."""
        if self.alpha > 0 and self.fit_intercept:
            self.one_class = count_weighted_classes() == 1

    def _set_penalty(self, n_features, sw_sum, C, l1_ratio):
        """Set ``sw_sum``, ``scale`` (F = scale * f), ``alpha``, ``l1``, ``n_dof``."""
        self.sw_sum = sw_sum
        self.scale = sw_sum * (1.0 if np.isinf(C) else C)
        if not np.isfinite(self.scale):
            raise ValueError(
                f"C * sum(sample_weight) = {C!r} * {sw_sum!r} overflows float64; "
                "rescale the sample weights or C."
            )
        if not np.isinf(C) and self.scale < _MIN_SCALE:
            raise ValueError(
                f"C * sum(sample_weight) = {C!r} * {sw_sum!r} underflows float64 (its "
                "inverse, the penalty's, overflows); rescale the sample weights or C."
            )
        # Penalty strengths as f sees them: alpha for 1/2 ||W||^2 (in the smooth part
        # that loss_gradient returns), l1 for ||W||_1 (the solvers' business).
        penalty = 0.0 if np.isinf(C) else 1.0 / self.scale
        self.alpha, self.l1 = (1.0 - l1_ratio) * penalty, l1_ratio * penalty
        self.n_dof = self.n_classes * (n_features + int(self.fit_intercept))

    def feature_moments(self):
        """Return each feature's weighted mean and variance (float64 numpy arrays).

        What L-BFGS's change of variables needs (:mod:`sklse._solvers`), computed
        once, from the subclass's ``_weighted_sums(center)``: ``sum_i s_i x_i`` and
        ``sum_i s_i x_i^2`` (rows of a (2, n_features) array) for None, in one pass
        over X, else ``sum_i s_i (x_i - center)^2``. The variance is ``E[x^2] -
        mean^2``, which loses ``E[x^2] / variance`` ulps to cancellation: where
        that is more than ``2**10`` for any feature (a mean beyond ~32 spreads, a
        constant feature), a second, centred pass over dense X. (Sparse X's
        centred sum over stored entries would be the same formula rearranged:
        none, a negative rounding is 0.) Without an intercept the model cannot
        centre: the mean is 0, the variance the second moment.
        """
        if getattr(self, "_moments", None) is None:
            with np.errstate(over="ignore", invalid="ignore"):  # refused below
                first, second = self._weighted_sums(None) / self.sw_sum
            overflow = np.flatnonzero(~np.isfinite(second))
            if overflow.size:
                raise ValueError(
                    f"The sum of the squares of feature {overflow[0]} overflows "
                    "float64 (it scales the solver's variables): scale the "
                    "features (e.g. with StandardScaler)."
                )
            if not self.fit_intercept:
                self._moments = np.zeros_like(second), second
                return self._moments
            variance = second - first**2
            if self.sparse:
                np.maximum(variance, 0.0, out=variance)
            elif not np.all(second <= _CANCELLED * variance):  # nan, <= 0 included
                variance = self._weighted_sums(first) / self.sw_sum
            self._moments = first, variance
        return self._moments

    def _finish(self, loss, grad, params):
        """Return the smooth part of f and its gradient from the data sums."""
        grad /= self.sw_sum
        if self.alpha == 0:  # no L2 term (and no 0 * inf for huge coef)
            return loss / self.sw_sum, grad
        coef = _unpack(params, self.n_classes, self.fit_intercept)[0].reshape(-1)
        grad[: coef.size] += self.alpha * coef  # coef's entries come first
        penalty = 0.5 * self.alpha * float(np.dot(coef, coef))
        return loss / self.sw_sum + penalty, grad

    def _finish_hessp(self, result, direction):
        """Return the smooth part's Hessian-vector product from the data sums."""
        result /= self.sw_sum
        coef_dir, _ = _unpack(direction, self.n_classes, self.fit_intercept)
        hess_coef, _ = _unpack(result, self.n_classes, self.fit_intercept)
        hess_coef += self.alpha * coef_dir
        return result

    def _finish_hessian(self, hessian):
        """Return the smooth part's dense (n_dof, n_dof) Hessian from the data sums.

        ``hessian`` is the data term's, float64, divided here by ``S``; the L2 part
        adds ``alpha`` on the diagonal entries of ``coef`` (not of the intercept).
        """
        hessian /= self.sw_sum
        n_coef = self.n_dof - (self.n_classes if self.fit_intercept else 0)
        # A strided view of the diagonal's first n_coef entries.
        hessian.reshape(-1)[: n_coef * (self.n_dof + 1) : self.n_dof + 1] += self.alpha
        return hessian

    def fitted_array(self, host, dtype):
        """Return host array ``host`` in ``dtype`` where this evaluator's data lives.

        In memory: a numpy array (a copy). Evaluators on a device put it there.
        """
        return host.astype(dtype)

    def penalty(self, params):
        """Return the penalty of ``f`` at ``params``: alpha/2 ||W||^2 + l1 ||W||_1."""
        coef = _unpack(params, self.n_classes, self.fit_intercept)[0].reshape(-1)
        value = 0.0
        if self.alpha > 0:  # (no 0 * inf for huge coef)
            value += 0.5 * self.alpha * float(np.dot(coef, coef))
        if self.l1 > 0:
            value += self.l1 * float(np.sum(np.abs(coef)))
        return value

    def objective(self, params):
        """Return the unscaled objective ``F(params)`` of the module docstring."""
        smooth = self.loss_gradient(params)[0]
        if self.l1 == 0:
            return self.scale * smooth
        coef, _ = _unpack(params, self.n_classes, self.fit_intercept)
        return self.scale * (smooth + self.l1 * float(np.sum(np.abs(coef))))
