"""Row-wise log-sum-exp, log-softmax and softmax with the max-shift trick.

All three functions reduce along one axis (default the last) and share one kernel,
:func:`_shifted_exp`, so that they agree on every input, non-finite ones included::

    c       = max_k z_k                      (0 where the max is not finite)
    LSE(z)  = c + log(sum_k exp(z_k - c))
    log_softmax(z) = (z - c) - log(sum_k exp(z_k - c))
    softmax(z)     = exp(z - c) / sum_k exp(z_k - c)

``exp(z_k - c) <= 1`` cannot overflow, and the max term is exactly 1, so the sum lies in
``[1, n]`` and its log is finite. For precision, where the other terms add up to less
than 0.5 the max term is kept out of the sum: ``log(sum) = log1p(rest)``, ``rest`` the
sum of every other term, so that ``LSE([0, -40])`` is ``4.25e-18`` and not ``0`` (the
same device as ``scipy.special.logsumexp``).

Non-finite input gives what ``scipy.special`` gives (scipy 1.17):

=======================  ==========  ============================  ============
row                      logsumexp   log_softmax                   softmax
=======================  ==========  ============================  ============
holds ``+inf``           ``inf``     ``nan`` at each ``+inf``,     ``nan``
                                     ``-inf`` elsewhere
all ``-inf``             ``-inf``    ``nan``                       ``nan``
holds ``nan``            ``nan``     ``nan``                       ``nan``
=======================  ==========  ============================  ============

A ``-inf`` among finite entries is an ordinary zero-probability entry.

Arrays of another array-API namespace (torch on any device, CuPy, array-api-strict)
take :func:`_xp_shifted_exp` and :func:`_xp_log_total`, the same formulas and the same
table written against the array API standard: the result is in the input's namespace,
on its device, in its dtype (``out=`` is numpy's alone). numpy arrays and array-likes
keep the numpy path below.
"""

import numpy as np

from sklse._compat import array_namespace

__all__ = ["log_softmax", "logsumexp", "softmax"]

# Rows per block on the hot path (2-D input, last axis): the block and its exp scratch
# stay in L2 cache while the passes of _shifted_exp run over them (1 MiB measured
# fastest of 64 KiB ... whole array in benchmarks/bench_numerics.py's sizes).
_BLOCK_BYTES = 1024 * 1024


def _row_max(z, axis):
    """Return the max of ``z`` along ``axis``, keepdims; a nan in a row wins."""
    if axis in (-1, z.ndim - 1):
        # numpy reduces short contiguous rows slowly; its argmax is faster there
        # (benchmarks/results/loss_constants.md).
        return np.take_along_axis(z, np.argmax(z, axis=axis, keepdims=True), axis)
    return np.max(z, axis=axis, keepdims=True)


def _shifted_exp(z, t_out, e_out, axis=-1):
    """Write ``t_out = z - c`` and ``e_out = exp(t_out)``; return ``c`` and the sum.

    ``z``, ``t_out``, ``e_out`` have the same shape; ``t_out`` may be ``z`` and
    ``e_out`` may be ``t_out``. Returns ``shift`` and ``total``, reduced along
    ``axis`` with keepdims, ``total = sum_k exp(z_k - shift)``: in [1, n] on finite
    rows, ``inf``, ``0`` or ``nan`` on the non-finite rows of the module table.
    """
    if z.shape[axis] == 0:  # an empty sum is 0, log(0) = -inf, as in scipy
        shape = list(z.shape)
        shape[axis] = 1
        return np.zeros(shape, dtype=z.dtype), np.zeros(shape, dtype=z.dtype)
    shift = _shift(z, t_out, axis)
    np.exp(t_out, out=e_out)
    return shift, np.sum(e_out, axis=axis, keepdims=True)


