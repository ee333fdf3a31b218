"""Tests of sklse._loss against independent float64 references.

The oracles are written here from the module docstring's formulas, with
``scipy.special.logsumexp`` / ``softmax`` on dense float64 copies of the data, and
checked in turn by finite differences; sklearn's private ``LinearModelLoss`` is a
second oracle.
"""

import os
import signal
import threading
import tracemalloc
import warnings

import mpmath
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import approx_fprime
from scipy.special import logsumexp, softmax

import sklse._loss
from sklse._array_api import ArrayAPISoftmaxLoss
from sklse._loss import (
    CSRRows,
    SoftmaxLoss,
    _float64_times,
    _stack,
    _stored_entries,
    block_hessp,
    block_loss_gradient,
    default_block_rows,
    make_block,
    useful_threads,
)
from sklse._objective import _pack, _unpack
from sklse._solvers import minimize

LAYOUTS = ["C", "F", "csr_matrix", "csc_matrix", "csr_array", "csc_array"]
DENSE_LAYOUTS = ["C", "F"]
DTYPES = [np.float64, np.float32]
CS = [0.3, 10.0, np.inf]
# Relative tolerance of a float32 / float64 result against the float64 reference on
# well-scaled data (logits of order one), and the matching absolute floor for
# gradient entries that are nearly zero.
RTOL = {np.float64: 1e-10, np.float32: 1e-5}
ATOL = {np.float64: 1e-12, np.float32: 1e-6}


# --------------------------------------------------------------------------------------
# Data and parameters
# --------------------------------------------------------------------------------------
def as_layout(X, layout):
    """Return the 2-D ndarray X in the given memory layout or sparse format."""
    if layout == "C":
        return np.ascontiguousarray(X)
    if layout == "F":
        return np.asfortranarray(X)
    return getattr(sp, layout)(X)


def dense64(X):
    """Return a dense float64 copy of X (exact for float32 X)."""
    return (X.toarray() if sp.issparse(X) else np.array(X)).astype(np.float64)


def make_data(
    rng,
    layout="C",
    dtype=np.float64,
    weighted=False,
    n_samples=120,
    n_features=5,
    n_classes=3,
):
    """Return X in the layout, intp labels y and positive sample_weight (or None)."""
    X = rng.standard_normal((n_samples, n_features))
    if layout not in DENSE_LAYOUTS:
        X[rng.random(X.shape) < 0.4] = 0.0  # genuinely sparse
    X = as_layout(X.astype(dtype), layout)
    y = rng.integers(n_classes, size=n_samples).astype(np.intp)
    sample_weight = rng.uniform(0.2, 2.0, size=n_samples) if weighted else None
    return X, y, sample_weight


def flat(coef, intercept):
    """The documented params layout, written independently of ``_pack``."""
    return np.concatenate([coef.ravel()] + ([] if intercept is None else [intercept]))


def split(params, n_classes, n_features, fit_intercept):
    """Inverse of :func:`flat`, written independently of ``_unpack``."""
    coef = params[: n_classes * n_features].reshape(n_classes, n_features)
    return coef, (params[n_classes * n_features :] if fit_intercept else None)


def random_params(rng, n_classes, n_features, fit_intercept, scale=0.5):
    """Return a random float64 params vector of logits of order one."""
    n_dof = n_classes * (n_features + int(fit_intercept))
    return scale * rng.standard_normal(n_dof)


# --------------------------------------------------------------------------------------
# The float64 reference
# --------------------------------------------------------------------------------------
class Reference:
    """Naive float64 objective, gradient and Hessian of the module docstring."""

    def __init__(self, X, y, sample_weight, n_classes, C, fit_intercept):
        self.X = dense64(X)
        self.y = y
        self.n_samples, self.n_features = self.X.shape
        self.s = (
            np.ones(self.n_samples)
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64)
        )
        self.S = self.s.sum()
        self.n_classes, self.C, self.fit_intercept = n_classes, C, fit_intercept
        self.alpha = 0.0 if np.isinf(C) else 1.0 / (C * self.S)
        self.scale = self.S if np.isinf(C) else C * self.S
        self.Y = np.eye(n_classes)[y]

    def _split(self, params):
        return split(params, self.n_classes, self.n_features, self.fit_intercept)

    def logits(self, params):
        coef, intercept = self._split(params)
        Z = self.X @ coef.T
        return Z if intercept is None else Z + intercept

    def objective(self, params):
        """``F = C * sum_i s_i (logsumexp(z_i) - z_{i,y_i}) + 1/2 ||W||^2``."""
        Z = self.logits(params)
        data = self.s @ (logsumexp(Z, axis=1) - Z[np.arange(self.n_samples), self.y])
        if np.isinf(self.C):
            return data
        coef, _ = self._split(params)
        return self.C * data + 0.5 * np.sum(coef**2)

    def f(self, params):
        return self.objective(params) / self.scale

    def grad(self, params):
        """``grad_W = 1/S (P-Y)^T diag(s) X + alpha W``, ``grad_b = 1/S (P-Y)^T s``."""
        coef, intercept = self._split(params)
        R = (softmax(self.logits(params), axis=1) - self.Y) * self.s[:, None]
        grad_coef = R.T @ self.X / self.S + self.alpha * coef
        grad_intercept = None if intercept is None else R.sum(axis=0) / self.S
        return flat(grad_coef, grad_intercept)

    def hessp(self, params, direction):
        """``H[V] = 1/S R^T diag(s) X + alpha V``, ``R = P * (Z_V - rowsum(P Z_V))``."""
        P = softmax(self.logits(params), axis=1)
        coef_dir, intercept_dir = self._split(direction)
        ZV = self.X @ coef_dir.T
        if intercept_dir is not None:
            ZV = ZV + intercept_dir
        R = P * (ZV - np.sum(P * ZV, axis=1, keepdims=True)) * self.s[:, None]
        hess_coef = R.T @ self.X / self.S + self.alpha * coef_dir
        hess_intercept = None if intercept_dir is None else R.sum(axis=0) / self.S
        return flat(hess_coef, hess_intercept)

    def hessian(self, params):
        """Full (n_dof, n_dof) Hessian from the per-sample ``diag(p) - p p^T``."""
        P = softmax(self.logits(params), axis=1)
        K, d = self.n_classes, self.n_features
        Xt = self.X
        if self.fit_intercept:
            Xt = np.hstack([Xt, np.ones((self.n_samples, 1))])
        h = np.einsum("ik,kl->ikl", P, np.eye(K)) - np.einsum("ik,il->ikl", P, P)
        H4 = np.einsum("i,ikl,ij,im->kjlm", self.s / self.S, h, Xt, Xt)
        # position in params of (class k, column j of [X, 1])
        index = np.empty((K, Xt.shape[1]), dtype=np.intp)
        index[:, :d] = np.arange(K * d).reshape(K, d)
        if self.fit_intercept:
            index[:, d] = K * d + np.arange(K)
        H = np.empty((K * Xt.shape[1],) * 2)
        H[np.ix_(index.ravel(), index.ravel())] = H4.reshape(H.shape)
        H[: K * d, : K * d] += self.alpha * np.eye(K * d)
        return H


def five_point_gradient(func, params, h=1e-3):
    """Five-point-stencil gradient of a scalar function, truncation error O(h^4)."""
    grad = np.empty_like(params)
    for j in range(params.size):
        e = np.zeros_like(params)
        e[j] = h
        grad[j] = (
            -func(params + 2 * e)
            + 8 * func(params + e)
            - 8 * func(params - e)
            + func(params - 2 * e)
        ) / (12 * h)
    return grad


def slope_along(grad, params, direction, h=1e-4):
    """Least-squares slope of ``grad(params + t * direction)`` over symmetric t."""
    ts = h * np.array([-2.0, -1.0, 1.0, 2.0])
    G = np.array([grad(params + t * direction) for t in ts])
    return ts @ G / (ts @ ts)


def assert_close(actual, expected, dtype, factor=1.0):
    """Compare with the dtype's tolerance, the absolute floor scaled to the values."""
    expected = np.asarray(expected)
    atol = factor * ATOL[dtype] * max(1.0, np.max(np.abs(expected), initial=0.0))
    assert_allclose(actual, expected, rtol=factor * RTOL[dtype], atol=atol)


def build(
    rng,
    layout="C",
    dtype=np.float64,
    weighted=False,
    C=1.0,
    fit_intercept=True,
    n_classes=3,
    **kwargs,
):
    """Return (loss, reference, X, y, sample_weight) on one random problem."""
    X, y, sample_weight = make_data(
        rng, layout, dtype, weighted, n_classes=n_classes, **kwargs
    )
    loss = SoftmaxLoss(X, y, n_classes, sample_weight, C=C, fit_intercept=fit_intercept)
    ref = Reference(X, y, sample_weight, n_classes, C, fit_intercept)
    return loss, ref, X, y, sample_weight


