"""Repository-wide pytest set-up, loaded before any test module imports scipy."""

import os

# scikit-learn's check_array_api_input skips itself unless scipy was imported with
# array API support switched on; with it, the check runs (on numpy inputs) instead of
# being skipped. It must be set before the first `import scipy`.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# sklse/_dask.py imports dask at the top; without the dask extra, collecting it for
# its doctests would fail (tests/test_dask.py skips itself). After the line above:
# dask may import scipy.
try:
    import dask.array  # noqa: F401
except ImportError:
    collect_ignore = ["sklse/_dask.py"]
