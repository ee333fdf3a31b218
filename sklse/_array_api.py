"""The objective of :mod:`sklse._objective` on array-API arrays, on their device.

:class:`ArrayAPISoftmaxLoss` evaluates the data terms of ``f`` (loss, gradient,
Hessian-vector product, dense Hessian) in X's namespace on X's device (torch on CPU
or CUDA, CuPy, array-api-strict, ...), written once against the array API standard;
the scaling and the penalty are :class:`~sklse._objective.ScaledObjective`'s, on the
host, on O(n_dof) values. The solvers iterate on float64 numpy ``params`` on the host,
as on every evaluator.

What crosses between host and device, per call (counted in the tests):

- :meth:`~ArrayAPISoftmaxLoss.loss_gradient`: ``params`` to the device (n_dof values
  in X's dtype), then ``[loss, *gradient]`` back (1 + n_dof float64 values): one copy
  each way, and the copy back is the only synchronisation.
- :meth:`~ArrayAPISoftmaxLoss.hessp` at the point of the last evaluation: the
  direction there, the product back (n_dof each way); at another point, ``params``
  goes too (the probabilities are recomputed on the device).
- :meth:`~ArrayAPISoftmaxLoss.hessian`: the (n_dof, n_dof) float64 matrix back.

X, the labels and the weights never leave the device, and X is never copied. The
probabilities at the last evaluated point stay on the device for ``hessp`` (n_samples
* n_classes values of X's dtype), as in :class:`sklse._loss.SoftmaxLoss`. Sums are
accumulated in X's dtype by the device's reductions and products (float32 X computes
in float32 there) and cast to float64 before they come back.
"""

import numpy as np

from sklse._compat import array_namespace, to_numpy
from sklse._numerics import _xp_shifted_exp
from sklse._objective import ScaledObjective, _pack, _unpack

__all__ = ["ArrayAPISoftmaxLoss"]


