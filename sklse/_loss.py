"""The objective of :mod:`sklse._objective` on in-memory data, summed over row blocks.

The data terms of ``f`` (loss, gradient, Hessian-vector product) are sums over rows,
computed block by block by :func:`block_loss_gradient`, :func:`block_hessp` and
:func:`block_hessian`, so that the same code serves chunked or distributed data
(:mod:`sklse._dask`);
:class:`SoftmaxLoss` sums them over the blocks of dense or sparse X and hands the sums
to :class:`~sklse._objective.ScaledObjective`, which scales them and adds the penalty.
"""

import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from sklse._compat import has_small_matrix_gemm, sparse_matmul_into
from sklse._machine import l2_cache_bytes
from sklse._numerics import _shift
from sklse._objective import ScaledObjective, _pack, _unpack

_MIN_BLOCKS = 8  # blocks of a SoftmaxLoss for its threads, where threads pay
_PROBA_BUDGET = 2**28  # bytes of probabilities a SoftmaxLoss may keep for hessp
_THREAD_WORK = 2e6  # multiply-adds of a block below which it is not cut for threads


def _row_work(X, n_classes):
    """Return the multiply-adds of one row in one product: (features or stored) * K."""
    n_samples, n_features = X.shape
    return n_classes * (X.nnz / max(n_samples, 1) if sp.issparse(X) else n_features)


_BLOCK_CACHES = 4  # a dense block fills 4 L2 caches (default_block_rows)


