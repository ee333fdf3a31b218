"""The data of a fit: its checks, the labels' codes, the weights, the loss on them.

:func:`make_loss` is the one place that picks the evaluator of the objective.
Functions take the estimator whose parameters they read (``C``, ``l1_ratio``,
``fit_intercept``, ``class_weight``); sklearn's ``validate_data`` sets its
``n_features_in_``.
"""

import sys
import warnings

import numpy as np
from sklearn import get_config
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d, validate_data

from sklse._array_api import ArrayAPISoftmaxLoss
from sklse._compat import (
    array_namespace,
    check_sample_weight,
    effective_n_threads,
    get_namespace,
    get_namespace_and_device,
    move_to,
    to_numpy,
)
from sklse._loss import SoftmaxLoss, useful_threads

__all__ = ["fit_weights", "make_loss", "numpy_loss"]


def _validate_data(estimator, *args, xp=np, **kwargs):
    """Call sklearn's ``validate_data`` for CSR/CSC or dense float32/float64 X.

    ``xp`` is X's namespace (whose float dtypes X may have) under array API
    dispatch. numpy's own message for string X ("could not convert string to
    float") does not say which input is at fault; this one does. Strings that
    read as numbers convert, as in LogisticRegression's ``fit``.
    """
    try:
        return validate_data(
            estimator,
            *args,
            accept_sparse=("csr", "csc"),
            dtype=(xp.float64, xp.float32),
            **kwargs,
        )
    except ValueError as error:
        if "could not convert string" in str(error):
            raise ValueError(f"X must be numeric; {error}") from error
        raise


