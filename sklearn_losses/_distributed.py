"""Fits and predictions on Dask arrays: ``X`` stays in its chunks, where they live.

The objective is a sum over rows (``_objective``), so everything a solver
asks of it is a sum of per-chunk parts. ``DistributedObjective`` holds one
in-memory ``LinearObjective`` per chunk of rows of ``X``, built once on the
worker that holds the chunk (persisted there), and answers the solvers'
questions by map-reduce: each chunk computes its part (a value, a gradient,
a Hessian matrix of the parameters' size, the rows near a kink) and only
those parts travel, summed on the way to the client. ``X`` is never
gathered.

What does travel, and when:

- once per fit, the targets and sample weights (one number per row), which
  the estimator validates and encodes on the client as for in-memory data
  (class labels, class weights, targets' scale), and which go back to the
  workers with the chunks they belong to;
- per pass over the data, the parameters out and the summed parts back:
  vectors of the parameters' size and, for Newton's method, a matrix of
  that size squared;
- for hinge, pinball and epsilon-insensitive losses, the few rows near the
  kink at the end (``reduced_rows``).

Dask is imported only when a Dask array is passed: the core install needs
NumPy, SciPy and scikit-learn only (``pip install sklearn_losses[dask]``
adds ``dask`` and ``distributed``). Computations run on Dask's active
scheduler: a ``dask.distributed.Client`` where one exists, else Dask's
local threads.
"""

import copy

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils.validation import check_is_fitted

from ._objective import LinearObjective
from ._parallel import ExecutionSettings
from ._penalty import ElasticNet
from .solvers.smoothed_dual import folded_rows

# Rows of a chunk objective's work run on one thread: the workers' threads
# (one task per chunk) already keep the cores busy.
CHUNK_EXECUTION = ExecutionSettings(threads=1)


def is_dask_array(X):
    """Whether ``X`` is a ``dask.array.Array`` (checked without importing Dask)."""
    return type(X).__module__.startswith("dask.array") and hasattr(X, "chunks")


def as_local(values):
    """A Dask array (or anything with ``compute``) brought to the client; others
    as they are. For targets and sample weights, one number per row."""
    if values is not None and is_dask_array(values):
        return values.compute()
    return values


def validate_dask_data(estimator, X, y, *, y_numeric, multi_output=False):
    """A Dask ``X`` checked as ``validate_data`` checks an in-memory one, and
    its targets brought to the client and checked as scikit-learn does.

    ``X``: two dimensions, known chunk sizes, a float dtype (float32 kept,
    others cast to float64), at least one sample and feature, whole rows
    per chunk, finite entries (one pass over the chunks, which also finds
    the largest magnitude, kept for ``largest_magnitude``: ``_summary``); sets
    ``n_features_in_``. Returns ``(X, y)``.
    """
    X = validate_dask_X(estimator, X, reset=True)
    y = check_array(
        as_local(y),
        ensure_2d=False,
        dtype="numeric" if y_numeric else None,
        ensure_all_finite=True,
        input_name="y",
    )
    if y.ndim == 2 and y.shape[1] == 1 and not multi_output:
        y = y.ravel()
    check_consistent_length(X, y)
    return X, y


def validate_dask_X(estimator, X, *, reset):
    """``X`` of ``validate_dask_data``; ``reset=False`` checks the number of
    features against the fit's (no pass over the chunks). Chunks may be
    NumPy arrays or SciPy sparse matrices."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got a {X.ndim}D Dask array instead; reshape "
            "your data (a column: X.reshape(-1, 1))."
        )
    if X.dtype not in (np.float64, np.float32):
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"Dask array with dtype {X.dtype} is not numeric.")
        X = X.astype(np.float64)
    if any(np.isnan(size) for size in X.shape):
        raise ValueError(
            "The Dask array has unknown chunk sizes; compute them first "
            "(X.compute_chunk_sizes(), or to_dask_array(lengths=True) for a "
            "Dask DataFrame)."
        )
    n_samples, n_features = X.shape
    if not reset:
        if n_features != estimator.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(estimator).__name__} "
                f"is expecting {estimator.n_features_in_} features as input."
            )
        return X.rechunk({1: -1})
    if n_samples < 1 or n_features < 1:
        raise ValueError(
            f"Found array with {n_samples} sample(s) and {n_features} "
            f"feature(s) (shape=({n_samples}, {n_features})) while a minimum "
            "of 1 is required."
        )
    estimator.n_features_in_ = n_features
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    X = X.rechunk({1: -1})
    finite, _ = _summary(X)
    if not finite:
        raise ValueError("Input X contains NaN or infinity.")
    return X


def _block_summary(block):
    """Whether a chunk's entries are finite, and their largest magnitude."""
    values = block.data if sp.issparse(block) else np.asarray(block)
    if values.size == 0:
        return True, 0.0
    # A NaN makes both extremes NaN, an infinity one of them: no temporary
    # array of the chunk's size is needed.
    lowest, highest = float(values.min()), float(values.max())
    return bool(np.isfinite(lowest) and np.isfinite(highest)), max(-lowest, highest)


