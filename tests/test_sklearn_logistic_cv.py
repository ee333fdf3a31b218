"""scikit-learn's LogisticRegressionCV tests, ported to SoftmaxRegressionCV.

Each test names the test of ``sklearn/linear_model/tests/test_logistic.py``
(scikit-learn 1.9.1) that it ports. Same data, assertions and tolerances where they
apply; LogisticRegressionCV is swapped for SoftmaxRegressionCV. Expected values come
from LogisticRegression / LogisticRegressionCV themselves (lbfgs or saga at a tight
``tol``), from GridSearchCV or cross_val_score of SoftmaxRegression where that is
the exact equivalent, or from sklearn's metrics; never from the code under test but
for consistency properties.

Translations (README, ``sklse/_cv.py``):

- two classes: ``SoftmaxRegression(C)``'s margin ``coef_[1] - coef_[0]`` is
  ``LogisticRegression(2 * C)``'s ``coef_`` (L2), the same C for pure L1;
- ``penalty="l1"`` is ``l1_ratios=(1,)``, ``penalty="elasticnet"`` + l1_ratios is
  ``l1_ratios``; the solvers are sklse's (no liblinear, sag, saga);
- the attributes have LogisticRegressionCV's ``use_legacy_attributes=False``
  layout, with a ``coef_`` row per class also for two classes.

Not ported: sklearn's own deprecation cycles (``test_penalty_deprecated``,
``test_l1_ratio_None_deprecated``, ``test_lr_scoring_warns``,
``test_get_default_scorer``,
``test_logisticregressioncv_warns_with_use_legacy_attributes``: sklse's defaults,
scoring ``"neg_log_loss"`` and ``l1_ratios=(0.0,)``, are checked once here);
``test_logistic_regression_path_init_coefs`` (a private function's ``coef=``); the
array API compliance test (SoftmaxRegressionCV fits numpy folds only); and the
metadata routing tests of a sub-estimator, which SoftmaxRegressionCV has not. The
LogisticRegressionCV cases of ``linear_model/tests/test_common.py`` and
``tests/test_metaestimators_metadata_routing.py`` are ported too.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_almost_equal, assert_array_equal
from sklearn.datasets import load_iris, make_classification, make_low_rank_matrix
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import (
    brier_score_loss,
    get_scorer,
    make_scorer,
    mean_squared_error,
)
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneGroupOut,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import LabelEncoder, scale
from sklearn.tests.metadata_routing_common import (
    ConsumingScorer,
    ConsumingSplitter,
    _Registry,
    assert_request_is_empty,
    check_recorded_metadata,
)
from sklearn.utils.metadata_routing import MetadataRouter

from sklse import SoftmaxRegression, SoftmaxRegressionCV

# As scikit-learn's module: a ConvergenceWarning fails the test unless it says so.
pytestmark = pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")

SEED = 42  # scikit-learn's default global_random_seed
SOLVERS = ("auto", "lbfgs", "newton-cg", "trust-ncg", "newton-cholesky")
iris = load_iris()


def margin(coef):
    """Return the two-class margin ``coef[1] - coef[0]`` as LogisticRegression's row."""
    return (coef[..., 1, :] - coef[..., 0, :])[..., None, :]


# sklearn: test_check_solver_option (LogisticRegressionCV)
# sklearn: test_liblinear_multiclass_raises (LogisticRegressionCV)
def test_check_solver_option():
    X, y = iris.data, iris.target
    # liblinear (and sag, saga) are not sklse solvers: rejected by the parameter
    # validation (sklearn's InvalidParameterError, a ValueError).
    for solver in ["liblinear", "sag", "saga"]:
        with pytest.raises(
            ValueError, match="'solver' parameter of SoftmaxRegressionCV"
        ):
            SoftmaxRegressionCV(solver=solver).fit(X, y)
    # The Newton solvers support only l1_ratio = 0 (LogisticRegression's "supports
    # only 'l2' or None penalties").
    for solver in ["newton-cg", "trust-ncg", "newton-cholesky"]:
        with pytest.raises(ValueError, match="does not support l1_ratio"):
            SoftmaxRegressionCV(solver=solver, l1_ratios=(1,)).fit(X, y)
    # Documented difference: dual is not a parameter (README), a TypeError.
    with pytest.raises(TypeError, match="dual"):
        SoftmaxRegressionCV(dual=True)


# sklearn: test_elasticnet_l1_ratio_err_helpful (LogisticRegressionCV)
def test_elasticnet_l1_ratio_err_helpful():
    model = SoftmaxRegressionCV(l1_ratios=None)
    with pytest.raises(ValueError, match=r".*l1_ratio.*"):
        model.fit(np.array([[1, 2], [3, 4]]), np.array([0, 1]))


# sklearn: test_logistic_cv
def test_logistic_cv():
    n_samples, n_features, n_cv = 50, 5, 3
    rng = np.random.RandomState(SEED)
    X_ref = rng.randn(n_samples, n_features)
    y = np.sign(X_ref.dot(5 * rng.randn(n_features)))
    X_ref -= X_ref.mean()
    X_ref /= X_ref.std()
    # LogisticRegression(C=1) is SoftmaxRegression(C=0.5) for two classes; both at
    # a tight tol, where sklearn compared liblinear with itself.
    lr_cv = SoftmaxRegressionCV(
        Cs=[0.5],
        l1_ratios=(0.0,),
        fit_intercept=False,
        cv=n_cv,
        scoring="neg_log_loss",
        tol=1e-10,
    )
    lr_cv.fit(X_ref, y)
    lr = LogisticRegression(C=1.0, fit_intercept=False, tol=1e-10)
    lr.fit(X_ref, y)
    assert_array_almost_equal(lr.coef_, margin(lr_cv.coef_))

    # Documented difference: a row per class, also for two classes.
    assert lr_cv.coef_.shape == (2, n_features)
    assert_array_equal(lr_cv.classes_, [-1, 1])
    assert len(lr_cv.classes_) == 2
    assert lr_cv.Cs_.shape == (1,)
    n_Cs = lr_cv.Cs_.shape[0]
    assert lr_cv.l1_ratios_.shape == (1,)
    n_l1_ratios = lr_cv.l1_ratios_.shape[0]
    assert lr_cv.coefs_paths_.shape == (n_cv, n_l1_ratios, n_Cs, 2, n_features)
    assert isinstance(lr_cv.C_, float)
    assert isinstance(lr_cv.l1_ratio_, float)
    assert lr_cv.scores_.shape == (n_cv, n_l1_ratios, n_Cs)


