"""Certificates: objective_ and duality_gap_ on every fit, and the duality gap
as a bound that holds (checked against the independent reference)."""

import numpy as np
import pytest
import scipy.sparse as sp
from objective import objective
from reference import reference_optimum
from test_optimality import GAP_BOUND, make_estimator, make_problem, problem_of

from sklearn_losses import FocalLossClassifier, HingeLossClassifier
from sklearn_losses._loss import (
    HingeLoss,
    HuberLoss,
    LogisticLoss,
    MultinomialLoss,
    SquaredHingeLoss,
)
from sklearn_losses._objective import LinearObjective
from sklearn_losses._penalty import ElasticNet
from sklearn_losses.solvers import SolverResult, active_set, solve
from sklearn_losses.solvers.active_set import LeastSquares, _KinkRowsFactors
from sklearn_losses.solvers.certificate import DUALITY_GAP, certify

PENALTIES = {"l2": (0.01, 0.0), "l1": (0.01, 1.0), "en": (0.01, 0.5)}


@pytest.mark.parametrize("loss", list(GAP_BOUND))
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_duality_gap_is_tiny_and_bounds_the_distance_to_the_reference(
    loss, penalty, fit_intercept, rng
):
    """At default settings the certified gap is at most 1e-9, and it bounds
    the fit's distance to the optimum that the independent reference
    (Clarabel, to 1e-12) finds: (J - J_ref) / J_ref <= gap + 1e-9 (the
    reference's own accuracy). With a pure L1 penalty the smooth losses'
    dual point is scaled into |X.T @ u| <= l1, which costs about (gradient
    residual / l1) of J; the multinomial fits, left by L-BFGS-B at a
    residual of 1e-9, had gaps up to 1.8e-7 before their Newton polish.
    objective_ is the SPEC objective of tests/objective.py at the fit (1e-12
    relative)."""
    alpha, l1_ratio = PENALTIES[penalty]
    X, y_fit, y_encoded = make_problem(loss, rng)
    weight = rng.integers(1, 4, X.shape[0])
    model = make_estimator(loss, alpha, l1_ratio, fit_intercept)
    model.fit(X, y_fit, sample_weight=weight)
    params = {"quantile": 0.3} if loss == "pinball" else {}
    common = dict(alpha=alpha, l1_ratio=l1_ratio, **params)
    ours = objective(
        loss, X, y_encoded, weight, model.coef_, model.intercept_, **common
    )
    assert model.objective_ == pytest.approx(ours, rel=1e-12)
    assert model.duality_gap_ <= 1e-9
    exact, _, _ = reference_optimum(
        loss, X, y_encoded, weight, fit_intercept=fit_intercept, **common
    )
    assert (ours - exact) / abs(exact) <= model.duality_gap_ + 1e-9


@pytest.mark.parametrize(
    "loss, target",
    [
        (LogisticLoss(), "signed"),
        (SquaredHingeLoss(), "signed"),
        (HuberLoss(0.7), "real"),
        (MultinomialLoss(), "codes"),
    ],
)
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_the_gap_of_a_perturbed_point_bounds_its_suboptimality(
    loss, target, l1_ratio, fit_intercept, rng
):
    """The Fenchel dual point built from any point (here the optimum moved by
    10% noise) gives D <= J*: the gap of the moved point is at least its
    true relative suboptimality, measured against the solved optimum."""
    X = sp.csr_matrix(rng.standard_normal((300, 6)) * (rng.random((300, 6)) < 0.6))
    n_outputs = 3 if target == "codes" else 1
    y = {
        "signed": rng.choice([-1.0, 1.0], 300),
        "real": 2.0 * rng.standard_normal(300),
        "codes": rng.integers(0, 3, 300),
    }[target]
    problem = LinearObjective(
        loss,
        X,
        y,
        rng.uniform(0.5, 2.0, 300),
        penalty=ElasticNet.from_alpha(0.05, l1_ratio),
        fit_intercept=fit_intercept,
        n_outputs=n_outputs,
    )
    start = np.zeros((6, n_outputs))
    best = solve(problem, start, np.zeros(n_outputs), max_iter=1000, tol=1e-12)
    optimum = best.certificate.objective
    for seed in range(3):
        noise = np.random.default_rng(seed)
        coef = best.coef * (1 + 0.1 * noise.standard_normal(best.coef.shape))
        intercept = problem.to_centered_intercept(coef, best.intercept) + 0.1
        moved = SolverResult(coef, intercept * fit_intercept, 1, False, "moved")
        certificate = certify(problem, moved)
        assert certificate.kind == DUALITY_GAP
        suboptimality = (certificate.objective - optimum) / abs(certificate.objective)
        assert certificate.gap >= suboptimality - 1e-12
        # Not vacuous: a point moved off the optimum shows a gap (the moves
        # leave some optima, W = 0 with a shared intercept shift, alone).
        assert certificate.gap > 0 or suboptimality < 1e-12