# Whether the entries are finite and their largest magnitude, of the Dask
# arrays summarized last, by their names (a Dask array's name is a hash of
# its graph: the same data, the same name).
_SUMMARIES = {}


def _summary(X):
    """``(finite, max |X|)`` of a Dask array: one pass over its chunks, the
    first time only (validation, then the extreme-scale check of the fit)."""
    if X.name not in _SUMMARIES:
        import dask

        summaries = dask.compute(
            *[dask.delayed(_block_summary)(block) for block in X.to_delayed().ravel()]
        )
        _SUMMARIES[X.name] = (
            all(block_finite for block_finite, _ in summaries),
            max(block_largest for _, block_largest in summaries),
        )
        while len(_SUMMARIES) > 16:
            del _SUMMARIES[next(iter(_SUMMARIES))]
    return _SUMMARIES[X.name]


def largest_magnitude(X):
    """``max |X|`` of a Dask array (``_summary``)."""
    return _summary(X)[1]


class DistributedObjective:
    """``LinearObjective``'s problem over the row chunks of a Dask array.

    Each chunk holds an in-memory ``LinearObjective`` of its rows, with the
    global centering and no penalty; its parts are scaled by the chunk's
    share of the total sample weight, so that their sum is the data term of
    the whole problem (and its gradient and Hessian). The penalty, the
    packing of the parameters and the centering of the intercept are the
    client's, as in ``LinearObjective`` (same meaning, same layout).

    Parameters
    ----------
    loss : PointwiseLoss
    X : dask.array.Array of shape (n_samples, n_features)
        Whole rows per chunk (``validate_dask_X``).
    y : ndarray
        Targets in the loss's encoding, on the client.
    sample_weight : ndarray of shape (n_samples,)
    penalty : ElasticNet
    fit_intercept : bool
    n_outputs : int
    """

    is_distributed = True
    # The in-memory problems built from this one (on_rows) take their
    # threads as a fit in memory does.
    settings = None

    def __init__(
        self, loss, X, y, sample_weight, *, penalty, fit_intercept, n_outputs=1
    ):
        import dask

        self.loss = loss
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.n_outputs = n_outputs
        self.n_features = X.shape[1]
        self.X = X
        self.last_value_gradient = None
        weight = np.asarray(sample_weight, dtype=float)
        # The targets and weights stay on the client too (one number per
        # row), for what needs no X: the best intercept at W = 0.
        self.y = y
        self.sample_weight = weight / weight.sum()
        self.intercept_for_zero = None
        bounds = np.cumsum((0,) + X.chunks[0])
        self._bounds = bounds
        blocks = X.to_delayed().ravel()
        totals = np.add.reduceat(weight, bounds[:-1]) if weight.size else weight
        kept = [k for k in range(len(blocks)) if totals[k] > 0]
        self._kept = kept
        # Rows of zero weight add nothing to any sum: their chunks are left out.
        rows = _to_workers(list(zip(self._split(y), self._split(weight), strict=True)))
        chunks = [
            dask.delayed(_chunk_objective)(
                blocks[k],
                loss,
                targets_and_weights,
                totals[k] / weight.sum(),
                fit_intercept,
                n_outputs,
            )
            for k, targets_and_weights in zip(kept, rows, strict=True)
        ]
        (chunks,) = dask.persist(chunks)
        self.x_mean = (
            self._sum(_chunk_mean, chunks=chunks)[0]
            if fit_intercept
            else np.zeros(self.n_features)
        )
        (self.chunks,) = dask.persist(
            [dask.delayed(_centered_on)(chunk, self.x_mean) for chunk in chunks]
        )

    # -- map-reduce ----------------------------------------------------------
    def _split(self, values):
        """``values`` per row, cut into the parts of the kept chunks."""
        bounds = self._bounds
        return [values[bounds[k] : bounds[k + 1]] for k in self._kept]

    def _sum(self, task, *arguments, chunks=None, per_chunk=None):
        """``task(chunk, *arguments)`` on every chunk (``task(chunk, part,
        *arguments)`` with ``per_chunk``, one part per chunk), the tuples summed
        where the chunks live; only the sum comes back."""
        import dask

        chunks = self.chunks if chunks is None else chunks
        own = [()] * len(chunks) if per_chunk is None else [(p,) for p in per_chunk]
        parts = [
            dask.delayed(task, pure=False)(chunk, *part, *arguments)
            for chunk, part in zip(chunks, own, strict=True)
        ]
        while len(parts) > 1:
            # A tree of sums: no worker receives every chunk's part at once.
            parts = [
                dask.delayed(_summed)(*parts[k : k + 8])
                for k in range(0, len(parts), 8)
            ]
        return dask.compute(parts[0])[0]

    def _joined(self, task, *arguments):
        """``task(chunk, *arguments)`` on every chunk, results as a list."""
        import dask

        parts = [
            dask.delayed(task, pure=False)(chunk, *arguments) for chunk in self.chunks
        ]
        return list(dask.compute(*parts))

    # -- what the solvers ask -------------------------------------------------
    def value(self, coef, intercept, loss=None):
        """``J(W, b)`` at a centered intercept."""
        return self.values([self.pack(coef, intercept)], loss)[0]

    def values(self, points, loss=None):
        """``J`` at several packed points, in one pass over the chunks (the
        trial steps of a line search)."""
        (data_terms,) = self._sum(_chunk_values, np.array(points), loss)
        return [
            data_term + self.penalty.value(self.unpack(point)[0])
            for data_term, point in zip(data_terms, points, strict=True)
        ]

    def smooth_value_gradient(self, params, loss=None):
        """Data term plus the L2 part, and its gradient (as ``LinearObjective``)."""
        value, gradient = self._sum(_chunk_value_gradient, params, loss)
        return self._remember(
            params, loss, *self._with_smooth_penalty(params, value, gradient)
        )

    def newton_parts(self, params, loss=None):
        """Value and gradient of the smooth part and its (generalized) Hessian,
        a dense matrix over the packed parameters, in one pass."""
        value, gradient, hessian = self._sum(_chunk_newton_parts, params, loss)
        value, gradient = self._remember(
            params, loss, *self._with_smooth_penalty(params, value, gradient)
        )
        coefficients = np.arange(self.n_coef)
        hessian[coefficients, coefficients] += self.penalty.l2
        return value, gradient, hessian

    def _remember(self, params, loss, value, gradient):
        """Keep the last value and gradient of the objective's own loss, with
        their point, as ``last_value_gradient`` (a certificate's first pass)."""
        if loss is None:
            self.last_value_gradient = (params.copy(), (value, gradient))
        return value, gradient

    def _with_smooth_penalty(self, params, value, gradient):
        coef = params[: self.n_coef]
        gradient = gradient.copy()
        gradient[: self.n_coef] += self.penalty.l2 * coef
        return value + self.penalty.smooth_value(coef), gradient

    def feature_scale(self):
        """``sqrt(mean square of the centered feature + l2)`` per feature, as
        ``LinearObjective.feature_scale`` (one pass)."""
        (second_moment,) = self._sum(_chunk_second_moment)
        variance = np.maximum(second_moment - self.x_mean**2, 0.0)
        scale = np.sqrt(variance + self.penalty.l2)
        return np.where(scale > 0, scale, 1.0)

    def mean_absolute_kink_distance(self, params):
        """``sum_i s_i |c_i - a_i f_i|`` of a piecewise-linear loss."""
        return self._sum(_chunk_kink_distance, params)[0]

    def count_near_kink(self, params, reach):
        """Samples of positive weight within ``reach`` of the kink."""
        return int(self._sum(_chunk_near_kink_count, params, reach)[0])

    def reduced_rows(self, points, reach):
        """The samples near the kink at ``points[0]``, or on another side at a
        later point, as rows; the others folded into one row per chunk, side
        and sign (their weighted mean with their total weight). Returns
        ``(X, y, sample_weight)`` on the client, weights summing to one."""
        parts = self._joined(_chunk_reduced_rows, np.array(points), reach)
        matrices, targets, weights = zip(*parts, strict=True)
        if any(sp.issparse(matrix) for matrix in matrices):
            X = sp.vstack([sp.csr_matrix(matrix) for matrix in matrices], "csr")
        else:
            X = np.vstack(matrices)
        return X, np.concatenate(targets), np.concatenate(weights)

    def crossings(self, points, reach):
        """Folded samples (at ``points[:-1]``'s reduction) that are not strictly
        on their side at ``points[-1]``: zero where the reduction was exact."""
        return int(self._sum(_chunk_crossings, np.array(points), reach)[0])

    def dual_parts(self, params, shift, scale):
        """For the Fenchel dual at ``params`` with every score moved by
        ``shift``: ``sum_i s_i L*(y_i, u_i)``, ``(X - x_mean).T @ (s * u)``,
        ``sum_i s_i u_i`` and ``sum_i s_i L''(f_i)``, with ``u_i = scale *
        L'(f_i)``."""
        return self._sum(_chunk_dual_parts, params, shift, scale)

    def rmatvec(self, values):
        """``(X - x_mean).T @ values`` for ``values`` per row on the client, each
        chunk sent its part."""
        parts = _to_workers(self._split(values))
        return self._sum(_chunk_rmatvec, per_chunk=parts)[0]

    def rows(self, index):
        """Dense centered rows ``index`` (sorted indices), gathered to the client."""
        import dask

        bounds = self._bounds
        parts = []
        for k, chunk in zip(self._kept, self.chunks, strict=True):
            inside = index[(index >= bounds[k]) & (index < bounds[k + 1])]
            if inside.size:
                parts.append(dask.delayed(_chunk_rows)(chunk, inside - bounds[k]))
        return np.vstack(dask.compute(*parts))

    def on_rows(self, X, y, sample_weight, loss=None, penalty=None):
        """The same problem on rows given on the client, as an in-memory
        ``LinearObjective`` (a Dask ``X`` without columns becomes an empty
        array: the problem in the intercept alone)."""
        if is_dask_array(X):
            if X.shape[1] != 0:
                raise ValueError("on_rows takes in-memory rows")
            X = np.empty((X.shape[0], 0))
        return LinearObjective.on_rows(self, X, y, sample_weight, loss, penalty)

    # -- packing and the centered intercept, as LinearObjective ---------------
    n_coef = property(lambda self: self.n_features * self.n_outputs)
    n_params = property(
        lambda self: self.n_coef + self.n_outputs * int(self.fit_intercept)
    )
    pack = LinearObjective.pack
    unpack = LinearObjective.unpack
    to_centered_intercept = LinearObjective.to_centered_intercept
    from_centered_intercept = LinearObjective.from_centered_intercept


