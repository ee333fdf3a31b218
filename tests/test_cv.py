"""SoftmaxRegressionCV against independent references.

The oracles: GridSearchCV of SoftmaxRegression and LogisticRegressionCV on the same
grid, folds and scoring; SoftmaxRegression fitted on each fold by hand and scored by
scikit-learn's scorers; the selection rules written here from ``scores_``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.base import clone
from sklearn.callback import FitCallback
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import get_scorer, log_loss
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklse._path
from sklse import SoftmaxRegression, SoftmaxRegressionCV
from sklse._path import _warm_start

TIGHT = 1e-8  # every fit well below the agreement tolerances below
CS = np.logspace(-2, 2, 5)


def make_data(rng, n_classes=3, n_samples=150, n_features=4):
    """Return standardised X and labels drawn from a softmax model (not separable)."""
    X = rng.standard_normal((n_samples, n_features))
    proba = softmax(X @ rng.standard_normal((n_classes, n_features)).T, axis=1)
    y = (rng.random((n_samples, 1)) > np.cumsum(proba, axis=1)).sum(axis=1)
    return X, np.minimum(y, n_classes - 1)


# cv=3, as scikit-learn's own checks of LogisticRegressionCV:
# check_sparsify_coefficients fits 9 samples, 3 per class, which the default 5
# stratified folds cannot split (LogisticRegressionCV() fails it there too).
# The default (L2) path and an elastic-net one: on the checks' small data every L1
# point ends with Newton steps on its orthant, so weighted and repeated rows give
# the same path up to rounding (check_sample_weight_equivalence). The L1 path has
# a grid of its own: at the default's smallest C (1e-4) the optimum is the
# all-zero model, which on the balanced iris of
# check_non_transformer_estimators_n_iter is the zero start itself (0 iterations,
# where the check asks for at least 1).
@parametrize_with_checks(
    [
        SoftmaxRegressionCV(cv=3),
        SoftmaxRegressionCV(cv=3, Cs=(0.01, 0.1, 1.0, 10.0, 100.0), l1_ratios=(0.5,)),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_matches_grid_search_of_softmax_regression(rng, class_weight):
    X, y = make_data(rng)
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    ratios = (0.0, 0.5)
    tight = {"tol": TIGHT, "max_iter": 1000, "class_weight": class_weight}
    cv = SoftmaxRegressionCV(Cs=CS, l1_ratios=ratios, cv=folds, **tight).fit(X, y)
    search = GridSearchCV(
        SoftmaxRegression(**tight),
        {"C": CS, "l1_ratio": ratios},
        cv=folds,
        scoring="neg_log_loss",
    ).fit(X, y)
    results = search.cv_results_
    # ParameterGrid varies l1_ratio fastest: (C, l1_ratio) row-major.
    for k in range(len(folds)):
        grid_scores = results[f"split{k}_test_score"].reshape(len(CS), len(ratios))
        assert_allclose(cv.scores_[k], grid_scores.T, rtol=0, atol=1e-6)
    assert (cv.C_, cv.l1_ratio_) == (
        search.best_params_["C"],
        search.best_params_["l1_ratio"],
    )
    best = search.best_estimator_
    assert_allclose(cv.coef_, best.coef_, rtol=1e-4, atol=1e-6)
    assert_allclose(cv.intercept_, best.intercept_, rtol=1e-4, atol=1e-6)
    # The fold models are SoftmaxRegression's, fitted there from scratch.
    train = folds[1][0]
    model = SoftmaxRegression(C=CS[3], l1_ratio=0.5, **tight).fit(X[train], y[train])
    assert_allclose(cv.coefs_paths_[1, 1, 3, :, :-1], model.coef_, rtol=1e-4, atol=1e-6)
    assert_allclose(cv.coefs_paths_[1, 1, 3, :, -1], model.intercept_, atol=1e-6)


@pytest.mark.parametrize(
    "log_C",
    [np.linspace(-4, 4, 6), np.array([-3.0, -2.5, -1.0, 0.0, 2.0, 2.5])],
    ids=["uniform", "uneven"],
)
def test_ridge_warm_start_follows_a_path_linear_in_log_C(rng, log_C):
    # A separable problem's ridge path grows about linearly in log C: the start
    # is the secant extrapolation, exact on such a path whatever the grid.
    a, b = rng.standard_normal((2, 7))
    Cs, solutions = np.exp(log_C), {}
    for j, u in enumerate(log_C):
        if j >= 2:
            start = _warm_start(solutions, Cs, np.zeros(1), 0, j, 7)
            assert_allclose(start, a + b * u, rtol=1e-12, atol=1e-12)
        solutions[0, j] = a + b * u


def test_ridge_warm_start_follows_a_saturating_path(rng):
    # Without separation the path tends to the unpenalised optimum, W(C) - W(inf)
    # ~ 1 / C: on a log-spaced grid each change is the last one times C_j-1 / C_j,
    # which the start predicts from the ratio of the last two changes, where the
    # secant would predict the last change again.
    W_inf, a = rng.standard_normal((2, 7))
    Cs, solutions = np.logspace(-1, 4, 6), {}
    for j, C in enumerate(Cs):
        start = _warm_start(solutions, Cs, np.zeros(1), 0, j, 7)
        if j >= 3:
            assert_allclose(start, W_inf - a / C, rtol=1e-12, atol=1e-12)
        solutions[0, j] = W_inf - a / C


def test_a_settled_path_starts_where_it_ended(rng):
    # After a point whose start already met tol, the next starts at that solution,
    # not extrapolated: the fold's loss then reuses its data sums (tested in
    # test_loss.py), and a point that meets tol there costs no pass over X.
    W_inf, a = rng.standard_normal((2, 7))
    Cs, solutions = np.logspace(-1, 4, 6), {}
    for j in range(3):
        solutions[0, j] = W_inf - a / Cs[j]
    moved = _warm_start(solutions, Cs, np.zeros(1), 0, 3, 7)
    assert not np.array_equal(moved, solutions[0, 2])
    settled = _warm_start(solutions, Cs, np.zeros(1), 0, 3, 7, settled=True)
    assert_array_equal(settled, solutions[0, 2])


def test_ridge_warm_start_is_never_faster_than_the_secant(rng):
    # Where the path speeds up (W ~ C at the smallest C) the start is the secant's.
    a = rng.standard_normal(7)
    Cs = np.logspace(-4, 0, 5)
    solutions = {(0, j): a * C for j, C in enumerate(Cs[:3])}
    secant = 2 * solutions[0, 2] - solutions[0, 1]
    assert_allclose(_warm_start(solutions, Cs, np.zeros(1), 0, 3, 7), secant)
    # L1 paths (kinks where coefficients leave 0) start from the point before.
    assert_array_equal(_warm_start(solutions, Cs, np.ones(1), 0, 3, 7), a * Cs[2])


def test_warm_started_path_takes_fewer_iterations_than_cold_fits(rng):
    X, y = make_data(rng)
    folds = list(StratifiedKFold(4).split(X, y))
    cv = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=TIGHT).fit(X, y)
    cold = sum(
        SoftmaxRegression(C=C, tol=TIGHT).fit(X[train], y[train]).n_iter_[0]
        for C in CS
        for train, _ in folds
    )
    assert cv.n_iter_.sum() < 0.9 * cold


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_logistic_regression_cv(rng, fit_intercept):
    X, y = make_data(rng, n_classes=4, n_samples=200)
    folds = list(StratifiedKFold(5).split(X, y))
    common = {"Cs": CS, "cv": folds, "scoring": "neg_log_loss", "max_iter": 1000}
    cv = SoftmaxRegressionCV(tol=TIGHT, fit_intercept=fit_intercept, **common)
    cv.fit(X, y)
    lr = LogisticRegressionCV(
        l1_ratios=(0.0,),
        tol=1e-10,
        fit_intercept=fit_intercept,
        use_legacy_attributes=False,
        **common,
    ).fit(X, y)
    assert cv.scores_.shape == lr.scores_.shape == (5, 1, len(CS))
    assert_allclose(cv.scores_, lr.scores_, rtol=0, atol=1e-6)
    assert cv.C_ == lr.C_ and cv.l1_ratio_ == lr.l1_ratio_
    assert cv.coefs_paths_.shape == lr.coefs_paths_.shape
    assert_allclose(cv.coefs_paths_, lr.coefs_paths_, rtol=1e-4, atol=1e-5)
    assert_allclose(cv.coef_, lr.coef_, rtol=1e-4, atol=1e-6)
    assert_allclose(cv.intercept_, lr.intercept_, rtol=1e-4, atol=1e-6)


def test_int_Cs_is_logistic_regression_cvs_grid(rng):
    X, y = make_data(rng)
    lr = LogisticRegressionCV(
        Cs=4,
        cv=3,
        l1_ratios=(0.0,),
        scoring="neg_log_loss",
        use_legacy_attributes=False,
    ).fit(X, y)
    cv = SoftmaxRegressionCV(Cs=4, l1_ratios=(0.0, 1.0), cv=3).fit(X, y)
    assert_array_equal(cv.Cs_, lr.Cs_)


def test_a_grid_keeps_its_order(rng):
    # As LogisticRegressionCV: Cs_ and the columns of the path's arrays in the order
    # given; the path itself runs from the smallest C up, the same fits.
    X, y = make_data(rng)
    folds = list(StratifiedKFold(3).split(X, y))
    order = [3, 0, 4, 2, 1]
    shuffled = SoftmaxRegressionCV(Cs=CS[order], cv=folds).fit(X, y)
    ascending = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    assert_array_equal(shuffled.Cs_, CS[order])
    for name in ("scores_", "n_iter_", "coefs_paths_"):
        assert_array_equal(
            getattr(shuffled, name), getattr(ascending, name)[:, :, order], name
        )
    assert shuffled.C_ == ascending.C_
    assert CS[order][shuffled.best_index_[1]] == ascending.C_
    assert_array_equal(shuffled.coef_, ascending.coef_)


def test_infinite_C_is_the_unpenalised_fit(rng):
    X, y = make_data(rng)
    folds = list(StratifiedKFold(3).split(X, y))
    cv = SoftmaxRegressionCV(Cs=[1.0, np.inf], cv=folds, tol=TIGHT).fit(X, y)
    train = folds[0][0]
    free = SoftmaxRegression(C=np.inf, tol=TIGHT).fit(X[train], y[train])
    assert_allclose(cv.coefs_paths_[0, 0, 1, :, :-1], free.coef_, rtol=1e-5, atol=1e-7)


def test_attribute_layout(rng):
    X, y = make_data(rng, n_features=3)
    cv = SoftmaxRegressionCV(Cs=4, l1_ratios=(0.0, 0.5, 1.0), cv=3).fit(X, y)
    assert cv.Cs_.shape == (4,)
    assert cv.mean_scores_.shape == cv.std_errors_.shape == (3, 4)
    assert cv.scores_.shape == cv.n_iter_.shape == (3, 3, 4)
    assert cv.coefs_paths_.shape == (3, 3, 4, 3, 3 + 1)
    assert_allclose(cv.mean_scores_, cv.scores_.mean(axis=0))
    assert_allclose(cv.std_errors_, np.std(cv.scores_, axis=0, ddof=1) / np.sqrt(3))
    assert_array_equal(cv.l1_ratios_, [0.0, 0.5, 1.0])
    m, j = cv.best_index_
    assert cv.mean_scores_[m, j] == cv.mean_scores_.max()
    assert (cv.C_, cv.l1_ratio_) == (cv.Cs_[j], cv.l1_ratios_[m])
    assert isinstance(cv.C_, float) and isinstance(cv.l1_ratio_, float)


def test_one_standard_error_rule(rng):
    X, y = make_data(rng, n_samples=120)
    Cs = np.logspace(-3, 3, 13)
    folds = list(StratifiedKFold(5).split(X, y))
    best = SoftmaxRegressionCV(Cs=Cs, cv=folds).fit(X, y)
    cv = SoftmaxRegressionCV(Cs=Cs, cv=folds, select="1se").fit(X, y)
    assert_array_equal(cv.scores_, best.scores_)
    mean = cv.scores_[:, 0].mean(axis=0)
    top = np.argmax(mean)
    se = cv.scores_[:, 0, top].std(ddof=1) / np.sqrt(5)
    within = np.flatnonzero(mean >= mean[top] - se)
    assert cv.C_ == Cs[within[0]] < best.C_ == Cs[top]
    refit = SoftmaxRegression(C=cv.C_).fit(X, y)
    assert_allclose(cv.coef_, refit.coef_, rtol=1e-3, atol=1e-4)


def test_sample_weight_in_fits_and_scores(rng):
    X, y = make_data(rng)
    s = rng.uniform(0.0, 3.0, size=len(y))
    folds = list(StratifiedKFold(3).split(X, y))
    cv = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=TIGHT).fit(X, y, sample_weight=s)
    train, test = folds[2]
    model = SoftmaxRegression(C=CS[1], tol=TIGHT).fit(X[train], y[train], s[train])
    expected = -log_loss(y[test], model.predict_proba(X[test]), sample_weight=s[test])
    assert_allclose(cv.scores_[2, 0, 1], expected, rtol=1e-6)
    refit = SoftmaxRegression(C=cv.C_, tol=TIGHT).fit(X, y, s)
    assert_allclose(cv.coef_, refit.coef_, rtol=1e-5, atol=1e-7)


def test_metadata_routing_groups_and_sample_weight(rng):
    X, y = make_data(rng)
    groups = np.arange(len(y)) % 5
    s = rng.uniform(0.5, 2.0, size=len(y))
    folds = list(GroupKFold(5).split(X, y, groups))
    by_folds = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y, sample_weight=s)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = get_scorer("accuracy").set_score_request(sample_weight=True)
        routed = SoftmaxRegressionCV(Cs=CS, cv=GroupKFold(5))
        routed.set_fit_request(sample_weight=True).fit(X, y, groups=groups)
        weighted = SoftmaxRegressionCV(Cs=CS, cv=GroupKFold(5), scoring=scorer)
        weighted.set_fit_request(sample_weight=True)
        weighted.fit(X, y, groups=groups, sample_weight=s)
    unweighted = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    assert_array_equal(routed.scores_, unweighted.scores_)
    accuracy = clone(by_folds).set_params(scoring="accuracy").fit(X, y, sample_weight=s)
    assert_array_equal(weighted.scores_, accuracy.scores_)


def test_groups_without_routing_raise(rng):
    X, y = make_data(rng)
    with pytest.raises(ValueError, match="groups"):
        SoftmaxRegressionCV(cv=GroupKFold(3)).fit(X, y, groups=np.arange(len(y)))


def test_training_fold_missing_a_class(rng):
    X, y = make_data(rng)
    y[:4], y[4:][y[4:] == 3] = 3, 0  # class 3 only in the first test fold
    cv = SoftmaxRegressionCV(Cs=CS, cv=KFold(5)).fit(X, y)
    assert cv.coefs_paths_.shape[3] == 4
    assert np.all(np.isfinite(cv.scores_))
    # The first fold never saw class 3 and gives it a small probability.
    coef = cv.coefs_paths_[0, 0, 2]
    proba = softmax(X[:4] @ coef[:, :-1].T + coef[:, -1], axis=1)
    assert np.all(proba[:, 3] < 0.05)
    assert cv.predict_proba(X).shape == (len(y), 4)


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton-cg", "trust-ncg"])
def test_one_class_in_a_training_fold_is_fitted(rng, solver):
    # As LogisticRegressionCV: the fold's model gives the missing class a small
    # probability. Its f* = 0 is not reached (b_0 - b_1 -> inf): Newton's relative
    # decrement test would never hold there and ran every point to max_iter.
    X, y = make_data(rng, n_samples=60)
    y[:] = 0
    y[:10] = 1  # the first fold's training rows are all of class 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cv = SoftmaxRegressionCV(cv=KFold(6), solver=solver).fit(X, y)
    assert np.all(cv.n_iter_[0] < 30)
    coef = cv.coefs_paths_[0, 0]  # (Cs, classes, features + 1)
    logits = X[:10] @ coef[..., :-1].transpose(0, 2, 1) + coef[:, None, :, -1]
    proba = softmax(logits, axis=-1)
    assert np.all(proba[..., 1] < 1e-3)
    assert np.all(np.isfinite(cv.scores_))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"Cs": []}, "Cs must be a positive int or a non-empty 1-D array"),
        ({"Cs": [1.0, -1.0]}, r"array of C > 0; got \[1.0, -1.0\]"),
        ({"Cs": [1.0, np.nan]}, "Cs must be a positive int or a non-empty"),
        ({"Cs": 0}, "'Cs' parameter of SoftmaxRegressionCV must be"),
        ({"l1_ratios": []}, "l1_ratios must be a non-empty 1-D array of numbers"),
        ({"l1_ratios": [0.5, 1.5]}, r"in \[0, 1\]; got \[0.5, 1.5\]"),
        ({"l1_ratios": [0.5], "solver": "newton-cg"}, "does not support l1_ratio"),
        # before any fit, not after the first fold's l1_ratio = 0 path
        ({"l1_ratios": [0, 0.5], "solver": "newton-cholesky"}, "does not support l1"),
        ({"select": "max"}, "'select' parameter of SoftmaxRegressionCV must be"),
        ({"cv": []}, r"cv=\[\] gives no \(train, test\) split"),
        ({"select": "1se", "cv": [(np.arange(30), np.arange(30, 60))]}, "2 folds"),
    ],
)
def test_bad_parameters_raise(rng, params, match):
    X, y = make_data(rng, n_samples=60)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionCV(**params).fit(X, y)


@pytest.mark.parametrize("scoring", ["neg_log_loss", "accuracy"])
def test_a_test_fold_of_zero_weights_raises_before_any_fit(rng, scoring):
    X, y = make_data(rng, n_samples=60)
    s = np.r_[np.zeros(20), np.ones(40)]
    cv = [(np.arange(20, 60), np.arange(20)), (np.arange(40), np.arange(40, 60))]
    # LogisticRegressionCV's message (its scorer's check) for either scoring
    with pytest.raises(ValueError, match="at least one non-zero number"):
        SoftmaxRegressionCV(Cs=3, cv=cv, scoring=scoring).fit(X, y, sample_weight=s)


def test_sparse_and_float32_give_the_same_path(rng):
    X, y = make_data(rng)
    folds = list(StratifiedKFold(3).split(X, y))
    dense = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=TIGHT).fit(X, y)
    csr = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=TIGHT).fit(sp.csr_matrix(X), y)
    assert_allclose(csr.scores_, dense.scores_, rtol=1e-7)
    assert_allclose(csr.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    f32 = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-4).fit(X.astype(np.float32), y)
    assert f32.coefs_paths_.dtype == f32.coef_.dtype == np.float32
    assert f32.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert_allclose(f32.scores_, dense.scores_, rtol=1e-3)


def test_refit_false_averages_each_folds_best_as_logistic_regression_cv():
    # Standardised iris: the folds' best C differ, so the mean of the best mean
    # score's fold models (this estimator's rule before) is another model.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    common = {"Cs": np.logspace(-2, 3, 12), "cv": folds, "refit": False}
    common.update(scoring="neg_log_loss", max_iter=10000)
    cv = SoftmaxRegressionCV(tol=TIGHT, **common).fit(X, y)
    lr = LogisticRegressionCV(
        l1_ratios=(0.0,), tol=1e-10, use_legacy_attributes=False, **common
    ).fit(X, y)
    best = [np.argmax(fold[0]) for fold in lr.scores_]
    assert len(set(best)) > 1
    assert_allclose(cv.C_, lr.C_, rtol=1e-12)
    assert cv.l1_ratio_ == lr.l1_ratio_ == 0.0
    assert_allclose(cv.coef_, lr.coef_, rtol=1e-4, atol=1e-5)
    assert_allclose(cv.intercept_, lr.intercept_, rtol=1e-4, atol=1e-5)
    # With select="1se" the chosen point's fold models are averaged.
    se = SoftmaxRegressionCV(tol=TIGHT, select="1se", **common).fit(X, y)
    mean = se.coefs_paths_[:, *se.best_index_].mean(axis=0)
    assert_allclose(se.coef_, mean[:, :-1])
    assert se.C_ == se.Cs_[se.best_index_[1]]


def test_n_jobs_gives_the_same_fit_and_bounds_block_threads(rng, monkeypatch):
    X, y = make_data(rng)
    one = SoftmaxRegressionCV(Cs=CS, cv=4).fit(X, y)
    seen = []
    loss = sklse._path.numpy_loss

    def spy(estimator, X, y_encoded, n_classes, sample_weight, n_threads=None, **kw):
        seen.append(n_threads)
        return loss(estimator, X, y_encoded, n_classes, sample_weight, n_threads, **kw)

    monkeypatch.setattr("sklse._path.numpy_loss", spy)
    monkeypatch.setattr("sklse._cv.effective_n_threads", lambda: 4)
    two = SoftmaxRegressionCV(Cs=CS, cv=4, n_jobs=2).fit(X, y)
    assert_array_equal(two.scores_, one.scores_)
    assert_array_equal(two.coef_, one.coef_)
    assert seen[:4] == [2, 2, 2, 2]  # 4 threads shared by 2 jobs; then the refit


class Recorder(FitCallback):
    """Record each hook's task path and the model's coef_ where it has one."""

    def __init__(self):
        self.events = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def _record(self, hook, context, fitted_estimator):
        path = []
        while context is not None:
            path.append((context.task_name, context.task_id))
            context = context.parent
        model = None if fitted_estimator is None else fitted_estimator.coef_.copy()
        self.events.append((hook, tuple(reversed(path)), model))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self._record("begin", context, fitted_estimator)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self._record("end", context, fitted_estimator)


def test_jobs_on_threads_leave_the_warnings_filters_as_found(rng):
    # Each job rebuilds the filters inside catch_warnings (sklearn's delayed); on
    # threads their saves and restores interleave, and the last one out left its
    # copy, with the caller's module names compiled, in 2 of 3 fits here.
    X, y = make_data(rng, n_classes=4, n_samples=300, n_features=20)
    with warnings.catch_warnings():
        warnings.filters.insert(0, ("default", None, DeprecationWarning, "__main__", 0))
        before = list(warnings.filters)
        for _ in range(6):
            SoftmaxRegressionCV(Cs=3, cv=3, n_jobs=2).fit(X, y)
            assert warnings.filters == before


def test_callbacks_follow_the_path(rng):
    X, y = make_data(rng)
    recorder = Recorder()
    cv = SoftmaxRegressionCV(Cs=3, l1_ratios=(0.0, 1.0), cv=2)
    cv.set_callbacks(recorder).fit(X, y)
    ends = [event for event in recorder.events if event[0] == "end"]
    names = [tuple(name for name, _ in path) for _, path, _ in ends]
    points = [("fit", "fold-path", "path-point")] * 6
    assert names == points + [("fit", "fold-path")] + points + [
        ("fit", "fold-path"),
        ("fit", "refit"),
        ("fit",),
    ]
    # Each point's model is the fold's model there (coef_ without intercept).
    for index, (_, _, coef) in enumerate(ends[7:13]):
        m, j = divmod(index, 3)
        assert_allclose(coef, cv.coefs_paths_[1, m, j, :, :-1])
    assert_allclose(ends[-2][2], cv.coef_)


class StopAt(Recorder):
    """Record, and ask to stop at the end of the ``after``-th task named ``name``."""

    def __init__(self, name, after):
        super().__init__()
        self.name, self.after, self.seen = name, after, 0

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)
        if context.task_name == self.name:
            self.seen += 1
            return self.seen == self.after
        return False


@pytest.mark.parametrize("name, fitted", [("path-point", 3), ("fold-path", 5)])
def test_a_callback_stop_ends_the_path_with_a_usable_model(rng, name, fitted):
    X, y = make_data(rng)
    folds = list(StratifiedKFold(3).split(X, y))
    stopper = StopAt(name, after=3 if name == "path-point" else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cv = SoftmaxRegressionCV(Cs=CS, cv=folds).set_callbacks(stopper).fit(X, y)
    full = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    # The first fold fitted its first points, as the full fit did; nothing more.
    assert_array_equal(cv.scores_[0, 0, :fitted], full.scores_[0, 0, :fitted])
    assert np.isnan(cv.scores_[0, 0, fitted:]).all() and np.isnan(cv.scores_[1:]).all()
    assert (cv.n_iter_[0, 0, fitted:] == 0).all() and (cv.n_iter_[1:] == 0).all()
    assert np.isnan(cv.coefs_paths_[1:]).all()
    assert_array_equal(cv.mean_scores_[0, :fitted], full.scores_[0, 0, :fitted])
    # The best of the fitted points, its fold model kept (no refit after a stop).
    j = np.argmax(full.scores_[0, 0, :fitted])
    assert cv.best_index_ == (0, j) and cv.C_ == CS[j]
    assert_allclose(cv.coef_, cv.coefs_paths_[0, 0, j, :, :-1])
    assert_allclose(cv.intercept_, cv.coefs_paths_[0, 0, j, :, -1])
    assert cv.predict_proba(X).shape == (len(y), 3)
    names = {path[-1][0] for _, path, _ in stopper.events}
    assert "refit" not in names


def test_progress_bar_over_the_path(rng):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = make_data(rng)
    cv = SoftmaxRegressionCV(Cs=3, cv=2).set_callbacks(ProgressBar()).fit(X, y)
    assert cv.coef_.shape == (3, X.shape[1])


def test_a_nan_score_makes_its_points_mean_nan(rng):
    # As GridSearchCV: a fitted point's NaN score stays in its mean (only points a
    # callback's stop left unfitted are left out), and that point is never chosen.
    X, y = make_data(rng)
    folds = list(StratifiedKFold(3).split(X, y))
    calls = []

    def score(model, X_test, y_test):  # called fold by fold, from the smallest C
        calls.append(None)
        if len(calls) == 4:  # the first fold's CS[3]
            return np.nan
        return -log_loss(y_test, model.predict_proba(X_test), labels=[0, 1, 2])

    cv = SoftmaxRegressionCV(Cs=CS, cv=folds, scoring=score).fit(X, y)
    assert np.isnan(cv.scores_[0, 0, 3]) and np.isnan(cv.mean_scores_[0, 3])
    assert np.isfinite(np.delete(cv.mean_scores_[0], 3)).all()
    expected = np.nanargmax(
        np.where(np.arange(len(CS)) == 3, np.nan, cv.mean_scores_[0])
    )
    assert cv.best_index_ == (0, expected)


def test_not_converged_warns_once(rng):
    X, y = make_data(rng)
    with pytest.warns(ConvergenceWarning, match=r"of 16 fits \(path and refit\)"):
        SoftmaxRegressionCV(Cs=CS, cv=3, max_iter=1).fit(X, y)
    # LogisticRegression's filter applies, as to SoftmaxRegression's warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="lbfgs failed to converge")
        SoftmaxRegressionCV(Cs=CS, cv=3, max_iter=1).fit(X, y)


def test_a_tol_out_of_reach_is_not_blamed_on_max_iter(rng, monkeypatch):
    X, y = make_data(rng)
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegressionCV(Cs=CS[:2], cv=2, tol=0.0, max_iter=10000).fit(X, y)
    (message,) = [str(warning.message) for warning in record]
    assert (
        "5 of 5 fits" in message
        and "5 stopped before max_iter" in message
        and "use a larger tol" in message
    )
    assert "increase max_iter" not in message
    # An L1 point that stalls warm-started runs again from 0; n_iter_ counts both
    # runs, which can pass max_iter where neither reached it.
    runs, minimize = [], sklse._path.minimize

    def counted(*args, **kwargs):
        result = minimize(*args, **kwargs)
        runs.append(result.n_iter)
        return result

    monkeypatch.setattr(sklse._path, "minimize", counted)
    X, y = make_data(np.random.default_rng(8))
    with pytest.warns(ConvergenceWarning) as record:
        cv = SoftmaxRegressionCV(Cs=8, l1_ratios=[1.0], cv=3, tol=0.0, max_iter=200)
        cv.fit(X, y)
    assert max(runs) < 200 <= cv.n_iter_.max()
    assert "increase max_iter" not in str(record[0].message)


def test_score_uses_scoring_and_two_classes(rng):
    X, y = make_data(rng, n_classes=2)
    cv = SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)
    assert cv.coef_.shape == (2, X.shape[1])
    assert cv.score(X, y) == get_scorer("neg_log_loss")(cv, X, y)
    accuracy = clone(cv).set_params(scoring=None).fit(X, y)
    assert accuracy.score(X, y) == np.mean(accuracy.predict(X) == y)


def test_verbose_prints_one_line_per_point(rng, capsys):
    X, y = make_data(rng)
    SoftmaxRegressionCV(Cs=CS, cv=2, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * len(CS)
    assert lines[0].startswith("[SoftmaxRegressionCV] C=0.01 l1_ratio=0:")


def test_a_fit_that_raises_leaves_the_estimator_as_fitted_before(rng):
    # validate_data sets classes_ and n_features_in_ before the path runs: a fit
    # on other data that raises left them beside the old coef_, and predict then
    # failed with an IndexError deep in numpy.
    X, y = make_data(rng, n_classes=3, n_features=4)
    model = SoftmaxRegressionCV(Cs=3, cv=3).fit(X, y)
    before = {name: v for name, v in vars(model).items() if name.endswith("_")}
    predicted = model.predict(X)
    other_X, other_y = make_data(rng, n_classes=4, n_features=6)
    bad_weight = np.ones(len(other_y))
    bad_weight[0] = -1.0
    with pytest.raises(ValueError, match="[Nn]egative"):
        model.fit(other_X, other_y, sample_weight=bad_weight)
    after = {name: v for name, v in vars(model).items() if name.endswith("_")}
    assert after.keys() == before.keys()
    assert all(after[name] is value for name, value in before.items())
    assert_array_equal(model.predict(X), predicted)


def test_convergence_warning_points_at_the_caller(rng):
    X, y = make_data(rng)
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegressionCV(Cs=2, cv=2, max_iter=1).fit(X, y)
    assert record[0].filename == __file__