# sklearn: test_logistic_cv_refit_false_non_elasticnet
def test_logistic_cv_refit_false_non_elasticnet():
    X, y = make_classification(random_state=SEED)
    lr_cv = SoftmaxRegressionCV(l1_ratios=[0.0], refit=False)
    lr_cv.fit(X, y)
    assert lr_cv.l1_ratio_ == 0.0


# sklearn: test_logistic_cv_mock_scorer
def test_logistic_cv_mock_scorer():
    class MockScorer:
        def __init__(self):
            self.calls = 0
            self.scores = [0.1, 0.4, 0.8, 0.5]

        def __call__(self, model, X, y, sample_weight=None):
            score = self.scores[self.calls % len(self.scores)]
            self.calls += 1
            return score

    mock_scorer = MockScorer()
    Cs = [1, 2, 3, 4]
    cv = 2

    lr = SoftmaxRegressionCV(Cs=Cs, l1_ratios=(0,), scoring=mock_scorer, cv=cv)
    X, y = make_classification(random_state=0)
    lr.fit(X, y)

    # Cs[2] has the highest score (0.8) from MockScorer
    assert lr.C_ == Cs[2]

    # scorer called 8 times (cv*len(Cs))
    assert mock_scorer.calls == cv * len(Cs)

    # reset mock_scorer
    mock_scorer.calls = 0
    custom_score = lr.score(X, lr.predict(X))

    assert custom_score == mock_scorer.scores[0]
    assert mock_scorer.calls == 1


# sklearn: test_logistic_cv_multinomial_score (_log_reg_scoring_path's score is the
# path's scores_ on one (train, test) split)
@pytest.mark.parametrize(
    "scoring, multiclass_agg_list",
    [
        ("accuracy", [""]),
        ("precision", ["_macro", "_weighted"]),
        ("f1", ["_macro", "_weighted"]),
        ("neg_log_loss", [""]),
        ("recall", ["_macro", "_weighted"]),
    ],
)
def test_logistic_cv_multinomial_score(scoring, multiclass_agg_list):
    X, y = make_classification(
        n_samples=100, random_state=42, n_classes=3, n_informative=6
    )
    train, test = np.arange(80), np.arange(80, 100)
    tight = {"tol": 1e-10, "max_iter": 10_000}
    lr = LogisticRegression(C=1.0, solver="lbfgs", **tight)
    lr.fit(X[train], y[train])
    for averaging in multiclass_agg_list:
        scorer = get_scorer(scoring + averaging)
        # The scorer object (as _log_reg_scoring_path takes it) and its name.
        for scoring_param in (scorer, scoring + averaging):
            path = SoftmaxRegressionCV(
                Cs=[1.0], cv=[(train, test)], scoring=scoring_param, **tight
            ).fit(X, y)
            assert_array_almost_equal(
                path.scores_[0, 0, 0], scorer(lr, X[test], y[test])
            )


# sklearn: test_multinomial_logistic_regression_string_inputs (CV part)
def test_multinomial_logistic_regression_string_inputs():
    n_samples, n_features, n_classes = 50, 5, 3
    X_ref, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        n_informative=3,
        random_state=0,
    )
    y_str = LabelEncoder().fit(["bar", "baz", "foo"]).inverse_transform(y)
    # For numerical labels, let y values be taken from set (-1, 0, 1)
    y = np.array(y) - 1
    lr_cv = SoftmaxRegressionCV(Cs=3, scoring="neg_log_loss")
    lr_cv_str = SoftmaxRegressionCV(Cs=3, scoring="neg_log_loss")

    lr_cv.fit(X_ref, y)
    lr_cv_str.fit(X_ref, y_str)

    assert_allclose(lr_cv.coef_, lr_cv_str.coef_)
    assert_allclose(lr_cv.predict_proba(X_ref), lr_cv_str.predict_proba(X_ref))
    assert sorted(lr_cv_str.classes_) == ["bar", "baz", "foo"]
    # CV does not necessarily predict all labels
    assert set(np.unique(lr_cv_str.predict(X_ref))) <= {"bar", "baz", "foo"}

    # We use explicit Cs parameter to make sure all labels are predicted for each C.
    lr_cv_str = SoftmaxRegressionCV(Cs=[1, 2, 10], scoring="neg_log_loss")
    lr_cv_str.fit(X_ref, y_str)
    assert sorted(np.unique(lr_cv_str.predict(X_ref))) == ["bar", "baz", "foo"]

    # Make sure class weights can be given with string labels (sklearn checks it on
    # LogisticRegression; here on the CV estimator, whose folds apply them).
    lr_cv_str = SoftmaxRegressionCV(
        Cs=[1, 2, 10], class_weight={"bar": 1, "baz": 2, "foo": 0}
    ).fit(X_ref, y_str)
    assert sorted(np.unique(lr_cv_str.predict(X_ref))) == ["bar", "baz"]


