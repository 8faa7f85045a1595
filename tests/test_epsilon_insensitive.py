"""Epsilon-insensitive regression (linear SVR): the losses, the optimum
against cvxpy and LinearSVR, the two-row encoding, certificates, metrics,
scorers, the CV estimator and extreme scales."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from memory import peak_traced_bytes_of_fit
from objective import objective, pointwise
from reference import reference_optimum
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import LinearSVR

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    EpsilonInsensitiveLossRegressorCV,
    QuantileLossRegressor,
    loss_path,
)
from sklearn_losses._loss import EpsilonInsensitiveLoss, SquaredEpsilonInsensitiveLoss
from sklearn_losses.metrics import (
    epsilon_insensitive_loss,
    get_scorer,
    make_loss_scorer,
    squared_epsilon_insensitive_loss,
)

LOSSES = ["epsilon_insensitive", "squared_epsilon_insensitive"]


def _data(seed=0, n_samples=300, n_features=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = np.zeros(n_features)
    coef[:3] = [1.5, -1.0, 0.5]
    return X, X @ coef + 0.3 + rng.standard_t(3, n_samples)


def test_two_rows_per_sample_add_up_to_the_loss(rng):
    """On the solvers' rows (each sample once per side) the hinges sum to
    max(0, |r| - epsilon) (1e-12), the smoothed slopes stay in [0, 1], and
    the best constant is a minimizer of the weighted loss over a fine grid."""
    loss = EpsilonInsensitiveLoss(0.4)
    y, f = rng.standard_normal(200) * 2, rng.standard_normal(200)
    weight = rng.uniform(0.5, 2.0, 200)
    X, rows, row_weight = loss.solver_rows(np.ones((200, 1)), y, weight)
    assert X.shape == (400, 1) and rows.shape == (400, 2)
    both = loss.loss(rows, np.concatenate([f, f]))
    expected = pointwise("epsilon_insensitive", y, f, epsilon=0.4)
    np.testing.assert_allclose(both[:200] + both[200:], expected, rtol=1e-12)
    np.testing.assert_allclose(loss.loss(y, f), expected, rtol=1e-12)
    slope = loss.smoothed_loss_gradient(rows, np.concatenate([f, f]), 0.1)[2]
    assert slope.min() >= 0.0 and slope.max() <= 1.0
    (constant,) = loss.best_constant(rows, row_weight)
    grid = np.linspace(y.min(), y.max(), 4001)
    values = [weight @ loss.loss(y, np.full(200, b)) for b in grid]
    assert weight @ loss.loss(y, np.full(200, constant)) <= min(values) + 1e-12


@pytest.mark.parametrize("epsilon", [0.0, 0.6])
def test_squared_loss_derivatives_and_conjugate(epsilon, rng):
    """Value against the plain formula, derivative and curvature against
    central differences (1e-6, away from the band's edges), conjugate at
    u = L'(f) equal to u f - L(f) (1e-9)."""
    loss = SquaredEpsilonInsensitiveLoss(epsilon)
    y, f = rng.standard_normal(300) * 3, rng.standard_normal(300) * 3
    away = np.abs(np.abs(y - f) - epsilon) > 1e-3
    y, f = y[away], f[away]
    np.testing.assert_allclose(
        loss.loss(y, f),
        pointwise("squared_epsilon_insensitive", y, f, epsilon=epsilon),
        rtol=1e-12,
    )
    step = 1e-7
    numerical = (loss.loss(y, f + step) - loss.loss(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.gradient(y, f), numerical, rtol=1e-6, atol=1e-7)
    numerical = (loss.gradient(y, f + step) - loss.gradient(y, f - step)) / (2 * step)
    np.testing.assert_allclose(loss.hessian(y, f), numerical, rtol=1e-6, atol=1e-7)
    u = loss.gradient(y, f)
    np.testing.assert_allclose(
        loss.conjugate(y, u), u * f - loss.loss(y, f), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("epsilon", [0.0, 0.7])
@pytest.mark.parametrize(
    "alpha, l1_ratio", [(0.0, 0.0), (0.02, 0.0), (0.02, 0.5), (0.02, 1.0)]
)
def test_optimum_matches_cvxpy_with_weights(loss, epsilon, alpha, l1_ratio):
    """Objective within 1e-9 relative of the cvxpy reference (weighted, with
    an intercept), objective_ the SPEC objective at the fit (1e-12), and a
    certified duality gap below 1e-9."""
    X, y = _data(seed=1)
    weight = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    model = EpsilonInsensitiveLossRegressor(
        epsilon=epsilon, loss=loss, alpha=alpha, l1_ratio=l1_ratio
    ).fit(X, y, sample_weight=weight)
    value, _, _ = reference_optimum(
        loss,
        X,
        y,
        weight,
        alpha=alpha,
        l1_ratio=l1_ratio,
        fit_intercept=True,
        epsilon=epsilon,
    )
    ours = objective(
        loss,
        X,
        y,
        weight,
        model.coef_[None, :],
        model.intercept_,
        alpha=alpha,
        l1_ratio=l1_ratio,
        epsilon=epsilon,
    )
    assert ours == pytest.approx(model.objective_, rel=1e-12)
    assert ours <= value + 1e-9 * abs(value)
    assert model.duality_gap_ <= 1e-9


@pytest.mark.parametrize("loss", LOSSES)
def test_sparse_and_dense_give_the_same_fit(loss):
    X, y = _data(seed=3)
    X[np.abs(X) < 0.8] = 0.0
    model = EpsilonInsensitiveLossRegressor(epsilon=0.5, loss=loss, alpha=0.01)
    dense = model.fit(X, y)
    dense_coef, dense_intercept = dense.coef_.copy(), dense.intercept_
    sparse = model.fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense_coef, rtol=1e-8, atol=1e-10)
    assert sparse.intercept_ == pytest.approx(dense_intercept, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("loss", LOSSES)
def test_same_minimizer_as_linear_svr_without_intercept(loss):
    """L2 penalty, no intercept: LinearSVR(C = 1 / (n alpha)) minimizes the
    same objective; run to tol=1e-10 its objective is within 1e-7 of ours
    and never below it by more than 1e-10 relative."""
    X, y = _data(seed=4)
    alpha = 0.01
    ours = EpsilonInsensitiveLossRegressor(
        epsilon=0.5, loss=loss, alpha=alpha, fit_intercept=False
    ).fit(X, y)
    peer = LinearSVR(
        epsilon=0.5,
        loss=loss,
        C=1 / (len(y) * alpha),
        fit_intercept=False,
        dual=True,
        tol=1e-10,
        max_iter=1_000_000,
    ).fit(X, y)

    def value(coef):
        return objective(
            loss,
            X,
            y,
            np.ones(len(y)),
            coef[None, :],
            0.0,
            alpha=alpha,
            l1_ratio=0.0,
            epsilon=0.5,
        )

    assert value(ours.coef_) <= value(peer.coef_) * (1 + 1e-10)
    assert value(peer.coef_) <= value(ours.coef_) * (1 + 1e-7)


def test_zero_epsilon_is_twice_the_median_pinball_loss():
    """|r| = 2 * pinball_0.5(r): the same minimizer as QuantileLossRegressor
    at half the penalty (1e-9), and twice its objective."""
    X, y = _data(seed=5)
    ours = EpsilonInsensitiveLossRegressor(alpha=0.02, l1_ratio=0.5).fit(X, y)
    median = QuantileLossRegressor(alpha=0.01, l1_ratio=0.5).fit(X, y)
    np.testing.assert_allclose(ours.coef_, median.coef_, rtol=1e-9, atol=1e-12)
    assert ours.objective_ == pytest.approx(2 * median.objective_, rel=1e-12)


def test_squared_loss_with_zero_epsilon_is_ridge():
    """max(0, |r|)**2 = r**2: Ridge(alpha = n * alpha / 2) (1e-8)."""
    X, y = _data(seed=6)
    model = EpsilonInsensitiveLossRegressor(
        loss="squared_epsilon_insensitive", alpha=0.02
    ).fit(X, y)
    ridge = Ridge(alpha=len(y) * 0.02 / 2, tol=1e-14).fit(X, y)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-8)
    assert model.intercept_ == pytest.approx(ridge.intercept_, rel=1e-8)


def test_a_band_wider_than_every_residual_gives_a_zero_model():
    """Every residual of the best constant inside the band: W = 0 is
    optimal and every residual stays within epsilon."""
    X, y = _data(seed=7)
    model = EpsilonInsensitiveLossRegressor(epsilon=100.0, alpha=1e-3).fit(X, y)
    assert not np.any(model.coef_)
    assert np.abs(y - model.predict(X)).max() <= 100.0
    assert model.objective_ == 0.0


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("target_scale", [1e-120, 1e200])
def test_targets_of_extreme_magnitude_scale_the_fit(loss, target_scale):
    """y and epsilon times c: the loss is times c (c**2 squared); with the
    L2 strength times c**(2 - k), the coefficients are times c (1e-8)."""
    X, y = _data(seed=8)
    degree = 1 if loss == "epsilon_insensitive" else 2
    base = EpsilonInsensitiveLossRegressor(epsilon=0.5, loss=loss, alpha=0.01).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = EpsilonInsensitiveLossRegressor(
            epsilon=0.5 * target_scale,
            loss=loss,
            alpha=0.01 * target_scale ** (degree - 2),
        ).fit(X, y * target_scale)
    np.testing.assert_allclose(
        scaled.coef_ / target_scale, base.coef_, rtol=1e-8, atol=1e-12
    )
    assert scaled.duality_gap_ <= 1e-9


@pytest.mark.parametrize(
    "loss, metric, plain",
    [
        ("epsilon_insensitive", epsilon_insensitive_loss, mean_absolute_error),
        (
            "squared_epsilon_insensitive",
            squared_epsilon_insensitive_loss,
            mean_squared_error,
        ),
    ],
)
def test_metric_scorer_path_and_cv(loss, metric, plain):
    """The metric is the data term at the fit (1e-12) and the plain error at
    epsilon 0; the scorer is minus it; the path starts at the exact
    alpha_max (zero 1% above it, not 1% below) with certified points; the
    CV estimator chooses what GridSearchCV over its grid and
    folds chooses."""
    X, y = _data(seed=9)
    model = EpsilonInsensitiveLossRegressor(epsilon=0.3, loss=loss, alpha=0.01)
    model.fit(X, y)
    data_term = model.objective_ - 0.01 / 2 * (model.coef_**2).sum()
    assert metric(y, model.predict(X), epsilon=0.3) == pytest.approx(
        data_term, rel=1e-12
    )
    assert metric(y, model.predict(X)) == pytest.approx(
        plain(y, model.predict(X)), rel=1e-12
    )
    scorer = make_loss_scorer(f"neg_{loss}_loss", epsilon=0.3)
    assert scorer(model, X, y) == pytest.approx(-data_term, rel=1e-12)
    assert get_scorer(f"neg_{loss}_loss")._kwargs == {}
    plain_model = EpsilonInsensitiveLossRegressor(epsilon=0.3, loss=loss, l1_ratio=1.0)
    path = loss_path(plain_model, X, y, n_alphas=5)
    assert np.max(path.duality_gaps) <= 1e-9
    above = plain_model.set_params(alpha=1.01 * path.alphas[0]).fit(X, y)
    assert not np.any(above.coef_)
    assert np.any(plain_model.set_params(alpha=0.99 * path.alphas[0]).fit(X, y).coef_)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    search = EpsilonInsensitiveLossRegressorCV(
        epsilon=0.3, loss=loss, n_alphas=8, cv=folds
    ).fit(X, y)
    grid = GridSearchCV(
        EpsilonInsensitiveLossRegressor(epsilon=0.3, loss=loss),
        {"alpha": list(search.alphas_)},
        cv=folds,
        scoring=scorer,
    ).fit(X, y)
    assert grid.best_params_["alpha"] == pytest.approx(search.alpha_, rel=1e-12)
    np.testing.assert_allclose(
        grid.cv_results_["mean_test_score"], search.scores_.mean(axis=1), rtol=1e-9
    )


def test_bad_parameters_are_refused():
    X, y = _data(seed=10, n_samples=20)
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonInsensitiveLossRegressor(epsilon=-0.1).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        EpsilonInsensitiveLossRegressor(loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_insensitive_loss([0.0], [1.0], epsilon=-1.0)


def _sparse_regression():
    """Sparse 8,000 x 4,000 (density 0.2%), half the features in the signal,
    t(3) noise."""
    rng = np.random.default_rng(4)
    X = sp.random(
        8_000,
        4_000,
        density=0.002,
        format="csr",
        random_state=4,
        data_rvs=rng.standard_normal,
    )
    coef = 10 * rng.standard_normal(4_000) * (rng.random(4_000) < 0.5)
    return X, X @ coef + rng.standard_t(3, 8_000)


def test_box_dual_certifies_sparse_fit_with_intercept():
    """Sparse 8,000 x 4,000 (density 0.2%) with an intercept: the box dual's
    active-set step solves the kink system (about 1,500 samples on the kink)
    by MINRES, which stops on its own estimate of the residual; refined on
    the true one, the intercept's row holds and the relative duality gap is
    at rounding level (measured 3.2e-14; 2.1e-8 without the refinement,
    when the route fell through to the smoothed dual: 10 s on 20,000 x
    5,000 instead of 0.8 s)."""
    from sklearn_losses.solvers.dispatch import forced_method

    X, y = _sparse_regression()
    model = EpsilonInsensitiveLossRegressor(epsilon=0.5)
    with forced_method("box-dual"), warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y)
    assert model.duality_gap_ <= 1e-12


def test_sparse_elastic_net_kink_system_is_not_made_dense():
    """The active-set step of a sparse elastic net forms its kink system from
    the kink rows on the non-zero features, sparse, and centers the small
    product: the kink rows made dense on all 4,000 features weighed 57
    times X (sparse 8,000 x 4,000, density 0.2%); now 11 (what remains is
    the dense kink system itself and the vectors over the 16,000 rows the
    solvers see, against an X of 64,000 stored entries)."""
    X, y = _sparse_regression()
    size_of_X = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    model = EpsilonInsensitiveLossRegressor(alpha=1e-3, l1_ratio=0.5)
    peak = peak_traced_bytes_of_fit(model, X, y)
    assert model.duality_gap_ <= 1e-9
    assert peak <= 20 * size_of_X
