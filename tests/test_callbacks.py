"""SoftmaxRegression with scikit-learn's callbacks (``sklearn.callback``).

The oracle for "the training objective decreases" is the objective written here with
``scipy.special.logsumexp`` from each reconstructed model's ``coef_``/``intercept_``;
the scores are scikit-learn's scorers on the fitted model.
"""

import ast
import copy
import pathlib
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from sklearn.callback import FitCallback, ProgressBar, ScoringMonitor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import sklse
from sklse import SoftmaxRegression
from sklse._solvers import SOLVERS as ALL_SOLVERS

# Every way sklse fits: each solver, and L-BFGS-B on the split L1 problem.
FITS = {solver: {"solver": solver} for solver in sorted(ALL_SOLVERS)}
FITS["lbfgs-enet"] = {"solver": "lbfgs", "l1_ratio": 0.5}
SOLVERS = list(FITS)
EPS64 = np.finfo(np.float64).eps
TIGHT = 1e-8  # enough iterations (> 3) for every solver on the data below


def make_data(rng, n_classes=3, n_samples=200, n_features=5):
    """Return standardised X and labels drawn from a softmax model (not separable)."""
    X = rng.standard_normal((n_samples, n_features))
    proba = softmax(X @ rng.standard_normal((n_classes, n_features)).T, axis=1)
    y = (rng.random((n_samples, 1)) > np.cumsum(proba, axis=1)).sum(axis=1)
    y = np.minimum(y, n_classes - 1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    return X, y


def objective(X, y, coef, intercept, C, l1_ratio=0.0):
    """``F = C sum_i CE_i + (1 - r)/2 ||W||_F^2 + r ||W||_1`` in float64."""
    X = X.toarray() if sp.issparse(X) else X
    Z = X @ coef.T + intercept
    data = np.sum(logsumexp(Z, axis=1) - Z[np.arange(len(y)), y])
    penalty = (1 - l1_ratio) / 2 * np.sum(coef**2) + l1_ratio * np.sum(np.abs(coef))
    return C * data + penalty


def task_path(context):
    """Return the task ids from the root task down to ``context``."""
    path = []
    while context is not None:
        path.append(context.task_id)
        context = context.parent
    return tuple(reversed(path))


class Recorder(FitCallback):
    """Record every begin/end hook with its task path, model and metadata.

    ``stop_at=n`` asks to stop at the end of iteration n (1-based).
    """

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.events = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def _record(self, hook, context, fitted_estimator, metadata):
        model = None
        if fitted_estimator is not None:
            # deepcopy: the models of array-API fits (check_estimator) have no .copy
            model = copy.deepcopy((fitted_estimator.coef_, fitted_estimator.intercept_))
        self.events.append((hook, task_path(context), model, metadata))

    def on_fit_task_begin(
        self, estimator, context, *, metadata=None, fitted_estimator=None
    ):
        self._record("begin", context, fitted_estimator, metadata)

    def on_fit_task_end(
        self, estimator, context, *, metadata=None, fitted_estimator=None
    ):
        self._record("end", context, fitted_estimator, metadata)
        path = task_path(context)
        return len(path) == 2 and path[1] + 1 == self.stop_at

    def iterations(self):
        """Return the (hook, path, model) events of the iteration sub-tasks."""
        return [event[:3] for event in self.events if len(event[1]) == 2]


def fit_watched(X, y, callback, **params):
    return SoftmaxRegression(**params).set_callbacks(callback).fit(X, y)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_one_begin_end_pair_per_iteration_and_objective_decreases(rng, solver, sparse):
    X, y = make_data(rng)
    X = sp.csr_matrix(X) if sparse else X
    recorder = Recorder()
    model = fit_watched(X, y, recorder, **FITS[solver], tol=TIGHT, C=10.0)
    n_iter = model.n_iter_[0]
    assert n_iter > 3
    # The fit task first and last, its iterations in order between: begin, end.
    assert [event[:2] for event in recorder.events] == (
        [("begin", (0,))]
        + [(hook, (0, k)) for k in range(n_iter) for hook in ("begin", "end")]
        + [("end", (0,))]
    )
    iterations = recorder.iterations()
    begins, ends = iterations[0::2], iterations[1::2]
    # begin sees the previous iterate (the zero start first), end this iterate.
    assert_array_equal(begins[0][2][0], 0.0)
    for begin, previous_end in zip(begins[1:], ends[:-1], strict=True):
        assert_array_equal(begin[2][0], previous_end[2][0])
        assert_array_equal(begin[2][1], previous_end[2][1])
    assert_array_equal(ends[-1][2][0], model.coef_)
    assert_array_equal(ends[-1][2][1], model.intercept_)
    values = np.array(
        [objective(X, y, *begins[0][2], C=10.0, l1_ratio=model.l1_ratio)]
        + [objective(X, y, *end[2], C=10.0, l1_ratio=model.l1_ratio) for end in ends]
    )
    # Non-increasing within round-off; a rejected trust-region step repeats a value.
    assert np.all(np.diff(values) <= 64 * EPS64 * np.abs(values[:-1]))
    assert values[-1] < values[0]


@pytest.mark.parametrize("solver", SOLVERS)
def test_scoring_monitor_logs_each_iteration_ending_at_the_fitted_score(rng, solver):
    X, y = make_data(rng)
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model = fit_watched(X, y, monitor, **FITS[solver], tol=TIGHT)
    rows = monitor.get_logs().data
    iterations = [row for row in rows if row["parent_task_id_path"] == (0,)]
    assert [row["task_id"] for row in iterations] == list(range(model.n_iter_[0]))
    assert {row["task_name"] for row in iterations} == {f"{model.solver}-iter"}
    scores = np.array([row["neg_log_loss"] for row in iterations])
    fitted_score = get_scorer("neg_log_loss")(model, X, y)
    assert scores[-1] == fitted_score  # the last iteration's model is the fitted one
    assert scores[0] < fitted_score
    # One more row, for the fit task itself (as LogisticRegression logs it).
    assert len(rows) == len(iterations) + 1
    assert rows[0]["task_name"] == "fit" and rows[0]["neg_log_loss"] == fitted_score


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_callback_stops_the_fit_at_iteration_3(rng, solver):
    X, y = make_data(rng)
    recorder = Recorder(stop_at=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: the stop was asked for
        model = fit_watched(X, y, recorder, **FITS[solver], tol=TIGHT)
    assert_array_equal(model.n_iter_, [3])
    assert model.gradient_norm_ > TIGHT  # not converged: a plain fit would warn
    assert len(recorder.iterations()) == 6
    assert recorder.events[-1][:2] == ("end", (0,))
    _, _, (coef, intercept) = recorder.iterations()[-1]
    assert_array_equal(model.coef_, coef)
    assert_array_equal(model.intercept_, intercept)
    assert np.all(np.isfinite(model.predict_proba(X)))
    assert np.all(np.isfinite(model.predict_log_proba(X)))
    assert set(model.predict(X)) <= set(y)
    # The same three iterations as max_iter=3, which does warn.
    with pytest.warns(ConvergenceWarning, match="max_iter=3 was reached"):
        capped = SoftmaxRegression(**FITS[solver], tol=TIGHT, max_iter=3).fit(X, y)
    assert_array_equal(model.coef_, capped.coef_)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_watching_changes_nothing(rng, solver, sparse):
    X, y = make_data(rng)
    X = sp.csc_matrix(X) if sparse else X
    plain = SoftmaxRegression(**FITS[solver], tol=TIGHT).fit(X, y)
    for callback in (Recorder(), ScoringMonitor(scoring="neg_log_loss")):
        watched = fit_watched(X, y, callback, **FITS[solver], tol=TIGHT)
        for name in ("coef_", "intercept_", "n_iter_", "objective_", "gradient_norm_"):
            assert_array_equal(getattr(watched, name), getattr(plain, name))


def test_no_iteration_no_subtask(rng):
    X, y = make_data(rng)
    recorder = Recorder()
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        model = fit_watched(X, y, recorder, max_iter=0)
    assert_array_equal(model.n_iter_, [0])
    assert [event[:2] for event in recorder.events] == [
        ("begin", (0,)),
        ("end", (0,)),
    ]
    assert_array_equal(model.coef_, 0.0)


def test_warm_start_begins_at_the_previous_model(rng):
    X, y = make_data(rng)
    recorder = Recorder()
    model = fit_watched(X, y, recorder, warm_start=True, tol=1e-3)
    first_coef = model.coef_.copy()
    recorder.events.clear()
    model.fit(X, y)  # already within tol: no iteration
    assert_array_equal(model.n_iter_, [0])
    assert len(recorder.events) == 2
    recorder.events.clear()
    model.set_params(tol=TIGHT).fit(X, y)
    assert model.n_iter_[0] == len(recorder.iterations()) // 2 > 0
    # The start, re-centred (its class rows already sum to 0 up to round-off).
    assert_allclose(recorder.iterations()[0][2][0], first_coef, rtol=4 * EPS64)


def test_sample_weight_is_passed_as_metadata(rng):
    X, y = make_data(rng)
    weights = rng.uniform(0.5, 2.0, size=len(y))
    recorder = Recorder()
    SoftmaxRegression().set_callbacks(recorder).fit(X, y, sample_weight=weights)
    assert len(recorder.events) > 2
    assert all(event[3]["sample_weight"] is weights for event in recorder.events)
    recorder.events.clear()
    fit_watched(X, y, recorder)
    assert all(event[3] is None for event in recorder.events)
    # ScoringMonitor scores with the weights: the last row is the weighted score.
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model = SoftmaxRegression().set_callbacks(monitor)
    model.fit(X, y, sample_weight=weights)
    last = monitor.get_logs().data[-1]["neg_log_loss"]
    assert last == get_scorer("neg_log_loss")(model, X, y, sample_weight=weights)


def test_progress_bar_in_grid_search_over_a_pipeline(rng, capsys):
    pytest.importorskip("rich")
    X, y = make_data(rng)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SoftmaxRegression())])
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=2)
    # The default depth 1 stops at the Pipeline; None shows the inner fits too.
    search.set_callbacks(ProgressBar(max_propagation_depth=None)).fit(X, y)
    out = capsys.readouterr().out
    assert "GridSearchCV - fit" in out
    # 2 candidates x 2 folds and the refit, each with its bar.
    assert out.count("SoftmaxRegression - fit") >= 5
    assert search.predict(X).shape == y.shape


def test_convergence_warning_points_at_the_caller(rng):
    X, y = make_data(rng)
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegression(max_iter=1).fit(X, y)
    assert record[0].filename == __file__


# check_non_transformer_estimators_n_iter fits unscaled iris with max_iter=100.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_checks_pass_with_a_callback_set():
    check_estimator(SoftmaxRegression().set_callbacks(Recorder()))


def test_sklse_never_imports_rich():
    # rich is an optional extra, for sklearn's ProgressBar only.
    imported = set()
    for path in pathlib.Path(sklse.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert "sklearn" in imported  # the scan sees imports
    assert "rich" not in imported
