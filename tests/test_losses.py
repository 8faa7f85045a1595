"""Pointwise losses and the objective: formulas, derivatives, numerical stability."""

import decimal

import numpy as np
import pytest
import scipy.sparse as sp
from objective import pointwise
from scipy.optimize import check_grad
from scipy.special import expit, log_expit
from threadpoolctl import threadpool_info

from sklearn_losses._loss import (
    FocalLoss,
    HingeLoss,
    HuberLoss,
    LogisticLoss,
    MultinomialFocalLoss,
    MultinomialLoss,
    PinballLoss,
    SquaredHingeLoss,
)
from sklearn_losses._objective import LinearObjective
from sklearn_losses._parallel import (
    ExecutionSettings,
    RowExecution,
    ThreadedDenseRows,
    ThreadedSparseRows,
    even_ranges,
)
from sklearn_losses._penalty import ElasticNet

BINARY = [
    (HuberLoss(0.7), "huber", {"delta": 0.7}),
    (PinballLoss(0.3), "pinball", {"quantile": 0.3}),
    (HingeLoss(), "hinge", {}),
    (SquaredHingeLoss(), "squared_hinge", {}),
    (LogisticLoss(), "logistic", {}),
    (FocalLoss(2.0), "focal", {"gamma": 2.0}),
    (FocalLoss(0.5), "focal", {"gamma": 0.5}),
]
SMOOTH_SINGLE = [case for case in BINARY if case[0].is_smooth]
EPSILON = np.finfo(float).eps


def targets(name, rng, n):
    if name in ("huber", "pinball"):
        return rng.standard_normal(n) * 2
    return rng.choice([-1.0, 1.0], n)


