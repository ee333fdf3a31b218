"""L-BFGS's variables: iterations to ``tol`` on the standardised, centred or plain ones.

Run ``python benchmarks/bench_lbfgs_variables.py`` (about 2 minutes on 2 cores).
sklse's lbfgs runs on the variables of ``sklse._solvers._Standardized``: each
feature centred (through the intercept) and scaled by the square root of its
coefficients' curvature at the start. This compares, per problem, the iterations
of ``SoftmaxRegression(solver="lbfgs")`` to ``tol`` 1e-4 and 1e-6 on those
variables ("standardised"), on the centred ones alone (no scaling: "centred") and
on ``params`` ("plain", scipy's L-BFGS-B as LogisticRegression runs it), beside
LogisticRegression's lbfgs. Iteration counts do not depend on the machine. The
variants are the change patched in this process only; "plain" also drops the
test of ``tol`` in the standardised variables. Problems: make_classification as it
comes (spreads 1 to 6, correlated features), scikit-learn's bundled datasets as
they come and standardised, and features scaled by 10**U(-2, 3) and shifted by
10**U(-1, 3). Writes ``benchmarks/results/bench_lbfgs_variables-<machine>.md``.
"""

import warnings

import numpy as np
from bench_fit import machine, result_path
from sklearn import datasets
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression, _solvers

TOLS = (1e-4, 1e-6)
MAX_ITER = 3000
VARIANTS = ("standardised", "centred", "plain")


# make_classification's families: (name, its arguments, the fits' parameters); the
# first is sklearn's test_logistic_regression_solvers problem (seed 42 there).
FAMILIES = (
    (
        "200x10 K=2 no intercept",
        {"n_samples": 200, "n_features": 10, "n_informative": 5},
        {"fit_intercept": False},
    ),
    (
        "500x20 K=3",
        {"n_samples": 500, "n_features": 20, "n_informative": 8, "n_classes": 3},
        {},
    ),
    (
        "2000x30 K=5",
        {
            "n_samples": 2000,
            "n_features": 30,
            "n_informative": 10,
            "n_classes": 5,
            "class_sep": 2,
        },
        {},
    ),
)


def problems():
    """Yield ``(name, X, y, params)``: ``params`` for both estimators' fits."""
    for seed in range(6):
        for name, arguments, params in FAMILIES:
            X, y = make_classification(random_state=seed, **arguments)
            yield f"{name}, seed {seed}", X, y, params
    for name in ("iris", "wine", "breast_cancer", "digits"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        yield name, X, y, {}
        yield f"{name} (StandardScaler)", StandardScaler().fit_transform(X), y, {}
    rng = np.random.default_rng(0)
    X, y = make_classification(
        n_samples=3000, n_features=10, n_informative=6, n_classes=3, random_state=0
    )
    X = X * 10 ** rng.uniform(-2, 3, 10) + 10 ** rng.uniform(-1, 3, 10)
    yield "3000x10 K=3 scaled 10**U(-2,3), shifted", X, y, {}


def with_variables(variant):
    """Patch the change of variables to ``variant``; return the undo."""
    standardised = _solvers._Standardized.of

    def of(loss):
        change = standardised(loss)
        if change is None or variant == "plain":
            return None
        if variant == "centred":
            change.divisor = np.ones_like(change.divisor)
        return change

    _solvers._Standardized.of = of

    def undo():
        _solvers._Standardized.of = standardised

    return undo


def iterations(estimator, X, y):
    """Return the iterations of ``estimator`` fitted on ``X, y``, per tol of TOLS."""
    counts = []
    for tol in TOLS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = clone(estimator).set_params(tol=tol).fit(X, y)
        counts.append(int(fitted.n_iter_[0]))
    return counts


def cell(counts):
    return " / ".join(str(c) if c < MAX_ITER else f"{MAX_ITER}+" for c in counts)


def main():
    lines = [
        "# L-BFGS on standardised, centred and plain variables",
        "",
        machine(),
        "",
        f"Iterations to tol {' / '.join(f'{t:g}' for t in TOLS)} (max_iter "
        f"{MAX_ITER}); defaults otherwise (two classes: sklse at C = 0.5, "
        "LogisticRegression at 1, the same problem). One thread.",
        "",
        "| problem | standardised (sklse) | centred | plain | LogisticRegression |",
        "|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    totals = np.zeros((len(VARIANTS) + 1, len(TOLS)), dtype=int)
    with threadpool_limits(1):
        for name, X, y, params in problems():
            C = 0.5 if len(np.unique(y)) == 2 else 1.0
            sklse = SoftmaxRegression(solver="lbfgs", C=C, max_iter=MAX_ITER, **params)
            row = []
            for variant in VARIANTS:
                undo = with_variables(variant)
                try:
                    row.append(iterations(sklse, X, y))
                finally:
                    undo()
            lr = LogisticRegression(max_iter=MAX_ITER, **params)
            row.append(iterations(lr, X, y))
            totals += np.minimum(row, MAX_ITER)
            line = f"| {name} | " + " | ".join(map(cell, row)) + " |"
            lines.append(line)
            print(line, flush=True)
    sums = (" / ".join(map(str, counts)) for counts in totals)
    line = f"| total ({MAX_ITER}+ counted {MAX_ITER}) | " + " | ".join(sums) + " |"
    lines.append(line)
    print(line)
    path = result_path("bench_lbfgs_variables.md")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
