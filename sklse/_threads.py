"""The one BLAS thread of a fit: a process-wide limit that concurrent fits share.

numpy and scipy each load an OpenBLAS with a spinning thread pool; on 2 cores the two
pools fight (see :func:`sklse._solvers.minimize`), so every fit runs with one BLAS
thread and takes its parallelism from the loss's block threads. The limit of an
OpenBLAS with a pthreads pool is process-wide, so fits that overlap in threads share
one: the first fit in records every BLAS pool's thread count and sets it to 1, the
last one out sets back each pool still at 1 (a pool that other code changed in
between keeps that change). While any fit runs, the process's BLAS runs on one thread.

Every evaluation of a fit runs under the limit, so its results do not depend on what
else the process does: OpenBLAS does not sum in the same order on 1 and 2 threads
(the gradient of digits at 0 differs in its last bits). threadpoolctl 3.8 lets one
thread at a time set such a pool's limit; each change here holds that control only
while it is made (:func:`sklse._compat.changing_blas_limits`), so that the last fit
out, in whichever thread, can restore, and other code can set limits between fits.
Code that holds the control in another thread (inside its ``with
threadpool_limits(...)``) keeps its limit, and the fits run under it.
"""

import os
import threading
from contextlib import contextmanager

from sklse._compat import blas_pools, changing_blas_limits

__all__ = ["one_blas_thread"]


class _Shared:
    """What the running fits of this process share: how many, and what they found."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = 0  # fits inside one_blas_thread
        self.found = []  # (pool, thread count) of each BLAS pool before the first


_shared = _Shared()


def _limit():
    """Set every BLAS pool to one thread; return each with its count before."""
    with changing_blas_limits():
        found = [(pool, pool.num_threads) for pool in blas_pools()]
        for pool, _ in found:
            pool.set_num_threads(1)
    return found


def _restore(found):
    """Set each pool of ``found`` that is still at one thread back to its count."""
    with changing_blas_limits():
        for pool, num_threads in found:
            if num_threads is not None and pool.num_threads == 1:
                pool.set_num_threads(num_threads)


@contextmanager
def one_blas_thread():
    """Run the block with one BLAS thread; the last block out restores the counts.

    Also a decorator. Blocks nest and overlap across threads: only the first in
    changes the limit, only the last out restores it.
    """
    pid = os.getpid()
    with _shared.lock:
        if _shared.users == 0:
            _shared.found = _limit()
        _shared.users += 1
    try:
        yield
    finally:
        # A child forked inside the block starts with no fit counted (see below).
        if os.getpid() == pid:
            _leave()


def _leave():
    """Count one block out; restore the BLAS pools if it was the last."""
    with _shared.lock:
        _shared.users -= 1
        if _shared.users == 0:
            _restore(_shared.found)


def _after_fork_in_child():
    """Give a forked child a fresh lock, no running fit, and BLAS as found.

    The fits running in the parent's other threads do not exist in the child, which
    would otherwise keep their one BLAS thread for good (and a lock held at the fork
    would never be released).
    """
    global _shared
    found = _shared.found if _shared.users else []
    _shared = _Shared()
    _restore(found)


os.register_at_fork(after_in_child=_after_fork_in_child)
