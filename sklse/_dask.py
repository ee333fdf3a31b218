"""Loss and predictions on row-chunked Dask arrays; the only module importing dask.

The estimator imports this module only when it is handed a ``dask.array.Array``. The
math is the loss layer's: every row chunk is cut into :class:`sklse._loss.Block` s and
evaluated by :func:`~sklse._loss.block_loss_gradient` and
:func:`~sklse._loss.block_hessp`; this module only distributes those sums.

Cost model. X (and the encoded labels and the weights) is persisted once at the start
of the fit. Each objective+gradient or Hessian-vector evaluation is then one Dask
computation: one task per row chunk returning a (1, 1 + n_dof) row of partial sums, a
tree sum of those rows, and one key holding the point (``params``, and the direction
for ``hessp``) that every chunk task depends on, so that ``distributed`` ships it once
per worker, not once per task. Only the O(n_dof) sum comes back; the solver runs in
the client process. The chunk tasks run under whatever scheduler is active (the
threaded one, or the default ``distributed.Client``).

Unlike :class:`sklse._loss.SoftmaxLoss` within its budget,
:meth:`DaskSoftmaxLoss.hessp` keeps no probabilities between evaluations (they would
be O(n_samples * n_classes) on the workers): each chunk task recomputes
``softmax(Z)`` at the point first (:func:`~sklse._loss.block_proba`, one extra GEMM
``X @ W.T`` per product).
"""

import copy

import dask
import dask.array as da
import numpy as np

from sklse._loss import (
    block_hessp,
    block_loss_gradient,
    block_proba,
    default_block_rows,
    make_block,
    weighted_sums,
)
from sklse._objective import ScaledObjective, _pack, _unpack

__all__ = [
    "DaskSoftmaxLoss",
    "class_totals",
    "computed",
    "encode_labels",
    "predict_lazily",
    "prepare_fit",
    "times_class_weight",
]


def _chunk_blocks(X, y, sample_weight, n_classes):
    """Yield the :class:`~sklse._loss.Block` s of one row chunk, one at a time.

    Blocks have the in-memory loss's size (the chunk is the unit of parallelism);
    made one at a time, a task holds the buffers of one block, not of its chunk.
    """
    block_rows = default_block_rows(X, n_classes)
    for start in range(0, len(y), block_rows):
        rows = slice(start, start + block_rows)
        weight = None if sample_weight is None else sample_weight[rows]
        yield make_block(X[rows], y[rows], weight, n_classes)


def _chunk_moments(X, sample_weight, center, n_classes):
    """Return the :func:`~sklse._loss.weighted_sums` of one row chunk, (1, size)."""
    start = np.zeros((2, X.shape[1]) if center is None else X.shape[1])
    block_rows = default_block_rows(X, n_classes)
    total = weighted_sums(X, sample_weight, center, n_classes, block_rows, start)
    return total.reshape(1, -1)


def _loss_gradient_terms(block, at):
    """``(loss, grad_coef, grad_intercept)`` of one block at ``at = (coef, b)``."""
    return block_loss_gradient(block, *at, keep_proba=False)


def _hessp_terms(block, at, direction):
    """``(0, hess_coef, hess_intercept)`` of one block; recomputes the softmax."""
    block_proba(block, *at)
    return 0.0, *block_hessp(block, *direction)


def _chunk_sum(X, y, sample_weight, point, n_classes, fit_intercept, terms):
    """Return ``[[value, *vector]]`` (1, 1 + n_dof) of one chunk, not normalised.

    ``terms(block, *parts)`` gives a block's ``(value, coef part, intercept part)``,
    ``parts`` the ``(coef, intercept)`` views of each params vector in ``point``.
    """
    parts = [_unpack(params, n_classes, fit_intercept) for params in point]
    sums = np.zeros(1 + point[-1].size)  # also the sum of an empty chunk
    for block in _chunk_blocks(X, y, sample_weight, n_classes):
        value, coef_part, intercept_part = terms(block, *parts)
        vector = _pack(coef_part, intercept_part if fit_intercept else None)
        sums = sums + np.concatenate([[value], vector])
    return sums[np.newaxis]


