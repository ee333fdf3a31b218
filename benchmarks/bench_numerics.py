"""Time sklse's row-wise numerics against ``scipy.special`` on 2-D float64 logits.

Run: ``python benchmarks/bench_numerics.py`` (about a minute) or
``python benchmarks/bench_numerics.py --quick`` (n divided by 10, a few seconds).

For ``(n, K)`` in ``{(100000, 10), (20000, 1000)}`` and standard-normal logits with a
fixed seed, it prints a markdown table of the median wall time in ms over interleaved
repeats (the order of the contenders is reversed on every other repeat, so that cache
and frequency drift hit all of them alike) of::

    sklse            sklse.<func>(a)                 a new output array
    sklse out=       sklse.<func>(a, out=buf)        into a preallocated buffer
    scipy            scipy.special.<func>(a, axis=1)

for ``<func>`` in ``log_softmax``, ``softmax`` and ``logsumexp``, and the ratios
``sklse / scipy`` (below 1: sklse is faster). Every timed call runs under
``threadpoolctl.threadpool_limits(1)``, so BLAS/OpenMP threads play no part; numpy's
ufuncs are single-threaded anyway. Before timing, each sklse result is checked against
scipy's, so that the table never times a wrong answer.
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np
import scipy
import scipy.special
from threadpoolctl import threadpool_limits

import sklse

SIZES = [(100_000, 10), (20_000, 1_000)]
FUNCS = ["log_softmax", "softmax", "logsumexp"]


def _contenders(name, a):
    """Return ``{label: zero-argument callable}`` for one function on logits ``a``."""
    ours = getattr(sklse, name)
    theirs = getattr(scipy.special, name)
    # logsumexp reduces the last axis: its buffer has one entry per row.
    buf = np.empty(a.shape[:1] if name == "logsumexp" else a.shape, dtype=a.dtype)
    return {
        "sklse": lambda: ours(a),
        "sklse out=": lambda: ours(a, out=buf),
        "scipy": lambda: theirs(a, axis=1),
    }


def _check(name, a):
    """Raise unless sklse and scipy agree on ``a`` (to ~1e-13 of the logits' scale)."""
    ours = getattr(sklse, name)(a)
    theirs = getattr(scipy.special, name)(a, axis=1)
    eps = np.finfo(a.dtype).eps
    np.testing.assert_allclose(ours, theirs, rtol=64 * eps, atol=64 * eps * 10)


def _time(contenders, repeats):
    """Return the median seconds per contender over interleaved ``repeats``."""
    times = {label: [] for label in contenders}
    order = list(contenders)
    for label in order:  # warm-up: page in the buffers, load the code paths
        contenders[label]()
    for r in range(repeats):
        for label in order if r % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            contenders[label]()
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(t) for label, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n divided by 10")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"os.cpu_count() = {os.cpu_count()}, {platform.system()}"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, sklse {sklse.__version__}"
    )
    print(
        f"threadpoolctl.threadpool_limits(1); float64 standard-normal logits, "
        f"seed 0; median of {args.repeats} interleaved repeats, ms\n"
    )
    print(
        "| function | n | K | sklse | sklse out= | scipy | sklse/scipy "
        "| sklse out=/scipy |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        for n, k in SIZES:
            n = n // 10 if args.quick else n
            a = rng.standard_normal((n, k))
            for name in FUNCS:
                _check(name, a)
                t = _time(_contenders(name, a), args.repeats)
                ms = {label: 1e3 * s for label, s in t.items()}
                print(
                    f"| {name} | {n} | {k} | {ms['sklse']:.2f} "
                    f"| {ms['sklse out=']:.2f} | {ms['scipy']:.2f} "
                    f"| {ms['sklse'] / ms['scipy']:.2f} "
                    f"| {ms['sklse out='] / ms['scipy']:.2f} |"
                )


if __name__ == "__main__":
    main()
