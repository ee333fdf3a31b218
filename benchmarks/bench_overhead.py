"""Where an L-BFGS iteration's time goes: evaluations, scipy's L-BFGS-B, sklse's glue.

Run ``python benchmarks/bench_overhead.py`` (about 30 seconds). One thread
(BLAS included); times are thread CPU time, the best of ``--repeats`` (a VM's steal
time is not in it), so that differences of a few percent can be read.

1. scipy's L-BFGS-B on its own: ``scipy.optimize.minimize(method="L-BFGS-B")`` with
   sklse's memory (10 pairs) on a diagonal quadratic of n variables, a function of a
   few microseconds; its time per evaluation less the function's. Every L-BFGS fit
   pays it per evaluation, whatever its loss (LogisticRegression's too), and it grows
   with n: the compact L-BFGS-B matrices cost ``O(m n)`` per iteration, many passes.
2. An iteration of a fit: sklse's lbfgs and LogisticRegression's lbfgs at two
   ``max_iter`` (``tol=1e-14``; on standardised features the two take the same path),
   time per iteration from the difference (both above L-BFGS's memory, so that
   L-BFGS-B's work per iteration is table 1's). sklse's is split into its evaluations
   (``SoftmaxLoss.loss_gradient``, timed), L-BFGS-B's share (table 1 at the fit's
   ``n_dof``, times its evaluations per iteration) and the rest, sklse's glue (the
   change of variables, the monitor and its callback).

Problems: standardised digits (bench_fit's) and the tall and many-classes problems of
``bench_fit.py`` at its ``--quick`` size. Writes
``benchmarks/results/bench_overhead-<machine>.md``.
"""

import argparse
import datetime
import time
import warnings

import numpy as np
from bench_fit import dense_problem, digits, machine, result_path
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression
from sklse._loss import SoftmaxLoss
from sklse._solvers import _LBFGS_MEMORY

clock = time.thread_time
SIZES = (10, 650, 5_010, 10_100, 100_000, 2_000_020)  # digits, medium, many, sparse


def lbfgsb_cost(n, repeats):
    """Return (seconds per evaluation of L-BFGS-B itself, of the function) at n."""
    curvature = np.geomspace(1.0, 1e3, n)
    spent = [0.0, 0]

    def quadratic(x):
        start = clock()
        gradient = curvature * x - 1.0
        value = 0.5 * float(x @ (gradient - 1.0))
        spent[0] += clock() - start
        spent[1] += 1
        return value, gradient

    iterations = 80 if n <= 100_000 else 20
    best = (np.inf, np.inf)
    for _ in range(repeats):
        spent[:] = [0.0, 0]
        start = clock()
        optimize.minimize(
            quadratic,
            np.zeros(n),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": iterations,
                "maxcor": _LBFGS_MEMORY,
                "gtol": 0.0,
                "ftol": 0.0,
            },
        )
        total = clock() - start
        best = min(best, ((total - spent[0]) / spent[1], spent[0] / spent[1]))
    return best


def instrumented():
    """Patch ``SoftmaxLoss.loss_gradient`` to add up its calls and thread time."""
    original = SoftmaxLoss.loss_gradient
    spent = [0.0, 0]

    def loss_gradient(self, params):
        start = clock()
        result = original(self, params)
        spent[0] += clock() - start
        spent[1] += 1
        return result

    return original, loss_gradient, spent


def iteration_costs(X, y, low, high, repeats, scipy_per_eval):
    """Return the per-iteration row of one problem (seconds)."""
    original, patched, spent = instrumented()
    times = {}
    for label, make in (
        ("LR", lambda m: LogisticRegression(max_iter=m, tol=1e-14)),
        ("sklse", lambda m: SoftmaxRegression(solver="lbfgs", max_iter=m, tol=1e-14)),
    ):
        for max_iter in (low, high):
            model = make(max_iter)
            timed(model, X, y)  # a first fit: imports, caches
            if np.max(model.n_iter_) != max_iter:
                raise RuntimeError(f"{label} stopped before max_iter={max_iter}")
            times[label, max_iter] = min(
                timed(model, X, y) for _ in range(repeats)
            )  # plain fits: nothing patched
    # The split from instrumented fits: each one's time, and the time and count of
    # its evaluations, from the fastest of its repeats (one run's own difference).
    runs = {}
    SoftmaxLoss.loss_gradient = patched
    try:
        for max_iter in (low, high):
            model = SoftmaxRegression(solver="lbfgs", max_iter=max_iter, tol=1e-14)
            best = (np.inf, 0.0, 0)
            for _ in range(repeats):
                spent[:] = [0.0, 0]
                best = min(best, (timed(model, X, y), *spent))
            runs[max_iter] = np.array(best)
    finally:
        SoftmaxLoss.loss_gradient = original
    steps = high - low
    per = {
        label: (times[label, high] - times[label, low]) / steps
        for label in ("LR", "sklse")
    }
    total, eval_time, evals_per_iteration = (runs[high] - runs[low]) / steps
    scipy_time = scipy_per_eval * evals_per_iteration
    glue = total - eval_time - scipy_time
    return per, eval_time, evals_per_iteration, scipy_time, glue


def timed(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = clock()
        model.fit(X, y)
        return clock() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    lines = [
        f"# Where an L-BFGS iteration's time goes ({datetime.date.today()})",
        "",
        machine(),
        "",
        "One thread; thread CPU time, best of "
        f"{args.repeats}. `python benchmarks/bench_overhead.py`.",
        "",
        "### scipy's L-BFGS-B per evaluation, its own work (memory "
        f"{_LBFGS_MEMORY}), against the number of variables",
        "",
        "| n | L-BFGS-B us / eval | the function's us / eval | L-BFGS-B ns / var |",
        "|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    own = {}
    with threadpool_limits(1):
        for n in SIZES:
            own[n], function = lbfgsb_cost(n, max(3, args.repeats // 5))
            line = (
                f"| {n} | {own[n] * 1e6:.1f} | {function * 1e6:.1f} | "
                f"{own[n] / n * 1e9:.0f} |"
            )
            lines.append(line)
            print(line, flush=True)
        rows = [
            "",
            "### One iteration of a fit (sklse lbfgs and LogisticRegression lbfgs, "
            "`tol=1e-14`), from fits at two `max_iter`",
            "",
            "| problem | n_dof | LR ms / iter | sklse ms / iter | sklse / LR | sklse: "
            "evaluations ms (per iter) | L-BFGS-B ms | glue ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += rows
        print("\n".join(rows), flush=True)
        problems = [
            ("digits", *digits(), 10, 60),
            ("tall (quick)", *dense_problem(20_000, 20, 5, seed=1), 11, 20),
            ("many-classes (quick)", *dense_problem(5_000, 100, 100, seed=3), 12, 30),
        ]
        for name, X, y, low, high in problems:
            n_dof = (X.shape[1] + 1) * (int(y.max()) + 1)
            scipy_per_eval = np.interp(n_dof, SIZES, [own[n] for n in SIZES])
            per, eval_time, per_iter, scipy_time, glue = iteration_costs(
                X, y, low, high, args.repeats, scipy_per_eval
            )
            line = (
                f"| {name} | {n_dof} | {per['LR'] * 1e3:.3f} | "
                f"{per['sklse'] * 1e3:.3f} | {per['sklse'] / per['LR']:.2f} | "
                f"{eval_time * 1e3:.3f} ({per_iter:.2f} evals) | "
                f"{scipy_time * 1e3:.3f} | {glue * 1e3:.3f} |"
            )
            lines.append(line)
            print(line, flush=True)
    path = result_path("bench_overhead.md")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
