"""Log-cosh regression: the loss, its optimum against cvxpy and least squares,
its certificate, metric, scorer, CV estimator and extreme scales."""

import warnings

import numpy as np
import pytest
from objective import objective, pointwise
from reference import reference_optimum
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_losses import LogCoshLossRegressor, LogCoshLossRegressorCV, loss_path
from sklearn_losses._loss import LogCoshLoss
from sklearn_losses.metrics import get_scorer, log_cosh_loss, make_loss_scorer


def _data(seed=0, n_samples=300, n_features=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = np.zeros(n_features)
    coef[:3] = [1.5, -1.0, 0.5]
    noise = rng.standard_t(2, n_samples)
    return X, X @ coef + 0.3 + noise


@pytest.mark.parametrize("delta, scale", [(0.7, 1.0), (3.0, 0.25)])
def test_loss_derivatives_and_conjugate(delta, scale, rng):
    """Value against the plain formula (1e-12 relative), derivative and
    curvature against central differences (1e-6), conjugate at the
    derivative u = L'(f) equal to u f - L(f) (1e-8); inf outside its domain."""
    loss = LogCoshLoss(delta, scale)
    y = rng.standard_normal(300) * 3
    f = rng.standard_normal(300) * 3
    np.testing.assert_allclose(
        loss.loss(y, f), scale * pointwise("log_cosh", y, f, scale=delta), rtol=1e-12
    )
    step = 1e-6
    numerical = (loss.loss(y, f + step) - loss.loss(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.gradient(y, f), numerical, rtol=1e-6, atol=1e-7)
    numerical = (loss.gradient(y, f + step) - loss.gradient(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.hessian(y, f), numerical, rtol=1e-6, atol=1e-7)
    u = loss.gradient(y, f)
    np.testing.assert_allclose(
        loss.conjugate(y, u), u * f - loss.loss(y, f), rtol=1e-8, atol=1e-8
    )
    assert np.all(np.isinf(loss.conjugate(y, np.full_like(y, 1.01 * scale * delta))))


def test_extreme_residuals_stay_finite_and_silent():
    loss = LogCoshLoss(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, gradient = loss.loss_gradient(
            np.array([1e300, -1e300, 0.0]), np.zeros(3)
        )
        curvature = loss.hessian(np.array([1e300, 0.0]), np.zeros(2))
    np.testing.assert_allclose(value, [1e300, 1e300, 0.0], rtol=1e-12)
    np.testing.assert_array_equal(gradient, [-1.0, 1.0, 0.0])
    np.testing.assert_array_equal(curvature, [0.0, 1.0])


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_optimum_matches_cvxpy_with_weights(l1_ratio, fit_intercept):
    """Objective within 1e-8 relative of the cvxpy reference (weighted), and
    the certified gap bounds the difference."""
    X, y = _data(seed=1)
    weight = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    model = LogCoshLossRegressor(
        scale=0.8, alpha=0.02, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=weight)
    value, _, _ = reference_optimum(
        "log_cosh",
        X,
        y,
        weight,
        alpha=0.02,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        scale=0.8,
    )
    ours = objective(
        "log_cosh",
        X,
        y,
        weight,
        model.coef_[None, :],
        model.intercept_,
        alpha=0.02,
        l1_ratio=l1_ratio,
        scale=0.8,
    )
    assert ours == pytest.approx(model.objective_, rel=1e-12)
    assert ours <= value + 1e-8 * abs(value)
    assert model.duality_gap_ <= 1e-9


def test_a_wide_scale_is_least_squares():
    """A scale far beyond every residual: log-cosh is r**2 / 2 to 1e-9
    relative, so the fit is scikit-learn's Ridge(alpha = n * alpha)."""
    X, y = _data(seed=3)
    model = LogCoshLossRegressor(scale=1e5, alpha=0.01).fit(X, y)
    ridge = Ridge(alpha=len(y) * 0.01, tol=1e-14).fit(X, y)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-7)
    assert model.intercept_ == pytest.approx(ridge.intercept_, rel=1e-7)


def test_outliers_pull_less_than_on_least_squares():
    X, y = _data(seed=4)
    clean = LogCoshLossRegressor(alpha=0.0).fit(X, y).coef_
    y_corrupt = y.copy()
    y_corrupt[:15] += 1000.0
    robust = LogCoshLossRegressor(alpha=0.0).fit(X, y_corrupt).coef_
    squares = LogCoshLossRegressor(alpha=0.0, scale=1e6).fit(X, y_corrupt).coef_
    assert np.abs(robust - clean).max() < 0.1 * np.abs(squares - clean).max()


@pytest.mark.parametrize("target_scale", [1e-120, 1e200])
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_targets_of_extreme_magnitude_scale_the_fit(target_scale, l1_ratio):
    """y and the scale times c multiply the loss by c**2: with the L2 strength
    as it is (or the L1 strength times c) the coefficients are times c
    (1e-8), with no warning."""
    X, y = _data(seed=5)
    base = LogCoshLossRegressor(scale=0.5, alpha=0.01, l1_ratio=l1_ratio).fit(X, y)
    alpha = 0.01 * (target_scale if l1_ratio == 1.0 else 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = LogCoshLossRegressor(
            scale=0.5 * target_scale, alpha=alpha, l1_ratio=l1_ratio
        ).fit(X, y * target_scale)
    np.testing.assert_allclose(
        scaled.coef_ / target_scale, base.coef_, rtol=1e-8, atol=1e-12
    )
    assert scaled.duality_gap_ <= 1e-9


def test_metric_scorer_and_cv():
    """The metric is the data term at the fit; the scorer minus it; the CV
    estimator chooses what GridSearchCV over its grid and folds chooses,
    and its path starts at the exact alpha_max."""
    X, y = _data(seed=6)
    model = LogCoshLossRegressor(scale=2.0, alpha=0.01).fit(X, y)
    data_term = model.objective_ - 0.01 / 2 * (model.coef_**2).sum()
    assert log_cosh_loss(y, model.predict(X), scale=2.0) == pytest.approx(
        data_term, rel=1e-12
    )
    scorer = make_loss_scorer("neg_log_cosh_loss", scale=2.0)
    assert scorer(model, X, y) == pytest.approx(-data_term, rel=1e-12)
    assert get_scorer("neg_log_cosh_loss")._kwargs == {}
    path = loss_path(LogCoshLossRegressor(l1_ratio=1.0), X, y, n_alphas=5)
    assert not np.any(path.coefs[0])
    assert np.any(
        LogCoshLossRegressor(alpha=0.99 * path.alphas[0], l1_ratio=1.0).fit(X, y).coef_
    )
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    search = LogCoshLossRegressorCV(scale=2.0, n_alphas=8, cv=folds).fit(X, y)
    grid = GridSearchCV(
        LogCoshLossRegressor(scale=2.0),
        {"alpha": list(search.alphas_)},
        cv=folds,
        scoring=scorer,
    ).fit(X, y)
    assert grid.best_params_["alpha"] == pytest.approx(search.alpha_, rel=1e-12)
    np.testing.assert_allclose(
        grid.cv_results_["mean_test_score"], search.scores_.mean(axis=1), rtol=1e-9
    )