def _shift(z, t_out, axis=-1):
    """Write ``t_out = z - c`` (``t_out`` may be ``z``); return ``c``, keepdims.

    ``c`` is the max along ``axis``, or 0 on rows whose max is not finite.
    """
    shift = _row_max(z, axis)
    # Arithmetic between infinities gives nan: shift by 0 on non-finite rows; the
    # infinity (or nan) then reaches the total through the sum.
    finite = np.isfinite(shift)
    if not finite.all():
        shift = np.where(finite, shift, 0).astype(z.dtype, copy=False)
    np.subtract(z, shift, out=t_out)
    return shift


def _log_total(e, total, axis=-1):
    """Return ``log(total)`` for ``e, total`` of :func:`_shifted_exp`, to the last bit.

    On a finite row the max term is exactly exp(0) = 1, so 1 <= total. Where the
    other terms add up to less than 0.5, each is < 1 and ``total`` has lost their
    digits below eps: they are summed without the max term and ``log1p`` taken, so
    that ``LSE([0, -40])`` is 4.25e-18, not 0. (Masked on ``e``, which may share its
    buffer with ``t``.)
    """
    log_sum = np.log(total)
    small = (total >= 1) & (total < 1.5)
    if small.any():
        rest = np.sum(e * (e < 1), axis=axis, keepdims=True)
        np.log1p(rest, out=log_sum, where=small)
    return log_sum


def _as_float_array(a):
    """Return ``a`` as a float32 or float64 ndarray of at least one dimension."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"a must be a real numeric array; got dtype {a.dtype}.")
    if a.ndim == 0:
        raise ValueError("a must have at least one dimension; got a scalar.")
    if a.dtype not in (np.float32, np.float64):
        return a.astype(np.float64)
    return a


def _prepare(a, axis, out, keep_axis):
    """Validate ``a`` and ``out``; return ``z`` (axis last), the out view, ``out``.

    ``out`` is allocated when None. An ``out`` that overlaps ``a`` without being
    ``a`` would be read after being written: ``z`` is then a copy.
    """
    a = _as_float_array(a)
    z = np.moveaxis(a, axis, -1)
    shape = a.shape if keep_axis else z.shape[:-1]
    if out is None:
        out = np.empty(shape, dtype=a.dtype)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray; got {type(out).__name__}.")
        if out.shape != shape or out.dtype != a.dtype:
            raise ValueError(
                f"out must have shape {shape} and dtype {a.dtype}; "
                f"got shape {out.shape} and dtype {out.dtype}."
            )
        if out is not a and np.may_share_memory(out, a):
            z = z.copy()
    return z, (np.moveaxis(out, axis, -1) if keep_axis else out), out


def _xp_float(a, xp):
    """Return array-API ``a`` in a real floating dtype, checked to be at least 1-D.

    Booleans and integers become float64, or float32 on a device without float64.
    """
    if not xp.isdtype(a.dtype, "real floating"):
        if not xp.isdtype(a.dtype, ("bool", "integral")):
            raise TypeError(f"a must be a real numeric array; got dtype {a.dtype}.")
        floats = xp.__array_namespace_info__().dtypes(
            kind="real floating", device=a.device
        )
        a = xp.astype(a, floats.get("float64", xp.float32))
    if a.ndim == 0:
        raise ValueError("a must have at least one dimension; got a scalar.")
    return a


def _xp_row_shift(z, axis, xp):
    """Return the max of ``z`` along ``axis`` (keepdims), 0 where it is not finite."""
    row_max = xp.max(z, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))


def _xp_shifted_exp(z, axis, xp):
    """Return ``c``, ``t = z - c``, ``e = exp(t)`` and ``total = sum_k e_k``.

    :func:`_shifted_exp` in namespace ``xp``: ``c`` and ``total`` keep ``axis`` (of
    length 1); ``c`` is 0 on rows whose max is not finite.
    """
    if z.shape[axis] == 0:  # an empty sum is 0, log(0) = -inf, as in scipy
        shape = list(z.shape)
        shape[axis] = 1
        zero = xp.zeros(tuple(shape), dtype=z.dtype, device=z.device)
        return zero, z, z, zero
    shift = _xp_row_shift(z, axis, xp)
    t = z - shift
    e = xp.exp(t)
    return shift, t, e, xp.sum(e, axis=axis, keepdims=True)


def _xp_log_total(e, total, axis, xp):
    """Return ``log(total)`` as :func:`_log_total` does, in namespace ``xp``."""
    rest = xp.sum(xp.where(e < 1, e, xp.zeros_like(e)), axis=axis, keepdims=True)
    small = (total >= 1) & (total < 1.5)
    return xp.where(small, xp.log1p(rest), xp.log(total))


def _xp_logsumexp(z, axis, xp):
    shift, _, e, total = _xp_shifted_exp(z, axis, xp)
    return xp.squeeze(shift + _xp_log_total(e, total, axis, xp), axis=axis)


def _xp_log_softmax(z, axis, xp):
    _, t, e, total = _xp_shifted_exp(z, axis, xp)
    return t - _xp_log_total(e, total, axis, xp)


def _xp_softmax(z, axis, xp):
    _, _, e, total = _xp_shifted_exp(z, axis, xp)
    # A row holding +inf has no softmax (inf / inf); scipy gives nan throughout.
    return e / xp.where(xp.isinf(total), xp.full_like(total, xp.nan), total)


def _on_namespace(function, a, axis, out, xp):
    """Return ``function(a, axis, xp)`` for an array-API ``a`` of namespace ``xp``."""
    if out is not None:
        raise TypeError(
            f"out must be None for {xp.__name__} arrays (the array API has no out=); "
            f"got {type(out).__name__}."
        )
    a = _xp_float(a, xp)
    # numpy-backed namespaces (array-api-strict) warn on the documented inf / nan of
    # non-finite rows, as numpy does below; torch and CuPy do not warn.
    with np.errstate(all="ignore"):
        return function(a, axis, xp)


def _row_blocks(z):
    """Return the row slices of a 2-D ``z`` in ``_BLOCK_BYTES`` blocks, else [...]."""
    if z.ndim != 2:
        return [...]
    n_rows = max(1, _BLOCK_BYTES // max(1, z.shape[1] * z.itemsize))
    return [slice(i, i + n_rows) for i in range(0, z.shape[0], n_rows)]


def _block_scratch(z, blocks):
    """Return a buffer of the first block's shape; ``[: len(block)]`` fits any block."""
    return np.empty_like(z[blocks[0]] if blocks else z)


