"""Proximal Newton's method on working sets, for a smooth loss plus an L1 part.

Each step minimizes the L1-penalized quadratic model of the objective
exactly (``lasso_of_quadratic``), then searches along the step on the whole
objective (Lee, Sun and Saunders, "Proximal Newton-type methods for
minimizing composite functions", 2014). The steps run on a working set of
coefficients, as skglm and celer do: the non-zero coefficients and the zero
ones that violate their optimality condition the most, as many as the
non-zeros. The problem restricted to it is solved to a fraction of the
largest violation, then one product ``X.T @ g`` checks all coefficients,
and the violators join the next working set. The Hessian is only ever
formed on the working set, so a step's cost follows the number of
non-zeros, not the number of features.
"""

import contextlib

import numpy as np

from .._parallel import blas_on_one_thread
from .linalg import SymmetricFactor, cholesky_solve, diagonal_view
from .line_search import VALUE_RESOLUTION
from .newton import (
    DIRECT_NEWTON_SIZE,
    ROUNDING_GRADIENT,
    chord_steps_pay,
    curvature_is_close,
    formed_or_kept_hessian,
    stalled,
)
from .orthant_newton import full_value, optimality_residual, step_below_resolution
from .result import SolverResult, no_callback

# Fewest zero coefficients a working set takes in beside the non-zero ones.
SMALLEST_WORKING_SET = 10
# The problem on a working set is solved until its largest residual entry
# is this share of the largest over all coefficients (skglm's choice).
INNER_SHARE = 0.3
# Levenberg-Marquardt damping of the model, relative to the Hessian's
# diagonal: INITIAL_DAMPING at the start; it shrinks fourfold after each
# step the model predicted well (the ratio of actual to predicted decrease
# above GOOD_MODEL), to zero below SMALLEST_DAMPING, and grows fourfold, to
# at least RESTART_DAMPING, after a step it predicted badly (below
# POOR_MODEL, or a shortened step). A
# generalized Hessian is singular where few samples have curvature (the
# squared hinge on more features than samples): undamped, the model's
# minimizer lies far along its null space, and the exact step to it
# crosses dozens of orthants (measured: 44 sign changes per model on a
# 300 x 1,500 squared hinge elastic net, four times the fit's time).
INITIAL_DAMPING = 1e-2
RESTART_DAMPING = 1e-4
SMALLEST_DAMPING = 1e-8
GOOD_MODEL, POOR_MODEL = 0.75, 0.25
# Solves of the model's free block per step, at most. Each costs k**3 / 3
# for k free coefficients; exact steps took up to 40 per step where the
# optimum has hundreds of non-zeros (squared hinge L1 on 5,000 x 1,000:
# 45 s, against 10 s capped). The capped step still lowers the model, so
# it is a descent direction (inexact proximal Newton); where the model's
# minimizer is a few sign changes away, as near the optimum, the step is
# exact.
MODEL_SOLVES = 12
# On more features than samples, WIDE_MODEL_SOLVES: there the Hessian of
# the working set is singular but for the samples of curvature, the capped
# steps are further from the model's minimizer, and the steps saved pay
# for the longer searches (squared hinge L1 on 1,200 x 3,000: 181 steps
# and 5.8 s at 12, 87 steps and 3.9 s at 24; on tall problems 24 cost
# 4-17% more for the same steps).
WIDE_MODEL_SOLVES = 24
# A working set's Hessian weighs at most HESSIAN_SHARE of X (its factor
# as much again), beyond the support limit's own working set.
HESSIAN_SHARE = 0.5
# The Hessian of the last step is updated by the rows whose curvature
# changed (``hessian_update``, exact), rather than formed anew, where they
# are at most 1 / RANK_UPDATE_SHARE of the curved rows: piecewise-quadratic
# losses (Huber, squared hinge) change 10-60 of ~700 per step on 1,000 x
# 5,000; a general product over m rows costs about twice the symmetric
# one over as many.
RANK_UPDATE_SHARE = 4
# Steps of iterative refinement of each solve in lasso_of_quadratic.
REFINEMENTS = 1
# A free set is solved through the Schur complement of its changes to the
# base set of the last factorization while they are at most this share of
# the base (or SMALLEST_SCHUR): each costs a solve with the factor,
# 2 k**2, against k**3 / 3 for a new factor (_BlockSolves).
SCHUR_SHARE = 1 / 8
SMALLEST_SCHUR = 4
# Models of at most this many coefficients factor each block anew, with
# BLAS as it is: there the bookkeeping of the Schur complement and of the
# BLAS limit cost more than the factorizations (0.3 ms of a 2 ms fit on
# 100 x 5).
SMALL_MODEL = 64
# Halvings of the step before the line search gives up.
HALVINGS = 50
# The largest change of a score a first trial step makes, relative to the
# largest score (and 1): Newton steps change scores by far less.
LARGEST_SCORE_CHANGE = 1e6
# Sufficient decrease: the share of the model's first-order decrease that a
# step must achieve (Armijo).
SUFFICIENT_DECREASE = 1e-4
# Without an L2 part, after the stopping test passes, up to POLISH_STEPS
# more steps are taken while the largest residual entry is above
# POLISH_SHARE of tol: near the optimum each cuts it quadratically, and the
# duality gap is about the residual over l1 (1e-10 / 1e-3 leaves a relative
# gap of 1e-7; 3e-13 / 1e-4 one of 3e-9). With an L2 part the dual's P*
# is finite and the gap is of the order of the residual squared: no polish.
POLISH_SHARE = 1e-3
POLISH_STEPS = 3
# Without an L2 part, the optimum has at most as many non-zeros as samples
# (in general position), and on at most this many samples the working set
# may grow to that many instead of DIRECT_NEWTON_SIZE: its Hessian is then
# no larger than X, and forming it costs n k**2 (0.5 s per step at 3,000).
# Handing over at 1,000 non-zeros left the orthant-wise method creeping
# where the optimum has more (logistic L1 on 2,000 x 5,000: 26 s to a gap
# of 3e-8, against 2.3 s to 1e-13; Huber L1 on 1,500 x 6,000: 155 s and
# unconverged, against 30 s).
PURE_L1_SAMPLES = 3000