full_grid = pytest.mark.parametrize(
    "layout, dtype, fit_intercept, weighted, C, n_classes",
    [
        (layout, dtype, fit_intercept, weighted, C, n_classes)
        for layout in LAYOUTS
        for dtype in DTYPES
        for fit_intercept in (True, False)
        for weighted in (False, True)
        for C in CS
        for n_classes in (3, 2)  # two classes take the margin's path
    ],
)


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_small_products_match_reference(
    rng, monkeypatch, layout, dtype, n_classes, fit_intercept
):
    # Where the BLAS has small-matrix kernels, a block's products run in slices of
    # rows: here products of at most 2000 (K = 3, d = 5) or 4000 (K = 4, d = 10)
    # multiply-adds, slices of 133 or 100 rows of blocks of 300 and 110 rows, the
    # last slice short. Loss, gradient and Hessian product are the reference's.
    slice_rows = sklse._loss._slice_rows
    monkeypatch.setattr(sklse._loss, "has_small_matrix_gemm", lambda: True)
    monkeypatch.setattr(sklse._loss, "_SMALL_PRODUCT", 2000 * (n_classes - 2))
    monkeypatch.setattr(
        sklse._loss, "_slice_rows", lambda X, k, least: slice_rows(X, k, 1)
    )
    n_features = 5 * (n_classes - 2)
    X, y, weight = make_data(rng, layout, dtype, True, 410, n_features, n_classes)
    loss = SoftmaxLoss(
        X, y, n_classes, weight, fit_intercept=fit_intercept, block_rows=300
    )
    assert [len(block.target) for block in loss.blocks] == [300, 110]
    assert all(block.row_major for block in loss.blocks)
    ref = Reference(X, y, weight, n_classes, 1.0, fit_intercept)
    params = random_params(rng, n_classes, n_features, fit_intercept)
    direction = random_params(rng, n_classes, n_features, fit_intercept)
    f, grad = loss.loss_gradient(params)
    assert_close(f, ref.f(params), dtype)
    assert_close(grad, ref.grad(params), dtype)
    assert_close(loss.hessp(params, direction), ref.hessp(params, direction), dtype)


