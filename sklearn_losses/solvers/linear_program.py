"""The dual linear program of a piecewise-linear loss with an L1 penalty (or none).

The loss of sample ``i`` is ``max over u in [lower, upper] of
u * (c_i - a_i * f_i)``, so the problem is the saddle point ``min over (w, b)
of max over theta of theta . (c - a * (X w + b)) + l1 * |w|_1`` with
``theta_i`` in ``s_i * [lower, upper]``. Its dual is the linear program

    maximize  c . theta
    subject to  -l1 <= X.T @ (a * theta) <= l1,  a . theta = 0 (intercept),
                s_i * lower <= theta_i <= s_i * upper,

with ``n_features + 1`` rows instead of the primal's ``n_samples``, which
HiGHS's interior-point method (with crossover to a vertex) solves far faster
than the primal. On many samples it is screened: a smoothed fit fixes most
samples' dual variables at a bound, and only the others are variables.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .result import SolverResult, no_callback
from .smoothed_dual import SmoothedLoss, smoothing_round

# HiGHS's presolve finds nothing to remove in these programs (dense columns,
# box bounds) and costs time and memory (docs/solvers.rst).
HIGHS_PRESOLVE = False


@dataclass(frozen=True)
class Screening:
    """When and how a linear program is screened (``solve_linear_program``).

    Parameters
    ----------
    minimum : int
        Programs over more samples than this (and than ``4 *
        free_per_parameter`` per parameter) are screened; along a path,
        every program over ``4 * free_per_parameter`` samples per parameter
        (each screening fit continues the previous alpha's: a 100-alpha
        hinge L1 path on 2,000 x 20 took 2.1 s unscreened, 1.0 s screened;
        a single fit, or a warm-started refit, on 500 to 1,000 samples is
        faster unscreened).
    free_per_parameter : float
        The smoothing rounds stop once at most this many samples per
        parameter lie within ``reach`` smoothings of the kink; those, and at
        least this many per parameter nearest the kink, are the first
        program's variables.
    reach : float
        Width of the band of free samples, in smoothings.
    smoothings : int
        Most smoothing rounds of the screening fit.
    rounds : int
        Most screened programs before the whole program is solved.
    """

    minimum: int = 2000
    free_per_parameter: float = 4.0
    reach: float = 2.0
    smoothings: int = 4
    rounds: int = 10


@dataclass
class ScreeningFit:
    """The smoothed fit that screens a program: coefficients, the intercept of
    ``X @ w + b``, the last smoothing, the iterations it took, and the
    intercept of the centered problem (where a next fit starts from it)."""

    coef: np.ndarray
    intercept: float
    smoothing: float
    n_iter: int
    centered_intercept: np.ndarray


@dataclass
class ProgramSolution:
    """One dual program solved by HiGHS.

    ``intercept`` is that of the model ``X @ w + b`` on the uncentered ``X``
    (the multiplier of the row ``a . theta``); ``optimal`` whether HiGHS
    found the optimum, ``out_of_iterations`` whether it stopped at its
    iteration limit; ``n_free`` the number of sample variables and
    ``screened`` whether other samples were fixed; ``message`` HiGHS's.
    """

    coef: np.ndarray
    intercept: float
    optimal: bool
    out_of_iterations: bool
    n_iter: int
    n_free: int
    screened: bool
    message: str = ""
    theta: np.ndarray | None = None


@dataclass
class LinearProgramResult(SolverResult):
    """A ``SolverResult`` with every program solved on the way, in order."""

    programs: list = field(default_factory=list)


def solve_linear_program(
    objective,
    *,
    max_iter,
    smooth_solver,
    screening=Screening(),  # noqa: B008 (frozen)
    screening_fit=None,
    on_iteration=no_callback,
):
    """Exact solution of a piecewise-linear loss with an L1 penalty (or none).

    The coefficients are the multipliers of the program's rows
    ``X.T @ (a * theta) - z = 0`` (``z`` in ``[-l1, l1]`` carries the L1
    bound); the intercept is then the exact minimizer at those coefficients
    (the midpoint where the optimum is an interval). Samples of zero
    weight are left out.

    On many samples, most of them end far from their kink, their dual
    variable at a bound; only the others need to be variables of the linear
    program (screening, as in Portnoy and Koenker's preprocessing for
    quantile regression). A smoothed fit predicts which samples those are:
    the smoothing rounds of the smoothed dual (``smooth_solver`` on the
    Moreau envelope, each round tenfold narrower and solved on the rows
    near the kink), until only a few samples per parameter lie near it
    (``screening_fit``, unless one is given). The rest are fixed at the
    bound their residual's sign gives, and enter the program as a constant.
    The program's solution is optimal for the whole problem exactly when
    every fixed sample's residual ``c_i - a_i * f_i`` at it has the sign of
    its bound (then the fixed values satisfy complementary slackness);
    fixed samples that violate this become variables, and the program is
    solved again. HiGHS thus holds the rows of a few hundred samples
    instead of ``X``, which saves memory and time. The smoothed fit decides
    how many programs are solved, never their answer. One program is one
    call of ``on_iteration``.
    """
    weight = objective.sample_weight
    samples = np.flatnonzero(weight > 0)
    programs = []

    def program(free, fixed):
        solution = _dual_linear_program(objective, free, fixed, max_iter=max_iter)
        programs.append(solution)
        return solution

    on_iteration()
    limit = 4 * screening.free_per_parameter * objective.n_params
    if not objective.along_path:
        limit = max(screening.minimum, limit)
    if samples.size <= limit:
        return _result(objective, program(samples, None), programs, 0)
    if screening_fit is None:
        screening_fit = fit_for_screening(
            objective,
            max_iter,
            smooth_solver,
            screening,
            previous=objective.kept_screening_fit,
        )
        objective.kept_screening_fit = screening_fit
    solution = _screened(objective, samples, screening_fit, screening, program)
    spent = screening_fit.n_iter + sum(found.n_iter for found in programs[:-1])
    if solution is None:
        # Screening did not settle: the whole program.
        solution = program(samples, None)
    return _result(objective, solution, programs, spent)


def _screened(objective, samples, screening_fit, screening, program):
    """Screened programs until one is optimal for the whole problem.

    Returns its solution, the solution of a program that ran out of
    iterations (more variables would not help: the caller reports it), or
    None where ``screening.rounds`` programs did not settle.
    """
    c, a = objective.loss.affine_parts(objective.y)
    weight = objective.sample_weight
    n_params = objective.n_params

    def residual_at(coef, intercept):
        """``c - a * f``; on the uncentered X, so ``intercept`` is the model's
        ``b`` in ``X @ w + b`` (the programs' multiplier is that one too)."""
        return c - a * (np.asarray(objective.X @ coef).ravel() + intercept)

    residual = residual_at(screening_fit.coef, screening_fit.intercept)
    # The samples near the kink at the smoothed fit are the variables.
    free = np.zeros(weight.size, bool)
    distance = np.abs(residual[samples])
    order = np.argsort(distance, kind="stable")
    free[samples[order[: int(screening.free_per_parameter * n_params)]]] = True
    free[samples[distance <= screening.reach * screening_fit.smoothing]] = True
    for _ in range(screening.rounds):
        fixed = samples[~free[samples]]
        at_upper = residual[fixed] > 0
        solution = program(np.flatnonzero(free), (fixed, at_upper))
        if solution.out_of_iterations:
            return solution
        if not solution.optimal:
            # Too many samples fixed for the constraints to hold: twice as
            # many variables (at least one more per parameter), the nearest
            # their kink.
            nearest = np.argsort(np.abs(residual[fixed]), kind="stable")
            added = max(np.count_nonzero(free), n_params)
            free[fixed[nearest[:added]]] = True
            continue
        residual = residual_at(solution.coef, solution.intercept)
        violated = np.where(at_upper, residual[fixed] < 0, residual[fixed] > 0)
        if not violated.any():
            return solution
        free[fixed[violated]] = True
    return None


def fit_for_screening(
    objective,
    max_iter,
    smooth_solver,
    screening=Screening(),  # noqa: B008 (frozen)
    previous=None,
):
    """The smoothed fit that screens a linear program.

    Smoothing rounds as in the smoothed dual, from zero, until at most
    ``screening.free_per_parameter`` samples per parameter lie within
    ``screening.reach`` smoothings of the kink, or for
    ``screening.smoothings`` rounds; the first costs a few passes over
    ``X`` (from a subsample's solution), the later ones work on the rows
    near the kink. Its accuracy decides only how many programs follow, not
    their answer.

    ``previous``, the ``ScreeningFit`` of the same data at another penalty
    (a path's previous alpha), is continued instead: from its coefficients,
    the rounds start one tenfold step wider than its last smoothing (a
    problem close to one it solved: a few Newton steps instead of the whole
    continuation).
    """
    loss = objective.loss
    weight = objective.sample_weight
    c, a = loss.affine_parts(objective.y)
    coef, intercept = np.zeros((objective.n_features, 1)), np.zeros(1)
    smoothing = max(0.1 * (weight @ np.abs(c)), 1e-12 * (1 + np.abs(c).max()))
    if previous is not None:
        coef, intercept = previous.coef, previous.centered_intercept
        # One round wider than where the previous fit stopped: at its own
        # narrow smoothing, Newton's method creeps from a point off its
        # pieces (a 30-alpha hinge path: 58 steps an alpha, against 15).
        smoothing = min(smoothing, 10.0 * previous.smoothing)
    smoothed_objective = objective.on_rows(
        objective.X, objective.y, weight, SmoothedLoss(loss, smoothing)
    )
    n_iter = 0
    for round_index in range(screening.smoothings):
        if round_index > 0:
            smoothing *= 0.1
            smoothed_objective.loss = SmoothedLoss(loss, smoothing)
        options = dict(max_iter=max_iter - n_iter, tol=1e-12, on_iteration=no_callback)
        result, _, spent = smoothing_round(
            smoothed_objective, smooth_solver, round_index, coef, intercept, options
        )
        n_iter += spent
        if result is None:
            break
        if np.all(np.isfinite(result.coef)) and np.all(np.isfinite(result.intercept)):
            coef, intercept = result.coef, result.intercept
        residual = c - a * objective.raw_prediction(coef, intercept)
        near = np.count_nonzero(np.abs(residual) <= screening.reach * smoothing)
        if near <= screening.free_per_parameter * objective.n_params or (
            n_iter >= max_iter
        ):
            break
    (model_intercept,) = objective.from_centered_intercept(coef, intercept)
    return ScreeningFit(coef, model_intercept, smoothing, n_iter, intercept)


def _dual_linear_program(objective, free, fixed, *, max_iter):
    """The dual program over the ``free`` samples' ``theta``.

    ``fixed`` is ``None`` or ``(samples, at_upper)``: those samples' ``theta``
    sits at the upper or lower end of its box and enters the constraints as
    a constant. Returns a ``ProgramSolution``.
    """
    loss = objective.loss
    weight = objective.sample_weight
    c, a = loss.affine_parts(objective.y)
    lower, upper = loss.dual_box()
    n_features = objective.n_features
    l1 = objective.penalty.l1
    # HiGHS's tolerances are absolute (1e-7): on c of order 1e-8 (pinball
    # targets) it could not tell the 0.1 quantile from the 0.9 one. Scaling
    # the objective by a power of two is exact, leaves the optimal theta as
    # it is and scales the multipliers (w, b) by the same factor.
    largest = np.max(np.abs(c), initial=0.0)
    scale = 2.0 ** np.round(np.log2(largest)) if largest > 0 else 1.0
    X = objective.X if free.size == weight.size else objective.X[free]
    constraints = _dual_constraint_matrix(X, a[free], objective.fit_intercept)
    right_side = np.zeros(constraints.shape[0])
    if fixed is not None:
        samples, at_upper = fixed
        theta = np.zeros(weight.size)
        theta[samples] = weight[samples] * np.where(at_upper, upper, lower)
        # Fixed samples move to the right-hand side: X.T @ (a * theta) over
        # the free ones plus theirs is zero.
        right_side[:n_features] = -np.asarray(objective.X.T @ (a * theta)).ravel()
        if objective.fit_intercept:
            right_side[n_features] = -(a @ theta)
    bounds = np.concatenate(
        [
            np.column_stack([weight[free] * lower, weight[free] * upper]),
            np.tile([-l1, l1], (n_features, 1)),
        ]
    )
    result = linprog(
        -np.concatenate([c[free] / scale, np.zeros(n_features)]),
        A_eq=constraints,
        b_eq=right_side,
        bounds=bounds,
        method="highs-ipm",
        options={"maxiter": max_iter, "presolve": HIGHS_PRESOLVE},
    )
    multipliers = getattr(getattr(result, "eqlin", None), "marginals", None)
    optimal = result.status == 0 and multipliers is not None
    theta = None
    if optimal:
        theta = np.zeros(weight.size)
        if fixed is not None:
            samples, at_upper = fixed
            theta[samples] = weight[samples] * np.where(at_upper, upper, lower)
        theta[free] = np.clip(
            result.x[: free.size], weight[free] * lower, weight[free] * upper
        )
        coef = -scale * np.asarray(multipliers[:n_features], dtype=float)
        intercept = (
            -scale * float(multipliers[n_features]) if objective.fit_intercept else 0.0
        )
    else:
        # Iteration limit before an optimal basis: fall back to zero
        # coefficients, a finite model; the caller warns.
        coef, intercept = np.zeros(n_features), 0.0
    return ProgramSolution(
        coef=coef.reshape(-1, 1),
        intercept=intercept,
        optimal=optimal,
        # HiGHS's status 1: the iteration limit, not an infeasible program.
        out_of_iterations=result.status == 1,
        n_iter=int(result.nit),
        n_free=int(free.size),
        screened=fixed is not None,
        message=str(result.message),
        theta=theta,
    )


def _result(objective, solution, programs, spent):
    """The ``LinearProgramResult`` of the program that decided the fit."""
    coef = solution.coef
    # Where the optimal intercept is an interval, take its midpoint.
    intercept = np.array(
        [objective.best_intercept(coef) if objective.fit_intercept else 0.0]
    )
    stop = ""
    if not (solution.optimal or solution.out_of_iterations):
        stop = f"HiGHS: {solution.message}"
    return LinearProgramResult(
        coef,
        intercept,
        max(spent + solution.n_iter, 1),
        solution.optimal,
        "linear-program",
        stop,
        dual_bound=_dual_bound(objective, solution.theta),
        programs=programs,
    )


def _dual_bound(objective, theta):
    """The program's dual value ``c . theta`` at its solution (feasible to
    HiGHS's tolerances), None without one. A lower bound with a negligible
    L2 term too: ``J`` with it is at least ``J`` without it, whose optimum
    the program bounds."""
    if theta is None:
        return None
    c, _ = objective.loss.affine_parts(objective.y)
    return float(c @ theta)


def _dual_constraint_matrix(X, a, fit_intercept):
    """The rows ``X.T @ (a * theta) - z`` and ``a . theta``, built once, in CSC.

    Column ``i`` (a sample) holds ``a_i * x_i`` and, with an intercept,
    ``a_i``; the last ``n_features`` columns hold ``-I`` for ``z``. For dense
    ``X`` the data array is one scaled copy of ``X`` (plus int32 indices),
    written straight into CSC layout: no intermediate sparse copies.
    """
    n_samples, n_features = X.shape
    n_rows = n_features + int(fit_intercept)
    if sp.issparse(X):
        blocks = [sp.csr_matrix(X).T @ sp.diags(a)]
        if fit_intercept:
            blocks = [sp.vstack([blocks[0], sp.csr_matrix(a)])]
        slack = sp.vstack(
            [-sp.identity(n_features), sp.csr_matrix((n_rows - n_features, n_features))]
        )
        return sp.hstack([blocks[0], slack], format="csc")
    data = np.empty((n_samples, n_rows))
    np.multiply(X, a[:, None], out=data[:, :n_features])
    if fit_intercept:
        data[:, n_features] = a
    data = np.concatenate([data.ravel(), np.full(n_features, -1.0)])
    indices = np.concatenate(
        [
            np.tile(np.arange(n_rows, dtype=np.int32), n_samples),
            np.arange(n_features, dtype=np.int32),
        ]
    )
    indptr = np.concatenate(
        [
            np.arange(n_samples + 1, dtype=np.int64) * n_rows,
            n_samples * n_rows + np.arange(1, n_features + 1, dtype=np.int64),
        ]
    )
    return sp.csc_matrix(
        (data, indices, indptr), shape=(n_rows, n_samples + n_features)
    )