def logsumexp(a, axis=-1, out=None):
    """Compute ``log(sum(exp(a)))`` along an axis without overflow.

    Parameters
    ----------
    a : array_like of float, or an array of an array-API namespace
        Input values. float32 and float64 are kept; other real dtypes become
        float64. A torch, CuPy or array-api-strict array gives a result of its
        namespace, device and dtype.
    axis : int, default=-1
        Axis to reduce.
    out : ndarray, optional
        numpy input only. Array of ``a``'s shape without ``axis`` and of ``a``'s
        dtype that receives the result.

    Returns
    -------
    lse : ndarray
        ``lse = c + log(sum_k exp(a_k - c))`` with ``c = max_k a_k``; the shape of
        ``a`` without ``axis``, the dtype of ``a``. Non-finite rows follow
        ``scipy.special.logsumexp``: ``inf`` if a row holds ``+inf``, ``-inf`` if all of
        it is ``-inf``, ``nan`` if it holds a ``nan``.

    Examples
    --------
    >>> from sklse import logsumexp
    >>> float(logsumexp([-1000.0, 1000.0, -1000.0, 5.0, 10.0, 0.001]))
    1000.0
    >>> float(logsumexp([0.0, -40.0]))  # log1p keeps the small term
    4.248354255291589e-18
    """
    xp = array_namespace(a)
    if xp is not None:
        return _on_namespace(_xp_logsumexp, a, axis, out, xp)
    z, _, result = _prepare(a, axis, out, keep_axis=False)
    blocks = _row_blocks(z)
    scratch = _block_scratch(z, blocks)
    with np.errstate(all="ignore"):  # non-finite rows get the documented inf/nan
        for rows in blocks:
            block = scratch[: len(z[rows])]
            shift, total = _shifted_exp(z[rows], block, block)
            result[rows] = (shift + _log_total(block, total))[..., 0]
    return result if out is not None or result.ndim else result[()]