# sklearn: test_multinomial_cv_iris
def test_multinomial_cv_iris():
    X, y = iris.data, iris.target
    n_samples, n_features = X.shape

    # The cv indices from stratified kfold
    n_cv = 2
    cv = StratifiedKFold(n_cv)
    precomputed_folds = list(cv.split(X, y))

    # Train clf on the original dataset
    clf = SoftmaxRegressionCV(
        cv=precomputed_folds, solver="newton-cholesky", scoring="neg_log_loss"
    )
    clf.fit(X, y)

    # Test the shape of various attributes.
    assert clf.coef_.shape == (3, n_features)
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.coefs_paths_.shape == (n_cv, 1, 10, 3, n_features + 1)
    assert clf.Cs_.shape == (10,)
    assert clf.scores_.shape == (n_cv, 1, 10)

    # Test that for the iris data multinomial gives a better accuracy than OvR
    clf_ovr = GridSearchCV(
        OneVsRestClassifier(LogisticRegression(solver="newton-cholesky")),
        {"estimator__C": np.logspace(-4, 4, num=10)},
        scoring="neg_log_loss",
    ).fit(X, y)
    # sklearn's loop: lbfgs, newton-cg, sag, saga (X scaled from lbfgs on).
    for solver in ["lbfgs", "newton-cg", "trust-ncg", "auto"]:
        clf_multi = SoftmaxRegressionCV(
            solver=solver, max_iter=30, tol=1e-2, cv=2, scoring="neg_log_loss"
        )
        if solver == "lbfgs":
            # lbfgs requires scaling to avoid convergence warnings
            X = scale(X)

        clf_multi.fit(X, y)
        multi_score = clf_multi.score(X, y)
        ovr_score = clf_ovr.score(X, y)
        assert multi_score > ovr_score, solver

        # Test attributes of SoftmaxRegressionCV
        assert clf.coef_.shape == clf_multi.coef_.shape
        assert_array_equal(clf_multi.classes_, [0, 1, 2])
        n_folds, n_cs, n_l1_ratios, n_classes, n_dof = 2, 10, 1, 3, n_features + 1
        assert clf_multi.coefs_paths_.shape == (
            n_folds,
            n_l1_ratios,
            n_cs,
            n_classes,
            n_dof,
        )
        assert isinstance(clf_multi.C_, float)
        assert isinstance(clf_multi.l1_ratio_, float)
        assert clf_multi.scores_.shape == (n_folds, n_l1_ratios, n_cs)

        # Norm of coefficients should increase with increasing C.
        for fold in range(clf_multi.coefs_paths_.shape[0]):
            coefs = clf_multi.coefs_paths_[fold, 0, :, :, :-1]
            norms = np.sum(coefs * coefs, axis=(-2, -1))  # L2 norm for each C
            assert np.all(np.diff(norms) >= 0), solver

    # Test CV folds with missing class labels:
    # The iris target variable has 3 classes and is ordered such that a simple
    # CV split with 3 folds separates the classes.
    cv = KFold(n_splits=3)
    # Check this assumption.
    classes = np.unique(y)
    assert len(classes) == 3
    for train, test in cv.split(X, y):
        assert len(np.unique(y[train])) == 2
        assert len(np.unique(y[test])) == 1
        assert set(y[train]) & set(y[test]) == set()

    clf = SoftmaxRegressionCV(cv=cv, scoring="accuracy").fit(X, y)
    # We expect accuracy to be exactly 0 because train and test sets have
    # non-overlapping labels
    assert np.all(clf.scores_ == 0.0)

    # We use a proper scoring rule, i.e. the Brier score, to evaluate our classifier.
    # We set small Cs, that is strong penalty as the best C is likely the smallest one.
    clf = SoftmaxRegressionCV(
        cv=cv, scoring="neg_brier_score", Cs=np.logspace(-6, 3, 10)
    ).fit(X, y)
    assert clf.C_ == 1e-6  # smallest value of provided Cs
    brier_scores = -clf.scores_
    # We expect the scores to be bad because train and test sets have
    # non-overlapping labels
    assert np.all(brier_scores > 0.7 * 2)  # times 2 because scale_by_half=False
    # But the best score should be better than the worst value of 1.
    assert np.min(brier_scores) < 0.8 * 2  # times 2 because scale_by_half=False


def _folds_with_classes_missing(enable_metadata_routing, n_classes):
    """The body of sklearn's test_logistic_cv_folds_with_classes_missing."""
    with sklearn.config_context(enable_metadata_routing=enable_metadata_routing):
        y = np.array(["a", "a", "b", "b", "c", "c"])[: 2 * n_classes]
        X = np.arange(2 * n_classes)[:, None]

        # Test CV folds have missing class labels.
        cv = KFold(n_splits=n_classes)
        # Check this assumption.
        for train, test in cv.split(X, y):
            assert len(np.unique(y[train])) == n_classes - 1
            assert len(np.unique(y[test])) == 1
            assert set(y[train]) & set(y[test]) == set()

        clf = SoftmaxRegressionCV(
            cv=cv, scoring="neg_brier_score", Cs=np.logspace(-6, 6, 5), l1_ratios=(0,)
        ).fit(X, y)

        assert clf.C_ == 1e-6  # smallest value of provided Cs
        for i, (_, test) in enumerate(cv.split(X, y)):
            # A model with the fold's coefficients at C_ (sklearn's metric scores
            # them; the fit only provides a predict_proba).
            clf2 = SoftmaxRegression(C=clf.C_).fit(X, y)
            clf2.coef_ = clf.coefs_paths_[i, 0, 0, :, :-1]
            clf2.intercept_ = clf.coefs_paths_[i, 0, 0, :, -1]
            if n_classes <= 2:
                bs = brier_score_loss(
                    y[test],
                    clf2.predict_proba(X[test]),
                    pos_label="b",
                    labels=["a", "b"],
                )
            else:
                bs = brier_score_loss(
                    y[test], clf2.predict_proba(X[test]), labels=["a", "b", "c"]
                )

            assert_allclose(-clf.scores_[i, 0, 0], bs)


# sklearn: test_logistic_cv_folds_with_classes_missing (three classes)
@pytest.mark.parametrize("enable_metadata_routing", [False, True])
def test_logistic_cv_folds_with_classes_missing(enable_metadata_routing):
    _folds_with_classes_missing(enable_metadata_routing, n_classes=3)


# sklearn: test_logistic_cv_folds_with_classes_missing (two classes: every training
# fold holds one class)
@pytest.mark.parametrize("enable_metadata_routing", [False, True])
def test_logistic_cv_folds_with_classes_missing_binary(enable_metadata_routing):
    _folds_with_classes_missing(enable_metadata_routing, n_classes=2)


