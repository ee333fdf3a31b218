"""The one place that touches private APIs of the libraries sklse builds on."""

import inspect
from contextlib import contextmanager
from functools import cache

import numpy as np
import threadpoolctl
from scipy.sparse import _sparsetools
from sklearn import config_context
from sklearn.externals import array_api_compat
from sklearn.metrics import make_scorer
from sklearn.metrics._classification import _log_loss

# scikit-learn's array API helpers: private in 1.9, with no public equivalent.
from sklearn.utils._array_api import (
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled
from sklearn.utils.validation import _check_method_params, _check_sample_weight

# numpy through the array API (array_api_compat's wrapper: np.astype before numpy 2.1)
numpy_namespace = array_api_compat.numpy

__all__ = [
    "array_namespace",
    "blas_pools",
    "changing_blas_limits",
    "check_same_namespace",
    "check_sample_weight",
    "effective_n_threads",
    "get_namespace",
    "get_namespace_and_device",
    "has_small_matrix_gemm",
    "move_to",
    "neg_log_loss",
    "numpy_namespace",
    "raise_for_params",
    "routing_enabled",
    "rows_of_params",
    "scorer_with_labels",
    "sparse_matmul_into",
    "to_numpy",
]

raise_for_params = _raise_for_params  # a TypeError for metadata without routing
routing_enabled = _routing_enabled  # whether enable_metadata_routing is set


def array_namespace(a):
    """Return the array-API namespace of ``a``, or None for numpy and non-arrays.

    scikit-learn's vendored ``array_api_compat`` (not a dependency of its own): it
    wraps torch, CuPy and others in namespaces that follow the standard. numpy
    arrays, numpy scalars, lists and Python numbers give None (the numpy path).
    """
    if array_api_compat.is_numpy_array(a) or not array_api_compat.is_array_api_obj(a):
        return None
    return array_api_compat.array_namespace(a)


# threadpoolctl >= 3.8 keeps one controller, rebuilt when modules are imported (a new
# BLAS may have come with them); before, one scan (~0.5 ms) made once.
_controller = getattr(threadpoolctl, "get_cached_controller", None) or cache(
    threadpoolctl.ThreadpoolController
)


def blas_pools():
    """Return threadpoolctl's controllers of the BLAS libraries loaded now."""
    return _controller().select(user_api="blas").lib_controllers


# OpenBLAS's kernels with a small-matrix path (x86-64 AVX-512), as it names them
_SMALL_MATRIX_CORES = ("skylakex", "cooperlake", "sapphirerapids")


@cache
def has_small_matrix_gemm():
    """Whether numpy's BLAS multiplies small matrices by kernels of their own.

    OpenBLAS's AVX-512 kernels (the cores of :data:`_SMALL_MATRIX_CORES`) take a
    product of at most ``10**6`` multiply-adds without packing its operands, which
    ran the (rows, d) x (d, K) products of a row block 1.1-5 times faster
    (``benchmarks/results/loss_constants.md``); other cores and other BLAS
    libraries have no such path. Read once per process from the BLAS that numpy
    was built with and the core that threadpoolctl reports for it.
    """
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (KeyError, TypeError):  # a build that does not say
        return False
    pools = [pool for pool in blas_pools() if pool.internal_api == "openblas"]
    cores = [str(getattr(pool, "architecture", "")).lower() for pool in pools]
    return (
        "openblas" in str(blas).lower()
        and bool(cores)
        and all(core in _SMALL_MATRIX_CORES for core in cores)
    )


@contextmanager
def changing_blas_limits():
    """Change BLAS limits in this block as a ``with threadpool_limits()`` block would.

    threadpoolctl >= 3.8 lets one thread at a time set the limit of an OpenBLAS whose
    pool is process-wide (pthreads): the first to set it takes control, other
    threads' calls silently do nothing, and control is released when that thread's
    outermost ``with`` block ends; ``limit()`` called without ``with`` never releases
    it. Inside this block the thread takes control if it is free, and gives it back
    at the end unless one of its own enclosing blocks still holds it (the private
    per-thread count those blocks keep). Before 3.8 any thread sets any limit.
    """
    ownership = getattr(threadpoolctl, "CONTROLLING_THREAD_OWNERSHIP", None)
    if ownership is None:
        yield
        return
    ownership.increment()
    try:
        yield
    finally:
        ownership.decrement()


def effective_n_threads():
    """Return the number of threads scikit-learn's OpenMP code would use now.

    All usable cores, unless OMP_NUM_THREADS or threadpoolctl's "openmp" limit say
    fewer: joblib sets both in its workers, so fits inside GridSearchCV(n_jobs=...)
    do not oversubscribe the machine.
    """
    return _openmp_effective_n_threads()


def to_numpy(a):
    """Return array-API ``a`` as a numpy array on the host: one device-to-host copy.

    sklearn's ``move_to`` (DLPack first, else the library's own route, e.g.
    ``.cpu().numpy()`` for torch), under array API dispatch, which it needs to see
    ``a``'s namespace.
    """
    with config_context(array_api_dispatch=True):
        return move_to(a, xp=np, device="cpu")


def check_sample_weight(sample_weight, X):
    """Return ``sample_weight`` as a finite, non-negative 1-D array of X's dtype.

    sklearn's private checker: it names the wrong length, a negative or non-finite
    weight, and all-zero weights in its errors.
    """
    return _check_sample_weight(
        sample_weight, X, dtype=X.dtype, ensure_non_negative=True
    )


def sparse_matmul_into(X, B, out, *, transpose=False, add=False):
    """Write ``X @ B`` (or ``X.T @ B``) into ``out`` for CSR/CSC ``X``; no allocation.

    With ``add``, add it to what ``out`` holds.

    ``X @ B`` in scipy returns a new array at every call; its kernels (``csr_matvecs``,
    ``csc_matvecs``, which ``X @ B`` itself calls) add into a buffer we own. ``X`` is
    anything with scipy's ``format``, ``shape``, ``indptr``, ``indices`` and ``data``;
    ``indptr`` may be a slice of a larger matrix's (its entries index ``indices``
    and ``data`` absolutely). ``X.T`` of CSR is CSC on the same arrays and vice versa.
    B is (n_cols, k), ``out`` (n_rows, k) C-contiguous, all of X's dtype.
    """
    n_rows, n_cols = X.shape
    fmt = X.format
    if transpose:
        n_rows, n_cols, fmt = n_cols, n_rows, {"csr": "csc", "csc": "csr"}[fmt]
    kernel = {"csr": _sparsetools.csr_matvecs, "csc": _sparsetools.csc_matvecs}[fmt]
    if not add:
        out.fill(0)
    kernel(
        n_rows,
        n_cols,
        B.shape[1],
        X.indptr,
        X.indices,
        X.data,
        np.ascontiguousarray(B).ravel(),
        out.reshape(-1),
    )


def rows_of_params(X, params, rows):
    """Return ``params`` (metadata of X's rows, e.g. sample_weight) at ``rows``.

    sklearn's private helper, which its searches use: it indexes what has one entry
    per row of X and passes anything else through.
    """
    return _check_method_params(X, params=params, indices=rows)


def scorer_with_labels(scorer, classes):
    """Return ``scorer`` with ``labels=classes`` when its metric takes ``labels``.

    A test fold can miss a class, and metrics such as ``log_loss`` infer the labels
    from ``y_true``: they would reject probabilities with a column per class.
    LogisticRegressionCV rebuilds such scorers from their private ``_score_func``,
    ``_sign``, ``_response_method`` and ``_kwargs``; so does this (with
    ``pos_label=classes[-1]`` for two classes, as it does). Other scorers are
    returned as they are.
    """
    score_func = getattr(scorer, "_score_func", None)
    if score_func is None:
        return scorer
    parameters = inspect.signature(score_func).parameters
    if "labels" not in parameters:
        return scorer
    kwargs = dict(getattr(scorer, "_kwargs", {}))
    kwargs.setdefault("labels", classes)
    if len(classes) == 2 and "pos_label" in parameters:
        kwargs.setdefault("pos_label", classes[-1])
    return make_scorer(
        score_func,
        greater_is_better=scorer._sign == 1,
        response_method=scorer._response_method,
        **kwargs,
    )


def neg_log_loss(onehot, proba, sample_weight=None):
    """Return what the ``"neg_log_loss"`` scorer returns, from one-hot labels.

    sklearn's private ``_log_loss`` (the scorer's clipping and weighted mean) without
    the checks and label encoding of ``y_true`` that the scorer repeats on every
    call; a path scores the same test fold many times (on digits a scorer call cost
    10 times ``predict_proba``; figures in ``benchmarks/results/loss_constants.md``).
    """
    return -_log_loss(onehot, proba, sample_weight=sample_weight)
