"""Why SoftmaxRegressionCV and LogisticRegressionCV(saga) choose other points.

``bench_cv.py``'s elastic-net row: standardised digits (1797 x 64, K=10),
``Cs = np.logspace(-4, 4, 10)``, ``l1_ratios = (0.25, 0.5, 1.0)``,
``StratifiedKFold(5)``, ``neg_log_loss``. Both estimators fit every grid point on
every fold; this script compares their path points with the exact optimum of the
same problem, ``SoftmaxRegression(C, l1_ratio, tol=1e-8, max_iter=10000)`` fitted
from zero on the fold's training rows: by the objective written here with scipy::

    F = C * sum_i CE_i + (1 - r)/2 ||W||^2 + r ||W||_1

(the gap ``F - F*``), by the largest entry of the smallest subgradient of
``F / (C * n)`` (what sklse's ``tol`` bounds) and by the test scores.
LogisticRegressionCV(saga) runs with its default ``max_iter=100`` and with each
``--saga-max-iter``; then saga alone, from zero, on the first fold at its chosen
point with growing ``max_iter``.

Run ``python benchmarks/cv_enet_optimality.py`` (about 5 minutes at one thread, most
of it saga). It prints markdown tables and saves them to
``benchmarks/results/cv_enet_optimality-<machine>.md``. Not a timing benchmark.
"""

import argparse
import warnings

import numpy as np
import sklearn
from bench_fit import result_path
from scipy.special import logsumexp, softmax
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression, SoftmaxRegressionCV

CS = np.logspace(-4, 4, 10)
RATIOS = (0.25, 0.5, 1.0)
NEAR = range(3, 7)  # the Cs around both choices in the tables: 0.046 .. 21.5


def objective(X, y, coef, intercept, C, l1_ratio):
    """``F`` above, in float64."""
    Z = X @ coef.T + intercept
    data = np.sum(logsumexp(Z, axis=1) - Z[np.arange(len(y)), y])
    penalty = (1 - l1_ratio) / 2 * np.sum(coef**2) + l1_ratio * np.sum(np.abs(coef))
    return C * data + penalty


def subgradient(X, y, coef, intercept, C, l1_ratio):
    """Return max|smallest subgradient| of ``F / (C * n)`` (sklse's tol measure)."""
    residual = softmax(X @ coef.T + intercept, axis=1)
    residual[np.arange(len(y)), y] -= 1
    grad = C * residual.T @ X + (1 - l1_ratio) * coef
    at_zero = np.maximum(np.abs(grad) - l1_ratio, 0)
    sub = np.where(coef != 0, np.abs(grad + l1_ratio * np.sign(coef)), at_zero)
    return max(sub.max(), np.abs(C * residual.sum(axis=0)).max()) / (C * len(y))


def test_score(X, y, coef, intercept):
    """Return the mean log-likelihood of ``y`` (neg_log_loss)."""
    Z = X @ coef.T + intercept
    return -np.mean(logsumexp(Z, axis=1) - Z[np.arange(len(y)), y])


def exact_fits(X, y, folds):
    """Return ``F*`` and the test scores of the exact optima, (folds, ratios, Cs)."""
    values, scores = (np.empty((len(folds), len(RATIOS), len(CS))) for _ in "ab")
    for f, (train, test) in enumerate(folds):
        for m, r in enumerate(RATIOS):
            for j, C in enumerate(CS):
                fit = SoftmaxRegression(C=C, l1_ratio=r, tol=1e-8, max_iter=10000)
                fit.fit(X[train], y[train])
                coef, intercept = fit.coef_, fit.intercept_
                values[f, m, j] = objective(X[train], y[train], coef, intercept, C, r)
                scores[f, m, j] = test_score(X[test], y[test], coef, intercept)
    return values, scores


def path_points(model, X, y, folds, values):
    """Return the path's scores, gaps ``F - F*``, subgradients (folds, ratios, Cs)."""
    scores, gaps, subgradients = (np.empty(values.shape) for _ in "abc")
    for f, (train, _) in enumerate(folds):
        for m, r in enumerate(RATIOS):
            for j, C in enumerate(CS):
                point = model.coefs_paths_[f, m, j]
                coef, intercept = point[:, :-1], point[:, -1]
                F = objective(X[train], y[train], coef, intercept, C, r)
                gaps[f, m, j] = F - values[f, m, j]
                subgradients[f, m, j] = subgradient(
                    X[train], y[train], coef, intercept, C, r
                )
    scores[:] = model.scores_
    return scores, gaps, subgradients


