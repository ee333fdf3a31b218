"""The crossover of ``auto``: what a dense Hessian costs in L-BFGS iterations.

``python benchmarks/bench_auto_crossover.py`` times, at one thread, one dense Hessian
(``SoftmaxLoss.hessian``) and one L-BFGS iteration's evaluation (``loss_gradient``)
on standardised random problems whose Hessian takes from 2**20 to 2**26
multiply-adds (``sklse._solvers._hessian_work``). ``auto`` starts with newton-cholesky
where that work is at most 2**23 (``_SMALL_HESSIAN``), the size at which one Hessian
was measured to cost about 10 L-BFGS iterations; the table shows that ratio on the
machine it runs on, and the time of whole default fits with solver="lbfgs" and
solver="newton-cholesky" beside auto's.
"""

import time
import warnings

import numpy as np
from bench_fit import machine
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression
from sklse._loss import SoftmaxLoss
from sklse._solvers import _SMALL_HESSIAN, _hessian_work

SHAPES = [  # (n_samples, n_features, n_classes)
    (500, 10, 3),
    (2000, 10, 4),
    (2000, 20, 5),
    (5000, 20, 5),
    (5000, 30, 8),
    (20000, 30, 8),
]


def best(function, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    print(machine())
    print("\none thread, minimum of 7 (fits: of 5); ratio = Hessian / loss+gradient\n")
    print(
        "| n x d, K | Hessian multiply-adds | Hessian ms | loss+gradient ms | ratio "
        "| fit lbfgs ms | fit newton-cholesky ms | fit auto ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        for n, d, k in SHAPES:
            X = rng.standard_normal((n, d))
            y = np.argmax(
                X @ rng.standard_normal((d, k)) + rng.gumbel(size=(n, k)), axis=1
            )
            loss = SoftmaxLoss(X, y, k)
            params = rng.standard_normal(loss.n_dof) * 0.1
            work = _hessian_work(loss)
            hessian = best(lambda: loss.hessian(params))  # noqa: B023
            evaluation = best(lambda: loss.loss_gradient(params))  # noqa: B023
            fits = [
                best(lambda s=s: SoftmaxRegression(solver=s).fit(X, y), 5)  # noqa: B023
                for s in ("lbfgs", "newton-cholesky", "auto")
            ]
            mark = " (auto: Newton first)" if work <= _SMALL_HESSIAN else ""
            print(
                f"| {n} x {d}, {k} | 2**{np.log2(work):.1f}{mark} | "
                f"{1e3 * hessian:.2f} | {1e3 * evaluation:.3f} | "
                f"{hessian / evaluation:.1f} | "
                + " | ".join(f"{1e3 * t:.1f}" for t in fits)
                + " |"
            )


if __name__ == "__main__":
    main()
