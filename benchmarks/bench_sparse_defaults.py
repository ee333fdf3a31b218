"""Default fits on sparse X: sklse against LogisticRegression, time and gap to F*.

Run ``python benchmarks/bench_sparse_defaults.py`` (a few minutes). Sparse problems
of the kinds users fit (TF-IDF rows, raw term counts, binary indicators, a dominant
class), at C = 1 and at a weak penalty (C = 10 or 100, where the max-norm test on
the gradient, ``tol``, says least about the gap). Per problem, the wall time of the
default fit (median of ``--repeats`` interleaved runs), its iterations, whether it
warned, and its relative objective gap ``(F - F*) / F*``, for sklse's default,
sklse's newton-cg (its sparse default before L-BFGS ran on standardised variables
there) and LogisticRegression's lbfgs (its default) and newton-cg (its fastest
solver on sparse in ``bench_fit.py``), in two settings in one run: equal cores (one
BLAS and OpenMP thread for everyone) and each library's defaults. F* is the smallest
objective of sklse's trust-ncg and newton-cg at ``tol=1e-10``. Two classes are
fitted as in ``bench_unscaled.py`` (sklse at C / 2 is LogisticRegression at C).
Writes the table to ``benchmarks/results/bench_sparse_defaults-<machine>.md``.
"""

import argparse
import datetime

import numpy as np
import scipy.sparse as sp
from bench_fit import machine, result_path
from bench_unscaled import fit, interleaved, objective, symmetric
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression


def sparse_rows(n_samples, n_features, n_classes, density, kind, seed):
    """Return CSR X of one ``kind`` and labels drawn from a softmax model."""
    rng = np.random.default_rng(seed)
    X = sp.random_array(
        (n_samples, n_features),
        density=density,
        format="csr",
        rng=rng,
        data_sampler=lambda size: rng.poisson(3, size) + 1.0,
    )
    scale = 0.3
    if kind == "binary":
        X.data[:] = 1.0
    if kind.startswith("tf-idf"):  # unit-norm rows, as TfidfVectorizer's
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()).clip(1e-12)
        X, scale = sp.csr_matrix(sp.diags_array(1 / norms) @ X), 3.0
    coef = rng.standard_normal((n_classes, n_features)) * scale
    logits = np.asarray(X @ coef.T) + rng.gumbel(size=(n_samples, n_classes))
    if kind.endswith("imbalanced"):
        logits[:, 0] += 3.0
    return X, np.argmax(logits, axis=1)


PROBLEMS = [  # name, (n, d, K, density, kind), C
    ("tf-idf", (5000, 10000, 20, 1e-2, "tf-idf"), 1.0),
    ("tf-idf", (5000, 10000, 20, 1e-2, "tf-idf"), 100.0),
    ("tf-idf", (20000, 5000, 5, 1e-2, "tf-idf"), 100.0),
    ("tf-idf, imbalanced", (5000, 20000, 3, 2e-3, "tf-idf imbalanced"), 1.0),
    ("counts", (10000, 3000, 5, 1e-2, "counts"), 1.0),
    ("counts", (10000, 3000, 5, 1e-2, "counts"), 10.0),
    ("binary", (20000, 2000, 8, 5e-3, "binary"), 1.0),
    ("binary, 2 classes", (20000, 2000, 2, 5e-3, "binary"), 1.0),
]


def models(n_classes, C, tol=None):
    """Return ``{label: (estimator, C of the sklse-form objective)}``."""
    c = C / 2 if n_classes == 2 else C
    extra = {} if tol is None else {"tol": tol, "max_iter": 10_000}
    return {
        "sklse default": (SoftmaxRegression(C=c, **extra), c),
        "sklse newton-cg": (SoftmaxRegression(C=c, solver="newton-cg", **extra), c),
        "LR lbfgs": (LogisticRegression(C=C, **extra), c),
        "LR newton-cg": (LogisticRegression(C=C, solver="newton-cg", **extra), c),
    }


def run(X, y, C, repeats):
    """Return ``{label: (median seconds, n_iter, warned, gap)}`` for one problem."""
    n_classes = int(y.max()) + 1
    f_star = np.inf
    for solver in ("trust-ncg", "newton-cg"):
        c = C / 2 if n_classes == 2 else C
        model = SoftmaxRegression(C=c, solver=solver, tol=1e-10, max_iter=10_000)
        fit(model, X, y)
        f_star = min(f_star, objective(*symmetric(model), X, y, c))
    return interleaved(lambda: models(n_classes, C), X, y, f_star, repeats)


def table(setting, results):
    """Return the markdown rows of one setting."""
    labels = list(results[0][2])
    rows = [
        f"### {setting}",
        "",
        "| problem | n x d, K, density, C | "
        + " | ".join(f"{label}: s, iter, warned, gap" for label in labels)
        + " | sklse default / fastest LR |",
        "|---|---|" + "---|" * (len(labels) + 1),
    ]
    for name, shape, result in results:
        cells = [
            f"{t:.3f} s, {n}, {'yes' if w else 'no'}, {g:.1e}"
            for t, n, w, g in result.values()
        ]
        fastest = min(result["LR lbfgs"][0], result["LR newton-cg"][0])
        ratio = result["sklse default"][0] / fastest
        rows.append(f"| {name} | {shape} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    return rows + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lines = [f"# Default fits on sparse X ({datetime.date.today()})", "", machine(), ""]
    for setting, limits in (("equal cores (1 thread)", 1), ("defaults", None)):
        results = []
        with threadpool_limits(limits):
            for name, (n, d, k, density, kind), C in PROBLEMS:
                X, y = sparse_rows(n, d, k, density, kind, seed=0)
                shape = f"{n} x {d}, {k}, {density:g}, {C:g}"
                results.append((name, shape, run(X, y, C, args.repeats)))
                print(name, shape, results[-1][2], flush=True)
        lines += table(setting, results)
        print("\n".join(table(setting, results)), flush=True)
    result_path("bench_sparse_defaults.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
