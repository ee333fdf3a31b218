"""A fit leaves the process's BLAS pools as it found them, whatever runs beside it.

The oracle for the thread counts is threadpoolctl's report before the fits; for the
coefficients, the same fits run one after another in the main thread.
"""

import multiprocessing
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.callback import FitCallback
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_info, threadpool_limits

import sklse._compat
from sklse import SoftmaxRegression
from sklse._loss import SoftmaxLoss, useful_threads
from sklse._threads import one_blas_thread

# Unscaled digits does not converge within the max_iter below; the same in every run.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def blas_threads():
    """Return the thread count of each loaded BLAS pool, by library path."""
    return sorted(
        (info["filepath"], info["num_threads"])
        for info in threadpool_info()
        if info["user_api"] == "blas"
    )


def in_a_thread(function):
    """Run ``function`` in a thread that then ends.

    threadpoolctl (>= 3.8) gives control of a process-wide OpenBLAS pool to the
    first thread that limits it until that thread ends or leaves its ``with``
    block; a thread that ends holds nothing, so the fits below can limit BLAS.
    """
    thread = threading.Thread(target=function)
    thread.start()
    thread.join()


@pytest.fixture
def two_blas_threads():
    """Every BLAS pool at 2 threads (even on one core), as found after the test.

    Set from another thread, to 3 then 2: it fails where a thread of the tests
    (earlier fits included) kept threadpoolctl's control of OpenBLAS.
    """
    found = blas_threads()
    for limit in (3, 2):
        in_a_thread(partial(threadpool_limits, limits=limit, user_api="blas"))
        assert {count for _, count in blas_threads()} == {limit}
    yield
    limits = dict(found)
    in_a_thread(partial(threadpool_limits, limits=limits))


def make_problem(name):
    """Return X, y of the problem ``name``: small ones and one with block threads."""
    if name == "iris":
        return load_iris(return_X_y=True)
    if name == "digits":
        return load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 100))
    y = np.argmax(X[:, :10] + rng.standard_normal((20000, 10)), axis=1)
    return X, y


PROBLEMS = {name: make_problem(name) for name in ("iris", "digits", "20000x100")}


def fit(job):
    """Fit the job ``(problem name, C)``; return the fitted attributes compared."""
    name, C = job
    X, y = PROBLEMS[name]
    clf = SoftmaxRegression(C=C, max_iter=30).fit(X, y)
    return clf.coef_, clf.intercept_, clf.n_iter_, clf.objective_


def test_the_problems_cover_block_threads():
    # Block threads on the large problem (wherever the machine has 2 cores), not on
    # the small ones.
    assert useful_threads(PROBLEMS["20000x100"][0], 10, 2) == 2
    assert useful_threads(PROBLEMS["digits"][0], 10, 2) == 1


def test_blocks_that_exit_out_of_order_restore_blas(two_blas_threads):
    # Only the last block out restores, whichever entered first.
    before = blas_threads()
    first, second = one_blas_thread(), one_blas_thread()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert {count for _, count in blas_threads()} == {1}
    second.__exit__(None, None, None)
    assert blas_threads() == before


def test_a_pool_changed_during_the_fits_keeps_the_change(two_blas_threads):
    # Other code that sets BLAS while a fit runs wins over the restore at its end.
    with one_blas_thread():
        in_a_thread(lambda: threadpool_limits(limits=3, user_api="blas"))
    assert {count for _, count in blas_threads()} == {3}


def test_overlapping_fits_in_threads_leave_blas_as_found(two_blas_threads):
    jobs = [(name, C) for name in PROBLEMS for C in (0.1, 1.0, 10.0)] * 2
    order = random.Random(0)
    order.shuffle(jobs)
    delays = [order.uniform(0, 0.05) for _ in jobs]
    before = blas_threads()

    def delayed_fit(job, delay):
        time.sleep(delay)
        return fit(job)

    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(delayed_fit, jobs, delays))
    assert blas_threads() == before
    sequential = [fit(job) for job in jobs]
    assert blas_threads() == before
    for job, alone, beside in zip(jobs, sequential, concurrent, strict=True):
        for expected, actual in zip(alone, beside, strict=True):
            assert_array_equal(actual, expected, err_msg=str(job))


def test_joblib_threads_leave_blas_as_found(two_blas_threads):
    # The report: eight iris fits on joblib's threads left BLAS at one thread
    # (in most runs: it depends on which thread fits last); five tries.
    X, y = PROBLEMS["iris"]
    before = blas_threads()
    for _ in range(5):
        joblib.Parallel(n_jobs=2, prefer="threads")(
            joblib.delayed(SoftmaxRegression().fit)(X, y) for _ in range(8)
        )
        assert blas_threads() == before


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_fits_in_worker_processes_equal_fits_in_this_one(backend, two_blas_threads):
    # loky starts fresh worker processes; joblib's multiprocessing backend forks them
    # (multiprocessing's default start method on Linux before Python 3.14).
    X, y = PROBLEMS["digits"]
    grid = {"C": [0.01, 0.1]}
    search = GridSearchCV(SoftmaxRegression(max_iter=20), grid, cv=3)
    alone = search.fit(X, y).cv_results_
    alone_models = cross_validate(search.estimator, X, y, return_estimator=True)
    before = blas_threads()
    with joblib.parallel_config(backend=backend):
        beside = search.set_params(n_jobs=2).fit(X, y).cv_results_
        beside_models = cross_validate(
            search.estimator, X, y, return_estimator=True, n_jobs=2
        )
    assert blas_threads() == before
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert_array_equal(beside[key], alone[key])
    for one, two in zip(
        alone_models["estimator"], beside_models["estimator"], strict=True
    ):
        assert_array_equal(two.coef_, one.coef_)
        assert_array_equal(two.intercept_, one.intercept_)


