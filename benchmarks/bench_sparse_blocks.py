"""Sparse row blocks: one loss+gradient and one Hessian product, by rows per block.

``python benchmarks/bench_sparse_blocks.py [--repeats 15]`` times, at one thread, on
``bench_fit.py``'s sparse problem (CSR 50000 x 100000, density 1e-3, K=20):

- sklse's default blocks, whose ``R @ X`` add into one (n_features, K) buffer in block
  order (``sklse._loss._InOrderSum``);
- the same blocks, each making and adding its own dense (n_features, K) product (the
  code before that buffer, kept here as the comparison);
- other rows per block (6250: the 1 MiB of logits alone), and one block of all rows;
- the floor: ``X @ W`` and ``X.T @ R`` on the whole matrix.

Each figure is the minimum over interleaved repeats (the cloud VMs' memory bandwidth
varies from one second to the next; the minimum is the run least disturbed).
"""

import argparse
import time

import numpy as np
from bench_fit import machine, sparse_problem
from threadpoolctl import threadpool_limits

from sklse._loss import SoftmaxLoss, default_block_rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    X, y = sparse_problem(50_000, 100_000, 20, 1e-3, seed=4)
    n_classes = 20
    rng = np.random.default_rng(0)
    default = default_block_rows(X, n_classes, 8)
    variants = {f"default ({default} rows), one sum": SoftmaxLoss(X, y, n_classes)}
    per_block = SoftmaxLoss(X, y, n_classes)
    per_block._sparse = False  # every block returns its own product
    variants[f"default ({default} rows), a product per block"] = per_block
    for rows in (2048, 6250, 50_000):
        variants[f"{rows} rows, one sum"] = SoftmaxLoss(
            X, y, n_classes, block_rows=rows
        )
    params = rng.standard_normal(per_block.n_dof) * 0.1
    direction = rng.standard_normal(per_block.n_dof)
    W = rng.standard_normal((X.shape[1], n_classes))
    R = rng.standard_normal((X.shape[0], n_classes))
    times = {name: ([], []) for name in [*variants, "floor: X @ W + X.T @ R"]}
    with threadpool_limits(1):
        for loss in variants.values():
            loss.loss_gradient(params), loss.hessp(params, direction)
        for _ in range(args.repeats):
            for name, loss in variants.items():
                start = time.perf_counter()
                loss.loss_gradient(params)
                middle = time.perf_counter()
                loss.hessp(params, direction)
                times[name][0].append(middle - start)
                times[name][1].append(time.perf_counter() - middle)
            start = time.perf_counter()
            X @ W, X.T @ R
            times["floor: X @ W + X.T @ R"][0].append(time.perf_counter() - start)
    print(machine())
    print(f"\nCSR {X.shape[0]} x {X.shape[1]}, nnz {X.nnz}, K={n_classes}, one thread,")
    print(f"min of {args.repeats} interleaved repeats\n")
    print("| blocks | blocks | loss+gradient ms | hessp ms |")
    print("|---|---|---|---|")
    for name, (grad, hessp) in times.items():
        loss = variants.get(name)
        count = len(loss.blocks) if loss is not None else "-"
        hessp_ms = f"{1e3 * min(hessp):.1f}" if hessp else "-"
        print(f"| {name} | {count} | {1e3 * min(grad):.1f} | {hessp_ms} |")


if __name__ == "__main__":
    main()
