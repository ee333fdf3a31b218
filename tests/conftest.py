import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(0)


class ArrayAPI:
    """One array-API namespace and device to test on, with moves from and to numpy.

    ``xp`` is the namespace sklearn dispatches to (``array_api_compat``'s wrapper for
    torch); arrays are made on ``device`` from numpy arrays and brought back with
    sklearn's ``move_to``, the route the estimator's users take.
    """

    def __init__(self, name, device_name):
        from sklearn.externals import array_api_compat

        self.module = pytest.importorskip(name)
        if name == "torch" and device_name == "cuda":
            if not self.module.cuda.is_available():
                pytest.skip("no CUDA device")
        self.name = name
        self.xp = array_api_compat.array_namespace(self.module.asarray(1))
        strict = name == "array_api_strict"
        self.device = self.module.Device(device_name) if strict else device_name

    def asarray(self, a, dtype=None):
        """Return numpy ``a`` on this namespace's device, in numpy ``dtype``."""
        a = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
        return self.xp.asarray(a, device=self.device)

    def to_numpy(self, a):
        """Return array ``a`` of this namespace as a numpy array on the host."""
        import sklearn
        from sklearn.utils._array_api import move_to

        with sklearn.config_context(array_api_dispatch=True):
            return move_to(a, xp=np, device="cpu")

    def __repr__(self):
        return f"{self.name}:{self.device}"


# array-api-strict on a non-default device: every implicit move to numpy raises there.
ARRAY_API_CASES = [("array_api_strict", "device1"), ("torch", "cpu"), ("torch", "cuda")]


@pytest.fixture(params=ARRAY_API_CASES, ids=lambda case: "-".join(case))
def array_api(request):
    """An :class:`ArrayAPI` per namespace and device; skipped where not installed."""
    return ArrayAPI(*request.param)


@pytest.fixture
def strict_array_api():
    """array-api-strict on its non-default device, the strictest case."""
    return ArrayAPI("array_api_strict", "device1")
