"""Newton steps for :mod:`sklse._solvers`: the loop, its line search, the step.

:func:`newton` takes Newton steps on the problem of a solver's monitor
(:class:`sklse._solvers._Monitor`: its ``measure``, ``record`` and ``problem``)
until ``max|grad f| <= tol``, judging progress on the gradient near the float64
floor of f, where scipy's solvers stop. The step is solved on the dense Hessian
(:func:`cholesky_solver`, for newton-cholesky) or by conjugate gradients on the
Hessian-vector product (:func:`cg_solver`, to finish the scipy solvers).
"""

import numpy as np
from scipy import linalg, optimize
from scipy.linalg import lapack
from scipy.sparse import linalg as sparse_linalg

from sklse._objective import _unpack

__all__ = ["cg_solver", "cholesky_solver", "newton", "rounding"]

_CG_PRODUCTS = 200  # Hessian-vector products per Newton-CG step, at most
_HALVINGS = 40  # step halvings before a Newton step is given up: 2**-40 ~ 1e-12
_ARMIJO = 1e-4  # sufficient decrease: f falls by >= 1e-4 of the linear model's fall
_QUADRATIC = 1e-3  # a Newton step's fall of max|grad f| near the optimum, at least


def newton(x, monitor, max_iter, solve, *, decrement=None, damped=False, unmet=None):
    """Newton steps from ``x`` until ``max|grad f| <= tol``; scipy-like result.

    ``solve(params, free, gradient, damping)`` returns the step ``-(H + damping
    I)^-1 gradient`` on the ``free`` entries (0 elsewhere); :func:`_line_search`
    takes it or a fraction. For float32 evaluations an exact ``solve``
    (``solve.exact``: the dense Hessian's) takes the gradient with float64 sums
    (the monitor's ``precise_gradient``), as it amplifies the rounding of float32
    ones; Newton-CG's takes the evaluation's, then those sums where no step made
    progress.
    With ``decrement`` (a float), the fit also needs the Newton decrement ``1/2
    g^T H^-1 g`` of the last step (a second-order estimate of ``f - f*`` where it
    was taken, which the step then squares) to be at most ``decrement``:
    LogisticRegression's newton-cholesky's test with ``tol``, because on
    ill-conditioned problems a small gradient does not mean a small gap;
    where f* > 0 (``loss.f_star_positive``: a penalty) the bound is relative
    where ``f < 1``, ``decrement * f``: an absolute bound says nothing where f
    itself is of its order
    (classes separable but for the penalty, f* ~ 3e-4: it stopped 1.5e-2 above
    F*, and farther than LogisticRegression's default on 32 of 1135 datasets of
    R's, none since; ``benchmarks/results/loss_constants.md``). A
    decrement within f's rounding (:func:`rounding`, in the evaluations'
    precision ``loss.dtype``) counts as met: a smaller one cannot be told from
    0, and float32 data stalled there, each step a line search of rounding;
    ``decrement=0`` goes on to that floor. With ``unmet`` (a callable of ``x``),
    the fit also needs ``unmet(x)`` to be None (its other test holds: a scipy
    solver's ``tol`` in its standardised variables); it returns a message where
    not. Stops when no step makes progress (the floor), or after ``max_iter``
    steps; if the gradient test then holds and a positive ``decrement``'s or
    ``unmet``'s does not, ``monitor.unmet`` says so, and the fit warns (as
    LogisticRegression's newton-cholesky: a small gradient on separable data at
    a large C, 155 times above F* after 10 steps).

    With ``damped``, on an orthant (an L1 term), a step that makes no progress
    is tried once more damped (``solve``'s ``damping``, as Levenberg and
    Marquardt's, ``max|g|``): with ``l1_ratio = 1`` only the data's curvature
    holds ``W``, an orthant can free more entries than the data's rank, and the
    Newton step was then huge, mostly cut back to the orthant, or an ascent
    direction from the rounding of a singular Hessian. The damped step is
    bounded where the curvature is below ``max|g|``; the next step is Newton's
    again, whose convergence near the optimum the damping would slow.
    """
    problem, tol = monitor.problem, monitor.tol
    monitor.unmet = None  # a scipy phase stopped by its maxfun left iterations
    value, optimality = monitor.measure(x)
    params, message = problem.to_params(x), "max_iter reached"
    tested = decrement is not None  # else the gradient test alone
    last_decrement, decrement = (np.inf, decrement) if tested else (0.0, 0.0)
    relative = monitor.loss.f_star_positive  # a gap relative to f has a meaning

    def bound(value):
        """The decrement test's bound at f = ``value``, before f's rounding."""
        return decrement * min(1.0, abs(value)) if relative else decrement

    for _ in range(max_iter):
        rounded = rounding(monitor.loss, value)
        if optimality <= tol and last_decrement <= max(bound(value), rounded):
            if unmet is None or unmet(x) is None:
                return optimize.OptimizeResult(x=x, message="tol reached")
        # The gradient the step solves with: where the evaluations are float32,
        # the loss's float64 sums (precise_gradient) for an exact solve, which
        # amplifies a float32 gradient's rounding; for conjugate gradients, stopped
        # early, the evaluation's, and the float64 sums where it made no progress.
        gradients = [monitor(x)[1], monitor.precise_gradient]
        if getattr(solve, "exact", False):
            precise = monitor.precise_gradient(x)
            gradients = gradients[:1] if precise is None else [precise]
        found = None
        for grad in gradients:
            grad = grad(x) if callable(grad) else grad
            if grad is None:  # float64 evaluations: their gradient was tried
                break
            free, gradient, sign = problem.newton_system(x, grad)
            dampings = [0.0]
            if damped and free is not None:
                dampings.append(np.max(np.abs(gradient[free]), initial=0.0))
            for damping in dampings:
                step = solve(params, free, gradient, damping)
                slope = float(gradient @ step)  # < 0: -slope, the squared decrement
                # f >= 0: a model that predicts no fall, or one beyond f, comes from
                # the rounding of a singular Hessian; the damped step is tried at once.
                if damping == dampings[-1] or 0 < -0.5 * slope <= value:
                    at = (value, optimality)
                    found = _line_search(
                        monitor, params, step, sign, slope, at, rounded
                    )
                if found is not None:
                    break
            if found is not None:
                break
        if found is None:
            floor = np.dtype(monitor.loss.dtype).name  # the evaluations' precision
            message = f"no Newton step decreases f or its gradient ({floor} floor)"
            break
        params, x, value, optimality = found
        if tested:
            last_decrement = -0.5 * slope
        try:
            monitor.record(x, answer=True)
        except StopIteration:
            break
    else:  # max_iter steps: the gradient test can hold and another one not
        limit = max(bound(value), rounding(monitor.loss, value))
        if decrement > 0 and optimality <= tol and last_decrement > limit:
            monitor.unmet = (
                f"max|gradient| = {optimality:.2e} <= tol, but the last Newton "
                f"decrement (an estimate of f - f*) = {last_decrement:.1e} > "
                f"{limit:.1e}"
            )
        elif unmet is not None:
            monitor.unmet = unmet(x)
    return optimize.OptimizeResult(x=x, message=message)