def pure_l1_on_few_samples(objective):
    """Whether the penalty has no L2 part and there are at most
    ``PURE_L1_SAMPLES`` samples: there proximal Newton follows the optimum
    up to as many non-zeros as samples."""
    return not objective.penalty.has_l2 and objective.X.shape[0] <= PURE_L1_SAMPLES


def largest_support(objective):
    """The most non-zero coefficients proximal Newton works with before it
    hands over: ``DIRECT_NEWTON_SIZE``, or, where ``pure_l1_on_few_samples``,
    one more than the number of samples (the most the optimum can have),
    where that is more."""
    if not pure_l1_on_few_samples(objective):
        return DIRECT_NEWTON_SIZE
    return max(DIRECT_NEWTON_SIZE, objective.X.shape[0] + 1)


def solve_proximal_newton(
    objective,
    coef,
    intercept,
    *,
    max_iter,
    tol,
    on_iteration=no_callback,
):
    """Proximal Newton's method on working sets, for a loss with a curvature
    per sample (one output) plus a penalty with an L1 part.

    The objective ``J(w, b) = sum_i s_i L(y_i, x_i . w + b) + l1 * |w|_1 +
    l2 / 2 * |w|**2`` is minimized by steps that solve ``min_d g . d +
    d . (H + mu * diag(H)) d / 2 + l1 * |w + d|_1`` over the working set
    exactly, ``g`` and ``H`` being the gradient and generalized Hessian of
    the smooth part there and ``mu`` a Levenberg-Marquardt damping; the L1
    norm is never differentiated. Stops when the minimum-norm subgradient's
    largest entry, over all coefficients, is at most ``tol``. Hands over,
    unconverged, once there are ``largest_support(objective)`` non-zero
    coefficients (the dense Hessian of the working set then costs more
    than the orthant-wise method's conjugate gradients). It used to hand
    over at as many non-zeros as samples too, when each model solve
    factored its block anew; an elastic net's optimum can have more, and
    the orthant-wise method then crept to max_iter (squared hinge on
    500 x 5,000: 2 seeds of 3 at gaps of 2e-4 and 8e-4, against 1.3-1.7 s
    to a gap of 1e-15 on to the end).
    """
    n_coef = objective.n_coef
    support_limit = largest_support(objective)
    n_samples, n_features = objective.X.shape
    model_solves = WIDE_MODEL_SOLVES if n_features > n_samples else MODEL_SOLVES
    # On more features than samples, a working set of k coefficients past
    # the number of samples has a Hessian of k**2, up to p / n times X.
    largest_set = min(
        support_limit,
        max(int(np.sqrt(HESSIAN_SHARE * n_samples * n_features)), n_samples),
    )
    params = objective.pack(coef, intercept)
    # The damping, carried from one working set to the next; the last
    # Hessian formed, with the curvature and the problem it was formed for
    # (dropped with its working set); whether no Hessian has been formed yet
    # (the first may be a path's previous alpha's).
    kept = {"damping": INITIAL_DAMPING, "hessian": None, "first": True}
    converged, stop, polishing = False, "", 0
    restricted = None
    n_iter = 0
    while True:
        raw = objective.raw_prediction(*objective.unpack(params))
        _, gradient = objective.smooth_value_gradient(params, raw=raw)
        residual = optimality_residual(objective, params, gradient)
        largest = np.max(np.abs(residual))
        converged = largest <= tol
        if stop:
            # The last solve found no step that decreases the objective:
            # converged where the residual is at rounding level (as Newton).
            converged = largest <= max(tol, ROUNDING_GRADIENT)
            stop = "" if converged else stalled(largest)
            break
        polished = (
            objective.penalty.has_l2
            or polishing == POLISH_STEPS
            or largest <= POLISH_SHARE * tol
        )
        if (converged and polished) or n_iter >= max_iter:
            break
        if np.count_nonzero(params[:n_coef]) >= support_limit:
            break
        working = working_set(
            params[:n_coef], residual[:n_coef], n_samples, largest_set
        )
        indices = np.concatenate([working, np.arange(n_coef, params.size)])
        if restricted is not None and not np.array_equal(restricted[0], working):
            # The last working set's copy of columns and its Hessian go
            # before the new copy is made: each can weigh half of X.
            restricted = problem = None
            kept["hessian"] = None
        restricted = _restricted(objective, working, restricted)
        problem = restricted[1]
        if converged:
            polishing += 1
            inner_tol, budget = 0.0, 1
        elif problem is objective:
            # The working set is every coefficient: solve to the end.
            inner_tol, budget = tol, max_iter - n_iter
        else:
            inner_tol, budget = max(tol, INNER_SHARE * largest), max_iter - n_iter
        found, steps, stop = _proximal_newton_steps(
            problem,
            params[indices],
            budget,
            inner_tol,
            on_iteration,
            kept,
            model_solves,
        )
        if steps == 0 and not converged:
            # The working set's problem is solved, yet a violator is
            # outside it: only rounding can do that; no further progress.
            stop = stalled(largest)
            break
        n_iter += steps
        params = np.zeros_like(params)
        params[indices] = found
    coef, intercept = objective.unpack(params)
    return SolverResult(
        coef, intercept, max(n_iter, 1), converged, "proximal-newton", stop
    )


