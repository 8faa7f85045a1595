"""The one objective every estimator minimizes, over the coefficients and intercept.

    J(W, b) = sum_i s_i * L(y_i, x_i . W + b) + P(W),
    P(W) = l1 * ||W||_1 + l2 / 2 * ||W||_F**2      (``_penalty.ElasticNet``)

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

This module holds the maths only. Every pass over the rows goes through a
``_parallel.RowExecution``: its products, and sums of per-range parts
written here (the value, gradient, Hessian products and Gram matrices of
one range of rows).
"""

import numpy as np
import scipy.sparse as sp

from ._loss import row_dots
from ._parallel import (
    ExecutionSettings,
    RowExecution,
    blocks,
    product,
    transposed_product,
)

# Hessian products on sparse X use only the samples of non-zero curvature
# when they are at most this share of all (copying them costs one pass).
_CURVED_SHARE = 0.75
# Rows of the Gram matrix centered at a time (hessian_matrix).
CENTERING_ROWS = 256


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
    penalty : ElasticNet
        The penalty on ``W``.
    fit_intercept : bool
        Whether ``b`` is a free parameter or fixed at zero.
    n_outputs : int
        Number of columns of ``W``.
    execution : ExecutionSettings or None
        Threads and cut sizes for the work over the rows of ``X``; by
        default as many threads as BLAS may use (``threadpoolctl``'s limit).
    """

    def __init__(
        self,
        loss,
        X,
        y,
        sample_weight,
        *,
        penalty,
        fit_intercept,
        n_outputs=1,
        execution=None,
    ):
        self.loss = loss
        self.X = X
        self.settings = (
            ExecutionSettings.from_blas() if execution is None else execution
        )
        self.execution = RowExecution(X, self.settings, n_outputs)
        self.y = y
        self.sample_weight = sample_weight / sample_weight.sum()
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.n_outputs = n_outputs
        self.n_features = X.shape[1]
        self.x_mean = (
            np.asarray(X.T @ self.sample_weight, dtype=float).ravel()
            if fit_intercept
            else np.zeros(self.n_features)
        )
        # (loss, the best intercept for W = 0 with that loss), once found
        # (solvers.dispatch.best_intercept_for_zero).
        self.intercept_for_zero = None
        # (loss, curvature, Hessian without its L2 term) of the last Hessian
        # Newton's method formed on this problem: a path's next alpha starts
        # with chord steps on it (solvers.newton.FactoredHessian).
        self.kept_hessian = None
        # The smoothed fit that screened the last linear program on this
        # problem: a path's next alpha continues it
        # (solvers.linear_program.fit_for_screening).
        self.kept_screening_fit = None
        # The dual point (theta as a share of each box) that the last
        # box-constrained dual solve on this problem reached: a path's next
        # alpha starts from it (solvers.box_dual).
        self.kept_dual_point = None
        # Whether the problem is solved at a sequence of alphas (_path), where
        # what one solve keeps for the next pays more often.
        self.along_path = False

    @property
    def threads(self):
        return self.settings.threads

    def on_rows(self, X, y, sample_weight, loss=None, penalty=None):
        """The same problem (intercept, execution; loss and penalty unless
        given) on other rows."""
        return LinearObjective(
            self.loss.for_new_target() if loss is None else loss,
            X,
            y,
            sample_weight,
            penalty=self.penalty if penalty is None else penalty,
            fit_intercept=self.fit_intercept,
            n_outputs=self.n_outputs,
            execution=self.settings,
        )

    # -- the centered design matrix ---------------------------------------------
    def matvec(self, coef, rows_of_X=None):
        """``(X - x_mean) @ coef`` without forming the centered matrix.

        ``rows_of_X``, if given, is a subset of the rows of ``X`` to use
        instead (a matrix or a ``RowExecution``).
        """
        rows_of_X = self.execution if rows_of_X is None else rows_of_X
        result = product(rows_of_X, coef)
        if not self.fit_intercept:  # nothing to center
            return result
        return _shifted_in_place(result, self.x_mean @ coef, np.subtract)

    def rmatvec(self, values, rows_of_X=None):
        """``(X - x_mean).T @ values`` without forming the centered matrix.

        ``rows_of_X`` as in ``matvec``, with ``values`` one per row of it.
        """
        rows_of_X = self.execution if rows_of_X is None else rows_of_X
        result = transposed_product(rows_of_X, values)
        if not self.fit_intercept:  # nothing to center
            return result
        return result - np.multiply.outer(self.x_mean, self.column_sums(values))

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

        A diagonal preconditioner for first-order methods: the square root
        of the diagonal of the Hessian for a loss of unit curvature, so that
        neither a large feature nor the L2 term on a tiny one dominates the
        conditioning (1 where both are zero). The variances are cached, the
        scale derived at each call with the penalty's ``l2`` of the moment:
        along a path the penalty changes on the same problem, and a scale
        cached with the first alpha's ``l2`` (1,000 times the last one's)
        made the box-constrained dual's constraint penalty as much too stiff
        (1,000 L-BFGS-B iterations and a gap of 5e-3 at an alpha where a
        cold fit took 71 to 1e-13).
        """
        if getattr(self, "_feature_variance", None) is None:
            if sp.issparse(self.X):
                second_moment = self._sparse_second_moment()
            else:
                second_moment = self._dense_second_moment()
            self._feature_variance = np.maximum(second_moment - self.x_mean**2, 0.0)
        scale = np.sqrt(self._feature_variance + self.penalty.l2)
        return np.where(scale > 0, scale, 1.0)

    def _dense_second_moment(self):
        """``sum_i s_i x_ij**2`` per feature, squared by blocks into one buffer
        (no squared copy of X) and summed by BLAS."""
        block_rows = self.settings.gram_block_rows
        second_moment = np.zeros(self.n_features)
        buffer = np.empty((min(block_rows, self.X.shape[0]), self.n_features))
        for rows in blocks(slice(0, self.X.shape[0]), block_rows):
            block = self.X[rows]
            squared = np.multiply(
                block, block, out=buffer[: block.shape[0]], dtype=float
            )
            second_moment += self.sample_weight[rows] @ squared
        return second_moment

    def _sparse_second_moment(self, n_blocks=16):
        """``sum_i s_i x_ij**2`` per feature of a sparse ``X``, by blocks of
        rows (CSR) or columns (CSC): ``X.multiply(X)`` at once is a copy of
        ``X`` (on 50,000 x 20,000 it raised a sparse fit's peak from 0.3 to
        2.2 times ``X``), a block only a sixteenth of one."""
        X = self.X
        second_moment = np.zeros(self.n_features)
        by_rows = X.format == "csr"
        length = X.shape[0] if by_rows else X.shape[1]
        for part in blocks(slice(0, length), max(1, -(-length // n_blocks))):
            if by_rows:
                block = X[part]
                second_moment += block.multiply(block).T @ self.sample_weight[part]
            else:
                block = X[:, part]
                second_moment[part] = block.multiply(block).T @ self.sample_weight
        return second_moment

    def rows(self, index, columns=None):
        """Dense rows of the centered matrix (of its ``columns`` only, if
        given: selected before a sparse ``X`` is made dense, whose rows on
        all columns can be many times the size of ``X`` itself)."""
        selected = self.X[index]
        mean = self.x_mean
        if columns is not None:
            selected, mean = selected[:, columns], mean[columns]
        selected = selected.toarray() if hasattr(selected, "toarray") else selected
        return np.asarray(selected, dtype=float) - mean

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
        raw = _shifted_in_place(self.matvec(coef), intercept, np.add)
        return raw if self.loss.is_multiclass else raw.ravel()

    def data_term(self, coef, intercept, raw=None):
        """Weighted mean of the pointwise loss (at the scores ``raw`` of
        ``(coef, intercept)`` where they are at hand)."""
        if raw is None:
            raw = self.raw_prediction(coef, intercept)
        return self.sample_weight @ self.loss.loss(self.y, raw)

    def value(self, coef, intercept, raw=None):
        """The full objective ``J(W, b)``; ``raw`` as in ``data_term``."""
        return self.data_term(coef, intercept, raw) + self.penalty.value(coef)

    def weighted(self, values, rows=slice(None), out=None):
        """``values`` per sample (and class) times each sample's weight.

        ``rows`` (a slice) when ``values`` are of those samples only;
        ``out`` as NumPy's (``values`` itself to weight in place).
        """
        weight = self.sample_weight[rows]
        return np.multiply(
            values, weight[:, None] if values.ndim == 2 else weight, out=out
        )

    def pointwise(self, raw):
        """``loss.loss_gradient(y, raw)``: the loss and its derivative per sample.

        On the ranges of rows of the execution, each on its own thread
        (NumPy releases the GIL inside its element-wise loops). In the
        multinomial fit it is one evaluation per trial of the line search.
        """
        if len(self.execution.ranges) == 1:
            return self.loss.loss_gradient(self.y, raw)
        return self.execution.concatenate_over_ranges(
            lambda rows: self.loss.loss_gradient(self.y[rows], raw[rows])
        )

    @property
    def scores_rival_X(self):
        """Whether the scores (several per sample) are at least a quarter the
        size of ``X`` (its stored entries, dense or sparse): then every
        per-sample array weighs on the peak memory as ``X`` itself does."""
        return self.n_outputs > 1 and 4 * self.X.shape[0] * self.n_outputs >= (
            self.X.size
        )

    def pointwise_over_scores(self, raw):
        """``pointwise(raw)``, the derivatives written over ``raw`` (the
        caller's own scores, no longer needed), block by block of rows on
        the ranges' threads: where the scores rival ``X`` in size, a
        separate array of derivatives would be one ``X`` more at the peak."""
        loss = np.empty(raw.shape[0])

        def block_part(rows):
            loss[rows], raw[rows] = self.loss.loss_gradient(self.y[rows], raw[rows])

        self.execution.over_blocks(block_part, raw[0].size)
        return loss, raw

    def value_and_slope_along(self, raw, change, length):
        """``sum_i s_i L(y_i, f_i + t q_i)`` and its derivative in ``t``,
        ``sum_i s_i L'_i . q_i``, at ``t = length`` along the score change
        ``q = change`` from ``f = raw``.

        Block by block of rows (``score_block_entries`` scores each), on
        the ranges' threads, keeping no per-sample array: with many classes
        each is as large as ``X`` (the line search of the multinomial fit).
        """
        rows_per_block = max(
            1, self.settings.score_block_entries // max(raw[0].size, 1)
        )
        error_handling = np.geterr()

        def range_part(rows):
            sums = np.zeros(2)
            with np.errstate(**error_handling):
                for block in blocks(rows, rows_per_block):
                    loss, derivative = self.loss.loss_gradient(
                        self.y[block], raw[block] + length * change[block]
                    )
                    weight = self.sample_weight[block]
                    sums[0] += weight @ loss
                    sums[1] += weight @ row_dots(derivative, change[block])
            return (sums,)

        (sums,) = self.execution.sum_over_ranges(range_part)
        return sums[0], sums[1]

    def smooth_value_gradient(self, params, raw=None, pointwise=None):
        """Data term plus the L2 part of the penalty, and its gradient.

        The L1 part is left to the solver, which handles it exactly (by the
        split ``W = W+ - W-``, on orthants or by a linear program). Returns
        ``(value, gradient)`` as ``scipy.optimize.minimize(jac=True)`` wants.
        ``raw``, if given, is ``raw_prediction`` at ``params``, already known;
        ``pointwise``, if given, is ``pointwise(raw)``, also known.
        """
        coef, intercept = self.unpack(params)
        if pointwise is None:
            if raw is None and self.scores_rival_X:
                # The scores are this function's own: the derivatives take
                # their place.
                loss, dloss = self.pointwise_over_scores(
                    self.raw_prediction(coef, intercept)
                )
            else:
                loss, dloss = self.pointwise(
                    self.raw_prediction(coef, intercept) if raw is None else raw
                )
            # Its own derivatives, weighted in place: with many classes each
            # per-sample array is as large as X.
            weighted = self.weighted(dloss, out=dloss)
        else:
            loss, dloss = pointwise
            weighted = self.weighted(dloss)
        # Weighted derivative per sample (and class): the chain rule's inner part.
        weighted = weighted.reshape(-1, self.n_outputs)
        coef_gradient = self.rmatvec(weighted) + self.penalty.l2 * coef
        value = self.sample_weight @ loss + self.penalty.smooth_value(coef)
        parts = [coef_gradient.ravel()]
        if self.fit_intercept:
            parts.append(self.column_sums(weighted))
        return value, np.concatenate(parts)

    # -- second order ------------------------------------------------------
    def hessian_operator(self, params, raw=None):
        """The (generalized) Hessian of the smooth part at ``params``, as a function.

        For losses with a curvature per sample (``has_curvature``: Huber,
        squared hinge, logistic, smoothed hinge and pinball) and for the
        multinomial loss (``has_block_curvature``): ``X.T @ diag(s * L'') @
        X`` plus the L2 term, with the intercept as a column of ones (for
        the multinomial loss, a ``K x K`` block per sample in place of
        ``s_i * L''``). The curvature is computed once, so each product
        costs one ``X @ V`` and one ``X.T @ U``; for the multinomial loss on
        a dense ``X``, both block by block of rows
        (``_dense_hessian_product``). ``raw`` as in ``smooth_value_gradient``.
        """
        if raw is None:
            raw = self.raw_prediction(*self.unpack(params))
        rows_of_X = None
        if self.loss.has_block_curvature:
            per_sample = self.loss.hessian_product_factory(self.y, raw)

            def curvature_times(change, rows=slice(None)):
                result = per_sample(change, rows)
                return self.weighted(result, rows, out=result)

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
                rows_of_X = self.execution.subset(curved)
                curvature = curvature[curved]

            def curvature_times(change):
                return curvature[:, None] * change

        def product(direction):
            direction_coef, direction_intercept = self.unpack(direction)
            change = self.matvec(direction_coef, rows_of_X) + direction_intercept
            weighted = curvature_times(change)
            parts = [
                self.rmatvec(weighted, rows_of_X).ravel()
                + self.penalty.l2 * direction_coef.ravel()
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
        streams from memory once per product instead of twice (for one
        output the two whole-matrix products are faster, docs/solvers.rst).
        ``block.T @ U``, not ``(U.T @ block).T``: at this size BLAS splits
        the former over its threads and not the latter.
        """
        X = self.X
        rows_per_block = max(
            1,
            min(
                self.settings.product_block_entries // max(self.n_features, 1),
                self.settings.score_block_entries // self.n_outputs,
            ),
        )
        ones = np.ones(min(rows_per_block, X.shape[0]))

        def product(direction):
            direction_coef, direction_intercept = self.unpack(direction)
            # The centering and the intercept move every score of a sample
            # by the same amount per output.
            shift = direction_intercept - self.x_mean @ direction_coef

            def range_part(rows):
                coef_part = np.zeros((self.n_features, self.n_outputs))
                sums = np.zeros(self.n_outputs)
                for block_rows in blocks(rows, rows_per_block):
                    # A view for float64; a float32 X is converted a block at
                    # a time.
                    block = np.asarray(X[block_rows], dtype=float)
                    change = np.dot(block, direction_coef)
                    change += shift
                    weighted = curvature_times(change, block_rows)
                    coef_part += np.dot(block.T, weighted)
                    sums += np.dot(ones[: block.shape[0]], weighted)
                return coef_part, sums

            coef_part, sums = self.execution.sum_over_ranges(range_part)
            coef_part -= np.multiply.outer(self.x_mean, sums)
            coef_part += self.penalty.l2 * direction_coef
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
        shares = np.array_split(rows, len(self.execution.ranges))
        diagonal_part, outer_part = self.execution.sum_over_ranges(
            lambda share: self._sampled_hessian_parts(raw, share, scale, len(shares)),
            shares,
        )
        hessian = diagonal_part.reshape(outer_part.shape)
        hessian -= outer_part
        coefficients = np.arange(self.n_coef)
        hessian[coefficients, coefficients] += self.penalty.l2
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
                self.settings.gram_block_rows,
                self.settings.lifted_block_entries // (n_shares * size * n_classes),
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

        For losses with a curvature per sample. Only the samples of non-zero
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
        gram[np.diag_indices_from(gram)] += self.penalty.l2
        if not self.fit_intercept:
            return gram
        mean = self.x_mean if columns is None else self.x_mean[columns]
        total = curvature.sum()
        # The centering, G - m s' - s m' + t m m' = G - m u' - u m' with
        # u = s - t m / 2, in place: the Gram matrix of many columns can be
        # as large as X.
        half_corrected = weighted_sum - 0.5 * total * mean
        # By blocks of rows: whole outer products would be a second Gram
        # matrix.
        for rows in blocks(slice(0, gram.shape[0]), CENTERING_ROWS):
            gram[rows] -= np.outer(mean[rows], half_corrected)
            gram[rows] -= np.outer(half_corrected[rows], mean)
        size = gram.shape[0] + 1
        hessian = np.empty((size, size))
        hessian[:-1, :-1] = gram
        hessian[:-1, -1] = hessian[-1, :-1] = weighted_sum - total * mean
        hessian[-1, -1] = total
        return hessian

    def hessian_update(self, hessian, change):
        """``hessian_matrix`` at the curvature ``d + change``, from ``hessian``
        at ``d``, in place: the Hessian is linear in the curvature, each
        sample adding ``d_i z_i z_i'`` with ``z_i = x_i - x_mean`` and, with
        an intercept, a last entry 1 (the centering is exactly that). Costs
        one product over the rows whose curvature changed, against one over
        all curved rows to form it anew (piecewise-quadratic losses change
        few rows per step)."""
        rows = np.flatnonzero(change)
        if rows.size == 0:
            return hessian
        part = self.rows(rows)
        if self.fit_intercept:
            part = np.hstack([part, np.ones((rows.size, 1))])
        hessian += (part.T * change[rows]) @ part
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
        whatever ``n_samples``. The ranges of rows, where long enough, run
        on threads (``RowExecution.gram_ranges``).
        """
        size = self.n_features if columns is None else len(columns)
        root = np.sqrt(curvature)
        ranges = self.execution.gram_ranges() if size > 0 else [slice(0, len(root))]
        return self.execution.sum_over_ranges(
            lambda rows: self._gram_of_rows(curvature, root, columns, rows), ranges
        )

    def _gram_of_rows(self, curvature, root, columns, rows):
        """``_dense_gram`` over the range ``rows``; ``root = sqrt(curvature)``."""
        X = self.X
        size = X.shape[1] if columns is None else len(columns)
        gram = np.zeros((size, size))
        weighted_sum = np.zeros(size)
        if size == 0 or rows.stop <= rows.start:
            return gram, weighted_sum
        block_rows = self.settings.gram_block_rows
        # One buffer for the scaled blocks: a fresh block per step costs page
        # faults (docs/solvers.rst).
        buffer = np.empty((min(block_rows, rows.stop - rows.start), size))
        first = True
        for block in blocks(rows, block_rows):
            curved = np.flatnonzero(curvature[block] > 0) + block.start
            if curved.size == 0:
                continue
            # Copies of float64 rows are scaled where they are; a view of
            # X, or float32 rows, into the buffer.
            if columns is None and curved.size == block.stop - block.start:
                part, copied = X[block], False
            elif columns is None:
                part, copied = X[curved], True
            else:
                part, copied = X[np.ix_(curved, columns)], True
            own = copied and part.dtype == np.float64
            scaled = np.multiply(
                part,
                root[curved, None],
                out=part if own else buffer[: curved.size],
                dtype=float,
            )
            # The first block's product written into the Gram matrix: a
            # temporary of many columns would weigh as much as X.
            if first:
                np.matmul(scaled.T, scaled, out=gram)
                first = False
            else:
                gram += scaled.T @ scaled
            weighted_sum += scaled.T @ root[curved]
        return gram, weighted_sum

    def smooth_hessian_product(self, params, direction):
        """The (generalized) Hessian of the smooth part times ``direction``."""
        return self.hessian_operator(params)(direction)

    # -- piecewise-linear losses: dual and exact intercept --------------------
    def dual_value(self, theta):
        """Dual objective of a piecewise-linear loss with an L2 or elastic-net penalty.

        With ``L(y, f) = max over u in [lower, upper] of u * (c - a * f)``, the
        dual variables ``theta_i = s_i * u_i`` give the lower bound

            D(theta) = c . theta - ||coef_from_dual(X.T @ (a * theta))||**2 * l2 / 2

        (``ElasticNet.coef_from_dual``: the soft threshold at ``l1`` over
        ``l2``), valid for every ``theta`` in the box, and also satisfying
        ``a . theta = 0`` when the intercept is fitted.
        """
        c, a = self.loss.affine_parts(self.y)
        coef = self.penalty.coef_from_dual(self.rmatvec(a * theta).ravel())
        return c @ theta - 0.5 * self.penalty.l2 * (coef @ coef)

    def best_intercept(self, coef, offset=None):
        """Exact minimizer over ``b`` of a piecewise-linear data term at fixed ``W``.

        The data term is convex and piecewise linear in ``b``, with one kink
        per sample; sorting the kinks and accumulating slopes finds where the
        slope crosses zero.  Where the minimizers form an interval, its
        midpoint is returned, so the choice does not depend on how the
        weight of a sample is spread over duplicates. ``offset``, if given,
        is ``matvec(coef)``, already known.
        """
        c, a = self.loss.affine_parts(self.y)
        lower, upper = self.loss.dual_box()
        offset = (self.matvec(coef) if offset is None else offset).ravel()
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


def _shifted_in_place(scores, shift, operation):
    """``operation(scores, shift)`` written over ``scores`` (a fresh product)
    where the types allow: with many classes the scores are as large as
    ``X``, and a second copy would raise the peak memory by one ``X``."""
    in_place = scores.dtype == np.result_type(scores, shift)
    return operation(scores, shift, out=scores if in_place else None)
