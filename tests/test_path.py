"""Regularization paths: alpha_max exact for every loss, each point of the
path the cold fit's optimum, and loss_path's behaviour on its inputs."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression, QuantileRegressor

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
    loss_path,
)
from sklearn_losses._path import GRID_L1_RATIO

# A coefficient the solvers leave at zero may carry rounding from a linear
# solve on the kink (measured up to 3e-14 on these problems at alpha_max):
# "zero" here is below this, for coefficients of order one.
ZERO = 1e-12


def _data(kind, seed=0, n_samples=240, n_features=9):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) + 1.0
    beta = np.zeros(n_features)
    beta[:3] = [1.5, -2.0, 1.0]
    if kind == "regression":
        return X, X @ beta + rng.standard_t(3, n_samples)
    if kind == "binary":
        return X, (X @ beta - beta.sum() + rng.logistic(size=n_samples) > 0).astype(int)
    scores = 1.5 * X[:, :3] + rng.gumbel(size=(n_samples, 3))
    return X, np.array(["a", "b", "c"])[np.argmax(scores, axis=1)]


CASES = {
    "huber": (HuberLossRegressor(delta=0.8), "regression"),
    "quantile": (QuantileLossRegressor(quantile=0.3), "regression"),
    "epsilon_insensitive": (EpsilonInsensitiveLossRegressor(epsilon=0.5), "regression"),
    "squared_epsilon_insensitive": (
        EpsilonInsensitiveLossRegressor(
            epsilon=0.5, loss="squared_epsilon_insensitive"
        ),
        "regression",
    ),
    "hinge": (HingeLossClassifier(), "binary"),
    "squared_hinge": (HingeLossClassifier(loss="squared_hinge"), "binary"),
    "logistic": (LogisticLossClassifier(), "binary"),
    "multinomial": (LogisticLossClassifier(), "multiclass"),
    "focal": (FocalLossClassifier(gamma=2.0), "binary"),
    "hinge_ovr": (HingeLossClassifier(), "multiclass"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_alpha_max_is_the_smallest_alpha_with_every_coefficient_zero(
    case, l1_ratio, fit_intercept
):
    """The grid starts at alpha_max, exact for the loss: the path's first fit
    is zero, a cold fit 3% above it is zero, one 3% below it is not (its
    largest coefficient above 1e-6, far beyond rounding). For one-vs-rest it
    is the largest over the classes' problems."""
    estimator, kind = CASES[case]
    estimator = clone(estimator).set_params(
        l1_ratio=l1_ratio, fit_intercept=fit_intercept
    )
    X, y = _data(kind, seed=1)
    path = loss_path(estimator, X, y, n_alphas=3)
    alpha_max = path.alphas[0]
    assert np.max(np.abs(path.coefs[0])) <= ZERO
    above = clone(estimator).set_params(alpha=alpha_max * 1.03).fit(X, y)
    below = clone(estimator).set_params(alpha=alpha_max * 0.97).fit(X, y)
    assert np.max(np.abs(above.coef_)) <= ZERO
    assert np.max(np.abs(below.coef_)) > 1e-6


def test_alpha_max_of_the_logistic_loss_is_the_textbook_formula():
    """Independent of the package: at W = 0 the best intercept predicts the
    mean label p, and alpha_max = max_j |X[:, j] . (y - p)| / n / l1_ratio
    (glmnet's formula for the logistic lasso)."""
    X, y = _data("binary", seed=2)
    for l1_ratio in (1.0, 0.25):
        path = loss_path(LogisticLossClassifier(l1_ratio=l1_ratio), X, y, n_alphas=2)
        expected = np.max(np.abs(X.T @ (y - y.mean()))) / y.size / l1_ratio
        np.testing.assert_allclose(path.alphas[0], expected, rtol=1e-9)


