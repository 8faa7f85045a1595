"""Moreau smoothing with continuation, finished by the exact active-set step.

For a piecewise-linear loss (hinge, pinball) with an L2 or elastic-net
penalty. The smoothing rounds also screen the linear programs
(``linear_program.fit_for_screening``), and ``subsample_start`` gives any
Newton-type method a start on many samples.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .._loss import PointwiseLoss
from .active_set import (
    GAP_FLOOR,
    CandidatePool,
    active_set_method,
    certified_point,
    dual_point_of_residuals,
    evaluated_candidate,
    exact_candidate,
    smoothed_candidate,
)
from .result import SolverResult, no_callback


class SmoothedLoss(PointwiseLoss):
    """A piecewise-linear loss seen through its Moreau envelope, as a smooth loss.

    ``PiecewiseLinearLoss.smoothed_loss_gradient`` of width ``smoothing``:
    continuously differentiable and piecewise quadratic, with curvature
    ``1 / smoothing`` where it is quadratic (``a = +-1``).
    """

    has_curvature = True

    def __init__(self, loss, smoothing):
        self.piecewise = loss
        self.smoothing = smoothing
        self._affine = None

    def _affine_parts(self, y_true):
        """``affine_parts(y_true)``, kept for the target the solver passes each time."""
        if self._affine is None or self._affine[0] is not y_true:
            self._affine = (y_true, self.piecewise.affine_parts(y_true))
        return self._affine[1]

    def loss_gradient(self, y_true, raw_prediction):
        value, gradient, _ = self.piecewise.smoothed_loss_gradient(
            y_true, raw_prediction, self.smoothing, self._affine_parts(y_true)
        )
        return value, gradient

    def hessian(self, y_true, raw_prediction):
        """``a**2 / smoothing`` where the envelope is quadratic, or 0."""
        c, a = self._affine_parts(y_true)
        lower, upper = self.piecewise.dual_box()
        scaled = a * raw_prediction
        np.subtract(c, scaled, out=scaled)
        scaled /= self.smoothing
        quadratic = scaled > lower
        quadratic &= scaled < upper
        # a = +-1 for every piecewise-linear loss here, so a**2 = 1.
        return np.multiply(quadratic, 1.0 / self.smoothing)

    def for_new_target(self):
        """A fresh instance: the cache of affine parts belongs to one target."""
        return SmoothedLoss(self.piecewise, self.smoothing)

    def __repr__(self):
        return f"SmoothedLoss({self.piecewise!r}, smoothing={self.smoothing!r})"


@dataclass(frozen=True)
class Smoothing:
    """How the smoothing rounds run (``solve_smoothed_dual``).

    Parameters
    ----------
    rounds : int
        Rounds of the smoothing continuation, tenfold narrower each.
    subsample_rows, subsample_minimum : int
        The first smoothed problem (and a cold Newton-type start on many
        samples) starts from its solution on evenly spaced rows, this many
        per parameter and at least ``subsample_minimum``, where ``X`` has
        four times more.
    candidate_reach : float
        Later rounds keep the rows of the samples within this many times the
        previous smoothing of the kink, folding the others ...
    candidate_share : float
        ... unless they are more than this share of all samples;
    candidate_expansions : int
        samples that cross the band join them, up to this many solves.
    attempt_rounds : int
        Rounds of the active-set method from each smoothed solution: it
        finishes in one to three where its start is right, and cycles where
        it is not (measured), when the next, narrower smoothing does better.
    """

    rounds: int = 12
    subsample_rows: int = 50
    subsample_minimum: int = 5000
    candidate_reach: float = 2.0
    candidate_share: float = 0.25
    candidate_expansions: int = 4
    attempt_rounds: int = 10


@dataclass
class RoundRecord:
    """What one smoothing round did: its width, whether it started from a
    subsample, the rows of each solve on candidate rows (empty where it
    solved on all rows), and the relative duality gap of its exact step
    (None where the step did not finish)."""

    smoothing: float
    subsample: bool = False
    candidate_rows: list = field(default_factory=list)
    exact_gap: float | None = None


@dataclass
class SmoothedDualResult(SolverResult):
    """A ``SolverResult`` with the record of each smoothing round."""

    rounds: list = field(default_factory=list)


def solve_smoothed_dual(
    objective,
    coef,
    intercept,
    *,
    max_iter,
    tol,
    smooth_solver,
    on_iteration=no_callback,
    settings=Smoothing(),  # noqa: B008 (frozen)
):
    """Piecewise-linear loss with an L2 or elastic-net penalty: exact, certified.

    The problem is a quadratic program. It is solved in three steps:

    1. Smoothing with continuation: the loss is replaced by its Moreau
       envelope of width ``smoothing`` (``PiecewiseLinearLoss.
       smoothed_loss_gradient``), which is continuously differentiable and
       piecewise quadratic, and minimized by ``smooth_solver`` (the solver
       table's choice: Newton's method, or projected Newton on orthants for
       an L1 part); the width shrinks tenfold per round, each round
       warm-started: the first from a subsample's solution
       (``subsample_start``), the later ones solved on the rows of the
       samples near the kink with the others folded
       (``solve_on_candidates``).
    2. The slope of the envelope at each sample is a dual point
       ``theta_i = s_i * u_i`` in the box of the dual (see
       ``LinearObjective.dual_value``); from the samples it puts on the kink,
       an active-set method solves the optimality conditions exactly
       (``active_set.active_set_method``, on the reduced rows where the round
       used them).
    3. The duality gap ``J(W, b) - D(theta)`` at a feasible dual point, on
       all samples, certifies the result: the rounds stop once it is below
       ``max(tol, 1e-8)`` relative to ``J`` (the exact step reaches rounding
       level in the fourth to seventh round on the benchmark's problems).

    Returns a ``SmoothedDualResult``: the best candidate, and each round's
    ``RoundRecord``.
    """
    loss = objective.loss
    tol = max(tol, GAP_FLOOR)
    pool = CandidatePool()
    records = []
    n_iter = 0
    if np.any(coef):
        # A warm start (a previous fit, a path's previous alpha) usually has
        # the right samples near the kink already: the exact step from its
        # own sets first, one iteration, before any smoothing.
        on_iteration()
        n_iter = 1
        pool.consider(_warm_exact_step(objective, coef, intercept, settings))
        if pool.certified(tol):
            return _result(objective, pool, tol, n_iter, max_iter, records)
    smoothing = _first_smoothing(objective, coef, intercept)
    smoothed_objective = objective.on_rows(
        objective.X, objective.y, objective.sample_weight, SmoothedLoss(loss, smoothing)
    )
    for round_index in range(settings.rounds):
        remaining = max_iter - n_iter
        if remaining <= 0:
            break
        # Only the loss changes from round to round (the centering, computed
        # once, is a pass over X).
        smoothed_objective.loss = SmoothedLoss(loss, smoothing)
        options = dict(max_iter=remaining, tol=1e-12, on_iteration=on_iteration)
        record = RoundRecord(smoothing)
        result, reduction, spent = smoothing_round(
            smoothed_objective,
            smooth_solver,
            round_index,
            coef,
            intercept,
            options,
            settings,
            record,
        )
        records.append(record)
        n_iter += spent
        if result is None:
            break
        coef, intercept = result.coef, result.intercept
        last_round = round_index == settings.rounds - 1 or n_iter >= max_iter
        _consider_round(
            objective,
            pool,
            coef,
            intercept,
            reduction,
            tol,
            last_round,
            settings,
            record,
        )
        if pool.certified(tol):
            break
        smoothing *= 0.1
    if pool.best is None:
        # The iterations ran out before any candidate was evaluated.
        pool.consider(_smoothed_point(objective, coef, intercept, smoothing))
    return _result(objective, pool, tol, n_iter, max_iter, records)


def _result(objective, pool, tol, n_iter, max_iter, records):
    """The pool's best candidate as the solver's result, with why it stopped
    short if it is not certified within the iterations."""
    stop = ""
    if not pool.certified(tol) and n_iter < max_iter:
        stop = (
            f"the duality gap stayed at {pool.relative_gap():.1e} of the "
            f"objective (tol {tol:.0e}) after {len(records)} smoothing rounds"
        )
    return SmoothedDualResult(
        **pool.result_fields(objective.fit_intercept, tol),
        n_iter=n_iter,
        method="smoothed-dual",
        stop=stop,
        rounds=records,
    )


def _warm_exact_step(objective, coef, intercept, settings):
    """The active-set step from the sets a warm start's residuals give, as a
    candidate: samples within 1e-9 of the targets' scale of the kink on it
    (whichever the sign of a residual at rounding level), the others at
    the end of their box on their residual's side."""
    c, a = objective.loss.affine_parts(objective.y)
    residual = c - a * objective.raw_prediction(coef, intercept)
    theta = dual_point_of_residuals(objective, residual, 1e-9 * (1.0 + np.abs(c).max()))
    box_lower, box_upper = _dual_box(objective)
    return exact_candidate(
        objective,
        theta,
        coef.ravel(),
        box_lower,
        box_upper,
        settings.attempt_rounds,
    )


def _first_smoothing(objective, coef, intercept):
    """A tenth of the mean absolute residual at the start (so that most
    samples start within the band), and never below rounding.

    On a path, from the previous alpha's answer, a hundredth of that: the
    mean residual there is that of the samples far from the kink, while
    those near it move little from one alpha to the next, and the wider
    first rounds only walked away from them and back. 100-alpha paths
    (elastic net 0.5; hinge and quantile 0.8 on 2,000 x 20, quantile on
    10,000 x 50): 21-29% fewer iterations and 25-35% less time, the same
    objectives; a thousandth of that took twice as long, and paths with an
    L2 penalty alone were unchanged.
    """
    c, a = objective.loss.affine_parts(objective.y)
    start_intercept = intercept if objective.fit_intercept else np.zeros(1)
    start_residual = c - a * objective.raw_prediction(coef, start_intercept)
    share = 1e-3 if objective.along_path and np.any(coef) else 0.1
    return max(
        share * (objective.sample_weight @ np.abs(start_residual)),
        1e-12 * (1 + np.abs(c).max()),
    )


def _dual_box(objective):
    lower, upper = objective.loss.dual_box()
    weight = objective.sample_weight
    return weight * lower, weight * upper


def _consider_round(
    objective, pool, coef, intercept, reduction, tol, last_round, settings, record
):
    """Add a round's candidates to the pool: the exact step's always, the
    smoothed pair's where it might certify, or as the last round's fallback.

    The smoothed pair ``(W, theta)`` is within ``smoothing * max(lower**2,
    upper**2)`` of certifying; the exact candidate is what usually
    certifies, and evaluating the smoothed one costs several passes over
    ``X``.
    """
    loss = objective.loss
    smoothing = record.smoothing
    lower, upper = loss.dual_box()
    box_lower, box_upper = _dual_box(objective)
    raw = objective.raw_prediction(coef, intercept)
    smoothed_loss, _, slope = loss.smoothed_loss_gradient(objective.y, raw, smoothing)
    theta = objective.sample_weight * slope
    if reduction is not None:
        exact = _exact_candidate_from_reduction(
            objective, reduction, box_lower, box_upper, settings
        )
    else:
        exact = exact_candidate(
            objective,
            theta,
            coef.ravel(),
            box_lower,
            box_upper,
            settings.attempt_rounds,
        )
    if exact is not None:
        record.exact_gap = (exact.primal - exact.dual) / max(
            abs(exact.primal), np.finfo(float).tiny
        )
    pool.consider(exact)
    if pool.certified(tol):
        return
    smoothed_value = objective.sample_weight @ smoothed_loss + objective.penalty.value(
        coef
    )
    bias = smoothing * max(lower**2, upper**2)
    if exact is None:
        # The active-set method did not settle (a degenerate optimum, as
        # every sample on the kink): a linear program over the samples on
        # the kink may prove the smoothed point optimal.
        pool.consider(certified_point(objective, coef.ravel(), box_lower, box_upper))
        if pool.certified(tol):
            return
    if last_round or bias <= tol * abs(smoothed_value):
        pool.consider(
            smoothed_candidate(objective, theta, coef.ravel(), box_lower, box_upper)
        )


def _smoothed_point(objective, coef, intercept, smoothing):
    """The smoothed candidate at ``(coef, intercept)`` and this smoothing."""
    raw = objective.raw_prediction(coef, intercept)
    slope = objective.loss.smoothed_loss_gradient(objective.y, raw, smoothing)[2]
    box_lower, box_upper = _dual_box(objective)
    theta = objective.sample_weight * slope
    return smoothed_candidate(objective, theta, coef.ravel(), box_lower, box_upper)


def smoothing_round(
    smoothed_objective,
    smooth_solver,
    round_index,
    coef,
    intercept,
    options,
    settings=Smoothing(),  # noqa: B008 (frozen)
    record=None,
):
    """Minimize one smoothing level from ``(coef, intercept)``.

    The first round starts from a subsample's solution
    (``subsample_start``); the later ones solve on the rows of the samples
    near the kink at the previous, tenfold wider, level
    (``solve_on_candidates``), or on all rows where those are too many.
    Returns ``(result or None, Reduction or None, iterations spent)``,
    the last counting the result's own and those spent on a subsample or on
    candidates given up; the result is None where the iterations ran out
    first. ``record``, a ``RoundRecord``, is filled in if given.
    """
    record = (
        RoundRecord(smoothed_objective.loss.smoothing) if record is None else record
    )
    if round_index == 0:
        start = subsample_start(
            smoothed_objective, smooth_solver, coef, intercept, options, settings
        )
        coef, intercept, spent = start.coef, start.intercept, start.n_iter
        record.subsample = spent > 0
    else:
        reduction, spent = solve_on_candidates(
            smoothed_objective,
            smooth_solver,
            coef,
            intercept,
            10 * smoothed_objective.loss.smoothing,
            options,
            settings,
        )
        if reduction is not None:
            record.candidate_rows = reduction.rows_solved
            return reduction.result, reduction, reduction.result.n_iter
    remaining = options["max_iter"] - spent
    if remaining <= 0:
        return None, None, spent
    result = smooth_solver(
        smoothed_objective, coef, intercept, **dict(options, max_iter=remaining)
    )
    return result, None, spent + result.n_iter


def solve_between(objective, other, smooth_solver, coef, intercept, options):
    """Minimize ``other`` from a point of ``objective``, in its terms.

    The two objectives center their features differently, so the
    intercept goes through the model's own, ``X @ W + b``.
    """
    result = smooth_solver(
        other, coef, recentered(intercept, coef, objective, other), **options
    )
    result.intercept = recentered(result.intercept, result.coef, other, objective)
    return result


def recentered(intercept, coef, source, target):
    """``source``'s centered intercept at ``coef`` as ``target``'s.

    Each objective centers the features on its own weighted means; both
    describe the same model ``X @ W + b``.
    """
    return target.to_centered_intercept(
        coef, source.from_centered_intercept(coef, intercept)
    )


def subsample_start(
    objective,
    smooth_solver,
    coef,
    intercept,
    options,
    settings=Smoothing(),  # noqa: B008 (frozen)
):
    """A starting point for a cold start on many samples, as a ``SolverResult``.

    Newton's method takes a dozen steps from a cold start where it must
    find the pieces of a piecewise-quadratic loss (the widest smoothing of
    hinge or pinball; Huber) or the orthant of an L1 part, each step a few
    passes over all of ``X``; the same problem on evenly spaced rows
    (``settings.subsample_rows`` per parameter, at least
    ``settings.subsample_minimum``) lands close to its solution, from where
    the full problem takes three or four steps. The result is never
    converged (it is only a start) and carries the iterations spent; the
    subsample is skipped for a warm start (it would move away from a good
    point) and where it would not be much smaller than ``X``, and its
    solution is not used where it did not converge.
    """
    unchanged = SolverResult(coef, intercept, 0, False, "subsample-start")
    n_samples = objective.X.shape[0]
    size = max(settings.subsample_minimum, settings.subsample_rows * objective.n_params)
    if 4 * size > n_samples or np.any(coef):
        return unchanged
    rows = np.arange(0, n_samples, n_samples // size)
    if not objective.sample_weight[rows].any():
        return unchanged
    subsample = objective.on_rows(
        objective.X[rows], objective.y[rows], objective.sample_weight[rows]
    )
    result = solve_between(
        objective, subsample, smooth_solver, coef, intercept, options
    )
    unchanged.n_iter = result.n_iter
    if not np.all(np.isfinite(result.coef)) or not result.converged:
        return unchanged
    return SolverResult(
        result.coef, result.intercept, result.n_iter, False, "subsample-start"
    )


@dataclass
class Reduction:
    """A smoothed problem solved on candidate rows, the other samples folded.

    ``result`` is in the full problem's terms; ``reduced`` is the problem
    that was solved, its first rows the samples ``index``, then the folded
    rows; ``folded_theta`` the folded samples' dual variables (each at the
    end of its box, on its side), zero for the candidates; ``rows_solved``
    the number of rows of each solve (one per expansion).
    """

    result: SolverResult
    reduced: object
    index: np.ndarray
    folded_theta: np.ndarray
    rows_solved: list


def _exact_candidate_from_reduction(
    objective, reduction, box_lower, box_upper, settings
):
    """The active-set solution of the reduced problem, certified on all samples.

    The active-set method runs on the candidate rows and the folded ones
    (a few hundred rows, not all of ``X``); its dual point, spread back
    (each folded row's variable is that of its samples, at the end of their
    box), is a dual point of the full problem. Its objective and dual
    value are then computed on all samples, so the gap certifies the
    result whatever became of the folding.
    """
    reduced, index = reduction.reduced, reduction.index
    piecewise = objective.loss
    smoothing = reduced.loss.smoothing
    exact_reduced = objective.on_rows(
        reduced.X, reduced.y, reduced.sample_weight, piecewise
    )
    lower, upper = piecewise.dual_box()
    reduced_weight = exact_reduced.sample_weight
    coef = reduction.result.coef
    reduced_intercept = recentered(
        reduction.result.intercept, coef, objective, exact_reduced
    )
    raw = exact_reduced.raw_prediction(coef, reduced_intercept)
    theta = (
        reduced_weight
        * piecewise.smoothed_loss_gradient(exact_reduced.y, raw, smoothing)[2]
    )
    refined = active_set_method(
        exact_reduced,
        theta,
        coef.ravel(),
        reduced_weight * lower,
        reduced_weight * upper,
        settings.attempt_rounds,
    )
    if refined is None:
        return None
    intercept = recentered(refined.intercept, refined.coef, exact_reduced, objective)
    full_theta = reduction.folded_theta.copy()
    full_theta[index] = refined.theta[: index.size]
    return evaluated_candidate(
        objective, refined.coef, intercept, full_theta, box_lower, box_upper
    )


def solve_on_candidates(
    objective,
    smooth_solver,
    coef,
    intercept,
    previous_smoothing,
    options,
    settings=Smoothing(),  # noqa: B008 (frozen)
):
    """The smoothed problem on the samples near the kink; the others folded.

    Where the envelope is linear (a sample beyond the smoothing band) the
    samples on one side with one value of ``a`` add up to a single linear
    function of ``(W, b)``: that of one row, their weighted mean, with
    their total weight. So the samples within ``settings.candidate_reach``
    times the previous round's smoothing of the kink keep their rows, the
    others are folded into at most four such rows (which also keeps the
    weighted mean of the features, hence the centering), and Newton's
    method works on a problem of a few hundred rows instead of all of
    ``X``. The reduction is exact as long as every folded sample stays
    beyond the band on its side: that is checked on all samples at the
    solution, and those that crossed join the candidates for another solve,
    from there. Returns ``(Reduction or None, iterations spent)``: None
    where the candidates are not a small share of the samples, or keep
    growing.
    """
    loss = objective.loss.piecewise
    smoothing = objective.loss.smoothing
    lower, upper = loss.dual_box()
    c, a = loss.affine_parts(objective.y)
    weight = objective.sample_weight
    residual = c - a * objective.raw_prediction(coef, intercept)
    candidates = np.abs(residual) <= settings.candidate_reach * previous_smoothing
    upper_side = residual > 0
    # One group per side and value of a (a = +-1 for the hinge, 1 for the
    # pinball loss): group codes 0 to 3.
    group = np.where(upper_side, 2, 0) + (a > 0)
    n_iter = 0
    rows_solved = []
    for _ in range(settings.candidate_expansions):
        if np.count_nonzero(candidates) > settings.candidate_share * weight.size:
            return None, n_iter
        reduced, index, folded = _folded_problem(objective, candidates, group)
        rows_solved.append(reduced.X.shape[0])
        result = solve_between(
            objective, reduced, smooth_solver, coef, intercept, options
        )
        n_iter += result.n_iter
        coef, intercept = result.coef, result.intercept
        residual = c - a * objective.raw_prediction(coef, intercept)
        crossed = folded & np.where(
            upper_side, residual < smoothing * upper, residual > smoothing * lower
        )
        if not crossed.any():
            result.n_iter = n_iter
            folded_theta = np.where(
                folded, np.where(upper_side, upper, lower) * weight, 0.0
            )
            reduction = Reduction(result, reduced, index, folded_theta, rows_solved)
            return reduction, n_iter
        candidates |= crossed
        options = dict(options, max_iter=options["max_iter"] - result.n_iter)
        if options["max_iter"] <= 0:
            break
    return None, n_iter


def _folded_problem(objective, candidates, group):
    """The problem on the candidate rows and one folded row per group.

    Returns ``(reduced objective, candidate indices, folded samples)``.
    """
    rows, targets, weights, index, folded = folded_rows(
        objective.X,
        objective.y,
        objective.sample_weight,
        objective.loss.piecewise,
        candidates,
        group,
    )
    return objective.on_rows(rows, targets, weights), index, folded


def folded_rows(X, y, sample_weight, loss, candidates, group):
    """The candidate rows, then one row per group of the other samples of
    positive weight (their weighted mean, with their total weight; ``group``
    codes side and sign, 0 to 3, see ``solve_on_candidates``).

    Returns ``(rows, targets, weights, candidate indices, folded samples)``;
    ``loss`` is the piecewise-linear loss. Also the per-chunk reduction of
    a Dask array's problem (``_distributed``).
    """
    c, _ = loss.affine_parts(y)
    weight = sample_weight
    folded = ~candidates & (weight > 0)
    totals = np.bincount(group[folded], weights=weight[folded], minlength=4)
    present = np.flatnonzero(totals)
    membership = np.zeros((weight.size, present.size))
    for column, code in enumerate(present):
        membership[:, column] = np.where(folded & (group == code), weight, 0.0)
    totals = totals[present]
    folded_means = np.asarray(X.T @ membership).T / totals[:, None]
    folded_c = (c @ membership) / totals
    folded_a = np.where(present % 2 == 1, 1.0, -1.0)
    index = np.flatnonzero(candidates)
    if sp.issparse(X):
        rows = sp.vstack([X[index], sp.csr_matrix(folded_means)], format="csr")
    else:
        rows = np.vstack([X[index], folded_means])
    targets = np.concatenate([y[index], loss.target_from_affine(folded_c, folded_a)])
    return rows, targets, np.concatenate([weight[index], totals]), index, folded
