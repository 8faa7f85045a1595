"""Solving a ``DistributedObjective``: passes over chunks, small work on the client.

Every pass over the data is one map-reduce (``_distributed``); what the
client holds is of the parameters' size. Three methods, chosen by the loss
in ``dispatch.solve``:

- Losses with a curvature (per sample, or a block per sample for the
  multinomial loss): Newton's method on the exact Hessian, a dense matrix
  of the parameters' size summed over the chunks, one pass per step; the
  trial steps of the line search are evaluated together, in one more pass.
  With an L1 part, proximal Newton: the step minimizes the quadratic model
  plus the L1 norm exactly, as a small least-squares problem with an L1
  penalty solved in memory by the solver table (``_proximal_point``).
- The focal losses (no curvature that keeps the Hessian positive): the
  in-memory L-BFGS-B on the split ``W = W+ - W-`` (``lbfgs.solve_smooth``),
  one pass per evaluation.
- Piecewise-linear losses (hinge, pinball, epsilon-insensitive): their
  Moreau envelopes with continuation, minimized as above, until the
  samples within reach of the kink are few; those rows come to the client,
  the others folded into one row per chunk and side (exact as long as every
  folded sample stays strictly on its side: checked on all chunks, and any
  that crossed join the rows), and the in-memory solver table solves that
  problem exactly. By convexity of the loss the folded problem lies below
  the whole one, so its dual bound bounds the whole problem's optimum too:
  the gap reported is the whole objective's at the answer against it.

The answer is certified as in memory: the relative duality gap (Fenchel's
for the smooth convex losses, each pass a sum over chunks) or the
stationarity residual.
"""

import numpy as np
from scipy.linalg import solve_triangular

from .._loss import SquaredEpsilonInsensitiveLoss
from .._objective import LinearObjective
from .._penalty import ElasticNet
from .active_set import GAP_FLOOR
from .certificate import (
    DUALITY_GAP,
    STATIONARITY,
    Certificate,
    has_fenchel_dual,
    penalty_conjugate,
    relative_gap,
    slope_root,
    stationarity_residual,
)
from .lbfgs import solve_smooth
from .linalg import factor_symmetric, marquardt_damped
from .result import SolverResult
from .smoothed_dual import SmoothedLoss

# Trial steps of one pass of the line search (halving), each further pass
# going on from the last (Armijo's condition with ARMIJO): down to 2**-48,
# for the long steps along a damped direction of no curvature (the
# intercept where every sample sits on a linear piece).
TRIAL_STEPS = 0.5 ** np.arange(8)
TRIAL_PASSES = 6
ARMIJO = 1e-4
# Smoothing rounds of the piecewise-linear losses, each tenfold narrower;
# the rows within CANDIDATE_REACH smoothings of the kink are gathered once
# they are at most max(GATHER_PER_PARAMETER * parameters, GATHER_MINIMUM)
# and GATHER_ENTRIES entries.
SMOOTHING_ROUNDS = 14
CANDIDATE_REACH = 10.0
GATHER_PER_PARAMETER = 20
GATHER_MINIMUM = 5000
GATHER_ENTRIES = 20_000_000
# Attempts at an exact reduction, each adding the samples that crossed.
EXPANSIONS = 4


def solve_distributed(objective, coef, intercept, *, max_iter, tol, on_iteration):
    """Minimize a ``DistributedObjective`` from ``(coef, intercept)``.

    Intercepts of the model ``X @ W + b`` in and out, like ``solve``;
    the result carries its ``Certificate``.
    """
    params = objective.pack(coef, objective.to_centered_intercept(coef, intercept))
    loss = objective.loss
    options = dict(max_iter=max_iter, tol=tol, on_iteration=on_iteration)
    if loss.is_piecewise_linear:
        params, n_iter, converged, stop, certificate, method = _kinked(
            objective, params, **options
        )
    else:
        if loss.has_curvature or loss.has_block_curvature:
            params, n_iter, converged, stop = newton(objective, params, **options)
            method = "distributed-newton"
        else:
            # The in-memory L-BFGS-B asks only sums of the objective (values,
            # gradients, the features' scale): each a pass over the chunks.
            result = solve_smooth(objective, *objective.unpack(params), **options)
            params = objective.pack(result.coef, result.intercept)
            n_iter, converged, stop = result.n_iter, result.converged, result.stop
            method = "distributed-lbfgs"
        certificate = _certificate(objective, params, objective.last_value_gradient)
    coef, centered = objective.unpack(params)
    return SolverResult(
        coef,
        objective.from_centered_intercept(coef, centered),
        n_iter,
        converged,
        method,
        stop,
        certificate=certificate,
    )