def test_one_vs_rest_certificates_are_per_class_and_focal_reports_stationarity(rng):
    X = rng.standard_normal((200, 4))
    y = np.argmax(X[:, :3] + rng.gumbel(size=(200, 3)), axis=1)
    hinge = HingeLossClassifier(alpha=1e-3).fit(X, y)
    assert hinge.objective_.shape == (3,) and hinge.duality_gap_.shape == (3,)
    assert np.all(hinge.duality_gap_ <= 1e-9)
    for k in range(3):
        signed = np.where(y == k, 1.0, -1.0)
        expected = objective(
            "hinge",
            X,
            signed,
            np.ones(200),
            hinge.coef_[[k]],
            hinge.intercept_[k],
            alpha=1e-3,
            l1_ratio=0.0,
        )
        assert hinge.objective_[k] == pytest.approx(expected, rel=1e-12)
    focal = FocalLossClassifier(alpha=1e-3).fit(X, y == 0)
    assert isinstance(focal.objective_, float)
    # Stationarity: L-BFGS-B's gradient test is on preconditioned
    # coordinates, tol=1e-10 there; measured 1.3e-8 here.
    assert focal.duality_gap_ <= 1e-7


@pytest.mark.parametrize("loss", ["huber", "pinball", "logistic", "hinge"])
def test_certificates_undo_the_rescaling_of_extreme_targets_and_features(loss, rng):
    """objective_ is the SPEC objective of the data given, whatever the fit
    rescaled (targets of 1e100, features of 1e60): 1e-10 relative; the gap,
    a ratio, is that of the rescaled problem: at most 1e-8 (the negligible L2
    term sends pinball to its linear program, whose bound is HiGHS's dual
    solution, measured 2e-9; the smooth losses report stationarity)."""
    X, y_fit, y_encoded = make_problem(loss, rng)
    X = X * 1e60
    if loss in ("huber", "pinball"):
        y_fit = y_encoded = y_fit * 1e100
    model = make_estimator(loss, 1e-3, 0.0, True).fit(X, y_fit)
    params = {"quantile": 0.3} if loss == "pinball" else {}
    expected = objective(
        loss,
        X,
        y_encoded,
        np.ones(X.shape[0]),
        model.coef_,
        model.intercept_,
        alpha=1e-3,
        l1_ratio=0.0,
        **params,
    )
    assert model.objective_ == pytest.approx(expected, rel=1e-10)
    assert model.duality_gap_ <= 1e-8


