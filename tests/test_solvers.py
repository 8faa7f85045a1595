"""The solver table and the penalty object: which route each problem takes,
how a route hands over, and the elastic net's operations."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_losses import (
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
)
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
from sklearn_losses._penalty import ElasticNet
from sklearn_losses.solvers import (
    METHODS,
    ROUTES,
    forced_method,
    newton,
    route_of,
    solve,
)
from sklearn_losses.solvers.dispatch import run_route


def _problem(loss, l1, l2, n_samples=40, n_features=3, n_outputs=1, shift=0.0):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features)) + shift
    if loss.is_multiclass:
        y = rng.integers(0, n_outputs, n_samples)
    elif isinstance(loss, HuberLoss | PinballLoss):
        y = X @ rng.standard_normal(n_features) + rng.standard_normal(n_samples)
    else:
        y = rng.choice([-1.0, 1.0], n_samples)
    return LinearObjective(
        loss,
        X,
        y,
        np.ones(n_samples),
        penalty=ElasticNet(l1, l2),
        fit_intercept=True,
        n_outputs=n_outputs,
    )


@pytest.mark.parametrize(
    "loss, l1, l2, n_features, n_outputs, route",
    [
        (HuberLoss(1.0), 0.0, 1e-3, 3, 1, 2),
        (HuberLoss(1e-12), 0.0, 1e-3, 3, 1, 1),
        (HuberLoss(1.0), 1e-3, 0.0, 3, 1, 3),
        (HuberLoss(1.0), 1e-3, 1e-3, 3, 1, 5),
        (LogisticLoss(), 0.0, 0.0, 3, 1, 2),
        (LogisticLoss(), 1e-3, 1e-3, 3, 1, 4),
        (SquaredHingeLoss(), 1e-3, 0.0, 3, 1, 4),
        (MultinomialLoss(), 0.0, 1e-3, 3, 3, 6),
        (MultinomialLoss(), 1e-3, 1e-3, 3, 3, 7),
        (FocalLoss(2.0), 1e-3, 0.0, 3, 1, 4),
        (FocalLoss(2.0), 0.0, 1e-3, 3, 1, 2),
        (MultinomialFocalLoss(2.0), 0.0, 0.0, 3, 3, 8),
        (HingeLoss(), 0.0, 0.0, 3, 1, 9),
        (PinballLoss(0.3), 1e-3, 0.0, 3, 1, 9),
        (HingeLoss(), 0.0, 1e-60, 50, 1, 10),
        (HingeLoss(), 0.0, 1e-60, 3, 1, 11),
        (HingeLoss(), 1e-3, 1e-60, 50, 1, 11),
        (PinballLoss(0.5), 0.0, 1e-3, 50, 1, 12),
        (PinballLoss(0.5), 0.0, 1e-3, 3, 1, 13),
        (HingeLoss(), 1e-3, 1e-3, 50, 1, 12),
        (HingeLoss(), 1e-3, 1e-3, 3, 1, 13),
    ],
)
def test_each_kind_of_problem_takes_its_row_of_the_table(
    loss, l1, l2, n_features, n_outputs, route
):
    """The rows as docs/solvers.rst numbers them (1-based); "many features"
    means more than the 40 samples a dense Newton system can take here."""
    problem = _problem(loss, l1, l2, n_features=n_features, n_outputs=n_outputs)
    assert route_of(problem) is ROUTES[route - 1]
    assert all(name in METHODS for route in ROUTES for name in route.methods)


@pytest.mark.parametrize(
    "l2, n_samples, n_features, route",
    [
        (1e-3, 1001, 4000, 5),
        (0.0, 3001, 4000, 5),
        (0.0, 1002, 1001, 5),
        (0.0, 1001, 1001, 4),
        (0.0, 3000, 4000, 4),
    ],
    ids=["elastic-net", "pure-l1-3001-samples", "pure-l1-tall", "pure-l1", "wide"],
)
def test_l1_on_many_samples_and_features_takes_the_orthant_route(
    l2, n_samples, n_features, route
):
    """Row 5, not 4, on more than 1,000 samples and features (the working
    sets' dense Hessians would outgrow DIRECT_NEWTON_SIZE), unless the
    penalty is pure L1 on at most PURE_L1_SAMPLES samples and at least as
    many features: its optimum has at most as many non-zeros as samples."""
    problem = _problem(
        LogisticLoss(), 1e-3, l2, n_samples=n_samples, n_features=n_features
    )
    assert route_of(problem) is ROUTES[route - 1]


class _Recorded:
    """A method that records its calls and returns a fixed verdict."""

    def __init__(self, converged, n_iter):
        self.converged, self.n_iter, self.calls = converged, n_iter, []

    def __call__(self, objective, coef, intercept, *, max_iter, tol, on_iteration):
        from sklearn_losses.solvers import SolverResult

        self.calls.append((coef.copy(), max_iter))
        return SolverResult(coef + 1.0, intercept, self.n_iter, self.converged, "x")


def test_a_route_hands_over_from_the_previous_point_while_iterations_remain(
    monkeypatch,
):
    """The rule of a route: the next method runs where the one before did not
    finish and iterations remain, from that one's point, with what is left of
    the budget; the iterations add up; a finished method ends the route."""
    first, second, third = _Recorded(False, 3), _Recorded(True, 4), _Recorded(True, 1)
    monkeypatch.setitem(METHODS, "first", first)
    monkeypatch.setitem(METHODS, "second", second)
    monkeypatch.setitem(METHODS, "third", third)
    problem = _problem(LogisticLoss(), 0.0, 1e-3)
    options = dict(max_iter=10, tol=1e-10, on_iteration=lambda: None)
    start = np.zeros((3, 1))
    result = run_route(
        ("first", "second", "third"), problem, start, np.zeros(1), options
    )
    assert [budget for _, budget in first.calls + second.calls] == [10, 7]
    np.testing.assert_array_equal(second.calls[0][0], start + 1.0)
    assert not third.calls
    assert result.converged and result.n_iter == 7
    # Out of iterations after the first: the second does not run.
    first, second = _Recorded(False, 10), _Recorded(True, 1)
    monkeypatch.setitem(METHODS, "first", first)
    monkeypatch.setitem(METHODS, "second", second)
    result = run_route(("first", "second"), problem, start, np.zeros(1), options)
    assert not second.calls and not result.converged and result.n_iter == 10


def test_forced_method_replaces_the_route_and_rejects_unknown_names(rng):
    X = rng.standard_normal((60, 3))
    y = X[:, 0] + rng.logistic(size=60) > 0
    with forced_method("lbfgs-split"):
        forced = LogisticLossClassifier(alpha=1e-2).fit(X, y)
    routed = LogisticLossClassifier(alpha=1e-2).fit(X, y)
    # Stated tolerance: both stop at a gradient of 1e-10 (L-BFGS-B then
    # polished by Newton steps, and Newton's method).
    np.testing.assert_allclose(forced.coef_, routed.coef_, rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="unknown methods"):
        with forced_method("newton", "simplex"):
            pass


def test_huber_with_a_band_below_resolution_is_solved_as_least_absolute_deviations(
    rng,
):
    """Targets of 1e20 with delta = 1: the band is 1e-20 of the targets'
    scale, and the fit is least absolute deviations on the tails (route 1),
    the pinball loss at 0.5 (its linear program); its coefficients are the
    median regression's to 1e-9 relative."""
    X = rng.standard_normal((200, 3))
    y = 1e20 * (X @ np.array([1.0, -2.0, 0.5]) + rng.standard_t(2, 200))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        huber = HuberLossRegressor(alpha=0.0).fit(X, y)
    median = QuantileLossRegressor(quantile=0.5, alpha=0.0).fit(X, y)
    np.testing.assert_allclose(huber.coef_, median.coef_, rtol=1e-9)


def test_solve_returns_the_model_intercept_and_a_start_can_be_warm(rng):
    """``solve`` takes and gives the intercept of ``X @ W + b`` (the centered
    problem's stays inside): from its own answer it converges at once."""
    # Off-centre features: the centered and the model intercepts differ.
    problem = _problem(SquaredHingeLoss(), 0.0, 1e-2, n_samples=80, shift=5.0)
    first = solve(problem, np.zeros((3, 1)), np.zeros(1), max_iter=100, tol=1e-10)
    raw = np.asarray(problem.X @ first.coef).ravel() + first.intercept
    assert first.converged
    again = solve(problem, first.coef, first.intercept, max_iter=100, tol=1e-10)
    assert again.converged and again.n_iter == 1
    np.testing.assert_allclose(
        np.asarray(problem.X @ again.coef).ravel() + again.intercept, raw, atol=1e-12
    )


# -- the penalty -----------------------------------------------------------------
def test_elastic_net_value_and_strengths():
    penalty = ElasticNet.from_alpha(0.2, 0.25)
    assert penalty.l1 == pytest.approx(0.05) and penalty.l2 == pytest.approx(0.15)
    coef = np.array([[1.0, -2.0], [0.0, 3.0]])
    expected = 0.05 * 6.0 + 0.15 / 2 * 14.0
    assert penalty.value(coef) == pytest.approx(expected, rel=1e-15)
    assert penalty.smooth_value(coef) == pytest.approx(0.15 / 2 * 14.0, rel=1e-15)
    assert penalty.has_l1 and penalty.has_l2
    assert not ElasticNet().has_l1 and not ElasticNet().has_l2


@pytest.mark.parametrize("l1, l2", [(0.3, 0.0), (0.3, 0.7), (0.0, 0.7)])
def test_elastic_net_proximal_step_satisfies_its_optimality_condition(l1, l2, rng):
    """``p = prox(v)`` minimizes ``P(w) + |w - v|**2 / (2 t)``: ``(v - p) / t``
    is a subgradient of P at p. Stated tolerance: 1e-14 (one rounding)."""
    penalty, step = ElasticNet(l1, l2), 0.5
    point = rng.standard_normal(50) * 0.5
    result = penalty.proximal_step(point, step)
    residual = penalty.minimum_norm_subgradient(
        result, l2 * result - (point - result) / step
    )
    # minimum_norm_subgradient adds l1 * sign(w) and the gradient passed: at
    # the prox, 0 is in l1 * d|w| + l2 * w - (v - w) / t.
    np.testing.assert_allclose(residual, 0.0, atol=1e-14)


def test_minimum_norm_subgradient_and_the_dual_map():
    penalty = ElasticNet(1.0, 2.0)
    coef = np.array([0.0, 0.0, 0.5, -0.5])
    gradient = np.array([0.5, -3.0, 1.0, 1.0])
    np.testing.assert_allclose(
        penalty.minimum_norm_subgradient(coef, gradient), [0.0, -2.0, 2.0, 0.0]
    )
    correlation = np.array([0.5, -3.0, 3.0])
    np.testing.assert_allclose(penalty.coef_from_dual(correlation), [0.0, -1.0, 1.0])
    np.testing.assert_allclose(
        penalty.coef_on_orthant(correlation, np.array([1.0, -1.0, 1.0])),
        [-0.25, -1.0, 1.0],
    )
    np.testing.assert_allclose(penalty.gradient_off_zero(coef[2:]), [2.0, -2.0])


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_smallest_alpha_for_zero_is_where_the_fit_turns_zero(l1_ratio, rng):
    """At the smallest alpha giving W = 0 (from the gradient at zero with the
    best intercept), the fit is all zero; 1% below it, it is not."""
    X = rng.standard_normal((100, 4))
    y = X @ np.array([1.0, 0.5, 0.0, -0.3]) + rng.logistic(size=100) > 0
    signed = np.where(y, 1.0, -1.0)
    problem = LinearObjective(
        LogisticLoss(),
        X,
        signed,
        np.ones(100),
        penalty=ElasticNet(),
        fit_intercept=True,
    )
    best = LogisticLoss().best_constant(signed, problem.sample_weight)
    raw = np.full(100, best[0])
    _, gradient = problem.smooth_value_gradient(
        problem.pack(np.zeros((4, 1)), best), raw=raw
    )
    alpha = ElasticNet.smallest_alpha_for_zero(gradient[:4], l1_ratio)
    at = LogisticLossClassifier(alpha=alpha * 1.000001, l1_ratio=l1_ratio).fit(X, y)
    below = LogisticLossClassifier(alpha=alpha * 0.99, l1_ratio=l1_ratio).fit(X, y)
    assert np.all(at.coef_ == 0) and np.any(below.coef_ != 0)
    assert ElasticNet.smallest_alpha_for_zero(gradient[:4], 0.0) == np.inf


def test_lbfgs_starts_afresh_after_stopping_on_the_objective_alone():
    """L-BFGS-B stopped on the relative decrease of the objective with its
    projected gradient at 1e-3, 2e-4 above the optimum (relative gap 7e-3,
    no warning); a fresh start from there certifies 1e-9."""
    from sklearn_losses import LogisticLossClassifier

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 12))
    rng.standard_t(3, 300), rng.logistic(size=300)
    y = np.argmax(1.5 * X[:, :3] + rng.gumbel(size=(300, 3)), axis=1)
    model = LogisticLossClassifier(alpha=4.8271567857909313e-4, l1_ratio=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y)
    assert model.duality_gap_ <= 1e-9


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_binary_focal_fits_take_newtons_routes_to_the_tolerance(l1_ratio):
    """The binary focal loss has a curvature (clipped at zero where it bends
    concave), so its fits take the Newton rows of the table. L-BFGS-B
    stopped them at stationarity residuals of 6e-10 to 9e-9 (tol 1e-10);
    Newton's steps reach the tolerance in a few iterations, at an objective
    no higher than L-BFGS-B's (the same forced route, 1e-13 relative)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2000, 20))
    y = (X[:, :5].sum(axis=1) + rng.logistic(size=2000) > 0).astype(int)
    model = FocalLossClassifier(alpha=1e-3, l1_ratio=l1_ratio)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    assert model.duality_gap_ <= model.tol
    assert model.n_iter_ <= 15
    with forced_method("zero-check", "lbfgs-split"):
        quasi_newton = FocalLossClassifier(alpha=1e-3, l1_ratio=l1_ratio).fit(X, y)
    assert model.objective_ <= quasi_newton.objective_ * (1 + 1e-13)


@pytest.mark.parametrize("status", [0, 2])
@pytest.mark.parametrize("far", [True, False])
def test_lbfgs_stops_short_of_the_gradient_test_are_not_convergence(
    monkeypatch, far, status
):
    """L-BFGS-B's status 0 also covers a stop on the objective's relative
    decrease, and status 2 one where its line search found no decrease;
    both were taken as converged wherever they came: on Huber L1 with
    targets 1,000 times delta a stop on the decrease came after two
    iterations, at a relative duality gap of 2e-6, and the fit ended with
    no warning. Now, without an L2 part, either is converged only where
    the projected gradient is at most tol or at rounding level; elsewhere
    the method reports a stall. L-BFGS-B is made to stop so at a point far
    from the optimum (the start) and at the optimum itself."""
    from scipy.optimize import OptimizeResult

    from sklearn_losses.solvers import lbfgs

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    signed = np.where(X[:, 0] + rng.logistic(size=200) > 0, 1.0, -1.0)
    objective = LinearObjective(
        LogisticLoss(),
        X,
        signed,
        np.ones(200),
        penalty=ElasticNet(0.01, 0.0),
        fit_intercept=True,
    )
    coef, intercept = np.zeros((6, 1)), np.zeros(1)
    with forced_method("lbfgs-split"):
        optimum = solve(objective, coef, intercept, max_iter=500, tol=1e-10)
    assert optimum.converged
    minimize = lbfgs.minimize

    def stops_short(function, start, **options):
        found = minimize(function, start, **options)
        point = start if far else found.x
        _, gradient = function(point)
        return OptimizeResult(x=point, jac=gradient, nit=2, status=status, message="")

    monkeypatch.setattr(lbfgs, "minimize", stops_short)
    result = lbfgs.solve_smooth(objective, coef, intercept, max_iter=500, tol=1e-10)
    assert result.converged is not far
    assert ("no step decreases the objective" in result.stop) is far


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
def test_feature_scale_of_sparse_X_by_blocks_equals_the_whole_product(
    sparse_format, rng
):
    """The second moments behind ``feature_scale`` are summed by blocks of
    rows (CSR) or columns (CSC), never on a squared copy of all of ``X``;
    they equal ``X.multiply(X).T @ s`` to rounding (1e-12 relative), on
    lengths that the 16 blocks do not divide evenly."""
    X = sp.random(301, 53, density=0.1, random_state=0, format=sparse_format)
    weight = rng.random(301)
    objective = LinearObjective(
        LogisticLoss(),
        X,
        np.where(rng.random(301) < 0.5, -1.0, 1.0),
        weight,
        penalty=ElasticNet.from_alpha(1e-3, 0.0),
        fit_intercept=True,
    )
    expected = np.asarray(X.multiply(X).T @ objective.sample_weight).ravel()
    np.testing.assert_allclose(
        objective._sparse_second_moment(), expected, rtol=1e-12, atol=0
    )


def test_feature_scale_follows_the_penalty_of_the_moment(rng):
    """A path changes the penalty on one problem: ``feature_scale`` is
    ``sqrt(variance + l2)`` with the ``l2`` of the call, not of the first
    call (a stale scale made the box-constrained dual's constraint penalty
    1,000 times too stiff at a path's last alphas). Exact to 1e-15."""
    X = rng.standard_normal((200, 7)) * np.array([1e-3, 1, 2, 3, 4, 5, 1e3])
    objective = LinearObjective(
        LogisticLoss(),
        X,
        np.where(rng.random(200) < 0.5, -1.0, 1.0),
        np.full(200, 1 / 200),
        penalty=ElasticNet.from_alpha(10.0, 0.0),
        fit_intercept=True,
    )
    variance = X.var(axis=0)
    for alpha in (10.0, 1e-2, 1e-6):
        objective.penalty = ElasticNet.from_alpha(alpha, 0.0)
        np.testing.assert_allclose(
            objective.feature_scale(), np.sqrt(variance + alpha), rtol=1e-13
        )


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticLossClassifier(alpha=1e-4),
        HuberLossRegressor(alpha=1e-4),
        HingeLossClassifier(loss="squared_hinge", alpha=1e-4),
    ],
    ids=["logistic", "huber", "squared hinge"],
)
def test_newton_on_very_sparse_X_uses_products_and_reaches_the_same_optimum(
    estimator, monkeypatch
):
    """On sparse 3,000 x 1,000 with two entries a row, factoring the
    1,000 x 1,000 Hessian costs more than SPARSE_PRODUCTS products: Newton
    uses conjugate gradients, at the dense Hessian's optimum (1e-12
    relative) and certified to tol (1e-10)."""

    rng = np.random.default_rng(4)
    X = sp.random(
        3000,
        1000,
        density=0.002,
        format="csr",
        random_state=rng,
        data_rvs=rng.standard_normal,
    )
    score = X @ (rng.standard_normal(1000) * (rng.random(1000) < 0.5))
    if isinstance(estimator, HuberLossRegressor):
        y = score + rng.standard_t(3, 3000)
    else:
        y = (score + rng.logistic(size=3000) > 0).astype(int)
    objective = LinearObjective(
        LogisticLoss(),
        X,
        2.0 * (y > 0) - 1.0,
        np.full(3000, 1 / 3000),
        penalty=ElasticNet(0.0, 1e-4),
        fit_intercept=True,
    )
    assert not newton.use_dense_hessian(objective, objective.n_coef)
    products = estimator.fit(X, y)
    monkeypatch.setattr(newton, "SPARSE_PRODUCTS", np.inf)
    assert newton.use_dense_hessian(objective, objective.n_coef)
    products_objective = products.objective_
    factored = estimator.fit(X, y)
    assert products.duality_gap_ <= 1e-10
    assert abs(products_objective - factored.objective_) <= 1e-12 * abs(
        factored.objective_
    )