def rounding(loss, value):
    """Return the rounding of f at ``value``: ``64 eps |f|``, eps of ``loss.dtype``.

    Falls of f below it are not told from rounding: the line search judges the
    gradient there, and a scipy solver gives way (:mod:`sklse._solvers`).
    """
    return 64 * np.finfo(loss.dtype).eps * abs(value)


def _line_search(monitor, params, step, sign, slope, at, noise):
    """Return ``(params, x, f, optimality)`` after the step, or None: no progress.

    Where f's predicted fall (``-slope``, the Newton model's ``-2 (f(x+p) - f(x))``)
    is above its rounding ``noise``, steps of length 1, 1/2, 1/4, ... are tried until f
    falls by the Armijo rule. Below it, near the float64 floor, a fall of f
    cannot be told from rounding: progress is judged on the gradient, and the full
    step is taken if it halves ``max|grad f|`` without raising f beyond rounding,
    or whatever f does if it cuts ``max|grad f|`` a thousandfold (Newton's
    quadratic convergence): ``noise``, ``64 eps |f|``, is below f's rounding
    where the logits are far above f, as every row's loss then rounds (R's
    AER/Fatalities one-hot with features up to 3e7, as CSC: f rose 5.9e-15
    against 5.5e-15 while the gradient fell from 7e-3 to 6e-8, and the fit stopped
    at the float64 "floor" that CSR and dense X went past).
    """
    problem, (value, optimality) = monitor.problem, at
    flat = -slope <= noise
    for halving in range(1 if flat else _HALVINGS):
        trial = problem.project(params + 0.5**halving * step, sign)
        x_trial = problem.to_x(trial)
        value_trial, optimality_trial = monitor.measure(x_trial)
        # The fall itself against Armijo's: f + 1e-4 * slope can round to f, and
        # then an f that did not move passed (breast_cancer's standardised
        # features plus 1e6: 92 Newton steps at the gradient's float64 floor).
        fall = value_trial - value
        unmoved = fall == 0  # the step is below f's resolution: so are its halves
        if flat or unmoved:
            progress = optimality_trial <= optimality * _QUADRATIC or (
                fall <= noise and optimality_trial <= optimality / 2
            )
        else:
            progress = fall <= _ARMIJO * 0.5**halving * slope
        if progress:
            return trial, x_trial, value_trial, optimality_trial
        if unmoved:
            break
    return None