def choice_rows(name, model, exact_mean):
    """Return the table row of one estimator's choice."""
    m, j = np.unravel_index(np.argmax(model.scores_.mean(axis=0).T), (10, 3))[::-1]
    return (
        f"| {name} | C={CS[j]:.3g}, l1_ratio={RATIOS[m]:g} "
        f"| {model.scores_.mean(axis=0)[m, j]:.5f} | {exact_mean[m, j]:.5f} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saga-max-iter", type=int, nargs="*", default=[1000])
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    folds = list(StratifiedKFold(5).split(X, y))
    common = {"Cs": CS, "cv": folds, "scoring": "neg_log_loss"}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # saga; reported below
        values, exact = exact_fits(X, y, folds)
        models = {"SoftmaxRegressionCV": SoftmaxRegressionCV(l1_ratios=RATIOS)}
        models["SoftmaxRegressionCV"].set_params(**common)
        for max_iter in [100, *args.saga_max_iter]:
            models[f"LogisticRegressionCV(saga, max_iter={max_iter})"] = (
                LogisticRegressionCV(
                    solver="saga",
                    l1_ratios=RATIOS,
                    max_iter=max_iter,
                    use_legacy_attributes=False,
                    **common,
                )
            )
        for model in models.values():
            model.fit(X, y)
        exact_mean = exact.mean(axis=0)
        m, j = np.unravel_index(np.argmax(exact_mean.T), (10, 3))[::-1]
        lines = [
            f"sklearn {sklearn.__version__}, numpy {np.__version__}; exact optimum: "
            "SoftmaxRegression(tol=1e-8, max_iter=10000) from zero on each fold. Best "
            f"point of the exact optima: C={CS[j]:.3g}, l1_ratio={RATIOS[m]:g}, mean "
            f"score {exact_mean[m, j]:.5f}.",
            "",
            "| estimator | chosen point | its mean path score | exact optimum's "
            "mean score there |",
            "|---|---|---|---|",
        ]
        lines += [choice_rows(name, models[name], exact_mean) for name in models]
        lines += [
            "",
            "Per point, means over the 5 folds: test score, gap F - F* and the "
            "largest max|subgradient of F/(C n)| over the folds (sklse's tol: 1e-4).",
            "",
            "| C | l1_ratio | exact: F*, score | "
            + " | ".join(f"{name} score, gap, max subgrad" for name in models)
            + " |",
            "|---|---|---|" + "---|" * len(models),
        ]
        points = {
            name: path_points(model, X, y, folds, values)
            for name, model in models.items()
        }
        for j in NEAR:
            for m, r in enumerate(RATIOS):
                cells = [
                    f"{score[:, m, j].mean():.5f}, {gap[:, m, j].mean():.3g}, "
                    f"{sub[:, m, j].max():.1e}"
                    for score, gap, sub in points.values()
                ]
                lines.append(
                    f"| {CS[j]:.3g} | {r:g} | {values[:, m, j].mean():.4g}, "
                    f"{exact_mean[m, j]:.5f} | " + " | ".join(cells) + " |"
                )
        lines += saga_alone(X, y, folds[0], values[0], exact[0])
    report = "# cv_enet_optimality\n\n" + "\n".join(lines) + "\n"
    print(report)
    result_path("cv_enet_optimality.md").write_text(report)


def saga_alone(X, y, fold, values, scores):
    """Return the table of saga from zero at (C=2.78, l1_ratio=0.5) on one fold.

    ``values`` and ``scores`` are the fold's ``F*`` and exact test scores.
    """
    (train, test), j, m = fold, 5, 1
    C, r = CS[j], RATIOS[m]
    lines = [
        "",
        f"LogisticRegression(solver='saga', C={C:.3g}, l1_ratio={r:g}, tol=1e-12) "
        f"from zero on fold 0 (F* = {values[m, j]:.4f}, the exact optimum's test "
        f"score {scores[m, j]:.5f}):",
        "",
        "| max_iter | F - F* | test score |",
        "|---|---|---|",
    ]
    for max_iter in (100, 300, 1000, 3000, 10000):
        fit = LogisticRegression(solver="saga", C=C, l1_ratio=r, tol=1e-12)
        fit.set_params(max_iter=max_iter).fit(X[train], y[train])
        gap = objective(X[train], y[train], fit.coef_, fit.intercept_, C, r)
        score = test_score(X[test], y[test], fit.coef_, fit.intercept_)
        lines.append(f"| {max_iter} | {gap - values[m, j]:.4g} | {score:.5f} |")
    return lines


if __name__ == "__main__":
    main()
