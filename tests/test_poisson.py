"""Poisson regression: the loss, its optimum against scikit-learn and cvxpy,
its certificate, metric, scorer, CV estimator and behaviour on bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from objective import objective, pointwise
from reference import reference_optimum
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import d2_tweedie_score, mean_poisson_deviance
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_losses import PoissonLossRegressor, PoissonLossRegressorCV, loss_path
from sklearn_losses._loss import PoissonLoss
from sklearn_losses.metrics import get_scorer, poisson_loss


def _counts(seed=0, n_samples=400, n_features=6, scale=0.4, offset=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.standard_normal(n_features) * scale
    coef[n_features // 2 :] = 0.0
    return X, rng.poisson(np.exp(offset + X @ coef)).astype(float)


def test_loss_is_half_the_deviance_with_its_derivatives(rng):
    """Value against the plain formula (1e-12), derivative and curvature
    against central differences (1e-6), conjugate against its definition
    sup_f (u f - L(f)) at the derivative u = L'(f), where the sup is
    attained: u f - L(f)."""
    loss = PoissonLoss()
    y = rng.poisson(3.0, 300).astype(float)
    f = rng.standard_normal(300)
    np.testing.assert_allclose(
        loss.loss(y, f), pointwise("poisson", y, f), rtol=1e-12, atol=1e-12
    )
    step = 1e-6
    numerical = (loss.loss(y, f + step) - loss.loss(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.gradient(y, f), numerical, rtol=1e-6, atol=1e-7)
    numerical = (loss.gradient(y, f + step) - loss.gradient(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.hessian(y, f), numerical, rtol=1e-6, atol=1e-7)
    u = loss.gradient(y, f)
    np.testing.assert_allclose(
        loss.conjugate(y, u), u * f - loss.loss(y, f), rtol=1e-10, atol=1e-10
    )
    assert np.all(np.isinf(loss.conjugate(y, -y - 1.0)))


def test_overflowing_predictions_give_inf_without_warnings():
    loss = PoissonLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, gradient = loss.loss_gradient(
            np.array([0.0, 2.0]), np.array([800.0, -800.0])
        )
    assert np.isinf(value[0]) and np.isfinite(value[1]) and np.isinf(gradient[0])


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 0.1])
@pytest.mark.parametrize("sparse", [False, True])
def test_l2_equals_scikit_learn_poisson_regressor(alpha, sparse):
    """Same objective as PoissonRegressor(alpha): coefficients to 1e-9 with
    its Newton-Cholesky solver at tol=1e-12, certified gap <= 1e-9."""
    X, y = _counts(seed=1)
    theirs = PoissonRegressor(
        alpha=alpha, solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y)
    ours = PoissonLossRegressor(alpha=alpha).fit(sp.csr_matrix(X) if sparse else X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-9)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-9)
    assert ours.duality_gap_ <= 1e-9
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_elastic_net_and_l1_optima_match_cvxpy(l1_ratio, fit_intercept):
    """L1 and elastic net (no scikit-learn counterpart) against the cvxpy
    reference: objective within 1e-8 relative, some coefficients exactly
    zero, and the certified gap bounds what the reference finds."""
    X, y = _counts(seed=2, n_features=8)
    weight = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    model = PoissonLossRegressor(
        alpha=0.05, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=weight)
    value, _, _ = reference_optimum(
        "poisson",
        X,
        y,
        weight,
        alpha=0.05,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
    )
    ours = objective(
        "poisson",
        X,
        y,
        weight,
        model.coef_[None, :],
        model.intercept_,
        alpha=0.05,
        l1_ratio=l1_ratio,
    )
    assert ours == pytest.approx(model.objective_, rel=1e-12)
    assert ours <= value + 1e-8 * abs(value)
    assert (ours - value) / abs(value) <= max(model.duality_gap_, 1e-8)
    assert np.any(model.coef_ == 0.0)


def test_large_counts_unscaled_features_fit_without_warnings():
    """Counts in the hundreds (the common estimator checks' data): from the
    mean, a first step far too long is shortened by the line search (it
    used to stall at W = 0 with a ConvergenceWarning)."""
    X, y = _counts(seed=4, n_samples=200, scale=1.0, offset=5.0)
    X *= 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = PoissonLossRegressor().fit(X, y)
    theirs = PoissonRegressor(
        alpha=1e-4, solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_, theirs.coef_, atol=1e-8)
    assert model.duality_gap_ <= 1e-9


def test_predictions_metric_and_scorer():
    """predict is the mean exp(X w + b); the metric is half scikit-learn's
    mean Poisson deviance and equals the data term of J at the fit; the
    scorer is minus the metric; score is D^2."""
    X, y = _counts(seed=5)
    model = PoissonLossRegressor(alpha=0.01).fit(X, y)
    mean = np.exp(X @ model.coef_ + model.intercept_)
    np.testing.assert_allclose(model.predict(X), mean, rtol=1e-14)
    assert 2 * poisson_loss(y, mean) == pytest.approx(
        mean_poisson_deviance(y, mean), rel=1e-12
    )
    data_term = model.objective_ - 0.01 / 2 * (model.coef_**2).sum()
    assert poisson_loss(y, model.predict(X)) == pytest.approx(data_term, rel=1e-12)
    assert get_scorer("neg_poisson_loss")(model, X, y) == pytest.approx(-data_term)
    assert model.score(X, y) == pytest.approx(
        d2_tweedie_score(y, mean, power=1), rel=1e-12
    )


@pytest.mark.parametrize(
    "y_true, y_pred", [([1.0, -1.0], [1.0, 1.0]), ([1.0, 2.0], [1.0, 0.0])]
)
def test_metric_rejects_negative_targets_and_non_positive_means(y_true, y_pred):
    with pytest.raises(ValueError, match="non-negative y_true and positive y_pred"):
        poisson_loss(y_true, y_pred)


@pytest.mark.parametrize(
    "y, message",
    [
        ([1.0, -2.0, 3.0, 0.0], "non-negative targets"),
        ([0.0, 0.0, 0.0, 0.0], "positive weighted sum"),
    ],
)
def test_targets_a_poisson_model_cannot_fit_are_errors(y, message):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=message):
        PoissonLossRegressor().fit(X, y)


def test_path_starts_at_the_exact_alpha_max_and_cv_matches_grid_search():
    """alpha_max: every coefficient zero at it, not at 0.99 of it; the CV
    estimator chooses what GridSearchCV over its grid and folds chooses."""
    X, y = _counts(seed=6)
    path = loss_path(PoissonLossRegressor(l1_ratio=1.0), X, y, n_alphas=10)
    assert not np.any(path.coefs[0])
    below = PoissonLossRegressor(alpha=0.99 * path.alphas[0], l1_ratio=1.0).fit(X, y)
    assert np.any(below.coef_)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    search = PoissonLossRegressorCV(l1_ratio=[0.5, 1.0], n_alphas=8, cv=folds).fit(X, y)
    grid = GridSearchCV(
        PoissonLossRegressor(),
        [
            {"alpha": list(search.alphas_[i]), "l1_ratio": [ratio]}
            for i, ratio in enumerate([0.5, 1.0])
        ],
        cv=folds,
        scoring=get_scorer("neg_poisson_loss"),
    ).fit(X, y)
    assert grid.best_params_["alpha"] == pytest.approx(search.alpha_, rel=1e-12)
    assert grid.best_params_["l1_ratio"] == search.l1_ratio_
    np.testing.assert_allclose(
        grid.cv_results_["mean_test_score"],
        search.scores_.mean(axis=2).ravel(),
        rtol=1e-9,
    )


def test_the_loss_constant_is_computed_once_per_target(monkeypatch, rng):
    """y log y - y depends on the targets alone: a fit computes it once per
    target array (and range of its rows), not at every evaluation of the
    loss. On ranges of one array and on the array itself it is the value
    computed from scratch (to the last bit)."""
    from sklearn_losses import _loss

    constants, evaluations = [], []
    original_constant = _loss._y_log_y_minus_y
    original_evaluation = PoissonLoss.loss_gradient

    def counted_constant(values):
        constants.append(values.size)
        return original_constant(values)

    def counted_evaluation(self, y_true, raw_prediction):
        evaluations.append(1)
        return original_evaluation(self, y_true, raw_prediction)

    monkeypatch.setattr(_loss, "_y_log_y_minus_y", counted_constant)
    monkeypatch.setattr(PoissonLoss, "loss_gradient", counted_evaluation)
    X = rng.standard_normal((3000, 6))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.5)).astype(float)
    PoissonLossRegressor(alpha=1e-3).fit(X, y)
    assert len(evaluations) >= 8
    # The targets' constant, the subsample's, and the dual point's means.
    assert len(constants) <= 4
    loss = PoissonLoss()
    raw = rng.standard_normal(3000)
    for rows in (slice(0, 1500), slice(1500, 3000), slice(None)):
        for _ in range(2):
            np.testing.assert_array_equal(
                loss.loss(y[rows], raw[rows]),
                np.exp(raw[rows]) - y[rows] * raw[rows] + original_constant(y[rows]),
            )