# -- per-chunk work (module level: it is pickled to the workers) ---------------
def _to_workers(parts):
    """``parts`` sent to the workers ahead of the tasks that use them (a
    Dask client's ``scatter``), so that they do not swell the task graph;
    as they are on Dask's local schedulers."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return parts
    return client.scatter(parts)


def _chunk_objective(X, loss, targets_and_weights, share, fit_intercept, n_outputs):
    y, sample_weight = targets_and_weights
    objective = LinearObjective(
        loss,
        X,
        y,
        sample_weight,
        penalty=ElasticNet(0.0, 0.0),
        fit_intercept=fit_intercept,
        n_outputs=n_outputs,
        execution=CHUNK_EXECUTION,
    )
    objective.share = share
    return objective


def _centered_on(chunk, x_mean):
    centered = copy.copy(chunk)
    centered.x_mean = x_mean
    return centered


def _with_loss(chunk, loss):
    if loss is None:
        return chunk
    other = copy.copy(chunk)
    other.loss = loss
    return other


def _summed(*parts):
    return tuple(sum(terms[1:], start=terms[0]) for terms in zip(*parts, strict=True))


def _chunk_mean(chunk):
    return (chunk.share * chunk.x_mean,)


def _chunk_second_moment(chunk):
    if sp.issparse(chunk.X):
        moment = np.asarray(chunk.X.multiply(chunk.X).T @ chunk.sample_weight).ravel()
    else:
        moment = chunk._dense_second_moment()
    return (chunk.share * moment,)


def _chunk_values(chunk, points, loss):
    chunk = _with_loss(chunk, loss)
    # One product with all the points' coefficients side by side: the chunk
    # is read once, not once per point.
    unpacked = [chunk.unpack(point) for point in points]
    coefs = np.hstack([coef for coef, _ in unpacked])
    raw = chunk.matvec(coefs)
    n_outputs = chunk.n_outputs
    values = np.empty(len(points))
    for k, (_, intercept) in enumerate(unpacked):
        scores = raw[:, k * n_outputs : (k + 1) * n_outputs] + intercept
        scores = scores if chunk.loss.is_multiclass else scores.ravel()
        values[k] = chunk.sample_weight @ chunk.loss.loss(chunk.y, scores)
    return (chunk.share * values,)


def _chunk_value_gradient(chunk, params, loss):
    value, gradient = _with_loss(chunk, loss).smooth_value_gradient(params)
    return chunk.share * value, chunk.share * gradient


def _chunk_newton_parts(chunk, params, loss):
    chunk = _with_loss(chunk, loss)
    raw = chunk.raw_prediction(*chunk.unpack(params))
    value, gradient = chunk.smooth_value_gradient(params, raw=raw)
    if chunk.loss.has_block_curvature:
        hessian = chunk.sampled_multinomial_hessian(raw, np.arange(raw.shape[0]))
    else:
        hessian = chunk.hessian_matrix(params, raw=raw)
    share = chunk.share
    return share * value, share * gradient, share * hessian


def _residual(chunk, params):
    c, a = chunk.loss.affine_parts(chunk.y)
    return c - a * chunk.raw_prediction(*chunk.unpack(params))


def _chunk_kink_distance(chunk, params):
    return (chunk.share * (chunk.sample_weight @ np.abs(_residual(chunk, params))),)


def _chunk_near_kink_count(chunk, params, reach):
    near = (np.abs(_residual(chunk, params)) <= reach) & (chunk.sample_weight > 0)
    return (np.count_nonzero(near),)


def _sides(chunk, points, reach):
    """The candidates (near the kink at the first point, or not strictly on
    their first side at a later one) and each sample's first side."""
    first = _residual(chunk, points[0])
    candidates = np.abs(first) <= reach
    upper_side = first > 0
    for point in points[1:]:
        residual = _residual(chunk, point)
        candidates |= np.where(upper_side, residual <= 0, residual >= 0)
    return candidates, upper_side