# -- Newton's method -----------------------------------------------------------
def newton(objective, params, *, max_iter, tol, on_iteration, loss=None):
    """(Proximal) Newton's method over chunk sums; ``loss`` replaces the
    objective's (a smoothed one). Returns ``(params, n_iter, converged,
    stop)``.

    The full step is tried by computing the next step's parts at it (one
    pass, which near the optimum is always accepted); only where Armijo's
    condition fails there does a pass of shorter trial steps follow.
    """
    penalty, n_coef = objective.penalty, objective.n_coef

    def with_l1(point, value):
        return value + penalty.l1 * np.abs(point[:n_coef]).sum()

    n_iter = 0
    value, gradient, hessian = objective.newton_parts(params, loss)
    while True:
        current = with_l1(params, value)
        if stationarity_residual(penalty, params, gradient, n_coef) <= tol:
            return params, n_iter, True, ""
        if n_iter >= max_iter:
            return params, n_iter, False, ""
        n_iter += 1
        on_iteration()
        if penalty.has_l1:
            step = _proximal_point(objective, hessian, gradient, params) - params
            decrease = gradient @ step + penalty.l1 * (
                np.abs(params[:n_coef] + step[:n_coef]).sum()
                - np.abs(params[:n_coef]).sum()
            )
        else:
            step = -factor_symmetric(hessian)(gradient)
            decrease = gradient @ step
        if decrease >= -16 * np.finfo(float).eps * max(abs(current), 1e-300):
            # The model predicts no decrease above rounding: the optimum as
            # far as floating point resolves it.
            return params, n_iter, True, ""
        trial = params + step
        parts = objective.newton_parts(trial, loss)
        if with_l1(trial, parts[0]) <= current + ARMIJO * decrease:
            params, (value, gradient, hessian) = trial, parts
            continue
        accepted = _line_search(objective, params, step, current, decrease, loss)
        if accepted is None:
            return (
                params,
                n_iter,
                False,
                "no step along Newton's direction decreased the objective",
            )
        params = accepted
        value, gradient, hessian = objective.newton_parts(params, loss)


def _line_search(objective, params, step, current, decrease, loss):
    """The longest trial step meeting Armijo's condition, several per pass."""
    for index in range(TRIAL_PASSES):
        # The full step was tried already.
        lengths = 0.5 * TRIAL_STEPS * (0.5 * TRIAL_STEPS[-1]) ** index
        points = [params + length * step for length in lengths]
        values = objective.values(points, loss)
        for length, point, value in zip(lengths, points, values, strict=True):
            if value <= current + ARMIJO * length * decrease:
                return point
    return None


def _proximal_point(objective, hessian, gradient, params):
    """The minimizer of the quadratic model plus the L1 norm.

    ``g.(z - x) + (z - x).H(z - x) / 2 + l1 * |z_W|_1``: the intercepts are
    eliminated (they minimize the model in closed form), and the model in
    the coefficients, ``v.M v / 2 - m.v``, is the least-squares problem
    ``|R v - t|**2 / 2`` with ``M = R.T R`` (Cholesky, with Marquardt's
    damping where ``M`` is singular); the solver table solves it with its L1
    penalty exactly, as a squared loss on ``R``'s rows.
    """
    n_coef = objective.n_coef
    right = hessian @ params - gradient
    coefficients, intercepts = slice(0, n_coef), slice(n_coef, None)
    M = hessian[coefficients, coefficients]
    m = right[coefficients]
    if objective.fit_intercept:
        coupling = hessian[coefficients, intercepts]
        inverse = np.linalg.pinv(hessian[intercepts, intercepts])
        M = M - coupling @ inverse @ coupling.T
        m = m - coupling @ (inverse @ right[intercepts])
    factor = np.linalg.cholesky(marquardt_damped(M))
    rows = factor.T
    target = solve_triangular(factor, m, lower=True)
    n_rows = rows.shape[0]
    # The mean of n_rows squared residuals is 2 / n_rows times the model.
    least_squares = LinearObjective(
        SquaredEpsilonInsensitiveLoss(0.0),
        rows,
        target,
        np.ones(n_rows),
        penalty=ElasticNet(2.0 * objective.penalty.l1 / n_rows, 0.0),
        fit_intercept=False,
    )
    from .dispatch import solve

    start = params[:n_coef].reshape(-1, 1)
    result = solve(least_squares, start, np.zeros(1), max_iter=1000, tol=1e-14)
    coef = result.coef.ravel()
    point = params.copy()
    point[coefficients] = coef
    if objective.fit_intercept:
        point[intercepts] = inverse @ (right[intercepts] - coupling.T @ coef)
    return point