def default_block_rows(X, n_classes, min_blocks=1):
    """Return the rows per block for X: cache-sized, yet worth a Python round trip.

    Dense X: one block's rows of X and its two (n_classes, rows) buffers fill four
    of one core's L2 caches (:func:`~sklse._machine.l2_cache_bytes`), at least 128
    rows: the buffers' passes run from cache and the second product reads X from
    the nearest level that holds it, while a block's ~30 numpy calls, which hold the
    GIL, stay small next to its products, so that block threads pay (of 1, 2, 4
    and 8 L2 caches: nearest the best block of 18 shapes at one thread, as near as
    any on two threads).
    Sparse X: 1 MiB of logits, and at least 16 stored entries per feature, as
    each block's two products scatter over all of the (n_features, n_classes)
    coefficients and gradient sum, which a block must bring back into cache. At
    most ``n_samples / min_blocks`` rows, for threads, unless such blocks would be
    too small for threads to pay (:func:`useful_threads`). Neither rule depends on
    the number of threads. The timings behind them:
    ``benchmarks/results/loss_constants.md``.
    """
    n_samples, n_features = X.shape
    itemsize = X.dtype.itemsize
    if sp.issparse(X):
        rows, floor = 1024 * 1024 // (n_classes * itemsize), 1024
        floor = max(floor, 16 * n_features * n_samples // max(X.nnz, 1))
    else:
        row_bytes = itemsize * (n_features + 2 * n_classes)
        rows, floor = _BLOCK_CACHES * l2_cache_bytes() // row_bytes, 128
    # No cap for threads where its blocks would be too small for threads to pay.
    cap = -(-n_samples // min_blocks)
    cap = max(cap, int(_THREAD_WORK // max(_row_work(X, n_classes), 1)))
    return max(floor, min(rows, cap))


class Block(NamedTuple):
    """One block of rows and its buffers, class-major: the unit the loss sums over.

    Buffers are overwritten by every call (None in the blocks a :class:`SoftmaxLoss`
    keeps: it lends them per evaluation). Reductions over classes run along axis 0
    of contiguous (n_classes, rows) arrays: numpy makes them vector operations over
    rows, 3 to 10 times faster than reductions along short rows of (rows, n_classes).
    """

    X: object  # ndarray, CSR/CSC matrix or CSRRows, (rows, n_features)
    sample_weight: np.ndarray | None  # (rows,)
    target: np.ndarray  # (rows,) flat index of (y_i, i) in the class-major buffers
    logits: np.ndarray | None  # (n_classes, rows), X's dtype, C-contiguous
    proba: np.ndarray | None  # (n_classes, rows), X's dtype, C-contiguous
    row_major: bool  # X @ coef.T through a row-major scratch, see _prefers_row_major
    into: "_InOrderSum | None" = None  # where it adds R @ X (sparse), in its turn
    index: int = 0  # its position in X, its turn there


class CSRRows(NamedTuple):
    """Rows ``start:stop`` of a CSR matrix as views: its arrays, ``indptr`` sliced."""

    format: str
    shape: tuple
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def dtype(self):
        return self.data.dtype

    @classmethod
    def of(cls, X, rows):
        indptr = X.indptr[rows.start : rows.stop + 1]
        return cls("csr", (len(indptr) - 1, X.shape[1]), indptr, X.indices, X.data)


def _prefers_row_major(X, n_classes):
    """Whether ``X @ coef.T`` is faster row-major (then transposed) than class-major.

    scipy's sparse kernels only write row-major. For dense X the speed of the two
    orientations depends on the BLAS's kernels, dtype and shape. Where numpy's
    BLAS has small-matrix kernels (:func:`~sklse._compat.has_small_matrix_gemm`),
    row-major in the slices of :func:`_slice_rows` for at most 32 classes (100 in
    float32): with more, the transposing copy cost more than the slices saved.
    Else row-major for float32 and for fewer than 64 features, class-major for
    float64 with more (timings: ``benchmarks/results/loss_constants.md``). A
    fixed rule, not a timed probe: the two orientations round differently, and a
    fit must not depend on timing noise.
    """
    if not isinstance(X, np.ndarray):
        return True
    if has_small_matrix_gemm():
        return n_classes <= (100 if X.dtype == np.float32 else 32)
    return X.dtype == np.float32 or X.shape[1] < 64


_SMALL_PRODUCT = 10**6  # multiply-adds of OpenBLAS's small-matrix path, at most


def _slice_rows(X, k, least):
    """Return the rows per slice of dense X for products of at most 10**6
    multiply-adds with k columns, or None: all rows in one product.

    Where numpy's BLAS has small-matrix kernels
    (:func:`~sklse._compat.has_small_matrix_gemm`), and a slice keeps ``least``
    rows (below that the calls cost more than the kernels save: fewer than 128 rows
    made ``R @ X`` slower in float64 at 2000 features; timed with a Python loop over
    the slices, before :func:`_stack`); not for k = 1 (two classes'
    matrix-vector products). The slices depend on the shapes only, so the bits do
    not depend on the threads or the timing.
    """
    rows = _SMALL_PRODUCT // max(k * X.shape[1], 1)
    if k == 1 or rows >= len(X) or rows < least or not has_small_matrix_gemm():
        return None
    return rows


def _stack(A, rows):
    """Return the whole slices of ``rows`` rows of 2-D ``A`` as one (slices, rows,
    columns) view, and the number of rows they cover.

    Splitting the first axis needs no copy whatever A's strides (X's rows in C or F
    order, a buffer's transpose), so numpy runs the slices' products in one call,
    with the bits of a loop over them: one release of the GIL, not one per slice,
    which block threads need (``benchmarks/results/loss_constants.md``).
    """
    n_slices = len(A) // rows
    done = n_slices * rows
    return A[:done].reshape(n_slices, rows, A.shape[1]), done


def _rows_times(X, B, out):
    """Write ``X @ B`` (rows, k) into ``out``, in the slices of :func:`_slice_rows`."""
    rows = _slice_rows(X, B.shape[1], 16)  # 20-row slices still beat one call
    if rows is None:
        np.matmul(X, B, out=out)
        return
    stacked, done = _stack(X, rows)
    np.matmul(stacked, B, out=_stack(out, rows)[0])
    if done < len(X):  # the short last slice
        np.matmul(X[done:], B, out=out[done:])


def make_block(X, y, sample_weight, n_classes, *, buffers=True):
    """Return a :class:`Block` of these rows (labels ``y``), with new buffers or,
    without ``buffers``, None in their place (:class:`SoftmaxLoss` lends them)."""
    n_rows = len(y)
    return Block(
        X,
        sample_weight,
        y * n_rows + np.arange(n_rows),
        np.empty((n_classes, n_rows), dtype=X.dtype) if buffers else None,
        np.empty((n_classes, n_rows), dtype=X.dtype) if buffers else None,
        _prefers_row_major(X, n_classes),
    )


_local = threading.local()  # per-thread scratch: blocks may run in parallel


def _row_major_scratch(shape, dtype):
    """Return this thread's (rows, n_classes) scratch, grown as needed."""
    size = shape[0] * shape[1]
    scratch = getattr(_local, "scratch", None)
    if scratch is None or scratch.dtype != dtype or scratch.size < size:
        scratch = _local.scratch = np.empty(size, dtype=dtype)
    return scratch[:size].reshape(shape)


def _uncuttable(X):
    """Whether X's rows have no cheap cut into blocks (CSC): it is then one block."""
    return sp.issparse(X) and X.format == "csc"


def _split(X, y, sample_weight, n_classes, block_rows):
    """Return the :class:`Block` s of ``block_rows`` rows each that cover X, without
    buffers, each with its ``index``."""
    if block_rows >= len(y) or _uncuttable(X):
        return [make_block(X, y, sample_weight, n_classes, buffers=False)]
    cut = partial(CSRRows.of, X) if sp.issparse(X) else X.__getitem__
    return [
        make_block(
            cut(rows),
            y[rows],
            None if sample_weight is None else sample_weight[rows],
            n_classes,
            buffers=False,
        )._replace(index=i)
        for i, rows in enumerate(
            map(
                slice,
                range(0, len(y), block_rows),
                range(block_rows, len(y) + block_rows, block_rows),
            )
        )
    ]


class _InOrderSum:
    """``sum_b R_b @ X_b`` over the sparse row blocks of X, in one buffer.

    Each block's transposed product adds into one (n_features, k) buffer of X's
    dtype, in block order (a block waits for its turn), so the sum has the bits of
    one product over all rows (float32 X: summed in float32, as scipy's ``X.T @ R``
    or one block sums it), whatever the threads and the block rows; a
    per-block product would fill, convert and add a dense (n_features, k) per
    block, which costs as much as the product where X has few entries per feature.
    One per evaluation; :meth:`done` marks a block's turn passed (also when it
    failed, so that no later block waits for ever), :meth:`total` returns the sum.
    """

    def __init__(self, n_features, k, dtype):
        self._sum = np.zeros((n_features, k), dtype)
        self._turn, self._next = threading.Condition(), 0

    def add(self, block, R):
        scratch = _row_major_scratch(R.shape[::-1], R.dtype)
        scratch[...] = R.T
        with self._turn:
            self._turn.wait_for(lambda: self._next == block.index)
            sparse_matmul_into(block.X, scratch, self._sum, transpose=True, add=True)
            self._next += 1
            self._turn.notify_all()

    def done(self, block):
        with self._turn:
            self._turn.wait_for(lambda: self._next >= block.index)
            self._next = max(self._next, block.index + 1)
            self._turn.notify_all()

    def total(self):
        """Return the sum, (k, n_features) float64; one row ``g`` (two classes, the
        margin's residual): ``[-g, g]``."""
        total = self._sum.T.astype(np.float64)
        return _two_class_rows(total) if len(total) == 1 else total


def _linear(block, coef, intercept, out):
    """Write ``coef @ X.T + intercept[:, None]`` (n_classes, rows) into ``out``.

    Row-major blocks take ``coef.T`` C-contiguous in X's dtype: a caller that passes
    ``coef`` as such a transpose (``SoftmaxLoss._coef_for_blocks``) saves a copy
    per block.
    """
    if intercept is not None:
        intercept = intercept.astype(out.dtype, copy=False)[:, np.newaxis]
    if not coef.any():  # a fit's start: X @ 0 = 0 (X is finite), no product
        out[...] = 0 if intercept is None else intercept
        return
    if not block.row_major:
        coef = np.ascontiguousarray(coef, dtype=out.dtype)
        np.matmul(coef, block.X.T, out=out)  # one GEMM; X.T is a view, C or F order
        if intercept is not None:
            out += intercept
        return
    scratch = _row_major_scratch(out.shape[::-1], out.dtype)
    # A C-contiguous (n_features, n_classes) copy, not the view coef.T: OpenBLAS
    # was 2-2.5x slower with the view on tall blocks (loss_constants.md).
    coef_t = np.ascontiguousarray(coef.T, dtype=out.dtype)
    if isinstance(block.X, np.ndarray):
        _rows_times(block.X, coef_t, scratch)
    else:
        sparse_matmul_into(block.X, coef_t, scratch)
    # The transposing copy, O(rows * K) against O(rows * K * d) above, adds b.
    if intercept is None:
        np.copyto(out, scratch.T)
    else:
        np.add(scratch.T, intercept, out=out)


def _times_X(block, R):
    """Return ``R @ X`` (n_classes, n_features), float64, for R (n_classes, rows);
    None where the block adds it into ``block.into`` (:class:`_InOrderSum`)."""
    if block.into is not None:
        block.into.add(block, R)
        return None
    if isinstance(block.X, np.ndarray):
        X, rows = block.X, _slice_rows(block.X, len(R), 128)
        if rows is None:
            return (R @ X).astype(np.float64, copy=False)
        stacked, done = _stack(X, rows)
        # The slices' (n_classes, n_features) products in one call, summed in
        # float64 (float32 parts add up) in slice order. The parts take at most
        # n_classes / 128 of the block's X bytes (slices of >= 128 rows).
        parts = np.matmul(_stack(R.T, rows)[0].transpose(0, 2, 1), stacked)
        total = parts.sum(axis=0, dtype=np.float64)
        if done < len(X):
            total += R[:, done:] @ X[done:]
        return total
    scratch = _row_major_scratch(R.shape[::-1], R.dtype)
    scratch[...] = R.T
    product = np.empty((block.X.shape[1], len(R)), dtype=R.dtype)
    sparse_matmul_into(block.X, scratch, product, transpose=True)
    return product.T.astype(np.float64)


def _exp_terms(block, coef, intercept, *, restore=True):
    """Write ``t = z - max_k z`` into ``logits`` and ``e = exp(t)`` into ``proba``.

    Returns ``e_y`` and ``rest = sum_{k != y} e_k`` per row, ``rest`` summed with the
    label's term left out, so that it keeps the digits the row loss needs (see
    :func:`block_loss_gradient`); ``e_y + rest`` is the row's total. Without
    ``restore`` the label's entries of ``proba`` are left 0 (a caller that writes
    them anyway saves a pass).
    """
    logits, proba, target = block.logits, block.proba, block.target
    _linear(block, coef, intercept, logits)
    _shift(logits, logits, axis=0)  # every exp(t) <= 1
    np.exp(logits, out=proba)
    e_target = proba.ravel()[target]
    proba.ravel()[target] = 0
    rest = proba.sum(axis=0)
    if restore:
        proba.ravel()[target] = e_target
    return e_target, rest


def block_loss_gradient(block, coef, intercept, keep_proba=True):
    """Data term of one block of rows and its gradient, not normalised.

    Parameters
    ----------
    block : Block
        Rows and buffers, overwritten; with ``keep_proba``, ``proba`` receives ``P
        = softmax(Z)`` (class-major), else it is scratch (the residual ``P - Y`` is
        then made in place, one pass fewer).
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    keep_proba : bool, default=True
        Whether ``proba`` must hold P afterwards (for :func:`block_hessp`).

    Returns
    -------
    loss : float
        ``loss = sum_i s_i * (logsumexp(z_i) - z_{i, y_i})``, accumulated in float64.
    grad_coef : ndarray of shape (n_classes, n_features), float64
        ``grad_coef = (P - Y) diag(s) X``.
    grad_intercept : ndarray of shape (n_classes,), float64
        ``grad_intercept = (P - Y) s``.

    Two classes take :func:`_two_class_loss_gradient`, on the margin alone.
    """
    if len(block.proba) == 2:
        return _two_class_loss_gradient(block, coef, intercept)
    logits, proba, sample_weight = block.logits, block.proba, block.sample_weight
    target, n_classes = block.target, len(proba)
    # Row loss = logsumexp(z) - z_y = log(sum_k e_k / e_y) = log1p(rest / e_y): precise
    # where the loss is small (e_y = 1 and a small rest, whose digits 1 + rest loses).
    e_target, rest = _exp_terms(block, coef, intercept, restore=False)
    total = rest + e_target
    with np.errstate(all="ignore"):  # the rows where this fails are redone below
        row_loss = np.log1p(rest / e_target)
    # Where e_y nears underflow it has lost digits (and rest / e_y may overflow): the
    # loss is large there (t_y < log(K * tiny)) and log(total) - t_y exact enough.
    # Rows with a non-finite logit (total not in [1, K]) take that path too, to the
    # inf or nan of scipy.special.logsumexp(z) - z_y. (Two reductions test every
    # row at once, a nan failing them; the mask only where one fails.)
    tiny = np.finfo(proba.dtype).tiny * n_classes
    if not (e_target.min(initial=1) >= tiny and total.max(initial=1) <= n_classes):
        lost = ~((e_target >= tiny) & (total <= n_classes))
        row_loss[lost] = np.log(total[lost]) - logits.ravel()[target[lost]]
    inverse_total = 1 / total
    proba *= inverse_total  # P but for the label's entries, 0 here
    # The residual P - Y in place of P, or, to keep P, in the spent logits. At the
    # label p_y - 1 = -rest / total: p_y - 1 keeps no digit of rest where p_y
    # rounds to 1 (float32 at rest < 6e-8), which C * rest * x still feels.
    residual = proba
    if keep_proba:
        proba.ravel()[target] = e_target * inverse_total
        residual = logits
        np.copyto(residual, proba)
    residual.ravel()[target] = -rest * inverse_total
    if sample_weight is None:
        loss = row_loss.sum(dtype=np.float64)
    else:
        loss = np.dot(sample_weight.astype(np.float64), row_loss)
        residual *= sample_weight
    grad_intercept = residual.sum(axis=1, dtype=np.float64)
    return float(loss), _times_X(block, residual), grad_intercept


def _difference(block, coef, intercept):
    """Write ``X @ (w_1 - w_0) + (b_1 - b_0)`` (two classes) into ``block.logits[0]``.

    One matrix-vector product; returns that row of ``logits``.
    """
    out = block.logits[0]
    coef_diff = coef[1:] - coef[:1]
    intercept_diff = None if intercept is None else intercept[1:] - intercept[:1]
    if isinstance(block.X, np.ndarray):
        if coef_diff.any():
            np.matmul(block.X, coef_diff[0].astype(out.dtype), out=out)
        else:  # as in _linear: X @ 0 = 0
            out[...] = 0
        if intercept_diff is not None:
            out += intercept_diff.astype(out.dtype)
    else:
        _linear(block, coef_diff, intercept_diff, out[np.newaxis])
    return out


def _margin(block, coef, intercept):
    """Return, for two classes, the margin ``m = z_1 - z_0`` and ``u = z_other - z_y``.

    Also whether each row's label is class 1 (``target = y * rows + row``).
    """
    margin = _difference(block, coef, intercept)
    is_one = block.target >= len(margin)
    return margin, is_one, np.where(is_one, -margin, margin)


def _two_class_proba(margin, proba):
    """Write ``P = [sigmoid(-m), sigmoid(m)]`` into ``proba``; return ``log1p(e^-|m|)``.

    One exp for all three: with ``a = e^-|m|`` in (0, 1], ``sigmoid(|m|) = 1 / (1
    + a)`` and ``sigmoid(-|m|) = a / (1 + a)``, scipy.special.expit's formulas;
    ``log1p(a)`` (float64) is the row loss's. Computed in float64 over these
    (rows,) arrays: within 2 ulps of the exact values in float64, and rounded
    once to float32 (expit and np.logaddexp in float32: up to 1.8 and 1.3 ulps).
    An exp per probability, as expit takes, and np.logaddexp were 3-5 times
    slower (benchmarks/results/loss_constants.md).
    """
    a = np.abs(margin, dtype=np.float64)
    np.negative(a, out=a)
    np.exp(a, out=a)
    large = np.add(a, 1)
    np.divide(1, large, out=large)
    small = a * large
    positive = margin >= 0
    proba[1] = np.where(positive, large, small)
    proba[0] = np.where(positive, small, large)
    return np.log1p(a, out=a)


def _two_class_sums(block, work):
    """Return ``[-r, r] @ X`` (2, n_features) and ``[-r, r] @ 1``, float64.

    Class 1's row of a two-class residual or Hessian product is ``r`` (rows,) and
    class 0's is ``-r``: one matrix-vector product for both.
    """
    grad = _times_X(block, work[np.newaxis])
    grad_one = float(np.sum(work, dtype=np.float64))
    return _two_class_rows(grad), np.array([-grad_one, grad_one])


def _two_class_rows(grad):
    """Return ``[-g, g]`` (2, n_features) of class 1's row ``g``; None for None."""
    return None if grad is None else np.concatenate([-grad, grad])


def _two_class_loss_gradient(block, coef, intercept):
    """:func:`block_loss_gradient` of two classes: the softmax of the margin ``m``.

    With ``u = z_other - z_y`` (``|u| = |m|``), the row loss is ``softplus(u) =
    log(1 + e^u) = max(u, 0) + log1p(e^-|m|)``, precise at both ends, and class
    1's residual ``p_1 - y_1`` is ``p_1``, or ``-p_0`` where y = 1; class 0's is
    its negative: one product for the logits and one for the gradient, over
    (rows,) arrays, half the work of the K-class path. ``proba`` receives P
    whether it is kept or not (:func:`_two_class_proba`, one exp).
    """
    margin, is_one, u = _margin(block, coef, intercept)
    proba = block.proba
    row_loss = _two_class_proba(margin, proba)
    row_loss += np.maximum(u, 0)
    residual = np.where(is_one, -proba[0], proba[1])
    sample_weight = block.sample_weight
    if sample_weight is None:
        loss = np.sum(row_loss, dtype=np.float64)
    else:
        loss = np.dot(sample_weight.astype(np.float64), row_loss)
        residual *= sample_weight
    return float(loss), *_two_class_sums(block, residual)


def block_proba(block, coef, intercept):
    """Write ``P = softmax(Z)`` at ``coef, intercept`` into ``block.proba``.

    What :func:`block_hessp` needs, for callers that cannot keep ``proba`` from the
    last :func:`block_loss_gradient` call (row chunks evaluated on other machines):
    one GEMM and one exp per entry; ``logits`` is overwritten.
    """
    if len(block.proba) == 2:
        _two_class_proba(_margin(block, coef, intercept)[0], block.proba)
        return
    e_target, rest = _exp_terms(block, coef, intercept)
    # 1 / total times e, rounded as block_loss_gradient rounds it
    np.multiply(block.proba, 1 / (rest + e_target), out=block.proba)


def block_hessp(block, coef_dir, intercept_dir):
    """Hessian of one block's data term applied to a direction, not normalised.

    Parameters
    ----------
    block : Block
        Rows and buffers; ``proba`` must hold ``softmax(Z)`` at the point where the
        Hessian is taken; ``logits`` is overwritten.
    coef_dir : ndarray of shape (n_classes, n_features)
    intercept_dir : ndarray of shape (n_classes,) or None

    Returns
    -------
    hess_coef : ndarray of shape (n_classes, n_features), float64
        ``hess_coef = R diag(s) X`` with ``R = P * (Z_V - colsum(P * Z_V))``,
        ``Z_V = V X^T + v`` (class-major: the ``R^T`` of :mod:`sklse._objective`).
    hess_intercept : ndarray of shape (n_classes,), float64
        ``hess_intercept = R s``.

    Two classes: the Hessian is ``[[G, -G], [-G, G]]`` with ``G = X~^T diag(s p_0
    p_1) X~`` (:func:`block_hessian`), so ``H v = [-G u, G u]``, ``u = v_1 - v_0``:
    one product each way.
    """
    work, proba = block.logits, block.proba
    if len(proba) == 2:
        work = _difference(block, coef_dir, intercept_dir)  # X~ u
        work *= proba[0]
        work *= proba[1]
        if block.sample_weight is not None:
            work *= block.sample_weight
        return _two_class_sums(block, work)
    _linear(block, coef_dir, intercept_dir, work)
    # Z_V - z_y first (H's rows sum to 0: the same R): where p_y rounds to 1 the
    # label's term then adds nothing to colsum(P * Z_V) to lose (float32: trust-ncg
    # took 37 iterations on wine's standardised features times 1000, 25 with it).
    work -= work.ravel()[block.target]
    work -= np.einsum("ki,ki->i", proba, work)
    work *= proba
    if block.sample_weight is not None:
        work *= block.sample_weight
    return _times_X(block, work), work.sum(axis=1, dtype=np.float64)


def block_precise_gradient(block, fit_intercept):
    """Return one block's data gradient ``[(P - Y) diag(s) X, (P - Y) s]`` (n_dof,),
    its products in float64 from ``block.proba`` (P at the point) and X.

    For float32 X (:meth:`SoftmaxLoss.precise_gradient`): float32 sums of ``R @ X``
    over features of large mean lose the centred gradient that a Newton step
    solves with, as the mean times the intercept's sum cancels it.
    """
    residual = block.proba.astype(np.float64)
    # p_y - 1 as -sum_{k != y} p_k, as block_loss_gradient has it: p_y rounds to 1
    # in float32 where 1 - p_y < 6e-8, which C (1 - p_y) x still feels.
    residual.ravel()[block.target] = 0.0
    residual.ravel()[block.target] = -residual.sum(axis=0)
    if block.sample_weight is not None:
        residual *= block.sample_weight.astype(np.float64)
    intercept = residual.sum(axis=1) if fit_intercept else None
    return _pack(_float64_times(residual, block.X), intercept)


_FLOAT64_ENTRIES = 2**20  # stored entries of CSC X taken to float64 at a time


def _float64_times(R, X):
    """Return ``R @ X`` (n_classes, n_features) with X's entries in float64.

    Dense X and CSR row blocks are converted whole (a block); CSC X, one block of
    all rows, a range of columns of at most ``2**20`` stored entries at a time, so
    that X is never copied.
    """
    if isinstance(X, np.ndarray):
        return R @ X.astype(np.float64)
    if isinstance(X, CSRRows):
        X = _as_csr(X)
    if X.format == "csr":
        return np.asarray(R @ X.astype(np.float64))
    product = np.empty((len(R), X.shape[1]))
    indptr, start = X.indptr, 0
    while start < X.shape[1]:
        stop = np.searchsorted(indptr, indptr[start] + _FLOAT64_ENTRIES, "right") - 1
        stop = min(max(stop, start + 1), X.shape[1])
        first, last = indptr[start], indptr[stop]
        columns = sp.csc_array(
            (
                X.data[first:last].astype(np.float64),
                X.indices[first:last],
                indptr[start : stop + 1] - first,
            ),
            (X.shape[0], stop - start),
        )
        product[:, start:stop] = R @ columns
        start = stop
    return product


def _dense_rows(X):
    """Return the rows of a block as a dense array (a view when X is dense)."""
    if isinstance(X, np.ndarray):
        return X
    return _as_csr(X).toarray() if isinstance(X, CSRRows) else X.toarray()


def _as_csr(rows):
    """Return :class:`CSRRows` as a CSR array on views of its stored entries."""
    start, stop = rows.indptr[0], rows.indptr[-1]
    return sp.csr_array(
        (rows.data[start:stop], rows.indices[start:stop], rows.indptr - start),
        rows.shape,
    )


def block_hessian(block, fit_intercept, center=None):
    """Dense Hessian of one block's data term, not normalised, float64, compact.

    ``block.proba`` must hold ``softmax(Z)`` at the point. With ``x~_i = [x_i -
    center, 1]`` (no ``- center`` for None, no 1 without intercept) and ``d~``
    its length, the Hessian in the class-major order ``k * d~ + j`` is
    ``blockdiag_k(X~^T diag(s p_k) X~) - A^T A``, where row ``i`` of ``A``
    (rows, n_classes * d~) is ``sqrt(s_i) * p_i kron x~_i``: one
    symmetric rank-k update (BLAS syrk, half of a GEMM's work) for the blocks
    between classes, and n_classes weighted Gram matrices (:func:`_gram`) for
    each class's own, ``X~^T diag(s p_k (1 - p_k)) X~`` in one. Cost
    O(rows * (n_classes * d~)^2);
    memory ``A``, rows * n_classes * d~ values (sparse X, whose blocks are sized
    for its stored entries, a part of rows of at most 32 MiB of ``A`` at a time,
    and of X made dense). With two classes ``diag(p) - p p^T
    = p_0 p_1 [[1, -1], [-1, 1]]``: the Hessian is ``[[G, -G], [-G, G]]`` with
    ``G = X~^T diag(s p_0 p_1) X~``, one Gram matrix.

    Returns
    -------
    hessian : ndarray of shape (d~, d~) (``G``, two classes) or (n_classes * d~,
        n_classes * d~) (class-major), float64
        Its upper triangle (the lower may be anything, as syrk leaves it):
        :meth:`SoftmaxLoss._params_layout` mirrors and expands the sum.
    """
    if not isinstance(block.X, np.ndarray):
        # Sparse rows made dense, and A, in parts (CSC is one block of all rows)
        width = block.X.shape[1] + 1
        rows = max(128, _HESSIAN_BYTES // (8 * len(block.proba) * width))
        if block.X.shape[0] > rows:
            return sum(
                block_hessian(_rows_of(block, start, rows), fit_intercept, center)
                for start in range(0, block.X.shape[0], rows)
            )
    X = _dense_rows(block.X).astype(np.float64, copy=False)
    if center is not None:
        X = X - center  # a new array: never X's own rows
    proba = block.proba.T.astype(np.float64)  # (rows, n_classes)
    weighted, root = proba, proba
    if block.sample_weight is not None:
        weight = block.sample_weight.astype(np.float64)[:, np.newaxis]
        weighted, root = proba * weight, proba * np.sqrt(weight)
    n_classes, n_features = proba.shape[1], X.shape[1]
    if n_classes == 2:
        return _gram(X, weighted[:, 0] * proba[:, 1], fit_intercept)
    width = n_features + int(fit_intercept)
    A = np.empty((len(X), n_classes, width))
    np.multiply(root[:, :, np.newaxis], X[:, np.newaxis, :], out=A[:, :, :n_features])
    if fit_intercept:
        A[:, :, n_features] = root
    # syrk on A.T (F-contiguous view of the C-contiguous A): -A^T A, upper triangle.
    hessian = blas.dsyrk(-1.0, A.reshape(len(X), -1).T, trans=0)
    # Class k's own block X~^T diag(s p_k (1 - p_k)) X~ in place of the syrk's:
    # its Gram(s p_k) - Gram(s p_k^2) cancels where p_k nears 1 (_complement).
    complement = _complement(block)
    for k in range(n_classes):
        part = slice(k * width, (k + 1) * width)
        weight = weighted[:, k] * complement[:, k]
        hessian[part, part] = _gram(X, weight, fit_intercept)
    return hessian


_HESSIAN_BYTES = 2**25  # of A per part of a sparse block's rows (block_hessian)


def _rows_of(block, start, rows):
    """Return the :class:`Block` of ``rows`` rows of ``block`` from ``start``, for
    :func:`block_hessian` (views but for CSC rows, which have no cheap cut; no
    target, not used there)."""
    part = slice(start, start + rows)
    weight, X = block.sample_weight, block.X
    return block._replace(
        X=CSRRows.of(X, part) if X.format == "csr" else X[part],
        proba=block.proba[:, part],
        sample_weight=None if weight is None else weight[part],
        target=None,
    )


def _complement(block):
    """Return ``1 - P`` (rows, n_classes), float64, at each row's largest ``p_k`` as
    the sum of the other classes'.

    ``1 - p_k`` keeps no digit of it where p_k rounds to 1 (float32 at ``1 - p_k <
    6e-8``: the label of a well-classified row, or the class of a confidently
    misclassified one), a curvature ``C (1 - p_k) x^2`` that large C still feels;
    below 1/2, where every other p_k is, ``1 - p_k`` is exact enough.
    """
    proba = block.proba.astype(np.float64)
    rows = proba.shape[1]
    top = proba.argmax(axis=0) * rows + np.arange(rows)  # flat, class-major
    flat = proba.ravel()  # a view: astype's copy is contiguous
    flat[top] = 0
    others = proba.sum(axis=0)
    complement = np.subtract(1, block.proba, dtype=np.float64)
    complement.ravel()[top] = others
    return complement.T


def _gram(X, weight, fit_intercept):
    """Return ``X~^T diag(weight) X~`` (d~, d~), ``X~ = [X, 1]``, without copying X."""
    n_features = X.shape[1]
    weighted_X = X * weight[:, np.newaxis]
    if not fit_intercept:
        return weighted_X.T @ X
    gram = np.empty((n_features + 1, n_features + 1))
    gram[:n_features, :n_features] = weighted_X.T @ X
    gram[:n_features, n_features] = gram[n_features, :n_features] = weight @ X
    gram[n_features, n_features] = weight.sum()
    return gram


def _hessian_layout(n_classes, n_features, fit_intercept):
    """Return ``(index, signs)`` that expand a compact :func:`block_hessian` sum.

    ``compact.take(index) * signs`` is the symmetric Hessian in the order of
    ``params`` (``W`` row by row, then ``b``), read from the upper triangle of
    ``compact``. Entry ``(k, j)`` of ``params`` (class k, feature j, or j = d for
    the intercept) is row and column ``k * d~ + j`` of the class-major matrix, or,
    with two classes, ``j`` of ``G`` with sign ``(-1)^k``; ``signs`` is None otherwise.
    """
    width = n_features + int(fit_intercept)
    classes = np.repeat(np.arange(n_classes), n_features)
    features = np.tile(np.arange(n_features), n_classes)
    if fit_intercept:
        classes = np.r_[classes, np.arange(n_classes)]
        features = np.r_[features, np.full(n_classes, n_features)]
    compact = features if n_classes == 2 else classes * width + features
    size = width if n_classes == 2 else n_classes * width
    row, column = np.minimum.outer(compact, compact), np.maximum.outer(compact, compact)
    index = row * size + column  # in the upper triangle
    if n_classes != 2:
        return index, None
    sign = np.where(classes == 0, 1.0, -1.0)
    return index, np.multiply.outer(sign, sign)


def useful_threads(X, n_classes, n_threads):
    """Return ``n_threads``, or 1 where X has too few blocks for threads to share.

    At least 4 default blocks; whether threads then pay on this machine is
    :class:`SoftmaxLoss`'s first evaluations' to find out (:class:`_ThreadProbe`).
    """
    rows = default_block_rows(X, n_classes, _MIN_BLOCKS)
    n_blocks = 1 if _uncuttable(X) else -(-X.shape[0] // rows)
    return 1 if n_blocks < 4 else n_threads


_THREAD_GAIN = 0.8  # threads are kept where they cut the time per row to 80 % or less
_PROBES = 3  # evaluations that time threads: the best time of each way decides
_clock = time.perf_counter


class _ThreadProbe:
    """Whether block threads pay here, from the first :data:`_PROBES` evaluations
    away from coef = 0 (a fit's first, which makes one product per block, not two:
    threads paid less there, and its cheaper rows then set the best time alone).

    Each probe (:meth:`run`) times half of an evaluation's blocks alone and the
    rest in threads; threads pay when the best time per row in threads is at most
    80 % of the best alone (a block's hand-off to a thread and its numpy calls,
    which hold the GIL, cost a fixed time per block that small blocks do not
    repay, and a loaded machine has no core to spare). The best of three, not one:
    on a 2-core VM one probe's threaded half took 0.53 to 1.01 of the time alone
    from fit to fit where threads halve an evaluation (the other core's steal
    time; ``benchmarks/results/loss_constants.md``). No work is added, and the
    results are the same bits either way.
    """

    def __init__(self):
        self.left, self.alone, self.threaded = _PROBES, np.inf, np.inf

    @property
    def pays(self):
        """Whether threads pay as far as known (None before the first probe)."""
        if self.left == _PROBES:
            return None
        return self.threaded <= _THREAD_GAIN * self.alone

    def run(self, function, blocks, n_threads):
        """Return ``[function(b) for b in blocks]``, threads timed against none."""
        half = len(blocks) // 2
        start = _clock()
        results = [function(block) for block in blocks[:half]]
        middle = _clock()
        results += list(_map(function, blocks[half:], n_threads))
        end = _clock()
        rows_alone, rows_threads = (
            sum(len(block[0].target) for block in part)
            for part in (blocks[:half], blocks[half:])
        )
        self.alone = min(self.alone, (middle - start) / rows_alone)
        self.threaded = min(self.threaded, (end - middle) / rows_threads)
        self.left -= 1
        return results


_executors = {}  # n_threads -> ThreadPoolExecutor: made on first use, kept for reuse
# A forked child inherits the executors but not their threads: it makes its own.
os.register_at_fork(after_in_child=_executors.clear)


def _map(function, blocks, n_threads):
    """Return ``map(function, blocks)``, run by ``n_threads`` threads, in order.

    Under the caller's ``np.errstate``, which a thread does not inherit: a block
    warns, or not, as it would in the caller's thread.
    """
    if n_threads <= 1 or len(blocks) <= 1:
        return map(function, blocks)
    if n_threads not in _executors:
        _executors[n_threads] = ThreadPoolExecutor(n_threads, "sklse-block")
    errors = np.geterr()

    def run(block):
        with np.errstate(**errors):
            return function(block)

    return _executors[n_threads].map(run, blocks)


class _Buffers:
    """The (n_classes, rows) buffers that block evaluations borrow, one pair each.

    A pair is taken for one block's evaluation and given back after it, so the
    pairs in existence are at most the evaluations that ever ran at once (one per
    thread): ``2 * n_threads * block_rows * n_classes`` values, whatever n_samples.
    They live as long as the loss.
    """

    def __init__(self, n_classes, block_rows, dtype):
        self.n_classes, self.size, self.dtype = n_classes, n_classes * block_rows, dtype
        self._free = deque()  # append and pop are atomic: threads share it

    def run(self, function, block, proba=None):
        """Return ``function(block)``, ``block`` given a borrowed pair of buffers.

        ``proba``, when given, is the block's own (kept) probability buffer, used
        in place of the second borrowed one.
        """
        try:
            pair = self._free.pop()
        except IndexError:
            pair = (np.empty(self.size, self.dtype), np.empty(self.size, self.dtype))
        try:
            shape = (self.n_classes, len(block.target))
            logits, scratch = (
                buffer[: shape[0] * shape[1]].reshape(shape) for buffer in pair
            )
            return function(
                block._replace(logits=logits, proba=scratch if proba is None else proba)
            )
        finally:
            self._free.append(pair)


def weighted_sums(X, sample_weight, center, n_classes, block_rows, total=0.0):
    """Return ``total`` plus ``[sum_i s_i x_i, sum_i s_i x_i^2]`` (``center`` None)
    or ``sum_i s_i (x_i - center)^2`` over the rows of dense X, float64, in order.

    In row chunks, each a float64 copy overwritten in place of at most a buffer's
    ``n_classes * block_rows`` values (at least 256 rows): no copy of X, and a
    chunk's peak no larger than the evaluations'. (Chunk-sized float64 copies, a
    square and a stack of them cost 2-3 evaluations on Dask chunks of 12500 x 500
    rows: ``benchmarks/results/loss_constants.md``.)
    """
    n_rows, n_features = X.shape
    chunk = max(256, n_classes * block_rows // max(n_features, 1))
    for start in range(0, n_rows, chunk):
        rows = slice(start, start + chunk)
        values = X[rows].astype(np.float64)
        if sample_weight is not None:
            # A weightless row adds nothing, not 0 * inf where its square overflows.
            weightless = sample_weight[rows] == 0
            if weightless.any():
                values[weightless] = 0.0
        if center is None:
            first = _column_sums(values, sample_weight, rows)
        else:
            np.subtract(values, center, out=values)
        np.square(values, out=values)
        squares = _column_sums(values, sample_weight, rows)
        total = total + (np.stack([first, squares]) if center is None else squares)
    return total


def _column_sums(values, weight, rows):
    """Return ``values``' column sums, weighted by ``weight[rows]`` unless None."""
    if weight is None:
        return values.sum(axis=0)
    return weight[rows].astype(np.float64) @ values


def _stored_entries(X, sample_weight, max_entries, merge=False):
    """Yield X's stored entries in chunks: ``(columns, weights, values)``.

    ``values`` float64, each entry's column and its row's weight (None: no
    weights), for CSR (or :class:`CSRRows`) and CSC X alike; a chunk holds the
    entries of whole rows (CSR) or columns (CSC), at most ``max_entries`` of them
    unless one row or column holds more. ``merge``: entries stored more than once
    for one (row, column), which add up (non-canonical X), are added first, by
    scipy's per-row sort and sum on the chunk's copies (12 times faster than a
    ``np.unique`` of the chunk's keys, whose sort cost a sparse fit from TF-IDF
    rows of unsorted indices a tenth of its time).
    """
    indptr, n_major = X.indptr, len(X.indptr) - 1
    n_minor = X.shape[1] if X.format == "csr" else X.shape[0]
    start = 0
    while start < n_major:
        end = int(indptr[start]) + max_entries  # a Python int: no int32 wrap
        stop = np.searchsorted(indptr, end, side="right") - 1
        stop = min(max(stop, start + 1), n_major)
        low, high = indptr[start], indptr[stop]
        counts, minors = np.diff(indptr[start : stop + 1]), X.indices[low:high]
        values = X.data[low:high].astype(np.float64)  # a copy
        if merge:  # in place on copies: X's own arrays are left as they are
            chunk = sp.csr_array(
                (values, minors.copy(), indptr[start : stop + 1] - low),
                shape=(stop - start, n_minor),
            )
            chunk.sum_duplicates()
            counts, minors, values = np.diff(chunk.indptr), chunk.indices, chunk.data
        majors = np.repeat(np.arange(start, stop), counts)
        rows, columns = (majors, minors) if X.format == "csr" else (minors, majors)
        weights = None if sample_weight is None else sample_weight[rows]
        yield columns, weights, values
        start = stop


def _sparse_weighted_sums(loss):
    """:meth:`SoftmaxLoss._weighted_sums` of sparse X, in one pass over its stored
    entries (the zeros add nothing): X stays sparse.

    Scaled by ``sw_sum / S``, ``S`` the sum of the weights as stored (float32
    for float32 X), so that divided by ``sw_sum`` (float64's sum of the weights
    as given) they are the moments of the stored weights: ``E[x^2] - mean^2`` then
    cancels by float64's ``eps * mean^2 / variance`` only (float32's rounding of
    ``S`` would cancel by ~2e-3 at 1e3 +- 5). The sum over stored entries of a
    centred pass would be this formula rearranged, so there is none.
    """
    n_features = loss.blocks[0].X.shape[1]
    first, second, weight_sum = np.zeros(n_features), np.zeros(n_features), 0.0
    for block in loss.blocks:
        stored = block.sample_weight
        weight_sum += (
            block.X.shape[0] if stored is None else np.sum(stored, dtype=np.float64)
        )
        for columns, weights, values in _stored_entries(
            block.X, stored, max(loss._buffers.size, 256), not loss._canonical
        ):
            weighted = values if weights is None else values * weights
            first += np.bincount(columns, weights=weighted, minlength=n_features)
            weighted *= values
            second += np.bincount(columns, weights=weighted, minlength=n_features)
    # (Weights that all round to 0 in float32 leave the sums 0, not nan.)
    return np.stack([first, second]) * (loss.sw_sum / (weight_sum or loss.sw_sum))


class SoftmaxLoss(ScaledObjective):
    """The scaled objective ``f`` of :mod:`sklse._objective` on in-memory data.

    The rows are cut into blocks (:class:`Block`). X is never copied: dense blocks
    are views, CSR blocks are :class:`CSRRows` views; CSC X, whose rows cannot be
    cut without a copy, is one block. A block's evaluation borrows two class-major
    buffers of X's dtype (:class:`_Buffers`), ``logits`` and ``proba``, and gives
    them back, so that between evaluations the loss holds one pair per thread, not
    per block. Row-major products go through one (rows, n_classes) scratch per
    thread (for CSC, rows = n_samples).

    What a fit keeps between evaluations, by solver:

    - lbfgs (and L-BFGS in auto), the L1 fit: no (n_classes, n_samples) buffer;
      ``O(n_threads * block_rows * n_classes + n_classes * n_features)`` values.
    - newton-cg, trust-ncg, newton-cholesky and the Newton steps that finish an
      L-BFGS fit (anything calling :meth:`hessp` or :meth:`hessian`): from the
      first such call on, the
      probabilities at the last point (``n_samples * n_classes`` values) while
      they fit ``proba_budget``, so that the products at one point share them;
      beyond the budget each product recomputes them per block (one more GEMM and
      exp per block), as the Dask path does. (newton-cholesky's own Hessian,
      ``n_dof ** 2`` values, is at most 32 MiB under auto.)

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,), intp labels in ``0..n_classes-1``
    n_classes : int
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative with a positive sum (checked by the caller).
    C : float, default=1.0
        Inverse penalty strength; ``np.inf`` for no penalty.
    l1_ratio : float, default=0.0
        Share ``r`` of the L1 term in the penalty; ignored when ``C = inf``.
    fit_intercept : bool, default=True
    block_rows : int or None, default=None
        Rows per block; None: :func:`default_block_rows`, with at least 8 blocks
        where blocks that size are worth a thread, so that threads get blocks.
    n_threads : int, default=1
        Threads that evaluate blocks side by side, kept where the first evaluations
        find that they pay (:class:`_ThreadProbe`). numpy's GEMM, its ufuncs and
        scipy's sparse kernels release the GIL, so blocks run in parallel; sums over
        blocks keep block order, so results do not depend on ``n_threads``.
    proba_budget : int, default=2**28
        Bytes of probabilities that :meth:`hessp` may keep between calls (256 MiB).
        Kept or recomputed, the probabilities are the same bits.
    keep_last_sums : bool, default=False
        Keep the data sums of the last :meth:`loss_gradient` (2 n_dof values) and
        reuse them at the same ``params``: for a path of C, which changes only the
        penalty (:mod:`sklse._path`); a single fit would only pay the copies.
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
        n_threads=1,
        proba_budget=_PROBA_BUDGET,
        keep_last_sums=False,
    ):
        n_samples, n_features = X.shape
        self.n_samples, self.n_classes = n_samples, n_classes
        self.fit_intercept = fit_intercept
        self.dtype = X.dtype  # the evaluations' precision: the rounding of f
        with np.errstate(over="ignore"):  # an overflowing sum is reported below
            sw_sum = float(
                n_samples
                if sample_weight is None
                else np.sum(sample_weight, dtype=np.float64)
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=X.dtype)
        self._set_penalty(n_features, sw_sum, C, l1_ratio)
        self._set_one_class(
            lambda: np.count_nonzero(np.bincount(y, sample_weight, n_classes))
        )
        if block_rows is None:
            # _MIN_BLOCKS whatever the number of threads, so that results do not
            # depend on it.
            block_rows = default_block_rows(X, n_classes, _MIN_BLOCKS)
        self.blocks = _split(X, y, sample_weight, n_classes, block_rows)
        self.sparse = sp.issparse(X)
        self.nnz = X.nnz if self.sparse else None  # stored entries of sparse X
        self._canonical = not self.sparse or X.has_canonical_format
        self.n_threads = n_threads
        self._threads = _ThreadProbe()  # whether they pay here
        self._buffers = _Buffers(n_classes, len(self.blocks[0].target), X.dtype)
        self._may_keep = n_samples * n_classes * X.dtype.itemsize <= proba_budget
        self._kept = None  # the blocks' own proba buffers, once hessp asks for them
        self._proba_params = None  # where the kept probabilities were computed
        self._layout = None  # _hessian_layout's index, made by the first hessian
        self._keep_last_sums = keep_last_sums
        self._last_sums = None  # (params, loss, grad): the data sums last computed

    def _weighted_sums(self, center):
        """Return ``[sum_i s_i x_i, sum_i s_i x_i^2]`` (``center`` None) or ``sum_i
        s_i (x_i - center)^2``, float64, over the rows in order
        (:func:`weighted_sums`, block by block). Sparse X:
        :func:`_sparse_weighted_sums`.
        """
        if self.sparse:
            return _sparse_weighted_sums(self)  # center is None: one pass only
        total = 0.0
        for block in self.blocks:
            weight = block.sample_weight
            rows = len(block.target)
            total = weighted_sums(block.X, weight, center, self.n_classes, rows, total)
        return total

    def _in_order_sum(self):
        """Return a new :class:`_InOrderSum` for an evaluation's ``R @ X`` where X is
        sparse, else None (each dense block returns its product)."""
        if not self.sparse:
            return None
        k = 1 if self.n_classes == 2 else self.n_classes
        return _InOrderSum(self.blocks[0].X.shape[1], k, self.dtype)

    def _map_blocks(self, function, proba=None, *, into=None, probe=True):
        """Return ``function(block)`` for every block in block order, in threads.

        Each block gets borrowed buffers; ``proba``, a buffer per block, replaces
        the borrowed ``proba``; ``into``, an :class:`_InOrderSum`, receives the
        blocks' ``R @ X`` (their results then hold None in its place). Without
        ``probe`` a call that is not typical of the fit's (the evaluation at coef
        = 0, without its product) times nothing for :class:`_ThreadProbe`.
        """
        proba = [None] * len(self.blocks) if proba is None else proba
        pairs = list(zip(self.blocks, proba, strict=True))

        def run(pair):
            block, block_proba = pair
            if into is None:
                return self._buffers.run(function, block, block_proba)
            try:
                block = block._replace(into=into)
                return self._buffers.run(function, block, block_proba)
            finally:
                into.done(block)

        n_threads = self.n_threads
        if n_threads > 1 and len(pairs) >= 4:
            if self._threads.left > 0 and probe:  # the first evaluations find out
                return self._threads.run(run, pairs, n_threads)
            n_threads = n_threads if self._threads.pays else 1
        return _map(run, pairs, n_threads)

    def loss_gradient(self, params):
        """Return the smooth part of ``f(params)`` and its float64 (n_dof,) gradient.

        The smooth part is ``f`` without its L1 term (all of ``f`` when ``l1 == 0``).
        Once probabilities are kept (:meth:`hessp`), they are those at ``params``.
        With ``keep_last_sums``, and until probabilities are kept, the data sums at
        the last ``params`` are reused at the same ``params``: the same bits.
        """
        params = np.asarray(params, dtype=np.float64)
        last = self._last_sums
        if last is not None and self._kept is None and np.array_equal(params, last[0]):
            return self._finish(last[1], last[2].copy(), params)
        coef, intercept = _unpack(params, self.n_classes, self.fit_intercept)
        loss, grad = 0.0, np.zeros(len(params))
        grad_coef, grad_intercept = _unpack(grad, self.n_classes, self.fit_intercept)
        self._proba_params = None
        keep = self._kept is not None  # else no Hessian follows, nothing to keep
        coef_in, into = self._coef_for_blocks(coef), self._in_order_sum()
        results = self._map_blocks(
            lambda block: block_loss_gradient(block, coef_in, intercept, keep),
            self._kept,
            into=into,
            probe=bool(coef.any()),  # at coef = 0 a block has one product, not two
        )
        for block_loss, block_grad_coef, block_grad_intercept in results:
            loss += block_loss
            if into is None:
                grad_coef += block_grad_coef
            if intercept is not None:
                grad_intercept += block_grad_intercept
        if into is not None:
            grad_coef += into.total()
        if self._kept is not None:
            self._proba_params = params.copy()
        if self._keep_last_sums:
            self._last_sums = (params.copy(), loss, grad.copy())
        return self._finish(loss, grad, params)

    def _coef_for_blocks(self, coef):
        """Return ``coef`` as the blocks' products take it, made once per evaluation:
        for row-major products the transpose of a C-contiguous array of X's dtype
        (:func:`_linear`); two classes difference it in float64 first."""
        if self.n_classes == 2 or not self.blocks[0].row_major:
            return coef
        return np.ascontiguousarray(coef.T, dtype=self.dtype).T

    def _proba_at(self, params, *, start_keeping):
        """Return the kept per-block probabilities at ``params``, or None: not kept.

        With ``start_keeping`` and within the budget, keeping starts here. Kept
        ones from another point are recomputed (:func:`block_proba`: the bits that
        :func:`block_loss_gradient` leaves).
        """
        if self._kept is None and start_keeping and self._may_keep:
            shape, dtype = self.n_classes, self._buffers.dtype
            self._kept = [np.empty((shape, len(b.target)), dtype) for b in self.blocks]
        if self._kept is None:
            return None
        if self._proba_params is None or not np.array_equal(params, self._proba_params):
            coef, intercept = _unpack(params, self.n_classes, self.fit_intercept)
            coef = self._coef_for_blocks(coef)
            for _ in self._map_blocks(
                lambda block: block_proba(block, coef, intercept), self._kept
            ):
                pass
            self._proba_params = params.copy()
        return self._kept

    def _at_point(self, function, params, *, start_keeping, into=None):
        """Return ``function(block)`` for every block, ``block.proba`` at ``params``
        (``into``: as :meth:`_map_blocks`)."""
        params = np.asarray(params, dtype=np.float64)
        kept = self._proba_at(params, start_keeping=start_keeping)
        if kept is not None:
            return self._map_blocks(function, kept, into=into)
        coef, intercept = _unpack(params, self.n_classes, self.fit_intercept)
        coef = self._coef_for_blocks(coef)

        def recomputed(block):
            block_proba(block, coef, intercept)
            return function(block)

        return self._map_blocks(recomputed, into=into)

    def precise_gradient(self, params):
        """Return the smooth part's gradient at ``params`` with float64 sums, for
        float32 X, dense or sparse; None for float64 (the evaluations' gradient is
        that one).

        What a Newton step solves with (:func:`sklse._newton.newton`): from float32
        sums, on features whose mean is far beyond their spread, an exact solve
        amplified their rounding into a step that raised f (R's
        Ecdat/terrorism, features up to 6e7: the start was returned, F 69.3 against
        F* 6e-8). From the probabilities kept for the Hessian there (:meth:`hessian`);
        one float64 pass over X.
        """
        if self.dtype == np.float64:
            return None
        params = np.asarray(params, dtype=np.float64)
        grad = None
        for part in self._at_point(
            lambda block: block_precise_gradient(block, self.fit_intercept),
            params,
            start_keeping=True,
        ):
            grad = part if grad is None else grad + part  # in block order
        return self._finish(0.0, grad, params)[1]

    def hessian(self, params, center=None):
        """Return the smooth part's dense (n_dof, n_dof) float64 Hessian at ``params``.

        With ``center`` (n_features,), and an intercept, the Hessian in the
        variables ``(W, b + W center)``, the model of the features ``x - center``:
        from those features, not by a change of the one in ``params``, where a mean
        far beyond the spread has rounded its information away
        (:func:`sklse._newton.cholesky_solver`). Keeps the probabilities between
        calls within the budget, as :meth:`hessp` does (the Newton solvers
        evaluate the loss, then the Hessian, at each point); costs O(n_samples *
        n_dof^2) (:func:`block_hessian`).
        """
        compact = self._compact_hessian(params, center)
        return self._finish_hessian(self._params_layout(compact))

    def margin_hessian(self, params, center=None):
        """Two classes: return the (d~, d~) Hessian of f along the margin.

        The data enter f through the margin ``z_1 - z_0`` only, so on directions
        ``[-q, q]`` (class 0's entries, class 1's; coefficients, then intercept)
        the Hessian acts as ``[-M q, M q]`` with ``M = 2 G / S + alpha`` (alpha on
        the coefficients only, ``G`` of :func:`block_hessian`), and on ``[q, q]``
        as the penalty's ``alpha``: binary logistic regression's Newton system,
        a quarter of :meth:`hessian`'s entries. ``center`` as in :meth:`hessian`.
        """
        margin = self._compact_hessian(params, center)
        margin *= 2 / self.sw_sum
        n_coef = len(margin) - int(self.fit_intercept)
        margin.reshape(-1)[: n_coef * (len(margin) + 1) : len(margin) + 1] += self.alpha
        return margin

    def _compact_hessian(self, params, center):
        """Return the sum of the blocks' compact :func:`block_hessian` at ``params``."""
        hessian = None
        results = self._at_point(
            lambda block: block_hessian(block, self.fit_intercept, center),
            params,
            start_keeping=True,
        )
        for block_hessian_ in results:
            if hessian is None:
                hessian = block_hessian_
            else:
                hessian += block_hessian_
        return hessian

    def _params_layout(self, compact):
        """Return the symmetric Hessian, in the order of ``params``, of the upper
        triangle of the summed compact :func:`block_hessian` s."""
        if self._layout is None:
            n_features = self.n_dof // self.n_classes - int(self.fit_intercept)
            self._layout = _hessian_layout(
                self.n_classes, n_features, self.fit_intercept
            )
        index, signs = self._layout
        hessian = compact.take(index)
        if signs is not None:
            hessian *= signs
        return hessian

    def hessp(self, params, direction):
        """Return the smooth part's Hessian at ``params`` applied to ``direction``.

        Keeps the probabilities at the last point from the first call on, within
        ``proba_budget``; recomputes them per block otherwise.
        """
        coef_dir, intercept_dir = _unpack(direction, self.n_classes, self.fit_intercept)
        result = np.zeros_like(direction, dtype=np.float64)
        hess_coef, hess_intercept = _unpack(result, self.n_classes, self.fit_intercept)
        coef_dir_in, into = self._coef_for_blocks(coef_dir), self._in_order_sum()
        results = self._at_point(
            lambda block: block_hessp(block, coef_dir_in, intercept_dir),
            params,
            start_keeping=True,
            into=into,
        )
        for block_coef, block_intercept in results:
            if into is None:
                hess_coef += block_coef
            if intercept_dir is not None:
                hess_intercept += block_intercept
        if into is not None:
            hess_coef += into.total()
        return self._finish_hessp(result, direction)