# sklearn: test_logistic_regression_solvers_multiclass (LogisticRegressionCV part)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_logistic_regression_solvers_multiclass(fit_intercept):
    n_samples, n_features, n_classes = 20, 20, 3
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=10,
        n_classes=n_classes,
        random_state=0,
    )
    tol = 1e-8
    params = dict(fit_intercept=fit_intercept, tol=tol)
    # The reference: LogisticRegression(C=1), lbfgs (sklearn: each solver's own).
    reference = LogisticRegression(solver="lbfgs", max_iter=200, **params).fit(X, y)
    for solver in SOLVERS:
        clf_cv = SoftmaxRegressionCV(
            Cs=[1.0], solver=solver, max_iter=200, scoring="neg_log_loss", **params
        ).fit(X, y)
        assert clf_cv.coef_.shape == (n_classes, n_features)
        assert_allclose(clf_cv.coef_, reference.coef_, rtol=1e-2, err_msg=solver)
        if fit_intercept:
            assert_allclose(
                clf_cv.intercept_, reference.intercept_, rtol=1e-2, err_msg=solver
            )


# sklearn: test_logistic_cv_sparse
@pytest.mark.parametrize("solver", SOLVERS)
def test_logistic_cv_sparse(solver):
    X, y = make_classification(n_samples=100, n_features=5, random_state=SEED)
    X[X < 0.0] = 0.0  # make it a bit sparse
    params = dict(Cs=[1e-1, 1, 1e1], max_iter=10_000, tol=1e-7)

    clf = SoftmaxRegressionCV(solver=solver, scoring="neg_log_loss", **params)
    clf.fit(X, y)
    clfs = SoftmaxRegressionCV(solver=solver, scoring="neg_log_loss", **params)
    clfs.fit(sp.csr_matrix(X), y)

    rtol = 1e-5
    assert_allclose(clfs.coef_, clf.coef_, rtol=rtol)
    assert_allclose(clfs.intercept_, clf.intercept_, rtol=rtol)
    assert clfs.C_ == clf.C_


