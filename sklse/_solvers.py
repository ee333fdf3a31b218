"""Glue from :class:`sklse._loss.SoftmaxLoss` to ``scipy.optimize.minimize``.

Every solver minimises the scaled objective ``f`` of :mod:`sklse._loss` and stops on one
criterion, the one ``tol`` has for LogisticRegression's lbfgs::

    max_j |grad f(params)_j| <= tol

never on a small step or a small decrease alone, so that solvers agree at equal ``tol``.
scipy's own tests are set to agree with it or to be stricter (``ftol=0`` for L-BFGS-B;
``gtol`` on the 2-norm, which bounds the max-norm, for trust-ncg); :class:`_Monitor`
checks the max-norm after each iteration and stops scipy through ``StopIteration``.
"""

import threading
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from scipy import optimize
from threadpoolctl import ThreadpoolController

__all__ = ["SOLVERS", "SolverResult"]


class SolverResult(NamedTuple):
    """What a solver returns: the last iterate and how it got there."""

    params: np.ndarray  # float64 (n_dof,)
    n_iter: int  # solver iterations, not function evaluations
    converged: bool  # max |gradient| <= tol at ``params``
    message: str  # why scipy stopped ("" when it did not run)
    interrupted: bool  # the caller's callback asked to stop


class _Monitor:
    """Wrap ``loss.loss_gradient``: remember the iterate, report it, stop at ``tol``.

    Used as scipy's ``fun`` (with ``jac=True``) and ``callback``. scipy calls the
    callback with the accepted iterate: the last point evaluated when the iteration
    moved, the previous iterate when a trust-region step was rejected.
    """

    def __init__(self, loss, solver, tol, verbose, on_iteration=None):
        self.loss, self.solver, self.tol, self.verbose = loss, solver, tol, verbose
        self.on_iteration = on_iteration
        self.n_iter = 0
        self.interrupted = False
        self.last = self.iterate = None  # (params, value, grad)

    def __call__(self, params):
        if self.last is None or not np.array_equal(params, self.last[0]):
            self.last = (params.copy(), *self.loss.loss_gradient(params))
        return self.last[1], self.last[2]

    def callback(self, intermediate_result):
        self.n_iter += 1
        params = intermediate_result.x
        if self.iterate is None or not np.array_equal(params, self.iterate[0]):
            self.iterate = (
                self.last
                if np.array_equal(params, self.last[0])
                else (params.copy(), *self.loss.loss_gradient(params))
            )
        _, value, grad = self.iterate
        grad_norm = np.max(np.abs(grad), initial=0.0)
        if self.verbose:
            print(
                f"[{self.solver}] iter {self.n_iter:4d}  "
                f"objective {self.loss.scale * value:.12e}  max|grad| {grad_norm:.3e}"
            )
        if self.on_iteration is not None and self.on_iteration(params):
            self.interrupted = True
            raise StopIteration
        if grad_norm <= self.tol:
            raise StopIteration

    def gradient_at(self, params):
        """Return the gradient at ``params``, evaluating only if it is new."""
        for state in (self.iterate, self.last):
            if state is not None and np.array_equal(state[0], params):
                return state[2]
        return self(params)[1]


def _lbfgs(params, monitor, max_iter):
    return optimize.minimize(
        monitor,
        params,
        method="L-BFGS-B",
        jac=True,
        callback=monitor.callback,
        options={
            "maxiter": max_iter,
            "maxls": 50,  # scipy's 20 gives up early on badly scaled problems
            "gtol": monitor.tol,  # the same max-norm test as ours
            "ftol": 0.0,  # never stop on a small decrease of f alone
        },
    )


def _trust_ncg(params, monitor, max_iter):
    return optimize.minimize(
        monitor,
        params,
        method="trust-ncg",
        jac=True,
        hessp=monitor.loss.hessp,
        callback=monitor.callback,
        # gtol bounds the 2-norm, so scipy never stops before our max-norm test.
        options={"maxiter": max_iter, "gtol": monitor.tol},
    )


