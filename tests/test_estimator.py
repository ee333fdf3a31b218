"""Tests of SoftmaxRegression against independent references.

The oracles are LogisticRegression (same objective; binary: ``C=2*C``), the objective
written here with ``scipy.special.logsumexp`` on float64 copies of the data, and a
50-digit mpmath log-softmax. No expected value is computed by sklse itself.
"""

import re
import warnings

import mpmath
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax, logsumexp, softmax
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.multiclass import OneVsRestClassifier

from sklse import SoftmaxRegression
from sklse._data import _encode_labels
from sklse._solvers import SOLVERS as ALL_SOLVERS

SOLVERS = sorted(ALL_SOLVERS)
# A reference LogisticRegression fit far below sklse's tolerances.
LR_TIGHT = {"solver": "newton-cholesky", "tol": 1e-12, "max_iter": 1000}
# sklse's tol for "tight" fits outside the agreement test: both solvers converge
# there without a ConvergenceWarning on the data below (1e-10 is under the float64
# floor of the line search / trust-region ratio test on some of them).
TIGHT = 1e-8
EPS64 = np.finfo(np.float64).eps
PREDICT_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


# --------------------------------------------------------------------------------------
# Data and references
# --------------------------------------------------------------------------------------
def make_data(rng, n_classes=3, n_samples=200, n_features=5):
    """Return standardised X and labels drawn from a softmax model (not separable)."""
    X = rng.standard_normal((n_samples, n_features))
    true_coef = rng.standard_normal((n_classes, n_features))
    proba = softmax(X @ true_coef.T, axis=1)
    y = (rng.random((n_samples, 1)) > np.cumsum(proba, axis=1)).sum(axis=1)
    y = np.minimum(y, n_classes - 1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    return X, y


def dense64(X):
    """Return a dense float64 copy of X."""
    return (X.toarray() if sp.issparse(X) else np.array(X)).astype(np.float64)


def objective(X, y, coef, intercept, C, sample_weight=None):
    """``F = C * sum_i s_i (logsumexp(z_i) - z_{i, y_i}) + 1/2 ||W||_F^2`` in float64.

    ``y`` holds indices ``0..n_classes-1``; ``C = inf`` gives the data term alone.
    """
    coef = np.asarray(coef, dtype=np.float64)
    Z = dense64(X) @ coef.T + np.asarray(intercept, dtype=np.float64)
    row_loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    data = np.dot(s, row_loss)
    return data if np.isinf(C) else C * data + 0.5 * np.sum(coef**2)


def lr_C(C, n_classes):
    """LogisticRegression's C for the same fit: ``2*C`` for two classes."""
    return 2 * C if n_classes == 2 else C


def lr_symmetric(lr):
    """LogisticRegression's model as (coef, intercept) of shape (K, d), (K,)."""
    if lr.coef_.shape[0] == 1:  # binary margin w: W = [-w/2, w/2]
        return (
            np.vstack([-lr.coef_ / 2, lr.coef_ / 2]),
            np.concatenate([-lr.intercept_ / 2, lr.intercept_ / 2]),
        )
    return lr.coef_, lr.intercept_


def class_weight_values(class_weight, y, n_classes, sample_weight):
    """Per-class weights, written here: dict lookup or LR 1.9's weighted "balanced"."""
    if class_weight == "balanced":
        s = np.ones(len(y)) if sample_weight is None else sample_weight
        counts = np.bincount(y, weights=s, minlength=n_classes)
        return counts.sum() / (n_classes * counts)
    return np.array([class_weight.get(k, 1.0) for k in range(n_classes)])


def effective_weight(y, n_classes, sample_weight, class_weight):
    """``s_i`` of the objective: sample_weight times class weight (None: all 1)."""
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    if class_weight is not None:
        s = s * class_weight_values(class_weight, y, n_classes, sample_weight)[y]
    return s


def assert_same_fit(model, lr, X, y, C, sample_weight=None, class_weight=None):
    """sklse's F is within 1e-8 relative of LR's (and not above it); same proba."""
    n_classes = len(model.classes_)
    s = effective_weight(y, n_classes, sample_weight, class_weight)
    f_sklse = objective(X, y, model.coef_, model.intercept_, C, s)
    f_lr = objective(X, y, *lr_symmetric(lr), C, s)
    assert f_sklse <= f_lr * (1 + 1e-8)
    assert_allclose(f_sklse, f_lr, rtol=1e-8)
    assert_allclose(model.predict_proba(X), lr.predict_proba(X), rtol=0, atol=1e-6)


def mp_log_softmax(logits):
    """50-digit log-softmax of each row of a float64 array, rounded to float64."""
    with mpmath.workdps(50):
        out = []
        for row in logits:
            row_mp = [mpmath.mpf(float(z)) for z in row]
            lse = mpmath.log(mpmath.fsum(mpmath.exp(z) for z in row_mp))
            out.append([float(z - lse) for z in row_mp])
    return np.array(out)


# --------------------------------------------------------------------------------------
# 1. Agreement with LogisticRegression
# --------------------------------------------------------------------------------------
# At tol=1e-10 both solvers can stop a little above tol, at the float64 floor of
# their step acceptance tests; the objective comparison below is the real check.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_agrees_with_logistic_regression(rng, n_classes, C, solver, fit_intercept):
    X, y = make_data(rng, n_classes)
    model = SoftmaxRegression(
        C=C, solver=solver, tol=1e-10, max_iter=1000, fit_intercept=fit_intercept
    ).fit(X, y)
    lr = LogisticRegression(
        C=lr_C(C, n_classes), fit_intercept=fit_intercept, **LR_TIGHT
    ).fit(X, y)
    assert_same_fit(model, lr, X, y, C)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize(
    "weighting", ["sample_weight", "class_weight", "balanced", "balanced+sample"]
)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_agrees_with_logistic_regression_weighted(
    rng, n_classes, solver, weighting, layout
):
    X, y = make_data(rng, n_classes)
    if layout == "csr":
        X[rng.random(X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    sample_weight = None
    if "sample" in weighting:
        sample_weight = rng.uniform(0.2, 3.0, size=len(y))
    class_weight = None
    if weighting == "class_weight":
        class_weight = {k: 0.5 + k for k in range(n_classes)}
    elif weighting.startswith("balanced"):
        class_weight = "balanced"
    C = 0.5
    model = SoftmaxRegression(
        C=C, solver=solver, tol=1e-10, max_iter=1000, class_weight=class_weight
    ).fit(X, y, sample_weight=sample_weight)
    lr = LogisticRegression(
        C=lr_C(C, n_classes), class_weight=class_weight, **LR_TIGHT
    ).fit(X, y, sample_weight=sample_weight)
    assert_same_fit(model, lr, X, y, C, sample_weight, class_weight)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_no_penalty_agrees_with_logistic_regression(rng, n_classes):
    X, y = make_data(rng, n_classes, n_features=3)
    model = SoftmaxRegression(C=np.inf, solver="trust-ncg", tol=TIGHT).fit(X, y)
    lr = LogisticRegression(C=np.inf, **LR_TIGHT).fit(X, y)
    assert np.all(np.isfinite(lr.coef_))  # the data are not separable
    assert_same_fit(model, lr, X, y, np.inf)


# --------------------------------------------------------------------------------------
# 2. One-vs-rest
# --------------------------------------------------------------------------------------
def test_one_vs_rest_matches_logistic_regression(rng):
    X, y = make_data(rng, n_classes=4)
    C = 0.7
    ovr = OneVsRestClassifier(SoftmaxRegression(C=C, solver="trust-ncg", tol=TIGHT))
    ovr_lr = OneVsRestClassifier(LogisticRegression(C=2 * C, **LR_TIGHT))
    assert_allclose(
        ovr.fit(X, y).predict_proba(X),
        ovr_lr.fit(X, y).predict_proba(X),
        rtol=0,
        atol=1e-6,
    )


# --------------------------------------------------------------------------------------
# 3. predict_log_proba where predict_proba underflows
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_proba_finite_where_proba_underflows(rng, n_classes):
    X, y = make_data(rng, n_classes, n_samples=60, n_features=4)
    model = SoftmaxRegression().fit(X, y)
    X_big = X * 1e6  # logits up to ~1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        proba = model.predict_proba(X_big)
        log_proba = model.predict_log_proba(X_big)
        scores = model.decision_function(X_big)
    logits = X_big @ model.coef_.T + model.intercept_
    if n_classes > 2:
        assert_array_equal(scores, logits)
    assert np.all(np.isfinite(proba))
    assert np.all(np.isfinite(log_proba))
    assert np.any(proba == 0)  # the case this test is about
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=4 * EPS64)
    assert_allclose(logsumexp(log_proba, axis=1), 0.0, rtol=0, atol=4 * EPS64)
    # Within a few ulp of the row's scale (the rounding of z - max z alone).
    row_scale = np.max(np.abs(logits), axis=1, keepdims=True)
    err = np.abs(log_proba - mp_log_softmax(logits))
    assert np.all(err <= 4 * EPS64 * row_scale)

    lr = LogisticRegression().fit(X, y)
    with np.errstate(divide="ignore"):  # LR takes log(0) here
        assert np.any(np.isneginf(lr.predict_log_proba(X_big)))


# --------------------------------------------------------------------------------------
# 4. Prediction methods and labels
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_prediction_methods_follow_the_logits(rng, n_classes):
    X, y = make_data(rng, n_classes, n_samples=80)
    model = SoftmaxRegression().fit(X, y)
    logits = X @ model.coef_.T + model.intercept_
    log_proba = log_softmax(logits, axis=1)
    assert_allclose(model.predict_log_proba(X), log_proba, rtol=1e-12, atol=1e-14)
    assert_allclose(model.predict_proba(X), np.exp(log_proba), rtol=1e-12, atol=1e-15)
    scores = model.decision_function(X)
    if n_classes == 2:
        assert scores.shape == (len(y),)
        assert_allclose(scores, logits[:, 1] - logits[:, 0], rtol=1e-12, atol=1e-14)
    else:
        assert scores.shape == (len(y), n_classes)
        assert_allclose(scores, logits, rtol=1e-12, atol=1e-14)
    assert_array_equal(model.predict(X), model.classes_[np.argmax(logits, axis=1)])


def test_string_labels_and_classes_order(rng):
    X, y = make_data(rng, n_classes=3, n_samples=90)
    names = np.array(["emu", "cat", "dog"])  # index k -> label, not sorted
    # trust-ncg ends far below tol: the two fits agree although their paths differ.
    model = SoftmaxRegression(solver="trust-ncg", tol=TIGHT).fit(X, names[y])
    assert_array_equal(model.classes_, ["cat", "dog", "emu"])
    reference = SoftmaxRegression(solver="trust-ncg", tol=TIGHT).fit(X, y)
    order = [1, 2, 0]  # reference class of "cat", "dog", "emu"
    assert_allclose(model.coef_, reference.coef_[order], rtol=1e-10, atol=1e-12)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X)[:, order])
    assert_array_equal(model.predict(X), names[reference.predict(X)])
    lr = LogisticRegression(**LR_TIGHT).fit(X, names[y])
    assert_allclose(model.predict_proba(X), lr.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([4, 5, 6]),  # no gaps: the codes are the labels less 4
        np.array([-3, -1, 4]),  # gaps within a countable range
        np.array([-7, 3, 1000]),  # a range too wide to count (np.unique)
        np.array([-128, 0, 127], dtype=np.int8),  # the dtype's extremes
        np.array([-128, -126, -125], dtype=np.int8),
        np.array([2**63, 2**63 + 1, 2**63 + 5], dtype=np.uint64),  # beyond int64
        np.array([0, 2**64 - 1], dtype=np.uint64),
        np.array([-(2**62), 2**62]),  # a range that overflows int64
        np.array([True, False]),
        np.array([0.0, 2.0]),
        np.array(["b", "a"]),
    ],
    ids=[
        "no-gaps",
        "gaps",
        "wide",
        "int8",
        "int8-low",
        "uint64-high",
        "uint64-wide",
        "int64-range",
        "bool",
        "float",
        "str",
    ],
)
def test_label_encoding_equals_np_unique(rng, labels):
    """classes_, the codes and the fit follow np.unique on every path."""
    X, codes = make_data(rng, n_classes=len(labels), n_samples=60)
    y = labels[codes]
    classes, inverse = np.unique(y, return_inverse=True)
    ours, our_codes = _encode_labels(y)
    assert ours.dtype == classes.dtype
    assert_array_equal(ours, classes)
    assert_array_equal(our_codes, inverse)
    model = SoftmaxRegression(tol=TIGHT).fit(X, y)
    assert model.classes_.dtype == classes.dtype
    assert_array_equal(model.classes_, classes)
    reference = SoftmaxRegression(tol=TIGHT).fit(X, inverse)
    assert_allclose(model.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    assert_array_equal(model.predict(X), classes[reference.predict(X)])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warns_like_logistic_regression_when_labels_look_continuous(rng):
    """More distinct integer labels than half the samples: sklearn's UserWarning."""
    X = rng.standard_normal((40, 3))
    y = np.arange(40) % 30
    with pytest.warns(UserWarning, match="greater than 50%") as ours:
        SoftmaxRegression(max_iter=5).fit(X, y)
    with pytest.warns(UserWarning, match="greater than 50%") as theirs:
        LogisticRegression(max_iter=5).fit(X, y)
    message = "The number of unique classes is greater than 50%"
    assert [str(w.message) for w in ours if message in str(w.message)] == [
        str(w.message) for w in theirs if message in str(w.message)
    ]


def test_roc_auc_with_binary_decision_function(rng):
    X, y = make_data(rng, n_classes=2)
    labels = np.array(["no", "yes"])[y]
    model = SoftmaxRegression(C=0.3, tol=TIGHT).fit(X, labels)
    lr = LogisticRegression(C=0.6, **LR_TIGHT).fit(X, labels)
    auc = roc_auc_score(labels, model.decision_function(X))
    assert 0.5 < auc <= 1.0
    assert auc == pytest.approx(roc_auc_score(labels, lr.decision_function(X)))
    assert auc == pytest.approx(roc_auc_score(labels, model.predict_proba(X)[:, 1]))


# --------------------------------------------------------------------------------------
# 5. dtype and memory layout
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_in_float32_out(rng, solver):
    X, y = make_data(rng, n_classes=3)
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)  # the same data, exactly
    model32 = SoftmaxRegression(solver=solver, tol=1e-5).fit(X32, y)
    model64 = SoftmaxRegression(solver=solver, tol=TIGHT).fit(X64, y)
    assert model32.coef_.dtype == np.float32
    assert model32.intercept_.dtype == np.float32
    for method in ["predict_proba", "predict_log_proba", "decision_function"]:
        assert getattr(model32, method)(X32).dtype == np.float32, method
    f32 = objective(X64, y, model32.coef_, model32.intercept_, 1.0)
    f64 = objective(X64, y, model64.coef_, model64.intercept_, 1.0)
    assert_allclose(f32, f64, rtol=1e-6)
    assert model64.coef_.dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
