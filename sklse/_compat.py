"""The one place that touches private APIs of the libraries sklse builds on."""

from contextlib import contextmanager
from functools import cache

import numpy as np
import threadpoolctl
from scipy.sparse import _sparsetools
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "blas_pools",
    "changing_blas_limits",
    "check_sample_weight",
    "effective_n_threads",
    "sparse_matmul_into",
]

# threadpoolctl >= 3.8 keeps one controller, rebuilt when modules are imported (a new
# BLAS may have come with them); before, one scan (~0.5 ms) made once.
_controller = getattr(threadpoolctl, "get_cached_controller", None) or cache(
    threadpoolctl.ThreadpoolController
)


def blas_pools():
    """Return threadpoolctl's controllers of the BLAS libraries loaded now."""
    return _controller().select(user_api="blas").lib_controllers


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


def check_sample_weight(sample_weight, X):
    """Return ``sample_weight`` as a finite, non-negative 1-D array of X's dtype.

    sklearn's private checker: it names the wrong length, a negative or non-finite
    weight, and all-zero weights in its errors.
    """
    return _check_sample_weight(
        sample_weight, X, dtype=X.dtype, ensure_non_negative=True
    )


def sparse_matmul_into(X, B, out, *, transpose=False):
    """Write ``X @ B`` (or ``X.T @ B``) into ``out`` for CSR/CSC ``X``; no allocation.

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