def _null_directions(loss, free):
    """Return the entries of each direction ``u`` along which f does not change.

    f does not change when one vector is added to every class's intercept (and,
    without a penalty, to every class's coefficients): its Hessian is singular
    along those ``u``, and its gradient orthogonal to them up to rounding. With an
    L1 term a ``u`` counts only where all its entries are ``free``.
    """
    n_classes, n_dof = loss.n_classes, loss.n_dof
    n_features = n_dof // n_classes - int(loss.fit_intercept)
    directions = (
        []
        if loss.alpha > 0
        else [n_features * np.arange(n_classes) + j for j in range(n_features)]
    )
    if loss.fit_intercept:
        directions.append(n_classes * n_features + np.arange(n_classes))
    return [entries for entries in directions if free is None or free[entries].all()]


def cholesky_solver(loss, change=None):
    """Return a ``solve`` for :func:`newton` on the dense Hessian.

    With ``change`` (a :class:`sklse._solvers._Standardized`), the system is
    solved in its variables y (features centred and scaled), on the Hessian of
    the centred features (``loss.hessian(params, center)``): newton-cholesky's
    steps are those of any affine change in exact arithmetic, not in floating
    point. Where a feature's mean is far beyond its spread, ``[X, 1]^T D [X, 1]``
    has a condition number ~ ``(mean / spread)**4``, beyond float64's reach from
    a mean of ~1e4 spreads: its steps went nowhere and the decrement test passed
    far above F* (wine standardised plus 1e4: 34% above F*, no warning); on a
    feature of scale 1e9 (a time stamp) the null directions' shift below, set
    by that feature's curvature, drowned the intercepts'.

    Adding ``c * u u^T`` along the :func:`_null_directions` makes the Hessian
    positive definite without changing the step on the other directions, and the
    gradient's part along them is dropped, so that the step is the least-squares
    one, with nothing along them: there the smooth part's gradient is rounding,
    and with an L1 term and no L2 term f is linear along the coefficients'
    directions, which :meth:`sklse._solvers._SplitL1.project` minimises exactly.
    (The change maps the free entries to themselves, and the step along the
    intercepts' sum is dropped once more in params.)
    With an L1 term the step is on the ``free`` entries
    (:meth:`sklse._solvers._SplitL1.newton_system`). ``solve(params, free,
    gradient, damping)`` solves ``(H + damping I) step = -gradient``; with a
    change, ``(H_y + damping I) step_y = -grad_y`` in y, mapped back to params,
    where ``damping`` comes from the gradient in params as :func:`newton` gives it
    (a standardised feature's entries are of one scale in both). With two
    classes and no L1 term the step comes from the margin's system instead
    (:func:`_margin_step`), where the loss has one.
    """
    margin = loss.n_classes == 2 and hasattr(loss, "margin_hessian")
    null_all = _null_directions(loss, None)
    center = change.mean if change is not None and loss.fit_intercept else None
    divisor = None if change is None else change.divisor
    margin_divisor = None  # the margin's entries': class 0's coefficients, intercept
    if margin and divisor is not None:
        n_features = loss.n_dof // 2 - int(loss.fit_intercept)
        margin_divisor = divisor[:n_features]
        if loss.fit_intercept:
            margin_divisor = np.r_[divisor[:n_features], divisor[2 * n_features]]

    def solve(params, free, gradient, damping=0.0):
        if change is None:
            return solve_here(params, free, gradient, damping)
        step = change.to_params(
            solve_here(params, free, change.gradient(gradient), damping)
        )
        if loss.fit_intercept:
            # Linear in y, a step maps as a point, but b = beta - W mean moves every
            # intercept by the mean of W's step: none along their sum, again.
            intercepts = step[len(step) - loss.n_classes :]
            intercepts -= intercepts.mean()
        return step

    def solve_here(params, free, gradient, damping):
        if margin and free is None and not damping:
            return _margin_step(loss, params, gradient, center, margin_divisor)
        hessian = loss.hessian(params, center)
        if divisor is not None:
            hessian /= np.multiply.outer(divisor, divisor)
        if not np.isfinite(hessian).all():  # beyond float64 (|x| ~ 1e100): no step
            return np.full_like(params, np.nan)
        scale = np.trace(hessian) / (len(hessian) * loss.n_classes)
        rhs = -gradient  # a new array
        for entries in null_all if free is None else _null_directions(loss, free):
            hessian[entries[:, np.newaxis], entries] += scale
            rhs[entries] -= rhs[entries].mean()
        mask = slice(None) if free is None else free
        if free is not None:
            hessian = hessian[np.ix_(free, free)]
        if damping:
            hessian[np.diag_indices_from(hessian)] += damping
        step = np.zeros_like(params)
        # LAPACK's Cholesky directly: cho_factor / cho_solve's checks and wrappers
        # cost as much as the factorisation of a small Hessian.
        factor, info = lapack.dpotrf(hessian)
        if info == 0:
            step[mask] = lapack.dpotrs(factor, rhs[mask])[0]
        # Not positive definite in floating point, or, on an orthant with more free
        # entries than the data's rank, a singular Hessian whose factor of rounding
        # gives an ascent direction: the least-squares step.
        if info != 0 or not gradient[mask] @ step[mask] < 0:
            step[mask] = _least_squares(hessian, rhs[mask])
        return step

    solve.exact = True  # newton takes its step from float64 sums (precise_gradient)
    return solve