@pytest.mark.parametrize(
    "view",
    [
        lambda A: A,
        np.asfortranarray,
        lambda A: A[::2],
        lambda A: A[::-1],
        lambda A: A[:, ::-2],
    ],
)
def test_slices_are_stacked_without_a_copy(view):
    # The slices of a product in one call are views of X's rows (or of a buffer's
    # transpose), whatever the strides: never a copy of X; the output's stack is a
    # view of the buffer, which the product then fills.
    X = view(np.arange(1200.0).reshape(200, 6))
    stacked, done = _stack(X, 30)
    assert stacked.shape == (len(X) // 30, 30, X.shape[1])
    assert done == 30 * (len(X) // 30)
    assert np.shares_memory(stacked, X)
    assert_array_equal(stacked.reshape(done, -1), X[:done])
    out = np.zeros((len(X), 4))
    assert np.shares_memory(_stack(out, 30)[0], out)


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_samples", [400, 409])  # 10 whole slices, and a short one
def test_stacked_slices_have_the_bits_of_a_loop(
    rng, monkeypatch, layout, dtype, n_samples
):
    # One call over the stacked slices runs the GEMMs of a loop over them and sums
    # R @ X's parts in float64 in slice order: the loop's bits, with enough slices
    # (10) that a pairwise or reordered sum, or one in float32, would differ.
    monkeypatch.setattr(sklse._loss, "has_small_matrix_gemm", lambda: True)
    monkeypatch.setattr(sklse._loss, "_SMALL_PRODUCT", 40 * 3 * 7)
    slice_rows = sklse._loss._slice_rows
    monkeypatch.setattr(
        sklse._loss, "_slice_rows", lambda X, k, least: slice_rows(X, k, 1)
    )
    X = as_layout((rng.standard_normal((n_samples, 7)) * 1e3).astype(dtype), layout)
    coef_t = rng.standard_normal((7, 3)).astype(dtype)
    R = rng.standard_normal((3, n_samples)).astype(dtype) * np.logspace(-4, 4, 3)[
        :, None
    ].astype(dtype)
    slices = [slice(start, start + 40) for start in range(0, n_samples, 40)]
    out, expected = np.empty((n_samples, 3), dtype), np.empty((n_samples, 3), dtype)
    sklse._loss._rows_times(X, coef_t, out)
    for rows in slices:
        np.matmul(X[rows], coef_t, out=expected[rows])
    assert_array_equal(out, expected)
    total = np.zeros((3, 7))
    for rows in slices:
        total += R[:, rows] @ X[rows]
    got = sklse._loss._times_X(make_block(X, np.zeros(n_samples, np.intp), None, 3), R)
    assert got.dtype == np.float64
    assert_array_equal(got.view(np.int64), total.view(np.int64))


# --------------------------------------------------------------------------------------
# _pack / _unpack
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("order", ["C", "F"])
def test_pack_layout_and_round_trip(rng, fit_intercept, order):
    coef = np.asarray(rng.standard_normal((4, 3)), order=order)
    intercept = rng.standard_normal(4) if fit_intercept else None
    params = _pack(coef, intercept)
    assert params.dtype == np.float64
    assert params.shape == (12 + 4 * fit_intercept,)
    # each class row contiguous, then the intercept
    assert_array_equal(params, flat(coef, intercept))
    assert_array_equal(params[:3], coef[0])
    coef_back, intercept_back = _unpack(params, 4, fit_intercept)
    assert_array_equal(coef_back, coef)
    if fit_intercept:
        assert_array_equal(intercept_back, intercept)
    else:
        assert intercept_back is None
    assert_array_equal(_pack(coef_back, intercept_back), params)


def test_pack_casts_to_float64(rng):
    coef = rng.standard_normal((3, 2)).astype(np.float32)
    intercept = rng.standard_normal(3).astype(np.float32)
    params = _pack(coef, intercept)
    assert params.dtype == np.float64
    assert_array_equal(params, flat(coef, intercept).astype(np.float64))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_unpack_returns_views(rng, fit_intercept):
    params = rng.standard_normal(3 * (5 + fit_intercept))
    coef, intercept = _unpack(params, 3, fit_intercept)
    assert coef.shape == (3, 5)
    assert np.shares_memory(coef, params)
    if fit_intercept:
        assert intercept.shape == (3,)
        assert np.shares_memory(intercept, params)
        intercept[1] = 123.0
        assert params[-2] == 123.0
    coef[2, 4] = -7.0
    assert params[3 * 5 - 1] == -7.0


# --------------------------------------------------------------------------------------
# Attributes, objective, gradient, hessp against the reference
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("C", CS)
def test_attributes(rng, fit_intercept, weighted, C):
    X, y, sample_weight = make_data(rng, weighted=weighted, n_features=5, n_classes=4)
    loss = SoftmaxLoss(X, y, 4, sample_weight, C=C, fit_intercept=fit_intercept)
    S = 120.0 if sample_weight is None else np.sum(sample_weight)
    assert loss.n_dof == 4 * (5 + fit_intercept)
    assert loss.sw_sum == pytest.approx(S, rel=1e-14)
    if np.isinf(C):
        assert loss.alpha == 0.0
        assert loss.scale == pytest.approx(S, rel=1e-14)
    else:
        assert loss.alpha == pytest.approx(1.0 / (C * S), rel=1e-14)
        assert loss.scale == pytest.approx(C * S, rel=1e-14)


@full_grid
def test_objective_matches_reference(
    rng, layout, dtype, fit_intercept, weighted, C, n_classes
):
    loss, ref, X, _, _ = build(
        rng, layout, dtype, weighted, C, fit_intercept, n_classes
    )
    params = random_params(rng, n_classes, 5, fit_intercept)
    F = loss.objective(params)
    f, grad = loss.loss_gradient(params)
    assert isinstance(f, float)
    assert isinstance(F, float)
    assert grad.dtype == np.float64
    assert grad.shape == (loss.n_dof,)
    # the buffers lent to the blocks are in X's dtype
    for block in loss._map_blocks(lambda block: block):
        assert block.proba.dtype == block.logits.dtype == dtype
    assert_close(F, ref.objective(params), dtype)
    assert_close(f, ref.f(params), dtype)
    assert_close(F, loss.scale * f, np.float64)


@full_grid
def test_zero_coef_the_intercepts_logits(
    rng, layout, dtype, fit_intercept, weighted, C, n_classes
):
    # A fit starts at coef = 0, where the logits are the intercepts without a product.
    loss, ref, _, _, _ = build(
        rng, layout, dtype, weighted, C, fit_intercept, n_classes
    )
    params, direction = (
        random_params(rng, n_classes, 5, fit_intercept, scale=2.0) for _ in range(2)
    )
    params[: n_classes * 5] = 0.0
    f, grad = loss.loss_gradient(params)
    assert_close(f, ref.f(params), dtype)
    assert_close(grad, ref.grad(params), dtype)
    assert_close(loss.hessp(params, direction), ref.hessp(params, direction), dtype)
    direction[: n_classes * 5] = 0.0  # and a direction without coef
    assert_close(loss.hessp(params, direction), ref.hessp(params, direction), dtype)


@full_grid
def test_gradient_matches_reference(
    rng, layout, dtype, fit_intercept, weighted, C, n_classes
):
    loss, ref, _, _, _ = build(
        rng, layout, dtype, weighted, C, fit_intercept, n_classes
    )
    params = random_params(rng, n_classes, 5, fit_intercept)
    _, grad = loss.loss_gradient(params)
    assert_close(grad, ref.grad(params), dtype)


@full_grid
def test_gradient_finite_differences(
    rng, layout, dtype, fit_intercept, weighted, C, n_classes
):
    loss, ref, _, _, _ = build(
        rng, layout, dtype, weighted, C, fit_intercept, n_classes
    )
    params = random_params(rng, n_classes, 5, fit_intercept)
    numeric = five_point_gradient(ref.f, params)
    # the reference gradient is the derivative of the reference objective ...
    assert_allclose(ref.grad(params), numeric, rtol=1e-8, atol=1e-9)
    # ... and so is ours
    _, grad = loss.loss_gradient(params)
    assert_allclose(grad, numeric, rtol=max(1e-8, RTOL[dtype]), atol=2 * ATOL[dtype])


@full_grid
def test_hessp_matches_reference(
    rng, layout, dtype, fit_intercept, weighted, C, n_classes
):
    loss, ref, _, _, _ = build(
        rng, layout, dtype, weighted, C, fit_intercept, n_classes
    )
    params = random_params(rng, n_classes, 5, fit_intercept)
    direction = rng.standard_normal(loss.n_dof)
    hess_dir = loss.hessp(params, direction)
    assert hess_dir.dtype == np.float64
    assert hess_dir.shape == (loss.n_dof,)
    expected = ref.hessp(params, direction)
    assert_close(hess_dir, expected, dtype)
    # the reference hessp is the derivative of the reference gradient
    slope = slope_along(ref.grad, params, direction)
    assert_allclose(expected, slope, rtol=1e-6, atol=1e-8)
    if dtype == np.float64:
        # and our hessp the derivative of our gradient
        own_slope = slope_along(lambda p: loss.loss_gradient(p)[1], params, direction)
        assert_allclose(hess_dir, own_slope, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("layout", ["C", "csr_matrix"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_full_hessian_tiny(rng, layout, fit_intercept, weighted, C):
    loss, ref, _, _, _ = build(
        rng, layout, np.float64, weighted, C, fit_intercept, n_samples=20, n_features=3
    )
    params = random_params(rng, 3, 3, fit_intercept)
    H_formula = ref.hessian(params)
    H_numeric = approx_fprime(params, ref.grad, 1e-7)
    assert_allclose(H_formula, H_numeric, rtol=1e-5, atol=1e-6)
    assert_allclose(H_formula, H_formula.T, rtol=1e-13, atol=1e-15)
    H_ours = np.column_stack([loss.hessp(params, e) for e in np.eye(loss.n_dof)])
    assert_allclose(H_ours, H_formula, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("layout", ["C", "F", "csr_matrix", "csc_array"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("C", [0.3, np.inf])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_dense_hessian(rng, layout, dtype, fit_intercept, weighted, C, n_classes):
    loss, ref, X, y, sample_weight = build(
        rng, layout, dtype, weighted, C, fit_intercept, n_classes, n_samples=60
    )
    if weighted:
        sample_weight[:5] = 0.0  # a zero weight must not give 0/0
    # small blocks: the Hessian is a sum over them
    loss = SoftmaxLoss(
        X, y, n_classes, sample_weight, C=C, fit_intercept=fit_intercept, block_rows=16
    )
    ref = Reference(X, y, sample_weight, n_classes, C, fit_intercept)
    params = random_params(rng, n_classes, 5, fit_intercept)
    H = loss.hessian(params)
    assert H.dtype == np.float64
    assert H.shape == (loss.n_dof, loss.n_dof)
    assert_array_equal(H, H.T)
    assert_close(H, ref.hessian(params), dtype)
    if dtype == np.float64:  # the derivative of our own gradient
        numeric = approx_fprime(params, lambda p: loss.loss_gradient(p)[1], 1e-7)
        assert_allclose(H, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block_rows", [64, None])  # None: 2 chunks of one block
@pytest.mark.parametrize("offset", [1e4, 0.5])
def test_feature_moments(rng, dtype, fit_intercept, weighted, block_rows, offset):
    # Features far from zero (offset 1e4, spread 1e-2), where E[x^2] - mean^2, the
    # one pass, cancels (by 2e-4 relative) and a centred pass follows; and near
    # zero (offset 0.5, spread 1), where the one pass keeps its digits.
    spread = 1e-2 if offset > 1 else 1.0
    X = (offset + spread * rng.standard_normal((300, 4))) * [1.0, -1.0, 1e-3, 1.0]
    X = X.astype(dtype)
    # in X's dtype, as the loss keeps them
    sample_weight = rng.uniform(0, 2, 300).astype(dtype) if weighted else None
    y = rng.integers(0, 3, 300)
    loss = SoftmaxLoss(
        X, y, 3, sample_weight, fit_intercept=fit_intercept, block_rows=block_rows
    )
    mean, variance = loss.feature_moments()
    X64 = X.astype(np.float64)
    expected = np.average(X64, axis=0, weights=sample_weight)
    if not fit_intercept:  # the model cannot centre: the second moment
        expected = np.zeros(4)
    squares = np.average((X64 - expected) ** 2, axis=0, weights=sample_weight)
    assert_allclose(mean, expected, rtol=1e-14)
    assert_allclose(variance, squares, rtol=1e-9)
    assert loss.feature_moments() is loss.feature_moments()  # once


def stored_twice(X, layout, rng, dtype=np.float64):
    """X with a fifth of its entries stored as two halves: non-canonical CSR/CSC."""
    coo = X.tocoo()
    twice = rng.random(coo.nnz) < 0.2
    row, col = np.r_[coo.row, coo.row[twice]], np.r_[coo.col, coo.col[twice]]
    data = np.r_[np.where(twice, coo.data / 2, coo.data), coo.data[twice] / 2]
    major, minor, axis = (row, col, 0) if layout == "csr" else (col, row, 1)
    order = np.argsort(major, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(major, minlength=X.shape[axis]))]
    matrix = sp.csr_matrix if layout == "csr" else sp.csc_matrix
    return matrix((data[order].astype(dtype), minor[order], indptr), shape=X.shape)


@pytest.mark.parametrize("layout", ["csr", "csc"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block_rows", [None, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_feature_moments(
    rng, layout, weighted, block_rows, dtype, fit_intercept
):
    # Stored entries only, zeros through the sum of weights; a stored column at
    # 1e3 +- 5 cancels by eps * mean^2 / variance ~ 1e-11 relative. Entries stored
    # twice (non-canonical X, which validation passes through) add up. float64
    # weights of float32 X are kept in float32: their sum in float64 would
    # cancel by eps32 * mean^2 / variance ~ 2e-3 (the moments' division by that
    # sum is eps32 off, not more).
    X = sp.random(200, 6, density=0.2, random_state=0, format="csr") * 10
    X = sp.hstack([X, sp.csr_matrix(rng.normal(1e3, 5, (200, 1)))])
    X = stored_twice(X, layout, rng, dtype)
    assert not X.has_canonical_format
    sample_weight = rng.uniform(0, 2, 200) if weighted else None
    y = rng.integers(0, 3, 200)
    loss = SoftmaxLoss(
        X, y, 3, sample_weight, fit_intercept=fit_intercept, block_rows=block_rows
    )
    mean, variance = loss.feature_moments()
    dense = X.toarray().astype(np.float64)
    weights = None if sample_weight is None else sample_weight.astype(dtype)
    expected = np.average(dense, axis=0, weights=weights)
    if not fit_intercept:  # the model cannot centre: the second moment
        expected = np.zeros(7)
    squares = np.average((dense - expected) ** 2, axis=0, weights=weights)
    rounded = weighted and dtype == np.float32
    assert_allclose(mean, expected, rtol=1e-6 if rounded else 1e-14)
    assert_allclose(variance, squares, rtol=1e-6 if rounded else 1e-9)


def triples(columns, weights, values):
    """The entries as sorted (column, weight, value) rows, to compare as sets."""
    rows = np.column_stack([columns, weights, values])
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.parametrize("layout", ["csr", "csc", "rows"])
@pytest.mark.parametrize("max_entries", [1, 2, 3, 7, 1000])
def test_stored_entries_chunks(rng, layout, max_entries):
    # Every stored entry once, with its column and its row's weight, whatever the
    # chunking (CSR, CSC, CSRRows views of rows 3:9); an empty row and column, and
    # a matrix without entries. A chunk is whole rows (columns), at most
    # max_entries of them unless one row (column) holds more.
    X = sp.random(12, 5, density=0.4, random_state=1, format="lil")
    X[4, :], X[:, 2] = 0, 0
    X = X.asformat("csc" if layout == "csc" else "csr")
    weight = rng.uniform(0, 2, 12)
    for matrix in (X, 0 * X):
        matrix.eliminate_zeros()
        view, weights = matrix, weight
        if layout == "rows":
            view, weights = CSRRows.of(matrix, slice(3, 9)), weight[3:9]
            matrix = matrix[3:9]
        chunks = list(_stored_entries(view, weights, max_entries))
        coo = matrix.tocoo()
        assert sum(len(columns) for columns, _, _ in chunks) == coo.nnz
        if coo.nnz:
            found = triples(*map(np.concatenate, zip(*chunks, strict=True)))
            assert_array_equal(found, triples(coo.col, weights[coo.row], coo.data))
        longest = max(np.diff(matrix.indptr), default=0)
        assert all(len(chunk[0]) <= max(max_entries, longest) for chunk in chunks)


@pytest.mark.parametrize("layout", ["csr", "csc", "rows"])
@pytest.mark.parametrize("max_entries", [1, 3, 1000])
def test_stored_entries_merged(rng, layout, max_entries):
    # Non-canonical X (a fifth of the entries stored as two halves, in unsorted
    # order): with merge, each (row, column) once with its summed value, whatever
    # the chunking; X's own index and data arrays are left as they were.
    X = sp.random(12, 5, density=0.5, random_state=2, format="csr") * 10
    X = stored_twice(X, "csc" if layout == "csc" else "csr", rng)
    # unsorted indices within rows (columns): reverse each major's entries
    for major in range(len(X.indptr) - 1):
        part = slice(X.indptr[major], X.indptr[major + 1])
        X.indices[part], X.data[part] = X.indices[part][::-1], X.data[part][::-1]
    X.has_sorted_indices = False
    assert not X.has_canonical_format
    weight = rng.uniform(0, 2, 12)
    view, weights, expected = X, weight, X.tocoo()
    if layout == "rows":
        view, weights = CSRRows.of(X, slice(3, 9)), weight[3:9]
        expected = X[3:9].tocoo()
    expected.sum_duplicates()
    indices, data = X.indices.copy(), X.data.copy()
    chunks = list(_stored_entries(view, weights, max_entries, merge=True))
    found = triples(*map(np.concatenate, zip(*chunks, strict=True)))
    want = triples(expected.col, weights[expected.row], expected.data)
    assert_allclose(found, want, rtol=1e-15)
    assert_array_equal(X.indices, indices)
    assert_array_equal(X.data, data)


def class_entries(n_features, fit_intercept, n_classes=2):
    """Positions in params of each class's coefficients, then its intercept."""
    entries = n_features * np.arange(n_classes)[:, np.newaxis] + np.arange(n_features)
    if fit_intercept:
        entries = np.c_[entries, n_classes * n_features + np.arange(n_classes)]
    return entries


@pytest.mark.parametrize("layout", ["C", "csr_matrix"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_margin_hessian_is_the_hessian_along_the_margin(
    rng, layout, fit_intercept, weighted, C
):
    # Two classes: on [-q, q] the Hessian gives [-M q, M q], so M is class 1's
    # block minus its block against class 0 (the reference's full Hessian).
    _, ref, X, y, sample_weight = build(
        rng, layout, np.float64, weighted, C, fit_intercept, 2
    )
    # small blocks: the matrix is a sum over them
    loss = SoftmaxLoss(
        X, y, 2, sample_weight, C=C, fit_intercept=fit_intercept, block_rows=16
    )
    params = random_params(rng, 2, 5, fit_intercept)
    zero, one = class_entries(5, fit_intercept)
    H = ref.hessian(params)
    expected = H[np.ix_(one, one)] - H[np.ix_(one, zero)]
    upper = np.triu_indices(len(one))  # what LAPACK's Cholesky reads
    assert_allclose(loss.margin_hessian(params)[upper], expected[upper], rtol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_other_class_counts_and_empty_class(rng, n_classes, fit_intercept):
    """K = 2 (full symmetric parametrisation) and a class absent from y."""
    X, y, sample_weight = make_data(rng, weighted=True, n_classes=n_classes)
    if n_classes == 4:
        y[y == 3] = 0  # class 3 has no sample
    loss = SoftmaxLoss(
        X, y, n_classes, sample_weight, C=2.0, fit_intercept=fit_intercept
    )
    ref = Reference(X, y, sample_weight, n_classes, 2.0, fit_intercept)
    params = random_params(rng, n_classes, 5, fit_intercept)
    direction = rng.standard_normal(loss.n_dof)
    f, grad = loss.loss_gradient(params)
    assert_close(f, ref.f(params), np.float64)
    assert_close(grad, ref.grad(params), np.float64)
    assert_close(
        loss.hessp(params, direction), ref.hessp(params, direction), np.float64
    )


# --------------------------------------------------------------------------------------
# scikit-learn's LinearModelLoss as a second oracle
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["C", "F", "csr_matrix", "csc_array"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("C", CS)
def test_matches_sklearn_linear_model_loss(rng, layout, fit_intercept, weighted, C):
    from sklearn._loss.loss import HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    n_classes, n_features = 4, 5
    loss, _, X, y, sample_weight = build(
        rng, layout, np.float64, weighted, C, fit_intercept, n_classes=n_classes
    )
    sk_loss = LinearModelLoss(
        base_loss=HalfMultinomialLoss(n_classes=n_classes), fit_intercept=fit_intercept
    )
    params = random_params(rng, n_classes, n_features, fit_intercept)
    direction = rng.standard_normal(loss.n_dof)

    def to_sklearn(p):
        # sklearn's 2-D layout: (n_classes, n_features + 1), intercept last column
        coef, intercept = split(p, n_classes, n_features, fit_intercept)
        return coef.copy() if intercept is None else np.column_stack([coef, intercept])

    def from_sklearn(a):
        return flat(a[:, :n_features], a[:, n_features] if fit_intercept else None)

    alpha = 0.0 if np.isinf(C) else 1.0 / (C * loss.sw_sum)
    sk_f, sk_grad = sk_loss.loss_gradient(
        to_sklearn(params),
        X,
        y.astype(np.float64),
        sample_weight,
        l2_reg_strength=alpha,
    )
    f, grad = loss.loss_gradient(params)
    assert f == pytest.approx(sk_f, rel=1e-10)
    assert_allclose(grad, from_sklearn(sk_grad), rtol=1e-10, atol=1e-12)

    _, sk_hessp = sk_loss.gradient_hessian_product(
        to_sklearn(params),
        X,
        y.astype(np.float64),
        sample_weight,
        l2_reg_strength=alpha,
    )
    expected = from_sklearn(sk_hessp(to_sklearn(direction)))
    assert_allclose(loss.hessp(params, direction), expected, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------
# Invariances
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_integer_weights_equal_repeated_rows(rng, layout, dtype, fit_intercept, C):
    X, y, _ = make_data(rng, "C", dtype, n_samples=60)
    counts = rng.integers(1, 4, size=60)
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    weighted = SoftmaxLoss(
        as_layout(X, layout),
        y,
        3,
        counts.astype(np.float64),
        C=C,
        fit_intercept=fit_intercept,
    )
    repeated = SoftmaxLoss(
        as_layout(X_rep, layout), y_rep, 3, None, C=C, fit_intercept=fit_intercept
    )
    assert weighted.sw_sum == repeated.sw_sum == counts.sum()
    params = random_params(rng, 3, 5, fit_intercept)
    direction = rng.standard_normal(weighted.n_dof)
    assert_close(weighted.objective(params), repeated.objective(params), dtype)
    # gradient and Hessian of F = scale * f
    f_w, grad_w = weighted.loss_gradient(params)
    f_r, grad_r = repeated.loss_gradient(params)
    assert_close(weighted.scale * grad_w, repeated.scale * grad_r, dtype)
    assert_close(
        weighted.scale * weighted.hessp(params, direction),
        repeated.scale * repeated.hessp(params, direction),
        dtype,
    )


@pytest.mark.parametrize("layout", DENSE_LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block_rows", [1, 7, 64, 1000])
def test_block_rows_invariance(rng, layout, dtype, fit_intercept, weighted, block_rows):
    X, y, sample_weight = make_data(rng, layout, dtype, weighted, n_samples=100)
    kwargs = dict(C=0.3, fit_intercept=fit_intercept)
    one_block = SoftmaxLoss(X, y, 3, sample_weight, **kwargs)
    blocked = SoftmaxLoss(X, y, 3, sample_weight, block_rows=block_rows, **kwargs)
    assert len(blocked.blocks) == -(-100 // block_rows)
    params = random_params(rng, 3, 5, fit_intercept)
    direction = rng.standard_normal(blocked.n_dof)
    # summation round-off only: a few ulps of the dtype
    tol = 1e-13 if dtype == np.float64 else 2e-6
    f1, g1 = one_block.loss_gradient(params)
    f2, g2 = blocked.loss_gradient(params)
    assert f2 == pytest.approx(f1, rel=tol)
    assert_allclose(g2, g1, rtol=tol, atol=tol * np.max(np.abs(g1)))
    h1 = one_block.hessp(params, direction)
    h2 = blocked.hessp(params, direction)
    assert_allclose(h2, h1, rtol=tol, atol=tol * np.max(np.abs(h1)))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_zero_weight_equals_dropped_row(rng, layout, dtype, fit_intercept, C):
    X, y, sample_weight = make_data(rng, "C", dtype, weighted=True)
    zero = rng.random(120) < 0.25
    sample_weight[zero] = 0.0
    # a zero-weight row may hold anything finite, even huge logits
    X[zero] *= 50.0
    with_zeros = SoftmaxLoss(
        as_layout(X, layout), y, 3, sample_weight, C=C, fit_intercept=fit_intercept
    )
    dropped = SoftmaxLoss(
        as_layout(X[~zero], layout),
        y[~zero],
        3,
        sample_weight[~zero],
        C=C,
        fit_intercept=fit_intercept,
    )
    params = random_params(rng, 3, 5, fit_intercept)
    direction = rng.standard_normal(dropped.n_dof)
    assert_close(with_zeros.objective(params), dropped.objective(params), dtype)
    assert_close(
        with_zeros.loss_gradient(params)[1], dropped.loss_gradient(params)[1], dtype
    )
    assert_close(
        with_zeros.hessp(params, direction), dropped.hessp(params, direction), dtype
    )


@pytest.mark.parametrize("layout", ["C", "csr_matrix"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("factor", [0.25, 3.0])
def test_weight_scaling_equals_C_scaling(
    rng, layout, dtype, fit_intercept, weighted, factor
):
    X, y, sample_weight = make_data(rng, layout, dtype, weighted)
    base = np.ones(120) if sample_weight is None else sample_weight
    C = 0.7
    scaled_weights = SoftmaxLoss(
        X, y, 3, factor * base, C=C, fit_intercept=fit_intercept
    )
    scaled_C = SoftmaxLoss(
        X, y, 3, sample_weight, C=factor * C, fit_intercept=fit_intercept
    )
    params = random_params(rng, 3, 5, fit_intercept)
    assert_close(scaled_weights.objective(params), scaled_C.objective(params), dtype)
    assert scaled_weights.scale == pytest.approx(scaled_C.scale, rel=1e-13)
    assert_close(
        scaled_weights.loss_gradient(params)[1],
        scaled_C.loss_gradient(params)[1],
        dtype,
    )


@pytest.mark.parametrize("layout", ["C", "csc_matrix"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_permutation(rng, layout, dtype, fit_intercept, weighted):
    n_classes, n_features = 4, 5
    X, y, sample_weight = make_data(rng, layout, dtype, weighted, n_classes=n_classes)
    perm = np.array([2, 0, 3, 1])  # class k is renamed perm[k]
    kwargs = dict(C=0.5, fit_intercept=fit_intercept)
    loss = SoftmaxLoss(X, y, n_classes, sample_weight, **kwargs)
    permuted = SoftmaxLoss(X, perm[y], n_classes, sample_weight, **kwargs)

    def permute(p):
        coef, intercept = split(p, n_classes, n_features, fit_intercept)
        new_coef = np.empty_like(coef)
        new_coef[perm] = coef
        new_intercept = None
        if intercept is not None:
            new_intercept = np.empty_like(intercept)
            new_intercept[perm] = intercept
        return flat(new_coef, new_intercept)

    params = random_params(rng, n_classes, n_features, fit_intercept)
    direction = rng.standard_normal(loss.n_dof)
    f, grad = loss.loss_gradient(params)
    f_perm, grad_perm = permuted.loss_gradient(permute(params))
    assert_close(f_perm, f, dtype)
    assert_close(grad_perm, permute(grad), dtype)
    assert_close(
        permuted.hessp(permute(params), permute(direction)),
        permute(loss.hessp(params, direction)),
        dtype,
    )


# --------------------------------------------------------------------------------------
# Numerical robustness and state
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["C", "F", "csr_matrix", "csc_matrix"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [10.0, np.inf])
@pytest.mark.parametrize("magnitude", [1e4, 2e5])
def test_extreme_logits(rng, layout, dtype, fit_intercept, C, magnitude):
    """Logits of 1e4 .. 1e6: finite results, no warnings, equal to the reference."""
    X, y, _ = make_data(rng, "C", dtype, n_samples=200)
    sample_weight = rng.uniform(0.5, 2.0, size=200)
    params = magnitude * random_params(rng, 3, 5, fit_intercept, scale=1.0)
    # params as float32 would see them, so that the reference sees the same problem
    params = params.astype(dtype).astype(np.float64)
    # keep rows whose two top logits are far apart: there the softmax is one-hot in
    # both dtypes, so float32 rounding of the logits cannot flip a probability
    Z = Reference(X, y, None, 3, C, fit_intercept).logits(params)
    top_two = np.sort(Z, axis=1)[:, -2:]
    keep = top_two[:, 1] - top_two[:, 0] > 1e-3 * magnitude
    # some labels are the arg max (loss ~ 0), the others cost ~|logits|
    y = np.where(rng.random(200) < 0.3, np.argmax(Z, axis=1), y)
    X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
    assert np.abs(Z).max() > magnitude
    X = as_layout(X, layout)
    loss = SoftmaxLoss(X, y, 3, sample_weight, C=C, fit_intercept=fit_intercept)
    ref = Reference(X, y, sample_weight, 3, C, fit_intercept)
    direction = rng.standard_normal(loss.n_dof)
    with (
        warnings.catch_warnings(),
        np.errstate(over="raise", invalid="raise", divide="raise"),
    ):
        warnings.simplefilter("error")
        F = loss.objective(params)
        f, grad = loss.loss_gradient(params)
        hess_dir = loss.hessp(params, direction)
    assert np.isfinite(F) and np.isfinite(f)
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess_dir))
    assert_close(F, ref.objective(params), dtype)
    assert_close(f, ref.f(params), dtype)
    assert_close(grad, ref.grad(params), dtype)
    assert_close(hess_dir, ref.hessp(params, direction), dtype)


# Logits (label's logit first, then the others), chosen to reach every path of the
# row loss: small losses (the label's logit the max and the rest's digits below 1's
# eps), ties, the label below the max, its exp near or past underflow.
ROW_LOGITS = [
    [0.0, -5.0, -7.5],
    [3.0, -37.0, -40.0],  # loss ~ 4e-18: 1 + rest rounds to 1
    [0.0, -700.0, -1e4],  # loss ~ 1e-304
    [2.0, 2.0, -30.0],  # a tie for the max
    [-1.0, 0.0, 0.5],
    [-80.0, 0.0, -3.0],  # float32: e_y ~ 2e-35, rest / e_y ~ 6e34
    [-90.0, 0.0, 1e-3],  # float32: e_y subnormal
    [-740.0, 0.0, -1.0],  # float64: e_y subnormal
    [-1e4, 0.0, 0.0],  # e_y = 0
    # two classes: the margin's softplus
    [3.0, -37.0],  # loss ~ 4e-18
    [0.0, -700.0],  # loss ~ 1e-304
    [2.0, 2.0],
    [-1.0, 0.5],
    [-80.0, 0.0],
    [-740.0, 0.0],
    [-1e4, 0.0],
]


def one_row_loss(z, array_api=None):
    """Return the data term of the one row of logits ``z``, label 0, in z's dtype.

    X = [[1]] and no intercept, so that the logits are exactly the coefficients (in
    the dtype) and only the loss's own rounding is measured. With ``array_api`` (a
    conftest ``ArrayAPI``), evaluated by :class:`ArrayAPISoftmaxLoss` there.
    """
    return one_row(z, array_api).loss_gradient(z.astype(np.float64))[0]


def one_row(z, array_api=None):
    """Return the loss of X = [[1]], label 0, no intercept and no penalty, in z's
    dtype: its coefficients ``coef[k, 0]`` are the logits ``z_k``."""
    X, y = np.ones((1, 1), dtype=z.dtype), np.array([0])
    if array_api is None:
        return SoftmaxLoss(X, y, len(z), C=np.inf, fit_intercept=False)
    X, y = array_api.asarray(X), array_api.asarray(y)
    return ArrayAPISoftmaxLoss(X, y, len(z), C=np.inf, fit_intercept=False)


def assert_row_loss_exact(value, z):
    """Assert ``value`` is ``logsumexp(z) - z_0`` to 4 ulps, against mpmath."""
    with mpmath.workdps(400):  # log(1 + 1e-304) needs > 304 digits
        terms = [mpmath.mpf(float(v)) for v in z]
        want = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in terms)) - terms[0]
        err = float(abs(mpmath.mpf(value) - want))
    # 4 ulps, or below the dtype's normal range (float32's loss of case 2 is 0)
    info = np.finfo(z.dtype)
    assert err <= 4 * info.eps * float(want) + info.eps * info.tiny, (value, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logits", ROW_LOGITS, ids=range(len(ROW_LOGITS)))
def test_row_loss_to_the_last_bits(dtype, logits):
    """One row's loss logsumexp(z) - z_y against mpmath at 400 digits."""
    z = np.array(logits, dtype=dtype)
    with (
        np.errstate(over="raise", divide="raise", invalid="raise"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        value = one_row_loss(z)
    assert_row_loss_exact(value, z)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logits", ROW_LOGITS, ids=range(len(ROW_LOGITS)))
def test_row_loss_to_the_last_bits_on_array_api(array_api, dtype, logits):
    """The same rows on every array-API namespace: the same math, the same bits."""
    z = np.array(logits, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = one_row_loss(z, array_api)
    assert_row_loss_exact(value, z)


# Rows whose label's probability rounds to 1 in the dtype (1 - p_y below half its
# eps), and one where it does not; the label's logit first.
NEAR_ONE_LOGITS = {
    np.float32: [[0.0, -20.0, -22.0], [4.0, -14.0, -30.0], [0.0, -1.0, -2.0]],
    np.float64: [[0.0, -40.0, -42.0], [4.0, -34.0, -60.0], [0.0, -1.0, -2.0]],
}


def one_row_derivatives(z, direction, array_api=None):
    """Return the gradient, dense Hessian and ``H @ direction`` of one row's loss.

    As :func:`one_row_loss`: X = [[1]], label 0, no intercept, no penalty, so
    that they are ``p - e_0``, ``diag(p) - p p^T`` and its product.
    """
    loss, params = one_row(z, array_api), z.astype(np.float64)
    gradient = loss.loss_gradient(params)[1]
    return gradient, loss.hessian(params), loss.hessp(params, direction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_derivatives_where_p_y_rounds_to_one(request, dtype, case, backend):
    """Gradient, Hessian and H v to 16 ulps of the dtype, against mpmath.

    At the label they are ``-(1 - p_y)``, ``p_y (1 - p_y)`` and ``p_y sum_{k != y}
    p_k (v_y - v_k)``, of the size of 1 - p_y: the ``p_y - 1`` of a rounded p_y
    is 0 there, and ``C (1 - p_y) x`` is what a near-separable fit at large C
    (or on large features) descends along.
    """
    array_api = None
    if backend == "array_api":
        array_api = request.getfixturevalue("strict_array_api")
    z = np.array(NEAR_ONE_LOGITS[dtype][case], dtype=dtype)
    v = np.array([1.0, -2.0, 0.5])  # v_y above the others: no cancellation in H v
    gradient, hessian, product = one_row_derivatives(z, v, array_api)
    with mpmath.workdps(50):
        e = [mpmath.exp(mpmath.mpf(float(t))) for t in z]
        p = [t / mpmath.fsum(e) for t in e]
        want_hessian = [[p[k] * ((k == j) - p[j]) for j in range(3)] for k in range(3)]
        want = {
            "gradient": [p[k] - (k == 0) for k in range(3)],
            "hessian": want_hessian,
            "product": [mpmath.fdot(row, v) for row in want_hessian],
        }
        want = {key: np.array(value, dtype=np.float64) for key, value in want.items()}
    assert abs(want["gradient"][0]) < np.finfo(dtype).eps or case == 2
    got = {"gradient": gradient, "hessian": hessian, "product": product}
    for key, value in got.items():
        assert_allclose(value, want[key], rtol=16 * np.finfo(dtype).eps, err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_hessian_where_a_wrong_class_rounds_to_one(request, dtype, backend):
    """A confidently misclassified row: ``p_1 (1 - p_1)`` to 16 ulps, not 0.

    (``H v`` keeps the label's shift only: shifting by each row's class of
    largest p, an argmax over the classes, made it 30-40 % slower on 200000 x 20,
    K = 10 and 50000 x 100, K = 100.)
    """
    array_api = None
    if backend == "array_api":
        array_api = request.getfixturevalue("strict_array_api")
    far = 20.0 if dtype == np.float32 else 40.0
    z = np.array([-far, 0.0, -far - 2.0], dtype=dtype)  # label 0, class 1 leads
    params = z.astype(np.float64)
    hessian = one_row(z, array_api).hessian(params)
    with mpmath.workdps(50):
        e = [mpmath.exp(mpmath.mpf(float(t))) for t in z]
        p = [t / mpmath.fsum(e) for t in e]
        want = np.array(
            [[p[k] * ((k == j) - p[j]) for j in range(3)] for k in range(3)],
            dtype=np.float64,
        )
    assert want[1, 1] < np.finfo(dtype).eps
    assert_allclose(hessian, want, rtol=16 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "logits",
    [
        [1000.0, np.inf, 0.0],  # inf
        [np.inf, 1000.0, 0.0],  # inf - inf: nan
        [np.inf, np.inf, 0.0],
        [np.nan, 0.0, 1.0],
        [0.0, np.nan, 1.0],
        [-np.inf, 0.0, 1.0],  # inf
        [0.0, -np.inf, -np.inf],  # 0
        [-np.inf, -np.inf, -np.inf],  # nan
    ],
    ids=range(8),
)
def test_non_finite_row_loss_as_scipy(dtype, logits):
    """A row with a non-finite logit (label's first) costs scipy's LSE(z) - z_y."""
    z = np.array(logits, dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = one_row_loss(z)
        want = logsumexp(z.astype(np.float64)) - float(z[0])
    assert_array_equal(value, want)


@pytest.mark.parametrize("layout", ["C", "csr_matrix"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessp_uses_its_own_params(rng, layout, dtype, fit_intercept):
    loss, ref, _, _, _ = build(rng, layout, dtype, True, 0.3, fit_intercept)
    p1 = random_params(rng, 3, 5, fit_intercept, scale=1.0)
    p2 = random_params(rng, 3, 5, fit_intercept, scale=1.0)
    direction = rng.standard_normal(loss.n_dof)
    expected1 = ref.hessp(p1, direction)
    expected2 = ref.hessp(p2, direction)
    assert not np.allclose(expected1, expected2, rtol=1e-3)  # the test can tell

    loss.loss_gradient(p1)
    assert_close(loss.hessp(p2, direction), expected2, dtype)
    assert_close(loss.hessp(p1, direction), expected1, dtype)
    loss.objective(p2)
    assert_close(loss.hessp(p1, direction), expected1, dtype)
    # the cached point is the value, not the array: change params in place
    params = p1.copy()
    loss.loss_gradient(params)
    params[:] = p2
    assert_close(loss.hessp(params, direction), expected2, dtype)
    # repeated hessp at the same point (cached path) stays right
    assert_close(loss.hessp(params, 2 * direction), 2 * expected2, dtype)
    assert_close(loss.loss_gradient(p2)[1], ref.grad(p2), dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_inputs_not_modified(rng, layout, dtype, weighted):
    X, y, sample_weight = make_data(rng, layout, dtype, weighted)
    X_before = dense64(X)
    y_before = y.copy()
    sw_before = None if sample_weight is None else sample_weight.copy()
    sparse_parts = (
        (X.data, X.indices, X.indptr, X.data.copy(), X.format, type(X))
        if sp.issparse(X)
        else None
    )
    loss = SoftmaxLoss(X, y, 3, sample_weight, C=0.3, block_rows=16)
    params = random_params(rng, 3, 5, True)
    direction = rng.standard_normal(loss.n_dof)
    loss.loss_gradient(params)
    loss.hessp(params, direction)
    loss.hessp(params + 1.0, direction)
    loss.objective(params)

    assert_array_equal(dense64(X), X_before)
    assert X.dtype == dtype
    assert_array_equal(y, y_before)
    if sample_weight is not None:
        assert_array_equal(sample_weight, sw_before)
    if sparse_parts is None:
        # dense X is cut into views, never copied
        assert all(np.shares_memory(block.X, X) for block in loss.blocks)
    else:
        data, indices, indptr, data_copy, fmt, kind = sparse_parts
        assert X.data is data and X.indices is indices and X.indptr is indptr
        assert_array_equal(X.data, data_copy)
        assert X.format == fmt and type(X) is kind
        if fmt == "csc":  # rows of CSC cannot be cut without a copy: one block
            assert len(loss.blocks) == 1 and loss.blocks[0].X is X
        else:  # CSR blocks are views of X's arrays
            assert len(loss.blocks) == -(-len(y) // 16)
            for block in loss.blocks:
                assert block.X.data is data and block.X.indices is indices
                assert np.shares_memory(block.X.indptr, indptr)


# --------------------------------------------------------------------------------------
# The block kernels
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["C", "F", "csr_matrix", "csc_array"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_block_kernels_unnormalised(rng, layout, dtype, fit_intercept, weighted):
    X, y, sample_weight = make_data(rng, layout, dtype, weighted, n_samples=50)
    sw = None if sample_weight is None else sample_weight.astype(dtype)
    ref = Reference(X, y, sw, 3, np.inf, fit_intercept)
    params = random_params(rng, 3, 5, fit_intercept)
    coef, intercept = split(params, 3, 5, fit_intercept)
    block = make_block(X, y, sw, 3)
    loss, grad_coef, grad_intercept = block_loss_gradient(block, coef, intercept)
    # C = inf reference: F is the unnormalised data term, S * grad f its gradient
    assert isinstance(loss, float)
    assert_close(loss, ref.objective(params), dtype)
    assert grad_coef.dtype == np.float64 and grad_intercept.dtype == np.float64
    expected = ref.S * ref.grad(params)
    assert_close(grad_coef.ravel(), expected[:15], dtype)
    P = softmax(ref.logits(params), axis=1)
    if fit_intercept:
        assert_close(grad_intercept, expected[15:], dtype)
    # documented buffer contents (class-major): proba = softmax(z), logits = the
    # weighted residual (P - Y) diag(s)
    assert block.proba.shape == block.logits.shape == (3, 50)
    assert_close(block.proba, P.T, dtype)
    assert_close(block.logits, ((P - ref.Y) * ref.s[:, None]).T, dtype)

    direction = rng.standard_normal(params.size)
    coef_dir, intercept_dir = split(direction, 3, 5, fit_intercept)
    hess_coef, hess_intercept = block_hessp(block, coef_dir, intercept_dir)
    assert hess_coef.dtype == np.float64
    expected = ref.S * ref.hessp(params, direction)
    assert_close(hess_coef.ravel(), expected[:15], dtype)
    if fit_intercept:
        assert_close(hess_intercept, expected[15:], dtype)


@pytest.mark.parametrize("layout", ["C", "F", "csr_matrix", "csc_matrix"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_give_identical_results(rng, layout, dtype):
    # Blocks run side by side but are summed in block order: bitwise the same.
    X, y, sample_weight = make_data(rng, layout, dtype, True, n_samples=300)
    params = random_params(rng, 3, 5, True)
    direction = rng.standard_normal(params.size)
    serial = SoftmaxLoss(X, y, 3, sample_weight, block_rows=32)
    parallel = SoftmaxLoss(X, y, 3, sample_weight, block_rows=32, n_threads=3)
    f1, g1 = serial.loss_gradient(params)
    f2, g2 = parallel.loss_gradient(params)
    assert f1 == f2
    assert_array_equal(g1, g2)
    assert_array_equal(
        serial.hessp(params, direction), parallel.hessp(params, direction)
    )


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kept", [False, True])
def test_sparse_blocks_sum_their_products_as_one(rng, n_classes, dtype, kept):
    # Sparse blocks add R @ X into one buffer in block order, on threads too: the
    # coefficient part has the bits of one block (the intercept's sums are per block).
    X, y, sample_weight = make_data(rng, "csr_matrix", dtype, True, 300, 5, n_classes)
    params = random_params(rng, n_classes, 5, True)
    direction = rng.standard_normal(params.size)
    budget = {} if kept else {"proba_budget": 0}  # hessp recomputes P per block
    one = SoftmaxLoss(X, y, n_classes, sample_weight, **budget)
    blocked = SoftmaxLoss(
        X, y, n_classes, sample_weight, block_rows=16, n_threads=3, **budget
    )
    blocked._threads.left, blocked._threads.threaded = 0, 0.0  # 3 threads, no probe
    assert len(one.blocks) == 1 and len(blocked.blocks) == 19
    coef = slice(0, n_classes * 5)
    for _ in range(2):  # the buffer starts afresh at each evaluation
        assert_array_equal(
            blocked.loss_gradient(params)[1][coef], one.loss_gradient(params)[1][coef]
        )
        assert_array_equal(
            blocked.hessp(params, direction)[coef], one.hessp(params, direction)[coef]
        )


@pytest.mark.parametrize("layout", ["C", "csr_matrix"])
def test_the_last_data_sums_serve_a_new_penalty_at_the_same_point(
    rng, monkeypatch, layout
):
    # A path point that starts where the last one ended reuses its data sums: the
    # same bits as a fresh loss with the new C, and no block is evaluated again.
    X, y, sample_weight = make_data(rng, layout, np.float64, True, 300)
    params = random_params(rng, 3, 5, True)
    loss = SoftmaxLoss(
        X, y, 3, sample_weight, C=0.1, block_rows=64, keep_last_sums=True
    )
    loss.loss_gradient(params)
    loss._set_penalty(5, loss.sw_sum, 10.0, 0.0)
    fresh_f, fresh_g = SoftmaxLoss(
        X, y, 3, sample_weight, C=10.0, block_rows=64
    ).loss_gradient(params)
    calls = []
    real = sklse._loss.block_loss_gradient
    monkeypatch.setattr(
        sklse._loss,
        "block_loss_gradient",
        lambda *args: calls.append(1) or real(*args),
    )
    f, g = loss.loss_gradient(params)
    assert calls == [] and f == fresh_f
    assert_array_equal(g, fresh_g)
    g[:] = np.nan  # the caller's gradient is its own
    assert_array_equal(loss.loss_gradient(params)[1], fresh_g)
    # elsewhere, or once probabilities are kept for hessp, the blocks run
    loss.loss_gradient(params + 1)
    assert len(calls) == 5
    loss.hessp(params, np.ones(params.size))
    loss.loss_gradient(params)
    assert len(calls) == 10
    # without keep_last_sums (a single fit) nothing is kept
    single = SoftmaxLoss(X, y, 3, sample_weight, block_rows=64)
    single.loss_gradient(params)
    assert single._last_sums is None


def test_a_failing_sparse_block_lets_the_others_finish(rng, monkeypatch):
    # A block that raises still passes its turn: the later ones do not wait for ever
    # (and hold no thread), the error reaches the caller, and the next evaluations
    # are whole.
    X, y, _ = make_data(rng, "csr_matrix", np.float64, False, 300)
    at = [random_params(rng, 3, 5, True) for _ in range(3)]
    loss = SoftmaxLoss(X, y, 3, block_rows=16, n_threads=2)
    loss._threads.left, loss._threads.threaded = 0, 0.0  # threads, no probe
    serial = SoftmaxLoss(X, y, 3, block_rows=16)
    real = sklse._loss.block_loss_gradient

    def failing(block, *args):
        if block.index == 5:
            raise MemoryError("block 5")
        return real(block, *args)

    def within_a_minute(function):
        out = []
        worker = threading.Thread(target=lambda: out.append(function()))
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive() and len(out) == 1
        return out[0]

    def fails():
        with pytest.raises(MemoryError, match="block 5"):
            loss.loss_gradient(at[0])
        return True

    monkeypatch.setattr(sklse._loss, "block_loss_gradient", failing)
    within_a_minute(fails)
    monkeypatch.setattr(sklse._loss, "block_loss_gradient", real)
    for params in at[1:]:
        got = within_a_minute(lambda params=params: loss.loss_gradient(params)[1])
        assert_array_equal(got, serial.loss_gradient(params)[1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_threads_work_in_a_forked_child(rng):
    # A child forked after a threaded evaluation inherits the thread pool object but
    # not its threads; without a fresh pool its next evaluation would hang.
    X, y, _ = make_data(rng, "C", np.float64, False, n_samples=3000)
    loss = SoftmaxLoss(X, y, 3, block_rows=1024, n_threads=2)
    params = random_params(rng, 3, 5, True)
    expected = loss.loss_gradient(params)[0]
    pid = os.fork()
    if pid == 0:  # the child: exit 0 on the right value, be killed if it hangs
        signal.alarm(30)
        try:
            os._exit(0 if loss.loss_gradient(params)[0] == expected else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("layout", ["C", "csr_matrix", "csc_matrix"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_kept_and_recomputed_probabilities_give_the_same_bits(
    rng, layout, dtype, weighted
):
    X, y, sample_weight = make_data(rng, layout, dtype, weighted, n_samples=300)
    kept, recomputed = (
        SoftmaxLoss(X, y, 3, sample_weight, block_rows=64, proba_budget=budget)
        for budget in (2**28, 0)
    )
    here, there = (random_params(rng, 3, 5, True) for _ in range(2))
    direction = rng.standard_normal(kept.n_dof)
    for loss in (kept, recomputed):
        loss.loss_gradient(there)
    # kept: probabilities from the last evaluation (at ``there``) are stale here
    assert_array_equal(kept.hessp(here, direction), recomputed.hessp(here, direction))
    for loss in (kept, recomputed):
        loss.loss_gradient(here)  # kept: at ``here``, reused below
    assert_array_equal(kept.hessp(here, direction), recomputed.hessp(here, direction))
    assert_array_equal(kept.hessian(there), recomputed.hessian(there))
    assert kept._kept is not None and recomputed._kept is None


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "trust-ncg", "auto"])
def test_fits_do_not_depend_on_threads_or_kept_probabilities(rng, solver):
    X, y, sample_weight = make_data(rng, "C", np.float64, True, n_samples=2000)
    results = [
        minimize(
            SoftmaxLoss(
                X,
                y,
                3,
                sample_weight,
                block_rows=128,
                n_threads=n_threads,
                proba_budget=budget,
            ),
            np.zeros(18),
            solver=solver,
            tol=1e-10,
        )
        for n_threads, budget in ((1, 2**28), (3, 2**28), (1, 0), (3, 0))
    ]
    for result in results[1:]:
        assert_array_equal(result.params, results[0].params)
        assert result.n_iter == results[0].n_iter


def test_evaluations_keep_no_buffers_of_all_rows(rng):
    # 200 blocks of 512 rows; buffers of all rows, (K, n) each, would be n * K values.
    X, y, _ = make_data(rng, "C", np.float64, False, 102400, 4, 16)
    params = random_params(rng, 16, 4, True)
    n_by_k = X.shape[0] * 16 * X.itemsize
    tracemalloc.start()
    try:
        loss = SoftmaxLoss(X, y, 16, block_rows=512, n_threads=2)
        loss.loss_gradient(params)
        loss.loss_gradient(params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # what is left: the blocks' label indices (n intp) and 2 threads' buffers
    assert peak < 0.2 * n_by_k
    assert loss._kept is None and len(loss._buffers._free) <= 2
    # hessp keeps the probabilities at the point, n * K values, within the budget
    loss.hessp(params, np.ones(loss.n_dof))
    assert sum(proba.nbytes for proba in loss._kept) == n_by_k
    over = SoftmaxLoss(X, y, 16, block_rows=512, proba_budget=n_by_k - 1)
    over.hessp(params, np.ones(loss.n_dof))
    assert over._kept is None


def test_default_blocks_do_not_depend_on_threads(rng):
    X, y, _ = make_data(rng, "C", np.float64, False, n_samples=50000)
    params = random_params(rng, 3, 5, True)
    serial, parallel = (SoftmaxLoss(X, y, 3, n_threads=n) for n in (1, 2))
    assert len(serial.blocks) == len(parallel.blocks) > 1
    assert_array_equal(
        serial.loss_gradient(params)[1], parallel.loss_gradient(params)[1]
    )


@pytest.mark.parametrize(
    "shape, n_classes, threads",
    [
        ((1797, 64), 10, 1),  # one block
        ((20000, 20), 5, 1),  # 3 blocks
        ((5000, 100), 10, 1),  # 3 blocks
        ((20000, 100), 10, 2),
        ((50000, 500), 10, 2),
        ((0, 5), 3, 1),
    ],
)
def test_threads_only_where_blocks_are_many(monkeypatch, shape, n_classes, threads):
    # The block counts in the comments are for a 2 MiB L2, whatever this machine has.
    monkeypatch.setattr(sklse._loss, "l2_cache_bytes", lambda: 2 * 1024 * 1024)
    assert useful_threads(np.empty(shape), n_classes, 2) == threads


@pytest.mark.parametrize(
    "threaded_times, pays",
    [((0.9, 0.5, 0.9), True), ((0.9, 0.85, 0.9), False), ((0.5, 0.5, 0.5), True)],
)
def test_first_evaluations_find_out_whether_threads_pay(
    rng, monkeypatch, threaded_times, pays
):
    X = rng.standard_normal((8 * 256, 6))
    y = rng.integers(0, 3, len(X))
    params = random_params(rng, 3, 6, True)
    # Per probe, the clock at the start, between the halves (4 blocks alone: 1 s)
    # and at the end (4 blocks in threads): the best of the three decides.
    ticks = [t for time in threaded_times for t in (0.0, 1.0, 1.0 + time)]
    clock = iter(ticks)
    monkeypatch.setattr(sklse._loss, "_clock", lambda: next(clock))
    serial = SoftmaxLoss(X, y, 3, block_rows=256)
    probed = SoftmaxLoss(X, y, 3, block_rows=256, n_threads=2)
    assert probed._threads.pays is None
    for step in range(3):
        point = params + step
        assert_array_equal(
            probed.loss_gradient(point)[1], serial.loss_gradient(point)[1]
        )
    assert next(clock, None) is None  # three probes, each timed
    assert probed._threads.pays is pays
    seen = []
    monkeypatch.setattr(
        sklse._loss, "_map", lambda f, blocks, n: seen.append(n) or map(f, blocks)
    )
    probed.loss_gradient(params + 3)  # the next evaluations follow the answer
    assert seen == [2 if pays else 1]


def test_the_evaluation_at_zero_coef_is_no_probe(rng, monkeypatch):
    # A fit's first evaluation, at coef = 0, makes one product per block, not two:
    # it runs on one thread and times nothing; the next three probe.
    X = rng.standard_normal((8 * 256, 6))
    y = rng.integers(0, 3, len(X))
    probed = SoftmaxLoss(X, y, 3, block_rows=256, n_threads=2)
    serial = SoftmaxLoss(X, y, 3, block_rows=256)
    seen = []
    monkeypatch.setattr(
        sklse._loss, "_map", lambda f, blocks, n: seen.append(n) or map(f, blocks)
    )
    start = np.zeros(probed.n_dof)
    start[-3:] = rng.standard_normal(3)  # intercepts, coef = 0
    assert_array_equal(probed.loss_gradient(start)[1], serial.loss_gradient(start)[1])
    assert probed._threads.left == 3 and probed._threads.pays is None
    assert seen[0] == 1  # not in threads before the probes have answered
    params = random_params(rng, 3, 6, True)
    for step in range(3):
        probed.loss_gradient(params + step)
    assert probed._threads.left == 0


def test_no_threads_for_csc_which_is_one_block():
    X = sp.random_array((50000, 1000), density=0.02, format="csr", rng=0)
    assert useful_threads(X, 20, 2) == 2  # 8 blocks of 20 * 20 per row
    assert useful_threads(X.tocsc(), 20, 2) == 1


@pytest.mark.parametrize("l2", [2**21, 2**19])
def test_dense_blocks_fill_four_l2_caches_whatever_the_threads(monkeypatch, l2):
    monkeypatch.setattr(sklse._loss, "l2_cache_bytes", lambda: l2)
    assert default_block_rows(np.empty((400000, 20)), 5, 8) == 4 * l2 // (8 * 30)
    assert default_block_rows(np.empty((800000, 20), np.float32), 5, 8) == l2 // 30
    assert default_block_rows(np.empty((50000, 500)), 10, 8) == 4 * l2 // (8 * 520)
    assert default_block_rows(np.empty((2000, 20000)), 10, 8) == 128  # the floor
    X, y, _ = make_data(np.random.default_rng(0), "C", np.float64, False, 50000)
    serial, parallel = (SoftmaxLoss(X, y, 3, n_threads=n) for n in (1, 2))
    # 5 features and 2 * 3 buffer entries of 8 bytes per row
    assert len(serial.blocks) == len(parallel.blocks) == -(-50000 // (4 * l2 // 88))


def test_dense_blocks_fit_the_cache_and_sparse_blocks_are_large(monkeypatch):
    monkeypatch.setattr(sklse._loss, "l2_cache_bytes", lambda: 2**20)
    # Dense: X's rows and two (K, rows) buffers in four L2 caches (4 MiB), >= 128
    # rows, at most n / 8 (for threads).
    assert default_block_rows(np.empty((200000, 20)), 5, 8) == 2**22 // (8 * 30)
    assert default_block_rows(np.empty((200000, 20), np.float32), 5, 8) == 200000 // 8
    assert default_block_rows(np.empty((50000, 500)), 10, 8) == 2**22 // (8 * 520)
    # The cap for threads (n / 8) only where such blocks are worth a thread.
    assert default_block_rows(np.empty((20000, 100), np.float32), 10, 8) == 2500
    assert default_block_rows(np.empty((20000, 20)), 5, 8) == 2**22 // (8 * 30)
    # Sparse: 1 MiB of logits, >= 1024 rows, n / 8 where such blocks pay threads.
    X = sp.random_array((200000, 1000), density=0.02, format="csr", rng=0)
    assert default_block_rows(X, 20, 8) == 2**20 // (8 * 20)
    assert default_block_rows(X[:50000], 20, 8) == 50000 // 8  # 20 * 20 per row
    assert default_block_rows(X[:50000, :500], 20, 8) == 2**20 // (8 * 20)


@pytest.mark.parametrize("entries", [1, 5, 2**20])
def test_float64_times_takes_csc_columns_in_ranges_of_stored_entries(
    rng, monkeypatch, entries
):
    # CSC X is one block of all rows: its entries go to float64 a range of columns
    # at a time (empty columns, and a column above the range on its own, included).
    monkeypatch.setattr("sklse._loss._FLOAT64_ENTRIES", entries)
    dense = rng.standard_normal((30, 9)).astype(np.float32)
    dense[rng.random(dense.shape) < 0.6] = 0
    dense[:, [0, 4, 8]] = 0
    dense[:, 2] = 1e4 + np.arange(30, dtype=np.float32)
    R = rng.standard_normal((3, 30))
    want = R @ dense.astype(np.float64)
    for X in (sp.csc_array(dense), sp.csr_array(dense), dense):
        assert_allclose(_float64_times(R, X), want, rtol=1e-13, atol=1e-13)
    rows = CSRRows.of(sp.csr_array(dense), slice(10, 25))
    assert_allclose(_float64_times(R[:, 10:25], rows), R[:, 10:25] @ dense[10:25])


@pytest.mark.parametrize("n_classes", [2, 4])
def test_hessian_of_csc_X_in_parts_of_rows(rng, monkeypatch, n_classes):
    # CSC X is one block of all rows, CSR blocks are sized for their stored
    # entries; the Hessian's dense rows and A (rows * n_dof values) are made a
    # part of rows at a time, not for all of a block at once.
    X, y, weight = make_data(rng, "C", np.float64, True, 3000, 7, n_classes)
    X[rng.random(X.shape) < 0.5] = 0
    params = rng.standard_normal(n_classes * 8) * 0.3
    dense = SoftmaxLoss(X, y, n_classes, weight)
    csc = SoftmaxLoss(sp.csc_array(X), y, n_classes, weight)
    csr = SoftmaxLoss(sp.csr_array(X), y, n_classes, weight, block_rows=1000)
    made = []
    dense_rows = sklse._loss._dense_rows
    monkeypatch.setattr("sklse._loss._HESSIAN_BYTES", 8 * n_classes * 8 * 200)
    monkeypatch.setattr(
        "sklse._loss._dense_rows", lambda X: made.append(X.shape[0]) or dense_rows(X)
    )
    for center in (None, X.mean(axis=0)):
        want = dense.hessian(params, center)
        assert_allclose(csc.hessian(params, center), want, rtol=1e-13, atol=1e-13)
        assert_allclose(csr.hessian(params, center), want, rtol=1e-13, atol=1e-13)
    # dense's one block; csc's parts; csr's blocks of 1000 rows, in parts
    assert sorted(set(made)) == [200, 3000]
    assert made.count(200) == 2 * 15 + 2 * 15


def test_overflowing_weight_sum_is_an_error(rng):
    X, y, _ = make_data(rng, "C", np.float64, False)
    with pytest.raises(ValueError, match="overflows float64; rescale"):
        SoftmaxLoss(X, y, 3, np.full(len(y), 1e307))
    # A ZeroDivisionError before (LogisticRegression's too).
    with pytest.raises(ValueError, match="underflows float64 .* rescale"):
        SoftmaxLoss(X, y, 3, np.full(len(y), 1e-200), C=1e-200)
    with pytest.raises(ValueError, match="underflows float64"):
        SoftmaxLoss(X, y, 3, np.full(len(y), 1e-300), C=1e-12)
    SoftmaxLoss(X, y, 3, np.full(len(y), 1e-309), C=np.inf)  # no penalty to invert


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "form, block_rows",
    [("dense", None), ("dense", 128), ("csr", None), ("csr", 128), ("csc", None)],
)
def test_precise_gradient_keeps_the_centred_gradient_of_float32_X(
    rng, n_classes, weighted, form, block_rows
):
    # Features of means 1e4 to 1e8 spreads: float32 sums of R @ X round g_W near
    # mean * g_b, and the centred part g_W - mean g_b, what a Newton step in
    # centred variables solves with, is lost (errors of 5 to 200 times its size
    # here); the float64 sums keep it to float32 P's rounding (~1e-6). Sparse X
    # too, in blocks of rows of a CSR matrix (views of its arrays) or whole.
    X, y, weight = make_data(rng, "C", np.float64, weighted, 400, 6, n_classes)
    mean = 10.0 ** rng.uniform(0, 4, 6)
    X32 = (X + 1e4 * mean).astype(np.float32)
    formats = {"dense": np.asarray, "csr": sp.csr_array, "csc": sp.csc_array}
    loss = SoftmaxLoss(
        formats[form](X32), y, n_classes, weight, C=10.0, block_rows=block_rows
    )
    exact = SoftmaxLoss(X32.astype(np.float64), y, n_classes, weight, C=10.0)
    params = rng.standard_normal(loss.n_dof) * 1e-6
    loss.loss_gradient(params)  # as the Newton loop: an evaluation, then the step

    def centred(grad):
        coef, intercept = _unpack(grad, n_classes, True)
        return coef - np.outer(intercept, X32.astype(np.float64).mean(axis=0))

    want = centred(exact.loss_gradient(params)[1])
    scale = np.abs(want).max()
    precise = np.abs(centred(loss.precise_gradient(params)) - want).max()
    evaluated = np.abs(centred(loss.loss_gradient(params)[1]) - want).max()
    assert precise <= 1e-5 * scale
    assert evaluated >= 100 * precise  # what the precise sums are for
    assert exact.precise_gradient(params) is None  # float64: the evaluations'
