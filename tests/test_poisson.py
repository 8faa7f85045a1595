"""Poisson regression: the loss, its optimum against scikit-learn and cvxpy,
its certificate, metric, scorer, CV estimator and behaviour on bad input."""

import decimal
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


def test_loss_and_conjugate_keep_their_accuracy_on_counts_up_to_1e13():
    """Loss, derivative and conjugate against 50-digit decimal arithmetic at
    counts from 0 to 1e13, scores within a few Poisson deviations of log y.
    The loss is a sum of terms of size y log y whose result is of order
    one. From LARGE_COUNT on, the bound is what rounding the score itself
    costs: 8 eps (|value| + |mu - y| (1 + |f|)); below it, where the direct
    formula is kept, 8 eps y (1 + |f| + |log y|) more (under 2e-12). The
    direct formula at every count missed the first bound by up to 1e6 times
    (absolute errors of eps y log y, 1e-2 at 1e13)."""
    context = decimal.Context(prec=50)

    def exact_y_log_y_minus_y(count):
        return count * count.ln(context) - count if count > 0 else decimal.Decimal(0)

    rng = np.random.default_rng(5)
    y = np.array([0, 0, 1, 3, 200, 1023, 1024, 5e4, 3e6, 1e8, 7e10, 1e13, 1e13])
    f = np.log(np.maximum(y, 0.3)) + rng.standard_normal(y.size) / np.sqrt(
        np.maximum(y, 1.0)
    )
    loss = PoissonLoss(scale=0.7)
    value, derivative = loss.loss_gradient(y, f)
    conjugate = loss.conjugate(y, derivative)
    eps = np.finfo(float).eps
    for count, score, ours, slope, dual in zip(
        y, f, value, derivative, conjugate, strict=True
    ):
        count_, score_ = decimal.Decimal(count), decimal.Decimal(score)
        mean = score_.exp(context)
        exact = mean - count_ * score_ + exact_y_log_y_minus_y(count_)
        exact_slope = mean - count_
        bound = (
            8 * eps * (abs(float(exact)) + abs(float(exact_slope)) * (1 + abs(score)))
        )
        if count < PoissonLoss.LARGE_COUNT:
            bound += 8 * eps * count * (1 + abs(score) + abs(np.log(max(count, 1))))
        assert abs(ours / 0.7 - float(exact)) <= bound, count
        assert abs(slope / 0.7 - float(exact_slope)) <= 8 * eps * float(mean) * (
            1 + abs(score)
        ), count
        # The conjugate at the (rounded) derivative u: v = u / scale + y.
        dual_mean = decimal.Decimal(slope) / decimal.Decimal(0.7) + count_
        exact_dual = exact_y_log_y_minus_y(dual_mean) - exact_y_log_y_minus_y(count_)
        assert abs(dual / 0.7 - float(exact_dual)) <= 8 * eps * (
            abs(float(exact_dual)) + abs(float(dual_mean - count_)) * (1 + abs(score))
        ), count


def _large_counts(seed):
    """Counts of mean about 1e6, up to about 1e8: the model fits them to
    their Poisson noise, a deviance of order one per sample against targets
    of 1e6."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3000, 20))
    coef = rng.standard_normal(20) * 2.0 / np.sqrt(20)
    return X, rng.poisson(np.exp(12.0 + X @ coef)).astype(float)


@pytest.mark.parametrize("seed", [0, 2])
def test_counts_in_the_millions_are_certified(seed):
    """With counts of 1e6 the objective is about 1e-6 of the loss's scale
    (the mean target), and a gradient of tol left L2 gaps of 2e-6; the
    direct formula's rounding reported elastic-net and L1 gaps of 1e-2 and
    0.2 on seed 2, fits that had stalled on it (27-30 steps instead of 8).
    Now: no warning, the L2 fit at its optimum with a gap <= 1e-9; the
    elastic net and L1 certified to 1e-7 (their gap is held up by the
    rounding of the correlation's excess over l1, about 1e-15 here,
    relative to l1 = 1e-9 in the loss's units). The reference for L2 is
    the optimality condition: half the squared Newton decrement (about J -
    J*) at most 1e-10 of J; PoissonRegressor itself ran to 1000 iterations
    and a ConvergenceWarning on this data."""
    X, y = _large_counts(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fits = {
            l1_ratio: PoissonLossRegressor(alpha=1e-3, l1_ratio=l1_ratio).fit(X, y)
            for l1_ratio in (0.0, 0.5, 1.0)
        }
    # The Newton decrement at the ridge answer, from the exact gradient and
    # Hessian of J (no cancellation in either): J - J* is about half its
    # square.
    ridge = fits[0.0]
    n_samples = len(y)
    design = np.column_stack([X, np.ones(n_samples)])
    mean = np.exp(design @ np.append(ridge.coef_, ridge.intercept_))
    penalty = np.append(np.full(X.shape[1], 1e-3), 0.0)
    gradient = design.T @ (mean - y) / n_samples + penalty * np.append(ridge.coef_, 0)
    hessian = (design.T * (mean / n_samples)) @ design + np.diag(penalty)
    decrement = gradient @ np.linalg.solve(hessian, gradient)
    assert decrement / 2 <= 1e-10 * ridge.objective_
    assert ridge.duality_gap_ <= 1e-9
    assert fits[0.5].duality_gap_ <= 1e-7
    assert fits[1.0].duality_gap_ <= 1e-7
