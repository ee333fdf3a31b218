"""What callbacks cost: fit time with and without scikit-learn's callbacks.

Run ``python benchmarks/bench_callbacks.py`` (about a minute on 2 cores). It prints a
markdown table of median fit times, in one process with the variants interleaved in
every repeat, and each variant's ratio to (b):

(a) ``SoftmaxRegression().fit`` with no callback set, what every user runs;
(b) the fit without any callback machinery: the body of ``fit`` as it was before
    callbacks (validation, loss, :func:`sklse._solvers.minimize` without
    ``on_iteration``, fitted attributes), written out below;
(c) with a no-op ``FitCallback`` set: one sub-task per iteration, no model built;
(d) with ``ScoringMonitor(scoring="neg_log_loss")``: the model rebuilt and scored on
    the training data after every iteration.

(a)/(b) is the price of supporting callbacks for those who set none (one callback
context per fit, also timed alone at the end); (c)/(b) that of the per-iteration
hooks; (d) includes the scoring work the user asked for (a copy of the estimator,
``predict_proba`` and ``log_loss`` on the training data after every iteration).
Every variant runs the same iterations (checked). The machine may be shared: the
ratios of the minima (last column) are the least disturbed by other processes.

Run from the repository root with sklse installed (``pip install -e .``).
"""

import time

import numpy as np
import scipy.sparse as sp
from sklearn.callback import FitCallback, ScoringMonitor, with_callbacks
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from sklse import SoftmaxRegression
from sklse._solvers import minimize


class NoOp(FitCallback):
    """A callback that asks for nothing, so no model is rebuilt for it."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


def fit_without_callbacks(model, X, y):
    """Fit ``model`` as ``fit`` does, minus the callback context and hook."""
    model._validate_params()
    X, classes, loss = model._make_loss(X, y, None)
    solver = model._solver_for(X, loss)
    start = model._start(classes, X.shape[1])
    result = minimize(
        loss,
        start,
        solver=solver,
        tol=model.tol,
        max_iter=model.max_iter,
        verbose=model.verbose,
    )
    model._set_fitted(result, loss, X.dtype, classes)
    return model


@with_callbacks
def machinery(model, X, y):
    """Run what ``fit`` adds to (b) when no callback is set: a context, two hooks."""
    context = model._init_callback_context(max_subtasks=model.max_iter)
    context.call_on_fit_task_begin(estimator=model, X=X, y=y, metadata=None)
    context.call_on_fit_task_end(
        estimator=model, X=X, y=y, metadata=None, reconstruction_attributes={}
    )


def machinery_seconds(X, y, number=2000, repeats=5):
    """Return the median seconds per fit of :func:`machinery`, timed alone."""
    model, samples = SoftmaxRegression(), []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            machinery(model, X, y)
        samples.append((time.perf_counter() - start) / number)
    return np.median(samples)


VARIANTS = {
    "(a) no callback": lambda model, X, y: model.fit(X, y),
    "(b) no machinery": fit_without_callbacks,
    "(c) no-op callback": lambda model, X, y: model.set_callbacks(NoOp()).fit(X, y),
    "(d) ScoringMonitor": lambda model, X, y: model.set_callbacks(
        ScoringMonitor(scoring="neg_log_loss")
    ).fit(X, y),
}


def problems():
    """Yield ``(name, X, y, params, repeats)``."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    yield "digits 1797x64 K=10", X, y, {}, 15
    yield "digits, newton-cg", X, y, {"solver": "newton-cg"}, 15
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 100))
    logits = X @ rng.standard_normal((10, 100)).T / 5 + rng.gumbel(size=(20_000, 10))
    y = np.argmax(logits, axis=1)
    yield "synthetic 20000x100 K=10", X, y, {}, 9
    X = sp.random_array((20_000, 5_000), density=2e-3, format="csr", rng=rng)
    y = np.argmax(np.asarray(X @ rng.standard_normal((5, 5_000)).T), axis=1)
    yield "sparse 20000x5000 K=5 (newton-cg)", X, y, {}, 9


def main():
    print(
        "| problem | n_iter | "
        + " | ".join(f"{name} s" for name in VARIANTS)
        + " | a/b | c/b | d/b | a/b, c/b, d/b of minima |"
    )
    print("|---" * (len(VARIANTS) + 6) + "|")
    for name, X, y, params, repeats in problems():
        times = {variant: [] for variant in VARIANTS}
        n_iters = set()
        variants = list(VARIANTS.items())
        for repeat in range(repeats):
            # Rotated, so that no variant always follows the same one (ScoringMonitor
            # leaves garbage that the next fit's allocations pay for).
            shift = repeat % len(variants)
            for variant, fit in variants[shift:] + variants[:shift]:
                model = SoftmaxRegression(**params)
                start = time.perf_counter()
                fit(model, X, y)
                times[variant].append(time.perf_counter() - start)
                n_iters.add(int(model.n_iter_[0]))
        assert len(n_iters) == 1, f"variants ran different iterations: {n_iters}"
        median = {variant: np.median(t) for variant, t in times.items()}
        least = {variant: np.min(t) for variant, t in times.items()}
        others = [v for v in VARIANTS if not v.startswith("(b)")]
        base, least_base = median["(b) no machinery"], least["(b) no machinery"]
        print(
            f"| {name} | {n_iters.pop()} | "
            + " | ".join(f"{median[v]:.4f}" for v in VARIANTS)
            + " | "
            + " | ".join(f"{median[v] / base:.3f}" for v in others)
            + " | "
            + ", ".join(f"{least[v] / least_base:.3f}" for v in others)
            + " |"
        )

    X, y = load_digits(return_X_y=True)
    print(
        "\n(a) - (b), timed alone, the callback machinery of a fit without callbacks: "
        f"{machinery_seconds(X, y) * 1e6:.1f} us per fit"
    )


if __name__ == "__main__":
    main()
