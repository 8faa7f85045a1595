"""A primal-dual interior-point method for a piecewise-linear loss with an
elastic net, on problems whose normal equations fit a dense solve.

Where more features than samples let the model nearly interpolate, most
samples sit on the kink at the optimum and about as many features are
non-zero; the sets that the box and smoothed duals' points suggest are
then far from the optimum's, and the active-set method's rounds swing
between them without settling (a quantile or epsilon-insensitive elastic
net on dense 200 x 1,000 at alpha 1e-5: a relative gap of 4e2 after 1,000
iterations, and 6e3 after 20,000). An interior-point method does not guess
sets: its iterates follow the central path, and the complementarity of
each variable with its dual at its end tells which samples sit on the kink
and which features are non-zero. The exact step finishes from there. The
same holds on small problems with more samples than features near
separation, where the smoothed dual ran out of iterations.
"""

from contextlib import nullcontext

import numpy as np
import scipy.linalg
import scipy.linalg.blas
import scipy.sparse as sp

from .._parallel import blas_on_one_thread
from .active_set import (
    GAP_FLOOR,
    CandidatePool,
    evaluated_candidate,
    exact_candidate,
)
from .result import SolverResult, no_callback

# Its normal equations are a dense matrix in the samples (of positive
# weight): taken where that weighs at most SYSTEM_MEMORY_PER_X times X, or
# SYSTEM_MEMORY_FLOOR bytes, ...
SYSTEM_MEMORY_PER_X = 2.0
SYSTEM_MEMORY_FLOOR = 2**25
# ... and where one iteration (forming and factoring them) is estimated to
# cost at most this many floating-point operations. Beyond, the box and
# smoothed duals are cheaper where they settle.
LARGEST_ITERATION_COST = 2e10
# ... and, with more samples than features, at most this many (about 400
# samples): there the duals settle at a fraction of the cost on larger
# problems (500 x 20, hinge elastic net: 42 ms, where this method took 79;
# dense 30,000 x 100: 0.18 s, where each iteration would factor a 30,000**2
# matrix), but on small problems near separation the smoothed dual can fail
# (hinge elastic net, 294 x 70 with weights, alpha 2e-5: a gap of 1.3 and a
# warning in 0.7 s; certified in 0.1 s here), and this method costs about
# the same or less (300 x 100: 30-130 ms against 170-530).
LARGEST_TALL_ITERATION_COST = 2e7
# Below this many samples BLAS runs on one thread (see solve_interior_point).
ONE_THREAD_BELOW = 1000
# Features whose weight in the normal equations is below this share of the
# largest are left out of them (see _Program._sample_gram).
NEGLIGIBLE_WEIGHT = 1e-14
# Interior-point iterations at most; Mehrotra's method takes 15 to 40.
MAX_ITERATIONS = 100
# Relative residuals and complementarity at which the iterates stop: the
# sets are read off the last one, and the exact step does the rest.
STOP_TOLERANCE = 1e-11
# Shifts of the normal equations' diagonal, relative to its largest entry,
# tried in turn where they are singular (_regularized_cholesky).
REGULARIZATION = (1e-14, 1e-12, 1e-10, 1e-8)
# Share of the way to the boundary each step takes.
STEP_TO_BOUNDARY = 0.99


def interior_point_applies(objective):
    """Whether the method takes the problem: an elastic net whose normal
    equations fit in memory and cost little to form and factor (very little
    with more samples than features)."""
    penalty = objective.penalty
    if not (penalty.has_l1 and penalty.has_l2):
        return False
    n_rows = np.count_nonzero(objective.sample_weight)
    # The epsilon-insensitive loss's samples are two rows each.
    tall = n_rows > objective.loss.rows_per_sample * objective.n_features
    X = objective.X
    if sp.issparse(X):
        stored = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        per_column = X.nnz / max(X.shape[1], 1)
        forming = X.nnz * per_column
    else:
        stored = X.nbytes
        forming = float(n_rows) * n_rows * objective.n_features
    fits = 8.0 * n_rows**2 <= max(SYSTEM_MEMORY_PER_X * stored, SYSTEM_MEMORY_FLOOR)
    cost = forming + n_rows**3 / 3
    return fits and cost <= (
        LARGEST_TALL_ITERATION_COST if tall else LARGEST_ITERATION_COST
    )