def _restricted(objective, working, previous):
    """The problem on the columns ``working`` of ``X``, as ``(working,
    problem)``: ``previous`` where it has the same columns, the problem
    itself where they are all of them, else a new one on a copy of the
    columns (with the same loss object: a smoothed loss keeps its rows'
    targets)."""
    if previous is not None and np.array_equal(previous[0], working):
        return previous
    if working.size == objective.n_features:
        return working, objective
    restricted = objective.on_rows(
        objective.X[:, working],
        objective.y,
        objective.sample_weight,
        loss=objective.loss,
    )
    return working, restricted


def working_set(coef, residual, n_samples, largest=DIRECT_NEWTON_SIZE):
    """Indices of the working set: the non-zero coefficients, and the zero
    ones of largest optimality residual, as many as the non-zeros (at least
    ``SMALLEST_WORKING_SET``, at most ``largest`` in all unless that leaves
    fewer than ``SMALLEST_WORKING_SET`` of them); all
    coefficients where that is more than half of them and no more than
    ``n_samples`` (their Hessian then no larger than ``X``; on more
    features than samples it would be up to ``p / n`` times ``X``)."""
    nonzero = np.flatnonzero(coef)
    violating = np.flatnonzero((coef == 0) & (residual != 0))
    room = min(
        max(nonzero.size, SMALLEST_WORKING_SET),
        max(largest - nonzero.size, SMALLEST_WORKING_SET),
    )
    if violating.size > room:
        size = np.abs(residual[violating])
        violating = violating[np.argpartition(-size, room - 1)[:room]]
    if 2 * (nonzero.size + violating.size) > coef.size and coef.size <= n_samples:
        # Most of the coefficients: all of them, which spares the copy of
        # the columns (a pass over most of X, each time the set changes).
        return np.arange(coef.size)
    return np.sort(np.concatenate([nonzero, violating]))


