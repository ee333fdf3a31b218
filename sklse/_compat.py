"""The one place that touches private APIs of the libraries sklse builds on."""

import numpy as np
from scipy.sparse import _sparsetools
from sklearn import config_context
from sklearn.externals import array_api_compat

# scikit-learn's array API helpers: private in 1.9, with no public equivalent.
from sklearn.utils._array_api import (
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.validation import _check_sample_weight

# numpy through the array API (array_api_compat's wrapper: np.astype before numpy 2.1)
numpy_namespace = array_api_compat.numpy

__all__ = [
    "array_namespace",
    "check_same_namespace",
    "check_sample_weight",
    "effective_n_threads",
    "get_namespace",
    "get_namespace_and_device",
    "move_to",
    "numpy_namespace",
    "sparse_matmul_into",
    "to_numpy",
]


def array_namespace(a):
    """Return the array-API namespace of ``a``, or None for numpy and non-arrays.

    scikit-learn's vendored ``array_api_compat`` (not a dependency of its own): it
    wraps torch, CuPy and others in namespaces that follow the standard. numpy
    arrays, numpy scalars, lists and Python numbers give None (the numpy path).
    """
    if array_api_compat.is_numpy_array(a) or not array_api_compat.is_array_api_obj(a):
        return None
    return array_api_compat.array_namespace(a)


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