def _least_squares(matrix, rhs):
    """Return the least-squares solution, NaN (no step) where LAPACK's SVD fails.

    It failed to converge on a finite Hessian of digits times 1e100 (the 26th
    newton-cholesky step): :func:`_line_search` then rejects the step.
    """
    try:
        return linalg.lstsq(matrix, rhs, check_finite=False)[0]
    except linalg.LinAlgError:
        return np.full_like(rhs, np.nan)


def _margin_step(loss, params, gradient, center=None, divisor=None):
    """Return :func:`cholesky_solver`'s step for two classes, on a quarter of H.

    With class k's entries ``v_k`` (its coefficients, then its intercept), a
    vector is ``[-a, a] + [c, c]`` with ``a = (v_1 - v_0) / 2`` and ``c = (v_1 +
    v_0) / 2``; the Hessian maps ``[-q, q]`` to ``[-M q, M q]``
    (:meth:`~sklse._loss.SoftmaxLoss.margin_hessian`) and ``[q, q]`` to alpha
    times it. So the step is ``[-q, q] + [s, s]`` with ``M q = -a`` and ``s = -c
    / alpha`` on the coefficients, and none along the intercepts' sum (nor along
    the coefficients' sums without a penalty): the null directions, where
    :func:`cholesky_solver` takes none either. In its variables y (``center``,
    and ``divisor``, the margin's entries' divisors, the same for both classes) M
    and alpha are divided by the divisors' outer product.
    """
    fit_intercept = loss.fit_intercept
    coef, intercept = _unpack(gradient, 2, fit_intercept)
    n_features = coef.shape[1]
    half_difference = 0.5 * (coef[1] - coef[0])
    if fit_intercept:
        half_difference = np.r_[half_difference, 0.5 * (intercept[1] - intercept[0])]
    margin = loss.margin_hessian(params, center)
    curvature = loss.alpha  # the penalty's, along [q, q] on the coefficients
    if divisor is not None:
        margin /= np.multiply.outer(divisor, divisor)
        curvature = curvature / divisor[:n_features] ** 2
    if not np.isfinite(margin).all():  # as in cholesky_solver
        return np.full_like(params, np.nan)
    factor, info = lapack.dpotrf(margin)
    if info == 0:
        q = lapack.dpotrs(factor, -half_difference)[0]
    if info != 0 or not half_difference @ q < 0:  # as in cholesky_solver
        q = _least_squares(margin, -half_difference)
    step = np.empty_like(params)
    step_coef, step_intercept = _unpack(step, 2, fit_intercept)
    symmetric = 0.0 if loss.alpha == 0 else -0.5 * (coef[1] + coef[0]) / curvature
    step_coef[0], step_coef[1] = symmetric - q[:n_features], symmetric + q[:n_features]
    if fit_intercept:
        step_intercept[:] = [-q[n_features], q[n_features]]
    return step


