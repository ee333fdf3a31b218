"""Penalised multinomial cross-entropy of a linear model, summed over row blocks.

The objective, written once (the solvers and the estimator refer here)::

    F(W, b) = C * sum_i s_i * (logsumexp(z_i) - z_{i, y_i}) + 1/2 * ||W||_F^2
    z_i = W @ x_i + b                       (C = inf: the data term alone)

``W`` is (n_classes, n_features), ``b`` (n_classes,) and never penalised, ``s_i`` the
sample weights (1 when absent), ``S = sum_i s_i``. This is LogisticRegression's
multinomial objective. scipy is handed the same minimiser at a scale where the gradient
is of order one, so that ``tol`` means what it means for LogisticRegression's lbfgs::

    f = F / (C * S) = 1/S * sum_i s_i * CE_i + alpha / 2 * ||W||_F^2
    alpha = 1 / (C * S)                     (C = inf: f = F / S, alpha = 0)
    grad_W = 1/S * (P - Y)^T diag(s) X + alpha * W,     grad_b = 1/S * (P - Y)^T s
    hessp(V, v):  Z_V = X V^T + v,   R = P * (Z_V - rowsum(P * Z_V))
                  H[V] = 1/S * R^T diag(s) X + alpha * V,   H[v] = 1/S * R^T s

with ``P = softmax(Z)``, ``Y = onehot(y)``. The data terms are sums over rows, computed
block by block by :func:`block_loss_gradient` and :func:`block_hessp`, so that the same
code serves chunked or distributed data. Conventions: ``params`` is the float64 vector
``concatenate([W.ravel(), b])`` (each class row contiguous; no ``b`` without intercept);
only :func:`_unpack` knows that layout.
"""

import numpy as np
import scipy.sparse as sp

from sklse._compat import sparse_matmul_into
from sklse._numerics import _shifted_exp

# Bytes of one row block's (rows, n_classes + n_features) working set: big enough for
# efficient GEMM calls, small enough that the logits stay in cache between passes.
_BLOCK_BYTES = 1024 * 1024


def _unpack(params, n_classes, fit_intercept):
    """Return views ``coef`` (n_classes, n_features) and ``intercept`` (n_classes,).

    ``intercept`` is None without intercept.
    """
    if fit_intercept:
        return params[:-n_classes].reshape(n_classes, -1), params[-n_classes:]
    return params.reshape(n_classes, -1), None


def _pack(coef, intercept):
    """Return the float64 ``params`` vector of ``coef`` and ``intercept`` (or None)."""
    parts = [np.ravel(coef)] + ([] if intercept is None else [np.ravel(intercept)])
    return np.concatenate(parts).astype(np.float64, copy=False)


def _matmul_into(X, B, out):
    """Write ``X @ B`` into the C-contiguous ``out``; X dense or sparse, B (n, k)."""
    if sp.issparse(X):
        sparse_matmul_into(X, B, out)
    else:
        np.matmul(X, B, out=out)


def _transpose_matmul(R, X):
    """Return ``R^T @ X`` of shape (n_classes, n_features) for dense or sparse X."""
    if sp.issparse(X):
        return np.asarray((X.T @ R).T)
    return R.T @ X


def _linear(X, coef, intercept, out):
    """Write ``X @ coef.T + intercept`` into ``out`` in ``out``'s dtype."""
    _matmul_into(X, np.ascontiguousarray(coef.T, dtype=out.dtype), out)
    if intercept is not None:
        out += intercept.astype(out.dtype, copy=False)


