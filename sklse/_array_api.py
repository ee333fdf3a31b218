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
  direction there, the product back (n_dof each way); at another point, or at a
  fit's first Hessian product (none is kept before it), ``params`` goes too (the
  probabilities are recomputed on the device).
- :meth:`~ArrayAPISoftmaxLoss.hessian`: the (n_dof, n_dof) float64 matrix back.

X, the labels and the weights never leave the device, and X is never copied: row
blocks (:func:`default_block_rows`; one block off the host) are views. From the
first ``hessp`` or ``hessian`` on (Newton solvers), the probabilities at the last
evaluated point stay on the device for the products there (n_samples * n_classes
values of X's dtype); an L-BFGS fit keeps none, as in
:class:`sklse._loss.SoftmaxLoss`. Within a
block, sums are accumulated in X's dtype by the device's reductions and products
(float32 X computes in float32 there); the blocks' sums are added in float64.

Each block's logits are class-major, (n_classes, rows) = ``coef @ X_block.T``, and the
gradient ``R @ X_block``: on torch CPU (MKL) these products ran in up to half the time
of ``X_block @ coef.T`` and ``R.T @ X_block`` (``benchmarks/results/``). A block
makes few passes over its logits, most in place (the standard's in-place operators):
the shift by each row's max, a ``take_along_axis`` of the labels' logits, ``-inf``
written at the labels so that one sum of the exp gives the rest of each row without
its label's term, the scaling to ``P`` and one ``where`` for the residual. Where
``P`` is kept (from a fit's first Hessian product on) it is kept with 0 at the
labels; the first ``hessp`` or ``hessian`` at that point fills them in.
"""

from typing import NamedTuple

import numpy as np

from sklse._compat import array_namespace, to_numpy
from sklse._machine import l2_cache_bytes
from sklse._numerics import _xp_row_shift
from sklse._objective import ScaledObjective, _pack, _unpack

__all__ = ["ArrayAPISoftmaxLoss"]

_DLPACK_CPU = 1  # DLPack's kDLCPU: the array's memory is the host's
_BLOCK_BYTES = 32 * 1024 * 1024  # an accelerator's chunk of float64 rows
_HOST_BLOCK_CACHES = 4  # a host block fills 4 L2 caches (default_block_rows)
_MIN_BLOCK_ROWS = 128


def default_block_rows(X, n_classes):
    """Return the rows per block for X: all of them, unless X is in host memory.

    In host memory (DLPack device type kDLCPU: numpy-backed namespaces, torch on
    CPU) a block's rows of X and its two (n_classes, rows) temporaries fill four L2
    caches (:func:`~sklse._machine.l2_cache_bytes`): the passes over the temporaries
    and the second product's reads of X stay in cache, which 32 MiB blocks left; at
    least 128 rows, below which a block's ~30 array calls cost more than its
    arithmetic. Scaled by the L2 cache so that a machine's larger caches take larger
    blocks; the factor 4 is the best of one machine's 18 shapes on torch CPU, where
    it ran within 9% of each shape's best rows
    (``benchmarks/bench_block_rows.py``; ``benchmarks/results/``). On an
    accelerator one block: every block costs kernel launches, and its memory is not
    the CPU's cache.
    """
    n_samples, n_features = X.shape
    if not _in_host_memory(X):
        return max(n_samples, 1)
    itemsize = array_namespace(X).finfo(X.dtype).bits // 8
    block_bytes = _HOST_BLOCK_CACHES * l2_cache_bytes()
    rows = block_bytes // (itemsize * (n_features + 2 * n_classes))
    return max(_MIN_BLOCK_ROWS, rows)


class Rows(NamedTuple):
    """One block of rows on the device: views of the evaluator's arrays."""

    X: object  # (rows, n_features)
    labels: object  # (1, rows) integer labels, for take_along_axis
    is_label: object  # (n_classes, rows) bool: k == y_i
    sample_weight: object  # (1, rows), X's dtype, or None


def _in_host_memory(X):
    """Whether X's memory is the host's (DLPack's kDLCPU)."""
    return X.__dlpack_device__()[0] == _DLPACK_CPU


def _chunks(n_rows, size):
    """Yield the slices of ``size`` rows (None: all) that cover ``n_rows``, in
    bounds (array-api-strict refuses a stop past the end)."""
    size = size or max(n_rows, 1)
    for start in range(0, n_rows, size):
        yield slice(start, min(start + size, n_rows))


class ArrayAPISoftmaxLoss(ScaledObjective):
    """The scaled objective ``f`` of :mod:`sklse._objective` on device arrays.

    The interface :func:`sklse._solvers.minimize` and the estimator use from
    :class:`~sklse._loss.SoftmaxLoss`, with the same values up to summation order.
    Rows are evaluated in blocks of :func:`default_block_rows` (one block off the
    host); sums over blocks are accumulated in float64 on the device.

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
    block_rows : int or None, default=None
        Rows per block; None: :func:`default_block_rows`. Results do not depend on
        it beyond summation round-off.
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
        block_rows=None,
    ):
        xp = self.xp = array_namespace(X)
        self.X, self.device = X, X.device
        self.n_classes, self.fit_intercept = n_classes, fit_intercept
        self.n_samples = X.shape[0]
        self.tiny = xp.finfo(X.dtype).smallest_normal
        self.host_dtype = np.float32 if X.dtype == xp.float32 else np.float64
        self.dtype = self.host_dtype  # as SoftmaxLoss.dtype
        if sample_weight is None:
            sw_sum = float(X.shape[0])
        else:  # one synchronisation, at construction
            sw_sum = float(to_numpy(xp.sum(xp.astype(sample_weight, xp.float64))))
        self._set_penalty(X.shape[1], sw_sum, C, l1_ratio)
        if block_rows is None:
            block_rows = default_block_rows(X, n_classes)
        self.blocks = self._split(y, sample_weight, block_rows)
        self._set_one_class(self._n_weighted_classes)
        # P at _proba_params, kept from the first Hessian product on (_keep)
        self._keep = False
        self._proba = self._proba_target = self._proba_params = None

    def _weighted_sums(self, center):
        """Return ``[sum_i s_i x_i, sum_i s_i x_i^2]`` (``center`` None) or ``sum_i
        s_i (x_i - center)^2`` as a float64 numpy array: summed over the blocks on
        the device, one copy back (:meth:`feature_moments`).

        In chunks of rows whose float64 values fill the L2 cache in host memory
        (:func:`~sklse._machine.l2_cache_bytes`): a block's float64 copies are large
        enough for the allocator to map fresh pages for each, which cost 10-30x the
        arithmetic (``benchmarks/results/loss_constants.md``); of 32 MiB on an
        accelerator, where X is one block: a bounded temporary, not a float64 copy
        of X, in few kernel launches.
        """
        xp = self.xp
        if center is not None:
            center = xp.asarray(center, dtype=xp.float64, device=self.device)
        on_host = _in_host_memory(self.X)
        size = self._float64_rows(l2_cache_bytes() if on_host else _BLOCK_BYTES)
        total = 0.0
        for rows in self.blocks:
            for chunk in _chunks(rows.X.shape[0], size):
                values = xp.astype(rows.X[chunk, :], xp.float64, copy=False)
                weight = rows.sample_weight
                if weight is not None:
                    weight = xp.astype(weight[:, chunk].T, xp.float64)
                if center is not None:
                    values = values - center
                # (s x) x, not s x^2: a weightless row adds 0, not 0 * inf where its
                # square overflows.
                weighted = values if weight is None else values * weight
                squares = xp.sum(weighted * values, axis=0)
                if center is None:
                    sums = xp.stack([xp.sum(weighted, axis=0), squares])
                else:
                    sums = squares[None, :]
                total = total + sums
        total = self._to_host(total)
        return total if center is None else total[0]

    def _float64_rows(self, n_bytes):
        """Return the rows of X whose float64 values fill ``n_bytes`` (at least 1)."""
        return max(1, n_bytes // (8 * max(self.X.shape[1], 1)))

    def _split(self, y, sample_weight, block_rows):
        """Return the :class:`Rows` of ``block_rows`` rows each that cover X."""
        xp, n_samples = self.xp, self.n_samples
        classes = xp.arange(self.n_classes, dtype=y.dtype, device=self.device)
        blocks = []
        for start in range(0, max(n_samples, 1), block_rows):
            rows = slice(start, min(start + block_rows, n_samples))
            labels = y[rows][None, :]
            blocks.append(
                Rows(
                    self.X[rows, :],
                    labels,
                    labels == classes[:, None],
                    None if sample_weight is None else sample_weight[rows][None, :],
                )
            )
        return blocks

    def _n_weighted_classes(self):
        """Return the number of classes with a positive weight: one synchronisation."""
        xp, present = self.xp, None
        for rows in self.blocks:
            weighted = rows.is_label
            if rows.sample_weight is not None:
                weighted = weighted & (rows.sample_weight > 0)
            block = xp.any(weighted, axis=1)
            present = block if present is None else present | block
        return int(to_numpy(xp.sum(xp.astype(present, xp.int64))))

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

    def _coef(self, params):
        """Return ``coef`` (n_classes, n_features), None where it is 0 (a fit's
        start; seen on the host), and ``intercept`` (n_classes, 1) on the device."""
        coef, intercept = _unpack(
            self._to_device(params), self.n_classes, self.fit_intercept, xp=self.xp
        )
        if not np.any(np.asarray(params)[: self.n_classes * self.X.shape[1]]):
            coef = None
        return coef, None if intercept is None else intercept[:, None]

    def _linear(self, rows, coef, intercept):
        """Return the block's new ``coef @ X.T + intercept`` (n_classes, rows)."""
        if coef is None:  # X @ 0 = 0 (X is finite): no product
            shape = (self.n_classes, rows.X.shape[0])
            logits = self.xp.zeros(shape, dtype=self.X.dtype, device=self.device)
        else:
            logits = coef @ rows.X.T
        if intercept is not None:
            logits += intercept  # in place here and below: no new (K, rows) array
        return logits

    def _at_labels(self, values, rows):
        """Return ``values[y_i, i]`` (1, rows): a gather, or a masked sum where the
        namespace predates ``take_along_axis`` (array API standard 2024.12)."""
        xp = self.xp
        if hasattr(xp, "take_along_axis"):
            return xp.take_along_axis(values, rows.labels, axis=0)
        masked = xp.where(rows.is_label, values, xp.zeros_like(values))  # no scalar
        return xp.sum(masked, axis=0, keepdims=True)

    def _times_X(self, rows, work):
        """Return ``[work X, work 1]`` (n_dof,) float64 for work (K, rows)."""
        if rows.sample_weight is not None:
            work *= rows.sample_weight
        xp = self.xp
        return _pack(
            work @ rows.X,
            xp.sum(work, axis=1) if self.fit_intercept else None,
            xp=xp,
        )

    def _block_sums(self, rows, coef, intercept):
        """Return one block's data loss (float64 scalar) and ``[grad_W, grad_b]``.

        The row loss of :func:`sklse._loss.block_loss_gradient`: ``log1p(rest /
        e_y)``, with ``rest`` summed without the label's term, and ``log(total) -
        t_y`` where ``e_y`` nears underflow or the row has a non-finite logit; both
        are computed, a ``where`` picks (a branch would synchronise). Once keeping has
        started, keeps ``P`` for hessp as ``e / total`` with 0 at the labels, and
        ``p_y`` apart.
        """
        xp = self.xp
        logits = self._linear(rows, coef, intercept)
        logits -= _xp_row_shift(logits, 0, xp)  # every exp(t) <= 1
        t_target = self._at_labels(logits, rows)
        # exp(-inf) = 0 at the labels: one sum gives rest, and e_y comes apart.
        logits[rows.is_label] = -xp.inf
        e = xp.exp(logits)
        rest = xp.sum(e, axis=0, keepdims=True)
        e_target = xp.exp(t_target)
        total = rest + e_target
        exact = (e_target >= self.tiny * self.n_classes) & (total <= self.n_classes)
        ratio = rest / xp.where(exact, e_target, xp.ones_like(e_target))
        row_loss = xp.where(exact, xp.log1p(ratio), xp.log(total) - t_target)
        row_loss = xp.astype(row_loss, xp.float64)
        if rows.sample_weight is not None:
            row_loss = row_loss * xp.astype(rows.sample_weight, xp.float64)
        inverse_total = 1 / total
        e *= inverse_total  # P, but 0 at the labels
        proba_target = e_target * inverse_total  # p_y, rounded as the rest of P
        if self._keep:
            self._proba.append(e)
            self._proba_target.append(proba_target)
        # P - Y; at the label -rest / total, not p_y - 1 (see block_loss_gradient)
        residual = xp.where(rows.is_label, -rest * inverse_total, e)
        return xp.sum(row_loss), self._times_X(rows, residual)

    def _data_sums(self, params):
        """Return ``[loss, *grad]`` of the data term on the device, not normalised.

        Sums :meth:`_block_sums` over the blocks; keeps ``P`` on the device once a
        Hessian product has asked for it (:meth:`_proba_at`).
        """
        xp = self.xp
        coef, intercept = self._coef(params)
        self._proba, self._proba_target = [], []
        loss = grad = None
        for rows in self.blocks:
            block_loss, block_grad = self._block_sums(rows, coef, intercept)
            loss = block_loss if loss is None else loss + block_loss
            grad = block_grad if grad is None else grad + block_grad
        if self._keep:
            self._proba_params = np.array(params, dtype=np.float64)
        return xp.concat([xp.reshape(loss, (1,)), grad])

    def _proba_at(self, params):
        """Return the blocks' ``P`` at ``params``: kept, else recomputed on the device.

        The first call starts the keeping (an evaluation there recomputes ``P``);
        the first after an evaluation puts ``p_y`` into its kept ``P``.
        """
        self._keep = True
        if self._proba_params is None or not np.array_equal(params, self._proba_params):
            self._data_sums(params)
        if self._proba_target is not None:
            where = self.xp.where
            self._proba = [
                where(rows.is_label, proba_target, proba)
                for rows, proba, proba_target in zip(
                    self.blocks, self._proba, self._proba_target, strict=True
                )
            ]
            self._proba_target = None
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

        ``R = P * (Z_V - rowsum(P * Z_V))`` on the device, block by block, with the
        probabilities kept from the last evaluation when it was at ``params``, else
        (and at a fit's first product) recomputed (:meth:`_proba_at`).
        """
        with np.errstate(all="ignore"):  # as in loss_gradient
            probas = self._proba_at(np.asarray(params, dtype=np.float64))
            coef, intercept = self._coef(direction)
            result = None
            for rows, proba in zip(self.blocks, probas, strict=True):
                work = self._linear(rows, coef, intercept)  # Z_V
                work -= self._at_labels(work, rows)  # see block_hessp
                work -= self.xp.sum(proba * work, axis=0, keepdims=True)
                work *= proba
                part = self._times_X(rows, work)
                result = part if result is None else result + part
            result = self._to_host(result)
        return self._finish_hessp(result, np.asarray(direction, dtype=np.float64))

    def precise_gradient(self, params):
        """Return the smooth part's gradient at ``params`` with float64 sums, for
        float32 X; None for float64 X (the evaluations' gradient is that one).

        What a Newton step solves with, as
        :meth:`sklse._loss.SoftmaxLoss.precise_gradient`: on the device, from the
        kept probabilities, over float64 temporaries of the rows (as
        :meth:`hessian`'s); ``p_y - 1`` as ``-sum_{k != y} p_k``. One copy back.
        """
        xp, f64 = self.xp, self.xp.float64
        if self.X.dtype == f64:
            return None
        params = np.asarray(params, dtype=np.float64)
        with np.errstate(all="ignore"):  # as in loss_gradient
            probas = self._proba_at(params)
            grad = None
            size = None if _in_host_memory(self.X) else self._float64_rows(_BLOCK_BYTES)
            for rows, proba in zip(self.blocks, probas, strict=True):
                others = xp.astype(proba, f64)
                others = xp.where(rows.is_label, xp.zeros_like(others), others)
                residual = xp.where(
                    rows.is_label, -xp.sum(others, axis=0, keepdims=True), others
                )
                if rows.sample_weight is not None:
                    residual = residual * xp.astype(rows.sample_weight, f64)
                for chunk in _chunks(rows.X.shape[0], size):
                    work = residual[:, chunk]
                    part = _pack(
                        work @ xp.astype(rows.X[chunk, :], f64),
                        xp.sum(work, axis=1) if self.fit_intercept else None,
                        xp=xp,
                    )
                    grad = part if grad is None else grad + part
            grad = self._to_host(grad)
        return self._finish(0.0, grad, params)[1]

    def hessian(self, params, center=None):
        """Return the smooth part's dense (n_dof, n_dof) float64 Hessian at ``params``.

        ``H = 1/S sum_i s_i (diag(p_i) - p_i p_i^T) kron x_i x_i^T + alpha`` on the
        diagonal of ``coef``, in the layout of ``params``; computed on the device
        (per block, K (K + 1) / 2 weighted Gram matrices ``X^T diag(w) X``), one
        copy back. With ``center`` (and an intercept), of ``x_i - center``: the
        Hessian in the variables ``(W, b + W center)``, as
        :meth:`sklse._loss.SoftmaxLoss.hessian`'s (a block's centred rows are a
        temporary, as each Gram matrix's weighted rows are; on an accelerator, where
        X is one block, of 32 MiB chunks of rows, not float64 copies of X). In
        float64 whatever X's
        dtype, as the numpy path's: a Newton step solves with it, and float32 Gram
        matrices (relative error 5e-7) lost the step where the Hessian is
        ill-conditioned (wine's standardised features times 1000: stalled at f = 7.8,
        F* = 4.5e-4).
        """
        xp, f64 = self.xp, self.xp.float64
        if center is not None:
            center = xp.asarray(center, dtype=f64, device=self.device)
        with np.errstate(all="ignore"):  # as in loss_gradient
            probas = self._proba_at(np.asarray(params, dtype=np.float64))
            gram = None
            size = None if _in_host_memory(self.X) else self._float64_rows(_BLOCK_BYTES)
            for rows, proba in zip(self.blocks, probas, strict=True):
                weight = rows.sample_weight
                for chunk in _chunks(rows.X.shape[0], size):
                    X = xp.astype(rows.X[chunk, :], f64)  # a temporary of its rows
                    if center is not None:
                        X = X - center
                    part = self._block_hessian(  # on (rows, K) views of the (K, rows)
                        X,
                        None if weight is None else weight[:, chunk].T,
                        xp.astype(proba[:, chunk], f64).T,
                    )
                    gram = part if gram is None else gram + part
            d1 = self.X.shape[1] + int(self.fit_intercept)
            gram = xp.reshape(gram, (self.n_classes, d1, self.n_classes, d1))
            hessian = self._to_host(self._to_params_layout(gram))
        return self._finish_hessian(hessian)

    def _block_hessian(self, X, sample_weight, proba):
        """Return the data Hessian (K d1, K d1) of rows ``X`` (or their centred
        copy), weights (rows, 1) or None, class-major, in ``X``'s dtype."""
        xp, n_classes = self.xp, self.n_classes
        weighted = proba if sample_weight is None else proba * sample_weight
        # 1 - p_k, at each row's largest p_k as the sum of the other classes'
        # (sklse._loss._complement: the label's, or a misclassified row's class).
        classes = xp.expand_dims(xp.arange(n_classes, device=self.device), axis=0)
        is_top = classes == xp.argmax(proba, axis=1, keepdims=True)
        others = xp.where(is_top, xp.zeros_like(proba), proba)  # no scalar (2023.12)
        others = xp.sum(others, axis=1, keepdims=True)
        complement = xp.where(is_top, others, 1 - proba)
        blocks = [[None] * n_classes for _ in range(n_classes)]
        for k in range(n_classes):
            for other in range(k, n_classes):
                # w_i = s_i p_ik (1{k = l} - p_il), l = other
                if other == k:
                    weight = weighted[:, k : k + 1] * complement[:, k : k + 1]
                else:
                    weight = -weighted[:, k : k + 1] * proba[:, other : other + 1]
                blocks[k][other] = self._gram(X, weight)
                blocks[other][k] = blocks[k][other].T
        return xp.concat([xp.concat(row, axis=1) for row in blocks], axis=0)

    def _gram(self, X, weight):
        """Return ``[X, 1]^T diag(weight) [X, 1]`` (d1, d1) without copying X.

        ``d1 = n_features + 1`` with an intercept (its column last), else
        ``n_features``.
        """
        xp = self.xp
        weighted_X = X * weight
        gram = weighted_X.T @ X
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
