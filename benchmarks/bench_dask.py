"""Cost of fitting on Dask: one evaluation on a cluster against one in memory.

Run ``python benchmarks/bench_dask.py --quick`` (under a minute, 80 MB) or without
``--quick`` for the full size (3.2 GB float64, a few minutes on 2 cores); needs the
``dask`` extra (``pip install -e ".[dask]"``). It prints a markdown table and saves it
under ``benchmarks/results/`` with the machine and date.

Method. A ``LocalCluster`` of two worker processes (one thread each, loopback) holds
the data, generated on the workers chunk by chunk from fixed seeds
(``dask.array.random.default_rng``; labels drawn from a fixed softmax model by
``map_blocks``) and persisted there: the client process never holds X. Timed, as the
median of ``--repeats`` calls at one random point:

- one ``DaskSoftmaxLoss.loss_gradient`` and one ``hessp`` (one Dask computation each)
  on the whole data, against ``SoftmaxLoss`` on one chunk-sized in-memory slice (one
  thread, one BLAS thread, as each worker), both as ns per row; the ratio is the Dask
  cost per row over the in-memory one (two workers in parallel would ideally give 0.5
  on an idle machine);
- the fixed cost of a Dask evaluation: the same number of chunks of 100 rows each;
- a short fit (``max_iter``) with the client process's peak memory: its resident-set
  high-water mark (``ru_maxrss``) up to the end of the fit and its growth during the
  fit, and the tracemalloc peak during the fit, against the size of X (the in-memory
  slice is made after the fit).
"""

import argparse
import datetime
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import scipy
import sklearn
from bench_fit import result_path
from distributed import Client, LocalCluster, wait
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import sklse
from sklse import SoftmaxRegression
from sklse._dask import DaskSoftmaxLoss
from sklse._loss import SoftmaxLoss

SEED = 0
SIZES = {  # n_samples, n_features, n_classes, rows per chunk
    "quick": (200_000, 50, 5, 25_000),
    "full": (4_000_000, 100, 10, 250_000),
}


def _labels(X, coef, block_info=None):
    """Draw labels of one chunk from the softmax model ``coef`` (seed: chunk index)."""
    chunk = block_info[0]["chunk-location"][0]
    rng = np.random.default_rng([SEED, chunk])
    logits = X @ coef.T + rng.gumbel(size=(len(X), len(coef)))
    return np.argmax(logits, axis=1).astype(np.intp)


def make_data(n_samples, n_features, n_classes, chunk_rows):
    """Return X, y as lazy dask arrays from fixed seeds."""
    X = da.random.default_rng(SEED).standard_normal(
        (n_samples, n_features), chunks=(chunk_rows, n_features)
    )
    coef = np.random.default_rng(SEED + 1).standard_normal((n_classes, n_features))
    coef /= np.sqrt(n_features)  # logits of order one: a finite optimum
    y = X.map_blocks(_labels, coef, drop_axis=1, dtype=np.intp)
    return X, y


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_in_memory(n_features, n_classes, rows, params, direction, repeats):
    """Time SoftmaxLoss on one in-memory chunk-sized slice, one thread as a worker."""
    X, y = make_data(rows, n_features, n_classes, rows)
    X, y = dask.compute(X, y, scheduler="sync")
    loss = SoftmaxLoss(X, y, n_classes)
    with threadpool_limits(limits=1, user_api="blas"):
        loss.loss_gradient(params)  # warm up the blocks' buffers
        lg = median_time(lambda: loss.loss_gradient(params), repeats)
        hp = median_time(lambda: loss.hessp(params, direction), repeats)
    return lg, hp


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine():
    return (
        f"{platform.node()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, scikit-learn {sklearn.__version__}, dask "
        f"{dask.__version__}; {datetime.date.today()}"
    )


