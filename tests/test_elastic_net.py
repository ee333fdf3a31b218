"""Tests of the L1 / elastic-net fits (``l1_ratio > 0``).

Oracles: LogisticRegression(solver="saga") on the same objective, the objective and
its smooth gradient written here with ``scipy.special`` on float64 copies of the data
(optimality conditions of the non-smooth problem), and invariances (repeated rows,
sparse vs dense layout). No expected value is computed by sklse itself.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from sklearn import datasets
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectFromModel
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
)

from sklse import SoftmaxRegression, SoftmaxRegressionCV

TIGHT = 1e-8  # sklse reaches it without a warning on the data below


def make_data(n_classes=3, n_samples=300, n_features=20, seed=0):
    """Standardised data with 6 informative features out of ``n_features``."""
    X, y = make_classification(
        n_samples,
        n_features,
        n_informative=6,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def objective(X, y, coef, intercept, C, l1_ratio, sample_weight=None):
    """``F = C sum_i s_i CE_i + (1-r)/2 ||W||^2 + r ||W||_1`` in float64."""
    X = X.toarray() if sp.issparse(X) else X
    coef = np.asarray(coef, dtype=np.float64)
    Z = X.astype(np.float64) @ coef.T + np.asarray(intercept, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    data = np.dot(s, logsumexp(Z, axis=1) - Z[np.arange(len(y)), y])
    penalty = (1 - l1_ratio) / 2 * np.sum(coef**2) + l1_ratio * np.sum(np.abs(coef))
    return C * data + penalty


def smooth_gradient(X, y, coef, intercept, C, l1_ratio):
    """Gradient of F without its L1 term, w.r.t. W and b."""
    Z = X @ coef.T + intercept
    residual = softmax(Z, axis=1)
    residual[np.arange(len(y)), y] -= 1
    return C * residual.T @ X + (1 - l1_ratio) * coef, C * residual.sum(axis=0)


def saga(X, y, C, l1_ratio, **params):
    """LogisticRegression's saga fit at tol=1e-10; also says if it converged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        lr = LogisticRegression(
            C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10, max_iter=20000, **params
        ).fit(X, y)
    return lr, not any(w.category is ConvergenceWarning for w in caught)