def test_layouts_give_the_same_model(rng, solver):
    X, y = make_data(rng, n_classes=3)
    X[rng.random(X.shape) < 0.3] = 0.0
    reference = SoftmaxRegression(solver=solver, tol=TIGHT).fit(X, y)
    for X_layout in [np.asfortranarray(X), sp.csr_matrix(X), sp.csc_matrix(X)]:
        model = SoftmaxRegression(solver=solver, tol=TIGHT).fit(X_layout, y)
        assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-8)
        assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-8)
        assert_allclose(
            model.predict_proba(X_layout), reference.predict_proba(X), atol=1e-8
        )


# --------------------------------------------------------------------------------------
# 6. Inputs are never modified
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 3.0, 2: 0.5}])
@pytest.mark.parametrize("layout", ["C", "F", "csr", "csc", "float32"])
def test_inputs_not_modified(rng, layout, class_weight):
    X, y = make_data(rng, n_classes=3, n_samples=60)
    X = {
        "C": np.ascontiguousarray(X),
        "F": np.asfortranarray(X),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "float32": X.astype(np.float32),
    }[layout]
    sample_weight = rng.uniform(0.5, 2.0, size=len(y)).astype(X.dtype)
    X_copy, y_copy, sw_copy = X.copy(), y.copy(), sample_weight.copy()
    model = SoftmaxRegression(class_weight=class_weight)
    model.fit(X, y, sample_weight=sample_weight)
    for method in [
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
    ]:
        getattr(model, method)(X)
    if sp.issparse(X):
        assert (X != X_copy).nnz == 0
        assert_array_equal(X.indptr, X_copy.indptr)
        assert_array_equal(X.indices, X_copy.indices)
    else:
        assert_array_equal(X, X_copy)
    assert_array_equal(y, y_copy)
    assert_array_equal(sample_weight, sw_copy)