def block_loss_gradient(X, y, sample_weight, logits, proba, coef, intercept):
    """Data term of one block of rows and its gradient, not normalised.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,), intp labels in ``0..n_classes-1``
    sample_weight : ndarray of shape (n_rows,) or None
    logits, proba : ndarray of shape (n_rows, n_classes), X's dtype, C-contiguous
        Buffers, overwritten: ``proba`` receives ``softmax(z)``, ``logits`` the
        weighted residual ``diag(s) (P - Y)``.
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None

    Returns
    -------
    loss : float
        ``loss = sum_i s_i * (logsumexp(z_i) - z_{i, y_i})``, accumulated in float64.
    grad_coef : ndarray of shape (n_classes, n_features), float64
        ``grad_coef = (P - Y)^T diag(s) X``.
    grad_intercept : ndarray of shape (n_classes,), float64
        ``grad_intercept = (P - Y)^T s``.
    """
    _linear(X, coef, intercept, logits)
    # logits becomes t = z - max in place, proba receives exp(t): one exp per entry.
    _, log_sum = _shifted_exp(logits, logits, proba)
    rows = np.arange(len(y))
    # Per-row loss logsumexp(z_i) - z_{i, y_i} = log_sum_i - t_{i, y_i}: two terms >= 0,
    # no cancellation, never -log(proba) (which is inf once proba underflows).
    row_loss = log_sum[:, 0] - logits[rows, y]
    proba *= np.exp(-log_sum)
    np.copyto(logits, proba)  # the logits are spent: the buffer takes the residual
    residual = logits
    residual[rows, y] -= 1
    if sample_weight is None:
        loss = np.sum(row_loss, dtype=np.float64)
    else:
        loss = np.dot(sample_weight.astype(np.float64), row_loss)
        residual *= sample_weight[:, np.newaxis]
    grad_coef = _transpose_matmul(residual, X).astype(np.float64, copy=False)
    grad_intercept = residual.sum(axis=0, dtype=np.float64)
    return float(loss), grad_coef, grad_intercept


def block_hessp(X, sample_weight, proba, coef_dir, intercept_dir, work):
    """Hessian of one block's data term applied to a direction, not normalised.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_rows, n_features)
    sample_weight : ndarray of shape (n_rows,) or None
    proba : ndarray of shape (n_rows, n_classes)
        ``softmax(z)`` at the point where the Hessian is taken.
    coef_dir : ndarray of shape (n_classes, n_features)
    intercept_dir : ndarray of shape (n_classes,) or None
    work : ndarray of shape (n_rows, n_classes), X's dtype, C-contiguous
        Buffer, overwritten.

    Returns
    -------
    hess_coef : ndarray of shape (n_classes, n_features), float64
        ``hess_coef = R^T diag(s) X`` with ``R = P * (Z_V - rowsum(P * Z_V))``,
        ``Z_V = X V^T + v``.
    hess_intercept : ndarray of shape (n_classes,), float64
        ``hess_intercept = R^T s``.
    """
    _linear(X, coef_dir, intercept_dir, work)
    work -= np.einsum("ik,ik->i", proba, work)[:, np.newaxis]
    work *= proba
    if sample_weight is not None:
        work *= sample_weight[:, np.newaxis]
    hess_coef = _transpose_matmul(work, X).astype(np.float64, copy=False)
    return hess_coef, work.sum(axis=0, dtype=np.float64)