def test_alpha_max_of_the_quantile_loss_matches_a_linear_program_by_scipy():
    """Kinked loss: at alpha_max scikit-learn's QuantileRegressor (HiGHS, its
    alpha is ours with l1_ratio=1) is zero just above and not just below."""
    X, y = _data("regression", seed=3)
    path = loss_path(
        QuantileLossRegressor(quantile=0.7, l1_ratio=1.0), X, y, n_alphas=2
    )
    alpha_max = path.alphas[0]
    for factor, is_zero in [(1.01, True), (0.99, False)]:
        theirs = QuantileRegressor(quantile=0.7, alpha=alpha_max * factor).fit(X, y)
        assert (np.max(np.abs(theirs.coef_)) <= 1e-8) == is_zero


def test_ridge_grid_starts_where_a_small_l1_share_would_zero_every_coefficient():
    """Without an L1 part the grid starts at alpha_max for l1_ratio=1e-3."""
    X, y = _data("regression", seed=4)
    ridge = loss_path(HuberLossRegressor(l1_ratio=0.0), X, y, n_alphas=2)
    lasso = loss_path(HuberLossRegressor(l1_ratio=1.0), X, y, n_alphas=2)
    np.testing.assert_allclose(
        ridge.alphas[0], lasso.alphas[0] / GRID_L1_RATIO, rtol=1e-9
    )
    np.testing.assert_allclose(ridge.alphas[-1], ridge.alphas[0] * 1e-3, rtol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
def test_each_point_of_the_path_is_the_cold_fit(case, l1_ratio):
    """Warm starts change the route to the optimum, not the optimum: at three
    alphas along a 12-point path, the path's objective is the cold fit's to
    1e-8 relative (both fits at tol=1e-10, certified by gaps that
    tests/test_certificates.py bounds), and every reported duality gap (or
    stationarity residual, focal) is at most 1e-9: the issue's bound at
    default settings, which the multinomial L1 path missed at 1e-6 before
    its fits were polished by Newton steps."""
    estimator, kind = CASES[case]
    estimator = clone(estimator).set_params(l1_ratio=l1_ratio)
    X, y = _data(kind, seed=5)
    path = loss_path(estimator, X, y, n_alphas=12)
    assert np.all(np.diff(path.alphas) < 0)
    objectives = np.asarray(path.objectives)
    gaps = np.asarray(path.duality_gaps)
    assert np.all(gaps <= 1e-9)
    for index in (3, 7, 11):
        cold = clone(estimator).set_params(alpha=path.alphas[index]).fit(X, y)
        np.testing.assert_allclose(objectives[index], cold.objective_, rtol=1e-8)
        assert path.coefs[index].shape == cold.coef_.shape
        assert path.intercepts[index].shape == np.shape(cold.intercept_)


def test_path_of_lasso_squared_error_limit_matches_scikit_learn():
    """Huber with delta beyond every residual is half the squared error:
    its L1 path is scikit-learn's Lasso path (alpha the same; 1e-6 on the
    coefficients, Lasso at tol=1e-12)."""
    X, y = _data("regression", seed=6)
    path = loss_path(
        HuberLossRegressor(delta=1e6, l1_ratio=1.0), X, y, n_alphas=8, eps=1e-2
    )
    for alpha, coef in zip(path.alphas, path.coefs, strict=True):
        theirs = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(coef, theirs.coef_, atol=1e-6)


def test_given_alphas_are_solved_in_decreasing_order():
    X, y = _data("binary", seed=7)
    path = loss_path(
        LogisticLossClassifier(l1_ratio=0.5), X, y, alphas=[0.001, 0.1, 0.01]
    )
    np.testing.assert_array_equal(path.alphas, [0.1, 0.01, 0.001])
    assert path.coefs.shape == (3, 1, X.shape[1])
    assert path.intercepts.shape == (3, 1)
    assert path.n_iters.shape == (3,)


def test_one_vs_rest_reports_a_gap_and_objective_per_class():
    X, y = _data("multiclass", seed=8)
    path = loss_path(HingeLossClassifier(l1_ratio=0.5), X, y, n_alphas=4)
    assert path.coefs.shape == (4, 3, X.shape[1])
    assert path.objectives.shape == (4, 3)
    assert path.duality_gaps.shape == (4, 3)


def test_sparse_and_dense_paths_agree():
    """Same data, same path, to 1e-9 on the objective."""
    X, y = _data("binary", seed=9)
    X[np.abs(X) < 0.8] = 0.0
    dense = loss_path(LogisticLossClassifier(l1_ratio=1.0), X, y, n_alphas=6)
    sparse = loss_path(
        LogisticLossClassifier(l1_ratio=1.0), sp.csr_matrix(X), y, n_alphas=6
    )
    np.testing.assert_allclose(sparse.alphas, dense.alphas, rtol=1e-12)
    np.testing.assert_allclose(sparse.objectives, dense.objectives, rtol=1e-9)


def test_integer_sample_weights_are_repeated_rows():
    X, y = _data("regression", seed=10, n_samples=80)
    weights = np.random.default_rng(0).integers(0, 4, y.size)
    weighted = loss_path(
        QuantileLossRegressor(l1_ratio=0.5), X, y, sample_weight=weights, n_alphas=5
    )
    repeated = loss_path(
        QuantileLossRegressor(l1_ratio=0.5),
        np.repeat(X, weights, axis=0),
        np.repeat(y, weights),
        n_alphas=5,
    )
    np.testing.assert_allclose(weighted.alphas, repeated.alphas, rtol=1e-9)
    np.testing.assert_allclose(weighted.objectives, repeated.objectives, rtol=1e-8)


def test_the_estimator_is_not_fitted_or_changed():
    estimator = LogisticLossClassifier(l1_ratio=0.5, warm_start=True)
    X, y = _data("binary", seed=11)
    loss_path(estimator, X, y, n_alphas=3)
    assert not hasattr(estimator, "coef_")
    assert estimator.get_params()["warm_start"] is True


def test_path_warns_naming_the_alpha_where_a_solve_stopped_short():
    X, y = _data("binary", seed=12)
    with pytest.warns(ConvergenceWarning, match="at alpha="):
        loss_path(FocalLossClassifier(l1_ratio=0.5, max_iter=2), X, y, n_alphas=3)


@pytest.mark.parametrize(
    "estimator, arguments, error",
    [
        (LogisticRegression(), {}, "estimator"),
        (LogisticLossClassifier(), {"n_alphas": 0}, "n_alphas"),
        (LogisticLossClassifier(), {"eps": 0.0}, "eps"),
        (LogisticLossClassifier(), {"eps": 2.0}, "eps"),
        (LogisticLossClassifier(), {"alphas": [0.1, -1.0]}, "non-negative"),
        (LogisticLossClassifier(), {"alphas": []}, "non-empty"),
        (LogisticLossClassifier(), {"alphas": [np.nan]}, "finite"),
        (LogisticLossClassifier(l1_ratio=2.0), {}, "l1_ratio"),
    ],
)
def test_bad_input_is_rejected_with_a_message(estimator, arguments, error):
    X, y = _data("binary", seed=13, n_samples=30)
    with pytest.raises(ValueError, match=error):
        loss_path(estimator, X, y, **arguments)


def test_no_warning_on_a_default_path():
    X, y = _data("binary", seed=14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_path(HingeLossClassifier(l1_ratio=0.5), X, y, n_alphas=10)


def test_warm_started_l1_points_are_certified_as_tightly_as_cold_fits():
    """Near its optimum a warm-started orthant Newton step promises less
    decrease than J resolves; the step still counts where it halves the
    residual. Before, the Huber L1 path of this problem (20,000 x 30,
    heavy-tailed noise with outliers) stopped at certified gaps up to
    2e-6 where cold fits reach 1e-13; every point now within 1e-10."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 30))
    coef = rng.standard_normal(30) * (rng.random(30) < 0.5)
    noise = rng.standard_t(3, 20_000)
    noise[rng.random(20_000) < 0.05] *= 20
    path = loss_path(HuberLossRegressor(l1_ratio=1.0), X, X @ coef + noise, n_alphas=50)
    assert np.max(path.duality_gaps) <= 1e-10


def test_path_points_start_from_the_previous_alphas_hessian(monkeypatch):
    """A 30-alpha logistic L2 path on 10,000 x 50: Newton's method at each
    alpha starts with chord steps on the Hessian of the alpha before (its
    data part, with this alpha's L2 term) while no sample's curvature has
    moved by more than 10%. It formed one Hessian per point (30); now 13,
    with every point still certified to rounding."""
    from sklearn_losses._objective import LinearObjective

    formed = []
    hessian_matrix = LinearObjective.hessian_matrix

    def counted(self, *args, **kwargs):
        formed.append(1)
        return hessian_matrix(self, *args, **kwargs)

    monkeypatch.setattr(LinearObjective, "hessian_matrix", counted)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 50))
    y = (X @ rng.standard_normal(50) + 2 * rng.logistic(size=10_000) > 0).astype(int)
    path = loss_path(LogisticLossClassifier(), X, y, n_alphas=30)
    assert len(formed) < 20
    assert np.max(path.duality_gaps) <= 1e-12


@pytest.mark.parametrize("case", ["hinge", "quantile"])
def test_screened_programs_continue_the_previous_alphas_screening_fit(
    case, monkeypatch
):
    """On 4,000 samples the L1 linear programs are screened by a smoothed fit;
    along a path each alpha's fit continues the previous one's (its
    smoothing, from its coefficients) instead of starting from zero. The
    screening decides only which samples are variables: every point is the
    cold fit's optimum to 1e-12 relative."""
    continued = _screening_fits(monkeypatch)
    estimator, kind = CASES[case]
    estimator = clone(estimator).set_params(l1_ratio=1.0)
    X, y = _data(kind, seed=2, n_samples=4000, n_features=8)
    path = loss_path(estimator, X, y, n_alphas=12)
    assert len(continued) >= 10 and not continued[0] and all(continued[1:])
    continued.clear()
    _assert_points_are_cold_fits(estimator, X, y, path, (4, 11))
    assert not any(continued)


def test_paths_screen_programs_that_a_single_fit_solves_whole(monkeypatch):
    """Below 2,000 samples a single fit's linear program is solved whole (the
    smoothed fit that screens it would cost more than it saves); along a
    path, where each screening fit continues the previous one, programs
    are screened from 4 samples per parameter on (hinge L1, 100 alphas on
    2,000 x 20: 2.1 -> 1.0 s). The answers are the cold fits' (1e-12)."""
    screened = _screening_fits(monkeypatch)
    estimator = HingeLossClassifier(l1_ratio=1.0)
    X, y = _data("binary", seed=4, n_samples=1200, n_features=8)
    path = loss_path(estimator, X, y, n_alphas=10)
    assert len(screened) >= 8
    screened.clear()
    _assert_points_are_cold_fits(estimator, X, y, path, (5, 9))
    assert not screened


def _screening_fits(monkeypatch):
    """A list that records each screening fit of a linear program from now
    on: whether it continued a previous one."""
    from sklearn_losses.solvers import linear_program

    continued = []
    fit_for_screening = linear_program.fit_for_screening

    def recorded(*args, previous=None, **kwargs):
        continued.append(previous is not None)
        return fit_for_screening(*args, previous=previous, **kwargs)

    monkeypatch.setattr(linear_program, "fit_for_screening", recorded)
    return continued


def _assert_points_are_cold_fits(estimator, X, y, path, indices):
    """The path's objective at each of ``indices`` is the cold fit's (1e-12)."""
    for index in indices:
        cold = clone(estimator).set_params(alpha=path.alphas[index]).fit(X, y)
        assert path.objectives[index] == pytest.approx(cold.objective_, rel=1e-12)


@pytest.mark.parametrize("case", ["hinge", "quantile", "epsilon_insensitive"])
def test_alpha_max_of_sparse_rows_is_the_dense_ones(case):
    """The kinked losses' alpha_max is a linear program over the samples on
    the kink at W = 0 (for hinge with an intercept, every sample of the
    larger class). On a sparse X the program is posed on the rows as they
    are, uncentered (the intercept's constraint cancels the centering), and
    only on the features they touch: the same alpha_max as on the dense
    copy (relative 1e-9), on columns with a mean far from zero."""
    estimator, kind = CASES[case]
    estimator = clone(estimator).set_params(l1_ratio=1.0)
    X, y = _data(kind, seed=5)
    X[np.random.default_rng(5).random(X.shape) < 0.6] = 0.0
    dense = loss_path(estimator, X, y, n_alphas=2).alphas[0]
    sparse = loss_path(estimator, sp.csr_matrix(X), y, n_alphas=2).alphas[0]
    np.testing.assert_allclose(sparse, dense, rtol=1e-9)


def test_box_dual_path_points_start_from_the_previous_alphas_dual_point():
    """Hinge with an intercept on sparse unit rows wider than the samples
    (the box-constrained dual's problems): each alpha starts from the
    previous alpha's exact dual point, not from the ends of the boxes that
    the previous coefficients' residuals give, which cost 220 to 720
    L-BFGS-B iterations per alpha here (against 18 to 100). Every point is
    still certified and at the cold fit's objective (relative 1e-9)."""
    rng = np.random.default_rng(0)
    X = sp.random(400, 4000, density=0.01, format="csr", random_state=rng)
    X = sp.csr_matrix(X.multiply(1 / np.sqrt(X.multiply(X).sum(axis=1))))
    y = X @ rng.standard_normal(4000) + 0.05 * rng.logistic(size=400) > 0.02
    path = loss_path(HingeLossClassifier(), X, y, n_alphas=10)
    assert np.all(path.n_iters[1:] <= 150)
    assert np.all(path.duality_gaps <= 1e-9)
    for index in (1, 9):
        cold = HingeLossClassifier(alpha=path.alphas[index]).fit(X, y)
        assert path.objectives[index] <= cold.objective_ * (1 + 1e-9)


@pytest.mark.parametrize("loss", ["hinge", "epsilon_insensitive"])
def test_box_dual_path_points_are_certified_by_the_active_set_step_from_the_last(
    loss,
):
    """On the box-constrained dual's problems (sparse unit rows wider than
    the samples, with an intercept), the active-set method run from the
    previous alpha's exact dual point certifies the next alpha without
    L-BFGS-B (one iteration: 18 to 100 before, and 881 and 1,000 with a
    duality gap of 5e-3 on the epsilon-insensitive path, whose constraint
    penalty used the first alpha's L2 term). Of the nine points after the
    first, none of the hinge's needs L-BFGS-B and at most two of the
    epsilon-insensitive's (its last two, where nearly every sample sits
    on the kink); every point is certified to 1e-9 with no
    ConvergenceWarning, and at the cold fit's objective (relative 1e-9)."""
    rng = np.random.default_rng(0)
    X = sp.random(400, 4000, density=0.01, format="csr", random_state=rng)
    X = sp.csr_matrix(X.multiply(1 / np.sqrt(X.multiply(X).sum(axis=1))))
    labels = X @ rng.standard_normal(4000) + 0.05 * rng.logistic(size=400) > 0.02
    targets = X @ rng.standard_normal(4000) + 0.05 * rng.standard_t(3, size=400)
    if loss == "hinge":
        estimator, y, most_refits = HingeLossClassifier(), labels, 0
    else:
        estimator = EpsilonInsensitiveLossRegressor(epsilon=0.02)
        y, most_refits = targets, 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        path = loss_path(estimator, X, y, n_alphas=10)
    assert np.count_nonzero(path.n_iters[1:] > 1) <= most_refits
    assert np.all(path.duality_gaps <= 1e-9)
    for index in (5, 9):
        cold = clone(estimator).set_params(alpha=path.alphas[index]).fit(X, y)
        assert path.objectives[index] <= cold.objective_ * (1 + 1e-9)
