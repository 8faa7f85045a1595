"""Pointwise losses and the objective: formulas, derivatives, numerical stability."""

import numpy as np
import pytest
import scipy.sparse as sp
from objective import pointwise
from scipy.optimize import check_grad

import sklearn_losses._objective
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


@pytest.mark.parametrize("loss", [MultinomialLoss(), MultinomialFocalLoss(2.0)])
def test_extreme_multiclass_scores_stay_finite(loss):
    f = np.array([[1e300, -1e300, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([1, 0, 2])
    with np.errstate(all="raise"):
        value, gradient = loss.loss_gradient(y, f)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(gradient))


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
        alpha=0.1,
        l1_ratio=0.0,
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
        loss, X, y, np.ones(60), alpha=0.1, l1_ratio=0.0, fit_intercept=True
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


def _multinomial_objective(X, y, sample_weight, fit_intercept):
    """Three classes, L2 strength 0.1."""
    return LinearObjective(
        MultinomialLoss(),
        X,
        y,
        sample_weight,
        alpha=0.1,
        l1_ratio=0.0,
        fit_intercept=fit_intercept,
        n_outputs=3,
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


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("loss", [HuberLoss(0.7), SquaredHingeLoss(), LogisticLoss()])
@pytest.mark.parametrize("restricted", ["all", "some", "none"])
def test_hessian_matrix_matches_hessian_products(
    loss, fit_intercept, sparse, restricted, rng, monkeypatch
):
    # Blocks of 7 rows over 60 samples: several blocks, a partial last one,
    # and (Huber, squared hinge) samples of zero curvature skipped in each.
    monkeypatch.setattr(sklearn_losses._objective, "_GRAM_BLOCK_ROWS", 7)
    X = rng.standard_normal((60, 6)) + 0.5
    X[rng.random(X.shape) < 0.3] = 0.0
    y = rng.choice([-1.0, 1.0], 60) * (3.0 if isinstance(loss, HuberLoss) else 1.0)
    objective = LinearObjective(
        loss,
        sp.csr_matrix(X) if sparse else X,
        y,
        rng.uniform(0.5, 2.0, 60),
        alpha=0.1,
        l1_ratio=0.0,
        fit_intercept=fit_intercept,
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
def test_sampled_multinomial_hessian_over_every_row_is_the_hessian(
    fit_intercept, rng, monkeypatch
):
    # Blocks of 7 rows over 60 samples: several blocks and a partial last one.
    monkeypatch.setattr(sklearn_losses._objective, "_GRAM_BLOCK_ROWS", 7)
    X = rng.standard_normal((60, 4)) + 2.0
    objective = _multinomial_objective(
        X, rng.integers(0, 3, 60), rng.uniform(0.5, 2.0, 60), fit_intercept
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
def test_sparse_hessian_products_over_the_curved_rows_only(
    loss, fit_intercept, rng, monkeypatch
):
    """On sparse X the products use only the samples of non-zero curvature;
    they must equal the products over every sample. Stated tolerance: the
    same sums with the zero terms left out, 1e-12 relative.
    """
    X = rng.standard_normal((80, 6)) + 0.5
    X[rng.random(X.shape) < 0.5] = 0.0
    y = rng.choice([-1.0, 1.0], 80) * (3.0 if isinstance(loss, HuberLoss) else 1.0)
    objective = LinearObjective(
        loss,
        sp.csr_matrix(X),
        y,
        rng.uniform(0.5, 2.0, 80),
        alpha=0.1,
        l1_ratio=0.0,
        fit_intercept=fit_intercept,
    )
    # Large coefficients: many margins beyond one, many residuals beyond delta.
    params = 3.0 * rng.standard_normal(6 + fit_intercept)
    curvature = objective.curvature(objective.raw_prediction(*objective.unpack(params)))
    assert 0 < np.count_nonzero(curvature) < 0.75 * curvature.size
    directions = rng.standard_normal((5, params.size))
    subset = objective.hessian_operator(params)
    monkeypatch.setattr(sklearn_losses._objective, "_CURVED_SHARE", -1.0)
    every_row = objective.hessian_operator(params)
    for direction in directions:
        np.testing.assert_allclose(
            subset(direction), every_row(direction), rtol=1e-12, atol=1e-14
        )