def _is_dask_array(X):
    """Whether X is a ``dask.array.Array``, without importing dask."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def _on_array_api(X):
    """Whether X goes to the array-API evaluator: dispatch on, a non-numpy X.

    As in LogisticRegression: numpy and sparse X stay on the numpy path.
    """
    _, is_array_api = get_namespace(X)
    return is_array_api and array_namespace(X) is not None


def _host(a):
    """Return ``a`` as a numpy array: itself, or a copy from its device."""
    return a if array_namespace(a) is None else to_numpy(a)


def _encode_labels(y):
    """Check that 1-D ``y`` holds class labels; return its classes and their codes.

    The result is ``np.unique(y, return_inverse=True)``.

    Integer labels are always classes (sklearn's type_of_target says "binary" or
    "multiclass"), and for them a count per value replaces np.unique's sort and
    type_of_target's checks, 20 times faster on 200000 labels
    (``benchmarks/bench_labels.py``; figures in ``benchmarks/results/``).
    """
    if y.dtype.kind in "iu" and y.size:
        low, high = int(y.min()), int(y.max())
        # int64 holds every label (uint64 from 2**63 on it does not), and a count
        # per value takes O(n) memory.
        if high < 2**63 and high - low < 2 * len(y):
            offset = y.astype(np.int64) - low
            present = np.bincount(offset) > 0
            classes = (np.flatnonzero(present) + low).astype(y.dtype)
            if len(y) > 20 and len(classes) > round(0.5 * len(y)):
                check_classification_targets(y)  # its warning: y may be a regression
            # Labels low, low + 1, ... without gaps are their own codes, less low.
            codes = offset if present.all() else (np.cumsum(present) - 1)[offset]
            return classes, codes
    check_classification_targets(y)
    return np.unique(y, return_inverse=True)


def _check_n_classes(classes):
    """Raise unless there are at least two classes."""
    if len(classes) < 2:
        raise ValueError(
            "SoftmaxRegression needs samples of at least 2 classes; got one "
            f"class: {classes.tolist()}."
        )


def _check_weight_sum(total):
    """Raise unless the final weights have a positive sum."""
    if not total > 0:
        raise ValueError(
            "The weights (sample_weight times class_weight) must have a positive "
            f"sum; got {total!r}: at least one sample needs a positive weight."
        )


def _objective_params(estimator):
    """Return the parameters of the objective that ``estimator`` minimises."""
    return {
        "C": estimator.C,
        "l1_ratio": estimator.l1_ratio,
        "fit_intercept": estimator.fit_intercept,
    }


def make_loss(estimator, X, y, sample_weight):
    """Return the validated X and y, the classes and the loss of ``estimator`` on
    them (a dask y persisted, its chunk sizes known, for the callbacks' scorers).

    The one place that picks the evaluator of the objective: Dask chunks for a
    dask array, the device for an array-API array under dispatch, else the
    numpy row blocks.
    """
    if _is_dask_array(X):
        return _make_dask_loss(estimator, X, y, sample_weight)
    if _on_array_api(X):
        return _make_array_api_loss(estimator, X, y, sample_weight)
    return _make_loss(estimator, X, y, sample_weight)


def _make_loss(estimator, X, y, sample_weight):
    """Return the validated X and y, the classes and the :class:`SoftmaxLoss`."""
    if get_config()["array_api_dispatch"]:  # y and weights of another namespace
        y, sample_weight = _host(y), _host(sample_weight)
    X, y = _validate_data(estimator, X, y)
    classes, y_encoded = _encode_labels(y)
    _check_n_classes(classes)
    sample_weight = fit_weights(estimator, X, y_encoded, classes, sample_weight)
    loss = numpy_loss(estimator, X, y_encoded, len(classes), sample_weight)
    return X, y, classes, loss


def numpy_loss(
    estimator, X, y_encoded, n_classes, sample_weight, n_threads=None, **options
):
    """Return the :class:`SoftmaxLoss` of this C and l1_ratio on checked data.

    ``y_encoded`` holds codes in ``0..n_classes-1`` and ``sample_weight`` the final
    weights (class weights included) or None; ``n_threads`` bounds the block
    threads (None: all that :func:`effective_n_threads` allows); ``options`` go to
    :class:`SoftmaxLoss` (``keep_last_sums``).
    """
    n_threads = effective_n_threads() if n_threads is None else n_threads
    return SoftmaxLoss(
        X,
        y_encoded.astype(np.intp, copy=False),
        n_classes,
        sample_weight,
        **_objective_params(estimator),
        n_threads=useful_threads(X, n_classes, n_threads),
        **options,
    )


def _make_array_api_loss(estimator, X, y, sample_weight):
    """Return the validated X and y, the classes and the loss on X's device.

    ``classes_`` stays in y's namespace, as LogisticRegression keeps it; the
    codes of the labels and the weights go to X's device, and the checks of
    :func:`_make_loss` run there (the class totals, K values, come back).
    """
    xp, _, device = get_namespace_and_device(X)
    if sample_weight is not None and np.ndim(sample_weight) > 0:  # not a number
        if array_namespace(sample_weight) is None:  # a list, a numpy array, ...
            sample_weight = np.asarray(sample_weight)
        sample_weight = move_to(sample_weight, xp=xp, device=device)
    X, y = _validate_data(estimator, X, y, xp=xp)
    xp_y, _ = get_namespace(y)
    if array_namespace(y) is None:  # numpy labels (strings, objects, numbers)
        classes, y_encoded = _encode_labels(np.asarray(y))
    else:
        check_classification_targets(y)
        classes, y_encoded = xp_y.unique_inverse(y)
    host_classes = _host(classes)
    _check_n_classes(host_classes)
    y_encoded = move_to(y_encoded, xp=xp, device=device)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X)
    if estimator.class_weight is not None:
        sample_weight = _times_class_weight_xp(
            estimator, y_encoded, sample_weight, host_classes, X
        )
    if sample_weight is not None:
        _check_weight_sum(float(_host(xp.sum(sample_weight))))
    loss = ArrayAPISoftmaxLoss(
        X,
        y_encoded,
        host_classes.shape[0],
        sample_weight,
        **_objective_params(estimator),
    )
    return X, y, classes, loss


def _times_class_weight_xp(estimator, y_encoded, sample_weight, classes, X):
    """Return the class weights of each row times ``sample_weight``, on X's device.

    The weighted count of each class is summed on the device; only those
    n_classes values come back for :func:`_class_weight`.
    """
    xp, _, device = get_namespace_and_device(X)
    labels = xp.arange(classes.shape[0], dtype=y_encoded.dtype, device=device)
    is_label = y_encoded[:, None] == labels[None, :]
    if sample_weight is None:  # counts (xp.where takes at most one Python scalar)
        totals = xp.sum(xp.astype(is_label, X.dtype), axis=0)
    else:
        totals = xp.sum(xp.where(is_label, sample_weight[:, None], 0.0), axis=0)
    class_weight = _class_weight(estimator, classes, _host(totals))
    class_weight = xp.asarray(class_weight, dtype=X.dtype, device=device)
    weight = xp.take(class_weight, y_encoded, axis=0)
    return weight if sample_weight is None else sample_weight * weight


def _check_y(y):
    """Return one chunk of a dask y, checked as the in-memory path checks y (NaN
    among object labels raised a TypeError from sorting them)."""
    return check_array(
        y, ensure_2d=False, dtype=None, ensure_min_samples=0, input_name="y"
    )


def _check_classes(classes, n_samples):
    """``check_classification_targets`` of a dask y, from its sorted ``classes``.

    sklearn's check counts the samples of what it is handed, the classes here: its
    warning that more than half of the samples are classes is made here from the
    true count, with its rule and words.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _MANY_CLASSES, UserWarning)
        check_classification_targets(classes)
    if n_samples > 20 and len(classes) > round(0.5 * n_samples):
        warnings.warn(
            "The number of unique classes is greater than 50% of the number of "
            "samples. `y` could represent a regression problem, not a "
            "classification problem.",
            UserWarning,
            stacklevel=5,  # here, _make_dask_loss, make_loss, fit, fit's wrappers
        )


