"""SoftmaxRegression on array-API inputs under ``array_api_dispatch``.

Oracle: the same estimator fitted on the same values as numpy arrays (the numpy
path, itself tested against LogisticRegression), with the issue's tolerances:
float64 within 1e-5 relative, float32 within 5e-3. sklearn's own array API estimator
checks run in test_sklearn_compat.py.
"""

import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.callback import FitCallback
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from sklse import SoftmaxRegression, SoftmaxRegressionCV

N_SAMPLES = 211  # no other array of the tests has this many rows
RTOL = {"float64": 1e-5, "float32": 5e-3}
TOL = {"float64": 1e-8, "float32": 1e-4}  # float32 reaches no smaller gradient
ESTIMATORS = {
    "lbfgs": {"solver": "lbfgs"},
    "newton-cg": {"solver": "newton-cg"},
    "trust-ncg": {"solver": "trust-ncg"},
    "elastic-net": {"l1_ratio": 0.5, "C": 0.2},
}


@pytest.fixture
def data():
    X, y = make_classification(
        n_samples=N_SAMPLES, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X, y


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def assert_in_namespace(result, X_device):
    assert type(result) is type(X_device), type(result)
    assert result.device == X_device.device


def assert_close(got, want, dtype):
    scale = np.max(np.abs(want))
    assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_equals_numpy_fit(array_api, data, name, dtype):
    X, y = data
    X = X.astype(dtype)
    params = {"tol": TOL[dtype], "max_iter": 500, **ESTIMATORS[name]}
    reference = SoftmaxRegression(**params).fit(X, y)
    X_device = array_api.asarray(X)
    with dispatch():
        model = SoftmaxRegression(**params).fit(X_device, array_api.asarray(y))
        outputs = {
            method: getattr(model, method)(X_device)
            for method in ("predict", "predict_proba", "predict_log_proba")
        } | {"decision_function": model.decision_function(X_device)}
        score = model.score(X_device, array_api.asarray(y))
    for attribute in ("coef_", "intercept_", "n_iter_"):
        assert_in_namespace(getattr(model, attribute), X_device)
    assert model.coef_.dtype == X_device.dtype
    assert_in_namespace(model.classes_, X_device)  # y's namespace, here X's
    assert_close(array_api.to_numpy(model.coef_), reference.coef_, dtype)
    assert_close(array_api.to_numpy(model.intercept_), reference.intercept_, dtype)
    assert model.objective_ == pytest.approx(reference.objective_, rel=RTOL[dtype])
    for method, result in outputs.items():
        assert_in_namespace(result, X_device)
        want = getattr(reference, method)(X)
        if method == "predict":
            assert_array_equal(array_api.to_numpy(result), want)
        else:
            assert result.dtype == X_device.dtype
            assert_close(array_api.to_numpy(result), want, dtype)
    assert isinstance(score, float) and score == pytest.approx(reference.score(X, y))


def test_weights_string_labels_and_mixed_namespaces(array_api, strict_array_api, data):
    X, y = data
    labels = np.array(["ant", "bee", "cat"])[y]
    weight = np.random.default_rng(0).uniform(0, 2, N_SAMPLES)
    params = {"class_weight": "balanced", "tol": 1e-8, "solver": "newton-cg"}
    reference = SoftmaxRegression(**params).fit(X, labels, weight)
    X_device = array_api.asarray(X)
    with dispatch():
        # weights of another namespace and device move to X's
        model = SoftmaxRegression(**params).fit(
            X_device, labels, strict_array_api.asarray(weight)
        )
        predicted = model.predict(X_device)
    assert_array_equal(model.classes_, reference.classes_)  # numpy strings, as y
    assert_array_equal(predicted, reference.predict(X))  # strings stay numpy
    assert_close(array_api.to_numpy(model.coef_), reference.coef_, "float64")


@pytest.mark.parametrize("class_weight", ["balanced", {0: 0.5, 2: 3.0}])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_class_weights_without_sample_weights(array_api, data, class_weight, dtype):
    X, y = data
    X = X.astype(dtype)
    params = {"class_weight": class_weight, "tol": TOL[dtype], "max_iter": 500}
    reference = SoftmaxRegression(**params).fit(X, y)
    X_device = array_api.asarray(X)
    with dispatch():
        model = SoftmaxRegression(**params).fit(X_device, array_api.asarray(y))
    assert_close(array_api.to_numpy(model.coef_), reference.coef_, dtype)
    assert_close(array_api.to_numpy(model.intercept_), reference.intercept_, dtype)


def test_labels_of_another_namespace(array_api, strict_array_api, data):
    X, y = data
    reference = SoftmaxRegression().fit(X, y + 10)
    X_device = array_api.asarray(X)
    with dispatch():
        model = SoftmaxRegression().fit(X_device, strict_array_api.asarray(y + 10))
        predicted = model.predict(X_device)
    assert_in_namespace(model.classes_, strict_array_api.asarray([0]))
    assert_in_namespace(predicted, X_device)
    assert_array_equal(array_api.to_numpy(predicted), reference.predict(X))


def test_warm_start_continues_on_the_device(array_api, data):
    X, y = data
    X_device, y_device = array_api.asarray(X), array_api.asarray(y)
    cold = SoftmaxRegression(tol=1e-8).fit(X, y)
    with dispatch(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first, short fit does not converge
        model = SoftmaxRegression(tol=1e-8, max_iter=5, warm_start=True)
        model.fit(X_device, y_device)
        model.set_params(max_iter=500).fit(X_device, y_device)
    assert int(array_api.to_numpy(model.n_iter_)[0]) < cold.n_iter_[0]
    assert_close(array_api.to_numpy(model.coef_), cold.coef_, "float64")


class Models(FitCallback):
    """Record the namespace and the coef_ of each iteration's model."""

    def __init__(self):
        self.models = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(
        self, estimator, context, *, metadata=None, fitted_estimator=None
    ):
        if context.parent is not None and fitted_estimator is not None:
            self.models.append(fitted_estimator.coef_)


@pytest.mark.parametrize("solver", ["lbfgs", "trust-ncg"])
def test_callbacks_see_device_models(array_api, data, solver):
    X, y = data
    X_device = array_api.asarray(X)
    callback = Models()
    with dispatch():
        model = SoftmaxRegression(solver=solver).set_callbacks(callback)
        model.fit(X_device, array_api.asarray(y))
    assert len(callback.models) == int(array_api.to_numpy(model.n_iter_)[0]) > 0
    for coef in callback.models:
        assert_in_namespace(coef, X_device)
    assert_array_equal(
        array_api.to_numpy(callback.models[-1]), array_api.to_numpy(model.coef_)
    )


def test_predicting_with_another_namespace_raises(array_api, data):
    X, y = data
    with dispatch():
        model = SoftmaxRegression().fit(array_api.asarray(X), array_api.asarray(y))
        for method in ("predict", "predict_proba", "predict_log_proba"):
            with pytest.raises(ValueError, match="must use the same namespace"):
                getattr(model, method)(X)


def test_log_proba_finite_where_proba_underflows(array_api, data):
    X, y = data
    X_device = array_api.asarray(X)
    with dispatch():
        model = SoftmaxRegression(C=1e4).fit(X_device, array_api.asarray(y))
        far = X_device * 1000.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            proba = array_api.to_numpy(model.predict_proba(far))
            log_proba = array_api.to_numpy(model.predict_log_proba(far))
    assert np.any(proba == 0)
    assert np.all(np.isfinite(log_proba))
    reference = SoftmaxRegression(C=1e4).fit(X, y)
    assert_close(log_proba, reference.predict_log_proba(X * 1000.0), "float64")


def test_without_dispatch_torch_goes_through_numpy(data):
    torch = pytest.importorskip("torch")
    X, y = data
    model = SoftmaxRegression().fit(torch.asarray(X), torch.asarray(y))
    assert isinstance(model.coef_, np.ndarray)
    assert_array_equal(model.coef_, SoftmaxRegression().fit(X, y).coef_)


def test_X_never_becomes_numpy_in_fit_or_predict_proba(
    strict_array_api, data, monkeypatch
):
    """On array-api-strict's non-default device, record every move to numpy."""
    X, y = data
    array_type = type(strict_array_api.asarray([0.0]))
    moved = []
    for name in ("__array__", "__dlpack__"):
        method = getattr(array_type, name)

        def recorded(array, *args, _method=method, **kwargs):
            moved.append(array.shape)
            return _method(array, *args, **kwargs)

        monkeypatch.setattr(array_type, name, recorded)
    X_device = strict_array_api.asarray(X)
    with dispatch():
        for params in ESTIMATORS.values():
            model = SoftmaxRegression(**params).fit(
                X_device, strict_array_api.asarray(y)
            )
            model.predict_proba(X_device)
    assert moved, "the recorder sees the moves of the (1 + n_dof) results"
    assert all(N_SAMPLES not in shape for shape in moved), moved


def test_cv_refuses_array_api_inputs_and_grid_search_takes_them(array_api, data):
    X, y = data
    X_device, y_device = array_api.asarray(X), array_api.asarray(y)
    with dispatch():
        # its path runs on numpy folds: a clear error, not one from deep inside
        # sklearn's validation (LogisticRegressionCV's TypeError of torch dtypes)
        for inputs in ((X_device, y_device), (X, y_device)):  # y alone, too
            with pytest.raises(TypeError, match="Tune SoftmaxRegression with Grid"):
                SoftmaxRegressionCV(Cs=2, cv=2).fit(*inputs)
        search = GridSearchCV(SoftmaxRegression(), {"C": [0.1, 1.0]}, cv=2)
        search.fit(X_device, y_device)
        assert_in_namespace(search.best_estimator_.coef_, X_device)
        assert_in_namespace(search.predict(X_device), X_device)


def test_sparsify_refuses_a_coef_on_a_device(array_api, data):
    X, y = data
    with dispatch():
        model = SoftmaxRegression().fit(array_api.asarray(X), array_api.asarray(y))
    with pytest.raises(TypeError, match="sparsify.. needs a numpy coef_"):
        model.sparsify()


def test_sample_weight_as_a_list_or_a_number(array_api, data):
    # sklearn's array-likes: a list went to move_to, which wants an array
    X, y = data
    weights = (np.arange(N_SAMPLES) % 3 + 1.0).tolist()
    for sample_weight, want in ((weights, np.asarray(weights)), (2.0, 2.0)):
        reference = SoftmaxRegression().fit(X, y, sample_weight=want)
        with dispatch():
            model = SoftmaxRegression().fit(
                array_api.asarray(X), array_api.asarray(y), sample_weight=sample_weight
            )
        assert_close(array_api.to_numpy(model.coef_), reference.coef_, "float64")


@pytest.mark.parametrize(
    ("fit", "predict"), [("float32", "float64"), ("float64", "float32")]
)
def test_prediction_promotes_x_and_the_fit_as_numpy(array_api, data, fit, predict):
    # torch's matmul refuses float32 @ float64: outputs as numpy promotes them
    X, y = data
    reference = SoftmaxRegression().fit(X.astype(fit), y)
    with dispatch():
        model = SoftmaxRegression().fit(array_api.asarray(X.astype(fit)), y)
        X_device = array_api.asarray(X.astype(predict))
        for method in ("decision_function", "predict_proba", "predict_log_proba"):
            got = getattr(model, method)(X_device)
            want = getattr(reference, method)(X.astype(predict))
            assert str(got.dtype).endswith(want.dtype.name)
            assert_close(array_api.to_numpy(got), want, "float32")
