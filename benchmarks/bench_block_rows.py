"""Rows per block of dense X: one loss+gradient by rows per block, at one thread or N.

``python benchmarks/bench_block_rows.py [--engine torch|numpy] [--repeats 5]
[--quick] [--threads 1]`` times, for 9 shapes (n_features, n_classes) in float64
and float32, each with ~2.5e7 values of X and logits (n rows such that n (d + K) =
2.5e7; ``--quick`` a tenth), at 128 ... 32768 rows per block: sklse's array-API
evaluator on torch CPU tensors (``torch``, the default; rule
:func:`sklse._array_api.default_block_rows`) or its numpy evaluator (``numpy``;
:func:`sklse._loss.default_block_rows`). It prints each shape's best rows, the
rule's rows on this machine and the rule's time against the best. Each figure is a
median of interleaved repeats at one point.
``--threads N`` (numpy) evaluates the blocks on N threads, BLAS at one (as in a fit),
after the evaluations in which :class:`sklse._loss._ThreadProbe` decides whether
threads pay; a ``*`` marks the cells where it found that they do not (one thread ran).
"""

import os

# scikit-learn's array API dispatch (used for the copies back) needs scipy's.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from bench_array_api import machine  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklse import _array_api, _loss  # noqa: E402

SHAPES = [(10, 500), (20, 5), (50, 100), (100, 10), (100, 100)]
SHAPES += [(500, 3), (500, 10), (2000, 10), (5000, 10)]
ROWS = [128 << i for i in range(9)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="problems 10x smaller")
    parser.add_argument("--engine", choices=["torch", "numpy"], default="torch")
    parser.add_argument("--threads", type=int, default=1, help="block threads (numpy)")
    args = parser.parse_args()
    if args.threads > 1 and args.engine != "numpy":
        parser.error("--threads is the numpy evaluator's")
    import torch

    torch.set_num_threads(1)
    print(machine(torch))
    print(
        f"\n{args.engine}: ms per loss+gradient, median of {args.repeats}, "
        f"{args.threads} block thread(s), one BLAS thread\n"
    )
    with threadpool_limits(1):
        table(args, torch)


def evaluator(engine, X, y, K, block_rows=None, n_threads=1):
    """Return the engine's evaluator of (X, y) in blocks of ``block_rows`` rows."""
    if engine == "numpy":
        return _loss.SoftmaxLoss(
            X.numpy(), y.numpy(), K, block_rows=block_rows, n_threads=n_threads
        )
    return _array_api.ArrayAPISoftmaxLoss(X, y, K, block_rows=block_rows)


def table(args, torch):
    """Print the table's rows, one per shape and dtype."""
    print("| d | K | dtype | n | " + " | ".join(map(str, ROWS)) + " | best | rule |")
    print("|---" * (len(ROWS) + 6) + "|")
    rng = np.random.default_rng(0)
    for d, K in SHAPES:
        for dtype in (torch.float64, torch.float32):
            n = int((2.5e6 if args.quick else 2.5e7) // (d + K))
            X = torch.randn(n, d, dtype=dtype)
            y = torch.from_numpy(rng.integers(0, K, n))
            losses = [
                evaluator(args.engine, X, y, K, r, args.threads) for r in ROWS + [None]
            ]
            rule = losses[-1].blocks[0].X.shape[0]
            params = rng.standard_normal(losses[0].n_dof) * 0.01
            ms = [[] for _ in losses]
            # A warm-up, and with threads the evaluations that probe them.
            warm_ups = 1 + (_loss._PROBES if args.threads > 1 else 0)
            for repeat in range(args.repeats + warm_ups):
                for loss, times in zip(losses, ms, strict=True):
                    start = time.perf_counter()
                    loss.loss_gradient(params)
                    if repeat >= warm_ups:
                        times.append(1e3 * (time.perf_counter() - start))
            ms = [statistics.median(times) for times in ms]
            best = int(np.argmin(ms[:-1]))
            alone = [args.threads > 1 and not loss._threads.pays for loss in losses]
            cells = " | ".join(
                f"{value:.1f}{'*' * flag}"
                for value, flag in zip(ms[:-1], alone[:-1], strict=True)
            )
            print(
                f"| {d} | {K} | {str(dtype)[6:]} | {n} | {cells} | {ROWS[best]} "
                f"| {rule}: {ms[-1]:.1f}{'*' * alone[-1]} ({ms[-1] / ms[best]:.2f}x) |",
                flush=True,
            )


if __name__ == "__main__":
    main()