# --------------------------------------------------------------------------------------
# 7. Bad input
# --------------------------------------------------------------------------------------
def _with(X, i, j, value):
    X = X.copy()
    X[i, j] = value
    return X


@pytest.fixture
def small(rng):
    X, y = make_data(rng, n_classes=3, n_samples=30, n_features=3)
    return X, y


@pytest.mark.parametrize(
    "case, error, match",
    [
        ("nan_X", ValueError, "Input X contains NaN"),
        ("inf_X", ValueError, "Input X contains infinity"),
        ("one_class", ValueError, r"at least 2 classes; got one class: \[1\]"),
        ("negative_sample_weight", ValueError, "Negative values in data passed to"),
        ("zero_sample_weight", ValueError, "at least one non-zero number"),
        ("zero_class_weight", ValueError, "must have a positive sum; got 0.0"),
        (
            "sample_weight_length",
            ValueError,
            re.escape("sample_weight.shape == (29,), expected (30,)"),
        ),
        ("string_X", ValueError, "X must be numeric; could not convert string to"),
        ("object_X", ValueError, "X must be numeric; could not convert string to"),
        ("1d_X", ValueError, "Expected 2D array, got 1D array instead"),
        ("C_zero", ValueError, "The 'C' parameter of SoftmaxRegression must be"),
        ("C_negative", ValueError, "The 'C' parameter of SoftmaxRegression must be"),
        ("solver", ValueError, "The 'solver' parameter of SoftmaxRegression must"),
        ("tol", ValueError, "The 'tol' parameter of SoftmaxRegression must be"),
        ("max_iter", ValueError, "The 'max_iter' parameter of SoftmaxRegression"),
    ],
)
def test_fit_rejects_bad_input(small, case, error, match):
    X, y = small
    args = {
        "nan_X": ({}, _with(X, 0, 1, np.nan), y, None),
        "inf_X": ({}, _with(X, 2, 0, np.inf), y, None),
        "one_class": ({}, X, np.ones_like(y), None),
        "negative_sample_weight": ({}, X, y, np.r_[1.0, -0.5, np.ones(28)]),
        "zero_sample_weight": ({}, X, y, np.zeros(30)),
        "zero_class_weight": ({"class_weight": {0: 0, 1: 0, 2: 0}}, X, y, None),
        "sample_weight_length": ({}, X, y, np.ones(29)),
        "string_X": ({}, [["a", "b"], ["c", "d"]], [0, 1], None),
        "object_X": (
            {},
            np.array([["a", 1.0], ["c", 2.0]], dtype=object),
            [0, 1],
            None,
        ),
        "1d_X": ({}, X[:, 0], y, None),
        "C_zero": ({"C": 0.0}, X, y, None),
        "C_negative": ({"C": -1.0}, X, y, None),
        "solver": ({"solver": "newton"}, X, y, None),
        "tol": ({"tol": -1e-4}, X, y, None),
        "max_iter": ({"max_iter": -1}, X, y, None),
    }[case]
    params, X_bad, y_bad, sample_weight = args
    with pytest.raises(error, match=match):
        SoftmaxRegression(**params).fit(X_bad, y_bad, sample_weight=sample_weight)