_MANY_CLASSES = "The number of unique classes is greater than 50%"


def _make_dask_loss(estimator, X, y, sample_weight):
    """Return the persisted dask X, the classes and the loss on its row chunks.

    The checks of :func:`_make_loss`, computed with dask: only the classes, the
    class totals and a few flags and sums come back to this process.
    """
    from sklse import _dask  # dask is imported only when X is a dask array

    # In-memory y as the in-memory path takes it: pandas' extension dtypes
    # (strings, categories, nullable integers) as numpy, a column vector with
    # sklearn's warning.
    if not _is_dask_array(y):
        y = column_or_1d(y, warn=True)
    X, y, sample_weight, classes = _dask.prepare_fit(X, y, sample_weight, _check_y)
    estimator.n_features_in_ = X.shape[1]
    if hasattr(estimator, "feature_names_in_"):  # a dask array has no column names
        del estimator.feature_names_in_
    _check_classes(classes, X.shape[0])
    _check_n_classes(classes)
    y_encoded = _dask.encode_labels(y, classes)
    if estimator.class_weight is not None:
        totals = _dask.class_totals(y_encoded, sample_weight, len(classes))
        class_weight = _class_weight(estimator, classes, totals)
        sample_weight = _dask.times_class_weight(
            y_encoded, sample_weight, class_weight, X.dtype
        )
    if sample_weight is not None:
        _check_weight_sum(float(sample_weight.sum(dtype=np.float64).compute()))
    loss = _dask.DaskSoftmaxLoss(
        X,
        y_encoded,
        len(classes),
        sample_weight,
        **_objective_params(estimator),
    )
    return X, y, classes, loss


def fit_weights(estimator, X, y_encoded, classes, sample_weight):
    """Return the checked sample weights times the class weights, or None."""
    if sample_weight is None and estimator.class_weight is None:
        return None
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X)
    if estimator.class_weight is not None:
        totals = np.bincount(y_encoded, weights=sample_weight, minlength=len(classes))
        weight = _class_weight(estimator, classes, totals)[y_encoded]
        # A new array: the caller's sample_weight is never modified.
        sample_weight = weight if sample_weight is None else sample_weight * weight
    _check_weight_sum(float(np.sum(sample_weight)))
    return sample_weight


def _class_weight(estimator, classes, totals):
    """Return the weight of each class, checked finite and non-negative.

    ``totals`` is the weighted count of each class, all that "balanced" needs:
    sklearn's ``compute_class_weight`` is handed each class once with its total
    as weight (``sum(totals) / (K * totals)``, as on the whole y), so that the
    Dask path does not have to bring y into memory.
    """
    if isinstance(estimator.class_weight, str) and np.any(totals == 0):
        raise ValueError(
            'class_weight="balanced" needs a positive total sample_weight in '
            f"every class; got 0 for class(es) {classes[totals == 0].tolist()}."
        )
    class_weight = compute_class_weight(
        estimator.class_weight, classes=classes, y=classes, sample_weight=totals
    )
    if not np.all(np.isfinite(class_weight) & (class_weight >= 0)):
        raise ValueError(
            "class_weight must be finite and non-negative; got "
            f"{dict(zip(classes.tolist(), class_weight.tolist(), strict=True))}."
        )
    return class_weight
