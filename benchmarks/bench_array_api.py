"""Array API fits: SoftmaxRegression against LogisticRegression on torch, CPU and CUDA.

Run ``python benchmarks/bench_array_api.py --quick`` (problems 10x smaller, under two
minutes) or without ``--quick`` for the issue's sizes. Needs torch; CUDA rows run when
``torch.cuda.is_available()``, otherwise the script says that no device was found.

Method, as ``bench_fit.py`` measures it (its problems, its float64 objective and its
``max_iter`` grid): each estimator is fitted from scratch with ``tol=1e-14`` and
``max_iter`` on the grid, so that only ``max_iter`` stops it; the time to a relative
gap ``(F - F*) / F* <= 1e-6`` is the median wall time of the first fit that reaches
it. F* is the smallest objective of any fit, starting from sklse's trust-ncg at
``tol=1e-12``. Backends: ``numpy`` (no dispatch, the numpy path of each estimator,
for reference) and ``torch-cpu`` / ``torch-cuda`` (``array_api_dispatch=True``, X and
y as torch tensors on that device). Both estimators use their lbfgs (the only solver
LogisticRegression has under dispatch); everyone runs with one CPU thread (BLAS
through threadpoolctl, torch through ``torch.set_num_threads``). The transfers of an
sklse evaluation are counted on a fit: copies host -> device and device -> host per
``loss_gradient`` call, and the values they carry.

``--evaluations`` times single evaluations instead (ms, medians of interleaved
repeats at random points): sklse's ``loss_gradient`` and its ``hessp`` at the point
just evaluated (as newton-cg and trust-ncg call it), the ``loss_gradient`` of
scikit-learn's ``LinearModelLoss`` with ``HalfMultinomialLossArrayAPI`` (the
function LogisticRegression's lbfgs minimises under dispatch), and a floor: the two
products ``X @ W.T`` and ``G.T @ X`` and one ``exp`` over the (n_samples,
n_classes) logits, whole-array, and the same class-major (``W @ X.T``, ``G @ X``, the
layout of sklse's blocks). Blocks that stay in cache can beat either.
"""

import os

# scikit-learn's array API dispatch needs scipy's, switched on before scipy loads.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn._loss.loss import HalfMultinomialLossArrayAPI  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.linear_model._linear_loss import LinearModelLoss  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from bench_fit import (  # noqa: E402
    MAX_ITERS,
    cache_sizes,
    cpu_model,
    dense_problem,
    objective,
    result_path,
)

from sklse import SoftmaxRegression  # noqa: E402
from sklse._array_api import ArrayAPISoftmaxLoss  # noqa: E402

EPS = 1e-6
L2 = {"C": 1.0, "l1_ratio": 0.0}