def test_problem_of_matches_the_estimators_objective(rng):
    """The solver-level objective the certificate tests use is the SPEC one."""
    X, _, y_encoded = make_problem("logistic", rng)
    problem = problem_of("logistic", X, y_encoded, np.ones(80), 0.01, 0.5, True)
    coef = rng.standard_normal((5, 1))
    value = problem.value(coef, problem.to_centered_intercept(coef, np.array([0.3])))
    expected = objective(
        "logistic",
        X,
        y_encoded,
        np.ones(80),
        coef.T,
        0.3,
        alpha=0.01,
        l1_ratio=0.5,
    )
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("loss", [LogisticLoss(), HuberLoss(0.7), MultinomialLoss()])
def test_newtons_answer_is_certified_from_its_own_scores(loss, rng, monkeypatch):
    """Newton's method ends with the scores X @ W + b of its answer at hand;
    the certificate takes them instead of two products with X (the value's
    and the dual point's): one product remains, X.T @ u. The certificate is
    the one computed from scratch: J to 1e-13 relative, both gaps below
    1e-12."""
    from sklearn_losses.solvers.newton import solve_newton

    n_outputs = 3 if loss.is_multiclass else 1
    X = rng.standard_normal((400, 7))
    y = rng.integers(0, 3, 400) if loss.is_multiclass else rng.choice([-1.0, 1.0], 400)
    problem = LinearObjective(
        loss,
        X,
        y,
        rng.uniform(0.5, 2.0, 400),
        penalty=ElasticNet.from_alpha(0.05, 0.0),
        fit_intercept=True,
        n_outputs=n_outputs,
    )
    result = solve_newton(
        problem,
        np.zeros((7, n_outputs)),
        np.zeros(n_outputs),
        max_iter=100,
        tol=1e-10,
    )
    assert result.converged and result.raw is not None
    products, evaluations = [], []
    for name in ("matvec", "rmatvec"):
        original = getattr(LinearObjective, name)

        def counted(self, *args, original=original, name=name, **kwargs):
            products.append(name)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(LinearObjective, name, counted)
    original_evaluation = type(loss).loss_gradient

    def evaluated(self, *args):
        evaluations.append(1)
        return original_evaluation(self, *args)

    monkeypatch.setattr(type(loss), "loss_gradient", evaluated)
    certificate = certify(problem, result)
    assert products == ["rmatvec"]
    assert result.raw is None
    if not loss.is_multiclass:
        # The value and the derivatives at the answer in one evaluation, the
        # derivatives at the intercept's shift in one more (they were four:
        # the value, the search's start, its step, the dual point).
        assert len(evaluations) <= 2
    monkeypatch.undo()
    scratch = certify(problem, SolverResult(result.coef, result.intercept, 1, True, ""))
    assert certificate.objective == pytest.approx(scratch.objective, rel=1e-13)
    assert certificate.gap <= 1e-12 and scratch.gap <= 1e-12


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize(
    "shape, duplicated",
    [((40, 60), False), ((40, 60), True), ((80, 30), False), ((1, 5), False)],
    ids=["wide", "duplicated rows", "tall", "one row"],
)
def test_kink_rows_factors_give_the_least_norm_solutions(
    shape, duplicated, fit_intercept
):
    """``_KinkRowsFactors.solve`` against the pseudo-inverse: ``e`` is the
    least-norm least-squares solution of ``C e = Q1.T g`` (``C`` the rows
    centered among themselves with an intercept, the rows as they are
    without), ``z`` sums to zero with an intercept and ``Z.T @ z = e``
    wherever ``e`` is in the rows' span. The QR path (wide), the singular
    value path (duplicated rows: rank deficient; tall: more rows than
    columns) and the empty subspace (one row with an intercept). Rows on
    scales 1e-4 to 1e4, as where the Gram matrix lost the equations;
    tolerance 1e-9 relative to the solution's size."""
    rng = np.random.default_rng(0)
    rows = rng.standard_normal(shape) * np.logspace(-2, 2, shape[1])
    if duplicated:
        rows[1] = rows[0]
    right = rng.standard_normal(shape[0])
    least_norm, multipliers = _KinkRowsFactors(rows, fit_intercept).solve(right)
    centered = rows - rows.mean(axis=0) if fit_intercept else rows
    wanted = right - right.mean() if fit_intercept else right
    expected = np.linalg.pinv(centered) @ wanted
    scale = max(np.abs(expected).max(), 1.0)
    np.testing.assert_allclose(least_norm, expected, rtol=0, atol=1e-9 * scale)
    expected_multipliers = np.linalg.pinv(centered.T) @ expected
    np.testing.assert_allclose(
        multipliers,
        expected_multipliers,
        rtol=0,
        atol=1e-9 * max(np.abs(expected_multipliers).max(), 1.0),
    )
    if fit_intercept:
        assert abs(multipliers.sum()) <= 1e-9 * max(np.abs(multipliers).max(), 1.0)