class DaskSoftmaxLoss(ScaledObjective):
    """The scaled objective ``f`` of :mod:`sklse._objective` on persisted Dask arrays.

    The interface :func:`sklse._solvers.minimize` and the estimator use from
    :class:`~sklse._loss.SoftmaxLoss`, with the same values up to summation order.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features), float32 or float64
        Dense chunks, one chunk along the features; persisted by the caller.
    y : dask.array.Array of shape (n_samples,)
        intp labels in ``0..n_classes-1``, chunked as X's rows.
    n_classes : int
    sample_weight : dask.array.Array of shape (n_samples,) or None
        Chunked as X's rows; non-negative with a positive sum (checked by the caller).
    C : float, default=1.0
        Inverse penalty strength; ``np.inf`` for no penalty.
    l1_ratio : float, default=0.0
        Share of the L1 term in the penalty; ignored when ``C = inf``.
    fit_intercept : bool, default=True
    """

    def __init__(
        self,
        X,
        y,
        n_classes,
        sample_weight=None,
        *,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
    ):
        n_samples, n_features = X.shape
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.n_classes, self.fit_intercept = n_classes, fit_intercept
        self.dtype = X.dtype  # the evaluations' precision, as SoftmaxLoss.dtype
        sw_sum = float(
            n_samples
            if sample_weight is None
            else sample_weight.sum(dtype=np.float64).compute()
        )
        self._set_penalty(n_features, sw_sum, C, l1_ratio)
        self._set_one_class(  # one pass over y, where asked
            lambda: np.count_nonzero(class_totals(y, sample_weight, n_classes))
        )

    def _weighted_sums(self, center):
        """Return ``[sum_i s_i x_i, sum_i s_i x_i^2]`` (``center`` None) or ``sum_i
        s_i (x_i - center)^2``, float64: one computation (:meth:`feature_moments`)."""
        n_features = self.X.shape[1]
        width = n_features * (2 if center is None else 1)
        total = self._row_sum(
            _chunk_moments,
            width,
            *self._weight,
            center=center,
            n_classes=self.n_classes,
        )
        return total.reshape(2, n_features) if center is None else total

    @property
    def _weight(self):
        """``sample_weight``'s blockwise arguments: (array, index) or (None, None)."""
        return (None, None) if self.sample_weight is None else (self.sample_weight, "i")

    def _row_sum(self, function, width, *args, **kwargs):
        """Return the sum over row chunks of ``function(X's chunk, *args, **kwargs)``,
        a (1, width) row each (``da.blockwise``'s arguments): one computation."""
        rows = da.blockwise(
            function,
            "ij",
            self.X,
            "ij",
            *args,
            adjust_chunks={"i": 1, "j": width},
            dtype=np.float64,
            meta=np.empty((0, 0), dtype=np.float64),
            **kwargs,
        )
        # A tree sum of the (1, width) rows; they are small, so 16 per node: fewer
        # tasks (each costs a scheduler round trip), still a tree for many chunks.
        return rows.sum(axis=0, split_every=16).compute()

    def _sum_chunks(self, terms, *point):
        """Return the sum over row chunks of :func:`_chunk_sum`: one computation."""
        # One key for the point: every chunk task depends on it, so distributed sends
        # it to each worker once. pure=True names it by its content.
        point = dask.delayed(point, pure=True)
        return self._row_sum(
            _chunk_sum,
            1 + self.n_dof,
            self.y,
            "i",
            *self._weight,
            point,
            None,
            n_classes=self.n_classes,
            fit_intercept=self.fit_intercept,
            terms=terms,
        )

    def loss_gradient(self, params):
        """Return the smooth part of ``f(params)`` and its float64 gradient."""
        params = np.asarray(params, dtype=np.float64)
        sums = self._sum_chunks(_loss_gradient_terms, params)
        return self._finish(float(sums[0]), sums[1:], params)

    def hessp(self, params, direction):
        """Return the smooth part's Hessian at ``params`` applied to ``direction``.

        One computation; each chunk task recomputes the softmax at ``params``.
        """
        params = np.asarray(params, dtype=np.float64)
        direction = np.asarray(direction, dtype=np.float64)
        result = self._sum_chunks(_hessp_terms, params, direction)[1:]
        return self._finish_hessp(result, direction)


def _as_dask_vector(name, values):
    """Return ``values`` as a 1-D dask array, lazy (its length may be unknown).

    In-memory values are taken in one chunk: dask cannot choose chunks for object
    dtype (string labels).
    """
    if not isinstance(values, da.Array):
        values = da.from_array(np.asarray(values), chunks=-1)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {values.shape}.")
    return values


def _known_length(values):
    """Return persisted ``values`` with its chunk sizes known (a dask DataFrame's
    column, a masked array, may not know them)."""
    if values is not None and any(np.isnan(values.shape)):
        values.compute_chunk_sizes()
    return values


