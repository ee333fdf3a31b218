"""A fit leaves the process's BLAS pools as it found them, whatever runs beside it.

The oracle for the thread counts is threadpoolctl's report before the fits; for the
coefficients, the same fits run one after another in the main thread.
"""

import multiprocessing
import threading
from functools import partial

import joblib
import numpy as np
import pytest
from sklearn.callback import FitCallback
from sklearn.datasets import load_digits, load_iris
from threadpoolctl import threadpool_info, threadpool_limits

from sklse import SoftmaxRegression
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