class ArrayAPISoftmaxLoss(ScaledObjective):
    """The scaled objective ``f`` of :mod:`sklse._objective` on device arrays.

    The interface :func:`sklse._solvers.minimize` and the estimator use from
    :class:`~sklse._loss.SoftmaxLoss`, with the same values up to summation order.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32 or float64
        Of an array-API namespace; every computation runs in it, on ``X.device``.
    y : integer array of shape (n_samples,)
        Labels in ``0..n_classes-1``, of X's namespace and device.
    n_classes : int
    sample_weight : array of shape (n_samples,) or None
        X's namespace, device and dtype; non-negative with a positive sum (checked
        by the caller).
    C : float, default=1.0
        Inverse penalty strength; ``np.inf`` for no penalty.
    l1_ratio : float, default=0.0
        Share of the L1 term in the penalty; ignored when ``C = inf``.
    fit_intercept : bool, default=True
    """

    def __init__(
        self,
        X,
        y,
        n_classes,
        sample_weight=None,
        *,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
    ):
        xp = self.xp = array_namespace(X)
        self.X, self.device = X, X.device
        self.n_classes, self.fit_intercept = n_classes, fit_intercept
        self.n_samples = X.shape[0]
        # The label of each row as a boolean (n_samples, n_classes) mask: selections
        # by label are then elementwise `where`s, with no gather or scatter.
        classes = xp.arange(n_classes, dtype=y.dtype, device=self.device)
        self.is_label = y[:, None] == classes[None, :]
        self.tiny = xp.finfo(X.dtype).smallest_normal
        self.sample_weight = None if sample_weight is None else sample_weight[:, None]
        self.host_dtype = np.float32 if X.dtype == xp.float32 else np.float64
        if sample_weight is None:
            sw_sum = float(X.shape[0])
        else:  # one synchronisation, at construction
            sw_sum = float(to_numpy(xp.sum(xp.astype(sample_weight, xp.float64))))
        self._set_penalty(X.shape[1], sw_sum, C, l1_ratio)
        self._proba = self._proba_params = None

    def _to_device(self, vector):
        """Return float64 host ``vector`` on the device in X's dtype: one copy."""
        host = np.asarray(vector, dtype=self.host_dtype)
        return self.xp.asarray(host, device=self.device)

    def _to_host(self, array):
        """Return device ``array`` as a new float64 numpy array: one copy back."""
        return np.array(to_numpy(array), dtype=np.float64)

    def fitted_array(self, host, dtype):
        """Return numpy ``host`` in X's namespace, on X's device: one copy there.

        ``dtype`` is X's dtype (of X's namespace), or a numpy scalar type such as
        ``np.int32``, kept.
        """
        if not (isinstance(dtype, type) and issubclass(dtype, np.generic)):
            dtype = self.host_dtype
        return self.xp.asarray(host.astype(dtype), device=self.device)

    def _linear(self, params):
        """Return ``X @ coef.T + intercept`` (n_samples, n_classes) for host params."""
        coef, intercept = _unpack(
            self._to_device(params), self.n_classes, self.fit_intercept, xp=self.xp
        )
        logits = self.X @ coef.T
        return logits if intercept is None else logits + intercept

    def _weighted(self, rows):
        """Return ``rows`` (n_samples, ...) times the sample weights, if any."""
        return rows if self.sample_weight is None else rows * self.sample_weight

    def _data_sums(self, params):
        """Return ``[loss, *grad]`` of the data term on the device, not normalised.

        The row loss of :func:`sklse._loss.block_loss_gradient`: ``log1p(rest /
        e_y)``, and ``log(total) - t_y`` where ``e_y`` nears underflow or the row
        has a non-finite logit; both are computed, a ``where`` picks (a branch
        would synchronise). Keeps ``P = softmax(Z)`` on the device for hessp.
        """
        xp, is_label = self.xp, self.is_label
        _, t, e, total = _xp_shifted_exp(self._linear(params), 1, xp)
        e_target = xp.sum(xp.where(is_label, e, 0.0), axis=1, keepdims=True)
        t_target = xp.sum(xp.where(is_label, t, 0.0), axis=1, keepdims=True)
        rest = xp.sum(xp.where(is_label, 0.0, e), axis=1, keepdims=True)
        exact = (e_target >= self.tiny * self.n_classes) & (total <= self.n_classes)
        ratio = rest / xp.where(exact, e_target, xp.ones_like(e_target))
        row_loss = xp.where(exact, xp.log1p(ratio), xp.log(total) - t_target)
        proba = e * (1 / total)
        self._proba, self._proba_params = proba, np.array(params, dtype=np.float64)
        residual = self._weighted(xp.where(is_label, proba - 1, proba))
        loss = xp.sum(xp.astype(self._weighted(row_loss), xp.float64))
        grad = _pack(
            residual.T @ self.X,
            xp.sum(residual, axis=0) if self.fit_intercept else None,
            xp=xp,
        )
        return xp.concat([xp.reshape(loss, (1,)), grad])

    def _proba_at(self, params):
        """Return ``P`` at ``params``: the kept one, else recomputed on the device."""
        if self._proba_params is None or not np.array_equal(params, self._proba_params):
            self._data_sums(params)
        return self._proba

    def loss_gradient(self, params):
        """Return the smooth part of ``f(params)`` and its float64 (n_dof,) gradient.

        The smooth part is ``f`` without its L1 term (all of ``f`` when ``l1 == 0``).
        """
        params = np.asarray(params, dtype=np.float64)
        # numpy-backed namespaces (array-api-strict) warn where logits overflow, to
        # the inf / nan that SoftmaxLoss returns there too; torch and CuPy never warn.
        with np.errstate(all="ignore"):
            sums = self._to_host(self._data_sums(params))
        return self._finish(float(sums[0]), sums[1:], params)

    def hessp(self, params, direction):
        """Return the smooth part's Hessian at ``params`` applied to ``direction``.

        ``R = P * (Z_V - rowsum(P * Z_V))`` on the device, with the probabilities of
        the last evaluation when it was at ``params`` (else recomputed).
        """
        xp = self.xp
        with np.errstate(all="ignore"):  # as in loss_gradient
            proba = self._proba_at(np.asarray(params, dtype=np.float64))
            logits_dir = self._linear(direction)
            work = proba * (
                logits_dir - xp.sum(proba * logits_dir, axis=1, keepdims=True)
            )
            work = self._weighted(work)
            result = _pack(
                work.T @ self.X,
                xp.sum(work, axis=0) if self.fit_intercept else None,
                xp=xp,
            )
            result = self._to_host(result)
        return self._finish_hessp(result, np.asarray(direction, dtype=np.float64))

    def hessian(self, params):
        """Return the smooth part's dense (n_dof, n_dof) float64 Hessian at ``params``.

        ``H = 1/S sum_i s_i (diag(p_i) - p_i p_i^T) kron x_i x_i^T + alpha`` on the
        diagonal of ``coef``, in the layout of ``params``; computed on the device
        (K (K + 1) / 2 weighted Gram matrices ``X^T diag(w) X``), one copy back.
        """
        with np.errstate(all="ignore"):  # as in loss_gradient
            proba = self._proba_at(np.asarray(params, dtype=np.float64))
            hessian = self._to_host(self._data_hessian(self._weighted(proba), proba))
        return self._finish_hessian(hessian)

    def _data_hessian(self, weighted_proba, proba):
        """Return the data term's Hessian on the device, float64, not normalised."""
        xp, n_classes = self.xp, self.n_classes
        blocks = [[None] * n_classes for _ in range(n_classes)]
        for k in range(n_classes):
            for other in range(k, n_classes):
                # w_i = s_i p_ik (1{k = l} - p_il), l = other
                weight = -weighted_proba[:, k : k + 1] * proba[:, other : other + 1]
                if other == k:
                    weight = weight + weighted_proba[:, k : k + 1]
                blocks[k][other] = self._gram(weight)
                blocks[other][k] = blocks[k][other].T
        gram = xp.concat([xp.concat(row, axis=1) for row in blocks], axis=0)
        d1 = self.X.shape[1] + int(self.fit_intercept)
        gram = xp.reshape(gram, (n_classes, d1, n_classes, d1))
        return xp.astype(self._to_params_layout(gram), xp.float64)

    def _gram(self, weight):
        """Return ``[X, 1]^T diag(weight) [X, 1]`` (d1, d1) without copying X.

        ``d1 = n_features + 1`` with an intercept (its column last), else
        ``n_features``.
        """
        xp = self.xp
        weighted_X = self.X * weight
        gram = weighted_X.T @ self.X
        if not self.fit_intercept:
            return gram
        column = xp.sum(weighted_X, axis=0)[:, None]
        corner = xp.reshape(xp.sum(weight), (1, 1))
        return xp.concat(
            [xp.concat([gram, column], axis=1), xp.concat([column.T, corner], axis=1)]
        )

    def _to_params_layout(self, gram):
        """Return (K, d1, K, d1) ``gram`` as the (n_dof, n_dof) matrix of ``params``.

        ``params = [W.ravel(), b]``: the intercept, the last of each class's d1
        columns in ``gram``, goes after every ``W`` entry.
        """
        xp, n_classes, n_features = self.xp, self.n_classes, self.X.shape[1]
        n_coef = n_classes * n_features
        if not self.fit_intercept:
            return xp.reshape(gram, (n_coef, n_coef))
        coef_coef = xp.reshape(gram[:, :n_features, :, :n_features], (n_coef, n_coef))
        coef_b = xp.reshape(gram[:, :n_features, :, n_features], (n_coef, n_classes))
        b_b = gram[:, n_features, :, n_features]
        top = xp.concat([coef_coef, coef_b], axis=1)
        return xp.concat([top, xp.concat([coef_b.T, b_b], axis=1)], axis=0)