@pytest.mark.parametrize("n_features", [80, 20], ids=["full rank", "rank 20 of 51"])
@pytest.mark.parametrize(
    "signed, bordered",
    [(True, True), (True, False), (False, False)],
    ids=["cholesky", "eigh", "svd"],
)
def test_least_squares_matches_lstsq_on_bordered_kink_systems(
    n_features, signed, bordered
):
    """The kink system (Gram matrix of 50 rows, its columns times a = +-1,
    divided by l2 = 0.01, bordered by the intercept's row) solved once
    factored, for three right-hand sides, as np.linalg.lstsq solves it
    (the minimum-norm least-squares solution): to 1e-14 of its size by the
    SVD, to 1e-9 by the eigendecomposition of the sign-symmetrized matrix
    (its small eigenvalues are known to eps times the largest; measured
    2e-10 at most, rank deficient) and by Cholesky with the border
    eliminated where the matrix is of full rank. Not told of the border, or
    of rank 20, the solve is by the eigendecomposition."""
    rng = np.random.default_rng(n_features)
    rows = rng.standard_normal((50, n_features))
    a = rng.choice([-1.0, 1.0], 50)
    matrix = np.zeros((51, 51))
    matrix[:50, :50] = rows @ rows.T * a / 0.01
    matrix[:50, 50] = 1.0
    matrix[50, :50] = a
    system = LeastSquares(
        matrix, np.append(a, 1.0) if signed else None, bordered=bordered
    )
    assert (system.cholesky is not None) == (bordered and n_features == 80)
    for _ in range(3):
        right = rng.standard_normal(51)
        expected = np.linalg.lstsq(matrix, right, rcond=None)[0]
        tolerance = (1e-9 if signed else 1e-14) * np.abs(expected).max()
        np.testing.assert_allclose(system.solve(right), expected, atol=tolerance)