def run(size, repeats, max_iter):
    n_samples, n_features, n_classes, chunk_rows = SIZES[size]
    n_chunks = -(-n_samples // chunk_rows)
    rng = np.random.default_rng(SEED + 2)
    n_dof = n_classes * (n_features + 1)
    params = 0.1 * rng.standard_normal(n_dof)
    direction = rng.standard_normal(n_dof)
    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    rss_start = peak_rss_mib()
    X, y = make_data(n_samples, n_features, n_classes, chunk_rows)
    start = time.perf_counter()
    X, y = dask.persist(X, y)
    wait([X, y])
    data_mib = X.nbytes / 2**20
    say(f"# bench_dask ({size})\n\n{machine()}\n")
    say(
        f"X: {n_samples} x {n_features} float64 = {data_mib:.0f} MiB, K = {n_classes}, "
        f"{n_chunks} chunks of {chunk_rows} rows, generated and persisted on a "
        f"LocalCluster of 2 worker processes x 1 thread in "
        f"{time.perf_counter() - start:.1f} s; medians of {repeats} calls. The "
        "machine's 2 cores are shared with other jobs: expect noise.\n"
    )

    loss = DaskSoftmaxLoss(X, y, n_classes)
    loss.loss_gradient(params)  # warm up: imports and first transfers on the workers
    dask_lg = median_time(lambda: loss.loss_gradient(params), repeats)
    dask_hp = median_time(lambda: loss.hessp(params, direction), repeats)

    # The fit before anything is held in this process: its peak RSS is the client's.
    tracemalloc.start()
    rss_before_fit = peak_rss_mib()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(max_iter=max_iter).fit(X, y)
    fit_time = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after_fit = peak_rss_mib()

    memory_lg, memory_hp = time_in_memory(
        n_features, n_classes, chunk_rows, params, direction, 3 * repeats
    )
    tiny_X, tiny_y = dask.persist(
        *make_data(100 * n_chunks, n_features, n_classes, 100)
    )
    tiny = DaskSoftmaxLoss(tiny_X, tiny_y, n_classes)
    tiny.loss_gradient(params)
    fixed = median_time(lambda: tiny.loss_gradient(params), repeats)

    say(
        "| evaluation | Dask, whole X (s) | Dask ns/row | in memory, 1 chunk (s) "
        "| in memory ns/row | Dask / in memory per row |"
    )
    say("|---|---|---|---|---|---|")
    for name, on_dask, in_memory in [
        ("loss_gradient", dask_lg, memory_lg),
        ("hessp", dask_hp, memory_hp),
    ]:
        dask_ns, memory_ns = 1e9 * on_dask / n_samples, 1e9 * in_memory / chunk_rows
        say(
            f"| {name} | {on_dask:.3f} | {dask_ns:.1f} | {in_memory:.4f} | "
            f"{memory_ns:.1f} | {dask_ns / memory_ns:.2f} |"
        )
    say(
        f"\nFixed cost of one Dask evaluation ({n_chunks} chunks of 100 rows): "
        f"{1e3 * fixed:.1f} ms. hessp recomputes the softmax in every chunk task "
        f"(in memory it reuses the probabilities of loss_gradient): "
        f"hessp / loss_gradient = {dask_hp / dask_lg:.2f} on Dask, "
        f"{memory_hp / memory_lg:.2f} in memory.\n"
    )
    say(
        "| fit | time (s) | n_iter | client peak RSS growth (MiB) "
        "| client tracemalloc peak (MiB) | X (MiB) |"
    )
    say("|---|---|---|---|---|---|")
    say(
        f"| lbfgs, max_iter={max_iter} | {fit_time:.1f} | {model.n_iter_[0]} | "
        f"{rss_after_fit - rss_before_fit:.1f} | {traced_peak / 2**20:.2f} | "
        f"{data_mib:.0f} |"
    )
    say(
        "\nClient process peak RSS up to the end of the fit (data generated and "
        f"persisted on the workers, evaluations timed, fit): {rss_after_fit:.0f} MiB, "
        f"of which {rss_start:.0f} MiB before the data (imports, cluster). The fit "
        f"takes {fit_time / max(1, model.n_iter_[0]):.2f} s per iteration, including "
        "its passes over the data to check it."
    )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="80 MB, under a minute")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=10)
    args = parser.parse_args()
    # The workers must import this sklse, also from a source tree not installed.
    package_root = str(Path(sklse.__file__).parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH")])
    )
    size = "quick" if args.quick else "full"
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        lines = run(size, args.repeats, args.max_iter)
    path = result_path("bench_dask.md" if size == "full" else "bench_dask_quick.md")
    command = "python benchmarks/bench_dask.py" + (" --quick" if args.quick else "")
    path.write_text("\n".join(lines) + f"\n\nCommand: `{command}`\n")
    print(f"saved to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
