"""Projected Newton's method on orthants, for a smooth loss plus an L1 part."""

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .linalg import conjugate_gradient, expand, forcing_term, solve_symmetric
from .line_search import projected_search
from .newton import (
    ROUNDING_GRADIENT,
    halved_within_rounding,
    stalled,
    use_dense_hessian,
)
from .result import SolverResult, no_callback

# Newton settles on the right orthant within a few dozen steps or not at
# all; past this budget the method stops, unconverged, and the solver table
# hands over (L-BFGS-B on the split).
ORTHANT_NEWTON_STEPS = 50
# Consecutive steepest-descent steps (Newton's direction failing) after
# which the method gives up to the next in the table.
GRADIENT_STEPS = 5


def solve_orthant_newton(
    objective,
    coef,
    intercept,
    *,
    max_iter,
    tol,
    on_iteration=no_callback,
    newton_steps=ORTHANT_NEWTON_STEPS,
):
    """Projected Newton's method for a smooth loss plus an L1 part.

    The L1 norm is linear on each orthant. Each step fixes the orthant: the
    free coordinates are the non-zero coefficients, and the zero ones whose
    smooth gradient exceeds the L1 strength (they enter with the sign that
    decreases the objective); on them the objective is smooth, with the
    linear term ``l1 * sign(w)``, and a Newton step (dense generalized
    Hessian restricted to them, or conjugate gradients) gives the direction.
    The line search projects onto the orthant (a coefficient that would
    change sign stops at zero) and backtracks on the full objective, so
    the kink at zero is never differentiated through. Stops when the
    minimum-norm subgradient's largest entry is at most ``tol``; returns
    unconverged where Newton does not settle within ``newton_steps``, or
    keeps failing to give a descent direction (the solver table then
    hands over).
    """
    params = objective.pack(coef, intercept)
    value, gradient, raw = full_value(objective, params)
    converged, stop = False, ""
    n_iter = 0
    gradient_steps = 0
    while n_iter < min(max_iter, newton_steps):
        # The minimum-norm subgradient: the optimality residual.
        residual = optimality_residual(objective, params, gradient)
        if np.max(np.abs(residual)) <= tol:
            converged = True
            break
        n_iter += 1
        on_iteration()
        orthant, direction = _orthant_newton_direction(
            objective, params, raw, residual, tol
        )
        trial, _, trial_raw = projected_search(
            objective, params, raw, value, direction, orthant, residual
        )
        newton_failed = trial is None
        if newton_failed:
            trial, trial_raw = step_below_resolution(
                objective, params, value, direction, orthant, residual
            )
            newton_failed = trial is None
        if newton_failed:
            trial, _, trial_raw = projected_search(
                objective, params, raw, value, -residual, orthant, residual
            )
        if trial is None:
            # Neither the Newton nor the steepest-descent step decreases the
            # objective: at rounding level if the residual is, else stuck.
            converged = np.max(np.abs(residual)) <= max(tol, ROUNDING_GRADIENT)
            stop = "" if converged else stalled(np.max(np.abs(residual)))
            break
        params = trial
        value, gradient, raw = full_value(objective, params, trial_raw)
        gradient_steps = gradient_steps + 1 if newton_failed else 0
        if gradient_steps > GRADIENT_STEPS:
            # Newton's direction keeps failing (too little curvature, as
            # where every Huber residual is beyond the band): a different
            # method will do better than steepest descent.
            break
    coef, intercept = objective.unpack(params)
    return SolverResult(
        coef, intercept, max(n_iter, 1), converged, "orthant-newton", stop
    )


def full_value(objective, point, raw=None):
    """The objective with its L1 part, the gradient of its smooth part, and
    the prediction, at ``point`` (``raw``: the prediction, if known)."""
    if raw is None:
        raw = objective.raw_prediction(*objective.unpack(point))
    smooth, gradient = objective.smooth_value_gradient(point, raw=raw)
    l1_part = objective.penalty.l1 * np.abs(point[: objective.n_coef]).sum()
    return smooth + l1_part, gradient, raw