@pytest.mark.parametrize("n_empty", [0, 3])
def test_least_squares_leaves_empty_kink_rows_at_zero(n_empty):
    """Without an intercept, an empty sample on the kink is a zero row and
    column of the Gram matrix: solved by Cholesky on the other rows, with
    zero for it, it is np.linalg.lstsq's minimum-norm solution (to 1e-9 of
    its size); a nearly singular Gram matrix (two rows 1e-9 apart) goes to
    the eigendecomposition."""
    rng = np.random.default_rng(n_empty)
    rows = rng.standard_normal((40, 60))
    rows[:n_empty] = 0.0
    a = rng.choice([-1.0, 1.0], 40)
    matrix = rows @ rows.T * a / 0.01
    system = LeastSquares(matrix, a)
    assert system.cholesky is not None
    right = rng.standard_normal(40)
    expected = np.linalg.lstsq(matrix, right, rcond=None)[0]
    solved = system.solve(right)
    np.testing.assert_allclose(solved, expected, atol=1e-9 * np.abs(expected).max())
    assert np.all(solved[:n_empty] == 0.0)
    rows[-1] = rows[-2] + 1e-9 * rng.standard_normal(60)
    assert LeastSquares(rows @ rows.T * a / 0.01, a).cholesky is None


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_wide_sparse_kink_systems_are_solved_by_minres_at_the_optimum(
    fit_intercept, l1_ratio, monkeypatch
):
    """Hinge with an L2 penalty or an elastic net on sparse rows much wider
    than the kink set (400 x 3,000, 1% dense): the kink system of a few
    hundred samples is solved by MINRES on products with the kink rows (on
    the active features with an L1 part), not by forming their Gram matrix
    (whose eigendecomposition took 1.8 s at 1,900 kink samples on tf-idf
    text, and with its eigenvectors peaked at 46 times X on an elastic
    net). The answer is certified (gap <= 1e-9) and at the cvxpy
    reference's objective or below (relative 1e-8). With an L1 part the
    rows here are small enough to be made dense (2 MB), so that floor is
    lowered to zero to send the system to MINRES, and the dense solve's
    limit on kink samples to 20, which a consistent system past it no
    longer meets (the active-set step had refused it: on tf-idf 5,000 x
    50,000 the smoothed dual then ran to max_iter at a gap of 5e-2)."""
    rng = np.random.default_rng(3)
    X = sp.random(400, 3000, density=0.01, format="csr", random_state=rng)
    y = np.where(
        X @ rng.standard_normal(3000) + 0.1 * rng.logistic(size=400) > 0, 1, -1
    )
    sizes = []
    original = active_set.solve_kink_system

    def spy(objective, kink_index, *args, active=None):
        assert (active is None) == (l1_ratio == 0.0)
        sizes.append(kink_index.size)
        return original(objective, kink_index, *args, active=active)

    monkeypatch.setattr(active_set, "solve_kink_system", spy)
    if l1_ratio > 0:
        monkeypatch.setattr(active_set, "DENSE_ROWS_FLOOR", 0)
        monkeypatch.setattr(active_set, "DENSE_KINK_LIMIT", 20)
    model = HingeLossClassifier(
        alpha=1e-3, l1_ratio=l1_ratio, fit_intercept=fit_intercept
    ).fit(X, y)
    assert sizes
    if l1_ratio > 0:
        assert max(sizes) > active_set.DENSE_KINK_LIMIT
    assert model.duality_gap_ <= 1e-9
    expected, _, _ = reference_optimum(
        "hinge",
        X,
        y,
        np.ones(400),
        alpha=1e-3,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
    )
    assert model.objective_ <= expected + 1e-8 * abs(expected)


def test_minres_takes_large_sparse_kink_systems_and_dense_solves_small_ones():
    """The choice between MINRES and the dense solve of an elastic net's
    kink system follows their estimated costs: on random sparse rows (30
    entries each) 1,900 kink samples on 2,000 features go to MINRES (dense:
    5.2 s and 50 times X in a fit, MINRES 1.7 s and 2.1 times), 100 on 110
    to the dense solve, and a dense X never to MINRES (its rows always fit)."""
    rng = np.random.default_rng(0)
    X = sp.random(2000, 10_000, density=0.003, format="csr", random_state=rng)
    y = rng.choice([-1.0, 1.0], 2000)
    for matrix, large, small in ((X, True, False), (X.tocsc(), True, False)):
        objective = LinearObjective(
            HingeLoss(),
            matrix,
            y,
            np.ones(2000),
            penalty=ElasticNet(1e-4, 1e-4),
            fit_intercept=True,
        )
        lower, upper = objective.loss.dual_box()
        sets = active_set._ActiveSets(
            objective,
            np.full(2000, upper),
            np.zeros(10_000),
            np.full(2000, lower),
            np.full(2000, upper),
        )
        assert sets.minres_is_cheaper(np.arange(1900), 2000) is large
        assert sets.minres_is_cheaper(np.arange(100), 110) is small
    dense = LinearObjective(
        HingeLoss(),
        rng.standard_normal((50, 20)),
        y[:50],
        np.ones(50),
        penalty=ElasticNet(1e-4, 1e-4),
        fit_intercept=True,
    )
    sets = active_set._ActiveSets(
        dense, np.ones(50), np.zeros(20), np.zeros(50), np.ones(50)
    )
    assert not sets.minres_is_cheaper(np.arange(40), 20)