def solve_interior_point(
    objective, coef, intercept, *, max_iter, tol, on_iteration=no_callback
):
    """Piecewise-linear loss with an elastic net: Mehrotra's predictor-corrector
    method on the quadratic program, then the exact active-set step.

    With ``w = u - v`` and each sample's ``c_i - a_i f_i = p_i - q_i``, the
    objective ``J`` is the quadratic program

        minimize   sum_i s_i (upper p_i - lower q_i) + l1 sum_j (u_j + v_j)
                   + l2 / 2 |u - v|**2
        subject to a_i (x_i . (u - v) + b) + p_i - q_i = c_i,
                   u, v, p, q >= 0,

    whose multipliers ``theta_i`` of the equality constraints are the dual
    points of ``LinearObjective.dual_value`` (in the box ``[s_i lower, s_i
    upper]``, with ``a . theta = 0`` from the free intercept). Each
    iteration solves the Newton system of the perturbed optimality
    conditions through its normal equations in the multipliers,

        (S X G X.T S + H) dtheta + a db = r,   a . dtheta = r_b,

    ``S = diag(a)``, ``G`` and ``H`` diagonal, dense and factored once for
    the predictor and the corrector (a matrix in the samples: the method
    runs where they are few, see ``interior_point_applies``). At the end of
    the path, the samples whose slacks ``p, q`` are below their multipliers
    are on the kink and the features whose ``u`` or ``v`` are above theirs
    are non-zero: ``active_set.exact_candidate`` solves the optimality
    conditions on those sets exactly, and the duality gap certifies the
    answer, to ``max(tol, 1e-8)`` relative to ``J``. Otherwise the result is
    the start it was given, unconverged, for the next method of the route.
    """
    gap_tol = max(tol, GAP_FLOOR)
    rows = np.flatnonzero(objective.sample_weight > 0)
    program = _Program(objective, rows)
    # NumPy's and SciPy's BLAS (the products, the factorization) each spin
    # threads that fight for the cores between calls (_parallel): on one
    # thread, 200 x 1,000 takes 5 ms an iteration, not 18; on larger
    # systems the threads pay for themselves.
    threads = blas_on_one_thread() if rows.size < ONE_THREAD_BELOW else nullcontext()
    with threads:
        state, n_iter = program.solve(min(MAX_ITERATIONS, max_iter), on_iteration)
    lower, upper = objective.loss.dual_box()
    weight = objective.sample_weight
    box_lower, box_upper = weight * lower, weight * upper
    own_theta = program.multipliers(state, box_lower, box_upper)
    theta, guess = program.sets_of(state, own_theta, box_lower, box_upper)
    pool = CandidatePool()
    pool.consider(exact_candidate(objective, theta, guess, box_lower, box_upper))
    if not pool.certified(gap_tol):
        # The sets read off the multipliers as they are (at a degenerate
        # optimum a slack and its multiplier can both be near zero, and the
        # comparison above misreads the sample), then the point itself.
        pool.consider(
            exact_candidate(objective, own_theta, guess, box_lower, box_upper)
        )
    if not pool.certified(gap_tol):
        pool.consider(
            evaluated_candidate(
                objective, state.w, state.b, own_theta, box_lower, box_upper
            )
        )
    if not pool.certified(gap_tol):
        # The rest of the route goes on from the start it was given: from
        # this method's point (an iterate stopped early, or sets the exact
        # step did not settle from) the smoothed dual failed where it
        # certifies from a cold start (pinball, 44 x 177, alpha 1e-6: a
        # relative gap of 3e10).
        return SolverResult(coef, intercept, n_iter, False, "interior-point")
    return SolverResult(
        **pool.result_fields(objective.fit_intercept, gap_tol),
        n_iter=n_iter,
        method="interior-point",
    )