# sklearn: test_logistic_regressioncv_class_weights
@pytest.mark.parametrize("weight", [{0: 0.1, 1: 0.2}, {0: 0.1, 1: 0.2, 2: 0.5}])
@pytest.mark.parametrize("class_weight", ["weight", "balanced"])
def test_logistic_regressioncv_class_weights(weight, class_weight):
    n_classes = len(weight)
    if class_weight == "weight":
        class_weight = weight

    X, y = make_classification(
        n_samples=30,
        n_features=3,
        n_repeated=0,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=SEED,
    )
    params = dict(fit_intercept=False, class_weight=class_weight, tol=1e-8)
    # The reference is LogisticRegressionCV(lbfgs) itself (sklearn compares its
    # other solvers with it). Cs=1 is the grid [1e-4]; for two classes
    # LogisticRegression's C is twice SoftmaxRegression's.
    clf_lbfgs = LogisticRegressionCV(
        Cs=1,
        solver="lbfgs",
        scoring="neg_log_loss",
        use_legacy_attributes=False,
        l1_ratios=(0.0,),
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # as sklearn's test
        clf_lbfgs.fit(X, y)
    expected = clf_lbfgs.coef_
    Cs = [1e-4] if n_classes > 2 else [0.5e-4]

    for solver in SOLVERS:
        clf = SoftmaxRegressionCV(
            Cs=Cs, solver=solver, scoring="neg_log_loss", **params
        ).fit(X, y)
        coef = clf.coef_ if n_classes > 2 else margin(clf.coef_)
        assert_allclose(coef, expected, rtol=1e-3, err_msg=f"{solver} vs lbfgs")


# Documented difference (sklse/_cv.py, class_weight): on each fold "balanced" uses
# that fold's counts, where LogisticRegressionCV uses those of all the data; the
# refit uses all the data's, as LogisticRegressionCV. Not in scikit-learn's tests
# (Cs=1 above has one point, the refit): the fold models, against
# SoftmaxRegression(class_weight="balanced") fitted on each fold.
def test_balanced_class_weight_per_fold():
    X, y = make_classification(
        n_samples=60, n_features=3, n_informative=3, n_redundant=0, random_state=SEED
    )
    y[:20] = 0  # KFold: the first test fold has only class 0
    folds = list(KFold(3).split(X, y))
    tight = {"tol": 1e-10, "class_weight": "balanced"}
    cv = SoftmaxRegressionCV(Cs=[0.1], cv=folds, **tight).fit(X, y)
    for k, (train, _) in enumerate(folds):
        fold = SoftmaxRegression(C=0.1, **tight).fit(X[train], y[train])
        assert_allclose(cv.coefs_paths_[k, 0, 0, :, :-1], fold.coef_, rtol=1e-6)
    refit = SoftmaxRegression(C=0.1, **tight).fit(X, y)
    assert_allclose(cv.coef_, refit.coef_, rtol=1e-6)


# sklearn: test_logistic_regression_sample_weights (problem="cv")
@pytest.mark.parametrize("scoring", ["neg_log_loss", "accuracy"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_logistic_regression_sample_weights(solver, scoring):
    # scoring: sklse's default, and LogisticRegressionCV 1.9's (accuracy).
    n_samples_per_cv_group = 200
    n_cv_groups = 3

    X, y = make_classification(
        n_samples=n_samples_per_cv_group * n_cv_groups,
        n_features=5,
        n_informative=3,
        n_classes=2,
        n_redundant=0,
        random_state=SEED,
    )
    rng = np.random.RandomState(SEED)
    sw = np.ones(y.shape[0])

    kw_weighted = {"fit_intercept": False, "max_iter": 1_000, "tol": 1e-8}
    kw_weighted["scoring"] = scoring
    kw_repeated = kw_weighted.copy()
    sw[:n_samples_per_cv_group] = rng.randint(0, 5, size=n_samples_per_cv_group)
    X_repeated = np.repeat(X, sw.astype(int), axis=0)
    y_repeated = np.repeat(y, sw.astype(int), axis=0)

    # We weight the first fold 2 times more.
    groups_weighted = np.concatenate(
        [
            np.full(n_samples_per_cv_group, 0),
            np.full(n_samples_per_cv_group, 1),
            np.full(n_samples_per_cv_group, 2),
        ]
    )
    splits_weighted = list(LeaveOneGroupOut().split(X, groups=groups_weighted))
    kw_weighted.update({"Cs": 10, "cv": splits_weighted})

    groups_repeated = np.repeat(groups_weighted, sw.astype(int), axis=0)
    splits_repeated = list(LeaveOneGroupOut().split(X_repeated, groups=groups_repeated))
    kw_repeated.update({"Cs": 10, "cv": splits_repeated})

    clf_sw_weighted = SoftmaxRegressionCV(solver=solver, **kw_weighted)
    clf_sw_repeated = SoftmaxRegressionCV(solver=solver, **kw_repeated)

    clf_sw_weighted.fit(X, y, sample_weight=sw)
    clf_sw_repeated.fit(X_repeated, y_repeated)

    # sklearn's scores_[1] is the legacy dict's entry of class 1: every score.
    assert_allclose(clf_sw_weighted.scores_, clf_sw_repeated.scores_)
    assert_allclose(clf_sw_weighted.coef_, clf_sw_repeated.coef_, atol=1e-5)


# sklearn: test_logistic_regression_cv_refit
@pytest.mark.parametrize("l1_ratio", [1, 0])  # L1 and L2 penalty
def test_logistic_regression_cv_refit(l1_ratio):
    X, y = make_classification(n_samples=100, n_features=20, random_state=SEED)
    lr_cv = SoftmaxRegressionCV(
        # LogisticRegression(C=1): SoftmaxRegression C = 1 (L1), 1/2 (L2)
        Cs=[1.0 if l1_ratio == 1 else 0.5],
        l1_ratios=(l1_ratio,),
        refit=True,
        scoring="neg_log_loss",
        max_iter=10000,
        tol=1e-12,
    )
    lr_cv.fit(X, y)
    lr = LogisticRegression(
        C=1.0,
        l1_ratio=l1_ratio,
        solver="saga",
        random_state=SEED,
        max_iter=10000,
        tol=1e-12,
    )
    lr.fit(X, y)
    assert_allclose(margin(lr_cv.coef_), lr.coef_)


# sklearn: test_n_iter (LogisticRegressionCV part)
@pytest.mark.parametrize("solver", SOLVERS)
def test_n_iter(solver):
    X, y = iris.data, iris.target
    if solver == "lbfgs":
        # lbfgs requires scaling to avoid convergence warnings
        X = scale(X)

    n_classes = np.unique(y).shape[0]
    assert n_classes == 3

    # Also generate a binary classification sub-problem.
    y_bin = y.copy()
    y_bin[y_bin == 2] = 0

    n_Cs = 4
    n_cv_fold = 2
    n_l1_ratios = 1

    # Binary classification case
    clf = SoftmaxRegression(tol=1e-2, C=1.0, solver=solver)
    clf.fit(X, y_bin)
    assert clf.n_iter_.shape == (1,)

    clf_cv = SoftmaxRegressionCV(
        tol=1e-2,
        solver=solver,
        Cs=n_Cs,
        l1_ratios=(0.0,),
        cv=n_cv_fold,
        scoring="neg_log_loss",
    )
    clf_cv.fit(X, y_bin)
    assert clf_cv.n_iter_.shape == (n_cv_fold, n_l1_ratios, n_Cs)

    # multinomial case
    clf.fit(X, y)
    assert clf.n_iter_.shape == (1,)

    clf_cv.fit(X, y)
    assert clf_cv.n_iter_.shape == (n_cv_fold, n_l1_ratios, n_Cs)


# sklearn: test_LogisticRegressionCV_GridSearchCV_elastic_net (GridSearchCV of
# SoftmaxRegression: the exact equivalent, also for two classes)
@pytest.mark.parametrize("n_classes", (2, 3))
def test_LogisticRegressionCV_GridSearchCV_elastic_net(n_classes):
    X, y = make_classification(
        n_samples=100, n_classes=n_classes, n_informative=3, random_state=0
    )

    cv = StratifiedKFold(5)

    l1_ratios = np.linspace(0, 1, 3)
    Cs = np.logspace(-4, 4, 3)

    lrcv = SoftmaxRegressionCV(
        l1_ratios=l1_ratios, Cs=Cs, cv=cv, tol=1e-2, scoring="neg_log_loss"
    )
    lrcv.fit(X, y)

    param_grid = {"C": Cs, "l1_ratio": l1_ratios}
    lr = SoftmaxRegression(tol=1e-2)
    gs = GridSearchCV(lr, param_grid, cv=cv, scoring="neg_log_loss")
    gs.fit(X, y)

    assert gs.best_params_["l1_ratio"] == lrcv.l1_ratio_
    assert gs.best_params_["C"] == lrcv.C_


# sklearn: test_LogisticRegressionCV_no_refit (use_legacy_attributes=False layout)
@pytest.mark.parametrize("l1_ratios", ((0,), np.linspace(0, 1, 2)))
@pytest.mark.parametrize("n_classes", (2, 3))
def test_LogisticRegressionCV_no_refit(l1_ratios, n_classes):
    n_features = 20
    X, y = make_classification(
        n_samples=200,
        n_classes=n_classes,
        n_informative=n_classes,
        n_features=n_features,
        random_state=0,
    )

    Cs = np.logspace(-4, 4, 3)
    lrcv = SoftmaxRegressionCV(
        Cs=Cs, l1_ratios=l1_ratios, tol=1e-2, refit=False, scoring="neg_log_loss"
    )
    lrcv.fit(X, y)

    # Documented layout: C_ and l1_ratio_ floats (the means of the folds' best
    # values), a coef_ row per class also for two classes.
    assert isinstance(lrcv.C_, float)
    assert isinstance(lrcv.l1_ratio_, float)
    assert Cs.min() <= lrcv.C_ <= Cs.max()
    assert 0 <= lrcv.l1_ratio_ <= 1
    assert lrcv.coef_.shape == (n_classes, n_features)


# sklearn: test_LogisticRegressionCV_elasticnet_attribute_shapes
# (use_legacy_attributes=False layout)
@pytest.mark.parametrize("n_classes", (2, 3))
def test_LogisticRegressionCV_elasticnet_attribute_shapes(n_classes):
    n_features = 20
    X, y = make_classification(
        n_samples=200,
        n_classes=n_classes,
        n_informative=n_classes,
        n_features=n_features,
        random_state=0,
    )

    Cs = np.logspace(-4, 4, 3)
    l1_ratios = np.linspace(0, 1, 2)

    n_folds = 2
    lrcv = SoftmaxRegressionCV(
        Cs=Cs, l1_ratios=l1_ratios, cv=n_folds, tol=1e-2, scoring="neg_log_loss"
    )
    lrcv.fit(X, y)

    assert lrcv.coefs_paths_.shape == (
        n_folds,
        l1_ratios.size,
        Cs.size,
        n_classes,
        n_features + 1,
    )
    assert lrcv.scores_.shape == (n_folds, l1_ratios.size, Cs.size)
    assert lrcv.n_iter_.shape == (n_folds, l1_ratios.size, Cs.size)
    assert isinstance(lrcv.C_, float)
    assert isinstance(lrcv.l1_ratio_, float)


# sklearn: test_LogisticRegressionCV_on_folds
def test_LogisticRegressionCV_on_folds():
    X, y = iris.data, iris.target
    lrcv = SoftmaxRegressionCV(
        solver="newton-cholesky", tol=1e-8, scoring="neg_log_loss"
    ).fit(X, y)

    # Reproduce the exact same split as default LogisticRegressionCV.
    cv = StratifiedKFold(5)
    folds = list(cv.split(X, y))

    # Some combinations of fold and value of C.
    for idx_fold, idx_C in [[0, 0], [0, 1], [3, 6]]:
        train_fold_0 = folds[idx_fold][0]  # 0 is training fold
        lr = LogisticRegression(
            C=lrcv.Cs_[idx_C], solver="newton-cholesky", tol=1e-8
        ).fit(X[train_fold_0], y[train_fold_0])

        for cl in np.unique(y):
            # Coefficients without intercept
            assert_allclose(
                lrcv.coefs_paths_[idx_fold, 0, idx_C, cl, :-1], lr.coef_[cl], rtol=1e-5
            )
            # Intercepts
            assert_allclose(
                lrcv.coefs_paths_[idx_fold, 0, idx_C, cl, -1],
                lr.intercept_[cl],
                rtol=1e-5,
            )


# sklearn: test_scores_attribute_layout_elasticnet (cross_val_score of
# SoftmaxRegression, the exact equivalent)
def test_scores_attribute_layout_elasticnet():
    X, y = make_classification(n_samples=1000, random_state=0)
    cv = StratifiedKFold(n_splits=5)

    l1_ratios = [0.1, 0.9]
    Cs = [0.1, 1, 10]

    lrcv = SoftmaxRegressionCV(
        Cs=Cs,
        l1_ratios=l1_ratios,
        cv=cv,
        max_iter=250,
        tol=1e-3,
        scoring="neg_log_loss",
    )
    lrcv.fit(X, y)

    # (n_folds, n_l1_ratios, n_Cs), where the legacy scores_[1] was (.., n_Cs,
    # n_l1_ratios)
    avg_scores_lrcv = lrcv.scores_.mean(axis=0)

    for i, C in enumerate(Cs):
        for j, l1_ratio in enumerate(l1_ratios):
            lr = SoftmaxRegression(C=C, l1_ratio=l1_ratio, max_iter=250, tol=1e-3)
            avg_score_lr = cross_val_score(
                lr, X, y, cv=cv, scoring="neg_log_loss"
            ).mean()
            assert avg_scores_lrcv[j, i] == pytest.approx(avg_score_lr, rel=1e-3)


# sklearn: test_consistency_path (the path against fits at each C; sag/saga and
# intercept_scaling are not sklse's). The path is coefs_paths_ on one split whose
# training rows are all the data.
@pytest.mark.parametrize("solver", SOLVERS)
def test_consistency_path(solver):
    rng = np.random.RandomState(SEED)
    X = np.concatenate((rng.randn(100, 2) + [1, 1], rng.randn(100, 2)))
    y = [1] * 100 + [-1] * 100
    everything = [(np.arange(200), np.arange(200))]

    Cs = np.logspace(0, 4, 10)
    # SoftmaxRegression(C / 2) is LogisticRegression(C) for two classes.
    path = SoftmaxRegressionCV(
        Cs=Cs / 2,
        cv=everything,
        fit_intercept=False,
        tol=1e-5,
        max_iter=1000,
        solver=solver,
    ).fit(X, y)
    for i, C in enumerate(Cs):
        lr = LogisticRegression(C=C, fit_intercept=False, tol=1e-10, max_iter=1000)
        lr.fit(X, y)
        assert_array_almost_equal(
            lr.coef_, margin(path.coefs_paths_[0, 0, i]), decimal=4, err_msg=solver
        )

    # test for fit_intercept=True
    path = SoftmaxRegressionCV(Cs=[1e3 / 2], cv=everything, tol=1e-6, solver=solver)
    path.fit(X, y)
    lr = LogisticRegression(C=1e3, tol=1e-10).fit(X, y)
    lr_coef = np.concatenate([lr.coef_.ravel(), lr.intercept_])
    assert_array_almost_equal(
        lr_coef, margin(path.coefs_paths_[0, 0, 0])[0], decimal=4, err_msg=solver
    )


# sklearn: test_logistic_regression_path_coefs_multinomial (the L1 path's points
# do not override each other)
def test_logistic_regression_path_coefs_multinomial():
    X, y = make_classification(
        n_samples=200,
        n_classes=3,
        n_informative=2,
        n_redundant=0,
        n_clusters_per_class=1,
        random_state=0,
        n_features=2,
    )
    Cs = [0.00001, 1, 10000]
    path = SoftmaxRegressionCV(
        Cs=Cs, l1_ratios=(1.0,), cv=[(np.arange(200), np.arange(200))]
    ).fit(X, y)
    coefs = path.coefs_paths_[0, 0]

    with pytest.raises(AssertionError):
        assert_array_almost_equal(coefs[0], coefs[1], decimal=1)
    with pytest.raises(AssertionError):
        assert_array_almost_equal(coefs[0], coefs[2], decimal=1)
    with pytest.raises(AssertionError):
        assert_array_almost_equal(coefs[1], coefs[2], decimal=1)


# sklearn: test_logistic_regression_path_convergence_fail (through the CV path)
def test_logistic_regression_path_convergence_fail():
    rng = np.random.RandomState(0)
    X = np.concatenate((rng.randn(100, 2) + [1, 1], rng.randn(100, 2)))
    y = [1] * 100 + [-1] * 100
    Cs = [1e3]

    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegressionCV(
            Cs=Cs, cv=[(np.arange(200), np.arange(200))], tol=0.0, max_iter=1
        ).fit(X, y)

    assert len(record) == 1
    warn_msg = record[0].message.args[0]
    # Documented difference: one warning for the path and the refit, which starts
    # as LogisticRegression's ("lbfgs failed to converge") and gives the remedies
    # in sklse's words.
    assert warn_msg.startswith("lbfgs failed to converge")
    assert "increase max_iter" in warn_msg
    assert "scale the features" in warn_msg


# sklearn: test_lr_cv_scores_differ_when_sample_weight_is_requested
def test_lr_cv_scores_differ_when_sample_weight_is_requested():
    rng = np.random.RandomState(SEED)
    X, y = make_classification(n_samples=2000, random_state=rng)
    X_t, y_t = make_classification(n_samples=2000, random_state=rng)
    sample_weight = np.ones(len(y))
    sample_weight[: len(y) // 2] = 2
    kwargs = {"sample_weight": sample_weight}

    with sklearn.config_context(enable_metadata_routing=True):
        scorer1 = get_scorer("accuracy").set_score_request(sample_weight=False)
        lr_cv1 = SoftmaxRegressionCV(scoring=scorer1, tol=3e-6)
        lr_cv1.fit(X, y, **kwargs)

        scorer2 = get_scorer("accuracy").set_score_request(sample_weight=True)
        lr_cv2 = SoftmaxRegressionCV(scoring=scorer2, tol=3e-6)
        lr_cv2.fit(X, y, **kwargs)

        assert not np.allclose(lr_cv1.scores_, lr_cv2.scores_)

        score_1 = lr_cv1.score(X_t, y_t)
        score_2 = lr_cv2.score(X_t, y_t, **kwargs)

        assert not np.allclose(score_1, score_2)


# sklearn: test_lr_cv_scores_differ_when_sample_weight_is_requested (the score
# call with an unrequested sample_weight)
def test_lr_cv_score_rejects_an_unrequested_sample_weight():
    rng = np.random.RandomState(SEED)
    X, y = make_classification(n_samples=200, random_state=rng)
    sample_weight = np.ones(len(y))
    sample_weight[: len(y) // 2] = 2
    with sklearn.config_context(enable_metadata_routing=True):
        scorer1 = get_scorer("accuracy").set_score_request(sample_weight=False)
        lr_cv1 = SoftmaxRegressionCV(scoring=scorer1, Cs=3).fit(X, y)
        # sklearn's message, with this estimator's name
        err_msg = (
            "SoftmaxRegressionCV.score got unexpected argument(s) {'sample_weight'},"
            " which are not routed to any object."
        )
        with pytest.raises(TypeError, match=re.escape(err_msg)):
            lr_cv1.score(X, y, sample_weight=sample_weight)


# sklearn: test_lr_cv_scores_without_enabling_metadata_routing
def test_lr_cv_scores_without_enabling_metadata_routing():
    rng = np.random.RandomState(10)
    X, y = make_classification(n_samples=10, random_state=rng)
    X_t, y_t = make_classification(n_samples=10, random_state=rng)
    sample_weight = np.ones(len(y))
    sample_weight[: len(y) // 2] = 2
    kwargs = {"sample_weight": sample_weight}

    with sklearn.config_context(enable_metadata_routing=False):
        scorer1 = get_scorer("accuracy")
        lr_cv1 = SoftmaxRegressionCV(scoring=scorer1)
        lr_cv1.fit(X, y, **kwargs)
        score_1 = lr_cv1.score(X_t, y_t, **kwargs)

    with sklearn.config_context(enable_metadata_routing=True):
        scorer2 = get_scorer("accuracy")
        scorer2.set_score_request(sample_weight=True)
        lr_cv2 = SoftmaxRegressionCV(scoring=scorer2)
        lr_cv2.fit(X, y, **kwargs)
        score_2 = lr_cv2.score(X_t, y_t, **kwargs)

    assert_allclose(lr_cv1.scores_, lr_cv2.scores_)
    assert_allclose(score_1, score_2)


# sklearn: test_passing_params_without_enabling_metadata_routing
def test_passing_params_without_enabling_metadata_routing():
    X, y = make_classification(n_samples=10, random_state=0)
    lr_cv = SoftmaxRegressionCV(scoring="neg_log_loss")
    msg = "is only supported if enable_metadata_routing=True"

    with sklearn.config_context(enable_metadata_routing=False):
        params = {"extra_param": 1.0}

        with pytest.raises(ValueError, match=msg):
            lr_cv.fit(X, y, **params)

        with pytest.raises(ValueError, match=msg):
            lr_cv.score(X, y, **params)


# sklearn: test_get_default_scorer, test_lr_scoring_warns, test_penalty_deprecated,
# test_l1_ratio_None_deprecated, test_logisticregressioncv_warns_with_use_legacy_
# attributes (LogisticRegressionCV parts). Documented differences: the default
# scoring is "neg_log_loss" (LogisticRegressionCV's from 1.11) and None is accuracy;
# the default l1_ratios is (0.0,) and the layout the new one, without a
# FutureWarning; penalty is not a parameter (a TypeError).
def test_defaults_without_deprecations():
    X, y = make_classification(n_samples=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        default = SoftmaxRegressionCV(cv=2).fit(X, y)
    assert default.scoring == "neg_log_loss"
    assert default.l1_ratios == (0.0,)
    assert default.score(X, y) == get_scorer("neg_log_loss")(default, X, y)
    accuracy = SoftmaxRegressionCV(cv=2, scoring=None).fit(X, y)
    assert accuracy.score(X, y) == get_scorer("accuracy")(accuracy, X, y)
    with pytest.raises(TypeError, match="penalty"):
        SoftmaxRegressionCV(penalty="l2")


# sklearn/linear_model/tests/test_common.py: test_balance_property
# (LogisticRegressionCV(tol=1e-6) entry)
@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_balance_property(with_sample_weight):
    model = SoftmaxRegressionCV(tol=1e-6, scoring="neg_log_loss", l1_ratios=(0,))
    rel = 2e-4  # test precision
    rng = np.random.RandomState(SEED)
    n_train, n_features = 100, 10
    X = make_low_rank_matrix(n_samples=n_train, n_features=n_features, random_state=rng)
    coef = rng.uniform(low=-2, high=2, size=n_features) / np.max(X, axis=0)
    expectation = np.exp(X @ coef + 0.5)
    y = rng.poisson(lam=expectation) + 1  # strict positive, i.e. y > 0
    y = (y > expectation + 1).astype(np.float64)
    sw = rng.uniform(low=1, high=10, size=y.shape[0]) if with_sample_weight else None

    model.set_params(fit_intercept=True)  # to be sure
    model.fit(X, y, sample_weight=sw)
    assert np.average(model.predict_proba(X)[:, 1], weights=sw) == pytest.approx(
        np.average(y, weights=sw), rel=rel
    )


# sklearn/linear_model/tests/test_common.py: test_linear_model_classifier_coef_shape
# (LogisticRegressionCV entry). Documented difference: a coef_ row per class, also
# for two classes, where LogisticRegressionCV has one.
@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_model_classifier_coef_shape(n_classes):
    X, y = make_classification(n_informative=10, n_classes=n_classes, random_state=0)
    n_features = X.shape[1]
    classifier = SoftmaxRegressionCV(solver="newton-cholesky", l1_ratios=(0,))
    classifier.fit(X, y)
    assert classifier.coef_.shape == (n_classes, n_features)


# The data of sklearn/tests/test_metaestimators_metadata_routing.py
_routing_rng = np.random.RandomState(42)
X_ROUTING = _routing_rng.rand(100, 4)
Y_ROUTING = _routing_rng.randint(0, 3, size=100)
_routing_rng.randint(0, 3, size=(100, 3))  # y_multi there
METADATA = _routing_rng.randint(0, 10, size=100)
SAMPLE_WEIGHT = _routing_rng.rand(100)
GROUPS = _routing_rng.randint(0, 10, size=100)
ROUTING_INIT_ARGS = {"l1_ratios": (0,), "scoring": "neg_log_loss"}


# sklearn/tests/test_metaestimators_metadata_routing.py: test_default_request
# (LogisticRegressionCV entry)
@sklearn.config_context(enable_metadata_routing=True)
def test_default_request():
    kwargs = dict(ROUTING_INIT_ARGS)
    kwargs["scoring"] = ConsumingScorer(registry=_Registry())
    kwargs["cv"] = ConsumingSplitter(registry=_Registry())
    instance = SoftmaxRegressionCV(**kwargs)
    # Our GroupCV splitters request groups by default, which we should ignore.
    exclude = {"splitter": ["split"]}
    assert_request_is_empty(instance.get_metadata_routing(), exclude=exclude)
    assert isinstance(instance.get_metadata_routing(), MetadataRouter)


# sklearn/tests/test_metaestimators_metadata_routing.py:
# test_metadata_is_routed_correctly_to_scorer (LogisticRegressionCV entry)
@pytest.mark.parametrize("method_name", ["fit", "score"])
@sklearn.config_context(enable_metadata_routing=True)
def test_metadata_is_routed_correctly_to_scorer(method_name):
    registry = _Registry()
    scorer = ConsumingScorer(registry=registry)
    scorer.set_score_request(sample_weight=True)
    cv = ConsumingSplitter(registry=_Registry())
    cv.set_split_request(groups=True, metadata=True)
    instance = SoftmaxRegressionCV(**{**ROUTING_INIT_ARGS, "scoring": scorer, "cv": cv})
    method = getattr(instance, method_name)
    method_kwargs = {"sample_weight": SAMPLE_WEIGHT}
    if "fit" not in method_name:
        instance.fit(X_ROUTING, Y_ROUTING)
    method(X_ROUTING, Y_ROUTING, **method_kwargs)

    assert registry
    for _scorer in registry:
        check_recorded_metadata(
            obj=_scorer,
            method="consuming_metric",
            parent=method_name,
            split_params=("sample_weight",),
            **method_kwargs,
        )


# sklearn/tests/test_metaestimators_metadata_routing.py:
# test_metadata_is_routed_correctly_to_splitter (LogisticRegressionCV entry)
@sklearn.config_context(enable_metadata_routing=True)
def test_metadata_is_routed_correctly_to_splitter():
    scorer = ConsumingScorer(registry=_Registry())
    scorer.set_score_request(sample_weight=False, metadata=False)
    registry = _Registry()
    cv = ConsumingSplitter(registry=registry)
    cv.set_split_request(groups=True, metadata=True)
    instance = SoftmaxRegressionCV(**{**ROUTING_INIT_ARGS, "scoring": scorer, "cv": cv})
    method_kwargs = {"groups": GROUPS, "metadata": METADATA}
    instance.fit(X_ROUTING, Y_ROUTING, **method_kwargs)
    assert registry
    for _splitter in registry:
        check_recorded_metadata(
            obj=_splitter, method="split", parent="fit", **method_kwargs
        )


# sklearn/tests/test_metaestimators_metadata_routing.py:
# test_metadata_routed_to_group_splitter (LogisticRegressionCV entry)
@sklearn.config_context(enable_metadata_routing=True)
def test_metadata_routed_to_group_splitter():
    kwargs = {**ROUTING_INIT_ARGS, "scoring": ConsumingScorer(registry=_Registry())}
    instance = SoftmaxRegressionCV(cv=GroupKFold(n_splits=2), **kwargs)
    cross_validate(
        instance,
        X_ROUTING,
        Y_ROUTING,
        params={"groups": GROUPS},
        cv=GroupKFold(n_splits=2),
        scoring=make_scorer(mean_squared_error, response_method="predict"),
    )