def _chunk_reduced_rows(chunk, points, reach):
    candidates, upper_side = _sides(chunk, points, reach)
    _, a = chunk.loss.affine_parts(chunk.y)
    group = np.where(upper_side, 2, 0) + (a > 0)
    rows, targets, weights, _, _ = folded_rows(
        chunk.X, chunk.y, chunk.sample_weight, chunk.loss, candidates, group
    )
    return rows, targets, chunk.share * weights


def _chunk_rmatvec(chunk, values):
    # The chunk's own weights are not in ``values``: no share.
    return (chunk.rmatvec(values),)


def _chunk_rows(chunk, index):
    return chunk.rows(index)


def _chunk_crossings(chunk, points, reach):
    candidates, upper_side = _sides(chunk, points[:-1], reach)
    residual = _residual(chunk, points[-1])
    crossed = np.where(upper_side, residual <= 0, residual >= 0)
    return (np.count_nonzero(crossed & ~candidates & (chunk.sample_weight > 0)),)


def _chunk_dual_parts(chunk, params, shift, scale):
    coef, intercept = chunk.unpack(params)
    raw = chunk.raw_prediction(coef, intercept) + shift
    loss = chunk.loss
    derivative = scale * loss.gradient(chunk.y, raw)
    weighted = chunk.weighted(derivative).reshape(-1, chunk.n_outputs)
    with np.errstate(over="ignore", invalid="ignore"):
        conjugate = chunk.sample_weight @ loss.conjugate(chunk.y, derivative)
    curvature = (
        chunk.sample_weight @ loss.hessian(chunk.y, raw) if loss.has_curvature else 0.0
    )
    share = chunk.share
    return (
        share * conjugate,
        share * chunk.rmatvec(weighted),
        share * chunk.column_sums(weighted),
        share * curvature,
    )


# -- predictions ------------------------------------------------------------
def lazy_prediction(estimator, X, method, n_columns=None, dtype=float):
    """``method`` (an in-memory prediction method of the fitted ``estimator``)
    on each chunk of rows of a Dask ``X``, lazily, after the checks of
    ``predict``: fitted, and as many features as in ``fit``. A Dask array
    of one value per row (``n_columns=None``) or of ``n_columns`` columns."""
    check_is_fitted(estimator)
    X = validate_dask_X(estimator, X, reset=False)  # whole rows per chunk
    if n_columns is None:
        return X.map_blocks(method, drop_axis=1, dtype=dtype, meta=np.empty(0, dtype))
    return X.map_blocks(
        method,
        chunks=(X.chunks[0], (n_columns,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype),
    )
