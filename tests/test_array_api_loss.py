"""The array-API evaluator, :class:`sklse._array_api.ArrayAPISoftmaxLoss`.

Oracles: the numpy evaluator :class:`sklse._loss.SoftmaxLoss` (itself tested against
naive formulas, sklearn's LinearModelLoss and finite differences in test_loss.py),
central finite differences of the evaluator's own loss (gradient) and gradient
(dense Hessian), and counts of what crosses between host and device.
"""

import types

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import sklse._array_api
from sklse._array_api import ArrayAPISoftmaxLoss, default_block_rows
from sklse._loss import SoftmaxLoss

N_SAMPLES, N_FEATURES, N_CLASSES = 120, 5, 3
RTOL = {"float64": 1e-12, "float32": 2e-5}
ATOL = {"float64": 1e-14, "float32": 2e-6}


def make_losses(rng, array_api, dtype="float64", weighted=True, **kwargs):
    """Return the numpy loss, the array-API loss on the same data, and the data."""
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(dtype)
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    sample_weight = rng.uniform(0, 2, N_SAMPLES).astype(dtype) if weighted else None
    numpy_loss = SoftmaxLoss(X, y.astype(np.intp), N_CLASSES, sample_weight, **kwargs)
    device_loss = ArrayAPISoftmaxLoss(
        array_api.asarray(X),
        array_api.asarray(y),
        N_CLASSES,
        None if sample_weight is None else array_api.asarray(sample_weight),
        **kwargs,
    )
    return numpy_loss, device_loss


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_same_values_as_numpy_evaluator(
    rng, array_api, dtype, fit_intercept, weighted, C
):
    numpy_loss, device_loss = make_losses(
        rng, array_api, dtype, weighted, C=C, fit_intercept=fit_intercept
    )
    assert (device_loss.n_dof, device_loss.sw_sum) == (
        numpy_loss.n_dof,
        pytest.approx(numpy_loss.sw_sum, rel=1e-6),
    )
    params, direction = rng.normal(size=(2, numpy_loss.n_dof))
    value, grad = device_loss.loss_gradient(params)
    value_np, grad_np = numpy_loss.loss_gradient(params)
    assert isinstance(value, float) and grad.dtype == np.float64
    assert_allclose(value, value_np, rtol=RTOL[dtype])
    assert_allclose(grad, grad_np, rtol=RTOL[dtype], atol=ATOL[dtype])
    assert_allclose(
        device_loss.hessp(params, direction),
        numpy_loss.hessp(params, direction),
        rtol=RTOL[dtype] * 10,
        atol=ATOL[dtype] * 10,
    )


@pytest.mark.parametrize("block_rows", [None, 16])
def test_weights_on_one_class_as_numpy_evaluator(rng, array_api, block_rows):
    # f* = 0 there (W = 0, b_2 - b_k -> inf): Newton's decrement test is absolute.
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    for sample_weight in (np.where(y == 2, 2.0, 0.0), np.where(y == 2, 0.0, 1.0)):
        numpy_loss = SoftmaxLoss(X, y.astype(np.intp), N_CLASSES, sample_weight)
        device_loss = ArrayAPISoftmaxLoss(
            array_api.asarray(X),
            array_api.asarray(y),
            N_CLASSES,
            array_api.asarray(sample_weight),
            block_rows=block_rows,
        )
        expected = sample_weight[y != 2].any()
        assert device_loss.f_star_positive == numpy_loss.f_star_positive == expected


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_precise_gradient_as_numpy_evaluator(rng, array_api, fit_intercept, weighted):
    # float64 sums of float32 X: those of the numpy loss, up to float32 P's rounding
    # (tests/test_loss.py checks them against float64 X); none for float64 X.
    numpy_loss, device_loss = make_losses(
        rng, array_api, "float32", weighted, C=0.3, fit_intercept=fit_intercept
    )
    params = rng.normal(size=numpy_loss.n_dof)
    device_loss.loss_gradient(params)
    want = numpy_loss.precise_gradient(params)
    assert_allclose(device_loss.precise_gradient(params), want, rtol=1e-5, atol=1e-6)
    assert make_losses(rng, array_api)[1].precise_gradient(params) is None


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_zero_coef_as_numpy_evaluator(rng, array_api, fit_intercept):
    # A fit's start: no product where coef = 0 (seen on the host), the same values.
    numpy_loss, device_loss = make_losses(rng, array_api, fit_intercept=fit_intercept)
    params, direction = rng.normal(scale=2.0, size=(2, numpy_loss.n_dof))
    params[: N_CLASSES * N_FEATURES] = 0.0
    value, grad = device_loss.loss_gradient(params)
    assert_allclose(value, numpy_loss.loss_gradient(params)[0], rtol=RTOL["float64"])
    want = numpy_loss.loss_gradient(params)[1]
    assert_allclose(grad, want, rtol=RTOL["float64"], atol=ATOL["float64"])
    for coef_too in (True, False):
        if not coef_too:
            direction[: N_CLASSES * N_FEATURES] = 0.0
        assert_allclose(
            device_loss.hessp(params, direction),
            numpy_loss.hessp(params, direction),
            rtol=1e-11,
            atol=1e-13,
        )


