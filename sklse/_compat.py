"""The one place that touches private APIs of the libraries sklse builds on."""

import numpy as np
from scipy.sparse import _sparsetools
from sklearn.utils.validation import _check_sample_weight

__all__ = ["check_sample_weight", "sparse_matmul_into"]


def check_sample_weight(sample_weight, X):
    """Return ``sample_weight`` as a finite, non-negative 1-D array of X's dtype.

    sklearn's private checker: it names the wrong length, a negative or non-finite
    weight, and all-zero weights in its errors.
    """
    return _check_sample_weight(
        sample_weight, X, dtype=X.dtype, ensure_non_negative=True
    )


def sparse_matmul_into(X, B, out):
    """Write ``X @ B`` into ``out`` for a CSR or CSC ``X`` without allocating.

    ``X @ B`` in scipy returns a new (n_rows, k) array at every call; its kernels
    (``csr_matvecs``, ``csc_matvecs``, which ``X @ B`` itself calls) add into a buffer
    we own, so the loss reuses its logits buffer. B is (n_features, k), ``out``
    (n_rows, k) C-contiguous, all three of X's dtype.
    """
    kernel = {"csr": _sparsetools.csr_matvecs, "csc": _sparsetools.csc_matvecs}[
        X.format
    ]
    out.fill(0)
    n_rows, n_cols = X.shape
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
