"""Default fits on real data with unscaled features: sklse against LogisticRegression.

Run ``python benchmarks/bench_unscaled.py`` (minutes: LogisticRegression with default
threads can take seconds per fit on 2 cores, its OpenBLAS pools fighting). A newcomer
fits bundled datasets as they come, without a StandardScaler: features in their own
units make the problem ill-conditioned, and L-BFGS stalls there. This prints, per
dataset, the wall time of the default fit (median of ``--repeats`` interleaved runs),
its iterations, whether it warned, and its relative objective gap ``(F - F*) / F*``,
for sklse's default and LogisticRegression's ``newton-cholesky`` and ``lbfgs``
defaults, in two settings in one run: equal cores (one BLAS and OpenMP thread for
everyone, through threadpoolctl) and each library's defaults (threads as they are).
Datasets: scikit-learn's iris, wine, breast_cancer and digits, and, when statsmodels
is installed (``pip install -e ".[bench]"``), its anes96 (party identification, 7
classes, from 5 survey answers) and fair (self-rated marriage, 5 classes, from 6
answers). Two classes (breast_cancer): ``SoftmaxRegression(C=c)`` is
``LogisticRegression(C=2 * c)`` (see the README), so sklse is fitted at C = 0.5
against LogisticRegression's default C = 1, the same problem. F* is the smallest
objective of sklse's and LogisticRegression's newton-cholesky at ``tol=1e-12``.
Writes the table to ``benchmarks/results/bench_unscaled.md``.
"""

import argparse
import datetime
import time
import warnings
from pathlib import Path

import numpy as np
from bench_fit import machine
from scipy.special import logsumexp
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression

RESULTS = Path(__file__).parent / "results"


def load():
    """Yield ``(name, X, y)``: float64 X with unscaled features, integer labels."""
    for name in ("iris", "wine", "breast_cancer", "digits"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        yield name, X, y
    try:
        import statsmodels.api as sm
    except ImportError:
        return
    anes = sm.datasets.anes96.load_pandas().data
    columns = ["logpopul", "selfLR", "age", "educ", "income"]
    yield "anes96", anes[columns].to_numpy(float), anes["PID"].to_numpy(int)
    fair = sm.datasets.fair.load_pandas().data
    columns = ["age", "yrs_married", "children", "religious", "educ", "affairs"]
    yield "fair", fair[columns].to_numpy(float), fair["rate_marriage"].to_numpy(int)


def symmetric(model):
    """Return ``(W, b)`` with one row per class (a binary LR margin split in two)."""
    coef, intercept = model.coef_, model.intercept_
    if coef.shape[0] == 1:
        coef, intercept = np.vstack([-coef, coef]) / 2, np.r_[-intercept, intercept] / 2
    return coef, intercept


def objective(W, b, X, y, C):
    """Return ``F = C sum_i (logsumexp(z_i) - z_{i, y_i}) + 1/2 ||W||^2``."""
    logits = X @ W.T + b
    loss = logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]
    return C * loss.sum() + 0.5 * np.sum(W * W)


def models(n_classes, tol=None):
    """Return ``{label: (estimator, C of the sklse-form objective)}``."""
    # Two classes: sklse at C/2 is LogisticRegression at C, in sklse's form at C/2.
    c = 0.5 if n_classes == 2 else 1.0
    extra = {} if tol is None else {"tol": tol, "max_iter": 10_000}
    return {
        "sklse default": (SoftmaxRegression(C=c, **extra), c),
        "LR newton-cholesky": (
            LogisticRegression(solver="newton-cholesky", **extra),
            c,
        ),
        "LR lbfgs": (LogisticRegression(**extra), c),
    }


def fit(model, X, y):
    """Return (seconds, warned) of one fit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, any(issubclass(w.category, Warning) for w in caught)


def run(X, y, repeats):
    """Return ``{label: (median seconds, n_iter, warned, gap)}`` for one dataset."""
    _, y = np.unique(y, return_inverse=True)
    n_classes = int(y.max()) + 1
    f_star = np.inf
    for label, (model, c) in models(n_classes, tol=1e-12).items():
        if label != "LR lbfgs":
            fit(model, X, y)
            f_star = min(f_star, objective(*symmetric(model), X, y, c))
    return interleaved(lambda: models(n_classes), X, y, f_star, repeats)


def interleaved(make_models, X, y, f_star, repeats):
    """Return ``{label: (median seconds, n_iter, warned, gap)}`` of the fits of
    ``make_models()`` (``{label: (estimator, C of the sklse-form objective)}``),
    ``repeats`` times each, in a rotated order each time."""
    labels = list(make_models())
    times, outcome = {label: [] for label in labels}, {}
    for repeat in range(repeats):
        shift = repeat % len(labels)
        for label in labels[shift:] + labels[:shift]:
            model, c = make_models()[label]
            seconds, warned = fit(model, X, y)
            times[label].append(seconds)
            gap = (objective(*symmetric(model), X, y, c) - f_star) / f_star
            outcome[label] = (int(np.max(model.n_iter_)), warned, gap)
    return {
        label: (float(np.median(times[label])), *outcome[label]) for label in labels
    }


def table(setting, results):
    """Return the markdown rows of one setting."""
    rows = [
        f"### {setting}",
        "",
        "| dataset | n x d, K | sklse default: s, iter, warned, gap "
        "| LR newton-cholesky: s, iter, warned, gap | LR lbfgs: s, iter, warned, gap "
        "| sklse / LR newton-cholesky |",
        "|---|---|---|---|---|---|",
    ]
    for name, shape, result in results:
        cells = [
            f"{t * 1e3:.1f} ms, {n}, {'yes' if w else 'no'}, {g:.1e}"
            for t, n, w, g in result.values()
        ]
        ratio = result["sklse default"][0] / result["LR newton-cholesky"][0]
        rows.append(f"| {name} | {shape} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    return rows + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = list(load())
    lines = [
        f"# Default fits on unscaled real data ({datetime.date.today()})",
        "",
        machine(),
        "",
    ]
    for setting, limits in (("equal cores (1 thread)", 1), ("defaults", None)):
        results = []
        with threadpool_limits(limits):
            for name, X, y in data:
                shape = f"{X.shape[0]} x {X.shape[1]}, {len(np.unique(y))}"
                results.append((name, shape, run(X, y, args.repeats)))
        lines += table(setting, results)
        print("\n".join(table(setting, results)), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_unscaled.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
