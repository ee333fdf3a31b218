"""A row block's two products, in one call or in slices of at most 10**6 multiply-adds.

Run ``python benchmarks/bench_small_products.py`` (about 15 s), and again with
``OPENBLAS_CORETYPE=Haswell`` (or another core that this CPU can run) to time the
kernels of another core on the same machine. OpenBLAS's AVX-512 kernels (SkylakeX,
Cooperlake, SapphireRapids) take products of at most 10**6 multiply-adds by a path
without packing; ``sklse._loss`` slices a block's products to that size where
``sklse._compat.has_small_matrix_gemm()`` says the kernels are there. For each shape
(a 2048-row block, d features, K classes, one thread) it prints microseconds, median
of 100 interleaved repeats:

- forward: class-major ``W @ X.T`` in one call plus the intercept, against row-major
  ``X @ W.T`` in slices plus the transposing copy that adds the intercept (what
  ``sklse._loss._linear`` does in each layout);
- backward: ``R @ X`` in one call against the float64 sum over slices of ``R[:, s] @
  X[s]`` (``sklse._loss._times_X``).

The slices run here in a Python loop, whatever the core, so that the kernels of any
core can be timed; sklse runs the same GEMMs, with the same bits, as one numpy call
over a stacked view of the slices (``sklse._loss._stack``), which saves the loop's
per-slice calls.

Writes ``benchmarks/results/bench_small_products-<core>-<machine>.md``.
"""

import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from bench_fit import machine, result_path  # noqa: E402

from sklse._loss import _SMALL_PRODUCT  # noqa: E402  (the size sklse slices to)

ROWS = 2048
SHAPES = [  # (d, K)
    (20, 5),
    (64, 10),
    (100, 10),
    (100, 50),
    (100, 100),
    (500, 3),
    (500, 10),
    (500, 20),
    (500, 100),
    (2000, 10),
    (10, 500),
]


def products(X, W, R, intercept, rows):
    """Return the four ways, each a callable, for slices of ``rows`` rows."""
    Z, ZT = np.empty((len(W), len(X)), X.dtype), np.empty((len(X), len(W)), X.dtype)
    W_t = np.ascontiguousarray(W.T)
    slices = [slice(s, s + rows) for s in range(0, len(X), rows)]

    def class_major():
        np.matmul(W, X.T, out=Z)
        np.add(Z, intercept, out=Z)

    def row_major_sliced():
        for part in slices:
            np.matmul(X[part], W_t, out=ZT[part])
        np.add(ZT.T, intercept, out=Z)

    def backward():
        return (R @ X).astype(np.float64, copy=False)

    def backward_sliced():
        total = np.zeros((len(R), X.shape[1]))
        for part in slices:
            total += R[:, part] @ X[part]
        return total

    return {
        "class-major": class_major,
        "row-major sliced": row_major_sliced,
        "R @ X": backward,
        "R @ X sliced": backward_sliced,
    }


def main():
    core = next(
        (i.get("architecture") for i in threadpool_info() if i["user_api"] == "blas"),
        "unknown",
    )
    rng = np.random.default_rng(0)
    lines = [
        f"`{' '.join(['python', 'benchmarks/bench_small_products.py', *sys.argv[1:]])}`"
        f" (OpenBLAS core: {core})",
        "",
        machine(),
        "",
        f"One {ROWS}-row block, one thread, us (median of 100)",
        "",
        "| dtype | d | K | slice rows | class-major | row-major sliced | ratio "
        "| R @ X | sliced | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    with threadpool_limits(1):
        for dtype in (np.float64, np.float32):
            for d, K in SHAPES:
                X = rng.standard_normal((ROWS, d)).astype(dtype)
                W = rng.standard_normal((K, d)).astype(dtype)
                R = rng.standard_normal((K, ROWS)).astype(dtype)
                intercept = rng.standard_normal((K, 1)).astype(dtype)
                rows = max(1, _SMALL_PRODUCT // (K * d))
                runs = products(X, W, R, intercept, rows)
                samples = {label: [] for label in runs}
                for _ in range(100):
                    for label, run in runs.items():
                        start = time.perf_counter()
                        run()
                        samples[label].append(time.perf_counter() - start)
                us = {k: 1e6 * float(np.median(v)) for k, v in samples.items()}
                line = (
                    f"| {np.dtype(dtype).name} | {d} | {K} | {min(rows, ROWS)} "
                    f"| {us['class-major']:.0f} | {us['row-major sliced']:.0f} "
                    f"| {us['row-major sliced'] / us['class-major']:.2f} "
                    f"| {us['R @ X']:.0f} | {us['R @ X sliced']:.0f} "
                    f"| {us['R @ X sliced'] / us['R @ X']:.2f} |"
                )
                lines.append(line)
                print(line, flush=True)
    path = result_path(f"bench_small_products-{str(core).lower()}.md")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