def _check_X(X):
    """Return X dense, float32/float64, in one chunk along the features."""
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got a dask array of shape {X.shape}.")
    if not isinstance(X._meta, np.ndarray):
        raise TypeError(
            "X must have dense numpy chunks; got chunks of type "
            f"{type(X._meta).__name__}."
        )
    # object: numbers of several dtypes (a dask DataFrame's values), converted as
    # the in-memory path converts them; strings fail there, with numpy's message.
    if X.dtype.kind not in "biufO":
        raise ValueError(f"X must be numeric; got dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        # The block functions need whole rows: one rechunk, before the persist.
        X = X.rechunk({1: -1})
    return X


def prepare_fit(X, y, sample_weight, check_labels):
    """Check and persist the training data; return it with the sorted classes.

    Returns ``X`` (float32/float64, one chunk along the features), ``y`` and
    ``sample_weight`` (X's dtype, or None) as dask arrays chunked as X's rows, all
    persisted, and ``classes``, ``numpy.unique(y)``. ``check_labels`` checks each
    chunk of y (the in-memory path's checks of y) before the classes are sorted.
    X, y and the weights are persisted together, so that a source they share (the
    columns of one table) is read once. Only O(n_classes) values and a few flags
    are computed back; the errors are those of the in-memory path.
    """
    X = _check_X(X)
    y = _as_dask_vector("y", y)
    y = y.map_blocks(check_labels, dtype=y.dtype)
    weight = None
    if sample_weight is not None:
        if np.ndim(sample_weight) == 0:  # a number: every row's weight, as in memory
            weight = sample_weight
            if isinstance(weight, da.Array):
                weight = weight.compute()[()]
            sample_weight = None
        else:
            sample_weight = _as_dask_vector("sample_weight", sample_weight)
    X, y, sample_weight = map(_known_length, dask.persist(X, y, sample_weight))
    for size, what in zip(X.shape, ("sample(s)", "feature(s)"), strict=True):
        if size == 0:  # the in-memory path's check (sklearn's check_array)
            raise ValueError(
                f"Found array with 0 {what} (shape={X.shape}) while a minimum of 1 "
                "is required."
            )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"{[X.shape[0], y.shape[0]]}"
        )
    y = y.rechunk((X.chunks[0],))
    if weight is not None:
        sample_weight = da.full(X.shape[0], weight, chunks=(X.chunks[0],))
    if sample_weight is not None:
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, "
                f"expected {(X.shape[0],)}!"
            )
        sample_weight = sample_weight.astype(X.dtype).rechunk((X.chunks[0],))
    # Persisted in X's chunks, so that the checks read them without recomputing.
    y, sample_weight = dask.persist(y, sample_weight)
    return X, y, sample_weight, _check_values(X, y, sample_weight)


def _check_values(X, y, sample_weight):
    """Return ``numpy.unique(y)``; raise the in-memory path's errors on bad values.

    One computation checks that X is finite and that the weights are finite,
    non-negative and not all zero.
    """
    checks = {"X finite": da.isfinite(X).all(), "classes": da.unique(y)}
    if sample_weight is not None:
        checks |= {
            "weights finite": da.isfinite(sample_weight).all(),
            "weights negative": (sample_weight < 0).any(),
            "weights nonzero": (sample_weight != 0).any(),
        }
    checks = dict(zip(checks, dask.compute(*checks.values()), strict=True))
    if not checks["X finite"]:
        what = "NaN" if da.isnan(X).any().compute() else "infinity"
        raise ValueError(f"Input X contains {what}.")
    if sample_weight is not None:
        if not checks["weights finite"]:
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if checks["weights negative"]:
            raise ValueError("Negative values in data passed to `sample_weight`.")
        if not checks["weights nonzero"]:
            raise ValueError(
                "Sample weights must contain at least one non-zero number."
            )
    return checks["classes"]


def computed(*values):
    """Return ``values`` computed together (in-memory ones as they are): the
    graphs they share, a prediction's reads of X among them, run once."""
    return dask.compute(*values)


def encode_labels(y, classes):
    """Return ``y`` as persisted intp indices into the sorted ``classes``."""
    return y.map_blocks(_encode, classes, dtype=np.intp).persist()


def _encode(y, classes):
    return np.searchsorted(classes, y).astype(np.intp, copy=False)


def class_totals(y, sample_weight, n_classes):
    """Return the weighted count of each class, ``bincount(y, sample_weight)``."""
    return da.bincount(y, weights=sample_weight, minlength=n_classes).compute()


def times_class_weight(y, sample_weight, class_weight, dtype):
    """Return ``class_weight[y]`` times ``sample_weight`` (if any) in ``dtype``.

    The result is persisted; ``dtype`` is X's, as the in-memory loss's weights.
    """
    weight = y.map_blocks(_take, class_weight, dtype=class_weight.dtype)
    weight = weight if sample_weight is None else sample_weight * weight
    return weight.astype(dtype).persist()


def _take(y, values):
    return values[y]


def _predict_chunk(X, model, method):
    """Return ``model.method(X)`` for one row chunk (which may have no rows)."""
    if X.shape[0] == 0:  # sklearn's validation rejects 0 rows: slice one zero row
        return getattr(model, method)(np.zeros((1, X.shape[1]), X.dtype))[:0]
    return getattr(model, method)(X)


def predict_lazily(estimator, method, X, n_columns, dtype):
    """Return ``estimator.method`` of each row chunk of X: a lazy dask array.

    The output is 1-D if ``n_columns`` is None, else (n_samples, n_columns), chunked
    as X's rows. A copy of the fitted estimator is one key of the graph (a later
    refit does not change these predictions).
    """
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got a dask array of shape {X.shape}.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    model = dask.delayed(copy.copy(estimator), pure=False)
    if n_columns is None:
        chunks, drop_axis = (X.chunks[0],), 1
    else:
        chunks, drop_axis = (X.chunks[0], (n_columns,)), []
    return da.map_blocks(
        _predict_chunk,
        X,
        model,
        method,
        chunks=chunks,
        drop_axis=drop_axis,
        dtype=dtype,
        meta=np.empty((0,) * len(chunks), dtype=dtype),
    )
