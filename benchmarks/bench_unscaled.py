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
Writes the table to ``benchmarks/results/bench_unscaled-<machine>.md``.

With ``--l1-ratio r`` (in (0, 1]), the elastic-net fits instead: sklse's default
against LogisticRegression's saga (its one solver for them) at the same
``l1_ratio``, on the datasets of more than two classes (with two, sklse at C / 2 is
LogisticRegression at C for the data and L2 terms only; pure L1 keeps them all, at
the same C); F* is sklse's fit at ``tol=1e-10`` (its max|gradient| is printed) or
a lower default fit. Writes ``benchmarks/results/bench_unscaled-l1-<r>-<machine>.md``.
"""

import argparse
import datetime
import time
import warnings

import numpy as np
from bench_fit import machine, result_path
from scipy.special import logsumexp
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression


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


def objective(W, b, X, y, C, l1_ratio=0.0):
    """Return ``F = C sum_i CE_i + (1 - r) / 2 ||W||^2 + r ||W||_1``."""
    logits = X @ W.T + b
    loss = logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]
    penalty = (1 - l1_ratio) / 2 * np.sum(W * W) + l1_ratio * np.sum(np.abs(W))
    return C * loss.sum() + penalty


def models(n_classes, tol=None, l1_ratio=0.0):
    """Return ``{label: (estimator, C of the sklse-form objective)}``."""
    # Two classes: sklse at C/2 is LogisticRegression at C, in sklse's form at C/2.
    c = 0.5 if n_classes == 2 and l1_ratio < 1 else 1.0
    extra = {} if tol is None else {"tol": tol, "max_iter": 10_000}
    if l1_ratio > 0:
        return {
            "sklse default": (SoftmaxRegression(C=c, l1_ratio=l1_ratio, **extra), c),
            "LR saga": (LogisticRegression(solver="saga", l1_ratio=l1_ratio), c),
        }
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


def run(X, y, repeats, l1_ratio=0.0):
    """Return ``{label: (median seconds, n_iter, warned, gap)}`` for one dataset."""
    _, y = np.unique(y, return_inverse=True)
    n_classes = int(y.max()) + 1
    f_star = np.inf
    if l1_ratio > 0:
        model, c = models(n_classes, tol=1e-10, l1_ratio=l1_ratio)["sklse default"]
        fit(model, X, y)
        print(f"  F* fit: max|gradient| {model.gradient_norm_:.1e}", flush=True)
        f_star = objective(model.coef_, model.intercept_, X, y, c, l1_ratio)
    for label, (model, c) in models(n_classes, tol=1e-12).items():
        if label != "LR lbfgs" and l1_ratio == 0:
            fit(model, X, y)
            f_star = min(f_star, objective(*symmetric(model), X, y, c))
    return interleaved(
        lambda: models(n_classes, l1_ratio=l1_ratio), X, y, f_star, repeats, l1_ratio
    )


def interleaved(make_models, X, y, f_star, repeats, l1_ratio=0.0):
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
            value = objective(*symmetric(model), X, y, c, l1_ratio)
            gap = (value - f_star) / f_star
            outcome[label] = (int(np.max(model.n_iter_)), warned, gap)
    return {
        label: (float(np.median(times[label])), *outcome[label]) for label in labels
    }


def table(setting, results):
    """Return the markdown rows of one setting."""
    labels = list(results[0][2])
    rows = [
        f"### {setting}",
        "",
        "| dataset | n x d, K | "
        + " | ".join(f"{label}: s, iter, warned, gap" for label in labels)
        + f" | sklse / {labels[1]} |",
        "|---|---|" + "---|" * (len(labels) + 1),
    ]
    for name, shape, result in results:
        cells = [
            f"{t * 1e3:.1f} ms, {n}, {'yes' if w else 'no'}, {g:.1e}"
            for t, n, w, g in result.values()
        ]
        ratio = result["sklse default"][0] / result[labels[1]][0]
        rows.append(f"| {name} | {shape} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    return rows + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--l1-ratio", type=float, default=0.0)
    args = parser.parse_args()
    r = args.l1_ratio
    data = [
        (name, X, y)
        for name, X, y in load()
        if r in (0.0, 1.0) or len(np.unique(y)) > 2
    ]
    what = f"elastic-net (l1_ratio={r:g}) fits" if r > 0 else "fits"
    lines = [
        f"# Default {what} on unscaled real data ({datetime.date.today()})",
        "",
        machine(),
        "",
    ]
    for setting, limits in (("equal cores (1 thread)", 1), ("defaults", None)):
        results = []
        with threadpool_limits(limits):
            for name, X, y in data:
                shape = f"{X.shape[0]} x {X.shape[1]}, {len(np.unique(y))}"
                results.append((name, shape, run(X, y, args.repeats, r)))
        lines += table(setting, results)
        print("\n".join(table(setting, results)), flush=True)
    suffix = f"-l1-{r:g}" if r > 0 else ""
    result_path(f"bench_unscaled{suffix}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
