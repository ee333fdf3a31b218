"""Cross-validated paths: SoftmaxRegressionCV against LogisticRegressionCV.

Run ``python benchmarks/bench_cv.py --quick`` (under two minutes) or without
``--quick`` for the full sizes (~40 minutes on 2 cores with ``--repeats 3``, most of
it LogisticRegressionCV with default threads); ``--only`` and ``--one-thread`` run a
part (the file name says which). It prints a markdown table and saves it under
``benchmarks/results/`` with the machine (CPU model, cores, caches) and date.

Method. 10 Cs (``np.logspace(-4, 4, 10)``, LogisticRegressionCV's grid, given to
every estimator) x 5 stratified folds, scoring ``neg_log_loss``, default ``tol`` and
``max_iter``. L2 rows: SoftmaxRegressionCV against LogisticRegressionCV(lbfgs) and
GridSearchCV(SoftmaxRegression()). Elastic-net rows, ``l1_ratios=(0.25, 0.5, 1.0)``:
SoftmaxRegressionCV against LogisticRegressionCV(saga), its one solver for them.
Problems: digits (standardised) and the medium problem of ``bench_fit.py``
(50000 x 500, K=10; quick: 5000 x 100); the elastic-net rows run on digits (quick:
its first 400 rows), as saga's 150 fits on medium take hours. Two settings in one
run: "1 thread" (threadpoolctl limits BLAS and OpenMP to one thread for every
library, which also sets sklse's block threads to one) and "defaults" (no limits).
Fits are interleaved across estimators and settings, repeated (``--repeats``), and
the medians reported; ratios are to the LogisticRegressionCV of the same problem and
setting in this run. Each row also gives the chosen C (and l1_ratio) and the best
mean test score, so that a faster estimator that chose a worse point shows.

"point vs LR CV" judges a choice by the point, not by how far each estimator
converged there: where an estimator chooses another point than the reference, both
points get the mean test score of their exact optimum on the same folds
(``SoftmaxRegression(C, l1_ratio, tol=1e-8, max_iter=10000)`` per fold, shown in
the last column), and the one with the higher score is the better choice. Saga's
path at its default ``max_iter`` is far from its optimum at large C, and its
early-stopped fits score better than the point's model does
(``cv_enet_optimality.py``).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from bench_fit import (  # noqa: E402  (the same medium problem and header)
    dense_problem,
    machine,
    result_path,
)

from sklse import SoftmaxRegression, SoftmaxRegressionCV  # noqa: E402

CS = np.logspace(-4, 4, 10)
RATIOS = (0.25, 0.5, 1.0)
SETTINGS = {"1 thread": 1, "defaults": None}


def problems(quick):
    """Yield ``(name, X, y, kind)``; kind "l2" or "enet"."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    yield "digits", X, y, "l2"
    yield (
        "medium",
        *dense_problem(*((5000, 100) if quick else (50000, 500)), 10, 2),
        "l2",
    )
    n = 400 if quick else len(y)
    yield "digits" + (f"[:{n}]" if quick else ""), X[:n], y[:n], "enet"


def estimators(kind, folds):
    """Return ``{label: unfitted estimator}``; the first LogisticRegressionCV is the
    reference of the ratios."""
    common = {"Cs": CS, "cv": folds, "scoring": "neg_log_loss"}
    lr = {"use_legacy_attributes": False, **common}
    if kind == "enet":
        return {
            "LogisticRegressionCV(saga)": LogisticRegressionCV(
                solver="saga", l1_ratios=RATIOS, **lr
            ),
            "SoftmaxRegressionCV": SoftmaxRegressionCV(l1_ratios=RATIOS, **common),
        }
    return {
        "LogisticRegressionCV(lbfgs)": LogisticRegressionCV(l1_ratios=(0.0,), **lr),
        "SoftmaxRegressionCV": SoftmaxRegressionCV(**common),
        "GridSearchCV(SoftmaxRegression)": GridSearchCV(
            SoftmaxRegression(), {"C": CS}, cv=folds, scoring="neg_log_loss"
        ),
    }