def log_softmax(a, axis=-1, out=None):
    """Compute the logarithm of the softmax along an axis, without forming the softmax.

    Parameters
    ----------
    a : array_like of float, or an array of an array-API namespace
        Input values (logits). float32 and float64 are kept; integers become float64.
        A torch, CuPy or array-api-strict array gives a result of its namespace,
        device and dtype.
    axis : int, default=-1
        Axis along which the entries are normalised.
    out : ndarray, optional
        numpy input only. Array of ``a``'s shape and dtype that receives the result;
        may be ``a`` itself to work in place (any other overlap with ``a`` costs a
        copy of ``a``).

    Returns
    -------
    log_proba : ndarray
        ``log_proba = (a - c) - log(sum_k exp(a_k - c))``, ``c = max_k a_k``: finite
        wherever ``a`` is finite (and ``a_k - c`` within the float range), even where
        ``softmax`` underflows to 0. Non-finite
        rows as in the module docstring (the same as ``scipy.special.log_softmax``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklse import log_softmax
    >>> log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    """
    xp = array_namespace(a)
    if xp is not None:
        return _on_namespace(_xp_log_softmax, a, axis, out, xp)
    z, out_view, out = _prepare(a, axis, out, keep_axis=True)
    blocks = _row_blocks(z)
    scratch = _block_scratch(z, blocks)
    with np.errstate(all="ignore"):  # non-finite rows get the documented inf/nan
        for rows in blocks:
            t = out_view[rows]
            e = scratch[: len(t)]
            # t holds z - c in place; the exps go to the small scratch and are dropped.
            _, total = _shifted_exp(z[rows], t, e)
            t -= _log_total(e, total)
    return out


def softmax(a, axis=-1, out=None):
    """Compute the softmax ``exp(a) / sum(exp(a))`` along an axis without overflow.

    Parameters
    ----------
    a : array_like of float, or an array of an array-API namespace
        Input values (logits). float32 and float64 are kept; integers become float64.
        A torch, CuPy or array-api-strict array gives a result of its namespace,
        device and dtype.
    axis : int, default=-1
        Axis along which the entries are normalised.
    out : ndarray, optional
        numpy input only. Array of ``a``'s shape and dtype that receives the result;
        may be ``a`` itself to work in place (any other overlap with ``a`` costs a
        copy of ``a``).

    Returns
    -------
    proba : ndarray
        ``proba = exp(a - c) / sum_k exp(a_k - c)``, ``c = max_k a_k``: entries in
        [0, 1] summing to 1 along ``axis``. Rows holding ``+inf``, ``nan``, or only
        ``-inf`` are ``nan`` throughout, as with ``scipy.special.softmax``.

    References
    ----------
    .. [1] P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the
       log-sum-exp and softmax functions", IMA J. Numer. Anal. 41(4), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklse import softmax
    >>> softmax(np.array([-1000.0, 1000.0, -1000.0, 5.0, 10.0, 0.001]))
    array([0., 1., 0., 0., 0., 0.])
    """
    xp = array_namespace(a)
    if xp is not None:
        return _on_namespace(_xp_softmax, a, axis, out, xp)
    z, out_view, out = _prepare(a, axis, out, keep_axis=True)
    with np.errstate(all="ignore"):  # non-finite rows get the documented nan
        for rows in _row_blocks(z):
            e = out_view[rows]
            _, total = _shifted_exp(z[rows], e, e)
            # A row holding +inf has no softmax (inf / inf); scipy gives nan throughout.
            total[np.isinf(total)] = np.nan
            e /= total  # one rounding per entry; all -inf: 0 / 0 = nan, as scipy
    return out