def _proximal_newton_steps(
    objective, params, max_iter, tol, on_iteration, kept, model_solves
):
    """Proximal Newton steps on all coefficients of ``objective`` (the problem
    on a working set) until the largest residual entry is at most ``tol``.

    ``kept`` carries the Levenberg-Marquardt damping and the last Hessian
    from one step and working set to the next. Returns ``(params, steps,
    stop)``.
    """
    n_coef = objective.n_coef
    l1 = objective.penalty.l1
    penalized = np.arange(params.size) < n_coef
    value, gradient, raw = full_value(objective, params)
    steps = 0
    while steps < max_iter:
        residual = optimality_residual(objective, params, gradient)
        largest = np.max(np.abs(residual))
        if largest <= tol:
            break
        steps += 1
        on_iteration()
        hessian = _hessian(objective, params, raw, kept)
        # The damped Hessian is H + diag(damping); not formed: a copy of H
        # on a working set of more coefficients than samples weighs as X.
        damping = kept["damping"] * np.diagonal(hessian)
        target = lasso_of_quadratic(
            hessian,
            gradient - hessian @ params - damping * params,
            params,
            penalized,
            l1,
            0.5 * tol,
            max_solves=model_solves,
            diagonal=damping,
        )
        step = target - params
        # The model's first-order decrease (the L1 norm's change included).
        predicted = gradient @ step + l1 * (
            np.abs(target[:n_coef]).sum() - np.abs(params[:n_coef]).sum()
        )
        found = _line_search(objective, params, raw, value, step, predicted)
        if found is not None:
            _adapt_damping(kept, found, value, predicted + step @ hessian @ step / 2)
            trial, trial_raw = found[0], found[1]
        else:
            # No orthant to project onto: all zeros.
            trial, trial_raw = step_below_resolution(
                objective, params, value, step, np.zeros_like(step), residual
            )
        if trial is None:
            return params, steps, stalled(largest)
        # Let go of this step's Hessian before the next is formed (_hessian
        # drops its own reference): on a working set of as many coefficients
        # as samples each weighs half of X or more.
        hessian = None
        params = trial
        value, gradient, raw = full_value(objective, params, trial_raw)
    return params, steps, ""