def problems(quick):
    """Yield ``(name, X, y)``: bench_fit's medium (float64, float32), many classes."""
    s = 10 if quick else 1
    yield "medium", *dense_problem(50_000 // s, 500, 10, seed=2)
    yield "medium-f32", *dense_problem(50_000 // s, 500, 10, seed=2, dtype=np.float32)
    yield "many-classes", *dense_problem(50_000 // s, 100, 100, seed=3)


def backends(torch):
    """Return ``{name: device or None}``: numpy, torch CPU, and CUDA if present."""
    found = {"numpy": None, "torch-cpu": "cpu"}
    if torch.cuda.is_available():
        found["torch-cuda"] = "cuda"
    return found


def estimators(max_iter):
    return {
        "LR lbfgs": LogisticRegression(max_iter=max_iter, tol=1e-14),
        "sklse lbfgs": SoftmaxRegression(max_iter=max_iter, tol=1e-14),
    }


def timed_fit(model, X, y, device, torch):
    """Fit on ``device`` (None: numpy, no dispatch); return seconds and the model."""
    with (
        warnings.catch_warnings(),
        sklearn.config_context(array_api_dispatch=device is not None),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, model


def host_model(model):
    """Return ``model`` with numpy ``coef_``, ``intercept_`` (for :func:`objective`)."""
    for name in ("coef_", "intercept_"):
        value = getattr(model, name)
        if not isinstance(value, np.ndarray):
            setattr(model, name, value.cpu().numpy())
    return model


def sweep(X, y, X64, device, torch, args, f_ref):
    """Return ``{label: [(median seconds, F), ...]}`` over the ``max_iter`` grid.

    The estimators take turns at every point and repeat (interleaved, so that a
    busy spell of the shared machine falls on both); each stops at its budget, once
    it stops by itself before ``max_iter``, or once within a tenth of the gap of
    the reference ``f_ref``: later points only take longer (past L-BFGS's stall,
    sklse's Newton-CG steps at ``tol=1e-14`` can take minutes a fit).
    """
    traces = {label: [] for label in estimators(1)}
    spent = dict.fromkeys(traces, 0.0)
    live = list(traces)
    for max_iter in MAX_ITERS:
        live = [label for label in live if spent[label] <= args.budget]
        if not live:
            break
        seconds = {label: [] for label in live}
        models = {}
        for _ in range(args.repeats):
            for label in live:
                model = estimators(max_iter)[label]
                elapsed, models[label] = timed_fit(model, X, y, device, torch)
                seconds[label].append(elapsed)
        for label in list(live):
            spent[label] += sum(seconds[label])
            value = objective(host_model(models[label]), X64, y_host(y), L2)
            traces[label].append((statistics.median(seconds[label]), value))
            stopped = int(np.max(np.asarray(host_n_iter(models[label])))) < max_iter
            if stopped or (value - f_ref) / f_ref <= EPS / 10:
                live.remove(label)  # more iterations add nothing to time_to
    return traces


def y_host(y):
    return y if isinstance(y, np.ndarray) else y.cpu().numpy()


def host_n_iter(model):
    n_iter = model.n_iter_
    return n_iter if isinstance(n_iter, np.ndarray) else n_iter.cpu().numpy()


def time_to(trace, f_star):
    hits = [t for t, f in trace if (f - f_star) / f_star <= EPS]
    return min(hits) if hits else None


def transfers(X, y, device):
    """Return (copies in, copies out, values in, values out) per sklse evaluation."""
    counts = {"in": 0, "out": 0, "values_in": 0, "values_out": 0, "evaluations": 0}
    to_device, to_host = ArrayAPISoftmaxLoss._to_device, ArrayAPISoftmaxLoss._to_host
    loss_gradient = ArrayAPISoftmaxLoss.loss_gradient

    def counted_in(loss, vector):
        counts["in"] += 1
        counts["values_in"] += np.size(vector)
        return to_device(loss, vector)

    def counted_out(loss, array):
        result = to_host(loss, array)
        counts["out"] += 1
        counts["values_out"] += result.size
        return result

    def counted_evaluation(loss, params):
        counts["evaluations"] += 1
        return loss_gradient(loss, params)

    ArrayAPISoftmaxLoss._to_device, ArrayAPISoftmaxLoss._to_host = (
        counted_in,
        counted_out,
    )
    ArrayAPISoftmaxLoss.loss_gradient = counted_evaluation
    try:
        with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SoftmaxRegression(max_iter=20).fit(X, y)
    finally:
        ArrayAPISoftmaxLoss._to_device, ArrayAPISoftmaxLoss._to_host = (
            to_device,
            to_host,
        )
        ArrayAPISoftmaxLoss.loss_gradient = loss_gradient
    n = counts["evaluations"]
    return tuple(counts[key] / n for key in ("in", "out", "values_in", "values_out"))


def reference_optimum(X, y):
    """Return F* from sklse's trust-ncg at tol=1e-12 on the numpy path, in float64."""
    X64 = X.astype(np.float64)
    model = SoftmaxRegression(solver="trust-ncg", tol=1e-12, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X64, y)
    return objective(model, X64, y, L2)


def fmt(seconds):
    return "-" if seconds is None else f"{seconds:.3g}"


def run_problem(name, X, y, torch, args):
    """Return the markdown rows of one problem, one per backend."""
    X64 = X.astype(np.float64)
    f_star = reference_optimum(X, y)
    results = {}
    for backend, device in backends(torch).items():
        X_b = X if device is None else torch.asarray(X, device=device)
        y_b = y if device is None else torch.asarray(y, device=device)
        traces = sweep(X_b, y_b, X64, device, torch, args, f_star)
        for trace in traces.values():
            f_star = min(f_star, min(f for _, f in trace))
        results[backend] = (traces, X_b, y_b, device)
    rows = []
    numpy_sklse = None
    for backend, (traces, X_b, y_b, device) in results.items():
        lr, sk = (time_to(traces[label], f_star) for label in traces)
        if backend == "numpy":
            numpy_sklse = sk
        ratio = f"{sk / lr:.2f}" if lr and sk else "-"
        vs_numpy = f"{numpy_sklse / sk:.2f}" if numpy_sklse and sk else "-"
        moves = "-"
        if device is not None:
            copies_in, copies_out, values_in, values_out = transfers(X_b, y_b, device)
            moves = (
                f"{copies_in:.0f} in ({values_in:.0f} values), "
                f"{copies_out:.0f} out ({values_out:.0f})"
            )
        rows.append(
            f"| {name} | {backend} | {fmt(lr)} | {fmt(sk)} | {ratio} | {vs_numpy} "
            f"| {moves} |"
        )
        print(rows[-1], flush=True)
    return rows


def evaluation_runs(X, y, device, torch, rng, repeats):
    """Return ``{label: function of the repeat}`` for one problem on ``device``."""
    n_classes = int(y.max()) + 1
    X_d = torch.asarray(X, device=device)
    ours = ArrayAPISoftmaxLoss(X_d, torch.asarray(y, device=device), n_classes)
    theirs = LinearModelLoss(
        HalfMultinomialLossArrayAPI(n_classes=n_classes, xp=ours.xp, device=X_d.device),
        fit_intercept=True,
    )
    target = torch.asarray(y, dtype=X_d.dtype, device=device)
    params = rng.normal(scale=0.01, size=(repeats + 1, ours.n_dof))
    directions = rng.normal(scale=0.01, size=(repeats + 1, ours.n_dof))
    coef = torch.asarray(params[0, :-n_classes].reshape(n_classes, -1), device=device)
    coef = coef.to(X_d.dtype)
    alpha = 1 / X.shape[0]

    def floor(i):
        return float((torch.exp(X_d @ coef.T).T @ X_d)[0, 0])  # synchronised

    def floor_class_major(i):
        return float((torch.exp(coef @ X_d.T) @ X_d)[0, 0])

    return {
        "floor": floor,
        "floor (K, n)": floor_class_major,
        "sklearn loss_gradient": lambda i: theirs.loss_gradient(
            params[i], X_d, target, None, alpha
        ),
        "sklse loss_gradient": lambda i: ours.loss_gradient(params[i]),
        "sklse hessp": lambda i: ours.hessp(params[i], directions[i]),
    }


def time_evaluations(runs, repeats):
    """Return ``{label: median ms}``, the runs interleaved, after one warm-up."""
    times = {label: [] for label in runs}
    for i in range(repeats + 1):
        for label, run in runs.items():
            start = time.perf_counter()
            run(i)  # hessp runs at the point loss_gradient has just evaluated
            if i:
                times[label].append(1e3 * (time.perf_counter() - start))
    return {label: statistics.median(values) for label, values in times.items()}


def evaluations(torch, args):
    """Return the markdown table of ms per evaluation, one row per problem/device."""
    table = [
        "| problem | backend | floor | floor (K, n) | sklearn loss_gradient "
        "| sklse loss_gradient | sklse hessp | sklse / sklearn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(table))
    rng = np.random.default_rng(0)
    for name, X, y in problems(args.quick):
        for backend, device in backends(torch).items():
            if device is None:
                continue
            with sklearn.config_context(array_api_dispatch=True):
                runs = evaluation_runs(X, y, device, torch, rng, args.repeats)
                ms = time_evaluations(runs, args.repeats)
            ratio = ms["sklse loss_gradient"] / ms["sklearn loss_gradient"]
            cells = " | ".join(f"{value:.1f}" for value in ms.values())
            table.append(f"| {name} | {backend} | {cells} | {ratio:.2f} |")
            print(table[-1], flush=True)
    return table


def machine(torch):
    """Return the header line: CPU model, cores, caches, library versions, date."""
    gpu = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else "no CUDA device found: CPU rows only"
    )
    return (
        f"{cpu_model()}, {os.cpu_count()} cores ({cache_sizes()}); {gpu}; Python "
        f"{platform.python_version()}, numpy {np.__version__}, torch "
        f"{torch.__version__}, scikit-learn {sklearn.__version__}; "
        f"{datetime.date.today()}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="problems 10x smaller")
    parser.add_argument("--repeats", type=int, default=None, help="fits per point")
    parser.add_argument("--budget", type=float, default=None, help="s per sweep")
    parser.add_argument(
        "--evaluations", action="store_true", help="ms per evaluation, not fits"
    )
    args = parser.parse_args()
    args.repeats = args.repeats or (9 if args.evaluations else 1 if args.quick else 3)
    args.budget = args.budget or (5.0 if args.quick else 60.0)
    import torch

    torch.set_num_threads(1)
    header = machine(torch)
    print(header)
    if not torch.cuda.is_available():
        print("No CUDA device found: only the numpy and torch CPU rows run.")
    mode = "quick" if args.quick else "full"
    if args.evaluations:
        with threadpool_limits(limits=1, user_api="blas"):
            table = evaluations(torch, args)
        save(result_path(f"bench_array_api_evaluations_{mode}.md"), header, table)
        return
    table = [
        "| problem | backend | LR lbfgs to 1e-6 (s) | sklse to 1e-6 (s) | "
        "sklse / LR | sklse numpy / this | sklse copies per evaluation |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(table))
    with threadpool_limits(limits=1, user_api="blas"):
        for name, X, y in problems(args.quick):
            table += run_problem(name, X, y, torch, args)
    save(result_path(f"bench_array_api_{mode}.md"), header, table)


def save(path, header, table):
    """Write the command, the header line and the table to ``path``."""
    command = " ".join(["python", "benchmarks/bench_array_api.py", *sys.argv[1:]])
    path.write_text(f"`{command}`\n\n{header}\n\n" + "\n".join(table) + "\n")
    print(f"saved to {path}")


if __name__ == "__main__":
    main()
