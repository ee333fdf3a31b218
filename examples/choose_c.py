"""Choose C (and l1_ratio) by cross-validation with SoftmaxRegressionCV.

Run ``python examples/choose_c.py``. It fits the path on the bundled wine data
(standardised; its raw features span four orders of magnitude) for an L2 and two
L1 mixes, on LogisticRegressionCV's grid (20 values of C from 1e-4 to 1e4),
prints the chosen points of the ``min`` and ``1se`` rules, and, when matplotlib is
installed, saves ``examples/choose_c.png``: the mean test score +- its standard
error along C (one curve per l1_ratio, ``min`` and ``1se`` marked) and the number
of non-zero coefficients of the fold models along the L1 paths.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from sklse import SoftmaxRegressionCV

L1_RATIOS = (0.0, 0.5, 1.0)


def fit(select):
    """Return SoftmaxRegressionCV fitted on standardised wine with ``select``."""
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return SoftmaxRegressionCV(Cs=20, l1_ratios=L1_RATIOS, select=select).fit(X, y)


def plot(best, one_se, path):
    """Save the score and sparsity paths of ``best`` (and ``one_se``'s choice)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (scores, sparsity) = plt.subplots(1, 2, figsize=(11, 4))
    for m, ratio in enumerate(best.l1_ratios_):
        Cs, mean, se = best.Cs_, best.mean_scores_[m], best.std_errors_[m]
        (line,) = scores.semilogx(Cs, mean, label=f"l1_ratio={ratio:g}")
        scores.fill_between(Cs, mean - se, mean + se, color=line.get_color(), alpha=0.2)
        if ratio > 0:
            nonzero = np.count_nonzero(best.coefs_paths_[:, m, :, :, :-1], axis=(2, 3))
            sparsity.semilogx(Cs, nonzero.mean(axis=0), color=line.get_color())
    for model, marker, name in ((best, "o", "min"), (one_se, "s", "1se")):
        m, j = model.best_index_
        scores.plot(model.C_, model.mean_scores_[m, j], marker, color="k", label=name)
    scores.set(xlabel="C", ylabel="mean neg_log_loss (+- 1 s.e.)", title="Test score")
    sparsity.set(xlabel="C", ylabel="non-zero coefficients (fold mean)", title="L1")
    scores.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


def main():
    best, one_se = fit("min"), fit("1se")
    for model, name in ((best, "min"), (one_se, "1se")):
        m, j = model.best_index_
        print(
            f"{name}: C = {model.C_:.4g}, l1_ratio = {model.l1_ratio_:g}, mean score "
            f"{model.mean_scores_[m, j]:.4f} +- {model.std_errors_[m, j]:.4f}, "
            f"{np.count_nonzero(model.coef_)} non-zero coefficients"
        )
    try:
        plot(best, one_se, Path(__file__).with_suffix(".png"))
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[bench]')")


if __name__ == "__main__":
    main()