def _hessian(objective, params, raw, kept):
    """The generalized Hessian of the smooth part at ``params``; or the one of
    an earlier step on the same problem, where no sample's curvature has
    moved by more than ``newton.CURVATURE_DRIFT`` since (chord steps), or
    updated by the few rows whose curvature changed (exact). Both only
    where forming it costs enough (``chord_steps_pay``): on many samples it
    is most of a step's cost."""
    curvature = objective.curvature(raw)
    pays = chord_steps_pay(objective, params.size)
    first = kept["first"]
    kept["first"] = False
    if kept["hessian"] is not None and pays:
        problem, reference, hessian = kept["hessian"]
        if problem is objective:
            if curvature_is_close(curvature, reference):
                return hessian
            change = curvature - reference
            changed = np.count_nonzero(change)
            if RANK_UPDATE_SHARE * changed <= np.count_nonzero(curvature):
                objective.hessian_update(hessian, change)
                kept["hessian"] = (objective, curvature, hessian)
                return hessian
            del change
        del problem, reference, hessian
    # The old Hessian (and its problem's copy of columns) goes before the
    # new one is formed: on a working set of more coefficients than samples
    # each weighs as much as X.
    kept["hessian"] = None
    # A path's previous alpha's may serve the first step of the solve, and
    # later ones where chord steps pay.
    hessian, _ = formed_or_kept_hessian(
        objective, params, raw, curvature, take_kept=pays or first
    )
    kept["hessian"] = (objective, curvature, hessian)
    return hessian


def _adapt_damping(kept, found, value, model_decrease):
    """Levenberg-Marquardt's update of the damping from how well the undamped
    model predicted the step that ``_line_search`` found."""
    _, _, new_value, length = found
    ratio = (new_value - value) / model_decrease if model_decrease < 0 else 0.0
    damping = kept["damping"]
    if length == 1.0 and ratio > GOOD_MODEL:
        kept["damping"] = damping / 4 if damping > SMALLEST_DAMPING else 0.0
    elif length < 1.0 or ratio < POOR_MODEL:
        kept["damping"] = max(4 * damping, RESTART_DAMPING)


def _line_search(objective, params, raw, value, step, predicted):
    """``(params, raw, value, length)`` after the longest step ``length =
    2**-k`` along ``step`` that achieves ``SUFFICIENT_DECREASE`` of its
    share of ``predicted``; None where none does (or ``predicted`` is no
    decrease). One product with ``X``; each trial costs a pass of the loss.
    """
    n_coef = objective.n_coef
    if not predicted < 0:
        return None
    change = objective.raw_prediction(*objective.unpack(step))
    resolution = VALUE_RESOLUTION * abs(value)

    # Where the halvings from the full step find nothing, once more from a
    # first trial that moves no score by more than LARGEST_SCORE_CHANGE times
    # the largest score (and 1): where the model has no curvature along the
    # step (a smoothed hinge from W = 0, every sample past the band, an L2
    # term of 5e-7 and an intercept without any), its minimizer lay 1e14
    # away and the halvings ran out first. That length is found only then:
    # its two passes over the scores would be spent by every other search.
    def first_lengths():
        yield 1.0
        largest_change = np.max(np.abs(change), initial=0.0)
        reach = LARGEST_SCORE_CHANGE * (1.0 + np.max(np.abs(raw), initial=0.0))
        if largest_change > reach:
            yield reach / largest_change

    for length in first_lengths():
        for _ in range(HALVINGS):
            trial = params + length * step
            trial_raw = raw + length * change
            with np.errstate(over="ignore", invalid="ignore"):
                trial_value = objective.sample_weight @ objective.loss.loss(
                    objective.y, trial_raw
                ) + objective.penalty.value(trial[:n_coef])
            if trial_value <= value + SUFFICIENT_DECREASE * length * predicted or (
                # A decrease below the value's rounding: taken on the model's
                # word.
                trial_value <= value + resolution and -length * predicted <= resolution
            ):
                return trial, trial_raw, trial_value, length
            length *= 0.5
    return None