def test_strings_that_read_as_numbers_fit_as_those_numbers(small):
    # As LogisticRegression's fit: an array of numeric strings converts to float64.
    X, y = small
    X_str = np.array([[repr(float(v)) for v in row] for row in X])
    assert X_str.dtype.kind == "U"
    from_strings = SoftmaxRegression().fit(X_str, y)
    from_floats = SoftmaxRegression().fit(X, y)
    assert_array_equal(from_strings.coef_, from_floats.coef_)
    assert_array_equal(from_strings.predict_proba(X_str), from_floats.predict_proba(X))


@pytest.mark.parametrize("weight", [-1.0, np.inf, np.nan])
def test_fit_rejects_negative_or_non_finite_class_weight(small, weight):
    X, y = small
    with pytest.raises(ValueError, match="class_weight must be finite and non-neg"):
        SoftmaxRegression(class_weight={0: weight}).fit(X, y)


def test_balanced_class_weight_with_a_weightless_class(small):
    X, y = small
    sample_weight = (y != 2).astype(float)
    with pytest.raises(
        ValueError, match=r"positive total sample_weight.*class\(es\) \[2\]"
    ):
        SoftmaxRegression(class_weight="balanced").fit(
            X, y, sample_weight=sample_weight
        )


@pytest.mark.parametrize("solver", SOLVERS)
def test_weights_on_one_class_meet_tol_in_few_steps(small, solver):
    # With an intercept f* = 0 there (W = 0, b_2 - b_k -> inf), not reached: Newton's
    # decrement relative to f never fell, and auto ran to max_iter (no warning).
    X, y = small
    sample_weight = (y == 2).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(solver=solver).fit(X, y, sample_weight=sample_weight)
    assert model.n_iter_[0] <= 20
    assert np.all(model.predict_proba(X)[:, 2] > 1 - 1e-3)


