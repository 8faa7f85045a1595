"""The one objective every estimator minimizes, over the coefficients and intercept.

    J(W, b) = sum_i s_i * L(y_i, x_i . W + b)
              + alpha * (l1_ratio * ||W||_1 + (1 - l1_ratio) / 2 * ||W||_F**2)

with ``s_i`` the sample weights normalized to sum to one (so the data term is
the weighted mean of the loss) and the intercept ``b`` never penalized.
``W`` has shape ``(n_features, n_outputs)``: one column for regression and
binary classification, one per class for multinomial models.

Parameters are packed into one flat vector, coefficients first (``W``
raveled in C order) and intercepts last, which is what ``scipy.optimize``
works on.  Dense and sparse ``X`` go through the same code: ``X @ W`` and
``X.T @ G``.

With an intercept, the objective works on implicitly centered features
``X - x_mean`` (the weighted column means): the same problem with the
intercept shifted by ``x_mean . W``, far better conditioned when the
features are far from zero. Centering is never materialized, so sparse ``X``
stays sparse and no copy of ``X`` is made: ``matvec`` and ``rmatvec``
subtract the mean's contribution. ``solve`` converts intercepts in and out.
"""

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

# Rows per block when the dense Hessian is accumulated block by block.
_GRAM_BLOCK_ROWS = 4096
# Entries of X per block of rows in a Hessian product on a dense X (1.6 MB
# in float64: within a core's 2 MB cache on the machines measured).
_PRODUCT_BLOCK_ELEMENTS = 200_000
# Hessian products on sparse X use only the samples of non-zero curvature
# when they are at most this share of all.
_CURVED_SHARE = 0.75
# Entries per block of the lifted rows z_i (x) p_i of the sampled multinomial
# Hessian (8 MB).
_LIFTED_BLOCK_ELEMENTS = 2**20
# Products with a sparse X run on threads, one block of rows each, when every
# block holds at least this many non-zeros (a product of 100,000 takes about
# 0.1 ms, handing a block to a thread about 0.02 ms).
_NONZEROS_PER_THREAD = 100_000
# The dense Hessian is accumulated on threads, one range of rows each, when
# every range has at least this many rows (two blocks).
_GRAM_ROWS_PER_THREAD = 2 * _GRAM_BLOCK_ROWS
# Products of a dense X with several columns (multinomial models) run on
# threads, one range of rows each, when every range holds at least this many
# entries of X (two blocks of a Hessian product).
_DENSE_ELEMENTS_PER_THREAD = 2 * _PRODUCT_BLOCK_ELEMENTS


@functools.cache
def threadpool_controller():
    """The BLAS libraries loaded in this process (found once: a scan costs 2 ms)."""
    return ThreadpoolController()


def allowed_threads():
    """How many threads the user lets BLAS use (``threadpoolctl``, environment).

    The most of any BLAS loaded: a library built for one thread (some
    packages bring their own) stays at one under any limit.
    """
    limits = [
        library.num_threads
        for library in threadpool_controller().select(user_api="blas").lib_controllers
    ]
    return max(limits, default=1)


def blas_on_one_thread():
    """A context in which BLAS calls run on one thread.

    For solves whose BLAS work is on vectors only: sparse ``X`` (its
    products go through ``scipy.sparse``, not BLAS, on threads of their
    own: see ``ThreadedSparseRows``) and L-BFGS-B (whose
    work is on vectors of the size of the parameters). There threads gain
    nothing, and they cost a lot: NumPy and SciPy each load an OpenBLAS
    with its own threads, which spin for a while after every call, so
    alternating calls (SciPy's in L-BFGS-B, NumPy's in the objective) leave
    each library's threads fighting the other's for the cores. Measured on
    2 cores: the sparse hinge box dual 7.5 -> 3.7 s (L-BFGS-B's own time
    2.6 -> 0.75 s), sparse Huber 0.31 -> 0.25 s, dense focal (L-BFGS-B)
    0.18 -> 0.10 s at 30,000 x 100. Also for work that is on threads of
    our own (the dense Hessian, ``LinearObjective._dense_gram``, and the
    products of a dense ``X`` with several outputs, ``ThreadedDenseRows``). The limit
    is process-wide while it lasts, as scikit-learn's own
    ``threadpool_limits`` sections are.
    """
    return threadpool_controller().limit(limits=1, user_api="blas")


@functools.cache
def _thread_pool(n_workers):
    return ThreadPoolExecutor(max_workers=n_workers)


# A child forked from a process whose pool has threads would inherit the pool
# but not its threads, and wait forever on its first product.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_thread_pool.cache_clear)


def _on_threads(task, n_tasks):
    """``[task(k) for k in range(n_tasks)]``, task 0 on the calling thread."""
    pool = _thread_pool(max(n_tasks - 1, 1))
    futures = [pool.submit(task, k) for k in range(1, n_tasks)]
    results = [task(0)]
    return results + [future.result() for future in futures]


