"""Tests of the row-wise ``logsumexp``, ``log_softmax`` and ``softmax`` of sklse.

Oracles, never sklse itself: mpmath at 50 digits for finite rows with logits up to
``+-1e300``, ``scipy.special`` for non-finite rows and for axis handling, and
hand-checked extremes where the naive ``log(sum(exp(z)))`` overflows.
"""

import warnings

import mpmath
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from sklse import log_softmax, logsumexp, softmax

mpmath.mp.dps = 50

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}
SCIPY = {
    logsumexp: scipy.special.logsumexp,
    log_softmax: scipy.special.log_softmax,
    softmax: scipy.special.softmax,
}
ALL_FUNCS = pytest.mark.parametrize("func", list(SCIPY), ids=lambda f: f.__name__)
ROW_FUNCS = pytest.mark.parametrize(
    "func", [log_softmax, softmax], ids=lambda f: f.__name__
)


def _no_warning(func, *args, **kwargs):
    """Call ``func`` and fail on any warning it emits (RuntimeWarning included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args, **kwargs)


def _scipy(func, a, axis=-1):
    """Return ``scipy.special``'s version of ``func`` on ``a``, its warnings muted."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return SCIPY[func](a, axis=axis)


def _mp_reference(row):
    """Return the 50-digit LSE, log-softmax and softmax of a finite 1-D ``row``.

    ``log(sum(exp(z)))`` on its own would lose ``log(2)`` against ``z = 1e300`` in 50
    digits, so the reference uses the identity ``LSE = c + log(sum(exp(z - c)))``,
    exact for any ``c``; ``c = max(z)`` keeps ``z - c`` and ``log(sum)`` apart and the
    differences ``z - c`` accurate to 50 digits.
    """
    z = [mpmath.mpf(float(x)) for x in row]
    c = max(z)
    log_sum = mpmath.log(mpmath.fsum(mpmath.exp(x - c) for x in z))
    log_proba = [(x - c) - log_sum for x in z]
    return c + log_sum, log_proba, [mpmath.exp(x) for x in log_proba]


def _max_abs_err(got, want):
    """Return ``max_k |got_k - want_k|`` in mpmath, as a float."""
    return float(
        max(abs(mpmath.mpf(float(g)) - w) for g, w in zip(got, want, strict=True))
    )


def _assert_close(got, want, a):
    """Assert ``got`` is within ~1e-14 of ``want`` relative to the scale of ``a``.

    A relative tolerance alone fails log_softmax entries near 0, whose rounding error
    scales with ``max|a|`` and differs between sklse's log1p and scipy's log(sum).
    """
    scale = max(1.0, np.max(np.abs(a)))
    eps = EPS[np.float64]
    assert_allclose(got, want, rtol=64 * eps, atol=16 * eps * scale)