def _newton_cg(params, monitor, max_iter):
    # scipy's Newton-CG ends its CG loop once the curvature p.Hp <= 3 * eps, an
    # absolute test that stalls it near max|grad f| ~ 1e-8 on our order-one f; it
    # is handed S * f (S = total sample weight), which moves that floor ~S^3 lower.
    scale = monitor.loss.sw_sum

    def scaled(params):
        value, grad = monitor(params)
        return scale * value, scale * grad

    return optimize.minimize(
        scaled,
        params,
        method="Newton-CG",
        jac=True,
        hessp=lambda params, direction: scale * monitor.loss.hessp(params, direction),
        callback=monitor.callback,
        # scipy also stops Newton-CG on a small step (xtol); set below reach, so that
        # only the gradient test stops it.
        options={"maxiter": max_iter, "xtol": np.finfo(np.float64).tiny},
    )


SOLVERS = {"lbfgs": _lbfgs, "newton-cg": _newton_cg, "trust-ncg": _trust_ncg}


_blas = {"lock": threading.Lock(), "users": 0, "limiter": None, "controller": None}


@contextmanager
def _one_blas_thread():
    """Limit every BLAS pool to one thread while any fit in this process runs.

    threadpoolctl's limit is process-wide and restores what it found on exit, so
    fits overlapping in threads would restore out of order and leave BLAS at one
    thread: the first fit in sets the limit, the last one out restores it. The
    controller scans the loaded libraries (~3 ms) once.
    """
    with _blas["lock"]:
        if _blas["users"] == 0:
            if _blas["controller"] is None:
                _blas["controller"] = ThreadpoolController()
            _blas["limiter"] = _blas["controller"].limit(limits=1, user_api="blas")
        _blas["users"] += 1
    try:
        yield
    finally:
        with _blas["lock"]:
            _blas["users"] -= 1
            if _blas["users"] == 0:
                _blas["limiter"].restore_original_limits()


def minimize(
    loss,
    params,
    *,
    solver="lbfgs",
    tol=1e-4,
    max_iter=100,
    verbose=0,
    on_iteration=None,
):
    """Minimise ``loss`` from ``params`` with one of :data:`SOLVERS`.

    Parameters
    ----------
    loss : SoftmaxLoss
        Provides ``loss_gradient(params)``, ``hessp(params, direction)`` and
        ``scale`` (the factor from the scaled objective to F, for reporting).
    params : ndarray of shape (n_dof,)
        Starting point; copied to float64, never modified.
    solver : {"lbfgs", "newton-cg", "trust-ncg"}, default="lbfgs"
    tol : float, default=1e-4
        Stop once ``max |grad f| <= tol``.
    max_iter : int, default=100
        Maximum number of solver iterations; 0 returns the starting point.
    verbose : int, default=0
        Print objective and gradient max-norm after each iteration when positive.
    on_iteration : callable or None, default=None
        Called once per solver iteration, after it, as ``on_iteration(params)`` with
        the iterate (float64, read-only use); a true return value stops the solver
        there (``result.interrupted``).

    Returns
    -------
    result : SolverResult
        ``converged`` is ``max |grad f(result.params)| <= tol``.
    """
    params = np.array(params, dtype=np.float64)  # scipy iterates in float64 anyway
    monitor = _Monitor(loss, solver, tol, verbose, on_iteration)
    # numpy and scipy each load an OpenBLAS with a spinning thread pool; on 2 cores the
    # two pools fight. Measured here: L-BFGS on digits (1797 x 64, K=10, 60 iterations)
    # 1.87 s with default threads, 0.05 s with one BLAS thread; 50000 x 500 (6
    # iterations) 0.68 s vs 0.58 s. Parallelism comes from the loss's block threads.
    message = ""
    # A start that already meets tol (a warm start) takes no iteration, whatever the
    # solver (scipy's Newton-CG would take one).
    if max_iter > 0 and not np.max(np.abs(monitor(params)[1]), initial=0.0) <= tol:
        with _one_blas_thread():
            result = SOLVERS[solver](params, monitor, max_iter)
        params, message = result.x, str(result.message)
    grad_norm = np.max(np.abs(monitor.gradient_at(params)), initial=0.0)
    converged = bool(grad_norm <= tol)
    return SolverResult(params, monitor.n_iter, converged, message, monitor.interrupted)
