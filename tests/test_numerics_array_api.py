"""``sklse.logsumexp``, ``log_softmax`` and ``softmax`` on array-API arrays.

Oracles: ``scipy.special`` on the same values in numpy (finite and non-finite rows),
and the numpy path of sklse itself only where the claim is that the two paths agree
to the last bits (numpy-backed array-api-strict runs the same formulas).
"""

import warnings

import numpy as np
import pytest
import scipy.special
from numpy.testing import assert_allclose, assert_array_equal

from sklse import log_softmax, logsumexp, softmax

SCIPY = {
    logsumexp: scipy.special.logsumexp,
    log_softmax: scipy.special.log_softmax,
    softmax: scipy.special.softmax,
}
ALL_FUNCS = pytest.mark.parametrize("func", list(SCIPY), ids=lambda f: f.__name__)
DTYPES = pytest.mark.parametrize("dtype", ["float64", "float32"])
RTOL = {"float64": 1e-13, "float32": 2e-6}
# Every row kind of the module table of sklse._numerics, and a row whose small terms
# only log1p keeps (LSE([0, -40, -50]) = 4.25e-18).
NON_FINITE = np.array(
    [
        [1000.0, 1.0, -np.inf],
        [np.inf, 0.0, 1.0],
        [-np.inf, -np.inf, -np.inf],
        [np.nan, 0.0, 1.0],
        [0.0, -40.0, -50.0],
    ]
)


def _scipy(func, a, axis=-1):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return SCIPY[func](a, axis=axis)


def _no_warning(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args, **kwargs)


def _assert_in_namespace(result, array_api, dtype):
    assert type(result) is type(array_api.asarray([0.0])), type(result)
    assert result.device == array_api.asarray([0.0]).device
    assert str(result.dtype).endswith(dtype)


@ALL_FUNCS
@DTYPES
@pytest.mark.parametrize("axis", [-1, 0])
def test_finite_rows_match_scipy(rng, array_api, func, dtype, axis):
    a = rng.normal(scale=30.0, size=(40, 7)).astype(dtype)
    result = func(array_api.asarray(a), axis=axis)
    _assert_in_namespace(result, array_api, dtype)
    want = _scipy(func, a.astype(np.float64), axis=axis)
    assert_allclose(
        array_api.to_numpy(result), want, rtol=RTOL[dtype], atol=RTOL[dtype] * 30
    )


@ALL_FUNCS
@pytest.mark.parametrize("axis", [-1, 0])
def test_non_finite_rows_follow_scipy_without_warning(array_api, func, axis):
    a = NON_FINITE if axis == -1 else NON_FINITE.T
    result = _no_warning(func, array_api.asarray(a), axis=axis)
    got = array_api.to_numpy(result)
    want = _scipy(func, a, axis=axis)
    finite = np.isfinite(want)
    assert_array_equal(np.isnan(got), np.isnan(want))
    assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    # atol: log_softmax's 0 of the max entry of [0, -40, -50] is -4.25e-18 here (the
    # exact -LSE), 0 in scipy.
    assert_allclose(got[finite], want[finite], rtol=1e-15, atol=1e-17)


def test_small_terms_kept_by_log1p(array_api):
    # scipy's log(sum) gives 0 here; the 50-digit value is 4.2483542552915889e-18.
    result = array_api.to_numpy(logsumexp(array_api.asarray([0.0, -40.0])))
    assert_allclose(result, 4.248354255291589e-18, rtol=1e-15)


@ALL_FUNCS
def test_same_bits_as_numpy_path_on_array_api_strict(rng, strict_array_api, func):
    strict = strict_array_api
    a = np.concatenate([rng.normal(scale=300.0, size=(30, 3)), NON_FINITE])
    result = _no_warning(func, strict.asarray(a))
    assert_array_equal(strict.to_numpy(result), func(a))


@ALL_FUNCS
def test_integers_become_float64(array_api, func):
    result = func(array_api.asarray(np.array([[1, 2, 3]], dtype=np.int64)))
    _assert_in_namespace(result, array_api, "float64")
    assert_allclose(array_api.to_numpy(result), _scipy(func, np.array([[1.0, 2, 3]])))


def test_empty_axis_gives_minus_inf(array_api):
    result = logsumexp(array_api.asarray(np.zeros((3, 0))))
    assert_array_equal(array_api.to_numpy(result), np.full(3, -np.inf))


@ALL_FUNCS
def test_out_is_numpy_only(array_api, func):
    a = array_api.asarray(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="out must be None for .* arrays"):
        func(a, out=np.zeros((2, 3)))


@ALL_FUNCS
def test_bad_input_is_named(array_api, func):
    with pytest.raises(ValueError, match="a must have at least one dimension"):
        func(array_api.asarray(1.0))
    with pytest.raises(TypeError, match="a must be a real numeric array"):
        func(array_api.xp.asarray([1j, 2j], device=array_api.device))