def lasso_of_quadratic(
    hessian, linear, start, penalized, l1, threshold, max_solves=None, diagonal=None
):
    """``argmin_z linear . z + z . H z / 2 + l1 * |z[penalized]|_1``, exactly.

    ``H`` is ``hessian`` plus ``diag(diagonal)`` where ``diagonal`` is given
    (a damping, added to each block solved rather than to a copy of
    ``hessian``).

    An active-set method over orthants (the feature-sign search of Lee,
    Battle, Raina and Ng, 2007), from ``start``: on the current orthant the
    problem is a quadratic, whose minimizer one solve of the free block
    gives; the step towards it stops at the first coefficient that would
    change sign, which leaves the free set. At the orthant's minimizer, the
    zero coefficients whose model gradient exceeds ``l1`` by more than
    ``threshold`` enter, with the sign that decreases the model: all at
    once at first; where some of them then point the wrong way, those
    leave and at most half as many enter together from then on, down to
    one at a time (the search's own rule: a single entering coefficient
    always moves the right way, so the search cannot cycle). Every step
    lowers the model or leaves it; with ``max_solves``, the search stops
    after that many solves, at a point of lower model value (an inexact
    step of proximal Newton). A (near) singular block is damped
    (``linalg.solve_symmetric``): a long step along its null space ends at
    a sign change like any other.
    """
    point = start.copy()
    if max_solves is None:
        # Each pass either removes coefficients from the free set or
        # reaches an orthant's minimizer; the bound only guards against
        # rounding.
        max_solves = 10 * point.size + 50
    if diagonal is None:
        diagonal = np.zeros(point.size)
    solves = _BlockSolves(hessian, diagonal)
    with contextlib.nullcontext() if solves.small else blas_on_one_thread():
        return _feature_sign_search(
            hessian,
            linear,
            diagonal,
            point,
            penalized,
            l1,
            threshold,
            max_solves,
            solves,
        )