def _summed(parts):
    """The sum over ``parts`` of each element of their tuples."""
    return tuple(functools.reduce(np.add, terms) for terms in zip(*parts, strict=True))


class ThreadedSparseRows:
    """A CSR matrix whose products run on threads, one block of rows each.

    ``scipy.sparse`` products run on one thread, and they are most of a fit
    on sparse ``X``; SciPy releases the GIL inside them, so blocks of rows
    on separate threads run at once. The blocks are views of ``X`` (no copy),
    cut where the non-zeros split evenly. ``A @ v`` fills the blocks' slices
    of the result; ``A.T @ u`` sums the blocks' ``A_k.T @ u_k``. Measured on
    2 cores at 50,000 x 20,000 with 2,000,000 non-zeros: 2.7 -> 1.3-1.5 ms per
    product.
    """

    def __init__(self, X, n_blocks):
        self.shape = X.shape
        self.dtype = X.dtype
        cuts = np.searchsorted(X.indptr, np.arange(1, n_blocks) * (X.nnz / n_blocks))
        bounds = np.unique(np.concatenate([[0], cuts, [X.shape[0]]]))
        self._rows = list(itertools.pairwise(bounds))
        self._blocks = [_row_block(X, start, stop) for start, stop in self._rows]
        self._transposed_blocks = [_transposed(block) for block in self._blocks]

    @classmethod
    def wrap(cls, X, threads):
        """``X`` itself, or ``X`` on threads where it is sparse and large enough.

        A CSC matrix is the transpose of a CSR one (the same arrays): its
        blocks are blocks of columns, and the roles of the products swap.
        """
        n_blocks = min(threads, getattr(X, "nnz", 0) // _NONZEROS_PER_THREAD)
        if n_blocks < 2 or X.format not in ("csr", "csc"):
            return X
        if X.format == "csc":
            return cls(_transposed(X), n_blocks).T
        return cls(X, n_blocks)

    def __matmul__(self, other):
        other = np.asarray(other)
        result = np.empty(
            (self.shape[0], *other.shape[1:]), np.result_type(self.dtype, other)
        )

        def block_product(k):
            start, stop = self._rows[k]
            result[start:stop] = self._blocks[k] @ other

        _on_threads(block_product, len(self._blocks))
        return result

    @property
    def T(self):
        return _TransposedThreadedRows(self)

    def transposed_product(self, values):
        """``A.T @ values``, summed over the blocks."""

        def block_product(k):
            start, stop = self._rows[k]
            return self._transposed_blocks[k] @ values[start:stop]

        return functools.reduce(np.add, _on_threads(block_product, len(self._blocks)))


class ThreadedDenseRows:
    """A dense ``X`` whose products with several columns run on threads.

    The rows are cut into one range per thread; ``A @ V`` fills each range's
    rows of the result, ``A.T @ U`` sums the ranges' ``(U_k.T @ X_k).T``, each
    on its own thread, with BLAS on one thread for the whole solve
    (``LinearObjective.products_on_own_threads``). Views of ``X``, no copy.

    Why: OpenBLAS runs the small matrix products of a blocked Hessian
    product (``LinearObjective._dense_hessian_product``) on one thread and
    leaves the other core idle, and splitting the whole-matrix products
    over its own threads left those spinning after each call, slowing the
    next blocked product. With every pass over ``X`` on our ranges, no BLAS
    thread is left to spin. In the multinomial fit at 30,000 x 100 with
    five classes, on 2 cores: Hessian product 3.8 against 5.5-8 ms,
    ``X @ W`` 3.0 against 3.8, ``U.T @ X`` 2.2 against 3.5, the sampled
    Hessian 43 against 53-70 ms.

    The products are ``np.dot``, not ``@``: NumPy's ``matmul`` with a
    transposed operand did not run on two threads at once (two halves of
    ``U.T @ X`` took 3.9 ms on two threads, the whole 3.7 ms on one), where
    ``np.dot`` on the same operands did (2.4 against 3.8 ms).
    """

    def __init__(self, X, n_ranges):
        self.X = X
        self.shape = X.shape
        self.dtype = X.dtype
        bounds = np.linspace(0, X.shape[0], n_ranges + 1).astype(int)
        self.ranges = list(itertools.pairwise(bounds))

    @classmethod
    def wrap(cls, X, threads, n_outputs):
        """``X`` itself, or ``X`` on threads where it is dense, large enough and
        multiplied by several columns (one column is a matrix-vector product,
        which OpenBLAS's own threads split well)."""
        if not isinstance(X, np.ndarray) or n_outputs < 2:
            return X
        n_ranges = min(threads, X.size // _DENSE_ELEMENTS_PER_THREAD)
        return cls(X, n_ranges) if n_ranges >= 2 else X

    def on_ranges(self, task):
        """``[task(start, stop) for each range]``, the ranges on threads."""
        return _on_threads(lambda k: task(*self.ranges[k]), len(self.ranges))

    def __matmul__(self, other):
        other = np.asarray(other)
        result = np.empty(
            (self.shape[0], *other.shape[1:]), np.result_type(self.dtype, other)
        )

        def range_product(start, stop):
            result[start:stop] = np.dot(self.X[start:stop], other)

        self.on_ranges(range_product)
        return result

    @property
    def T(self):
        return _TransposedThreadedRows(self)

    def transposed_product(self, values):
        """``A.T @ values``, summed over the ranges."""

        def range_product(start, stop):
            # BLAS is about twice as fast on U.T @ X (one output row per
            # column of U) as on X.T @ U for a C-ordered X.
            return np.dot(values[start:stop].T, self.X[start:stop]).T

        return functools.reduce(np.add, self.on_ranges(range_product))


class _TransposedThreadedRows:
    """``A.T`` for a ``ThreadedSparseRows`` or ``ThreadedDenseRows`` ``A``: only
    its product."""

    def __init__(self, rows):
        self.shape = rows.shape[::-1]
        self._rows = rows

    def __matmul__(self, values):
        return self._rows.transposed_product(np.asarray(values))

    @property
    def T(self):
        return self._rows


def _row_block(X, start, stop):
    first, last = X.indptr[start], X.indptr[stop]
    return _on_arrays(
        sp.csr_matrix,
        (stop - start, X.shape[1]),
        X.data[first:last],
        X.indices[first:last],
        X.indptr[start : stop + 1] - first,
    )


def _transposed(matrix):
    """The transpose of a CSR (CSC) matrix as a CSC (CSR) one on its arrays."""
    other_format = sp.csc_matrix if matrix.format == "csr" else sp.csr_matrix
    return _on_arrays(
        other_format, matrix.shape[::-1], matrix.data, matrix.indices, matrix.indptr
    )


def _on_arrays(matrix_class, shape, data, indices, indptr):
    """A compressed sparse matrix on the given arrays, without a copy.

    SciPy's constructors copy index arrays that are views of larger ones
    (``_prune_array``), and the point of the blocks is to share X's: the
    arrays are set on an empty matrix of the right shape instead.
    """
    matrix = matrix_class(shape, dtype=data.dtype)
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix


class LinearObjective:
    """A pointwise loss lifted to the linear model ``f = X @ W + b``.

    Parameters
    ----------
    loss : PointwiseLoss
        The loss, see ``sklearn_losses._loss``.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The design matrix, used as it is (never copied here).
    y : ndarray of shape (n_samples,)
        The target in the loss's encoding.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights; normalized here to sum to one.
    alpha : float
        Overall penalty strength, ``alpha >= 0``.
    l1_ratio : float
        Share of the L1 norm in the penalty, in ``[0, 1]``.
    fit_intercept : bool
        Whether ``b`` is a free parameter or fixed at zero.
    n_outputs : int
        Number of columns of ``W``.
    threads : int or None
        Threads for the products with a sparse ``X``; by default as many as
        BLAS may use (``threadpoolctl``'s limit, or the environment's).
    """

    def __init__(
        self,
        loss,
        X,
        y,
        sample_weight,
        *,
        alpha,
        l1_ratio,
        fit_intercept,
        n_outputs=1,
        threads=None,
    ):
        self.loss = loss
        self.X = X
        self.threads = allowed_threads() if threads is None else threads
        # What the products go through: X, or X on threads (same products).
        self._X_for_products = ThreadedDenseRows.wrap(
            ThreadedSparseRows.wrap(X, self.threads), self.threads, n_outputs
        )
        self.y = y
        self.sample_weight = sample_weight / sample_weight.sum()
        self.l1_strength = alpha * l1_ratio
        self.l2_strength = alpha * (1.0 - l1_ratio)
        self.fit_intercept = fit_intercept
        self.n_outputs = n_outputs
        self.n_features = X.shape[1]
        self.x_mean = (
            np.asarray(X.T @ self.sample_weight, dtype=float).ravel()
            if fit_intercept
            else np.zeros(self.n_features)
        )

    @property
    def products_on_own_threads(self):
        """Whether the products with ``X`` leave BLAS's threads idle.

        True for a sparse ``X`` (its products go through ``scipy.sparse``)
        and for a dense one on ``ThreadedDenseRows``: solves then keep BLAS on
        one thread (``blas_on_one_thread``).
        """
        return sp.issparse(self.X) or isinstance(
            self._X_for_products, ThreadedDenseRows
        )

    def _row_ranges(self):
        """The ranges of rows that work on ``X`` is split into: those of
        ``ThreadedDenseRows``, else one range of all the rows."""
        X = self._X_for_products
        if isinstance(X, ThreadedDenseRows):
            return X.ranges
        return [(0, self.X.shape[0])]

    def _on_row_ranges(self, task):
        """``[task(start, stop) for each of _row_ranges()]``, on threads."""
        ranges = self._row_ranges()
        return _on_threads(lambda k: task(*ranges[k]), len(ranges))

    # -- the centered design matrix ---------------------------------------------
    def matvec(self, coef, rows_of_X=None):
        """``(X - x_mean) @ coef`` without forming the centered matrix.

        ``rows_of_X``, if given, is a subset of the rows of ``X`` to use instead.
        """
        X = self._X_for_products if rows_of_X is None else rows_of_X
        product = np.asarray(X @ coef)
        if not self.fit_intercept:  # nothing to center
            return product
        return product - self.x_mean @ coef

    def rmatvec(self, values, rows_of_X=None):
        """``(X - x_mean).T @ values`` without forming the centered matrix.

        ``rows_of_X`` as in ``matvec``, with ``values`` one per row of it.
        """
        X = self._X_for_products if rows_of_X is None else rows_of_X
        if values.ndim == 2 and values.shape[1] > 1 and isinstance(X, np.ndarray):
            # BLAS is about twice as fast on values.T @ X (one output row per
            # class) as on X.T @ values for a dense C-ordered X.
            product = (values.T @ X).T
        else:
            product = np.asarray(X.T @ values)
        if not self.fit_intercept:  # nothing to center
            return product
        return product - np.multiply.outer(self.x_mean, self.column_sums(values))

    def column_sums(self, values):
        """``values.sum(axis=0)`` for values per sample (and output).

        As a product with a vector of ones: NumPy's reduction over the long
        axis of a tall C-ordered array with few columns is about ten times
        slower.
        """
        if getattr(self, "_ones", None) is None:
            self._ones = np.ones(self.X.shape[0])
        return self._ones[: values.shape[0]] @ values

    def feature_scale(self):
        """``sqrt(mean square of the centered feature + l2)`` per feature.

        A diagonal preconditioner for first-order methods, cached: the square
        root of the diagonal of the Hessian for a loss of unit curvature, so
        that neither a large feature nor the L2 term on a tiny one dominates
        the conditioning (1 where both are zero).
        """
        if getattr(self, "_feature_scale", None) is None:
            if sp.issparse(self.X):
                second_moment = np.asarray(
                    self.X.multiply(self.X).T @ self.sample_weight
                ).ravel()
            else:
                # Squared by blocks into one buffer (no squared copy of X) and
                # summed by BLAS: 1.7 ms at 30,000 x 100, against 3.4 ms for
                # einsum's loop.
                second_moment = np.zeros(self.n_features)
                buffer = np.empty(
                    (min(_GRAM_BLOCK_ROWS, self.X.shape[0]), self.n_features)
                )
                for start in range(0, self.X.shape[0], _GRAM_BLOCK_ROWS):
                    block = self.X[start : start + _GRAM_BLOCK_ROWS]
                    squared = np.multiply(
                        block, block, out=buffer[: block.shape[0]], dtype=float
                    )
                    second_moment += (
                        self.sample_weight[start : start + _GRAM_BLOCK_ROWS] @ squared
                    )
            variance = np.maximum(second_moment - self.x_mean**2, 0.0)
            scale = np.sqrt(variance + self.l2_strength)
            self._feature_scale = np.where(scale > 0, scale, 1.0)
        return self._feature_scale

    def rows(self, index):
        """Dense rows of the centered matrix."""
        selected = self.X[index]
        selected = selected.toarray() if hasattr(selected, "toarray") else selected
        return np.asarray(selected, dtype=float) - self.x_mean

    def to_centered_intercept(self, coef, intercept):
        """Intercept of the centered problem for the model ``X @ W + b``."""
        return intercept + self.x_mean @ coef

    def from_centered_intercept(self, coef, intercept):
        """Intercept ``b`` of the model ``X @ W + b`` from the centered problem's."""
        return intercept - self.x_mean @ coef

    # -- packing -----------------------------------------------------------
    @property
    def n_coef(self):
        return self.n_features * self.n_outputs

    @property
    def n_params(self):
        """Length of the packed vector: coefficients, then intercepts if fitted."""
        return self.n_coef + self.n_outputs * int(self.fit_intercept)

    def pack(self, coef, intercept):
        """Flatten ``W`` of shape (n_features, n_outputs) and ``b`` into one vector.

        Without an intercept, ``b`` is not a parameter and is left out.
        """
        parts = [np.ravel(coef)] + ([np.ravel(intercept)] if self.fit_intercept else [])
        return np.concatenate(parts).astype(float)

    def unpack(self, params):
        """Return ``(W, b)`` from the packed vector."""
        coef = params[: self.n_coef].reshape(self.n_features, self.n_outputs)
        if self.fit_intercept:
            intercept = params[self.n_coef :]
        else:
            intercept = np.zeros(self.n_outputs)
        return coef, intercept

    # -- values ------------------------------------------------------------
    def raw_prediction(self, coef, intercept):
        """``X @ W + b``, raveled to one dimension for single-output losses."""
        raw = self.matvec(coef) + intercept
        return raw if self.loss.is_multiclass else raw.ravel()

    def data_term(self, coef, intercept):
        """Weighted mean of the pointwise loss."""
        raw = self.raw_prediction(coef, intercept)
        return self.sample_weight @ self.loss.loss(self.y, raw)

    def penalty(self, coef):
        """``alpha * (l1_ratio * ||W||_1 + (1 - l1_ratio) / 2 * ||W||**2)``."""
        return self.l1_strength * np.abs(coef).sum() + 0.5 * self.l2_strength * (
            coef.ravel() @ coef.ravel()
        )

    def value(self, coef, intercept):
        """The full objective ``J(W, b)``."""
        return self.data_term(coef, intercept) + self.penalty(coef)

    def weighted(self, values, rows=slice(None)):
        """``values`` per sample (and class) times each sample's weight.

        ``rows`` (a slice) when ``values`` are of those samples only.
        """
        weight = self.sample_weight[rows]
        return values * (weight[:, None] if values.ndim == 2 else weight)

    def pointwise(self, raw):
        """``loss.loss_gradient(y, raw)``: the loss and its derivative per sample.

        On the ranges of rows of ``ThreadedDenseRows``, each on its own
        thread (NumPy releases the GIL inside its element-wise loops), with
        the caller's floating-point error handling (NumPy keeps it per
        thread). In the multinomial fit at 30,000 x 100 with five classes it
        is 16 of the 17 evaluations of the softmax, one per trial of the
        line search.
        """
        if len(self._row_ranges()) == 1:
            return self.loss.loss_gradient(self.y, raw)
        error_handling = np.geterr()

        def range_part(start, stop):
            with np.errstate(**error_handling):
                return self.loss.loss_gradient(self.y[start:stop], raw[start:stop])

        losses, derivatives = zip(*self._on_row_ranges(range_part), strict=True)
        return np.concatenate(losses), np.concatenate(derivatives)

    def smooth_value_gradient(self, params, raw=None, pointwise=None):
        """Data term plus the L2 part of the penalty, and its gradient.

        The L1 part is left to the solver, which handles it exactly (by the
        split ``W = W+ - W-`` or by a linear program).  Returns
        ``(value, gradient)`` as ``scipy.optimize.minimize(jac=True)`` wants.
        ``raw``, if given, is ``raw_prediction`` at ``params``, already known;
        ``pointwise``, if given, is ``pointwise(raw)``, also known.
        """
        coef, intercept = self.unpack(params)
        if pointwise is None:
            if raw is None:
                raw = self.raw_prediction(coef, intercept)
            pointwise = self.pointwise(raw)
        loss, dloss = pointwise
        # Weighted derivative per sample (and class): the chain rule's inner part.
        weighted = self.weighted(dloss).reshape(-1, self.n_outputs)
        coef_gradient = self.rmatvec(weighted) + self.l2_strength * coef
        value = self.sample_weight @ loss + 0.5 * self.l2_strength * (
            coef.ravel() @ coef.ravel()
        )
        parts = [coef_gradient.ravel()]
        if self.fit_intercept:
            parts.append(self.column_sums(weighted))
        return value, np.concatenate(parts)

    def hessian_operator(self, params, raw=None):
        """The (generalized) Hessian of the smooth part at ``params``, as a function.

        Available for single-output losses with a ``hessian`` method (Huber,
        squared hinge, logistic, smoothed hinge and pinball) and for the
        multinomial loss: ``X.T @ diag(s * L'') @ X`` plus the L2 term, with
        the intercept as a column of ones (for the multinomial loss, a
        ``K x K`` block per sample in place of ``s_i * L''``). The curvature
        is computed once, so each product costs one ``X @ V`` and one
        ``X.T @ U``; for the multinomial loss on a dense ``X``, both block by
        block of rows (``_dense_hessian_product``). ``raw`` as in
        ``smooth_value_gradient``.
        """
        if raw is None:
            raw = self.raw_prediction(*self.unpack(params))
        rows_of_X = None
        if hasattr(self.loss, "hessian_product_factory"):
            per_sample = self.loss.hessian_product_factory(self.y, raw)

            def curvature_times(change, rows=slice(None)):
                return self.weighted(per_sample(change, rows), rows)

            if not sp.issparse(self.X):
                return self._dense_hessian_product(curvature_times)

        else:
            curvature = self.curvature(raw)
            curved = np.flatnonzero(curvature)
            if sp.issparse(self.X) and curved.size <= _CURVED_SHARE * curvature.size:
                # Samples of zero curvature (Huber outside its band, squared
                # hinge beyond the margin, a smoothed kink off it) add nothing
                # to a product: copying the other rows once (one pass) makes
                # every product cheaper by their share.
                rows_of_X, curvature = self.X[curved], curvature[curved]
                rows_of_X = ThreadedSparseRows.wrap(rows_of_X, self.threads)

            def curvature_times(change):
                return curvature[:, None] * change

        def product(direction):
            direction_coef, direction_intercept = self.unpack(direction)
            change = self.matvec(direction_coef, rows_of_X) + direction_intercept
            weighted = curvature_times(change)
            parts = [
                self.rmatvec(weighted, rows_of_X).ravel()
                + self.l2_strength * direction_coef.ravel()
            ]
            if self.fit_intercept:
                parts.append(self.column_sums(weighted))
            return np.concatenate(parts)

        return product

    def _dense_hessian_product(self, curvature_times):
        """Hessian products on a dense ``X``, reading each block of rows once.

        ``curvature_times(change, rows)`` applies the weighted curvature of
        the samples ``rows`` (a slice) to their score changes. Per block of
        rows, small enough to stay in cache: the score changes
        ``block @ V``, the curvature, and ``block.T @ U``, so that ``X``
        streams from memory once per product instead of twice. In the
        multinomial fit at 30,000 x 100 with five classes, on 2 cores: 6.4
        against 8.6 ms per product, 0.88 of the fit's time. For one output
        the two whole-matrix products (BLAS's matrix-vector products, on its
        threads) are faster than blocks of matrix products: logistic L2 at
        5,000 x 2,000 took 1.28 times as long by blocks.

        ``block.T @ U``, not ``(U.T @ block).T``: at this size BLAS splits
        the former over its threads and not the latter (97 against 157
        microseconds for 2,000 rows). On ``ThreadedDenseRows`` each range of
        rows runs its blocks on its own thread, with BLAS on one (3.8 against
        5.5-8 ms per product at 30,000 x 100, five classes).
        """
        X = self.X
        rows_per_block = max(1, _PRODUCT_BLOCK_ELEMENTS // max(self.n_features, 1))
        ones = np.ones(min(rows_per_block, X.shape[0]))

        def product(direction):
            direction_coef, direction_intercept = self.unpack(direction)
            # The centering and the intercept move every score of a sample
            # by the same amount per output.
            shift = direction_intercept - self.x_mean @ direction_coef

            def range_part(first, last):
                coef_part = np.zeros((self.n_features, self.n_outputs))
                sums = np.zeros(self.n_outputs)
                for start in range(first, last, rows_per_block):
                    stop = min(start + rows_per_block, last)
                    # A view for float64; a float32 X is converted a block at
                    # a time.
                    block = np.asarray(X[start:stop], dtype=float)
                    change = np.dot(block, direction_coef)
                    change += shift
                    weighted = curvature_times(change, slice(start, stop))
                    coef_part += np.dot(block.T, weighted)
                    sums += np.dot(ones[: stop - start], weighted)
                return coef_part, sums

            coef_part, sums = _summed(self._on_row_ranges(range_part))
            coef_part -= np.multiply.outer(self.x_mean, sums)
            coef_part += self.l2_strength * direction_coef
            return self.pack(coef_part, sums)

        return product

    def sampled_multinomial_hessian(self, raw, rows):
        """The multinomial Hessian of the smooth part, estimated from ``rows``.

        ``sum_i s_i z_i z_i.T (x) (diag(p_i) - p_i p_i.T)`` over the sampled
        rows, with ``z_i`` the centered features and a one for the intercept,
        scaled by ``n_samples / len(rows)``; plus the L2 term. Formed as
        ``K`` weighted Gram matrices (the ``diag(p)`` part) minus the Gram
        matrix of the rows ``sqrt(s_i) z_i (x) p_i``, accumulated over blocks
        of rows so that memory stays at one block. Dense, of the size of the
        packed parameters (coefficient ``j`` of class ``k`` at ``j * K + k``,
        intercepts last).
        """
        scale = raw.shape[0] / len(rows)
        # The sampled rows are cut like X's rows, one share per thread.
        shares = np.array_split(rows, len(self._row_ranges()))
        diagonal_part, outer_part = _summed(
            _on_threads(
                lambda k: self._sampled_hessian_parts(
                    raw, shares[k], scale, len(shares)
                ),
                len(shares),
            )
        )
        hessian = diagonal_part.reshape(outer_part.shape)
        hessian -= outer_part
        coefficients = np.arange(self.n_coef)
        hessian[coefficients, coefficients] += self.l2_strength
        return hessian

    def _sampled_hessian_parts(self, raw, rows, scale, n_shares):
        """The ``diag(p)`` and ``p p.T`` parts of the sampled Hessian over ``rows``.

        One of ``n_shares`` running at once, which split the lifted rows'
        memory between them.
        """
        n_classes = self.n_outputs
        size = self.n_features + int(self.fit_intercept)
        diagonal_part = np.zeros((size, n_classes, size, n_classes))
        outer_part = np.zeros((size * n_classes, size * n_classes))
        # The lifted rows take n_classes times the memory of the features.
        rows_per_block = max(
            1,
            min(
                _GRAM_BLOCK_ROWS,
                _LIFTED_BLOCK_ELEMENTS // (n_shares * size * n_classes),
            ),
        )
        for start in range(0, len(rows), rows_per_block):
            block_rows = rows[start : start + rows_per_block]
            features = np.ones((len(block_rows), size))
            features[:, : self.n_features] = self.rows(block_rows)
            weight = scale * self.sample_weight[block_rows]
            proba = self.loss.probabilities(raw[block_rows])
            for k in range(n_classes):
                diagonal_part[:, k, :, k] += np.dot(
                    features.T, features * (weight * proba[:, k])[:, None]
                )
            lifted = (
                features[:, :, None] * (np.sqrt(weight)[:, None] * proba)[:, None, :]
            ).reshape(len(block_rows), size * n_classes)
            outer_part += np.dot(lifted.T, lifted)
        return diagonal_part, outer_part

    def curvature(self, raw):
        """Weighted second derivative of the loss per sample, ``s * L''``."""
        return self.sample_weight * self.loss.hessian(self.y, raw)

    def hessian_matrix(self, params, columns=None, raw=None, curvature=None):
        """The (generalized) Hessian of the smooth part at ``params``, dense.

        Same conditions as ``hessian_operator``. Only the samples of non-zero
        curvature enter the product ``X_Q.T @ diag(d) @ X_Q``; the centering
        is applied to the small result, never to ``X``. ``columns`` (indices
        of coefficients) restricts it to those coefficients and the
        intercept; ``raw`` as in ``smooth_value_gradient``, ``curvature``
        the result of ``curvature(raw)`` if already known.
        """
        if curvature is None:
            if raw is None:
                raw = self.raw_prediction(*self.unpack(params))
            curvature = self.curvature(raw)
        if sp.issparse(self.X):
            gram, weighted_sum = self._sparse_gram(curvature, columns)
        else:
            gram, weighted_sum = self._dense_gram(curvature, columns)
        mean = self.x_mean if columns is None else self.x_mean[columns]
        total = curvature.sum()
        gram = (
            gram
            - np.outer(mean, weighted_sum)
            - np.outer(weighted_sum, mean)
            + total * np.outer(mean, mean)
        )
        gram[np.diag_indices_from(gram)] += self.l2_strength
        if not self.fit_intercept:
            return gram
        size = gram.shape[0] + 1
        hessian = np.empty((size, size))
        hessian[:-1, :-1] = gram
        hessian[:-1, -1] = hessian[-1, :-1] = weighted_sum - total * mean
        hessian[-1, -1] = total
        return hessian

    def _sparse_gram(self, curvature, columns):
        """``X_Q.T @ diag(d) @ X_Q`` and ``X_Q.T @ d`` for sparse ``X``."""
        curved = curvature > 0
        X, weights = self.X, curvature
        if not curved.all():
            X, weights = X[curved], curvature[curved]
        if columns is not None:
            X = X[:, columns]
        gram = (X.T @ sp.diags(weights) @ X).toarray()
        return gram, np.asarray(X.T @ weights, dtype=float).ravel()

    def _dense_gram(self, curvature, columns):
        """``X_Q.T @ diag(d) @ X_Q`` and ``X_Q.T @ d`` for dense ``X``, by blocks.

        Each block of rows is scaled by ``sqrt(d)`` into one buffer and its
        Gram matrix added by NumPy's product ``Z.T @ Z`` (which NumPy hands
        to BLAS as a symmetric rank-k update and mirrors); blocks keep the
        scaled copy small and in cache, so memory stays at one block
        whatever ``n_samples``. Calling SciPy's BLAS ``syrk`` on the blocks
        directly, as before, was as fast at 30,000 x 100 but three times
        slower at 100,000 x 300 (628 against 193 ms) and 1.7 times at
        20,000 x 1,000.

        With several threads allowed and enough rows, the rows are cut into
        one range per thread, each range's blocks summed on its own thread
        with BLAS on one thread. OpenBLAS's own threads split each block's
        rank-k update instead: for few features the split costs more than
        it saves, and its time varied from fit to fit. Measured on 2 cores,
        median of cold calls: 1,000,000 x 51 in 195-435 ms on BLAS's two
        threads, 167 ms on one, 88 ms on two ranges; 200,000 x 51 in 42-102,
        34 and 18 ms; 3,000 x 301 in 6.3, 10.1 and 6.4 ms.
        """
        X = self.X
        size = X.shape[1] if columns is None else len(columns)
        n_samples = X.shape[0]
        n_ranges = min(self.threads, n_samples // _GRAM_ROWS_PER_THREAD)
        root = np.sqrt(curvature)
        if size == 0 or n_ranges < 2:
            return self._gram_of_rows(curvature, root, columns, 0, n_samples)
        bounds = np.linspace(0, n_samples, n_ranges + 1).astype(int)

        def range_gram(k):
            return self._gram_of_rows(curvature, root, columns, *bounds[k : k + 2])

        with blas_on_one_thread():
            return _summed(_on_threads(range_gram, n_ranges))

    def _gram_of_rows(self, curvature, root, columns, first, last):
        """``_dense_gram`` over the rows ``first:last``; ``root = sqrt(curvature)``."""
        X = self.X
        size = X.shape[1] if columns is None else len(columns)
        gram = np.zeros((size, size))
        weighted_sum = np.zeros(size)
        if size == 0 or last <= first:
            return gram, weighted_sum
        # One buffer for the scaled blocks: a fresh block per step costs page
        # faults, measured 17-23 ms against 12 ms for the Gram at 30,000 x 100.
        buffer = np.empty((min(_GRAM_BLOCK_ROWS, last - first), size))
        for start in range(first, last, _GRAM_BLOCK_ROWS):
            stop = min(start + _GRAM_BLOCK_ROWS, last)
            rows = np.flatnonzero(curvature[start:stop] > 0) + start
            if rows.size == 0:
                continue
            if columns is None:
                block = X[start:stop] if rows.size == stop - start else X[rows]
            else:
                block = X[np.ix_(rows, columns)]
            scaled = np.multiply(
                block, root[rows, None], out=buffer[: rows.size], dtype=float
            )
            gram += scaled.T @ scaled
            weighted_sum += scaled.T @ root[rows]
        return gram, weighted_sum

    def smooth_hessian_product(self, params, direction):
        """The (generalized) Hessian of the smooth part times ``direction``."""
        return self.hessian_operator(params)(direction)

    # -- piecewise-linear losses: dual and exact intercept --------------------
    def soft_threshold(self, z):
        """Coefficients that minimize ``-z . w + l1 * |w|_1 + l2 / 2 * |w|**2``."""
        return (
            np.sign(z)
            * np.maximum(np.abs(z) - self.l1_strength, 0.0)
            / self.l2_strength
        )

    def dual_value(self, theta):
        """Dual objective of a piecewise-linear loss with an L2 or elastic-net penalty.

        With ``L(y, f) = max over u in [lower, upper] of u * (c - a * f)``, the
        dual variables ``theta_i = s_i * u_i`` give the lower bound

            D(theta) = c . theta - ||soft_threshold(X.T @ (a * theta))||**2 * l2 / 2

        valid for every ``theta`` in the box, and also satisfying
        ``a . theta = 0`` when the intercept is fitted.
        """
        c, a = self.loss.affine_parts(self.y)
        coef = self.soft_threshold(self.rmatvec(a * theta).ravel())
        return c @ theta - 0.5 * self.l2_strength * (coef @ coef)

    def best_intercept(self, coef):
        """Exact minimizer over ``b`` of a piecewise-linear data term at fixed ``W``.

        The data term is convex and piecewise linear in ``b``, with one kink
        per sample; sorting the kinks and accumulating slopes finds where the
        slope crosses zero.  Where the minimizers form an interval, its
        midpoint is returned, so the choice does not depend on how the
        weight of a sample is spread over duplicates.
        """
        c, a = self.loss.affine_parts(self.y)
        lower, upper = self.loss.dual_box()
        offset = self.matvec(coef).ravel()
        weight = self.sample_weight
        keep = weight > 0
        c, a, offset, weight = c[keep], a[keep], offset[keep], weight[keep]
        # Sample i contributes weight * max_u u * (c - a * (offset + b)): a kink
        # at b = a * c - offset; its slope in b is -a * upper on the side where
        # c - a * f > 0 and -a * lower on the other.
        kinks = a * c - offset
        slope_left = np.where(a > 0, -a * upper, -a * lower) * weight
        slope_right = np.where(a > 0, -a * lower, -a * upper) * weight
        order = np.argsort(kinks, kind="stable")
        kinks = kinks[order]
        increments = (slope_right - slope_left)[order]
        slope_after = slope_left.sum() + np.cumsum(increments)
        scale = np.abs(increments).sum()
        tolerance = 1e-12 * scale
        first = np.searchsorted(slope_after, -tolerance, side="left")
        if first >= kinks.size:
            return kinks[-1]
        last = np.searchsorted(slope_after, tolerance, side="right")
        if slope_after[first] > tolerance or last >= kinks.size:
            # The slope jumps across zero at this kink: a unique minimizer.
            return kinks[first]
        return 0.5 * (kinks[first] + kinks[last])