def test_active_set_method_gives_up_when_its_violations_stop_falling(monkeypatch):
    """Where the rounds' count of violated conditions sets no new low for
    ``STALL_ROUNDS`` rounds, the method gives up (returns ``None``) instead
    of running its ``max_rounds``: on tf-idf 5,000 x 50,000 such rounds
    swung from 19 violations to 20,000 and took 49 s. A count that keeps
    falling is followed to the end."""
    rng = np.random.default_rng(5)
    objective = LinearObjective(
        HingeLoss(),
        rng.standard_normal((60, 8)),
        rng.choice([-1.0, 1.0], 60),
        np.ones(60),
        penalty=ElasticNet(0.0, 1e-2),
        fit_intercept=True,
    )
    lower, upper = objective.loss.dual_box()
    lower, upper = np.full(60, lower), np.full(60, upper)
    # Five samples on the kink, the others at an end of their box.
    theta = np.where(np.arange(60) < 5, 0.5 * (lower + upper), upper)
    coef = np.zeros(8)

    def run(counts):
        rounds = []

        def move(self, solution):
            rounds.append(len(rounds))
            self.n_violations = counts(len(rounds))
            return self.n_violations > 0

        monkeypatch.setattr(active_set._ActiveSets, "move", move)
        monkeypatch.setattr(active_set._ActiveSets, "apply_moves", lambda self: None)
        result = active_set.active_set_method(
            objective, theta, coef, lower, upper, max_rounds=100, certificates=0
        )
        return result, len(rounds)

    result, rounds = run(lambda round: 7)
    assert result is None and rounds == 1 + active_set.STALL_ROUNDS
    result, rounds = run(lambda round: max(30 - round, 0))
    assert result is not None and rounds == 30


def test_dual_certificate_on_sparse_rows_is_the_dense_ones(monkeypatch):
    """``dual_certificate`` poses its program on a sparse ``X`` as it is
    (uncentered, only the features the free samples touch). At a degenerate
    optimum (hinge elastic net above alpha_max: the zero model, a class of
    samples on the kink with free dual values, with the intercept at 1) it
    certifies the same point as on the dense rows: both programs are
    feasible and both dual values equal the objective to 1e-12 relative;
    where the L1 bound is too tight for the zero model, both find no
    point. The program HiGHS gets is sparse where ``X`` is (the dense rows
    of a class of tf-idf samples took it 20 to 30 s per program)."""
    programs = []
    linprog = active_set.linprog

    def recorded(*args, **kwargs):
        programs.append(sp.issparse(kwargs["A_ub"]))
        return linprog(*args, **kwargs)

    monkeypatch.setattr(active_set, "linprog", recorded)
    rng = np.random.default_rng(3)
    X = sp.random(300, 3000, density=0.01, format="csr", random_state=rng)
    y = np.where(rng.random(300) < 0.7, 1.0, -1.0)
    weight = np.full(300, 1 / 300)
    intercept = 1.0
    for l1, feasible in ((0.05, True), (1e-4, False)):
        points, programs[:] = [], []
        for matrix in (X, X.toarray()):
            problem = LinearObjective(
                HingeLoss(),
                matrix,
                y,
                weight,
                penalty=ElasticNet(l1, 1e-3),
                fit_intercept=True,
            )
            c, a = problem.loss.affine_parts(problem.y)
            coef = np.zeros(3000)
            residual = c - a * (problem.matvec(coef).ravel() + intercept)
            theta = active_set.dual_certificate(
                problem, coef, residual, 1e-12, 0.0 * weight, weight
            )
            if theta is None:
                points.append(None)
                continue
            primal = problem.value(coef.reshape(-1, 1), np.array([intercept]))
            points.append((problem.dual_value(theta), primal))
        if not feasible:
            assert points == [None, None]
            continue
        assert programs == [True, False]
        for dual, primal in points:
            assert abs(primal - dual) <= 1e-12 * abs(primal)
