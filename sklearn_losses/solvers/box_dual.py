"""The box-constrained dual of a piecewise-linear loss with an L2 or
elastic-net penalty."""

import numpy as np
from scipy.optimize import Bounds, minimize

from .._parallel import blas_on_one_thread
from .active_set import (
    GAP_FLOOR,
    CandidatePool,
    exact_candidate,
    smoothed_candidate,
)
from .lbfgs import FTOL
from .result import SolverResult, no_callback

# Rounds of the augmented Lagrangian for the intercept's constraint (it
# converges in a few; each round is one L-BFGS-B solve).
MULTIPLIER_ROUNDS = 10
# The penalty of the constraint's violation, relative to the dual's own
# curvature along one sample (enough for the multiplier to converge in a
# few rounds, not so much as to stall L-BFGS-B on a rank-one ridge).
CONSTRAINT_STIFFNESS = 100.0
# Pairs L-BFGS-B keeps on the dual.
MEMORY = 10
# Rounds of the active-set method from a path's previous dual point before
# L-BFGS-B takes over. Where the sets it reads off that point are near the
# new alpha's, it certifies in two or three rounds; where they are not, its
# rounds swing between too few and too many samples on the kink, and more
# rounds did not help (epsilon-insensitive on sparse 5,000 x 10,000: the
# same 4 of 29 alphas failed at 4, 8 and 16 rounds).
KEPT_POINT_ROUNDS = 8
# Those rounds try no ``dual_certificate`` program: at a degenerate point
# its linear program (dense in the kink rows) took 20-30 s on an elastic
# net on tf-idf 2,000 x 20,000, where L-BFGS-B and the active-set step from
# its point took 1 to 2 s.


def solve_box_dual(
    objective, coef, intercept, *, max_iter, tol, on_iteration=no_callback
):
    """Piecewise-linear loss with an L2 or elastic-net penalty and many
    features: the dual.

    The dual of ``J`` is the box-constrained program

        maximize  D(theta) = c . theta - sum_j (|z_j| - l1)_+**2 / (2 * l2)
        subject to  s_i * lower <= theta_i <= s_i * upper,  a . theta = 0,

    with ``z = X.T @ (a * theta)`` (a quadratic program without an L1 part),
    the last constraint only with an intercept. ``D`` is concave and
    continuously differentiable, its gradient ``c - a * (X @ w)`` with ``w``
    the soft threshold of ``z`` at ``l1`` over ``l2``
    (``ElasticNet.coef_from_dual``). L-BFGS-B handles the box
    exactly (by projection), on ``u = theta / s`` so that every variable
    lives in the same unit box; each evaluation costs two passes over
    ``X`` and none forms a Hessian, where Newton's method on the smoothed
    primal needs many conjugate-gradient products once most samples sit
    near the kink. The equality constraint is handled by an augmented
    Lagrangian, ``- D + b * (a . theta) + rho / 2 * (a . theta)**2``, whose
    multiplier ``b`` converges to the intercept.

    From the dual point, the active-set method solves the optimality
    conditions exactly (with an L2 penalty by MINRES on the kink system;
    with an elastic net on the non-zero features) and the duality gap
    certifies the result, to ``max(tol, 1e-8)`` relative to ``J``. If it
    does not, the result is the best primal point, unconverged (the solver
    table then hands over to the smoothed dual).

    Along a path, the active-set method first runs from the previous
    alpha's exact dual point (``objective.kept_dual_point``), for at most
    ``KEPT_POINT_ROUNDS`` rounds; only where that does not certify does
    L-BFGS-B run. From that point L-BFGS-B took more iterations than from
    a cold start wherever many samples sat inside their box (100-alpha
    path of an epsilon-insensitive fit with an intercept on tf-idf
    2,000 x 20,000: 5,531 iterations and 12.4 s, against 1.25 s with every
    alpha certified by the active-set method from that point).
    """
    _, a = objective.loss.affine_parts(objective.y)
    lower, upper = objective.loss.dual_box()
    weight = objective.sample_weight
    box_lower, box_upper = weight * lower, weight * upper
    gap_tol = max(tol, GAP_FLOOR)
    pool = CandidatePool()
    kept = _kept_start(objective)
    if kept is not None:
        pool.consider(
            exact_candidate(
                objective,
                weight * kept,
                coef.ravel(),
                box_lower,
                box_upper,
                max_rounds=KEPT_POINT_ROUNDS,
                certificates=0,
            )
        )
        if pool.certified(gap_tol):
            objective.kept_dual_point = kept_point(pool, weight, kept)
            on_iteration()
            return SolverResult(
                **pool.result_fields(objective.fit_intercept, gap_tol),
                n_iter=1,
                method="box-dual",
            )
    # With an L1 part, half the budget, the rest left to the smoothed dual:
    # near alpha_max few features pass the threshold, the dual is nearly a
    # linear program, and the augmented Lagrangian's rounds can take every
    # iteration (hinge elastic net with an intercept on tf-idf 2,000 x
    # 20,000 at alpha 2e-3: all 1,000, a gap of 2e-7 and a warning; with
    # half, the smoothed dual certifies to 5e-9 in 9 s).
    budget = max_iter // 2 if objective.penalty.has_l1 else max_iter
    unit, n_iter = _maximize_dual(objective, coef, intercept, budget, on_iteration)
    theta = weight * unit
    guess = objective.penalty.coef_from_dual(objective.rmatvec(a * theta).ravel())
    pool.consider(exact_candidate(objective, theta, guess, box_lower, box_upper))
    if not pool.certified(gap_tol):
        pool.consider(smoothed_candidate(objective, theta, guess, box_lower, box_upper))
    if objective.along_path:
        objective.kept_dual_point = kept_point(pool, weight, unit)
    return SolverResult(
        **pool.result_fields(objective.fit_intercept, gap_tol),
        n_iter=n_iter,
        method="box-dual",
    )


