"""Time to a given objective gap: SoftmaxRegression against LogisticRegression.

Run ``python benchmarks/bench_fit.py --quick`` (about two minutes on a quiet 2-core
machine) or without ``--quick`` for the full sizes (about 42 minutes). The L1 rows
run only when named: ``--only sparse-enet sparse-l1 --repeats 1 --no-defaults
--budget 60`` took an hour at full size (``--only`` runs write files of their own).
It prints a markdown table, saves it under ``benchmarks/results/`` with the machine
and date, in a file named by mode and machine (:func:`result_path`, as every script
here names its files), and a convergence plot (relative gap against time, one panel
per problem) as PNG when matplotlib is installed (``pip install -e ".[bench]"``).

Method. Every problem is generated from fixed seeds (standardised dense features, labels
drawn from a softmax model so that the optimum is finite); C = 1. The L1
(``l1_ratio=1``) and elastic-net (``l1_ratio=0.5``) rows reuse the medium and sparse
data with a C small enough for a sparse optimum (C * n_samples = 1000 on medium, C = 1
on sparse) and compare sklse with LogisticRegression's saga, the one solver it has for
them. The reference optimum F* is the smallest objective seen, starting from sklse's
trust-ncg at ``tol=1e-12`` (lbfgs at ``tol=1e-10`` with an L1 term). Each solver is
fitted from scratch with ``max_iter`` on a geometric grid and ``tol=1e-14``, so that
only ``max_iter`` stops it (sklse's default, whose "auto" path depends on max_iter, on a
grid of ``tol`` from 1e-1 to 1e-13 instead); the wall time of the fit that first ends
with ``(F - F*) / F* <= eps`` is its time to ``eps``. One function, :func:`objective`,
in float64, scores every fitted model. The sweeps are repeated (``--repeats``, 5 at full
size: single fits on this shared 2-core VM vary by 20 %, three repeats left two
identical sklse configurations 6 % apart), interleaved across solvers, and medians are
reported. Every sweep runs in two settings, one after the other in the same run:
"equal cores", one thread for every library (threadpoolctl's limit of 1 on BLAS and
OpenMP; sklse's block threads follow the OpenMP limit, as scikit-learn's OpenMP code
does), and "defaults", each estimator as a user runs it on this machine (no limit;
sklse limits BLAS to one thread inside ``fit`` and runs its block threads where they
pay). The fits at default ``tol`` and ``max_iter`` run in the defaults setting.

Memory row: a problem whose (K, n) arrays dominate X (2 000 000 x 50, K = 100,
float32; 200 000 x 50 with ``--quick``), fitted with default settings but
``max_iter=3`` (an L-BFGS fit's peak memory is reached in its first evaluations), by
sklse and by LogisticRegression (lbfgs), each measured the same two ways: the peak of
tracemalloc (numpy's arrays, sklearn's included) and the peak resident set
(``VmHWM`` after resetting it through ``/proc/self/clear_refs``, Linux) above the
resident set before the fit. It runs in a full run or alone (``--only memory``).

Columns: time to a 1e-4, 1e-6, 1e-9 gap (s; ``-`` = not reached within the sweep or the
time budget), ratio of the 1e-6 time to the fastest LogisticRegression solver's, the
gap of a fit with the estimator's default ``tol`` and ``max_iter`` and its iterations,
and the peak memory that fit allocates (tracemalloc) in units of ``n * K`` values of
X's dtype. A second table gives the cost of one loss+gradient evaluation against the
floor of the two matrix products it cannot avoid (``X @ W.T`` and ``G.T @ X`` into
preallocated outputs, each layout tried, the faster kept), for sklse and for
scikit-learn's ``LinearModelLoss``, and against that floor plus one ``np.exp`` over
the (n, K) logits, which no softmax loss avoids either.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from scipy.special import logsumexp
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklse import SoftmaxRegression
from sklse._loss import SoftmaxLoss
from sklse._machine import cpu_caches

EPSILONS = (1e-4, 1e-6, 1e-9)
MAX_ITERS = (1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512)
# "sklse default" adapts its path to max_iter ("auto" turns to Newton steps where
# L-BFGS cannot meet tol within it), so it is swept over tol, as a user tightens it,
# with max_iter out of the way; the others over max_iter at tol=1e-14 (their paths
# do not depend on max_iter). The i-th tol stands in for the i-th max_iter.
TOLS = dict(zip(MAX_ITERS, np.geomspace(1e-1, 1e-13, len(MAX_ITERS)), strict=True))
RESULTS = Path(__file__).parent / "results"
NAMES = ("digits", "tall", "medium", "medium-f32", "many-classes", "sparse")
NAMES += tuple(
    f"{data}-{kind}" for data in ("medium", "sparse") for kind in ("enet", "l1")
)


def dense_problem(n_samples, n_features, n_classes, seed, dtype=np.float64):
    """Return standardised Gaussian X and labels drawn from a softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.standard_normal((n_classes, n_features)) / np.sqrt(n_features)
    logits = 2.0 * X @ coef.T + rng.gumbel(size=(n_samples, n_classes))
    X = StandardScaler().fit_transform(X).astype(dtype)
    return X, np.argmax(logits, axis=1)