def optimality_residual(objective, params, gradient):
    """The minimum-norm subgradient of the objective: its optimality
    residual (the intercepts' part is their gradient)."""
    n_coef = objective.n_coef
    return np.concatenate(
        [
            objective.penalty.minimum_norm_subgradient(
                params[:n_coef], gradient[:n_coef]
            ),
            gradient[n_coef:],
        ]
    )


def step_below_resolution(objective, params, value, direction, orthant, residual):
    """The full projected Newton step where the value cannot tell.

    Near the optimum the decrease a step promises falls below the rounding
    of ``J`` and the line search refuses it, although the step still
    shrinks the residual (warm-started path points stopped there with a
    certified gap of 5e-6 where a cold fit reached 1e-13). As in Newton's
    method (``newton._resolved``), the step counts where the value stays
    within its rounding and the largest residual entry at least halves.
    ``orthant`` all zeros projects nothing (a step off orthants, as
    proximal Newton's). Returns ``(trial, raw prediction at trial)`` or
    ``(None, None)``.
    """
    n_coef = objective.n_coef
    if not np.all(np.isfinite(direction)):
        return None, None
    trial = params + direction
    trial[:n_coef][orthant[:n_coef] * trial[:n_coef] < 0] = 0.0
    # A full step may overflow the loss (an exponential one): then it does
    # not count, silently.
    with np.errstate(over="ignore", invalid="ignore"):
        trial_value, gradient, trial_raw = full_value(objective, trial)
        trial_residual = optimality_residual(objective, trial, gradient)
    if np.all(np.isfinite(trial_residual)) and halved_within_rounding(
        value,
        trial_value,
        np.max(np.abs(residual)),
        np.max(np.abs(trial_residual)),
    ):
        return trial, trial_raw
    return None, None


def _orthant_newton_direction(objective, params, raw, residual, tol):
    """The orthant of the next step and Newton's direction on it.

    Returns ``(orthant, direction)``: the sign each coefficient may take
    (0 for those held at zero, then zeros for the intercepts) and the
    Newton step over the free coordinates, embedded in all of them.
    """
    n_coef = objective.n_coef
    weights = params[:n_coef]
    entering = np.sign(residual[:n_coef]) * (weights == 0)
    # Without an L2 part the Hessian has rank at most n_samples: let at
    # most that many coefficients be free, the zero ones entering by the
    # size of their violation (a working set).
    room = objective.X.shape[0] - np.count_nonzero(weights)
    if not objective.penalty.has_l2 and np.count_nonzero(entering) > max(room, 1):
        candidates = np.flatnonzero(entering)
        order = np.argsort(-np.abs(residual[candidates]), kind="stable")
        entering[candidates[order[max(room, 1) :]]] = 0.0
    orthant = np.concatenate(
        [
            np.where(weights != 0, np.sign(weights), -entering),
            np.zeros(params.size - n_coef),
        ]
    )
    free = np.concatenate([orthant[:n_coef] != 0, np.ones(params.size - n_coef, bool)])
    reduced_gradient = residual[free]
    if use_dense_hessian(objective, np.count_nonzero(free[:n_coef])):
        hessian = objective.hessian_matrix(
            params, columns=np.flatnonzero(free[:n_coef]), raw=raw
        )
        direction = solve_symmetric(hessian, -reduced_gradient)
    else:
        product = objective.hessian_operator(params, raw=raw)
        operator = LinearOperator(
            (free.sum(), free.sum()),
            matvec=lambda v: product(expand(v, free))[free],
            dtype=float,
        )
        direction, _ = conjugate_gradient(
            operator,
            -reduced_gradient,
            rtol=forcing_term(np.linalg.norm(reduced_gradient)),
            maxiter=free.sum() + 20,
            finish=0.5 * tol,
        )
    return orthant, expand(direction, free)