def _random_rows(rng, n_rows, max_exp):
    """Return ``n_rows`` finite float64 rows of 1 to 50 logits up to ``10**max_exp``.

    A row has one scale (many terms reach the sum), each entry its own scale in
    ``1e-3 .. 10**hi`` with mixed signs, or the latter with its max repeated (ties).
    """
    rows = []
    for i in range(n_rows):
        k = int(rng.integers(1, 51))
        if i % 3 == 0:
            row = rng.standard_normal(k) * 10.0 ** rng.uniform(-3, 3)
        else:
            hi = rng.uniform(-3, max_exp)
            row = rng.choice([-1.0, 1.0], k) * 10.0 ** rng.uniform(-3, hi, k)
            if i % 3 == 2:
                row[rng.integers(k, size=k // 2)] = row.max()
        rows.append(row)
    return rows


def _check_row_against_mpmath(row, lse, log_proba, proba, ulps, eps):
    """Assert that LSE/log-softmax are within ``ulps`` ulp and softmax within 4 eps."""
    ref_lse, ref_log_proba, ref_proba = _mp_reference(row)
    # The row's scale: |LSE| <= max|z| + log(K) and |z_k - LSE| <= |z_k| + |LSE|.
    scale = np.max(np.abs(row)) + abs(float(ref_lse))
    tol = ulps * np.spacing(scale.astype(row.dtype))
    assert _max_abs_err([lse], [ref_lse]) <= tol, (row, lse, ref_lse)
    assert _max_abs_err(log_proba, ref_log_proba) <= tol, row
    assert _max_abs_err(proba, ref_proba) <= 4 * eps, row


# ---------------------------------------------------------------------------------
# mpmath oracle


def test_random_rows_match_mpmath_float64(rng):
    for row in _random_rows(rng, n_rows=150, max_exp=300):
        got = [_no_warning(f, row) for f in (logsumexp, log_softmax, softmax)]
        _check_row_against_mpmath(row, *got, ulps=4, eps=EPS[np.float64])


def test_random_rows_match_mpmath_in_2d(rng):
    # Rows of different lengths padded with -inf (probability 0) into one 2-D array:
    # the blocked 2-D path must give every row its own shift.
    rows = _random_rows(rng, n_rows=60, max_exp=300)
    a = np.full((len(rows), 50), -np.inf)
    for i, row in enumerate(rows):
        a[i, : row.size] = row
    lse, log_proba, proba = (
        _no_warning(f, a) for f in (logsumexp, log_softmax, softmax)
    )
    for i, row in enumerate(rows):
        k = row.size
        _check_row_against_mpmath(
            row, lse[i], log_proba[i, :k], proba[i, :k], 4, EPS[np.float64]
        )
        assert_array_equal(log_proba[i, k:], -np.inf)
        assert_array_equal(proba[i, k:], 0.0)


def test_random_rows_match_mpmath_float32(rng):
    # float32 rows, compared with the exact values of the same (float32) numbers.
    for row in _random_rows(rng, n_rows=100, max_exp=30):
        row = row.astype(np.float32)
        got = [_no_warning(f, row) for f in (logsumexp, log_softmax, softmax)]
        assert [np.asarray(g).dtype for g in got] == [np.float32] * 3
        _check_row_against_mpmath(row, *got, ulps=4, eps=EPS[np.float32])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@ALL_FUNCS
def test_dtype_is_preserved(func, dtype):
    a = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 50.0]], dtype=dtype)
    assert func(a).dtype == dtype
    assert func(a[0]).dtype == dtype


def test_tiny_lse_has_full_relative_precision():
    # LSE([0, -40]) = log1p(exp(-40)) = 4.248e-18: log(1 + exp(-40)) would give 0.
    ref = mpmath.log1p(mpmath.exp(-40))
    assert abs(float(ref) - 4.248354255291589e-18) <= np.spacing(4.2e-18)
    z = np.array([0.0, -40.0])
    lse = _no_warning(logsumexp, z)
    assert abs(mpmath.mpf(float(lse)) - ref) <= np.spacing(float(ref))
    log_proba = _no_warning(log_softmax, z)
    assert abs(mpmath.mpf(float(log_proba[0])) + ref) <= np.spacing(float(ref))
    assert log_proba[1] == -40.0  # -40 - 4.2e-18 rounds to -40


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_lse_random_rows_relative_precision(rng, dtype):
    # Max 0 and the rest far below: LSE = log1p(sum of tiny terms), tiny itself.
    # The precision must be relative to the LSE, not to max|z| = 0.
    low = {np.float32: 17.0, np.float64: 37.0}[dtype]
    for k in range(2, 30):
        row = np.concatenate([[0.0], -rng.uniform(low, 80.0, k - 1)])
        row = rng.permutation(row).astype(dtype)
        ref_lse, ref_log_proba, _ = _mp_reference(row)
        top = int(np.argmax(row))
        tol = 4 * np.spacing(dtype(ref_lse))
        assert abs(mpmath.mpf(float(logsumexp(row))) - ref_lse) <= tol, row
        got = log_softmax(row)[top]
        assert abs(mpmath.mpf(float(got)) - ref_log_proba[top]) <= tol, row


# ---------------------------------------------------------------------------------
# Where the naive formula fails