@pytest.mark.parametrize("loss, name, params", BINARY)
def test_loss_equals_formula(loss, name, params, rng):
    y = targets(name, rng, 200)
    f = rng.standard_normal(200) * 3
    np.testing.assert_allclose(
        loss.loss(y, f), pointwise(name, y, f, **params), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("loss, name, params", SMOOTH_SINGLE)
def test_gradient_matches_finite_differences(loss, name, params, rng):
    y = targets(name, rng, 300)
    f = rng.standard_normal(300) * 3
    step = 1e-6
    numerical = (loss.loss(y, f + step) - loss.loss(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.gradient(y, f), numerical, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss", [MultinomialLoss(), MultinomialFocalLoss(1.5)])
def test_multiclass_gradient_matches_finite_differences(loss, rng):
    y = rng.integers(0, 4, 50)
    f = rng.standard_normal((50, 4)) * 2
    step = 1e-6
    gradient = loss.gradient(y, f)
    for k in range(4):
        shift = np.zeros((50, 4))
        shift[:, k] = step
        numerical = (loss.loss(y, f + shift) - loss.loss(y, f - shift)) / (2 * step)
        np.testing.assert_allclose(gradient[:, k], numerical, rtol=1e-6, atol=1e-7)


def test_multinomial_focal_with_gamma_zero_is_multinomial(rng):
    y = rng.integers(0, 3, 40)
    f = rng.standard_normal((40, 3))
    focal, plain = MultinomialFocalLoss(0.0), MultinomialLoss()
    np.testing.assert_allclose(focal.loss(y, f), plain.loss(y, f), rtol=1e-12)
    np.testing.assert_allclose(focal.gradient(y, f), plain.gradient(y, f), atol=1e-12)


@pytest.mark.parametrize("scale", [1e4, 1e300])
@pytest.mark.parametrize("loss, name, params", BINARY)
def test_extreme_margins_stay_finite_and_silent(loss, name, params, scale):
    """Margins and residuals of +-1e4 and +-1e300: no overflow, no NaN."""
    f = np.array([-scale, -1.0, 0.0, 1.0, scale])
    y = np.ones(5)
    with np.errstate(all="raise"):
        value, gradient = loss.loss_gradient(y, f)
    assert not np.any(np.isnan(value)) and not np.any(np.isnan(gradient))
    assert np.all(np.isfinite(gradient))
    if name == "squared_hinge" and scale > 1e154:
        # (1 + 1e300)**2 exceeds float64: inf is the honest value.
        assert value[0] == np.inf and np.all(np.isfinite(value[1:]))
    else:
        assert np.all(np.isfinite(value))


def test_logistic_loss_and_derivative_to_the_last_digits():
    """Against SciPy's log_expit and expit, 4 ulps relative over margins from
    -700 to 700 (beyond, SciPy's expit flushes to zero where ours goes on in
    subnormals): the loss and the derivative share one exponential, and
    neither may lose the tail that log(1 + exp(-m)) computed directly would
    round away."""
    margin = np.concatenate(
        [np.linspace(-700.0, 700.0, 20_001), [0.0, -0.0, 1e-20, -1e-20, 36.7, -36.7]]
    )
    for y in (1.0, -1.0):
        loss, derivative = LogisticLoss().loss_gradient(
            np.full(margin.size, y), y * margin
        )
        np.testing.assert_allclose(loss, -log_expit(margin), rtol=4 * EPSILON, atol=0)
        np.testing.assert_allclose(
            derivative, -y * expit(-margin), rtol=4 * EPSILON, atol=0
        )


@pytest.mark.parametrize("loss", [MultinomialLoss(), MultinomialFocalLoss(2.0)])
def test_extreme_multiclass_scores_stay_finite(loss):
    f = np.array([[1e300, -1e300, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([1, 0, 2])
    with np.errstate(all="raise"):
        value, gradient = loss.loss_gradient(y, f)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(gradient))


def _softmax_focal_in_decimal(scores, label, gamma):
    """Softmax focal loss and its gradient in 400-digit decimal arithmetic:
    enough for log p_y to see any 1 - p_y that leaves a result above the
    smallest normal float."""
    with decimal.localcontext(prec=400):
        values = [decimal.Decimal(float(score)) for score in scores]
        top = max(values)
        exponentials = [(value - top).exp() for value in values]
        total = sum(exponentials)
        proba = [exponential / total for exponential in exponentials]
        p_y = proba[label]
        u = sum(p for k, p in enumerate(proba) if k != label)
        log_p = p_y.ln()
        loss = -(u**gamma) * log_p
        gradient = []
        for k, p_k in enumerate(proba):
            change = p_y * ((1 if k == label else 0) - p_k)  # d p_y / d f_k
            modulated = gamma * u ** (gamma - 1) * change * log_p if gamma > 0 else 0
            gradient.append(modulated - u**gamma * change / p_y)
        return loss, gradient


@pytest.mark.parametrize("spread", [1.0, 10.0, 100.0, 700.0])
@pytest.mark.parametrize("gamma", [0, 2, 5])
def test_softmax_focal_loss_and_gradient_to_high_precision(spread, gamma):
    """Against exact arithmetic, within 1e-9 relative wherever the exact
    value is a normal float, for scores up to 700 apart (where p_y and
    1 - p_y are within rounding of 1 or 0, or underflow): log p_y and
    log(1 - p_y) come from one softplus each (the form through log_softmax
    lost every digit of losses below 1e-16)."""
    rng = np.random.default_rng(int(spread) + gamma)
    scores = rng.standard_normal((20, 5)) * spread
    labels = rng.integers(0, 5, 20)
    loss, gradient = MultinomialFocalLoss(float(gamma)).loss_gradient(labels, scores)
    normal = decimal.Decimal(float(np.finfo(float).tiny))
    for i in range(20):
        exact_loss, exact_gradient = _softmax_focal_in_decimal(
            scores[i], labels[i], gamma
        )
        pairs = [(loss[i], exact_loss), *zip(gradient[i], exact_gradient, strict=True)]
        for ours, exact in pairs:
            if abs(exact) > normal:
                with decimal.localcontext(prec=400):
                    error = abs((decimal.Decimal(float(ours)) - exact) / exact)
                assert error < 1e-9


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize(
    "loss, n_outputs",
    [
        (HuberLoss(0.7), 1),
        (SquaredHingeLoss(), 1),
        (LogisticLoss(), 1),
        (FocalLoss(2.0), 1),
        (MultinomialLoss(), 3),
        (MultinomialFocalLoss(2.0), 3),
    ],
)
def test_objective_gradient_matches_finite_differences(
    loss, n_outputs, fit_intercept, sparse, rng
):
    X = rng.standard_normal((60, 4)) + 1.0
    X = sp.csr_matrix(X) if sparse else X
    if n_outputs > 1:
        y = rng.integers(0, n_outputs, 60)
    elif isinstance(loss, HuberLoss):
        y = rng.standard_normal(60) * 2
    else:
        y = rng.choice([-1.0, 1.0], 60)
    objective = LinearObjective(
        loss,
        X,
        y,
        rng.random(60) + 0.5,
        penalty=ElasticNet.from_alpha(0.1, 0.0),
        fit_intercept=fit_intercept,
        n_outputs=n_outputs,
    )
    params = rng.standard_normal(
        objective.pack(np.zeros((4, n_outputs)), np.zeros(n_outputs)).size
    )
    error = check_grad(
        lambda p: objective.smooth_value_gradient(p)[0],
        lambda p: objective.smooth_value_gradient(p)[1],
        params,
    )
    assert error < 1e-6 * max(
        1.0, np.abs(objective.smooth_value_gradient(params)[1]).max()
    )


def _central_difference_of_gradient(objective, params, direction, step):
    return (
        objective.smooth_value_gradient(params + step * direction)[1]
        - objective.smooth_value_gradient(params - step * direction)[1]
    ) / (2 * step)


@pytest.mark.parametrize("loss", [HuberLoss(0.7), SquaredHingeLoss(), LogisticLoss()])
def test_hessian_product_matches_finite_differences(loss, rng):
    X = rng.standard_normal((60, 4))
    y = rng.choice([-1.0, 1.0], 60) * (1 if not isinstance(loss, HuberLoss) else 1.5)
    objective = LinearObjective(
        loss,
        X,
        y,
        np.ones(60),
        penalty=ElasticNet.from_alpha(0.1, 0.0),
        fit_intercept=True,
    )
    params = rng.standard_normal(5) * 0.1
    direction = rng.standard_normal(5)
    # Stated tolerance: loose, as Huber and squared hinge have kinks in
    # their second derivative that a difference may straddle.
    np.testing.assert_allclose(
        objective.smooth_hessian_product(params, direction),
        _central_difference_of_gradient(objective, params, direction, 1e-7),
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_focal_curvature_is_the_second_derivative_clipped_at_zero(gamma):
    """FocalLoss.hessian against central differences of its derivative over
    margins from -30 to 30 (step 1e-5, to 1e-8 absolute): equal where the
    second derivative is positive, zero where it is negative. gamma = 0 is
    the logistic loss's p (1 - p); for gamma >= 0.5 the loss does bend
    concave somewhere (the clip is not vacuous)."""
    loss = FocalLoss(gamma, scale=1.3)
    raw = np.linspace(-30.0, 30.0, 2001)
    y = np.where(np.arange(raw.size) % 2 == 0, 1.0, -1.0)
    step = 1e-5
    difference = (loss.gradient(y, raw + step) - loss.gradient(y, raw - step)) / (
        2 * step
    )
    curvature = loss.hessian(y, raw)
    np.testing.assert_allclose(curvature, np.maximum(difference, 0.0), atol=1e-8)
    if gamma == 0.0:
        np.testing.assert_allclose(
            curvature, 1.3 * expit(y * raw) * expit(-y * raw), rtol=1e-12, atol=1e-300
        )
    else:
        assert difference.min() < -1e-3


def _multinomial_objective(X, y, sample_weight, fit_intercept, execution=None):
    """Three classes, L2 strength 0.1."""
    return LinearObjective(
        MultinomialLoss(),
        X,
        y,
        sample_weight,
        penalty=ElasticNet.from_alpha(0.1, 0.0),
        fit_intercept=fit_intercept,
        n_outputs=3,
        execution=execution,
    )


def test_multinomial_hessian_product_matches_finite_differences(rng):
    X = rng.standard_normal((60, 4)) + 2.0
    objective = _multinomial_objective(
        X, rng.integers(0, 3, 60), rng.uniform(0.5, 2.0, 60), fit_intercept=True
    )
    params = rng.standard_normal(15) * 0.3
    direction = rng.standard_normal(15)
    # Stated tolerance: central differences of a smooth gradient, step 1e-6.
    np.testing.assert_allclose(
        objective.smooth_hessian_product(params, direction),
        _central_difference_of_gradient(objective, params, direction, 1e-6),
        rtol=1e-6,
        atol=1e-8,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_multinomial_hessian_products_by_blocks_of_rows(fit_intercept, dtype, rng):
    """On dense X the products go block by block of rows; they equal the
    whole-matrix products on the same X held sparse."""
    # 28 entries of 4 features: blocks of 7 rows over 60 samples, several
    # blocks and a partial last one.
    X = (rng.standard_normal((60, 4)) + 2.0).astype(dtype)
    y, weight = rng.integers(0, 3, 60), rng.uniform(0.5, 2.0, 60)
    dense = _multinomial_objective(
        X, y, weight, fit_intercept, ExecutionSettings(product_block_entries=28)
    )
    held_sparse = _multinomial_objective(sp.csr_matrix(X), y, weight, fit_intercept)
    size = 12 + 3 * fit_intercept
    params = rng.standard_normal(size) * 0.3
    by_blocks = dense.hessian_operator(params)
    whole = held_sparse.hessian_operator(params)
    for direction in rng.standard_normal((3, size)):
        # Stated tolerance: two orders of summation of the same products.
        np.testing.assert_allclose(
            by_blocks(direction), whole(direction), rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("loss", [HuberLoss(0.7), SquaredHingeLoss(), LogisticLoss()])
@pytest.mark.parametrize("restricted", ["all", "some", "none"])
def test_hessian_matrix_matches_hessian_products(
    loss, fit_intercept, sparse, restricted, rng
):
    # Blocks of 7 rows over 60 samples: several blocks, a partial last one,
    # and (Huber, squared hinge) samples of zero curvature skipped in each.
    X = rng.standard_normal((60, 6)) + 0.5
    X[rng.random(X.shape) < 0.3] = 0.0
    y = rng.choice([-1.0, 1.0], 60) * (3.0 if isinstance(loss, HuberLoss) else 1.0)
    objective = LinearObjective(
        loss,
        sp.csr_matrix(X) if sparse else X,
        y,
        rng.uniform(0.5, 2.0, 60),
        penalty=ElasticNet.from_alpha(0.1, 0.0),
        fit_intercept=fit_intercept,
        execution=ExecutionSettings(gram_block_rows=7),
    )
    params = rng.standard_normal(6 + fit_intercept)
    assert 0 < np.count_nonzero(
        objective.curvature(objective.raw_prediction(*objective.unpack(params)))
    )
    # "none": only the intercept's row and column (or an empty matrix).
    columns = {"all": None, "some": np.array([0, 2, 5]), "none": np.array([], int)}[
        restricted
    ]
    kept = np.r_[
        np.arange(6) if columns is None else columns, np.arange(6, 6 + fit_intercept)
    ].astype(int)
    product = objective.hessian_operator(params)
    expected = np.zeros((kept.size, kept.size))
    for position, index in enumerate(kept):
        expected[:, position] = product(np.eye(params.size)[:, index])[kept]
    # Stated tolerance: two orders of summation of the same products.
    np.testing.assert_allclose(
        objective.hessian_matrix(params, columns=columns),
        expected,
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_sampled_multinomial_hessian_over_every_row_is_the_hessian(fit_intercept, rng):
    # Blocks of 7 rows over 60 samples: several blocks and a partial last one.
    X = rng.standard_normal((60, 4)) + 2.0
    objective = _multinomial_objective(
        X,
        rng.integers(0, 3, 60),
        rng.uniform(0.5, 2.0, 60),
        fit_intercept,
        ExecutionSettings(gram_block_rows=7),
    )
    size = 12 + 3 * fit_intercept
    params = rng.standard_normal(size) * 0.3
    product = objective.hessian_operator(params)
    expected = np.column_stack([product(column) for column in np.eye(size)])
    raw = objective.raw_prediction(*objective.unpack(params))
    # Stated tolerance: two orders of summation of the same products.
    np.testing.assert_allclose(
        objective.sampled_multinomial_hessian(raw, np.arange(60)),
        expected,
        rtol=1e-12,
        atol=1e-14,
    )
    # Every other row, counted twice, is the same sum over half the rows.
    half = np.arange(0, 60, 2)
    doubled = np.zeros(60)
    doubled[half] = 2 * objective.sample_weight[half]
    objective_on_half = _multinomial_objective(X, objective.y, doubled, fit_intercept)
    # The same centering and weights as the whole problem's, unnormalized.
    objective_on_half.x_mean = objective.x_mean
    objective_on_half.sample_weight = doubled
    product = objective_on_half.hessian_operator(params)
    np.testing.assert_allclose(
        objective.sampled_multinomial_hessian(raw, half),
        np.column_stack([product(column) for column in np.eye(size)]),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("loss", [HuberLoss(0.7), SquaredHingeLoss()])
def test_sparse_hessian_products_over_the_curved_rows_only(loss, fit_intercept, rng):
    """On sparse X the products use only the samples of non-zero curvature;
    they must equal the products over every sample, as the same objective on
    X held dense computes them. Stated tolerance: the same sums with the
    zero terms left out, 1e-12 relative.
    """
    X = rng.standard_normal((80, 6)) + 0.5
    X[rng.random(X.shape) < 0.5] = 0.0
    y = rng.choice([-1.0, 1.0], 80) * (3.0 if isinstance(loss, HuberLoss) else 1.0)
    weight = rng.uniform(0.5, 2.0, 80)
    objective, held_dense = (
        LinearObjective(
            loss,
            matrix,
            y,
            weight,
            penalty=ElasticNet.from_alpha(0.1, 0.0),
            fit_intercept=fit_intercept,
        )
        for matrix in (sp.csr_matrix(X), X)
    )
    # Large coefficients: many margins beyond one, many residuals beyond delta.
    params = 3.0 * rng.standard_normal(6 + fit_intercept)
    curvature = objective.curvature(objective.raw_prediction(*objective.unpack(params)))
    assert 0 < np.count_nonzero(curvature) < 0.75 * curvature.size
    directions = rng.standard_normal((5, params.size))
    subset = objective.hessian_operator(params)
    every_row = held_dense.hessian_operator(params)
    for direction in directions:
        np.testing.assert_allclose(
            subset(direction), every_row(direction), rtol=1e-12, atol=1e-14
        )


def _sparse_with_uneven_rows(rng, n_rows, n_columns, fmt):
    """Random sparse matrix with empty rows and one dense row."""
    X = sp.random(n_rows, n_columns, density=0.05, format="lil", random_state=0)
    X[3] = 0.0
    X[7] = rng.standard_normal(n_columns)
    return X.asformat(fmt)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("n_blocks", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_threaded_sparse_products_equal_scipy_products(
    fmt, n_blocks, dtype, index_dtype, rng
):
    """Products on row blocks (threads) equal SciPy's: the same sums, the
    transposed product in another order, 1e-12 relative. The blocks are
    views of X, not copies."""
    X = _sparse_with_uneven_rows(rng, 300, 40, fmt).astype(dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    threaded = ThreadedSparseRows.wrap(X, n_blocks, nonzeros_per_thread=1)
    rows = threaded if fmt == "csr" else threaded.T
    assert isinstance(rows, ThreadedSparseRows)
    assert len(rows.blocks) == n_blocks
    for block in rows.blocks + rows.transposed_blocks:
        assert np.shares_memory(block.data, X.data)
        assert np.shares_memory(block.indices, X.indices)
    assert threaded.shape == X.shape and threaded.T.shape == X.T.shape
    for shape in [(), (3,)]:
        coef = rng.standard_normal((40, *shape))
        values = rng.standard_normal((300, *shape))
        np.testing.assert_allclose(threaded @ coef, X @ coef, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            threaded.T @ values, X.T @ values, rtol=1e-12, atol=1e-12
        )


def test_small_or_dense_matrices_are_not_put_on_threads(rng):
    X = sp.random(50, 10, density=0.2, format="csr", random_state=0)
    wrap = ThreadedSparseRows.wrap
    # Far fewer non-zeros than a thread's share by default.
    assert wrap(X, 2, ExecutionSettings().nonzeros_per_thread) is X
    assert wrap(X, 1, 1) is X  # one thread allowed
    dense = rng.standard_normal((50, 10))
    assert wrap(dense, 2, 1) is dense
    coordinates = sp.coo_matrix(X)
    assert wrap(coordinates, 2, 1) is coordinates  # no rows to cut


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_dense_multinomial_objective_on_threads_equals_it_on_one_thread(
    threads, dtype, fit_intercept, rng
):
    """On a dense X with several outputs, products, value, gradient, Hessian
    products (several blocks per range of rows) and the sampled Hessian are
    the same with the rows cut into one range per thread (1e-12 relative:
    the same block products, summed in another order). Such an objective
    asks for BLAS on one thread; one on a single thread does not."""
    X = (rng.standard_normal((200, 4)) + 1.0).astype(dtype)
    sizes = ExecutionSettings(
        dense_entries_per_thread=1, product_block_entries=28, lifted_block_entries=150
    )
    one, several = _objective_on_threads(
        MultinomialLoss(), X, fit_intercept, (1, threads), rng, sizes
    )
    assert one.execution.matrix is X and not one.execution.on_own_threads
    rows = several.execution.matrix
    assert isinstance(rows, ThreadedDenseRows)
    assert len(rows.ranges) == threads and several.execution.on_own_threads
    assert rows.ranges[0].start == 0 and rows.ranges[-1].stop == 200
    coef, values = rng.standard_normal((4, 3)), rng.standard_normal((200, 3))
    np.testing.assert_allclose(several.matvec(coef), one.matvec(coef), rtol=1e-12)
    np.testing.assert_allclose(
        several.rmatvec(values), one.rmatvec(values), rtol=1e-12, atol=1e-14
    )
    params = rng.standard_normal(one.n_params)
    _assert_same_value_gradient_and_products(several, one, params, rng)
    raw = one.raw_prediction(*one.unpack(params))
    sampled = np.arange(1, 200, 3)
    np.testing.assert_allclose(
        several.sampled_multinomial_hessian(raw, sampled),
        one.sampled_multinomial_hessian(raw, sampled),
        rtol=1e-12,
        atol=1e-14,
    )


def test_only_large_dense_matrices_with_several_outputs_go_on_threads(rng):
    wrap = ThreadedDenseRows.wrap
    X = rng.standard_normal((50, 10))
    # Fewer entries than two threads' share by default.
    assert wrap(X, 2, 3, ExecutionSettings().dense_entries_per_thread) is X
    assert wrap(X, 1, 3, 1) is X  # one thread allowed
    assert wrap(X, 2, 1, 1) is X  # one output: a matrix-vector product
    sparse = sp.csr_matrix(X)
    assert wrap(sparse, 2, 3, 1) is sparse
    threaded = wrap(X, 2, 3, 1)
    assert threaded.ranges == [slice(0, 25), slice(25, 50)]


def _assert_same_value_gradient_and_products(objective, reference, params, rng):
    """Value, gradient and three Hessian products at ``params`` agree (1e-12
    relative: the same products summed in another order)."""
    value, gradient = objective.smooth_value_gradient(params)
    expected_value, expected_gradient = reference.smooth_value_gradient(params)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-12, atol=1e-14)
    products = objective.hessian_operator(params)
    expected_products = reference.hessian_operator(params)
    for direction in rng.standard_normal((3, params.size)):
        np.testing.assert_allclose(
            products(direction), expected_products(direction), rtol=1e-12, atol=1e-14
        )


def _objective_on_threads(loss, X, fit_intercept, thread_counts, rng, sizes):
    """One objective on ``X`` (targets drawn for ``loss``), built for each count
    with the cut sizes of ``sizes`` (an ``ExecutionSettings``)."""
    n_samples = X.shape[0]
    if loss.is_multiclass:
        y = rng.integers(0, 3, n_samples)
    elif isinstance(loss, HuberLoss):
        y = 3.0 * rng.standard_normal(n_samples)
    else:
        y = rng.choice([-1.0, 1.0], n_samples)
    sample_weight = rng.uniform(0.5, 2.0, n_samples)
    return [
        LinearObjective(
            loss,
            X,
            y,
            sample_weight,
            penalty=ElasticNet.from_alpha(0.1, 0.0),
            fit_intercept=fit_intercept,
            n_outputs=3 if loss.is_multiclass else 1,
            execution=sizes.with_threads(threads),
        )
        for threads in thread_counts
    ]


@pytest.mark.parametrize("loss", [LogisticLoss(), HuberLoss(0.7), MultinomialLoss()])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_objective_on_threads_equals_objective_on_one_thread(loss, fit_intercept, rng):
    """Value, gradient and Hessian products of the objective on sparse X are
    the same with the products on threads (1e-12 relative: the transposed
    product sums the blocks in another order); Huber's products go over the
    rows of non-zero curvature, which are put on threads too."""
    X = _sparse_with_uneven_rows(rng, 200, 12, "csr")
    sizes = ExecutionSettings(nonzeros_per_thread=1)
    one, two = _objective_on_threads(loss, X, fit_intercept, (1, 2), rng, sizes)
    assert one.execution.matrix is X
    assert isinstance(two.execution.matrix, ThreadedSparseRows)
    params = 2.0 * rng.standard_normal(one.n_params)
    _assert_same_value_gradient_and_products(two, one, params, rng)


@pytest.mark.parametrize("loss", [LogisticLoss(), HuberLoss(0.7)])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("columns", [None, [0, 3, 4, 9]])
@pytest.mark.parametrize("threads", [2, 3])
def test_dense_hessian_on_threads_equals_hessian_on_one_thread(
    loss, fit_intercept, columns, threads, rng
):
    """The dense Hessian summed over ranges of rows on threads equals the
    one summed on one thread (1e-12 relative: the same block products,
    added in another order), with several blocks per range, Huber's rows of
    zero curvature skipped, and a subset of the coefficients; BLAS has its
    threads back afterwards."""
    X = rng.standard_normal((200, 12))
    sizes = ExecutionSettings(gram_block_rows=16, gram_rows_per_thread=32)
    one, several = _objective_on_threads(
        loss, X, fit_intercept, (1, threads), rng, sizes
    )
    params = 2.0 * rng.standard_normal(one.n_params)
    assert one.execution.gram_ranges() == [slice(0, 200)]
    bounds = np.linspace(0, 200, threads + 1).astype(int)
    assert several.execution.gram_ranges() == [
        slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    outside = _blas_threads()
    expected = one.hessian_matrix(params, columns=columns)
    hessian = several.hessian_matrix(params, columns=columns)
    assert _blas_threads() == outside
    np.testing.assert_allclose(hessian, expected, rtol=1e-12, atol=1e-14)
    if isinstance(loss, HuberLoss):
        assert (
            np.count_nonzero(one.curvature(one.raw_prediction(*one.unpack(params))))
            < 200
        )


@pytest.mark.parametrize("n_ranges", [1, 2, 3])
def test_sums_over_ranges_run_each_range_once_with_blas_on_one_thread(n_ranges, rng):
    """``RowExecution.sum_over_ranges`` runs the task once per range (several
    at once with BLAS on one thread, one range as it is) and adds the parts
    in order; BLAS has its threads back afterwards."""
    X = rng.standard_normal((90, 3))
    execution = RowExecution(X, ExecutionSettings(threads=n_ranges))
    ranges = even_ranges(90, n_ranges)
    seen = []
    outside = _blas_threads()

    def task(rows):
        seen.append((rows, _blas_threads()))
        return X[rows].sum(axis=0), np.array([rows.stop - rows.start])

    column_sums, count = execution.sum_over_ranges(task, ranges)
    assert sorted((rows.start for rows, _ in seen)) == [rows.start for rows in ranges]
    inside = [max(threads, default=1) for _, threads in seen]
    assert inside == ([max(outside, default=1)] if n_ranges == 1 else [1] * n_ranges)
    assert _blas_threads() == outside
    np.testing.assert_allclose(column_sums, X.sum(axis=0), rtol=1e-12)
    assert count[0] == 90


def _blas_threads():
    return [
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    ]


@pytest.mark.parametrize("seed", range(40))
def test_best_constant_of_the_kinked_losses_minimizes_the_weighted_loss(seed):
    """Pinball: the weighted quantile; hinge: the label of more weight. No
    constant on a fine grid, nor any target value, does better (1e-12),
    with ties in y, zero weights and integer weights."""
    rng = np.random.default_rng(seed)
    n_samples = int(rng.integers(1, 30))
    y = rng.standard_normal(n_samples).round(1)
    weight = rng.integers(0, 3, n_samples).astype(float)
    weight[0] = 1.0
    pinball = PinballLoss(rng.uniform(0.05, 0.95))
    best = pinball.best_constant(y, weight)[0]
    candidates = np.append(np.linspace(y.min() - 1, y.max() + 1, 2001), y)
    values = [weight @ pinball.loss(y, np.full(n_samples, c)) for c in candidates]
    assert weight @ pinball.loss(y, np.full(n_samples, best)) <= min(values) + 1e-12
    signs = np.where(rng.random(n_samples) < 0.5, 1.0, -1.0)
    best = HingeLoss().best_constant(signs, weight)[0]
    values = [
        weight @ HingeLoss().loss(signs, np.full(n_samples, c))
        for c in np.linspace(-3, 3, 601)
    ]
    assert (
        weight @ HingeLoss().loss(signs, np.full(n_samples, best))
        <= min(values) + 1e-12
    )
