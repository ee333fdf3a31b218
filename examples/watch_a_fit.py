"""Watch a fit: scikit-learn's callbacks on SoftmaxRegression.

Run: ``python examples/watch_a_fit.py`` (well under a minute). First a live
``ProgressBar`` on a fit of a few seconds (it needs ``rich``: ``pip install -e
".[progress]"``; without it the bar is skipped with a note). Then
``ScoringMonitor(scoring="neg_log_loss")`` records the training log loss after every
solver iteration of SoftmaxRegression and of LogisticRegression(solver="lbfgs") on
standardised digits (10 classes, the same objective at the same C); a short table is
printed and, when matplotlib is installed, the two curves are saved side by side as
``examples/watch_a_fit.png``.
"""

import importlib.util
import time
from pathlib import Path

import numpy as np
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklse import SoftmaxRegression

C, TOL = 1.0, 1e-6
PNG = Path(__file__).with_suffix(".png")


def synthetic(n_samples=20_000, n_features=100, n_classes=10, seed=0):
    """Return Gaussian X and labels drawn from a softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    logits = X @ rng.standard_normal((n_classes, n_features)).T / 5
    return X, np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


def progress_bar():
    """Fit a problem long enough to watch, with a live progress bar."""
    try:
        bar = ProgressBar()
    except ImportError as error:  # rich is an optional extra
        print(f'{error} pip install -e ".[progress]" to see the bar.\n')
        return
    X, y = synthetic()
    # The bar counts iterations out of max_iter; this fit meets tol after 24.
    clf = SoftmaxRegression(tol=1e-7, max_iter=30).set_callbacks(bar)
    start = time.perf_counter()
    clf.fit(X, y)
    print(
        f"{X.shape[0]} x {X.shape[1]}, K=10: {clf.n_iter_[0]} iterations in "
        f"{time.perf_counter() - start:.1f} s\n"
    )


def log_loss_per_iteration(model, X, y):
    """Fit ``model`` with a ScoringMonitor; return its log loss after each iteration."""
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model.set_callbacks(monitor).fit(X, y)
    # The iterations are the sub-tasks of the fit task (0,); one more row logs the fit.
    rows = [
        row for row in monitor.get_logs().data if row["parent_task_id_path"] == (0,)
    ]
    return -np.array([row["neg_log_loss"] for row in sorted(rows, key=_task_id)])


def _task_id(row):
    return row["task_id"]


def plot(curves):
    """Save the log loss per iteration of each estimator, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(10, 4), sharey=True)
    for ax, (name, losses) in zip(axes, curves.items(), strict=True):
        ax.plot(np.arange(1, len(losses) + 1), losses, marker=".")
        ax.set(title=name, xlabel="solver iteration", yscale="log")
    axes[0].set_ylabel("training log loss (ScoringMonitor)")
    fig.suptitle(f"digits, standardised, C={C}, tol={TOL}")
    fig.tight_layout()
    fig.savefig(PNG, dpi=100)
    print(f"\nsaved {PNG}")


def main():
    progress_bar()
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    curves = {
        "SoftmaxRegression (lbfgs)": log_loss_per_iteration(
            SoftmaxRegression(C=C, tol=TOL, max_iter=1000), X, y
        ),
        "LogisticRegression (lbfgs)": log_loss_per_iteration(
            LogisticRegression(C=C, tol=TOL, max_iter=1000), X, y
        ),
    }
    names = list(curves)
    print(f"training log loss per iteration ({', '.join(names)})")
    print(f"{'iteration':>9}  {'sklse':>12}  {'sklearn':>12}")
    longest = max(len(losses) for losses in curves.values())
    shown = sorted({1, 2, 3, 5, 10, 20, 40, *range(50, longest, 50), longest})
    for iteration in (i for i in shown if i <= longest):
        cells = [
            f"{losses[iteration - 1]:12.8f}" if iteration <= len(losses) else " " * 12
            for losses in curves.values()
        ]
        print(f"{iteration:9d}  {'  '.join(cells)}")
    print("iterations: " + ", ".join(f"{n} {len(c)}" for n, c in curves.items()))
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no plot.")
    else:
        plot(curves)


if __name__ == "__main__":
    main()
