"""The log-sum-exp trick, side by side: naive formulas against sklse's stable ones.

Run: ``python examples/log_sum_exp_trick.py``. The naive ``log(sum(exp(z)))`` and
``exp(z) / sum(exp(z))`` overflow to ``inf``/``nan`` (with RuntimeWarnings) as soon as
a logit passes ~709; the shifted forms ``c + log(sum(exp(z - c)))``, ``c = max(z)``, do
not.
"""

import warnings

import numpy as np

from sklse import log_softmax, logsumexp, softmax

VECTORS = [
    [-100, 1000, -100, 5, 10, 0.001],
    [11, 12, -1000, 5, 10, 0.001],
    [-1000, 1000, -1000, 5, 10, 0.001],
]
LOGITS = np.array([[0.3452, -0.0267, 0.4066], [0.4798, -0.6728, 1.1408]])


def naive(z):
    """Return the naive LSE and softmax of ``z`` and the warnings they raise."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lse = np.log(np.sum(np.exp(z)))
        proba = np.exp(z) / np.sum(np.exp(z))
    return lse, proba, sorted({str(w.message) for w in caught})


def main():
    np.set_printoptions(precision=4, suppress=True)
    for z in map(np.array, VECTORS):
        z = z.astype(np.float64)
        lse, proba, caught = naive(z)
        print(f"z = {z.tolist()}")
        print(
            f"  naive : LSE = {float(lse)!r}, softmax = {proba}, "
            f"sum = {float(proba.sum())!r}"
        )
        print(f"          warnings: {caught or 'none'}")
        stable = softmax(z)
        print(
            f"  stable: LSE = {float(logsumexp(z))!r}, softmax = {stable}, "
            f"sum = {float(stable.sum())!r}"
        )
    print("\nlog_softmax(z) = z - LSE(z), row by row:")
    log_proba = log_softmax(LOGITS)
    print(log_proba)
    # Often quoted as [[0.3633, 0.2505, 0.3863], [0.3074, 0.0971, 0.5955]]; the exact
    # values are 0.250449... and 0.307452... (mpmath agrees), so 4 decimals give
    # 0.2504 and 0.3075 (tests/test_numerics.py checks this).
    print("exp(log_softmax(z)):")
    print(np.exp(log_proba))


if __name__ == "__main__":
    main()