def _feature_sign_search(
    hessian, linear, diagonal, point, penalized, l1, threshold, max_solves, solves
):
    """``lasso_of_quadratic``'s search from ``point`` (changed in place)."""
    signs = np.sign(point) * penalized
    free = (point != 0) | ~penalized
    most_entering = point.size
    for _ in range(max_solves):
        active = np.flatnonzero(free)
        right = -(linear[active] + l1 * signs[active])
        target = solves(active, right)
        if not np.any(penalized[active] & (signs[active] * target < 0)):
            # The orthant's minimizer, where the search may end: refined.
            # A step to a sign change needs no such accuracy.
            target = solves.refined(active, right, target)
        current = point[active]
        crossing = penalized[active] & (signs[active] * target < 0)
        wrong_way = crossing & (current == 0)
        if np.any(wrong_way):
            # Entered together, some point the wrong way: they leave at
            # once (the point stays), and fewer enter together from now on.
            leaving = active[wrong_way]
            signs[leaving], free[leaving] = 0.0, False
            most_entering = max(1, min(most_entering, leaving.size) // 2)
            continue
        if np.any(crossing):
            crossing = np.flatnonzero(crossing)
            fractions = current[crossing] / (current[crossing] - target[crossing])
            first = crossing[np.argmin(fractions)]
            point[active] = current + fractions.min() * (target - current)
            point[active[first]], signs[active[first]] = 0.0, 0.0
            free[active[first]] = False
            continue
        point[active] = target
        model_gradient = linear + hessian @ point + diagonal * point
        violation = np.where(free, 0.0, np.abs(model_gradient) - l1)
        entering = np.flatnonzero(violation > threshold)
        if not entering.size:
            break
        if entering.size > most_entering:
            order = np.argpartition(-violation[entering], most_entering - 1)
            entering = entering[order[:most_entering]]
        free[entering] = True
        signs[entering] = -np.sign(model_gradient[entering])
    return point


class _BlockSolves:
    """Solves of the positive semi-definite systems ``M_SS x = r`` of the
    free sets ``S`` of one feature-sign search, ``M = hessian +
    diag(diagonal)``.

    Consecutive free sets differ by a few coefficients (one leaves at a
    sign change, a few enter at an orthant's minimizer), so one damped
    Cholesky factor (``SymmetricFactor``) of a base set ``B`` serves them
    all: with ``A`` the coefficients added to it and ``R`` those removed,
    the system on ``S`` is the one on ``B`` bordered by the columns of
    ``A`` and by multipliers that hold ``x_R`` at zero, solved through its
    Schur complement, of size ``|A| + |R|``. Each new coefficient of ``A``
    or ``R`` costs one solve with the factor (kept while the base lasts);
    once the changes are more than ``SCHUR_SHARE`` of the base (an eighth),
    a factorization costs less, and the base becomes ``S``. On Huber L1 on
    500 x 5,000, about ten solves per proximal Newton step each factored
    their block anew (2,473 Cholesky factorizations of blocks of about 500,
    most of the fit's time).

    The damping (``SymmetricFactor``'s, Marquardt's) makes each solve
    slightly off the undamped block's; without an L2 part the Hessian on
    the working set is singular but for the samples of curvature, and a
    damped solve leaves the optimality residual at about 5e-10 for
    gradients of 1e-3 (a relative gap of 5e-7). ``refined`` takes
    ``REFINEMENTS`` steps of iterative refinement, to rounding. Only the
    solve at an orthant's minimizer needs it: the others only find where a
    coefficient changes sign.
    """

    def __init__(self, hessian, diagonal):
        self.hessian, self.diagonal = hessian, diagonal
        self.small = hessian.shape[0] <= SMALL_MODEL
        self.base = None

    def __call__(self, active, right, related=True):
        """``x`` of ``M_SS x = right`` for the free set ``S = active``;
        ``related``: ``right`` is the search's own, equal to the last such
        one but where signs changed (not a refinement's residual)."""
        if self.small:
            # Blocks this small factor faster than the bookkeeping of the
            # Schur complement runs (the factor serves its refinement).
            if self.base is None or not self._is_base(active):
                self._refactor(active, bordering=False)
            return self.factor.solve(right)
        if self.base is None or not self._near_base(active):
            self._refactor(active)
        solution = self._bordered_solve(active, right, related)
        if solution is None:
            self._refactor(active)
            solution = self.factor.solve(right)
        return solution

    def refined(self, active, right, solution):
        """``solution`` of ``M_SS x = right`` after iterative refinement."""
        solution = solution.copy()
        for _ in range(REFINEMENTS):
            correction = self(
                active, right - self._times(active, solution), related=False
            )
            if not np.all(np.isfinite(correction)):
                break
            solution += correction
        return solution

    def _times(self, active, vector):
        """``M_SS @ vector`` for the free set ``S = active``."""
        if self._is_base(active):
            return self.factor.times(vector)
        spread = np.zeros(self.hessian.shape[0])
        spread[active] = vector
        return (self.hessian @ spread)[active] + self.diagonal[active] * vector

    def _is_base(self, active):
        return active.size == self.base.size and np.array_equal(active, self.base)

    def _near_base(self, active):
        if self.factor.lower is None:
            return self._is_base(active)
        in_base = self.position[active] >= 0
        changes = (active.size - np.count_nonzero(in_base)) + (
            self.base.size - np.count_nonzero(in_base)
        )
        return changes <= max(SMALLEST_SCHUR, SCHUR_SHARE * self.base.size)

    def _refactor(self, active, bordering=True):
        block = self.hessian[np.ix_(active, active)]
        diagonal_view(block)[:] += self.diagonal[active]
        self.factor = SymmetricFactor(block, overwrite=True)
        del block
        self.base = active.copy()
        if not bordering:
            return
        self.position = np.full(self.hessian.shape[0], -1)
        self.position[active] = np.arange(active.size)
        # M_BB^-1 times the column of M of each added coefficient and times
        # the unit vector of each entry removed from the base or changed in
        # its right-hand side, computed once per base; and the first
        # right-hand side of the search on the base, with its solution.
        self.added_columns, self.unit_columns = {}, {}
        self.reference = None

    def _base_solve(self, right):
        return cholesky_solve(self.factor.lower, right)

    def _columns(self, cache, keys, make):
        if not keys:
            return np.empty((self.base.size, 0))
        missing = [key for key in keys if key not in cache]
        if missing:
            solved = self._base_solve(make(np.array(missing)))
            for key, column in zip(missing, solved.T, strict=True):
                cache[key] = column
        return np.column_stack([cache[key] for key in keys])

    def _base_start(self, base_right, related):
        """``M_BB^-1 base_right``. Within one search the right-hand sides
        differ from the first only where coefficients left the base (zero
        there) or changed sign: the first's solution plus the solved unit
        columns of those entries (each one solve, kept while the base lasts,
        and those of the removed ones needed anyway) spares a solve with the
        factor per call (a third of the search's time on squared hinge
        elastic net 1,000 x 5,000)."""
        if not related:
            return self._base_solve(base_right)
        if self.reference is not None:
            reference_right, reference_solution = self.reference
            changed = np.flatnonzero(base_right != reference_right)
            if changed.size <= max(SMALLEST_SCHUR, SCHUR_SHARE * base_right.size):
                units = self._columns(
                    self.unit_columns,
                    changed.tolist(),
                    lambda keys: _unit_columns(base_right.size, keys),
                )
                difference = base_right[changed] - reference_right[changed]
                return reference_solution + units @ difference
        solution = self._base_solve(base_right)
        self.reference = (base_right, solution)
        return solution

    def _bordered_solve(self, active, right, related):
        """The solve through the Schur complement of the bordered system;
        None where it is not usable (no factor, or rounding)."""
        if self._is_base(active):
            solution = self.factor.solve(right)
            if related and self.factor.lower is not None:
                self.reference = (right.copy(), solution)
            return solution
        base, hessian = self.base, self.hessian
        positions = self.position[active]
        in_base = positions >= 0
        added = active[~in_base]
        kept = np.zeros(base.size, bool)
        kept[positions[in_base]] = True
        removed = np.flatnonzero(~kept)  # positions in the base
        base_right = np.zeros(base.size)
        base_right[positions[in_base]] = right[in_base]
        start = self._base_start(base_right, related)
        solved_added = self._columns(
            self.added_columns,
            added.tolist(),
            lambda keys: hessian[np.ix_(base, keys)],
        )
        solved_removed = self._columns(
            self.unit_columns,
            removed.tolist(),
            lambda keys: _unit_columns(base.size, keys),
        )
        n_added = added.size
        size = n_added + removed.size
        schur = np.empty((size, size))
        across = hessian[np.ix_(added, base)]
        added_block = hessian[np.ix_(added, added)]
        added_diagonal = np.diagonal(added_block) + self.diagonal[added]
        # Marquardt's damping of the added coefficients, as the base's.
        shift = self.factor.shift_for(added_diagonal)
        schur[:n_added, :n_added] = added_block - across @ solved_added
        schur[:n_added, :n_added][np.diag_indices(n_added)] += (
            self.diagonal[added] + shift
        )
        schur[:n_added, n_added:] = -(across @ solved_removed)
        schur[n_added:, :n_added] = -solved_added[removed]
        schur[n_added:, n_added:] = -solved_removed[removed]
        small_right = np.concatenate(
            [right[~in_base] - across @ start, -start[removed]]
        )
        try:
            bordered = np.linalg.solve(schur, small_right)
        except np.linalg.LinAlgError:
            return None
        base_solution = start - solved_added @ bordered[:n_added]
        base_solution -= solved_removed @ bordered[n_added:]
        solution = np.empty(active.size)
        solution[in_base] = base_solution[positions[in_base]]
        solution[~in_base] = bordered[:n_added]
        return solution if np.all(np.isfinite(solution)) else None


def _unit_columns(size, indices):
    """The columns ``indices`` of the identity matrix of order ``size``."""
    columns = np.zeros((size, len(indices)))
    columns[indices, np.arange(len(indices))] = 1.0
    return columns
