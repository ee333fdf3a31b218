"""Repository-wide pytest set-up, loaded before any test module imports scipy."""

import os

# scikit-learn's array API dispatch needs scipy's array API support, switched on
# before the first `import scipy`: the array API tests (tests/test_array_api_*.py)
# fit under dispatch, and sklearn's array API estimator checks skip themselves
# without it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# sklse/_dask.py imports dask at the top; without the dask extra, collecting it for
# its doctests would fail (tests/test_dask.py skips itself). After the line above:
# dask may import scipy.
try:
    import dask.array  # noqa: F401
except ImportError:
    collect_ignore = ["sklse/_dask.py"]