# -- piecewise-linear losses -------------------------------------------------------
def _kinked(objective, params, *, max_iter, tol, on_iteration):
    """Smoothing rounds over the chunks, then the exact solve on the rows near
    the kink (module docstring)."""
    loss = objective.loss
    tol = max(tol, GAP_FLOOR)
    smoothing = max(0.1 * objective.mean_absolute_kink_distance(params), 1e-12)
    limit = min(
        max(GATHER_PER_PARAMETER * objective.n_params, GATHER_MINIMUM),
        GATHER_ENTRIES // max(objective.n_features, 1),
    )
    n_iter, best = 0, None
    for _ in range(SMOOTHING_ROUNDS):
        params, spent, _, _ = newton(
            objective,
            params,
            max_iter=max_iter - n_iter,
            tol=1e-12,
            on_iteration=on_iteration,
            loss=SmoothedLoss(loss, smoothing),
        )
        n_iter += spent
        reach = CANDIDATE_REACH * smoothing
        if n_iter < max_iter and objective.count_near_kink(params, reach) <= limit:
            point, spent, exact, certificate = _exact_on_reduced(
                objective, params, reach, max_iter - n_iter, tol, on_iteration
            )
            n_iter += spent
            if exact or (certificate.kind == DUALITY_GAP and certificate.gap <= tol):
                converged = certificate.kind != DUALITY_GAP or certificate.gap <= tol
                return point, n_iter, converged, "", certificate, "distributed-reduced"
            if best is None or certificate.objective < best[1].objective:
                best = (point, certificate)
            # The exact solve of an inexact reduction is a better start.
            if certificate.objective < objective.value(*objective.unpack(params)):
                params = point
        if n_iter >= max_iter:
            break
        smoothing *= 0.1
    if best is None:
        value = objective.value(*objective.unpack(params))
        best = (params, Certificate(value, np.inf, DUALITY_GAP))
    point, certificate = best
    stop = (
        ""
        if n_iter >= max_iter
        else f"the duality gap stayed at {certificate.gap:.1e} of the objective "
        f"(tol {tol:.0e}) after {SMOOTHING_ROUNDS} smoothing rounds"
    )
    return point, n_iter, False, stop, certificate, "distributed-reduced"


def _exact_on_reduced(objective, params, reach, max_iter, tol, on_iteration):
    """The in-memory solve on the rows near the kink at ``params`` (the
    others folded), expanded by the samples that crossed until the
    reduction is exact. Returns ``(point, iterations, exact, certificate)``
    of the best point found (lowest whole objective)."""
    from .dispatch import solve

    points, best, n_iter = [params], None, 0
    for _ in range(EXPANSIONS):
        X, y, weight = objective.reduced_rows(points, reach)
        reduced = LinearObjective(
            objective.loss,
            X,
            y,
            weight,
            penalty=objective.penalty,
            fit_intercept=objective.fit_intercept,
        )
        coef, centered = objective.unpack(points[-1])
        result = solve(
            reduced,
            coef,
            objective.from_centered_intercept(coef, centered),
            max_iter=max_iter - n_iter,
            tol=tol,
            on_iteration=on_iteration,
        )
        n_iter += result.n_iter
        point = objective.pack(
            result.coef, objective.to_centered_intercept(result.coef, result.intercept)
        )
        exact = objective.crossings([*points, point], reach) == 0
        certificate = _reduced_certificate(objective, point, result)
        if best is None or certificate.objective < best[3].objective:
            best = (point, n_iter, exact, certificate)
        if exact or (certificate.kind == DUALITY_GAP and certificate.gap <= tol):
            return point, n_iter, exact, certificate
        if n_iter >= max_iter:
            break
        points.append(point)
    return best[0], n_iter, best[2], best[3]


def _reduced_certificate(objective, point, result):
    """The whole objective at ``point`` and the reduced problem's dual bound
    (which bounds the whole problem's optimum from below, by convexity)."""
    value = objective.value(*objective.unpack(point))
    reduced = result.certificate
    if reduced.kind != DUALITY_GAP:
        return Certificate(value, reduced.gap, reduced.kind)
    dual = reduced.objective - reduced.gap * abs(reduced.objective)
    return Certificate(value, relative_gap(value, dual), DUALITY_GAP)


# -- certificates ------------------------------------------------------------------
def _certificate(objective, params, known=None):
    """Fenchel's duality gap of a smooth convex loss with a penalty (one output),
    as ``certificate.certify``, its sums over the chunks; else the
    stationarity residual. ``known``: the smooth part's value and gradient
    at ``params``, if a solver has them (a pass saved)."""
    penalty, n_coef = objective.penalty, objective.n_coef
    if known is not None and np.array_equal(known[0], params):
        value, gradient = known[1]
    else:
        value, gradient = objective.smooth_value_gradient(params)
    value += penalty.l1 * np.abs(params[:n_coef]).sum()
    if objective.n_outputs > 1 or not has_fenchel_dual(
        objective, params[:n_coef], value
    ):
        residual = stationarity_residual(penalty, params, gradient, n_coef)
        return Certificate(value, residual, STATIONARITY)
    shift = 0.0
    if objective.fit_intercept:
        # The dual's constraint sum_i s_i L'(f_i) = 0, by moving every score.
        def slope_and_curvature(shift):
            _, _, slope, curvature = objective.dual_parts(params, shift, 1.0)
            return float(np.ravel(slope)[0]), curvature

        shift = slope_root(slope_and_curvature)
    conjugate, correlation, _, _ = objective.dual_parts(params, shift, 1.0)
    conjugate_of_penalty, scale = penalty_conjugate(penalty, correlation)
    if scale != 1.0:
        conjugate = objective.dual_parts(params, shift, scale)[0]
    dual = -conjugate - conjugate_of_penalty
    return Certificate(value, relative_gap(value, dual), DUALITY_GAP)