def chosen(model):
    """Return the chosen ``(C, l1_ratio)`` and the best mean test score."""
    if isinstance(model, GridSearchCV):
        return model.best_params_["C"], 0.0, model.best_score_
    return model.C_, model.l1_ratio_, float(model.scores_.mean(axis=0).max())


def exact_score(X, y, folds, C, l1_ratio, cache):
    """Return the mean test score of the exact optima at ``(C, l1_ratio)``."""
    if (C, l1_ratio) not in cache:
        scores = []
        for train, test in folds:
            fit = SoftmaxRegression(C=C, l1_ratio=l1_ratio, tol=1e-8, max_iter=10000)
            fit.fit(X[train], y[train])
            scores.append(
                -log_loss(y[test], fit.predict_proba(X[test]), labels=fit.classes_)
            )
        cache[C, l1_ratio] = float(np.mean(scores))
    return cache[C, l1_ratio]


def timed(model, X, y, limit):
    """Fit under the thread ``limit``; return seconds."""
    with threadpool_limits(limits=limit), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # saga, large C
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start


def run_problem(name, X, y, kind, repeats, settings):
    """Return the table rows of one problem: every estimator in both settings."""
    folds = list(StratifiedKFold(5).split(X, y))
    times, points = {}, {}
    for _ in range(repeats):
        for setting, limit in settings.items():
            for label, model in estimators(kind, folds).items():
                times.setdefault((setting, label), []).append(timed(model, X, y, limit))
                points[setting, label] = chosen(model)
    rows, cache = [], {}
    for setting in settings:
        labels = [label for (where, label) in times if where == setting]
        reference = np.median(times[setting, labels[0]])
        point_reference = points[setting, labels[0]][:2]
        for label in labels:
            median = np.median(times[setting, label])
            C, l1_ratio, score = points[setting, label]
            verdict, exact = "same", ""
            if (C, l1_ratio) != point_reference:
                mine, theirs = (
                    exact_score(X, y, folds, *point, cache)
                    for point in ((C, l1_ratio), point_reference)
                )
                verdict = "better" if mine > theirs else "worse"
                exact = f"{mine:.5f} vs {theirs:.5f}"
            rows.append(
                f"| {name} {X.shape[0]}x{X.shape[1]} | {kind} | {setting} | {label} "
                f"| {median:.3g} | {median / reference:.2f} | {C:.3g} | {l1_ratio:g} "
                f"| {score:.5f} | {verdict} | {exact} |"
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--only", nargs="*", choices=("digits", "medium", "enet"), help="problems"
    )
    parser.add_argument(
        "--one-thread", action="store_true", help='only the "1 thread" setting'
    )
    args = parser.parse_args()
    settings = {"1 thread": 1} if args.one_thread else SETTINGS
    repeats = args.repeats or (3 if args.quick else 5)
    header = (
        "| problem | penalty | setting | estimator | median s | ratio to LR CV "
        "| chosen C | l1_ratio | best mean score | point vs LR CV "
        "| exact optima's mean scores, this point vs LR CV's |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for name, X, y, kind in problems(args.quick):
        if args.only and (name if kind == "l2" else kind) not in args.only:
            continue
        print(f"{name} {kind}: X {X.shape}, K = {len(np.unique(y))}", flush=True)
        rows += run_problem(name, X, y, kind, repeats, settings)
        print("\n".join(rows[-(len(settings) * 3) :]), flush=True)
    mode = "quick" if args.quick else "full"
    if args.only:
        mode += "-" + "-".join(args.only)
    if args.one_thread:
        mode += "-1-thread"
    report = (
        f"# bench_cv ({mode})\n\n{machine()}\n\nrepeats: {repeats}, interleaved; "
        f"10 Cs x 5 folds, neg_log_loss\n\n{header}\n" + "\n".join(rows) + "\n"
    )
    print("\n" + report)
    result_path(f"bench_cv_{mode}.md").write_text(report)


if __name__ == "__main__":
    main()