def test_naive_formula_overflows_but_sklse_does_not():
    z = np.array([-1000.0, 1000.0, -1000.0, 5.0, 10.0, 0.001])
    with np.errstate(over="ignore"):
        assert np.log(np.sum(np.exp(z))) == np.inf
    assert _no_warning(logsumexp, z) == 1000.0
    assert_array_equal(_no_warning(softmax, z), [0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    log_proba = _no_warning(log_softmax, z)
    assert log_proba[1] == 0.0
    assert_array_equal(log_proba[[0, 2]], -2000.0)


def test_lse_of_moderate_row_within_one_ulp():
    z = np.array([11.0, 12.0, -1000.0, 5.0, 10.0, 0.001])
    ref = _mp_reference(z)[0]
    assert abs(float(ref) - 12.408216490736713) <= np.spacing(12.4)
    assert abs(_no_warning(logsumexp, z) - 12.408216490736713) <= np.spacing(12.4)


def test_huge_finite_logits_no_warning():
    z = np.array([-1e308, 1e308])
    assert _no_warning(logsumexp, z) == 1e308
    # -1e308 - 1e308 = -2e308 is beyond the float64 range: -inf is its rounding.
    assert_array_equal(_no_warning(log_softmax, z), [-np.inf, 0.0])
    assert_array_equal(_no_warning(softmax, z), [0.0, 1.0])
    big = np.array([[1e308, 1e308, -1e308], [-1e308, -1e308, -1e308]])
    lse = _no_warning(logsumexp, big)
    assert_array_equal(lse, [1e308, -1e308])  # + log(2), log(3): below 1 ulp
    assert_allclose(
        _no_warning(softmax, big),
        [[0.5, 0.5, 0], [1 / 3] * 3],
        rtol=4 * EPS[np.float64],
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_input_emits_no_warning(rng, dtype):
    big = np.finfo(dtype).max
    a = np.array([[-big, big, 0.0, -big], [big, big, big, big]], dtype=dtype)
    a = np.vstack([a, rng.standard_normal((3, 4)).astype(dtype) * 1e3])
    for func in SCIPY:
        result = _no_warning(func, a)
        assert not np.isnan(result).any()


# ---------------------------------------------------------------------------------
# Non-finite rows: the same as scipy.special

NON_FINITE_ROWS = {
    "+inf": [np.inf, 1.0, 2.0, 3.0],
    "two +inf": [np.inf, 1.0, np.inf, 3.0],
    "+inf and -inf": [np.inf, -np.inf, 0.0, 1.0],
    "all -inf": [-np.inf, -np.inf, -np.inf, -np.inf],
    "-inf among finite": [-np.inf, 1.0, 2.0, 3.0],
    "-inf among -inf": [-np.inf, -np.inf, 5.0, -np.inf],
    "nan": [np.nan, 1.0, 2.0, 3.0],
    "nan then inf": [np.nan, np.inf, 0.0, 1.0],
    "inf then nan": [np.inf, np.nan, 0.0, 1.0],
    "nan and -inf": [-np.inf, np.nan, -np.inf, -np.inf],
    "finite": [1.0, 2.0, 3.0, 4.0],
    "+-3e38": [-3e38, 3e38, 0.0, 1.0],
}


def _assert_same_as_scipy(got, want, dtype):
    """Equal nan/inf positions; finite values equal up to a few ulp."""
    assert_array_equal(np.isnan(got), np.isnan(want))
    assert_array_equal(got[~np.isfinite(want)], want[~np.isfinite(want)])
    assert_allclose(got, want, rtol=4 * EPS[dtype], atol=4 * EPS[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", NON_FINITE_ROWS.values(), ids=NON_FINITE_ROWS.keys())
@ALL_FUNCS
def test_non_finite_row_matches_scipy(func, row, dtype):
    a = np.array(row, dtype=dtype)
    got = _no_warning(func, a)
    _assert_same_as_scipy(np.asarray(got), np.asarray(_scipy(func, a)), dtype)


@pytest.mark.parametrize("axis", [-1, 0])
@ALL_FUNCS
def test_non_finite_rows_stacked_match_scipy(func, axis):
    # All the rows in one array: a non-finite row must not affect its neighbours.
    a = np.array(list(NON_FINITE_ROWS.values()))
    if axis == 0:
        a = np.ascontiguousarray(a.T)
    got = _no_warning(func, a, axis=axis)
    _assert_same_as_scipy(got, _scipy(func, a, axis=axis), np.float64)


def test_non_finite_rows_documented_values():
    # The table of the module docstring, written out.
    a = np.array([[np.inf, 1.0], [-np.inf, -np.inf], [np.nan, 1.0], [-np.inf, 1.0]])
    lse = _no_warning(logsumexp, a)
    assert_array_equal(lse, [np.inf, -np.inf, np.nan, 1.0])
    log_proba = _no_warning(log_softmax, a)
    expected = [[np.nan, -np.inf], [np.nan, np.nan], [np.nan, np.nan], [-np.inf, 0]]
    assert_array_equal(log_proba, expected)
    proba = _no_warning(softmax, a)
    assert_array_equal(proba, [[np.nan] * 2] * 3 + [[0.0, 1.0]])


# ---------------------------------------------------------------------------------
# The classic example


def test_classic_log_softmax_example():
    z = np.array([[0.3452, -0.0267, 0.4066], [0.4798, -0.6728, 1.1408]])
    log_proba = log_softmax(z)
    assert_array_equal(
        np.round(log_proba, 4),
        [[-1.0126, -1.3845, -0.9512], [-1.1794, -2.3320, -0.5184]],
    )
    # Often quoted with 0.2505 and 0.3074, which are wrong in the last digit.
    assert_array_equal(
        np.round(np.exp(log_proba), 4),
        [[0.3633, 0.2504, 0.3863], [0.3075, 0.0971, 0.5955]],
    )
    p01 = _mp_reference(z[0])[2][1]
    p10 = _mp_reference(z[1])[2][0]
    assert 0.25044 < p01 < 0.25045
    assert 0.30745 < p10 < 0.30746
    for i, row in enumerate(z):
        ref_lse, ref_log_proba, ref_proba = _mp_reference(row)
        assert _max_abs_err(log_proba[i], ref_log_proba) <= 2 * np.spacing(2.0)
        assert _max_abs_err(softmax(row), ref_proba) <= 2 * EPS[np.float64]


# ---------------------------------------------------------------------------------
# Axis handling and shapes


@ALL_FUNCS
def test_1d_matches_scipy(func, rng):
    a = rng.standard_normal(17) * 30
    _assert_close(func(a), _scipy(func, a), a)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@ALL_FUNCS
def test_3d_axis_matches_scipy(func, axis, rng):
    a = rng.standard_normal((4, 5, 6)) * 30
    got = _no_warning(func, a, axis=axis)
    want = _scipy(func, a, axis=axis)
    assert got.shape == want.shape
    _assert_close(got, want, a)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_logsumexp_drops_the_axis(axis, rng):
    a = rng.standard_normal((2, 3, 4))
    expected = tuple(np.delete(a.shape, axis))
    assert logsumexp(a, axis=axis).shape == expected
    assert np.ndim(logsumexp(a[0, 0])) == 0


@pytest.mark.parametrize("axis", [0, 1])
@ALL_FUNCS
def test_2d_both_axes_match_scipy(func, axis, rng):
    a = rng.standard_normal((7, 9)) * 10
    _assert_close(func(a, axis=axis), _scipy(func, a, axis=axis), a)


@pytest.mark.parametrize("shape", [(70_001, 4), (3, 150_000)], ids=["tall", "wide"])
@ALL_FUNCS
def test_large_2d_spanning_several_blocks_matches_scipy(func, shape, rng):
    # Larger than the 1 MiB row blocks: several blocks, a ragged last one, and rows
    # longer than one block.
    a = rng.standard_normal(shape) * 20
    _assert_close(func(a), _scipy(func, a), a)


@pytest.mark.parametrize("axis", [5, -4])
@ALL_FUNCS
def test_bad_axis_raises(func, axis):
    with pytest.raises(np.exceptions.AxisError, match="out of bounds"):
        func(np.ones((2, 3, 4)), axis=axis)


@pytest.mark.parametrize("func", [logsumexp, log_softmax], ids=lambda f: f.__name__)
def test_zero_rows(func):
    a = np.empty((0, 3))
    assert_array_equal(func(a), _scipy(func, a))


def test_softmax_zero_rows():
    assert softmax(np.empty((0, 3))).shape == (0, 3)


# ---------------------------------------------------------------------------------
# out=, input types and validation


@pytest.mark.parametrize("axis", [-1, 0])
@ROW_FUNCS
def test_in_place(func, axis, rng):
    a = rng.standard_normal((6, 5)) * 100
    want = _scipy(func, a, axis=axis)
    result = _no_warning(func, a, axis=axis, out=a)
    assert result is a
    _assert_close(a, want, a)


@ROW_FUNCS
def test_in_place_large(func, rng):
    a = rng.standard_normal((70_001, 4)) * 10
    want = _scipy(func, a)
    assert func(a, out=a) is a
    _assert_close(a, want, a)


@ROW_FUNCS
def test_separate_out_buffer(func, rng):
    a = rng.standard_normal((6, 5)) * 100
    a_copy = a.copy()
    out = np.full_like(a, np.nan)
    result = func(a, out=out)
    assert result is out
    _assert_close(out, _scipy(func, a), a)
    assert_array_equal(a, a_copy)


def test_logsumexp_out_buffer(rng):
    a = rng.standard_normal((6, 5)) * 100
    a_copy = a.copy()
    out = np.full(5, np.nan)
    assert logsumexp(a, axis=0, out=out) is out
    _assert_close(out, _scipy(logsumexp, a, axis=0), a)
    assert_array_equal(a, a_copy)


@ALL_FUNCS
def test_input_not_modified(func, rng):
    a = rng.standard_normal((4, 7)) * 100
    a[1, 2] = np.inf
    a_copy = a.copy()
    func(a)
    func(a, axis=0)
    assert_array_equal(a, a_copy)


@ROW_FUNCS
def test_out_wrong_shape_or_dtype(func):
    a = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"out must have shape \(3, 4\) and dtype"):
        func(a, out=np.empty((4, 3)))
    with pytest.raises(ValueError, match="dtype float64; got shape .* dtype float32"):
        func(a, out=np.empty((3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray; got list"):
        func(a, out=[[0.0] * 4] * 3)


def test_logsumexp_out_wrong_shape_or_dtype():
    a = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"out must have shape \(3,\)"):
        logsumexp(a, out=np.empty((3, 4)))
    with pytest.raises(ValueError, match=r"out must have shape \(4,\)"):
        logsumexp(a, axis=0, out=np.empty(3))
    with pytest.raises(ValueError, match="got shape .* dtype float32"):
        logsumexp(a, out=np.empty(3, dtype=np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray; got list"):
        logsumexp(a, out=[0.0, 0.0, 0.0])


@ALL_FUNCS
def test_integer_and_list_input_give_float64(func):
    a = np.array([[1, 2, 3], [-4, 0, 4]])
    for x in (a, a.astype(np.int8), np.abs(a).astype(np.uint16), a > 0, a.tolist()):
        result = func(x)
        assert result.dtype == np.float64
        x64 = np.asarray(x, dtype=np.float64)
        _assert_close(result, _scipy(func, x64), x64)


@pytest.mark.parametrize(
    "a",
    [
        np.array([1.0 + 1j, 2.0]),
        np.array(["a", "b"]),
        np.array([1.0, None], dtype=object),
        np.array([1.0, 2.0], dtype=object),
    ],
    ids=["complex", "str", "object-none", "object-float"],
)
@ALL_FUNCS
def test_non_real_input_raises_type_error(func, a):
    with pytest.raises(TypeError, match="a must be a real numeric array; got dtype"):
        func(a)


@ROW_FUNCS
def test_0d_input_raises(func):
    with pytest.raises(ValueError, match="a must have at least one dimension"):
        func(np.float64(1.0))
    with pytest.raises(ValueError, match="a must have at least one dimension"):
        func(3.0)


def test_logsumexp_0d_input_raises():
    # logsumexp does not go through _prepare: numpy's AxisError (a ValueError, "...
    # for array of dimension 0") is raised, not sklse's own message; both match.
    with pytest.raises(ValueError, match="dimension"):
        logsumexp(np.float64(1.0))


# ---------------------------------------------------------------------------------
# Properties

FINITE_2D = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
    elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
)
# Derandomized and without an example database: the same examples on every run.
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@PROPERTY
@given(FINITE_2D)
def test_softmax_is_a_distribution(a):
    proba = _no_warning(softmax, a)
    assert np.all((proba >= 0) & (proba <= 1))
    assert_allclose(proba.sum(axis=-1), 1.0, rtol=0, atol=4 * EPS[np.float64])
    # The max entry of each row holds at least 1/K of the mass.
    top = proba[np.arange(a.shape[0]), np.argmax(a, axis=1)]
    assert np.all(top >= (1 - 4 * EPS[np.float64]) / a.shape[1])


@PROPERTY
@given(FINITE_2D)
def test_exp_log_softmax_is_softmax(a):
    log_proba = _no_warning(log_softmax, a)
    assert np.all(log_proba <= 0)
    assert_allclose(np.exp(log_proba), softmax(a), rtol=0, atol=4 * EPS[np.float64])
    # log_softmax = z - LSE, row by row.
    scale = np.max(np.abs(a)) + np.abs(logsumexp(a)).max()
    assert_allclose(
        log_proba, a - logsumexp(a)[:, None], rtol=0, atol=4 * np.spacing(scale)
    )


@PROPERTY
@given(FINITE_2D, st.floats(-100.0, 100.0))
def test_shift_invariance(a, c):
    # z + c rounds by up to ulp(|z| + |c|): the tolerance is a few ulp of that scale.
    atol = 8 * np.spacing(np.max(np.abs(a)) + abs(c) + np.log(a.shape[1]))
    assert_allclose(log_softmax(a + c), log_softmax(a), rtol=0, atol=atol)
    assert_allclose(logsumexp(a + c), logsumexp(a) + c, rtol=0, atol=atol)
    assert_allclose(softmax(a + c), softmax(a), rtol=0, atol=atol + 8 * EPS[np.float64])


@PROPERTY
@given(FINITE_2D, st.data())
def test_permutation_equivariance(a, data):
    perm = data.draw(st.permutations(range(a.shape[1])))
    assert_allclose(
        log_softmax(a[:, perm]),
        log_softmax(a)[:, perm],
        rtol=0,
        atol=4 * np.spacing(np.max(np.abs(a)) + 10),
    )
    assert_allclose(
        logsumexp(a[:, perm]),
        logsumexp(a),
        rtol=0,
        atol=4 * np.spacing(np.max(np.abs(a)) + 10),
    )


def test_empty_reduction_axis():
    a = np.ones((3, 0))
    assert_array_equal(logsumexp(a), _scipy(logsumexp, a))  # log(0) = -inf
    assert log_softmax(a).shape == softmax(a).shape == (3, 0)


@pytest.mark.parametrize("func", [log_softmax, softmax], ids=lambda f: f.__name__)
def test_out_overlapping_input_reads_the_original(rng, func):
    # 70000 rows span several row blocks: a reversed view written block by block
    # would overwrite rows still to be read.
    a = rng.standard_normal((70_000, 4))
    expected = _scipy(func, a.copy())
    result = func(a, out=a[::-1])
    assert_allclose(result, expected, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.longdouble])
def test_other_real_dtypes_become_float64(dtype):
    a = np.array([[1, 2, 3]], dtype=dtype)
    for func in (logsumexp, log_softmax, softmax):
        assert func(a).dtype == np.float64


def test_logsumexp_returns_a_given_0d_out():
    out = np.empty(())
    assert logsumexp(np.array([0.0, np.log(3.0)]), out=out) is out
    assert_allclose(out, np.log(4.0), rtol=1e-15)