def test_l1_objective_as_numpy_evaluator(rng, array_api):
    numpy_loss, device_loss = make_losses(rng, array_api, C=0.5, l1_ratio=0.4)
    params = rng.normal(size=numpy_loss.n_dof)
    assert numpy_loss.l1 > 0
    assert device_loss.l1 == pytest.approx(numpy_loss.l1, rel=1e-14)
    assert_allclose(device_loss.objective(params), numpy_loss.objective(params))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_and_hessian_against_finite_differences(
    rng, strict_array_api, fit_intercept
):
    _, loss = make_losses(rng, strict_array_api, C=2.0, fit_intercept=fit_intercept)
    params = rng.normal(scale=0.5, size=loss.n_dof)
    step = 1e-6
    basis = np.eye(loss.n_dof) * step
    grad_fd = [
        (loss.loss_gradient(params + e)[0] - loss.loss_gradient(params - e)[0])
        / (2 * step)
        for e in basis
    ]
    assert_allclose(loss.loss_gradient(params)[1], grad_fd, rtol=1e-7, atol=1e-9)
    hessian_fd = np.array(
        [
            (loss.loss_gradient(params + e)[1] - loss.loss_gradient(params - e)[1])
            / (2 * step)
            for e in basis
        ]
    )
    hessian = loss.hessian(params)
    assert hessian.shape == (loss.n_dof, loss.n_dof) and hessian.dtype == np.float64
    assert_allclose(hessian, hessian_fd, rtol=1e-6, atol=1e-8)
    direction = rng.normal(size=loss.n_dof)
    assert_allclose(hessian @ direction, loss.hessp(params, direction), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hessian_matches_hessp_on_every_namespace(rng, array_api, dtype):
    _, loss = make_losses(rng, array_api, dtype, C=0.1)
    params, direction = rng.normal(size=(2, loss.n_dof))
    hessian = loss.hessian(params)
    assert_allclose(hessian, hessian.T, rtol=RTOL[dtype], atol=ATOL[dtype])
    assert_allclose(
        hessian @ direction,
        loss.hessp(params, direction),
        rtol=RTOL[dtype] * 10,
        atol=ATOL[dtype] * 10,
    )


@pytest.mark.parametrize("weighted", [True, False])
def test_hessian_off_the_host_in_chunks_of_rows(rng, array_api, monkeypatch, weighted):
    # Seen as off the host (one block there), in 7-row chunks of "32 MiB": the sum
    # of the chunks' Gram matrices is the numpy evaluator's Hessian.
    monkeypatch.setattr(sklse._array_api, "_DLPACK_CPU", -1)
    monkeypatch.setattr(sklse._array_api, "_BLOCK_BYTES", 8 * N_FEATURES * 7)
    numpy_loss, device_loss = make_losses(rng, array_api, weighted=weighted, C=0.5)
    params = rng.normal(scale=0.5, size=numpy_loss.n_dof)
    center = rng.normal(size=N_FEATURES)
    for at in (None, center):
        assert_allclose(
            device_loss.hessian(params, at),
            numpy_loss.hessian(params, at),
            rtol=1e-12,
            atol=1e-14,
        )


def test_hessian_penalty_on_coef_diagonal_only(rng, strict_array_api):
    _, penalised = make_losses(rng, strict_array_api, C=0.1)
    _, data_only = make_losses(np.random.default_rng(0), strict_array_api, C=np.inf)
    _, same_data = make_losses(np.random.default_rng(0), strict_array_api, C=0.1)
    params = rng.normal(size=penalised.n_dof)
    difference = same_data.hessian(params) - data_only.hessian(params)
    n_coef = N_CLASSES * N_FEATURES
    alpha = 1 / (0.1 * same_data.sw_sum)
    expected = np.diag(np.r_[np.full(n_coef, alpha), np.zeros(N_CLASSES)])
    assert_allclose(difference, expected, atol=1e-12)


def test_overflowing_logits_give_inf_as_numpy_evaluator(rng, strict_array_api):
    # C = inf: no penalty, whose own overflow (on the host, shared) would warn.
    numpy_loss, device_loss = make_losses(rng, strict_array_api, C=np.inf)
    params = np.full(numpy_loss.n_dof, 1e308)
    params[::2] = -1e308
    with np.errstate(all="ignore"):
        value_np, grad_np = numpy_loss.loss_gradient(params)
    value, grad = device_loss.loss_gradient(params)  # no RuntimeWarning
    assert not np.isfinite(value_np)
    assert_allclose(value, value_np)
    assert_allclose(grad, grad_np)


class Transfers:
    """Count the evaluator's copies each way and every other host conversion.

    On array-api-strict's non-default device any conversion of a device array to a
    Python number or a numpy array is a synchronisation; outside ``_to_host`` there
    must be none.
    """

    def __init__(self, monkeypatch, array_api):
        self.to_device = self.to_host = self.other = 0
        self.inside = False
        to_device = ArrayAPISoftmaxLoss._to_device
        to_host = ArrayAPISoftmaxLoss._to_host

        def count_to_device(loss, vector):
            self.to_device += 1
            return to_device(loss, vector)

        def count_to_host(loss, array):
            self.to_host += 1
            self.inside = True
            try:
                return to_host(loss, array)
            finally:
                self.inside = False

        monkeypatch.setattr(ArrayAPISoftmaxLoss, "_to_device", count_to_device)
        monkeypatch.setattr(ArrayAPISoftmaxLoss, "_to_host", count_to_host)
        array_type = type(array_api.asarray([0.0]))
        for name in ("__bool__", "__float__", "__int__", "__index__", "__array__",
                     "__dlpack__", "tolist"):  # fmt: skip
            if hasattr(array_type, name):
                monkeypatch.setattr(array_type, name, self._counted(array_type, name))

    def _counted(self, array_type, name):
        method = getattr(array_type, name)

        def counted(array, *args, **kwargs):
            if not self.inside:
                self.other += 1
            return method(array, *args, **kwargs)

        return counted

    def since(self, before):
        now = (self.to_device, self.to_host, self.other)
        return tuple(a - b for a, b in zip(now, before, strict=True))

    def snapshot(self):
        return (self.to_device, self.to_host, self.other)


@pytest.mark.parametrize("block_rows", [None, 25])
def test_one_copy_each_way_per_evaluation(
    rng, strict_array_api, monkeypatch, block_rows
):
    _, loss = make_losses(rng, strict_array_api, C=0.5, block_rows=block_rows)
    assert len(loss.blocks) == (1 if block_rows is None else 5)
    transfers = Transfers(monkeypatch, strict_array_api)
    params, direction, other = rng.normal(size=(3, loss.n_dof))
    start = transfers.snapshot()
    loss.loss_gradient(params)
    assert transfers.since(start) == (1, 1, 0)  # params in, [loss, grad] out
    start = transfers.snapshot()
    loss.hessp(params, direction)
    assert transfers.since(start) == (2, 1, 0)  # the first: P recomputed, kept
    loss.loss_gradient(params)
    start = transfers.snapshot()
    loss.hessp(params, direction)
    assert transfers.since(start) == (1, 1, 0)  # the direction in, the product out
    start = transfers.snapshot()
    loss.hessp(other, direction)
    assert transfers.since(start) == (2, 1, 0)  # params too: P is recomputed
    start = transfers.snapshot()
    loss.hessian(other)
    assert transfers.since(start) == (0, 1, 0)  # only the matrix comes back


def test_X_stays_where_it_is(rng, strict_array_api):
    _, loss = make_losses(rng, strict_array_api)
    X = loss.X
    params = rng.normal(size=loss.n_dof)
    loss.hessp(params, params)
    assert loss.X is X and len(loss._proba) == len(loss.blocks)
    assert all(proba.device == X.device for proba in loss._proba)


def test_probabilities_kept_only_for_hessian_products(rng, array_api, monkeypatch):
    # L-BFGS keeps no (K, n) arrays between evaluations; a Newton solver keeps P
    # from its first Hessian product on, and its products at the point just
    # evaluated reuse it.
    numpy_loss, loss = make_losses(rng, array_api, block_rows=50)
    params = rng.normal(size=(3, loss.n_dof))
    for point in params:
        loss.loss_gradient(point)
        assert loss._proba == [] and loss._proba_params is None
    evaluations = []
    data_sums = loss._data_sums
    monkeypatch.setattr(
        loss, "_data_sums", lambda p: evaluations.append(1) or data_sums(p)
    )
    want = numpy_loss.hessp(params[0], params[1])
    assert_allclose(loss.hessp(params[0], params[1]), want, rtol=1e-11, atol=1e-13)
    assert len(evaluations) == 1  # P recomputed at a point L-BFGS had left
    assert len(loss._proba) == len(loss.blocks)
    loss.loss_gradient(params[2])
    loss.hessp(params[2], params[1])
    loss.hessian(params[2])
    assert len(evaluations) == 2  # the evaluation's own, no recomputation


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_blocks_change_nothing_but_round_off(rng, array_api, weighted, fit_intercept):
    numpy_loss, whole = make_losses(
        rng, array_api, weighted=weighted, C=0.3, fit_intercept=fit_intercept
    )
    _, blocked = make_losses(
        np.random.default_rng(0),
        array_api,
        weighted=weighted,
        C=0.3,
        fit_intercept=fit_intercept,
        block_rows=37,  # 4 blocks, the last of 9 rows
    )
    assert [rows.X.shape[0] for rows in blocked.blocks] == [37, 37, 37, 9]
    params, direction = rng.normal(size=(2, whole.n_dof))
    value, grad = blocked.loss_gradient(params)
    assert_allclose(value, whole.loss_gradient(params)[0], rtol=1e-13)
    assert_allclose(grad, whole.loss_gradient(params)[1], rtol=1e-12, atol=1e-14)
    assert_allclose(value, numpy_loss.loss_gradient(params)[0], rtol=1e-13)
    want = numpy_loss.hessp(params, direction)
    assert_allclose(blocked.hessp(params, direction), want, rtol=1e-11, atol=1e-13)
    assert_allclose(
        blocked.hessian(params), whole.hessian(params), rtol=1e-11, atol=1e-13
    )


def test_blocks_in_host_memory_only(rng, strict_array_api, monkeypatch):
    monkeypatch.setattr(sklse._array_api, "l2_cache_bytes", lambda: 2**20)
    X = strict_array_api.asarray(np.zeros((50_000, 500)))
    # 4 MiB (four L2 caches) of float64 rows of X and two (K, rows) temporaries
    assert default_block_rows(X, 10) == 1008  # 4 * 2**20 // (8 * 520)
    assert default_block_rows(X[:, :20], 5) == 17476  # 4 * 2**20 // (8 * 30)
    float32 = strict_array_api.asarray(np.zeros((50_000, 500), dtype=np.float32))
    assert default_block_rows(float32, 10) == 2016
    wide = strict_array_api.asarray(np.zeros((10, 5000)))
    assert default_block_rows(wide, 10) == 128  # at least 128 rows, not 104
    on_gpu = types.SimpleNamespace(shape=(50_000, 500), __dlpack_device__=None)
    on_gpu.__dlpack_device__ = lambda: (2, 0)  # kDLCUDA
    assert default_block_rows(on_gpu, 10) == 50_000


def test_without_take_along_axis_the_same_values(rng, array_api, monkeypatch):
    _, loss = make_losses(rng, array_api, block_rows=50)
    params, direction = rng.normal(size=(2, loss.n_dof))
    value, grad = loss.loss_gradient(params)
    hessp = loss.hessp(params, direction)
    older = types.SimpleNamespace(
        **{name: getattr(loss.xp, name) for name in dir(loss.xp)}
    )
    del older.take_along_axis  # a namespace before the 2024.12 standard,

    def where(condition, x1, x2, base=loss.xp.where):  # which takes arrays only
        assert all(hasattr(value, "shape") for value in (x1, x2))
        return base(condition, x1, x2)

    older.where = where
    hessian = loss.hessian(params)
    monkeypatch.setattr(loss, "xp", older)
    assert_array_equal(loss.loss_gradient(params)[0], value)
    assert_array_equal(loss.loss_gradient(params)[1], grad)
    assert_array_equal(loss.hessp(params, direction), hessp)
    assert_array_equal(loss.hessian(params), hessian)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("on_host", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_weighted_sums_in_chunks_of_rows(
    rng, array_api, monkeypatch, weighted, on_host, dtype
):
    # Chunks of 5 rows (the L2 cache said so in host memory; 7 rows, of 32 MiB
    # elsewhere, seen as off the host) across blocks of 32: every row once.
    monkeypatch.setattr(sklse._array_api, "l2_cache_bytes", lambda: 8 * N_FEATURES * 5)
    monkeypatch.setattr(sklse._array_api, "_BLOCK_BYTES", 8 * N_FEATURES * 7)
    if not on_host:
        monkeypatch.setattr(sklse._array_api, "_DLPACK_CPU", -1)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(dtype)
    s = rng.uniform(0, 2, N_SAMPLES).astype(dtype) if weighted else None
    if weighted:  # a weightless row adds nothing, even where its squares overflow
        X[7], s[7] = (1e30 if dtype == "float32" else 1e160), 0.0
    loss = ArrayAPISoftmaxLoss(
        array_api.asarray(X.copy()),
        array_api.asarray(rng.integers(0, N_CLASSES, N_SAMPLES)),
        N_CLASSES,
        None if s is None else array_api.asarray(s),
        block_rows=32,
    )
    x = X.astype(np.float64)
    w = np.ones((N_SAMPLES, 1)) if s is None else s.astype(np.float64)[:, None]
    x[w[:, 0] == 0] = 0.0
    center = rng.normal(size=N_FEATURES)
    expected = [(w * x).sum(axis=0), (w * x * x).sum(axis=0)]
    assert_allclose(loss._weighted_sums(None), expected, rtol=1e-13)
    assert_allclose(
        loss._weighted_sums(center), (w * (x - center) ** 2).sum(axis=0), rtol=1e-13
    )
    assert_array_equal(array_api.to_numpy(loss.X), X)  # X left as it was


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_feature_moments_as_numpy_evaluator(rng, array_api, dtype, fit_intercept):
    numpy_loss, device_loss = make_losses(
        rng, array_api, dtype, fit_intercept=fit_intercept, block_rows=32
    )
    for ours, expected in zip(
        device_loss.feature_moments(), numpy_loss.feature_moments(), strict=True
    ):
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float64
        assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)