@pytest.mark.parametrize("solver", ["auto", "newton-cholesky"])
def test_newton_warns_at_max_iter_with_the_gradient_small_and_the_gap_not(solver):
    # Separable classes at a huge C: the gradient meets tol while f is still 100x
    # above f*; Newton's decrement test is unmet at max_iter=10, and the fit warns
    # (as LogisticRegression's newton-cholesky), naming the decrement, not the
    # gradient, which is within tol.
    X, y = make_classification(n_samples=10, n_features=20, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        converged = SoftmaxRegression(solver=solver, C=1e8).fit(X, y)
    short = SoftmaxRegression(solver=solver, C=1e8, max_iter=10)
    with pytest.warns(ConvergenceWarning, match="the last Newton decrement") as record:
        short.fit(X, y)
    assert short.gradient_norm_ <= short.tol
    assert short.objective_ > 100 * converged.objective_
    message = str(record[0].message)
    assert "failed to converge after 10 iteration(s)" in message
    assert "increase max_iter" in message


def test_stop_at_the_precision_floor_says_so_not_increase_max_iter(rng):
    X, y = make_data(rng, n_classes=3, n_samples=200)
    # tol below the rounding of the gradient itself
    model = SoftmaxRegression(tol=1e-20, max_iter=10_000)
    with pytest.warns(ConvergenceWarning, match="out of float64's reach") as record:
        model.fit(X, y)
    assert "increase max_iter" not in str(record[0].message)
    assert f"the gradient reached {model.gradient_norm_:.1e}" in str(record[0].message)
    assert model.n_iter_[0] < 10_000


@pytest.mark.parametrize("method", PREDICT_METHODS)
def test_predict_rejects_bad_input(small, method):
    X, y = small
    predict = getattr(SoftmaxRegression().fit(X, y), method)
    with pytest.raises(ValueError, match="X has 2 features, but SoftmaxRegression is"):
        predict(X[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        predict(_with(X, 0, 0, np.nan))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        predict(X[0])


@pytest.mark.parametrize("method", PREDICT_METHODS)
def test_predict_before_fit(small, method):
    X, _ = small
    with pytest.raises(NotFittedError, match="SoftmaxRegression instance is not fit"):
        getattr(SoftmaxRegression(), method)(X)


def test_dataframe_columns_must_match(small):
    X, y = small
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = SoftmaxRegression().fit(frame, y)
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- z"):
        model.predict(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="must be in the same order as they were"):
        model.predict_proba(frame[["c", "b", "a"]])


# --------------------------------------------------------------------------------------
# 8. warm_start, max_iter, verbose
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_from_converged_model(rng, solver):
    X, y = make_data(rng, n_classes=3)
    model = SoftmaxRegression(solver=solver, tol=TIGHT, warm_start=True).fit(X, y)
    coef, intercept, n_iter = model.coef_.copy(), model.intercept_.copy(), model.n_iter_
    model.fit(X, y)
    assert model.n_iter_[0] <= 2 < n_iter[0]
    assert_allclose(model.coef_, coef, rtol=0, atol=1e-10)
    assert_allclose(model.intercept_, intercept, rtol=0, atol=1e-10)
    # warm_start=False forgets the model: the same iterations as the first fit.
    model.set_params(warm_start=False).fit(X, y)
    assert_array_equal(model.n_iter_, n_iter)


@pytest.mark.parametrize("change", ["labels", "n_classes", "n_features"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_with_new_classes_or_features_starts_from_zero(rng, solver, change):
    X, y = make_data(rng, n_classes=3)
    X_new, y_new = {
        "labels": (X, y + 1),  # same shapes, other classes
        "n_classes": (X, np.minimum(y, 1)),
        "n_features": (X[:, :3], y),  # same classes
    }[change]
    model = SoftmaxRegression(solver=solver, tol=TIGHT, warm_start=True).fit(X, y)
    model.fit(X_new, y_new)
    cold = SoftmaxRegression(solver=solver, tol=TIGHT).fit(X_new, y_new)
    assert_array_equal(model.classes_, cold.classes_)
    assert_array_equal(model.n_iter_, cold.n_iter_)
    assert_allclose(model.coef_, cold.coef_, rtol=0, atol=1e-12)
    assert_allclose(model.intercept_, cold.intercept_, rtol=0, atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter_zero_keeps_the_zero_model(rng, solver):
    X, y = make_data(rng, n_classes=3, n_samples=50)
    C = 2.0
    model = SoftmaxRegression(C=C, solver=solver, max_iter=0)
    with pytest.warns(ConvergenceWarning, match=r"after 0 iteration.*max_iter=0 was"):
        model.fit(X, y)
    assert_array_equal(model.n_iter_, [0])
    assert_array_equal(model.coef_, np.zeros((3, X.shape[1])))
    assert_array_equal(model.intercept_, np.zeros(3))
    assert_allclose(model.objective_, C * len(y) * np.log(3), rtol=1e-12)
    assert_allclose(model.predict_proba(X), 1 / 3)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("drift, C", [(5.0, 1e-3), (5.0, 0.7), (1e-3, 0.7)])
def test_objective_is_that_of_the_centred_model(rng, fit_intercept, drift, C):
    # A warm start whose class rows do not sum to 0: the returned model is centred,
    # which lowers the L2 term (by a lot, or a little: the solver's value with the
    # penalty swapped; at a small C the penalty dominates and F is evaluated
    # there); objective_ must be F of what is returned.
    X, y = make_data(rng, n_classes=3, n_samples=60)
    model = SoftmaxRegression(
        C=C, warm_start=True, max_iter=0, fit_intercept=fit_intercept
    ).fit(X, y)
    centred = rng.standard_normal(model.coef_.shape)
    centred -= centred.mean(axis=0)
    model.coef_ = centred + drift * (1 + rng.standard_normal(model.coef_.shape))
    model.intercept_ = rng.standard_normal(3) + 3.0 * fit_intercept
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)
    assert_allclose(model.coef_.sum(axis=0), 0, atol=1e-12)
    final = objective(X, y, model.coef_, model.intercept_, C)
    assert_allclose(model.objective_, final, rtol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter_one_warns(rng, solver):
    X, y = make_data(rng, n_classes=3, n_samples=50)
    model = SoftmaxRegression(solver=solver, max_iter=1)
    with pytest.warns(ConvergenceWarning, match=r"after 1 iter.*> tol.*increase max"):
        model.fit(X, y)
    assert_array_equal(model.n_iter_, [1])
    assert model.gradient_norm_ > model.tol


@pytest.mark.parametrize("solver", SOLVERS)
def test_verbose_prints_one_line_per_iteration(rng, capsys, solver):
    X, y = make_data(rng, n_classes=3)
    C = 0.5
    model = SoftmaxRegression(C=C, solver=solver, verbose=1, tol=1e-6).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == model.n_iter_[0] > 0
    values = [float(re.search(r"objective\s+(\S+)", line).group(1)) for line in lines]
    assert values == sorted(values, reverse=True)  # descent
    final = objective(X, y, model.coef_, model.intercept_, C)
    assert_allclose(values[-1], final, rtol=1e-11)
    assert_allclose(model.objective_, final, rtol=1e-12)


def test_verbose_line_count_with_rejected_trust_region_steps(capsys):
    X, y = make_classification(
        100,
        5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=2,
        random_state=5,
    )
    model = SoftmaxRegression(C=1e3, solver="trust-ncg", tol=1e-6, verbose=1)
    model.set_params(max_iter=200).fit(X, y)
    assert len(capsys.readouterr().out.splitlines()) == model.n_iter_[0]


# --------------------------------------------------------------------------------------
# 9. Binary relation and symmetric parametrisation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("solver", SOLVERS)
def test_binary_margin_is_logistic_regression(rng, solver, fit_intercept):
    X, y = make_data(rng, n_classes=2)
    C = 0.8
    model = SoftmaxRegression(
        C=C, solver=solver, tol=TIGHT, fit_intercept=fit_intercept
    ).fit(X, y)
    lr = LogisticRegression(C=2 * C, fit_intercept=fit_intercept, **LR_TIGHT).fit(X, y)
    assert model.coef_.shape == (2, X.shape[1])
    assert model.intercept_.shape == (2,)
    assert_allclose(model.coef_[1] - model.coef_[0], lr.coef_[0], rtol=0, atol=1e-6)
    assert_allclose(
        model.intercept_[1] - model.intercept_[0], lr.intercept_[0], rtol=0, atol=1e-6
    )
    assert_allclose(model.decision_function(X), lr.decision_function(X), atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_symmetric_parametrisation(rng, n_classes):
    X, y = make_data(rng, n_classes)
    model = SoftmaxRegression(C=5.0).fit(X, y)
    assert_allclose(model.coef_.sum(axis=0), 0.0, rtol=0, atol=1e-12)
    assert_allclose(model.intercept_.sum(), 0.0, rtol=0, atol=1e-12)
    assert np.all(model.intercept_ != 0)  # the intercepts are fitted, not zeros
    no_intercept = SoftmaxRegression(C=5.0, fit_intercept=False).fit(X, y)
    assert_array_equal(no_intercept.intercept_, np.zeros(n_classes))


# --------------------------------------------------------------------------------------
# 10. Feature names
# --------------------------------------------------------------------------------------
def test_feature_names_and_count(rng):
    X, y = make_data(rng, n_classes=3, n_samples=50, n_features=4)
    columns = ["alpha", "beta", "gamma", "delta"]
    model = SoftmaxRegression().fit(pd.DataFrame(X, columns=columns), y)
    assert_array_equal(model.feature_names_in_, columns)
    assert model.n_features_in_ == 4
    plain = SoftmaxRegression().fit(X[:, :3], y)
    assert plain.n_features_in_ == 3
    assert not hasattr(plain, "feature_names_in_")
    assert plain.coef_.shape == (3, 3)


# --------------------------------------------------------------------------------------
# 11. Sample and class weights
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_integer_weights_equal_repeated_rows(rng, solver):
    X, y = make_data(rng, n_classes=3, n_samples=100)
    counts = rng.integers(0, 4, size=len(y))
    counts[:3] = 1  # keep every class
    weighted = SoftmaxRegression(solver=solver, tol=TIGHT).fit(
        X, y, sample_weight=counts.astype(float)
    )
    repeated = SoftmaxRegression(solver=solver, tol=TIGHT).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts)
    )
    assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-8)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_class_weight_equals_sample_weight(rng, solver):
    X, y = make_data(rng, n_classes=3)
    class_weight = {1: 4.0}  # classes without an entry keep weight 1
    by_class = SoftmaxRegression(
        solver=solver, tol=TIGHT, class_weight=class_weight
    ).fit(X, y)
    by_sample = SoftmaxRegression(solver=solver, tol=TIGHT).fit(
        X, y, sample_weight=np.where(y == 1, 4.0, 1.0)
    )
    assert_allclose(by_class.coef_, by_sample.coef_, rtol=0, atol=1e-8)
    assert_allclose(by_class.intercept_, by_sample.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_balanced_with_sample_weight_matches_logistic_regression(rng, solver):
    X, y = make_data(rng, n_classes=3)
    sample_weight = rng.uniform(0.1, 5.0, size=len(y))
    C = 2.0
    model = SoftmaxRegression(
        C=C, solver=solver, tol=TIGHT, class_weight="balanced"
    ).fit(X, y, sample_weight=sample_weight)
    lr = LogisticRegression(C=C, class_weight="balanced", **LR_TIGHT).fit(
        X, y, sample_weight=sample_weight
    )
    assert_allclose(model.predict_proba(X), lr.predict_proba(X), rtol=0, atol=1e-6)
    # The data tell LR 1.9's weighted "balanced" from one on unweighted counts.
    s = effective_weight(y, 3, sample_weight, "balanced")
    counts = np.bincount(y)
    s_unweighted = sample_weight * (len(y) / (3 * counts))[y]
    assert not np.allclose(s, s_unweighted)
    f = objective(X, y, model.coef_, model.intercept_, C, s)
    assert_allclose(f, objective(X, y, *lr_symmetric(lr), C, s), rtol=1e-8)


@pytest.mark.parametrize("interface", ["spmatrix", "sparray"])
def test_sparsify_and_densify_as_logistic_regression(interface):
    X, y = make_classification(
        n_samples=300, n_features=30, n_informative=5, n_classes=3, random_state=0
    )
    model = SoftmaxRegression(l1_ratio=1.0, C=0.05).fit(X, y)
    dense = model.coef_.copy()
    outputs = {
        method: getattr(model, method)(X)
        for method in ("decision_function", "predict_proba", "predict_log_proba")
    }
    labels = model.predict(X)
    with pytest.raises(NotFittedError, match="must be fitted before sparsifying"):
        SoftmaxRegression().sparsify()
    with sklearn.config_context(sparse_interface=interface):
        model.sparsify()
        lr = LogisticRegression().fit(X, y).sparsify()
    assert type(model.coef_) is type(lr.coef_)
    assert model.coef_.format == "csr"
    assert 0 < model.coef_.nnz == np.count_nonzero(dense) < dense.size / 2
    for data in (X, sp.csr_array(X)):
        for method, want in outputs.items():
            got = getattr(model, method)(data)
            assert isinstance(got, np.ndarray)
            assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert_array_equal(model.predict(data), labels)
    # a warm start takes the sparse coef_ (0 iterations: it is the optimum) and
    # leaves a dense one, as any fit
    model.set_params(warm_start=True).fit(X, y)
    assert isinstance(model.coef_, np.ndarray)
    assert model.n_iter_[0] == 0
    assert_array_equal(model.coef_, dense)
    assert_array_equal(model.sparsify().densify().coef_, dense)
