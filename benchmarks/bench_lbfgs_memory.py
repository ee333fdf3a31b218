"""L-BFGS's memory (scipy's ``maxcor``): evaluations to a gap, per problem.

Run ``python benchmarks/bench_lbfgs_memory.py`` (8 minutes on 2 cores; ``--quick``
for the small sizes of ``bench_fit.py``). For each problem and each memory ``m`` of
``--memories``, sklse's lbfgs runs at ``tol=1e-10`` on one thread and records the
loss evaluations it has made after each iteration and the objective there. The
table gives the evaluations to a relative objective gap ``(F - F*) / F*`` of 1e-4,
1e-6 and 1e-9 (F* the smallest objective of all runs and of newton-cg at
``tol=1e-10``) and the run's wall time over its evaluations (L-BFGS-B's own work,
which grows with ``m``, and the fit's one-time work included). Evaluation counts
do not depend on the machine; the milliseconds do. Problems: the dense and sparse
L2 ones of ``bench_fit.py``, scikit-learn's bundled datasets unscaled (as
``bench_unscaled.py`` fits them), statsmodels' anes96 and fair when installed, and
two of ``bench_sparse_defaults.py``'s. Writes
``benchmarks/results/bench_lbfgs_memory-<machine>.md``.
"""

import argparse
import datetime
import time

import numpy as np
from bench_fit import machine, problems, result_path
from bench_sparse_defaults import sparse_rows
from bench_unscaled import load
from threadpoolctl import threadpool_limits

from sklse import _solvers
from sklse._loss import SoftmaxLoss

GAPS = (1e-4, 1e-6, 1e-9)


def all_problems(quick):
    """Yield ``(name, X, y, C)``: L2 problems of the benchmarks, labels 0..K-1."""
    for name, X, y, penalty in problems(quick):
        if penalty["l1_ratio"] == 0 and name != "medium-f32":
            yield name, X, y, penalty["C"]
    for name, X, y in load():
        yield f"{name} (unscaled)", X, np.unique(y, return_inverse=True)[1], 1.0
    for (n, d, k, density, kind), C in (
        ((5000, 10000, 20, 1e-2, "tf-idf"), 100.0),
        ((10000, 3000, 5, 1e-2, "counts"), 1.0),
    ):
        X, y = sparse_rows(n, d, k, density, kind, seed=0)
        yield f"{kind} {n}x{d} K={k} C={C:g}", X, y, C


def trace(loss, memory):
    """Return ``(evaluations, objectives)`` after each iteration, and ms/evaluation."""
    _solvers._LBFGS_MEMORY = memory
    count, points = [0], []
    evaluate = type(loss).loss_gradient.__get__(loss)

    def counted(params):
        count[0] += 1
        return evaluate(params)

    loss.loss_gradient = counted
    start = time.perf_counter()
    _solvers.minimize(
        loss,
        np.zeros(loss.n_dof),
        solver="lbfgs",
        tol=1e-10,
        max_iter=5000,
        on_iteration=lambda params: points.append((count[0], params.copy())),
    )
    seconds = time.perf_counter() - start
    del loss.loss_gradient
    evaluations = np.array([c for c, _ in points])
    values = np.array([loss.objective(p) for _, p in points])
    return evaluations, values, 1e3 * seconds / max(count[0], 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memories", type=int, nargs="+", default=[5, 10, 20, 30, 50])
    args = parser.parse_args()
    lines = [
        f"# L-BFGS memory: evaluations to a gap ({datetime.date.today()})",
        "",
        machine(),
        "",
        "sklse lbfgs at tol=1e-10, one thread; evaluations (loss + gradient) to a "
        "relative objective gap; `-`: not reached. ms / eval: the run's wall time "
        "over its evaluations (its one-time work, the feature moments, included; "
        "noisy: the VM's).",
        "",
        "| problem | n x d, K | m | evals to 1e-4 | 1e-6 | 1e-9 | ms / eval |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines))
    with threadpool_limits(1):
        for name, X, y, C in all_problems(args.quick):
            X = X if X.dtype.kind == "f" else X.astype(np.float64)
            n_classes = int(y.max()) + 1
            runs = {
                m: trace(SoftmaxLoss(X, y.astype(np.intp), n_classes, C=C), m)
                for m in args.memories
            }
            loss = SoftmaxLoss(X, y.astype(np.intp), n_classes, C=C)
            reference = _solvers.minimize(
                loss, np.zeros(loss.n_dof), solver="newton-cg", tol=1e-10, max_iter=1000
            )
            f_star = min(
                [loss.scale * reference.value] + [v.min() for _, v, _ in runs.values()]
            )
            for m, (evaluations, values, ms) in runs.items():
                cells = []
                for gap in GAPS:
                    reached = np.flatnonzero(values - f_star <= gap * abs(f_star))
                    cells.append(str(evaluations[reached[0]]) if reached.size else "-")
                line = (
                    f"| {name} | {X.shape[0]}x{X.shape[1]}, {n_classes} | {m} | "
                    f"{' | '.join(cells)} | {ms:.3g} |"
                )
                lines.append(line)
                print(line, flush=True)
    suffix = "_quick" if args.quick else ""
    path = result_path(f"bench_lbfgs_memory{suffix}.md")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