def report_blas_threads(queue):
    """Put this process's BLAS thread counts on ``queue`` (a forked child's target)."""
    queue.put(blas_threads())


class Gate(FitCallback):
    """Hold the fit at its first iteration until ``release`` is set."""

    def __init__(self):
        self.reached, self.release = threading.Event(), threading.Event()

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        self.reached.set()
        self.release.wait(timeout=30)

    def teardown(self, estimator, context):
        pass


def test_a_child_forked_during_a_fit_has_blas_as_found(two_blas_threads):
    X, y = PROBLEMS["iris"]
    before = blas_threads()
    gate = Gate()
    clf = SoftmaxRegression().set_callbacks(gate)
    thread = threading.Thread(target=clf.fit, args=(X, y))
    thread.start()
    try:
        assert gate.reached.wait(timeout=30)
        assert {count for _, count in blas_threads()} == {1}  # the fit's limit
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=report_blas_threads, args=(queue,))
        child.start()
        in_child = queue.get(timeout=30)
        child.join(timeout=30)
    finally:
        gate.release.set()
        thread.join()
    assert in_child == before
    assert blas_threads() == before


class Interrupt(FitCallback):
    """Raise KeyboardInterrupt at the end of iteration ``at`` (1-based)."""

    def __init__(self, at):
        self.at, self.seen = at, 0

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt

    def teardown(self, estimator, context):
        pass


def fitted_attributes(estimator):
    """Return the fitted attributes (``check_is_fitted``'s rule) of ``estimator``."""
    return {
        name: value
        for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("__")
    }


def interrupt_from_a_callback(clf, X, y, monkeypatch):
    clf.set_callbacks(Interrupt(at=3)).fit(X, y)


def interrupt_from_the_loss(clf, X, y, monkeypatch):
    evaluate = SoftmaxLoss.loss_gradient
    calls = []

    def raise_on_fifth_call(self, params):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return evaluate(self, params)

    monkeypatch.setattr(SoftmaxLoss, "loss_gradient", raise_on_fifth_call)
    clf.fit(X, y)


@pytest.mark.parametrize(
    "interrupt", [interrupt_from_a_callback, interrupt_from_the_loss]
)
@pytest.mark.parametrize("fitted_before", [False, True])
def test_an_interrupted_fit_leaves_blas_and_the_estimator_as_found(
    interrupt, fitted_before, two_blas_threads, monkeypatch
):
    clf = SoftmaxRegression(max_iter=50)
    if fitted_before:  # on other data: other classes and features
        clf.fit(*PROBLEMS["digits"])
    before = fitted_attributes(clf)
    blas_before = blas_threads()
    X, y = PROBLEMS["iris"]
    with pytest.raises(KeyboardInterrupt):
        interrupt(clf, X, y, monkeypatch)
    assert blas_threads() == blas_before
    after = fitted_attributes(clf)
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name] is value, name
    if not fitted_before:
        with pytest.raises(NotFittedError):
            check_is_fitted(clf)
    # The estimator still fits, and the same as one never interrupted.
    monkeypatch.undo()
    clf.set_callbacks()
    assert_array_equal(
        clf.fit(X, y).coef_, SoftmaxRegression(max_iter=50).fit(X, y).coef_
    )


class _Pool:
    def __init__(self, internal_api, architecture):
        self.internal_api, self.architecture = internal_api, architecture


@pytest.mark.parametrize(
    "blas, cores, expected",
    [
        ("scipy-openblas", ["SkylakeX"], True),
        ("openblas", ["SkylakeX", "SapphireRapids"], True),
        ("scipy-openblas", ["Haswell"], False),  # no small-matrix kernels
        ("scipy-openblas", ["SkylakeX", "Zen"], False),  # one pool without them
        ("mkl", ["SkylakeX"], False),  # numpy not on OpenBLAS
        ("scipy-openblas", [], False),  # none that threadpoolctl sees
    ],
)
def test_small_matrix_gemm_from_the_blas_and_its_core(
    monkeypatch, blas, cores, expected
):
    # The kernels' rule reads numpy's BLAS and the cores threadpoolctl reports.
    config = {"Build Dependencies": {"blas": {"name": blas}}}
    monkeypatch.setattr(sklse._compat.np, "show_config", lambda mode: config)
    pools = [_Pool("openblas", core) for core in cores] + [_Pool("openmp", None)]
    monkeypatch.setattr(sklse._compat, "blas_pools", lambda: pools)
    assert sklse._compat.has_small_matrix_gemm.__wrapped__() is expected