# --------------------------------------------------------------------------------------
# Against saga and the optimality conditions
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("l1_ratio", [0.25, 0.5, 1.0])
@pytest.mark.parametrize("C", [0.02, 0.2, 2.0])
def test_objective_and_support_match_saga(l1_ratio, C):
    X, y = make_data()
    model = SoftmaxRegression(C=C, l1_ratio=l1_ratio, tol=TIGHT, max_iter=5000)
    model.fit(X, y)
    lr, converged = saga(X, y, C, l1_ratio)
    f_sklse = objective(X, y, model.coef_, model.intercept_, C, l1_ratio)
    f_saga = objective(X, y, lr.coef_, lr.intercept_, C, l1_ratio)
    assert f_sklse <= f_saga * (1 + 1e-6)
    assert_allclose(model.objective_, f_sklse, rtol=1e-12)
    assert 0 < np.count_nonzero(model.coef_) < model.coef_.size  # a sparse model
    if converged:
        assert_array_equal(model.coef_ != 0, lr.coef_ != 0)
        assert_allclose(model.predict_proba(X), lr.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_meets_the_subgradient_optimality_conditions(l1_ratio, fit_intercept):
    # Zero coefficients must be zeros of the optimum (|g| <= r), not stalled
    # iterates; non-zero ones must satisfy g + r * sign(w) = 0.
    X, y = make_data(n_classes=4, seed=1)
    C = 0.3
    model = SoftmaxRegression(
        C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=TIGHT, max_iter=5000
    ).fit(X, y)
    grad_coef, grad_intercept = smooth_gradient(
        X, y, model.coef_, model.intercept_, C, l1_ratio
    )
    zero = model.coef_ == 0
    # The solver's tol is on f = F / (C * n): scale it back to F.
    slack = 10 * TIGHT * C * len(y)
    assert np.all(np.abs(grad_coef[zero]) <= l1_ratio + slack)
    nonzero_residual = grad_coef[~zero] + l1_ratio * np.sign(model.coef_[~zero])
    assert_allclose(nonzero_residual, 0, atol=slack)
    if fit_intercept:
        assert_allclose(grad_intercept, 0, atol=slack)
    assert model.gradient_norm_ <= TIGHT


@pytest.mark.parametrize("name", ["wine", "iris"])  # two classes: another model
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_default_fit_far_from_zero_reaches_sagas_optimum(name, l1_ratio):
    # F is invariant to a shift of the features (the intercepts absorb it), so
    # saga's fit of the centred features has F*. L-BFGS-B on the raw split box
    # stopped at max_iter 54 % to 110 % above it: the intercepts' coupling to W.
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    lr, converged = saga(X, y, 1.0, l1_ratio)
    assert converged
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(l1_ratio=l1_ratio).fit(X + 1e3, y)
    f_star = objective(X, y, lr.coef_, lr.intercept_, 1.0, l1_ratio)
    f_ours = objective(X + 1e3, y, model.coef_, model.intercept_, 1.0, l1_ratio)
    assert f_ours <= f_star * (1 + 1e-6)


@pytest.mark.parametrize("name", ["wine", "iris", "breast_cancer"])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_tight_fit_on_unscaled_features_meets_the_optimality_conditions(name, l1_ratio):
    # Features as they come (wine: scales from 0.1 to 1000): 9098 L-BFGS-B
    # iterations on the raw split box to tol = 1e-9 (wine, 0.5), 168 on
    # standardised variables; the conditions are checked here, in F's units.
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    C, tol = 1.0, 1e-8
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(l1_ratio=l1_ratio, tol=tol, max_iter=1000)
        model.fit(X, y)
    grad_coef, grad_intercept = smooth_gradient(
        X, y, model.coef_, model.intercept_, C, l1_ratio
    )
    zero, slack = model.coef_ == 0, 10 * tol * C * len(y)
    assert np.all(np.abs(grad_coef[zero]) <= l1_ratio + slack)
    residual = grad_coef[~zero] + l1_ratio * np.sign(model.coef_[~zero])
    assert_allclose(residual, 0, atol=slack)
    assert_allclose(grad_intercept, 0, atol=slack)


def test_zeros_are_exact_and_select_from_model_works():
    X, y = make_data(n_features=30)
    model = SoftmaxRegression(C=0.05, l1_ratio=1.0).fit(X, y)  # default tol
    used = np.any(model.coef_ != 0, axis=0)
    assert 0 < used.sum() < X.shape[1]
    small = np.abs(model.coef_[model.coef_ != 0])
    assert small.min() > 1e-8  # no 1e-12 "zeros": zeros are exactly 0.0
    selector = SelectFromModel(model, threshold=1e-300, prefit=True)
    assert_array_equal(selector.get_support(), used)
    assert selector.transform(X).shape[1] == used.sum()


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_two_classes_margin_is_logistic_regression_at_the_mapped_C(l1_ratio):
    # ||W0||_1 + ||W1||_1 >= ||W1 - W0||_1 with equality at W0 = -W1 = -w/2, where
    # the L2 term is ||w||^2 / 4: F = C CE(w) + r ||w||_1 + (1 - r) / 4 ||w||^2,
    # LogisticRegression's objective at C' = 2C / (1 + r), r' = 2r / (1 + r) times
    # (1 + r) / 2. Pure L1: the same C (L2 alone: 2C).
    X, y = make_data(n_classes=2)
    C, r = 0.1, l1_ratio
    model = SoftmaxRegression(C=C, l1_ratio=r, tol=TIGHT, max_iter=5000).fit(X, y)
    lr, _ = saga(X, y, 2 * C / (1 + r), 2 * r / (1 + r))
    assert_allclose(model.coef_[1] - model.coef_[0], lr.coef_[0], atol=1e-5)
    assert_allclose(model.decision_function(X), lr.decision_function(X), atol=1e-5)


# --------------------------------------------------------------------------------------
# Paths and warm starts
# --------------------------------------------------------------------------------------
def test_path_nonzeros_grow_and_warm_start_saves_iterations():
    X, y = make_data(n_features=25)
    Cs = np.geomspace(0.002, 2.0, 8)
    warm = SoftmaxRegression(l1_ratio=1.0, tol=1e-6, max_iter=5000, warm_start=True)
    nonzeros, warm_iters, cold_iters = [], 0, 0
    for C in Cs:
        warm.set_params(C=C).fit(X, y)
        cold = SoftmaxRegression(C=C, l1_ratio=1.0, tol=1e-6, max_iter=5000).fit(X, y)
        nonzeros.append(np.count_nonzero(warm.coef_))
        warm_iters += warm.n_iter_[0]
        cold_iters += cold.n_iter_[0]
        f_warm = objective(X, y, warm.coef_, warm.intercept_, C, 1.0)
        f_cold = objective(X, y, cold.coef_, cold.intercept_, C, 1.0)
        assert_allclose(f_warm, f_cold, rtol=1e-6)
    assert nonzeros[0] == 0  # C below the threshold: the empty model
    assert nonzeros[-1] > 3 * 6  # C large: most informative features in every class
    assert np.all(np.diff(nonzeros) >= 0), nonzeros
    assert warm_iters < cold_iters


def test_infinite_C_ignores_l1_ratio():
    X, y = make_data()
    plain = SoftmaxRegression(C=np.inf, max_iter=500).fit(X[:60], y[:60])
    with pytest.warns(UserWarning, match="l1_ratio=1.0 has no effect with C=np.inf"):
        l1 = SoftmaxRegression(C=np.inf, l1_ratio=1.0, max_iter=500)
        l1.fit(X[:60], y[:60])
    assert_array_equal(l1.coef_, plain.coef_)
    assert_array_equal(l1.intercept_, plain.intercept_)


@pytest.mark.parametrize("solver", ["newton-cg", "trust-ncg"])
def test_hessian_solvers_reject_an_l1_term(solver):
    X, y = make_data()
    with pytest.raises(ValueError, match=f"solver='{solver}' does not support l1"):
        SoftmaxRegression(l1_ratio=0.5, solver=solver).fit(X, y)
    with pytest.warns(UserWarning, match="no effect"):  # no L1 term
        SoftmaxRegression(l1_ratio=0.5, C=np.inf, solver=solver).fit(X, y)


@pytest.mark.parametrize("l1_ratio", [-0.1, 1.5, "0.5"])
def test_l1_ratio_out_of_range_is_rejected(l1_ratio):
    X, y = make_data()
    with pytest.raises((ValueError, TypeError), match="l1_ratio"):
        SoftmaxRegression(l1_ratio=l1_ratio).fit(X, y)


# --------------------------------------------------------------------------------------
# Weights, layouts, dtypes
# --------------------------------------------------------------------------------------
def test_integer_weights_equal_repeated_rows():
    X, y = make_data(n_samples=120)
    weights = np.random.default_rng(0).integers(0, 4, size=len(y))
    params = dict(C=0.3, l1_ratio=0.5, tol=TIGHT, max_iter=5000)
    weighted = SoftmaxRegression(**params).fit(X, y, sample_weight=weights)
    repeated = SoftmaxRegression(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)
    assert_array_equal(weighted.coef_ != 0, repeated.coef_ != 0)
    assert_allclose(weighted.objective_, repeated.objective_, rtol=1e-10)


def check_style_data():
    """sklearn's check_sample_weight_equivalence data: 15 x 30, 3 classes, weights."""
    rng = np.random.RandomState(42)
    X, y = rng.rand(15, 30), rng.randint(0, 3, size=15)
    return X, y, rng.randint(0, 5, size=15)


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_small_l1_fits_at_default_tol_equal_repeated_rows_to_rounding(C):
    # L-BFGS-B alone stops anywhere within tol = 1e-4: weighted and repeated rows
    # ended ~1e-6 apart in probability, F up to ~1e-4 above its optimum. Newton
    # steps on the orthant of its answer converge quadratically: both end at the
    # optimum up to the square of that gap and to rounding.
    X, y, weights = check_style_data()
    params = dict(C=C, l1_ratio=0.5)
    weighted = SoftmaxRegression(**params).fit(X, y, sample_weight=weights)
    repeated = SoftmaxRegression(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert weighted.gradient_norm_ <= 1e-4 and repeated.gradient_norm_ <= 1e-4
    assert_array_equal(weighted.coef_ != 0, repeated.coef_ != 0)
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-9, atol=1e-12)
    tight = SoftmaxRegression(**params, tol=1e-10, max_iter=10000)
    tight.fit(X, y, sample_weight=weights)
    assert_allclose(weighted.objective_, tight.objective_, rtol=1e-7)


# sklearn's check on pure L1 where the Newton steps that end small L1 fits once
# failed it: C=2 (L-BFGS-B on the split problem ran out of max_iter=100 before tol,
# so no Newton step was taken), C=100 (L-BFGS-B's answer at tol had other signs than
# the optimum, and the Newton steps from it stalled: its steps along the columns'
# shift, where pure L1 is linear, and from a singular Hessian), and a path through
# both.
@pytest.mark.parametrize(
    "estimator",
    [
        SoftmaxRegression(C=2.0, l1_ratio=1.0),
        SoftmaxRegression(C=100.0, l1_ratio=1.0),
        SoftmaxRegressionCV(Cs=(1.0, 10.0, 100.0), l1_ratios=(1.0,)),
    ],
    ids=repr,
)
@pytest.mark.parametrize(
    "check",
    [
        check_sample_weight_equivalence_on_dense_data,
        check_sample_weight_equivalence_on_sparse_data,
    ],
    ids=["dense", "sparse"],
)
def test_pure_l1_passes_sklearns_sample_weight_equivalence(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        check(type(estimator).__name__, estimator)


def test_pure_l1_optimum_has_columns_of_median_zero():
    # Adding c to a feature's coefficient in every class changes no softmax, so at
    # the optimum of pure L1 no such shift lowers ||W[:, j]||_1: the median of every
    # column is 0 (three classes: an exact zero in each). Unscaled iris at C=100:
    # the fit at tol once kept a column of median 0.65, F 0.2 % above its minimum.
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(C=100.0, l1_ratio=1.0, max_iter=1000).fit(X, y)
    assert_array_equal(np.median(model.coef_, axis=0), 0.0)
    assert model.gradient_norm_ <= model.tol


def test_orthant_newton_never_undoes_a_converged_l1_fit():
    # Here the L-BFGS-B answer at tol has other signs than the optimum: the Newton
    # steps that end the fit free and zero coefficients on the way. Whatever they
    # do, the fit meets tol without a warning (the answer that met tol stands
    # where they do not).
    X, y, weights = check_style_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(C=100.0, l1_ratio=1.0).fit(X, y, weights)
    assert model.gradient_norm_ <= model.tol


def test_class_weight_is_sample_weight_per_class():
    X, y = make_data()
    class_weight = {0: 0.5, 1: 2.0, 2: 1.0}
    params = dict(C=0.3, l1_ratio=0.5, tol=TIGHT, max_iter=5000)
    by_class = SoftmaxRegression(class_weight=class_weight, **params).fit(X, y)
    by_sample = SoftmaxRegression(**params).fit(
        X, y, sample_weight=np.array([class_weight[k] for k in y])
    )
    assert_allclose(by_class.coef_, by_sample.coef_, atol=1e-7)
    lr, converged = saga(X, y, 0.3, 0.5, class_weight=class_weight)
    s = np.array([class_weight[k] for k in y])
    f_sklse = objective(X, y, by_class.coef_, by_class.intercept_, 0.3, 0.5, s)
    assert f_sklse <= objective(X, y, lr.coef_, lr.intercept_, 0.3, 0.5, s) * (1 + 1e-6)


@pytest.mark.parametrize("layout", [sp.csr_matrix, sp.csc_matrix])
def test_sparse_x_gives_the_dense_fit(layout):
    X, y = make_data()
    X[np.abs(X) < 0.7] = 0.0  # ~50 % zeros
    params = dict(C=0.2, l1_ratio=0.5, tol=TIGHT, max_iter=5000)
    dense = SoftmaxRegression(**params).fit(X, y)
    sparse = SoftmaxRegression(**params).fit(layout(X), y)  # solver="auto": lbfgs
    assert_allclose(sparse.coef_, dense.coef_, atol=1e-7)
    assert_array_equal(sparse.coef_ != 0, dense.coef_ != 0)


def test_float32_keeps_its_dtype_and_the_objective():
    X, y = make_data()
    params = dict(C=0.2, l1_ratio=0.5, tol=1e-5, max_iter=5000)
    model64 = SoftmaxRegression(**params).fit(X, y)
    model32 = SoftmaxRegression(**params).fit(X.astype(np.float32), y)
    assert model32.coef_.dtype == np.float32
    f32 = objective(X, y, model32.coef_, model32.intercept_, 0.2, 0.5)
    f64 = objective(X, y, model64.coef_, model64.intercept_, 0.2, 0.5)
    assert_allclose(f32, f64, rtol=1e-5)
    assert np.count_nonzero(model32.coef_) < model32.coef_.size


def test_converged_l1_fit_is_the_best_iterate_and_meets_tol():
    # Iterates of the split problem can meet tol at a higher f than an earlier
    # iterate (here at iteration 171); the fit must go on until its answer, the best
    # iterate, meets tol, not stop and warn (seen in review).
    X, y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(C=20.0, l1_ratio=0.25, max_iter=1000).fit(X, y)
    assert model.gradient_norm_ <= model.tol
    f = objective(X, y, model.coef_, model.intercept_, 20.0, 0.25)
    assert_allclose(model.objective_, f, rtol=1e-12)


def test_an_unconverged_l1_fit_does_not_suggest_trust_ncg():
    X, y = make_data()
    # tol below the float64 floor of the gradient (its rounding, ~1e-16 here): the
    # remedy is about tol, not max_iter.
    with pytest.warns(ConvergenceWarning, match="a larger tol") as caught:
        SoftmaxRegression(C=20.0, l1_ratio=0.5, tol=1e-20, max_iter=5000).fit(X, y)
    assert "trust-ncg" not in str(caught[0].message)
