"""Tests of sklse._solvers.minimize on SoftmaxLoss.

References are written here: the objective with ``scipy.special.logsumexp`` on a
float64 copy of the data, and LogisticRegression's fit of the same objective. The
gradient used to judge ``converged`` is the loss's own (tests/test_loss.py checks it
against finite differences).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklse import SoftmaxRegression
from sklse._loss import SoftmaxLoss
from sklse._newton import _line_search, cholesky_solver
from sklse._solvers import (
    SOLVERS,
    SolverResult,
    _Standardized,
    minimize,
    newton_cost,
)

ALL_SOLVERS = sorted(SOLVERS)
N_CLASSES = 3


def make_problem(
    rng, layout="dense", dtype=np.float64, weighted=False, C=1.0, fit_intercept=True
):
    """Return (loss, X, y, sample_weight) on labels drawn from a softmax model."""
    n_samples, n_features = 150, 4
    X = rng.standard_normal((n_samples, n_features))
    proba = softmax(X @ rng.standard_normal((N_CLASSES, n_features)).T, axis=1)
    y = (rng.random((n_samples, 1)) > np.cumsum(proba, axis=1)).sum(axis=1)
    y = np.minimum(y, N_CLASSES - 1).astype(np.intp)
    y[:N_CLASSES] = np.arange(N_CLASSES)
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples) if weighted else None
    if layout == "csr":
        X[rng.random(X.shape) < 0.4] = 0.0
        X = sp.csr_matrix(X)
    X = X.astype(dtype)
    loss = SoftmaxLoss(X, y, N_CLASSES, sample_weight, C=C, fit_intercept=fit_intercept)
    return loss, X, y, sample_weight


def split(params, n_features, fit_intercept):
    """The documented layout ``concatenate([W.ravel(), b])``, read independently."""
    coef = params[: N_CLASSES * n_features].reshape(N_CLASSES, n_features)
    intercept = params[N_CLASSES * n_features :] if fit_intercept else np.zeros(3)
    return coef, intercept


def objective(X, y, coef, intercept, C, sample_weight=None):
    """Float64 ``F = C * sum_i s_i (logsumexp(z_i) - z_{i, y_i}) + 1/2 ||W||_F^2``."""
    X = (X.toarray() if sp.issparse(X) else X).astype(np.float64)
    Z = X @ coef.T + intercept
    row_loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    data = np.dot(s, row_loss)
    return data if np.isinf(C) else C * data + 0.5 * np.sum(coef**2)


def centred(coef, intercept):
    """Remove what the objective cannot see: a common shift of the class rows."""
    return coef - coef.mean(axis=0), intercept - intercept.mean()


def max_abs_grad(loss, params):
    return np.max(np.abs(loss.loss_gradient(params)[1]))


CONFIGS = {
    "dense": {},
    "weighted-no-intercept": {"weighted": True, "fit_intercept": False, "C": 0.3},
    "csr-weighted": {"layout": "csr", "weighted": True, "C": 10.0},
    "no-penalty": {"C": np.inf},
    "float32": {"dtype": np.float32},
}


@pytest.mark.parametrize("config", CONFIGS)
def test_every_solver_reaches_the_same_optimum(rng, config):
    kwargs = CONFIGS[config]
    loss, X, y, sample_weight = make_problem(rng, **kwargs)
    C, fit_intercept = kwargs.get("C", 1.0), kwargs.get("fit_intercept", True)
    lr = LogisticRegression(
        C=C, fit_intercept=fit_intercept, solver="newton-cholesky", tol=1e-12
    ).fit(X.astype(np.float64), y, sample_weight=sample_weight)
    lr_intercept = lr.intercept_ if fit_intercept else np.zeros(N_CLASSES)
    f_lr = objective(X, y, lr.coef_, lr_intercept, C, sample_weight)
    # float32 logits carry ~1e-7 relative error: a looser tol and comparison.
    is32 = kwargs.get("dtype") == np.float32
    tol, rtol, atol = (1e-5, 1e-8, 1e-4) if is32 else (1e-8, 1e-12, 1e-6)

    models = []
    for solver in ALL_SOLVERS:
        result = minimize(loss, np.zeros(loss.n_dof), solver=solver, tol=tol)
        assert isinstance(result, SolverResult)
        assert result.converged, solver
        coef, intercept = split(result.params, X.shape[1], fit_intercept)
        f = objective(X, y, coef, intercept, C, sample_weight)
        assert_allclose(f, f_lr, rtol=rtol, err_msg=solver)
        models.append((f, *centred(coef, intercept)))
    lr_coef, lr_intercept = centred(lr.coef_, lr_intercept)
    for f, coef, intercept in models:
        assert_allclose(f, models[0][0], rtol=rtol)
        assert_allclose(coef, lr_coef, rtol=0, atol=atol)
        assert_allclose(intercept, lr_intercept, rtol=0, atol=atol)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("start_dtype", [np.float32, np.float64])
def test_params_are_float64_for_float32_data(rng, solver, start_dtype):
    loss, *_ = make_problem(rng, dtype=np.float32)
    for max_iter in [0, 1, 50]:
        start = np.zeros(loss.n_dof, dtype=start_dtype)
        result = minimize(loss, start, solver=solver, tol=1e-5, max_iter=max_iter)
        assert result.params.dtype == np.float64
        assert result.params.shape == (loss.n_dof,)


@pytest.mark.parametrize(
    "tol, max_iter, expected",
    [(1e-6, 200, True), (1e-2, 200, True), (1e-10, 2, False), (0.0, 5, False)],
)
@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_converged_iff_gradient_below_tol(rng, solver, tol, max_iter, expected):
    loss, *_ = make_problem(rng, weighted=True)
    start = np.zeros(loss.n_dof)
    result = minimize(loss, start, solver=solver, tol=tol, max_iter=max_iter)
    assert result.converged == (max_abs_grad(loss, result.params) <= tol)
    assert result.converged == expected
    assert 0 < result.n_iter <= max_iter


@pytest.mark.parametrize("max_iter", [1, 2, 3])
@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_converged_threshold_is_tol_itself(rng, solver, max_iter):
    """With tol just above / below the gradient reached, converged follows it; a
    fit that meets it can also be unconverged, by another test of its stop left
    unmet (Newton's decrement, tol in the standardised variables)."""
    loss, *_ = make_problem(rng)
    start = np.zeros(loss.n_dof)
    reached = minimize(loss, start, solver=solver, tol=0.0, max_iter=max_iter)
    grad_norm = max_abs_grad(loss, reached.params)
    for factor in [0.5, 0.99, 1.0, 1.01, 2.0]:
        tol = factor * grad_norm
        result = minimize(loss, start, solver=solver, tol=tol, max_iter=max_iter)
        met = max_abs_grad(loss, result.params) <= tol
        decrement_unmet = "Newton decrement" in result.message
        unmet = decrement_unmet or "on the features standardised" in result.message
        assert result.converged == (met and not unmet)
        assert not decrement_unmet or solver in ("auto", "newton-cholesky")
        if factor < 1:  # the same iterates, or an earlier stop at a smaller gradient
            assert not result.converged or result.n_iter < max_iter
        else:
            assert result.converged or unmet


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_max_iter_zero_returns_the_start(rng, solver):
    loss, *_ = make_problem(rng)
    start = 0.1 * rng.standard_normal(loss.n_dof)
    start_copy = start.copy()
    result = minimize(loss, start, solver=solver, tol=1e-8, max_iter=0)
    assert result.n_iter == 0
    assert not result.converged
    assert_array_equal(result.params, start_copy)
    assert_array_equal(start, start_copy)
    result.params[:] = 0.0  # the result is not a view of the caller's array
    assert_array_equal(start, start_copy)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_caller_start_not_modified(rng, solver):
    loss, *_ = make_problem(rng)
    start = 0.1 * rng.standard_normal(loss.n_dof)
    start_copy = start.copy()
    result = minimize(loss, start, solver=solver, tol=1e-8)
    assert result.converged
    assert_array_equal(start, start_copy)
    assert not np.shares_memory(result.params, start)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_max_iter_one(rng, solver):
    loss, *_ = make_problem(rng)
    result = minimize(loss, np.zeros(loss.n_dof), solver=solver, tol=1e-8, max_iter=1)
    assert result.n_iter == 1
    assert not result.converged
    start_grad = max_abs_grad(loss, np.zeros(loss.n_dof))
    assert max_abs_grad(loss, result.params) < start_grad  # it did take a step


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_stopping_criterion_is_the_gradient(rng, solver, config):
    loss, *_ = make_problem(rng, **CONFIGS[config])
    result = minimize(loss, np.zeros(loss.n_dof), solver=solver, tol=1e-5)
    assert result.converged
    assert max_abs_grad(loss, result.params) <= 1e-5


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_on_iteration_sees_every_iterate_and_can_stop(rng, solver):
    loss, *_ = make_problem(rng)
    full = minimize(loss, np.zeros(loss.n_dof), solver=solver, tol=1e-8)
    seen = []

    def record(params):
        seen.append(params.copy())
        return False

    watched = minimize(
        loss, np.zeros(loss.n_dof), solver=solver, tol=1e-8, on_iteration=record
    )
    assert len(seen) == watched.n_iter == full.n_iter > 3
    assert not watched.interrupted
    assert_array_equal(seen[-1], watched.params)
    assert_array_equal(watched.params, full.params)  # watching changes nothing

    def stop_at_third(params):
        return len(seen) == 3

    seen.clear()
    stopped = minimize(
        loss,
        np.zeros(loss.n_dof),
        solver=solver,
        tol=1e-8,
        on_iteration=lambda params: record(params) or stop_at_third(params),
    )
    assert stopped.n_iter == 3 and len(seen) == 3
    assert stopped.interrupted and not stopped.converged
    assert_array_equal(stopped.params, seen[-1])
    assert np.all(np.isfinite(stopped.params))


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_verbose_prints_each_iteration(rng, capsys, solver):
    loss, *_ = make_problem(rng)
    result = minimize(loss, np.zeros(loss.n_dof), solver=solver, tol=1e-6, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == result.n_iter > 0
    assert all(line.startswith(f"[{solver}]") and "objective" in line for line in lines)
    silent = minimize(loss, np.zeros(loss.n_dof), solver=solver, tol=1e-6)
    assert capsys.readouterr().out == ""
    assert_array_equal(silent.params, result.params)


def _count_hessians(loss):
    """Make ``loss.hessian`` count its calls; return the list it appends to."""
    calls, hessian = [], loss.hessian

    def counted(params, center=None):
        calls.append(1)
        return hessian(params, center)

    loss.hessian = counted
    return calls


@pytest.mark.parametrize("scaled", [True, False])
def test_auto_gives_way_to_newton_where_lbfgs_stalls_only(scaled):
    # L-BFGS's gradient is not monotone: on standardised digits at C=1 it rises
    # ~5x near its 20th iteration, which a rate read off the last iterate took for
    # a stall (two dense Hessians, each about as costly as the whole L-BFGS fit).
    # Unscaled digits do stall L-BFGS: there the dense Newton steps must come.
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X) if scaled else X
    loss = SoftmaxLoss(X, y, 10, None, C=1.0)
    calls = _count_hessians(loss)
    result = minimize(loss, np.zeros(loss.n_dof), solver="auto", tol=1e-4)
    assert result.converged
    assert (len(calls) == 0) == scaled


@pytest.mark.parametrize("C", [0.3, np.inf])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_two_class_newton_step_is_the_full_systems(rng, C, fit_intercept, weighted):
    # The step from the margin's quarter of the Hessian is the least-squares step of
    # the whole (n_dof, n_dof) system, nothing along its null directions: numpy's
    # minimum-norm solution. The start is not antisymmetric (W[0] != -W[1]), so
    # the penalty's symmetric part of the step is tested too.
    X = rng.standard_normal((120, 4))
    y = (X[:, 0] + rng.standard_normal(120) > 0).astype(np.intp)
    sample_weight = rng.uniform(0.2, 3.0, size=120) if weighted else None
    loss = SoftmaxLoss(X, y, 2, sample_weight, C=C, fit_intercept=fit_intercept)
    params = 0.3 * rng.standard_normal(loss.n_dof)
    gradient = loss.loss_gradient(params)[1]
    hessian = loss.hessian(params)
    expected = np.linalg.lstsq(hessian, -gradient, rcond=1e-10)[0]
    step = cholesky_solver(loss)(params, None, gradient)
    assert_allclose(step, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("C", [0.3, np.inf])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cholesky_step_is_newtons_in_standardized_variables(
    rng, n_classes, C, fit_intercept
):
    # Newton's step is invariant to an affine change of variables: solved in y on
    # the centred features' Hessian, mapped back, it is the least-squares step of
    # the (n_dof, n_dof) system in params, on features whose mean and scale are
    # uneven but within float64's reach there.
    X = rng.standard_normal((150, 4)) * [0.1, 1.0, 30.0, 3.0] + [2.0, -5.0, 40.0, 0.0]
    y = rng.integers(0, n_classes, 150)
    loss = SoftmaxLoss(X, y, n_classes, C=C, fit_intercept=fit_intercept)
    params = 0.05 * rng.standard_normal(loss.n_dof)
    gradient = loss.loss_gradient(params)[1]
    expected = np.linalg.lstsq(loss.hessian(params), -gradient, rcond=1e-12)[0]
    step = cholesky_solver(loss, _Standardized.of(loss))(params, None, gradient)
    assert_allclose(step, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardized_variables_are_a_change_of_variables(rng, fit_intercept):
    # params = T y and its inverse; the gradient in y is T^T times the gradient in
    # params, checked against central differences of f(T y).
    X = rng.standard_normal((200, 3)) * [1e-2, 1.0, 1e3] + [0.0, 5.0, -1e3]
    y = rng.integers(0, 3, 200)
    loss = SoftmaxLoss(X, y, 3, C=10.0, fit_intercept=fit_intercept)
    change = _Standardized.of(loss)
    params = 0.01 * rng.standard_normal(loss.n_dof)
    assert_allclose(change.to_params(change.to_y(params)), params, rtol=1e-12)
    point = change.to_y(params)
    gradient = change.gradient(loss.loss_gradient(params)[1])
    step = 1e-6
    for j in range(loss.n_dof):
        e = np.zeros(loss.n_dof)
        e[j] = step
        forward = loss.loss_gradient(change.to_params(point + e))[0]
        backward = loss.loss_gradient(change.to_params(point - e))[0]
        assert (forward - backward) / (2 * step) == pytest.approx(
            gradient[j], rel=1e-5, abs=1e-9
        )


def test_lbfgs_on_unscaled_features_meets_tol_quickly():
    # wine as it comes (features from 0.1 to 1680): plain L-BFGS stopped at
    # max_iter=2000 above tol = 1e-6; on standardised variables it takes about 60
    # iterations, to LogisticRegression's optimum.
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    loss = SoftmaxLoss(X, y, 3)
    result = minimize(
        loss, np.zeros(loss.n_dof), solver="lbfgs", tol=1e-6, max_iter=300
    )
    assert result.converged and result.n_iter < 150
    reference = LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=100)
    reference.fit(X, y)
    coef = result.params[: loss.n_dof - 3].reshape(3, -1)
    F = objective(X, y, coef, result.params[-3:], 1.0)
    F_reference = objective(X, y, reference.coef_, reference.intercept_, 1.0)
    assert F == pytest.approx(F_reference, rel=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_lbfgs_on_standardized_features_takes_logistic_regressions_path(seed):
    # The change of variables is relative to a standardised feature: the identity
    # there (up to the intercepts' alpha), so that L-BFGS stops where LR's lbfgs
    # does at tol=1e-4. With the curvatures made 1 instead, its first step was
    # another, and the fits ended 5e-4 to 1e-3 apart in coef.
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        3000, 20, n_informative=10, n_classes=5, random_state=seed
    )
    X = StandardScaler().fit_transform(X)
    loss = SoftmaxLoss(X, y, 5)
    result = minimize(loss, np.zeros(loss.n_dof), solver="lbfgs", tol=1e-4)
    reference = LogisticRegression().fit(X, y)
    assert result.n_iter == reference.n_iter_[0]
    coef = result.params[:-5].reshape(5, -1)
    assert_allclose(coef, reference.coef_, atol=1e-4)


def tf_idf_rows(n_samples, n_features, n_classes, density, seed):
    """CSR rows of non-negative entries, unit norm, and softmax labels."""
    rng = np.random.default_rng(seed)
    X = sp.random_array(
        (n_samples, n_features),
        density=density,
        format="csr",
        rng=rng,
        data_sampler=lambda size: rng.exponential(size=size),
    )
    X = sp.csr_matrix(sp.diags_array(1 / sp.linalg.norm(X, axis=1)) @ X)
    coef = rng.standard_normal((n_classes, n_features)) * 3
    logits = X @ coef.T + rng.gumbel(size=(n_samples, n_classes))
    return X, np.argmax(logits, axis=1)


def test_lbfgs_meets_tol_in_its_standardised_variables():
    # TF-IDF columns have a spread far below a standardised feature's, and at
    # C=100 a point 80% above F* met tol in params after 2 iterations: the test
    # in params alone stopped L-BFGS there, on dense and sparse X alike. LR's
    # lbfgs ends 5e-3 above F*.
    n_classes, C = 20, 100.0
    X, y = tf_idf_rows(2000, 4000, n_classes, 0.025, seed=0)

    def F(params):
        coef = params[:-n_classes].reshape(n_classes, -1)
        return objective(X, y, coef, params[-n_classes:], C)

    loss = SoftmaxLoss(X, y, n_classes, C=C)
    start = np.zeros(loss.n_dof)
    optimum = minimize(loss, start, solver="trust-ncg", tol=1e-10)
    assert optimum.converged
    F_star = F(optimum.params)
    reference = LogisticRegression(C=C).fit(X, y)
    lr_gap = objective(X, y, reference.coef_, reference.intercept_, C) / F_star - 1
    for data in (X, X.toarray()):
        loss = SoftmaxLoss(data, y, n_classes, C=C)
        result = minimize(loss, start, solver="lbfgs", tol=1e-4)
        assert result.converged
        assert F(result.params) / F_star - 1 <= min(lr_gap, 1e-4)


def test_max_iter_between_the_two_tests_is_unconverged_and_warns():
    # On the problem above, L-BFGS's second iterate meets tol in params, 80% above
    # F*, and not in its standardised variables: at max_iter=2 the fit stopped
    # there, converged and silent; its stop's test is unmet, so it warns.
    n_classes, C = 20, 100.0
    X, y = tf_idf_rows(2000, 4000, n_classes, 0.025, seed=0)
    loss = SoftmaxLoss(X, y, n_classes, C=C)
    start = np.zeros(loss.n_dof)
    short = minimize(loss, start, solver="lbfgs", tol=1e-4, max_iter=2)
    done = minimize(loss, start, solver="lbfgs", tol=1e-4)
    assert short.n_iter == 2 and short.gradient_norm <= 1e-4
    assert short.value > 1.5 * done.value  # f, and F, far above the optimum
    assert not short.converged and done.converged
    assert "on the features standardised" in short.message
    model = SoftmaxRegression(C=C, solver="lbfgs", max_iter=2)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 2 "):
        model.fit(X, y)
    assert model.gradient_norm_ <= model.tol


def migration_like(seed):
    """Rows like R's carData/Migration: every ordered pair of 9 provinces, the
    class the source, whose populations (1e5 to 8e6, two censuses) identify it,
    beside migrants and distances (1e2 to 1e4): unscaled, separable."""
    rng = np.random.default_rng(seed)
    n_classes = 9
    pops = np.exp(rng.uniform(np.log(1e5), np.log(8e6), n_classes))
    source, dest = np.divmod(np.arange(n_classes**2), n_classes)
    source, dest = source[source != dest], dest[source != dest]
    growth = rng.uniform(1.0, 1.1, n_classes)
    distance = rng.uniform(100, 5000, len(source))
    migrants = np.exp(rng.normal(8, 1.2, len(source)))
    X = np.column_stack(
        [
            migrants,
            distance,
            pops[source],
            pops[source] * growth[source],
            pops[dest],
            pops[dest] * growth[dest],
        ]
    )
    return X, source


@pytest.mark.parametrize("solver", ["newton-cg", "trust-ncg"])
def test_newton_finish_stops_once_the_gradient_meets_tol(solver):
    # scipy's Newton-CG and trust-ncg stop short of tol here and Newton-CG steps
    # finish; those ran on to the float64 floor, out of reach on separable
    # classes: 100 iterations (max_iter, no warning) where tol was met at 50 / 71.
    X, y = migration_like(1)
    loss = SoftmaxLoss(X, y, 9, C=1.0)
    norms = []
    result = minimize(
        loss,
        np.zeros(loss.n_dof),
        solver=solver,
        tol=1e-4,
        on_iteration=lambda params: norms.append(max_abs_grad(loss, params)),
    )
    assert result.converged and result.n_iter < 100
    assert min(norms[:-1]) > 1e-4 >= norms[-1]


@pytest.mark.parametrize("seed", [1, 3])
@pytest.mark.parametrize("solver", ["newton-cg", "trust-ncg"])
def test_newton_finish_on_unscaled_features_ends_near_the_optimum(solver, seed):
    # The Newton-CG finish after scipy's solvers ran CG in params: on features
    # from 1e2 to 8e6 it met tol there 1.7 to 11 times above F* (trust-ncg after
    # 66-71 iterations). In the standardised variables, as scipy's phase, and until
    # tol holds in them too: within 2e-3 of F*, in 35-57 iterations.
    X, y = migration_like(seed)
    loss = SoftmaxLoss(X, y, 9, C=1.0)
    start = np.zeros(loss.n_dof)
    optimum = minimize(loss, start, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    assert optimum.converged
    result = minimize(loss, start, solver=solver, tol=1e-4)
    assert result.converged and result.n_iter < 100
    assert result.value / optimum.value - 1 <= 2e-3


def test_auto_counts_sparse_products_by_stored_entries():
    # An L-BFGS iteration on sparse X costs its stored entries' products, the
    # Hessian (rows made dense) what dense X's costs.
    X, y = tf_idf_rows(3000, 300, 4, 0.05, seed=0)
    dense, sparse = SoftmaxLoss(X.toarray(), y, 4), SoftmaxLoss(X, y, 4)
    work = 3000 * 1204 * (1204 / 2 + 301)  # _hessian_work, n_dof = 4 * 301
    assert newton_cost(dense) == pytest.approx(work / (2 * 3000 * 1204))
    assert newton_cost(sparse) == pytest.approx(work / (2 * (X.nnz + 3000) * 4))


@pytest.mark.parametrize("form", [sp.csr_array, sp.csc_array])
def test_auto_on_sparse_X_gives_way_to_newton_as_on_dense(form):
    # auto on sparse X was L-BFGS alone: on digits without intercept it ran to
    # max_iter 7 % above F*, farther than LogisticRegression (3 %), where the
    # dense fit gives way to newton-cholesky and meets tol in 59 iterations.
    X, y = datasets.load_digits(return_X_y=True)
    dense = SoftmaxRegression(fit_intercept=False).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        sparse = SoftmaxRegression(fit_intercept=False).fit(form(X), y)
    f = [objective(X, y, m.coef_, 0.0, 1.0) for m in (dense, sparse)]
    assert f[1] == pytest.approx(f[0], rel=1e-9)
    assert sparse.n_iter_[0] < 100


def test_lbfgs_with_a_constant_feature_and_no_penalty():
    # A column of 0.1 has a variance about its mean of rounding (~1e-34): at C=inf
    # its scale came from that (1e-17), and L-BFGS ran 100 iterations to
    # coefficients of 1e15 without meeting tol. It is a constant feature.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal((1000, 3)), np.full(1000, 0.1)])
    noise = rng.logistic(size=(2, 1000))
    y = (X[:, 0] + noise[0] > 0).astype(np.intp) + (X[:, 1] + noise[1] > 1)
    loss = SoftmaxLoss(X, y, 3, C=np.inf)
    _, variance = loss.feature_moments()
    assert 0 < variance[-1] < 1e-30  # the rounding this test is about
    result = minimize(loss, np.zeros(loss.n_dof), solver="lbfgs", tol=1e-6)
    assert result.converged
    assert result.n_iter < 50
    assert np.max(np.abs(result.params)) < 100


def test_newton_decrement_is_relative_to_a_small_f():
    # A user's row index as the feature, classes sorted by it (as in openintro's
    # smallpox): separable but for the penalty, f* ~ 3e-4. LogisticRegression's
    # absolute test on the Newton decrement (1/2 d^2 <= tol, d^2 ~ f - f*) stopped
    # newton-cholesky 1.5e-2 above F*; relative to f it goes on to the optimum.
    X = np.arange(1.0, 6225.0)[:, np.newaxis]
    y = (X[:, 0] > 850).astype(int)
    fitted = SoftmaxRegression(C=0.5).fit(X, y)  # auto: newton-cholesky here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = LogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    margin, offset = reference.coef_[0] / 2, reference.intercept_ / 2
    f_star = objective(X, y, np.vstack([-margin, margin]), np.r_[-offset, offset], 0.5)
    f = objective(X, y, fitted.coef_, fitted.intercept_, 0.5)
    assert abs(f - f_star) <= 1e-9 * f_star


@pytest.mark.parametrize("solver", ["newton-cg", "trust-ncg"])
@pytest.mark.parametrize("name", ["wine", "breast_cancer", "digits"])
def test_newton_cg_solvers_run_on_standardised_variables(name, solver):
    # Features as they come (scales 1e-2 to 1e3): in params, the CG of the Newton
    # solvers truncated early and tol was met far from F* (digits 5e-2 above it,
    # wine's newton-cg 70 iterations to 1.2e-3); on the variables of L-BFGS, and
    # meeting tol in them too, they end within 1e-3 of F*.
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    C = 0.5 if name == "breast_cancer" else 1.0  # LR's C = 1 on two classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = LogisticRegression(
            solver="newton-cholesky", tol=1e-12, max_iter=1000
        ).fit(X, y)
    coef, intercept = reference.coef_, reference.intercept_
    if len(coef) == 1:
        coef, intercept = np.vstack([-coef, coef]) / 2, np.r_[-intercept, intercept] / 2
    f_star = objective(X, y, coef, intercept, C)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fitted = SoftmaxRegression(C=C, solver=solver).fit(X, y)
    f = objective(X, y, fitted.coef_, fitted.intercept_, C)
    assert f - f_star <= 1e-3 * f_star


class _Measured:
    """A monitor whose ``measure`` returns given (f, max|grad f|) at any trial."""

    def __init__(self, value, optimality):
        self.measured = (value, optimality)
        self.problem = self

    def project(self, params, sign):
        return params

    def to_x(self, params):
        return params

    def measure(self, x):
        return self.measured


@pytest.mark.parametrize(
    "rise, gradient_after, accepted",
    [
        (0.5, 0.4, True),  # f within rounding, the gradient halved
        (1.1, 0.4, False),  # f up beyond rounding, the gradient only halved
        (1.1, 1e-4, True),  # the gradient cut a thousandfold: f's rise is rounding
        (0.5, 0.6, False),  # f within rounding, the gradient not halved
    ],
)
def test_flat_newton_step_is_judged_on_the_gradient(rise, gradient_after, accepted):
    # Below f's rounding the step's fall cannot be measured. The rounding bound
    # (64 eps |f|) is below f's where logits are far above f: a CSC fit of R's
    # AER/Fatalities stopped at a false float64 floor, its last step raising f by
    # 1.07 times the bound while cutting the gradient from 7e-3 to 6e-8.
    noise, value = 1e-14, 0.5
    monitor = _Measured(value + rise * noise, gradient_after)
    found = _line_search(
        monitor, np.zeros(3), np.ones(3), None, -0.1 * noise, (value, 1.0), noise
    )
    assert (found is not None) == accepted