def _maximize_dual(objective, coef, intercept, max_iter, on_iteration):
    """The dual point ``u = theta / s`` found by L-BFGS-B, and its iterations.

    Starts from the primal point ``(coef, intercept)``: each sample at the
    end of its box on the side of its residual (0, inside every box, where
    it is zero); on a path, from the previous alpha's dual point instead
    (``kept_point``). The box does not depend on alpha, so that point is
    feasible, and it is near: the ends that the previous (or extrapolated)
    coefficients' residuals give put every sample on the kink at an end of
    its box, far from the optimum of the next alpha (tf-idf 3,000 x 30,000,
    hinge with an intercept: 600 to 1,000 iterations per alpha from those
    ends, where a cold fit takes 1 to 100).
    """
    loss = objective.loss
    lower, upper = loss.dual_box()
    weight = objective.sample_weight
    c, a = loss.affine_parts(objective.y)
    penalty = objective.penalty
    l2 = penalty.l2
    fit_intercept = objective.fit_intercept
    start_intercept = intercept if fit_intercept else np.zeros(1)
    kept = _kept_start(objective)
    if kept is not None:
        unit = kept.copy()
    else:
        residual = c - a * objective.raw_prediction(coef, start_intercept).ravel()
        unit = np.where(residual > 0, upper, np.where(residual < 0, lower, 0.0))
    multiplier = float(start_intercept[0]) if fit_intercept else 0.0
    rho = _constraint_penalty(objective) if fit_intercept else 0.0
    n_iter = 0
    for _ in range(MULTIPLIER_ROUNDS if fit_intercept else 1):
        remaining = max_iter - n_iter
        if remaining <= 0:
            break

        def negative_dual(unit, multiplier=multiplier):
            theta = weight * unit
            coef = penalty.coef_from_dual(objective.rmatvec(a * theta).ravel())
            value = 0.5 * l2 * (coef @ coef) - c @ theta
            gradient = a * objective.matvec(coef).ravel() - c
            if fit_intercept:
                imbalance = a @ theta
                value += multiplier * imbalance + 0.5 * rho * imbalance**2
                gradient += a * (multiplier + rho * imbalance)
            return value, weight * gradient

        with blas_on_one_thread():
            result = minimize(
                negative_dual,
                unit,
                jac=True,
                method="L-BFGS-B",
                # A Bounds object: a list of pairs costs 0.2 s to convert
                # at 50,000 variables.
                bounds=Bounds(np.full(unit.size, lower), np.full(unit.size, upper)),
                callback=lambda intermediate_result: on_iteration(),
                options={
                    "maxiter": remaining,
                    "maxfun": 2 * remaining + 20,
                    "ftol": FTOL,
                    "gtol": 0.0,
                    "maxcor": MEMORY,
                },
            )
        n_iter += max(result.nit, 1)
        unit = result.x
        if not fit_intercept:
            break
        multiplier += rho * (a @ (weight * unit))
        if result.nit <= 2:
            # The multiplier no longer moves the dual point.
            break
    return unit, n_iter


def _kept_start(objective):
    """The dual point a path's previous alpha kept (shares of the boxes),
    or None (a cold fit, or a point of other rows)."""
    kept = objective.kept_dual_point
    if not objective.along_path or kept is None:
        return None
    return kept if kept.size == objective.X.shape[0] else None


def kept_point(pool, weight, unit):
    """The dual point a path's next alpha starts from, as shares of the
    boxes: the exact step's (it meets the intercept's constraint, which the
    augmented Lagrangian's rounds approach slowly: from L-BFGS-B's own
    point, 720 to 830 iterations at the second alpha of a tf-idf path,
    against 8 to 13), else ``unit`` (L-BFGS-B's)."""
    theta = None if pool.best is None else pool.best.theta
    if theta is None:
        return unit
    return np.divide(theta, weight, out=np.zeros_like(theta), where=weight > 0)


def _constraint_penalty(objective):
    """``rho`` of the augmented Lagrangian.

    Curvature of ``-D`` along one sample's unit variable is about
    ``s_i**2 * |x_i|**2 / l2``, on average about ``R / (n**2 * l2)`` with
    ``R`` the weighted mean squared norm of a (centered) row. The penalty's
    curvature, ``rho * |s|**2`` along ``s`` (about ``rho / n``), is set to
    ``CONSTRAINT_STIFFNESS`` times that.
    """
    l2 = objective.penalty.l2
    mean_square = np.maximum(objective.feature_scale() ** 2 - l2, 0.0).sum()
    n_samples = np.count_nonzero(objective.sample_weight)
    return (
        CONSTRAINT_STIFFNESS * max(mean_square, np.finfo(float).tiny) / (n_samples * l2)
    )