def _regularized_cholesky(matrix, diagonal):
    """The Cholesky factor of ``matrix`` (upper triangle), with a multiple of
    the identity added where it is singular to working precision, growing
    from REGULARIZATION until the factorization succeeds; None if none does.

    Near the end of the path the samples on the kink have slacks, hence
    diagonal terms, near zero, and with fewer non-zero features than those
    samples the matrix is singular: without the shift the method stopped
    at a complementarity of 6e-7 (pinball, 44 x 177, alpha 1e-6). The
    shifted system's directions are inexact by about the shift, which the
    next iterations' residuals take up.
    """
    scale = max(float(np.max(matrix[diagonal])), np.finfo(float).tiny)
    original = matrix[diagonal].copy()
    for shift in (0.0, *REGULARIZATION):
        matrix[diagonal] = original + shift * scale
        try:
            return scipy.linalg.cho_factor(matrix, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            continue
    return None


class _State:
    """Primal ``u, v, p, q, b`` and dual ``y, zu, zv, zp, zq`` iterates."""

    def __init__(self, u, v, p, q, b, y, zu, zv, zp, zq):
        self.u, self.v, self.p, self.q, self.b = u, v, p, q, b
        self.y, self.zu, self.zv, self.zp, self.zq = y, zu, zv, zp, zq

    @property
    def w(self):
        return self.u - self.v

    def complementarity(self):
        return self.u @ self.zu + self.v @ self.zv + self.p @ self.zp + self.q @ self.zq

    def stepped(self, direction, step):
        (du, dv, dp, dq, db, dy, dzu, dzv, dzp, dzq) = direction
        return _State(
            self.u + step * du,
            self.v + step * dv,
            self.p + step * dp,
            self.q + step * dq,
            self.b + step * db,
            self.y + step * dy,
            self.zu + step * dzu,
            self.zv + step * dzv,
            self.zp + step * dzp,
            self.zq + step * dzq,
        )


class _Program:
    """The quadratic program of one objective on its rows of positive weight,
    scaled so that the loss's slopes are of unit size."""

    def __init__(self, objective, rows):
        self.objective = objective
        self.rows = rows
        loss, penalty = objective.loss, objective.penalty
        c, a = loss.affine_parts(objective.y)
        self.c, self.a = c[rows], a[rows]
        weight = objective.sample_weight[rows]
        self.scale = 1.0 / weight.max()
        lower, upper = loss.dual_box()
        self.cost_p = self.scale * weight * upper
        self.cost_q = -self.scale * weight * lower
        self.l1 = self.scale * penalty.l1
        self.l2 = self.scale * penalty.l2
        self.fit_intercept = objective.fit_intercept
        self.mean = objective.x_mean
        self.centered = not sp.issparse(objective.X)
        if self.centered:
            # Centered once, in a copy of its rows: the normal equations are
            # formed from it at every iteration.
            self.X = np.array(objective.X[rows], dtype=float)
            self.X -= self.mean
        else:
            self.X = objective.X[rows].tocsr()

    # -- products with the centered rows --------------------------------------
    def product(self, w):
        if self.centered:
            return self.X @ w
        return np.asarray(self.X @ w).ravel() - self.mean @ w

    def transposed(self, values):
        if self.centered:
            return self.X.T @ values
        return np.asarray(self.X.T @ values).ravel() - self.mean * values.sum()

    def start(self):
        n_features = self.objective.n_features
        # The residuals at W = 0, b = 0 are c.
        p = np.maximum(self.c, 0.0) + 1.0
        q = np.maximum(-self.c, 0.0) + 1.0
        # Inside the box, halfway.
        y = 0.5 * (self.cost_p - self.cost_q)
        zp, zq = self.cost_p - y, self.cost_q + y
        correlation = np.abs(self.transposed(self.a * y))
        level = max(self.l1, correlation.max(initial=0.0)) + 1.0
        return _State(
            np.ones(n_features),
            np.ones(n_features),
            p,
            q,
            0.0,
            y,
            np.full(n_features, level),
            np.full(n_features, level),
            zp,
            zq,
        )

    def residuals(self, state):
        correlation = self.transposed(self.a * state.y)
        w = state.w
        dual_u = self.l1 + self.l2 * w - correlation - state.zu
        dual_v = self.l1 - self.l2 * w + correlation - state.zv
        dual_p = self.cost_p - state.y - state.zp
        dual_q = self.cost_q + state.y - state.zq
        primal = self.c - self.a * (self.product(w) + state.b) - state.p + state.q
        balance = self.a @ state.y if self.fit_intercept else 0.0
        return primal, dual_u, dual_v, dual_p, dual_q, balance

    def solve(self, max_iterations, on_iteration):
        state = self.start()
        n_variables = 2 * (state.u.size + state.p.size)
        size_c = 1.0 + np.abs(self.c).max(initial=0.0)
        size_d = 1.0 + max(self.l1, self.cost_p.max(), self.cost_q.max())
        n_iter = 0
        for _ in range(max_iterations):
            primal, dual_u, dual_v, dual_p, dual_q, balance = self.residuals(state)
            mu = state.complementarity() / n_variables
            # Relative to J itself: near interpolation J is all penalty and small
            # (1.5e-5 on hinge, 44 x 177, alpha 1e-6), and 1 + J stopped the
            # iterates at a gap of 1e-7 of it.
            objective_size = max(abs(self.value(state)), np.finfo(float).tiny)
            if (
                np.abs(primal).max() <= STOP_TOLERANCE * size_c
                and max(
                    np.abs(dual_u).max(),
                    np.abs(dual_v).max(),
                    np.abs(dual_p).max(),
                    np.abs(dual_q).max(),
                    abs(balance),
                )
                <= STOP_TOLERANCE * size_d
                and mu * n_variables <= STOP_TOLERANCE * objective_size
            ):
                break
            n_iter += 1
            on_iteration()
            system = self.normal_equations(state)
            if system is None:
                break
            residuals = (primal, dual_u, dual_v, dual_p, dual_q, balance)
            # Predictor: the affine-scaling direction.
            affine = self.direction(state, system, residuals, 0.0, None)
            trial = state.stepped(affine, self.step(state, affine, 1.0))
            sigma = (trial.complementarity() / (mu * n_variables)) ** 3
            # Corrector: centering and the predictor's second-order term.
            corrected = self.direction(state, system, residuals, sigma * mu, affine)
            state = state.stepped(
                corrected, self.step(state, corrected, STEP_TO_BOUNDARY)
            )
        return state, max(n_iter, 1)

    def value(self, state):
        w = state.w
        return (
            self.cost_p @ state.p
            + self.cost_q @ state.q
            + self.l1 * (state.u.sum() + state.v.sum())
            + 0.5 * self.l2 * (w @ w)
        )

    def normal_equations(self, state):
        """The factored normal equations at ``state``, or None where they
        are singular to working precision."""
        # The 2 x 2 block of each feature, [[l2 + zu/u, -l2], [-l2, l2 + zv/v]],
        # is solved in the reciprocals u/zu and v/zv: its determinant in the
        # ratios themselves, l2 (zu/u + zv/v) + zu/u zv/v, overflowed where
        # the targets were huge (1e300; the method then handed on).
        inverse_u, inverse_v = state.u / state.zu, state.v / state.zv
        scaled_determinant = self.l2 * (inverse_u + inverse_v) + 1.0
        feature_weight = (inverse_u + inverse_v) / scaled_determinant
        sample_weight = state.p / state.zp + state.q / state.zq
        matrix = self._sample_gram(feature_weight)
        diagonal = np.diag_indices_from(matrix)
        matrix[diagonal] += sample_weight
        factor = _regularized_cholesky(matrix, diagonal)
        if factor is None:
            return None
        system = {
            "inverse_u": inverse_u,
            "inverse_v": inverse_v,
            "scaled_determinant": scaled_determinant,
            "factor": factor,
        }
        if self.fit_intercept:
            border = self._solve(system, self.a)
            system["border"] = border
            system["border_size"] = self.a @ border
        return system

    def _sample_gram(self, feature_weight):
        """``S Xc G Xc.T S`` on the rows, over the features whose weight in
        ``G`` is above rounding of the largest: near the end of the path a
        zero feature's weight falls towards ``1 / (its multiplier / u)``,
        1e-13 of an active one's and below, and leaving it out changes the
        matrix by less than its rounding (1,000 x 3,000, hinge: a third of
        the features in the last half of the iterations)."""
        kept = np.flatnonzero(feature_weight > NEGLIGIBLE_WEIGHT * feature_weight.max())
        weight = feature_weight[kept]
        X, mean = self.X, self.mean
        if sp.issparse(X):
            columns = X[:, kept]
            scaled = columns @ sp.diags(weight)
            gram = np.asarray((scaled @ columns.T).toarray())
            cross = np.asarray(scaled @ mean[kept]).ravel()
            gram -= cross[:, None]
            gram -= cross[None, :]
            gram += mean[kept] @ (weight * mean[kept])
        else:
            columns = X[:, kept] if kept.size < X.shape[1] else X
            root = columns * np.sqrt(weight)
            # The upper triangle only (all the factorization reads), by
            # SciPy's BLAS, the factorization's: half the operations of a
            # product, and no fight with NumPy's threads between the two.
            gram = scipy.linalg.blas.dsyrk(1.0, root.T, trans=1)
        gram *= self.a[:, None]
        gram *= self.a[None, :]
        return gram

    def _solve(self, system, right):
        """``M^-1 right`` with ``M = S Xc G Xc.T S + H``."""
        return scipy.linalg.cho_solve(system["factor"], right)

    def direction(self, state, system, residuals, target, predictor):
        """The Newton direction for complementarity ``target`` (with the
        predictor's second-order term where given)."""
        primal, dual_u, dual_v, dual_p, dual_q, balance = residuals
        comp_u = target - state.u * state.zu
        comp_v = target - state.v * state.zv
        comp_p = target - state.p * state.zp
        comp_q = target - state.q * state.zq
        if predictor is not None:
            (du0, dv0, dp0, dq0, _, _, dzu0, dzv0, dzp0, dzq0) = predictor
            comp_u -= du0 * dzu0
            comp_v -= dv0 * dzv0
            comp_p -= dp0 * dzp0
            comp_q -= dq0 * dzq0
        rho_u = -dual_u + comp_u / state.u
        rho_v = -dual_v + comp_v / state.v
        rho_p = -dual_p + comp_p / state.p
        rho_q = -dual_q + comp_q / state.q
        inverse_u, inverse_v = system["inverse_u"], system["inverse_v"]
        scaled_determinant = system["scaled_determinant"]
        shift = (inverse_u * rho_u - inverse_v * rho_v) / scaled_determinant
        penalty_p = state.zp / state.p
        penalty_q = state.zq / state.q
        right = (
            primal
            - self.a * self.product(shift)
            - rho_p / penalty_p
            + rho_q / penalty_q
        )
        solved = self._solve(system, right)
        if self.fit_intercept:
            db = (self.a @ solved + balance) / system["border_size"]
            dy = solved - db * system["border"]
        else:
            db, dy = 0.0, solved
        correlation = self.transposed(self.a * dy)
        # The block's solve, numerator and denominator divided by
        # (zu/u) (zv/v).
        coupling = self.l2 * inverse_u * inverse_v
        up, down = rho_u + correlation, rho_v - correlation
        du = ((coupling + inverse_u) * up + coupling * down) / scaled_determinant
        dv = (coupling * up + (coupling + inverse_v) * down) / scaled_determinant
        dp = (rho_p + dy) / penalty_p
        dq = (rho_q - dy) / penalty_q
        dzu = (comp_u - state.zu * du) / state.u
        dzv = (comp_v - state.zv * dv) / state.v
        dzp = (comp_p - state.zp * dp) / state.p
        dzq = (comp_q - state.zq * dq) / state.q
        return du, dv, dp, dq, db, dy, dzu, dzv, dzp, dzq

    @staticmethod
    def step(state, direction, fraction):
        """The longest step (at most 1), the same for the primal variables
        and the multipliers (the quadratic term couples them), that keeps
        every one positive, times ``fraction``."""
        (du, dv, dp, dq, _, _, dzu, dzv, dzp, dzq) = direction
        longest = 1.0
        for value, change in (
            (state.u, du),
            (state.v, dv),
            (state.p, dp),
            (state.q, dq),
            (state.zu, dzu),
            (state.zv, dzv),
            (state.zp, dzp),
            (state.zq, dzq),
        ):
            falling = change < 0
            if falling.any():
                longest = min(longest, np.min(-value[falling] / change[falling]))
        return min(1.0, fraction * longest)

    def multipliers(self, state, box_lower, box_upper):
        """The multipliers as a dual point of all samples (zero where a
        sample has no weight), in their box."""
        theta = np.zeros(box_lower.size)
        rows = self.rows
        theta[rows] = np.clip(state.y / self.scale, box_lower[rows], box_upper[rows])
        return theta

    def sets_of(self, state, theta, box_lower, box_upper):
        """The dual point and coefficients whose sets the exact step starts
        from: from the multipliers ``theta``, samples off the kink moved to
        the end of their box on the side of their slack; features whose
        multipliers exceed them at zero."""
        rows = self.rows
        snapped = theta.copy()
        snapped[rows] = np.where(
            state.p > state.zp,
            box_upper[rows],
            np.where(state.q > state.zq, box_lower[rows], theta[rows]),
        )
        nonzero = (state.u > state.zu) | (state.v > state.zv)
        return snapped, np.where(nonzero, state.w, 0.0)