class SoftmaxLoss:
    """The scaled objective ``f`` of the module docstring on fixed in-memory data.

    Holds two (n_samples, n_classes) buffers of X's dtype, reused by every call:
    ``logits`` (scratch) and ``proba``, the probabilities at the last point where
    :meth:`loss_gradient` ran, which :meth:`hessp` reuses there instead of recomputing.
    X is never copied: dense X (C or F order) is cut into row blocks that are views;
    sparse X (CSR or CSC) is one block.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,), intp labels in ``0..n_classes-1``
    n_classes : int
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative with a positive sum (checked by the caller).
    C : float, default=1.0
        Inverse penalty strength; ``np.inf`` for no penalty.
    fit_intercept : bool, default=True
    block_rows : int or None, default=None
        Rows per block for dense X; None picks it from a 1 MiB budget.
    """

    def __init__(
        self,
        X,
        y,
        n_classes,
        sample_weight=None,
        *,
        C=1.0,
        fit_intercept=True,
        block_rows=None,
    ):
        n_samples, n_features = X.shape
        self.sample_weight = sample_weight
        if sample_weight is not None:
            self.sample_weight = np.asarray(sample_weight, dtype=X.dtype)
        self.n_classes, self.fit_intercept = n_classes, fit_intercept
        self.sw_sum = float(
            n_samples
            if sample_weight is None
            else np.sum(sample_weight, dtype=np.float64)
        )
        # f = F / scale; alpha is the penalty strength f sees.
        self.scale = self.sw_sum * (1.0 if np.isinf(C) else C)
        self.alpha = 0.0 if np.isinf(C) else 1.0 / self.scale
        self.n_dof = n_classes * (n_features + int(fit_intercept))
        self._logits = np.empty((n_samples, n_classes), dtype=X.dtype)
        self._proba = np.empty((n_samples, n_classes), dtype=X.dtype)
        self._proba_params = None
        if sp.issparse(X):
            # Slicing rows of a sparse matrix copies them: sparse X is one block.
            self.blocks = [(X, y, self.sample_weight, self._logits, self._proba)]
            return
        if block_rows is None:
            bytes_per_row = (n_classes + n_features) * X.dtype.itemsize
            block_rows = max(64, _BLOCK_BYTES // bytes_per_row)
        sw = self.sample_weight
        # (X, y, sample_weight, logits, proba) of each block: views, made once.
        self.blocks = [
            (
                X[rows],
                y[rows],
                None if sw is None else sw[rows],
                self._logits[rows],
                self._proba[rows],
            )
            for rows in map(
                slice,
                range(0, n_samples, block_rows),
                range(block_rows, n_samples + block_rows, block_rows),
            )
        ]

    def loss_gradient(self, params):
        """Return ``f(params)`` as a float and its float64 (n_dof,) gradient."""
        params = np.asarray(params, dtype=np.float64)
        coef, intercept = _unpack(params, self.n_classes, self.fit_intercept)
        loss, grad = 0.0, np.zeros_like(params)
        grad_coef, grad_intercept = _unpack(grad, self.n_classes, self.fit_intercept)
        for block in self.blocks:
            block_loss, block_grad_coef, block_grad_intercept = block_loss_gradient(
                *block, coef, intercept
            )
            loss += block_loss
            grad_coef += block_grad_coef
            if intercept is not None:
                grad_intercept += block_grad_intercept
        self._proba_params = params.copy()
        grad /= self.sw_sum
        if self.alpha == 0:  # C = inf: no penalty (and no 0 * inf for huge coef)
            return loss / self.sw_sum, grad
        grad_coef += self.alpha * coef
        penalty = 0.5 * self.alpha * float(np.dot(coef.ravel(), coef.ravel()))
        return loss / self.sw_sum + penalty, grad

    def hessp(self, params, direction):
        """Return the Hessian of ``f`` at ``params`` applied to ``direction``.

        Reuses the probabilities of the last :meth:`loss_gradient` call when it was
        made at the same ``params``, and recomputes them otherwise.
        """
        if self._proba_params is None or not np.array_equal(params, self._proba_params):
            self.loss_gradient(params)
        coef_dir, intercept_dir = _unpack(direction, self.n_classes, self.fit_intercept)
        result = np.zeros_like(direction, dtype=np.float64)
        hess_coef, hess_intercept = _unpack(result, self.n_classes, self.fit_intercept)
        for X, _, sample_weight, logits, proba in self.blocks:
            block_coef, block_intercept = block_hessp(
                X, sample_weight, proba, coef_dir, intercept_dir, logits
            )
            hess_coef += block_coef
            if intercept_dir is not None:
                hess_intercept += block_intercept
        result /= self.sw_sum
        hess_coef += self.alpha * coef_dir
        return result

    def objective(self, params):
        """Return the unscaled objective ``F(params)`` of the module docstring."""
        return self.scale * self.loss_gradient(params)[0]
