"""Time the label encoding of ``fit``: sklse's against sklearn's checks + np.unique.

Run: ``python benchmarks/bench_labels.py`` (a few seconds).

For integer labels, ``SoftmaxRegression.fit`` counts the values (``np.bincount``)
instead of calling ``check_classification_targets`` (type_of_target) and
``np.unique(y, return_inverse=True)``, what LogisticRegression's fit pays through
``LabelEncoder``. This prints the median wall time in ms over interleaved repeats
for labels ``0..K-1`` and for labels with gaps, and checks before timing that both
give the same classes and codes.
"""

import platform
import statistics
import time

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from sklse._estimator import _encode_labels

CASES = [(200_000, 5), (50_000, 10), (50_000, 100), (1_797, 10)]


def sklearn_way(y):
    check_classification_targets(y)
    return np.unique(y, return_inverse=True)


def median_ms(functions, y, repeats=21):
    """Return the median ms of each function on ``y``, calls interleaved."""
    samples = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function(y)
            samples[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(s) for name, s in samples.items()}


def main():
    rng = np.random.default_rng(0)
    print(f"{platform.machine()}, numpy {np.__version__}\n")
    print("| n | K | labels | check + np.unique ms | sklse ms | ratio |")
    print("|---|---|---|---|---|---|")
    functions = {"sklearn": sklearn_way, "sklse": _encode_labels}
    for n, n_classes in CASES:
        codes = rng.integers(n_classes, size=n)
        for kind, y in (("0..K-1", codes), ("gaps", 3 * codes - 7)):
            (classes, inverse), (ours, our_codes) = sklearn_way(y), _encode_labels(y)
            assert np.array_equal(classes, ours) and np.array_equal(inverse, our_codes)
            ms = median_ms(functions, y)
            print(
                f"| {n} | {n_classes} | {kind} | {ms['sklearn']:.3f} | "
                f"{ms['sklse']:.3f} | {ms['sklse'] / ms['sklearn']:.2f} |"
            )


if __name__ == "__main__":
    main()