def cg_solver(loss, change=None):
    """Return a ``solve`` for :func:`newton`: conjugate gradients on ``hessp``.

    Solved to the forcing term of scipy's Newton-CG, ``min(0.5, sqrt(|g|))``
    relative to ``|g|``, which makes the steps converge superlinearly. CG runs on
    the complement of the :func:`_null_directions`: near the float64 floor the
    gradient's rounding along them is not small next to the gradient, and CG on
    the singular system then returned ascent directions. ``damping`` as in
    :func:`cholesky_solver`. With ``change`` (a :class:`sklse._solvers._Standardized`)
    CG solves the system in its variables y, as :func:`cholesky_solver` does, and
    the step is mapped back: CG is not invariant to the change, and in params on
    unscaled features (spreads 1e-2 to 1e4) it left the gradient in y stuck above
    ``tol`` for 90 steps (R's stevedata/ESS10NO after trust-ncg). The null
    directions are the same in y (vectors equal across the classes, y's of
    params' and params' of y's).
    """
    null_all = _null_directions(loss, None)
    if change is None:
        to_y = to_params = lambda vector: vector  # noqa: E731
    else:
        to_y, to_params = change.gradient, change.to_params

    def solve(params, free, gradient, damping=0.0):
        mask = np.ones(len(params), dtype=bool) if free is None else free
        null = null_all if free is None else _null_directions(loss, free)

        def project(full):
            """Zero ``full`` off the free entries and along the null directions."""
            full = np.where(mask, full, 0.0)
            for entries in null:
                full[entries] -= full[entries].mean()
            return full

        def product(direction):
            full = np.zeros_like(params)
            full[mask] = direction
            hessp = loss.hessp(params, to_params(project(full)))
            return project(to_y(hessp))[mask] + damping * direction

        n_free = int(mask.sum())
        operator = sparse_linalg.LinearOperator((n_free, n_free), product)
        rhs = project(to_y(-gradient))[mask]
        norm = float(np.linalg.norm(rhs))
        rtol = min(0.5, np.sqrt(norm))
        if norm > 0:  # CG on a unit rhs: its dot products overflowed at |x| ~ 1e100
            rhs /= norm
        step = np.zeros_like(params)
        # At most 200 products per step, as scikit-learn's newton-cg (maxinner):
        # near the float64 floor an ill-conditioned system would otherwise take
        # hundreds of passes over X for a step that may not be taken.
        maxiter = min(20 * n_free, _CG_PRODUCTS)
        step[mask] = sparse_linalg.cg(operator, rhs, rtol=rtol, maxiter=maxiter)[0]
        step = to_params(step * norm if norm > 0 else step)
        if change is not None and loss.fit_intercept:
            # As in cholesky_solver: b = beta - W mean moves every intercept by the
            # mean of W's step; none along their sum.
            intercepts = step[len(step) - loss.n_classes :]
            intercepts -= intercepts.mean()
        return step

    return solve