def sparse_problem(n_samples, n_features, n_classes, density, seed):
    """Return TF-IDF-like CSR rows (non-negative, unit norm) and softmax labels."""
    rng = np.random.default_rng(seed)
    X = sp.random_array(
        (n_samples, n_features),
        density=density,
        format="csr",
        rng=rng,
        data_sampler=lambda size: rng.exponential(size=size),
    )
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()).clip(1e-12)
    X = sp.csr_matrix(sp.diags_array(1 / norms) @ X)
    coef = rng.standard_normal((n_classes, n_features)) * 3
    logits = np.asarray(X @ coef.T) + rng.gumbel(size=(n_samples, n_classes))
    return X, np.argmax(logits, axis=1)


def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def problems(quick):
    """Yield ``(name, X, y, penalty)`` for every problem at full or quick size.

    ``penalty`` holds the ``C`` and ``l1_ratio`` of every fit.
    """
    s = 10 if quick else 1
    l2 = {"C": 1.0, "l1_ratio": 0.0}
    yield "digits", *digits(), l2
    yield "tall", *dense_problem(200_000 // s, 20, 5, seed=1), l2
    medium = dense_problem(50_000 // s, 500, 10, seed=2)
    yield "medium", *medium, l2
    f32 = dense_problem(50_000 // s, 500, 10, seed=2, dtype=np.float32)
    yield "medium-f32", *f32, l2
    yield "many-classes", *dense_problem(50_000 // s, 100, 100, seed=3), l2
    sparse = sparse_problem(50_000 // s, 100_000 // s, 20, 1e-3 * s, seed=4)
    yield "sparse", *sparse, l2
    # The L1 rows run only when named with --only (main() skips them otherwise):
    # they take hours at full size; at the quick size only the medium ones exist.
    for kind, l1_ratio in (("enet", 0.5), ("l1", 1.0)):
        C = 1000 / len(medium[1])
        yield f"medium-{kind}", *medium, {"C": C, "l1_ratio": l1_ratio}
        if not quick:
            # C = 1: at C = 10 one saga epoch takes 315 s here (its lazy L1 updates
            # unroll every skipped step of a feature that changes sign), 8-37 s at 1.
            yield f"sparse-{kind}", *sparse, {"C": 1.0, "l1_ratio": l1_ratio}


def estimators(max_iter, tol, n_dof, penalty):
    """Return ``{label: unfitted estimator}`` for one point of the sweep."""
    if penalty["l1_ratio"] > 0:  # saga is LogisticRegression's only solver for it
        return {
            "LR saga": LogisticRegression(
                solver="saga", max_iter=max_iter, tol=tol, **penalty
            ),
            "sklse default": SoftmaxRegression(max_iter=max_iter, tol=tol, **penalty),
        }
    lr = {"max_iter": max_iter, "tol": tol, "C": penalty["C"]}
    models = {
        f"LR {solver}": LogisticRegression(solver=solver, **lr)
        for solver in ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")
        # newton-cholesky builds the dense (n_dof, n_dof) Hessian at n * n_dof^2
        # flops per iteration: minutes per iteration beyond ~2000 dof.
        if not (solver == "newton-cholesky" and n_dof > 2000)
    }
    models["sklse default"] = SoftmaxRegression(max_iter=max_iter, tol=tol)
    for solver in ("lbfgs", "newton-cg", "trust-ncg"):
        models[f"sklse {solver}"] = SoftmaxRegression(
            solver=solver, max_iter=max_iter, tol=tol
        )
    return models


def n_dof_of(X, y):
    return (X.shape[1] + 1) * (int(y.max()) + 1)


def objective(model, X64, y_index, penalty):
    """Return ``F = C sum_i CE_i + (1 - r)/2 ||W||^2 + r ||W||_1`` in float64."""
    C, r = penalty["C"], penalty["l1_ratio"]
    W = model.coef_.astype(np.float64)
    logits = np.asarray(X64 @ W.T) + model.intercept_.astype(np.float64)
    ce = logsumexp(logits, axis=1) - logits[np.arange(len(y_index)), y_index]
    return C * ce.sum() + (1 - r) / 2 * np.sum(W * W) + r * np.sum(np.abs(W))


def timed_fit(model, X, y):
    """Fit ``model``; return the wall time in seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start


def sweep(X, y, X64, penalty, args):
    """Return ``{label: [(max_iter, median seconds, F, n_iter), ...]}``."""
    n_dof = n_dof_of(X, y)
    labels = list(estimators(1, 1e-14, n_dof, penalty))
    times = {label: {} for label in labels}
    values = {label: {} for label in labels}
    spent = dict.fromkeys(labels, 0.0)
    # L1 fits take many more iterations: a larger budget and a coarser grid (the
    # sweep's total time is then at most about twice that of its longest fit).
    l1 = penalty["l1_ratio"] > 0
    budget = args.budget * (10 if l1 else 1)
    grid = [m for m in MAX_ITERS if m & (m - 1) == 0] if l1 else MAX_ITERS
    for repeat in range(args.repeats):
        order = labels[repeat % len(labels) :] + labels[: repeat % len(labels)]
        for max_iter in grid:
            for label in order:
                if spent[label] > budget or values[label].get("done"):
                    continue
                model = estimators(max_iter, 1e-14, n_dof, penalty)[label]
                swept_on_tol = label == "sklse default" and not l1
                if swept_on_tol:
                    model.set_params(tol=TOLS[max_iter], max_iter=100_000)
                seconds = timed_fit(model, X, y)
                spent[label] += seconds
                times[label].setdefault(max_iter, []).append(seconds)
                n_iter = int(np.max(model.n_iter_))
                values[label][max_iter] = (objective(model, X64, y, penalty), n_iter)
                # stopped by itself: no more to add (a sweep on tol goes on)
                if n_iter < model.max_iter and not swept_on_tol:
                    values[label]["done"] = True
        for label in labels:
            values[label].pop("done", None)
    return {
        label: [
            (
                max_iter,
                float(np.median(times[label][max_iter])),
                *values[label][max_iter],
            )
            for max_iter in sorted(values[label])
        ]
        for label in labels
    }


def default_fit(model, X, y, X64, penalty):
    """Fit with default tol/max_iter; return (F, n_iter, peak bytes allocated)."""
    tracemalloc.start()
    timed_fit(model, X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return objective(model, X64, y, penalty), int(np.max(model.n_iter_)), peak


def per_evaluation(X, y, repeats=15):
    """Return median seconds of (floor, exp, sklse, sklearn) for one loss+gradient."""
    n_classes = int(y.max()) + 1
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((n_classes, X.shape[1])) * 0.01).astype(X.dtype)
    # W.T as a contiguous copy: OpenBLAS is up to 2.5x slower with the view (tall)
    W_t = np.ascontiguousarray(W.T)
    Z = np.empty((X.shape[0], n_classes), dtype=X.dtype)
    G = np.empty((n_classes, X.shape[1]), dtype=X.dtype)
    ours = SoftmaxLoss(X, y.astype(np.intp), n_classes, C=1.0)
    params = np.concatenate([W.ravel(), np.zeros(n_classes)]).astype(np.float64)
    theirs = LinearModelLoss(HalfMultinomialLoss(n_classes=n_classes), True)
    coef = np.zeros((n_classes, X.shape[1] + 1), dtype=X.dtype, order="F")
    coef[:, :-1] = W
    coef = coef.ravel(order="F")
    y_float = y.astype(X.dtype)

    ZT, G_out = np.empty((n_classes, X.shape[0]), dtype=X.dtype), np.empty_like(G)
    E = -rng.exponential(size=ZT.shape).astype(X.dtype)  # logits minus their max

    def floor():
        """The two products, each in its faster orientation (measured per problem)."""
        if sp.issparse(X):
            Z[:] = X @ W_t
            G[:] = (X.T @ Z).T
        else:
            np.matmul(X, W_t, out=Z)
            np.matmul(Z.T, X, out=G)

    def floor_class_major():
        np.matmul(W, X.T, out=ZT)
        np.matmul(ZT, X, out=G_out)

    runs = {
        "floor": floor,
        "floor_class_major": floor if sp.issparse(X) else floor_class_major,
        # One exp per logit: what any softmax loss pays on top of the products.
        "exp": lambda: np.exp(E, out=ZT),
        "sklse": lambda: ours.loss_gradient(params),
        "sklearn": lambda: theirs.loss_gradient(coef, X, y_float, None, 1e-3),
    }
    samples = {label: [] for label in runs}
    for repeat in range(repeats):
        for label in (
            list(runs)[repeat % len(runs) :] + list(runs)[: repeat % len(runs)]
        ):
            start = time.perf_counter()
            runs[label]()
            samples[label].append(time.perf_counter() - start)
    medians = {label: float(np.median(s)) for label, s in samples.items()}
    medians["floor"] = min(medians["floor"], medians.pop("floor_class_major"))
    return medians


def time_to(trace, f_star, eps):
    """Smallest median time of a fit in ``trace`` that reached a gap ``<= eps``."""
    hits = [t for _, t, f, _ in trace if (f - f_star) / f_star <= eps]
    return min(hits) if hits else None


def fmt(seconds):
    return "-" if seconds is None else f"{seconds:.3g}"


SETTINGS = {"equal cores": 1, "defaults": None}  # threadpoolctl limit of every API


def reference_optimum(X, y, penalty, args):
    """Return the fitted model whose objective is the starting guess of F*."""
    if penalty["l1_ratio"] > 0:
        # Slow tails: F* is the best objective seen anywhere.
        max_iter = args.reference_iter or (300 if args.quick else 1000)
        reference = SoftmaxRegression(tol=1e-10, max_iter=max_iter, **penalty)
    else:
        reference = SoftmaxRegression(solver="trust-ncg", tol=1e-12, max_iter=1000)
    timed_fit(reference, X, y)
    nonzero = np.count_nonzero(reference.coef_) / reference.coef_.size
    print(f"  {penalty}: {nonzero:.1%} non-zero coefficients at F*", flush=True)
    return reference


def run_problem(name, X, y, penalty, args):
    """Benchmark one problem in both settings; return (rows, per-eval row, traces).

    ``traces`` maps each setting to ``(traces, F*)``; F* is shared by both.
    """
    X64 = X.astype(np.float64)
    reference = reference_optimum(X, y, penalty, args)
    traces, defaults = {}, {}
    for setting, limit in SETTINGS.items():
        with threadpool_limits(limits=limit):
            traces[setting] = sweep(X, y, X64, penalty, args)
            if setting == "defaults" and not args.no_defaults:
                defaults = {
                    label: default_fit(model, X, y, X64, penalty)
                    for label, model in estimators(
                        100, 1e-4, n_dof_of(X, y), penalty
                    ).items()
                    # sklse lbfgs: the same as sklse default unless it changes
                    if label != "sklse lbfgs"
                }
            if setting == "equal cores" and penalty["l1_ratio"] == 0:
                evals = per_evaluation(X, y, repeats=5 if args.quick else 15)
    f_star = min(
        [objective(reference, X64, y, penalty)]
        + [f for tr in traces.values() for trace in tr.values() for *_, f, _ in trace]
    )
    rows = [
        row
        for setting, tr in traces.items()
        for row in table_rows(name, setting, tr, f_star, defaults, X, y)
    ]
    traces = {setting: (tr, f_star) for setting, tr in traces.items()}
    if penalty["l1_ratio"] > 0:  # the same evaluations as the L2 row of this data
        return rows, None, traces
    per_eval_row = (
        f"| {name} | {1e3 * evals['floor']:.2f} | {1e3 * evals['exp']:.2f} | "
        f"{1e3 * evals['sklse']:.2f} | {evals['sklse'] / evals['floor']:.2f} | "
        f"{evals['sklse'] / (evals['floor'] + evals['exp']):.2f} | "
        f"{1e3 * evals['sklearn']:.2f} | {evals['sklearn'] / evals['floor']:.2f} |"
    )
    return rows, per_eval_row, traces


def table_rows(name, setting, traces, f_star, defaults, X, y):
    """Return the markdown rows of one problem in one setting."""
    n_units = X.shape[0] * (int(y.max()) + 1) * X.dtype.itemsize
    reached = {label: time_to(tr, f_star, 1e-6) for label, tr in traces.items()}
    lr_best = min(
        (t for lb, t in reached.items() if lb.startswith("LR") and t), default=None
    )
    rows = []
    for label, trace in traces.items():
        cells = [fmt(time_to(trace, f_star, eps)) for eps in EPSILONS]
        ratio = f"{reached[label] / lr_best:.2f}" if reached[label] and lr_best else "-"
        gap = n_iter = memory = "="
        if label in defaults and setting == "defaults":
            f_default, n_iter, peak = defaults[label]
            gap = f"{(f_default - f_star) / f_star:.1e}"
            memory = f"{peak / n_units:.2f}"
        rows.append(
            f"| {name} | {setting} | {label} | "
            + " | ".join(cells)
            + f" | {ratio} | {gap} | {n_iter} | {memory} |"
        )
    return rows


def memory_problem(n_samples, n_features=50, n_classes=100, seed=5):
    """Return float32 Gaussian X and softmax labels, made without (n, K) arrays."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    coef = rng.standard_normal((n_classes, n_features)) / np.sqrt(n_features)
    coef = coef.astype(np.float32)
    y = np.empty(n_samples, dtype=np.intp)
    for start in range(0, n_samples, 100_000):
        rows = slice(start, start + 100_000)
        logits = 2 * X[rows] @ coef.T
        logits += rng.gumbel(size=logits.shape).astype(np.float32)
        y[rows] = np.argmax(logits, axis=1)
    return X, y


def _status_bytes(field):
    """Return a ``/proc/self/status`` field (e.g. VmRSS) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def rss_peak_extra(fit):
    """Return the peak resident set during ``fit()`` above the one before, or None."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        before = _status_bytes("VmRSS")
        fit()
        return _status_bytes("VmHWM") - before
    except OSError:  # not Linux, or not allowed
        return None


def traced_peak(fit):
    """Return tracemalloc's peak of the memory allocated during ``fit()``."""
    tracemalloc.start()
    try:
        fit()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def memory_rows(quick):
    """Return the markdown rows of the memory problem: peak extra memory per fit."""
    X, y = memory_problem(200_000 if quick else 2_000_000)
    n_by_k = X.shape[0] * 100 * X.dtype.itemsize
    models = {
        "LR lbfgs": lambda: LogisticRegression(max_iter=3),
        "sklse default": lambda: SoftmaxRegression(max_iter=3),
    }
    peaks = {}
    for label, model in models.items():
        traced = traced_peak(lambda model=model: timed_fit(model(), X, y))
        peaks[label] = (
            traced,
            rss_peak_extra(lambda model=model: timed_fit(model(), X, y)),
        )
    rows = []
    for label, (traced, rss) in peaks.items():
        ratios = [
            f"{mine / theirs:.3f}" if mine is not None and theirs else "-"
            for mine, theirs in zip((traced, rss), peaks["LR lbfgs"], strict=True)
        ]
        rss_cells = (
            "- | -" if rss is None else f"{rss / 2**20:.0f} | {rss / n_by_k:.2f}"
        )
        rows.append(
            f"| {X.shape[0]} x {X.shape[1]}, K=100, float32 | {label} | "
            f"{traced / 2**20:.0f} | {traced / n_by_k:.2f} | {rss_cells} | "
            + " | ".join(ratios)
            + " |"
        )
    return rows


def plot(all_traces, path):
    """Save relative gap against time, one panel per problem, if matplotlib exists."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install -e '.[bench]')")
        return
    n_rows = -(-len(all_traces) // 6)
    fig, axes = plt.subplots(n_rows, 6, figsize=(30, 4.25 * n_rows), squeeze=False)
    labels = sorted({label for traces, _ in all_traces.values() for label in traces})
    colors = dict(zip(labels, plt.get_cmap("tab10").colors, strict=False))
    for ax, (name, (traces, f_star)) in zip(
        axes.ravel(), all_traces.items(), strict=False
    ):
        for label, trace in traces.items():
            t = [point[1] for point in trace]
            gap = [max((point[2] - f_star) / f_star, 1e-16) for point in trace]
            style = "-o" if label.startswith("sklse") else "--s"
            ax.loglog(t, gap, style, color=colors[label], label=label, markersize=3)
        ax.set_title(name)
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel("(F - F*) / F*")
        ax.axhline(1e-6, color="gray", lw=0.5)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot saved to {path}")


def cpu_model():
    """Return the CPU's model name as the OS gives it, else platform's guess."""
    try:
        if sys.platform == "darwin":
            name = ["sysctl", "-n", "machdep.cpu.brand_string"]
            return subprocess.run(name, capture_output=True, text=True).stdout.strip()
        if sys.platform == "win32":
            import winreg

            key = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key) as opened:
                return winreg.QueryValueEx(opened, "ProcessorNameString")[0].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_sizes():
    """Return the caches that sklse's blocks are sized from (``sklse._machine``), as
    'L1d 32K, L1i 32K, L2 1024K (shared by 2)'."""
    caches = []
    for cache in cpu_caches():
        suffix = {"Data": "d", "Instruction": "i"}.get(cache.kind, "")
        size = f"{cache.size // 1024}K" if cache.size % 1024 == 0 else f"{cache.size}"
        private = cache.level > 2 or cache.shared == 1  # an L3 is always shared
        shared = "" if private else f" (shared by {cache.shared})"
        caches.append(f"L{cache.level}{suffix} {size}{shared}")
    return ", ".join(caches) or "caches unknown"


def machine_tag():
    """Return this machine's CPU model and L2 cache as a file-name tag, such as
    ``amd-epyc-l2-1024k``: two VMs of one model name can differ in cache."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"\((r|tm)\)", "", cpu_model().lower()))
    l2 = re.search(r"L2 (\w+)", cache_sizes())
    return "-".join(words[:6] + ([f"l2-{l2.group(1).lower()}"] if l2 else []))


def result_path(name):
    """Return ``benchmarks/results/<stem>-<machine_tag()><ext>`` for file ``name``.

    A rerun on another machine writes beside the committed tables, never over
    them (nor over the notes written into them by hand).
    """
    stem, _, ext = name.partition(".")
    RESULTS.mkdir(exist_ok=True)
    return RESULTS / f"{stem}-{machine_tag()}.{ext}"


def machine():
    return (
        f"{platform.node()}: {cpu_model()}, {os.cpu_count()} cores, "
        f"{cache_sizes()}; Python {platform.python_version()}, numpy "
        f"{np.__version__}, scipy {scipy.__version__}, scikit-learn "
        f"{sklearn.__version__}; {datetime.date.today()}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="problems 10x smaller")
    parser.add_argument("--repeats", type=int, default=None, help="sweeps per solver")
    parser.add_argument("--budget", type=float, default=None, help="s per sweep")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=(*NAMES, "memory"),
        help="problems to run ('memory': the memory row)",
    )
    parser.add_argument(
        "--no-defaults",
        action="store_true",
        help="skip the default-settings fits (saga's takes > 20 min on sparse-l1)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory row")
    parser.add_argument("--reference-iter", type=int, default=None)
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 5)
    args.budget = args.budget or (0.5 if args.quick else 20.0)
    header = (
        "| problem | setting | solver | t 1e-4 | t 1e-6 | t 1e-9 | 1e-6 vs best LR "
        "| default gap | default n_iter | default peak mem (n*K) |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    eval_header = (
        "| problem | floor ms | exp ms | sklse ms | sklse / floor "
        "| sklse / (floor + exp) | sklearn ms | sklearn / floor |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    memory_header = (
        "| problem | fit | tracemalloc peak MiB | (n*K) | RSS peak extra MiB | (n*K) "
        "| tracemalloc vs LR | RSS vs LR |\n|---|---|---|---|---|---|---|---|"
    )
    rows, eval_rows, all_traces = [], [], {}
    for name, X, y, penalty in problems(args.quick):
        if args.only and name not in args.only:
            continue
        if penalty["l1_ratio"] > 0 and not args.only:  # hours at full size
            continue
        print(f"{name}: X {X.shape} {X.dtype}, K = {y.max() + 1}", flush=True)
        problem_rows, eval_row, traces = run_problem(name, X, y, penalty, args)
        print("\n".join(problem_rows), flush=True)
        rows += problem_rows
        eval_rows += [eval_row] if eval_row else []
        all_traces.update(
            {f"{name} ({setting})": trace for setting, trace in traces.items()}
        )
    mode = "quick" if args.quick else "full"
    mode += "".join(f"-{name}" for name in args.only or ())  # a part: its own files
    report = (
        f"# bench_fit ({mode})\n\n{machine()}\n\nSettings: equal cores (one thread "
        "for BLAS, OpenMP and sklse's block threads) and defaults (no limit); "
        f"repeats: {args.repeats}; time budget per sweep: {args.budget} s (10 times "
        "that for L1 rows)\n\n"
    )
    if rows:  # none when only the memory row ran
        report += f"{header}\n" + "\n".join(rows) + "\n"
    if eval_rows:  # none when only L1 rows ran
        report += (
            f"\nOne loss+gradient evaluation, one thread (median of "
            f"{5 if args.quick else 15}):\n\n{eval_header}\n"
            + "\n".join(eval_rows)
            + "\n"
        )
    if not args.no_memory and (not args.only or "memory" in args.only):
        print("memory row", flush=True)
        report += (
            "\nPeak extra memory of a default fit (max_iter=3), default threads, in "
            "MiB and in n*K values of float32:\n\n"
            f"{memory_header}\n" + "\n".join(memory_rows(args.quick)) + "\n"
        )
    print("\n" + report)
    result_path(f"bench_fit_{mode}.md").write_text(report)
    if all_traces:
        result_path(f"bench_fit_{mode}.json").write_text(json.dumps(all_traces))
        plot(all_traces, result_path(f"bench_fit_{mode}.png"))


if __name__ == "__main__":
    main()
