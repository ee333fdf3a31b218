"""SoftmaxRegression inside scikit-learn: estimator checks and meta-estimators."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklse import SoftmaxRegression


@parametrize_with_checks(
    [SoftmaxRegression(solver=solver) for solver in ("auto", "newton-cg", "trust-ncg")]
    + [SoftmaxRegression(l1_ratio=0.5)]  # the L1 fit: L-BFGS-B on the split problem
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_no_expected_failures_declared():
    tags = SoftmaxRegression().__sklearn_tags__()
    assert tags.estimator_type == "classifier"
    assert tags.input_tags.sparse
    assert not hasattr(SoftmaxRegression, "_xfail_checks")


@pytest.fixture
def data():
    return make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0
    )


def test_grid_search_over_C_in_pipeline(data):
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SoftmaxRegression())])
    search = GridSearchCV(pipe, {"clf__C": [1e-3, 1.0, 1e3]}, cv=3).fit(X, y)
    assert search.best_params_["clf__C"] in (1.0, 1e3)
    # A tiny C flattens the model towards the class priors: worse accuracy.
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] < max(scores[1:])
    assert search.predict(X).shape == y.shape


def test_cross_val_score_neg_log_loss_is_finite_and_sensible(data):
    X, y = data
    scores = cross_val_score(
        make_pipeline(StandardScaler(), SoftmaxRegression()),
        X,
        y,
        cv=5,
        scoring="neg_log_loss",
    )
    assert np.all(np.isfinite(scores))
    # Better than the uniform guess log(3) on this learnable problem.
    assert -scores.mean() < np.log(3) - 0.2


def test_calibrated_classifier(data):
    X, y = data
    calibrated = CalibratedClassifierCV(SoftmaxRegression(), cv=3).fit(X, y)
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert calibrated.score(X, y) > 0.6


def test_clone_and_pickle_round_trip(data):
    X, y = data
    model = SoftmaxRegression(C=0.5, solver="trust-ncg").fit(X, y)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "coef_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(restored.coef_, model.coef_)


def test_sample_weight_routes_through_pipeline(data):
    X, y = data
    weights = np.random.default_rng(0).uniform(0.0, 3.0, size=len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            SoftmaxRegression().set_fit_request(sample_weight=True),
        )
        pipe.fit(X, y, sample_weight=weights)
        unweighted = clone(pipe).fit(X, y)
    Xs = StandardScaler().fit_transform(X)
    direct = SoftmaxRegression().fit(Xs, y, sample_weight=weights)
    np.testing.assert_allclose(pipe[-1].coef_, direct.coef_, rtol=1e-12)
    assert not np.allclose(unweighted[-1].coef_, direct.coef_, rtol=1e-3)
