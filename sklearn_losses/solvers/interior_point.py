"""A primal-dual interior-point method for a piecewise-linear loss with an
elastic net (or a pure L2 penalty), on problems whose normal equations fit
a dense solve.

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
separation, where the smoothed dual ran out of iterations, and on sparse
data with more samples than features and few entries a row, where the
duals' sets are degenerate (there with a pure L2 penalty too).
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
# ... but on a sparse X with more samples than features, up to this many
# (the normal equations in the features, about 1,400 of them). There the
# rows are short, some empty or alone in their columns, the duals' sets
# degenerate, and the smoothed dual took 3 to 25 s where it finished at all
# (random sparse, two entries a row, alpha 1e-4, elastic net: hinge 3,000 x
# 1,000, a relative gap of 0.26 and a ConvergenceWarning after 16 s;
# epsilon-insensitive 10,000 x 1,000, 1e-4 after 25 s; quantile 5,000 x
# 1,000, 20 s), where this method certified in 0.1 to 1.4 s (also 3,000 x
# 500, 50,000 x 1,000). So with a pure L2 penalty where liblinear did not
# settle (hinge 3,000 x 1,000 at 1e-5: 5 to 6 s, against 0.5 to 0.6;
# epsilon-insensitive at 1e-4 with an intercept: 10.5 s, against 0.7). On
# dense X the duals stay first beyond 2e7: at 20 to 300 samples a feature
# they took a third to four fifths of this method's time (4,000 x 200,
# 6,000 x 300 and 10,000 x 500 at alpha 1e-5, 30,000 x 100), though at 10
# (2,000 x 200) three to four times it, and the same at 10,000 x 50.
LARGEST_SPARSE_TALL_ITERATION_COST = 1e9
# Where the box dual has failed (many features), the method takes systems
# of up to this many bytes (5,792 unknowns) and LARGEST_ITERATION_COST:
# on tall sparse data of 29 to 87 entries a row and 2,905 features
# (hinge, pinball and epsilon-insensitive at alpha 1e-5 to 8e-5), the box
# dual ran out of iterations and the smoothed dual after it took 77 s or
# more to fail (a gap of 0.35), where this method certified in 21 to 25
# iterations, on a system of 67 MB, ten times X.
FALLBACK_SYSTEM_MEMORY = 2**28
# ... and iterations of up to this many operations (about 1.5 s): beyond
# the others' limits the box dual failed, and the smoothed dual after it
# took 300 s to fail (epsilon-insensitive elastic net on dense 8,623 x
# 1,566, whose iterations cost 2.2e10; this method: 28 s).
FALLBACK_ITERATION_COST = 5e10
# First in the route of many features (more than a dense Newton system
# takes) on dense X with more samples than features, up to this many a
# feature, the method takes iterations of up to LARGEST_ITERATION_COST:
# on 8 random problems of 1,034 to 1,566 features and 1.2 to 6 times as
# many samples (hinge, pinball, epsilon-insensitive, L2 and elastic nets,
# alpha 4e-6 to 9e-4) the box dual first took 5.6 to 11 s and failed an
# epsilon-insensitive L2 fit 64% above the optimum, where this method
# alone took 4.6 to 18 s. Beyond 6 there is no evidence either way: at
# 10.5 a feature (hinge elastic net, 11,343 x 1,081, alpha 3.7e-6) the box
# dual fails in 10 s and this method certifies in 19 s (see
# STALL_MEASURE) after it, or alone.
DENSE_SAMPLES_PER_FEATURE = 6
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
# Iterations without a new best of the residuals and complementarity
# (relative to their tolerances) after which the iterates stop at the best.
# In the features, the samples on the kink weigh 1 / H, growing without
# bound as their slacks vanish, and the primal rows' residuals, recovered
# through those weights, grow from about 1e-8 once the complementarity is
# near 1e-11 (hinge elastic net, dense 300 x 50): by then the sets are
# known, and the iterates that follow only lose them.
STALL_ITERATIONS = 3
# ... counted only once the best, or the iterate's complementarity alone, is
# within this factor of the tolerances: early on, the complementarity
# relative to J can grow while J falls faster (epsilon-insensitive elastic
# net, 62 x 92 at alpha 1e-6: J went from 215 to 0.04 in four iterations).
# The complementarity alone: on dense 11,343 x 1,081 (hinge elastic net,
# alpha 3.7e-6) the best came at 2e4 (primal residuals 2e-7 as the
# complementarity reached 1.4e-7), the primal residuals then grew to 1e-1
# while the complementarity fell to 1e-13, and the iterates wandered to
# the hundredth iteration (105 s; now 30 iterations, 19 s).
STALL_MEASURE = 1e4
# Share of the way to the boundary each step takes.
STEP_TO_BOUNDARY = 0.99


def interior_point_applies(objective, *, fallback=False, many_features=False):
    """Whether the method takes the problem: an elastic net (or, on sparse
    data with more samples than features, a pure L2 penalty) whose normal
    equations (in the samples or in the features, whichever costs less;
    see ``normal_equations_form``) fit in memory and cost little to form
    and factor (very little with more samples than features).

    With ``many_features`` (first in the route of more features than a
    dense Newton system takes), only X with more rows than features; dense,
    up to ``DENSE_SAMPLES_PER_FEATURE`` rows a feature, up to
    ``LARGEST_ITERATION_COST``. With
    ``fallback`` (the box dual has failed), any L2 or elastic-net penalty,
    with ``FALLBACK_SYSTEM_MEMORY`` as the memory floor and
    ``FALLBACK_ITERATION_COST`` whatever the shape."""
    penalty = objective.penalty
    if not penalty.has_l2:
        return False
    n_rows = np.count_nonzero(objective.sample_weight)
    # The epsilon-insensitive loss's samples are two rows each.
    tall = n_rows > objective.loss.rows_per_sample * objective.n_features
    X = objective.X
    if many_features and not X.shape[0] > objective.n_features:
        # More features than samples: the box dual stays first
        # (dispatch._interior_point).
        return False
    if not (penalty.has_l1 or fallback or (tall and (sp.issparse(X) or many_features))):
        # A pure L2 penalty only with more samples than features, on sparse
        # X (see LARGEST_SPARSE_TALL_ITERATION_COST) or many features,
        # after liblinear: elsewhere the box and smoothed duals settle.
        return False
    stored = (
        X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        if sp.issparse(X)
        else X.nbytes
    )
    _, size, cost = normal_equations_form(objective, n_rows)
    floor = FALLBACK_SYSTEM_MEMORY if fallback else SYSTEM_MEMORY_FLOOR
    fits = 8.0 * size**2 <= max(SYSTEM_MEMORY_PER_X * stored, floor)
    if fallback:
        largest = FALLBACK_ITERATION_COST
    elif not tall:
        largest = LARGEST_ITERATION_COST
    elif sp.issparse(X):
        largest = LARGEST_SPARSE_TALL_ITERATION_COST
    elif many_features and X.shape[0] <= DENSE_SAMPLES_PER_FEATURE * X.shape[1]:
        largest = LARGEST_ITERATION_COST
    else:
        largest = LARGEST_TALL_ITERATION_COST
    return fits and cost <= largest


def normal_equations_form(objective, n_rows):
    """``(in_features, size, cost)``: whether the normal equations are
    formed in the features rather than in the ``n_rows`` samples of
    positive weight, their size, and the estimated operations of one
    iteration (forming them, then factoring them), the cheaper form's.

    In the samples the matrix is ``S X G X.T S + H`` (``n_rows`` square);
    in the features ``G^-1 + X.T H^-1 X``, bordered by the intercept
    (``n_features + 1`` square; see ``_Program._feature_gram``). Forming
    either from a sparse ``X`` costs about the stored entries times those
    per row (features) or per column (samples)."""
    X = objective.X
    n_features = objective.n_features
    if sp.issparse(X):
        per_row = X.nnz / max(X.shape[0], 1)
        per_column = X.nnz / max(X.shape[1], 1)
        forming_samples, forming_features = X.nnz * per_column, X.nnz * per_row
    else:
        forming_samples = float(n_rows) * n_rows * n_features
        forming_features = float(n_rows) * n_features * n_features
    in_samples = forming_samples + float(n_rows) ** 3 / 3
    features = n_features + int(objective.fit_intercept)
    in_features = forming_features + float(features) ** 3 / 3
    if in_features < in_samples:
        return True, features, in_features
    return False, n_rows, in_samples


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
    the predictor and the corrector (a matrix in the samples), or, where
    that is cheaper, through those in the features (``_Program.
    _feature_normal_equations``; see ``interior_point_applies``). With a
    pure L2 penalty ``w`` is free, not split. At the end of
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


def _subtract_symmetric_rank_two(matrix, x, y):
    """``matrix -= x y' + y x'`` on the upper triangle at least, in place;
    by BLAS's ``dsyr2`` on a contiguous matrix (the upper triangle of one
    in C order is the lower one of its transpose, in Fortran order)."""
    if matrix.flags.f_contiguous:
        scipy.linalg.blas.dsyr2(-1.0, x, y, lower=0, a=matrix, overwrite_a=1)
    elif matrix.flags.c_contiguous:
        scipy.linalg.blas.dsyr2(-1.0, x, y, lower=1, a=matrix.T, overwrite_a=1)
    else:
        matrix -= np.multiply.outer(x, y)
        matrix -= np.multiply.outer(y, x)


class _PairsOfRowEntries:
    """``X.T diag(h) X`` for a sparse ``X`` with short rows, as a weighted
    sum over the pairs of entries within each row: ``sum_i h_i x_ij x_ik``
    into entry ``(j, k)``. The pairs (their flat index ``j * p + k``, their
    row, the product of the two entries) are listed once; each iteration is
    then one ``np.bincount``. SciPy's sparse product built the same matrix
    anew each time, with its structure, in 16 ms of a 38 ms iteration (two
    entries a row, 50,000 x 1,000)."""

    def __init__(self, flat, row, product, n_features):
        self.flat, self.row, self.product = flat, row, product
        self.n_features = n_features

    @classmethod
    def of(cls, X):
        """The pairs of ``X`` (CSR), or None where they outnumber the
        entries of the dense ``p x p`` result (rows too long to pay)."""
        n_features = X.shape[1]
        lengths = np.diff(X.indptr)
        count = int(lengths @ lengths)
        if count > n_features * n_features:
            return None
        squares = lengths * lengths
        row = np.repeat(np.arange(X.shape[0]), squares)
        starts = np.repeat(np.cumsum(squares) - squares, squares)
        position = np.arange(count) - starts
        # Rows without entries have no pairs: every length here is positive.
        length = lengths[row]
        first = X.indptr[row] + position // length
        second = X.indptr[row] + position % length
        flat = X.indices[first].astype(np.int64) * n_features + X.indices[second]
        return cls(flat, row, X.data[first] * X.data[second], n_features)

    def weighted_sum(self, weight):
        total = np.bincount(
            self.flat,
            weights=weight[self.row] * self.product,
            minlength=self.n_features * self.n_features,
        )
        return total.reshape(self.n_features, self.n_features)


# The order of a direction's parts (``_Program.direction``).
_STEP_NAMES = ("du", "dv", "dp", "dq", "db", "dy", "dzu", "dzv", "dzp", "dzq")


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
        # Without an L1 part the coefficients are free variables, not split
        # into u - v >= 0: with l1 = 0, u + v has no cost, and the iterates
        # drove it up until u/zu * v/zv overflowed (a quantile CV's pure L2
        # fits on sparse check data). Their block is then l2 alone: u holds
        # w, and v, zu, zv stay zero.
        self.free = not penalty.has_l1
        self.fit_intercept = objective.fit_intercept
        self.mean = objective.x_mean
        self.in_features = normal_equations_form(objective, rows.size)[0]
        self.centered = not sp.issparse(objective.X)
        if self.centered:
            # Centered once, in a copy of its rows: the normal equations are
            # formed from it at every iteration.
            self.X = np.array(objective.X[rows], dtype=float)
            self.X -= self.mean
        else:
            self.X = objective.X[rows].tocsr()
        self.pairs = (
            _PairsOfRowEntries.of(self.X)
            if self.in_features and not self.centered
            else None
        )

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
        start, multiplier = (0.0, 0.0) if self.free else (1.0, level)
        return _State(
            np.full(n_features, start),
            np.full(n_features, start),
            p,
            q,
            0.0,
            y,
            np.full(n_features, multiplier),
            np.full(n_features, multiplier),
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
        n_variables = 2 * ((0 if self.free else state.u.size) + state.p.size)
        size_c = 1.0 + np.abs(self.c).max(initial=0.0)
        size_d = 1.0 + max(self.l1, self.cost_p.max(), self.cost_q.max())
        n_iter = 0
        best_state, best_measure, since_best = state, np.inf, 0
        for _ in range(max_iterations):
            primal, dual_u, dual_v, dual_p, dual_q, balance = self.residuals(state)
            mu = state.complementarity() / n_variables
            # Relative to J itself: near interpolation J is all penalty and small
            # (1.5e-5 on hinge, 44 x 177, alpha 1e-6), and 1 + J stopped the
            # iterates at a gap of 1e-7 of it.
            objective_size = max(abs(self.value(state)), np.finfo(float).tiny)
            complementarity = mu * n_variables / objective_size / STOP_TOLERANCE
            # The largest of the three measures, each relative to its
            # stopping tolerance: at most 1 is the end of the path.
            measure = max(
                np.abs(primal).max() / size_c / STOP_TOLERANCE,
                max(
                    np.abs(dual_u).max(),
                    np.abs(dual_v).max(),
                    np.abs(dual_p).max(),
                    np.abs(dual_q).max(),
                    abs(balance),
                )
                / size_d
                / STOP_TOLERANCE,
                complementarity,
            )
            if measure <= 1.0:
                break
            if measure < best_measure:
                best_state, best_measure, since_best = state, measure, 0
            elif best_measure <= STALL_MEASURE or complementarity <= STALL_MEASURE:
                since_best += 1
                if since_best >= STALL_ITERATIONS:
                    # Precision is lost (see STALL_ITERATIONS): the sets
                    # are read off the best iterate.
                    state = best_state
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
        else:
            # Out of iterations: the sets are read off the best iterate,
            # not the last (which may have lost precision since).
            state = best_state if best_measure < np.inf else state
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
        if self.free:
            inverse_u = inverse_v = scaled_determinant = None
            feature_inverse = np.full(state.u.size, self.l2)
            feature_weight = 1.0 / feature_inverse
        else:
            inverse_u, inverse_v = state.u / state.zu, state.v / state.zv
            scaled_determinant = self.l2 * (inverse_u + inverse_v) + 1.0
            feature_inverse = self.l2 + 1.0 / (inverse_u + inverse_v)
            feature_weight = (inverse_u + inverse_v) / scaled_determinant
        sample_weight = state.p / state.zp + state.q / state.zq
        if self.in_features:
            return self._feature_normal_equations(
                inverse_u, inverse_v, scaled_determinant, feature_inverse, sample_weight
            )
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

    def _feature_normal_equations(
        self, inverse_u, inverse_v, scaled_determinant, feature_inverse, sample_weight
    ):
        """The normal equations in the features (more samples than
        features): ``dy`` eliminated through the primal rows, ``dy = H^-1
        (r - S Xc dw - a db)``, leaves

            (G^-1 + Xc.T H^-1 Xc) dw + Xc.T h db = G^-1 shift + Xc.T S H^-1 r
            h . Xc dw + sum(h) db = a . H^-1 r + balance

        (``h`` the diagonal of ``H^-1``; the intercept's row from ``a . dy =
        -balance``), positive definite: ``G^-1 = l2 + 1 / (u/zu + v/zv)``
        (``l2`` for free coefficients) is at least ``l2``."""
        sample_inverse = 1.0 / sample_weight
        matrix = self._feature_gram(sample_inverse)
        n_features = feature_inverse.size
        diagonal = np.diag_indices_from(matrix)
        matrix[diagonal[0][:n_features], diagonal[1][:n_features]] += feature_inverse
        factor = _regularized_cholesky(matrix, diagonal)
        if factor is None:
            return None
        return {
            "inverse_u": inverse_u,
            "inverse_v": inverse_v,
            "scaled_determinant": scaled_determinant,
            "factor": factor,
            "sample_inverse": sample_inverse,
            "feature_inverse": feature_inverse,
        }

    def _feature_gram(self, sample_inverse):
        """``Xc.T H^-1 Xc``, bordered with an intercept by ``Xc.T h`` and
        ``sum(h)`` (the intercept as a column of ones, whose penalty is
        zero). For a sparse ``X`` the product is formed sparse and centered
        afterwards."""
        X, mean = self.X, self.mean
        n_features = X.shape[1]
        size = n_features + int(self.fit_intercept)
        matrix = np.zeros((size, size))
        total = sample_inverse.sum()
        if sp.issparse(X):
            if self.pairs is not None:
                gram = self.pairs.weighted_sum(sample_inverse)
            else:
                gram = (X.T @ (sp.diags(sample_inverse) @ X)).toarray()
            cross = np.asarray(X.T @ sample_inverse).ravel()
            border = cross - total * mean
            if np.any(mean):
                # Centering: - m c' - c m' + t m m' = - (m d' + d m') with
                # d = c - t m / 2, on the upper triangle (all the
                # factorization reads); three full outer products took
                # 0.1 s of a 0.7 s iteration at 2,905 features.
                _subtract_symmetric_rank_two(gram, mean, cross - 0.5 * total * mean)
            matrix[:n_features, :n_features] = gram
        else:
            root = X * np.sqrt(sample_inverse)[:, None]
            # The upper triangle only, as in _sample_gram, of root.T @
            # root.T.T: root.T is in Fortran order, which BLAS takes as it
            # is (given root itself, SciPy copied it first: 86 against 42 ms
            # on 5,000 x 500).
            matrix[:n_features, :n_features] = scipy.linalg.blas.dsyrk(
                1.0, root.T, trans=0
            )
            if self.fit_intercept:
                border = X.T @ sample_inverse
        if self.fit_intercept:
            matrix[:n_features, n_features] = border
            matrix[n_features, :n_features] = border
            matrix[n_features, n_features] = total
        return matrix

    def _step_through_features(self, system, right, shift, balance):
        """``(dy, db)`` by the normal equations in the features, for the
        primal rows' right side ``right`` (``r`` above) and the features'
        ``shift``."""
        weighted = system["sample_inverse"] * right
        features_right = system["feature_inverse"] * shift + self.transposed(
            self.a * weighted
        )
        if self.fit_intercept:
            features_right = np.append(features_right, self.a @ weighted + balance)
        solved = scipy.linalg.cho_solve(system["factor"], features_right)
        n_features = shift.size
        dw = solved[:n_features]
        db = solved[n_features] if self.fit_intercept else 0.0
        dy = system["sample_inverse"] * (right - self.a * (self.product(dw) + db))
        return dy, db

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
        # The predictor's steps, by name, for its second-order terms.
        steps = (
            dict(zip(_STEP_NAMES, predictor, strict=True))
            if predictor is not None
            else None
        )

        def centering(name):
            # target - value * multiplier, less the predictor's product.
            value, multiplier = getattr(state, name), getattr(state, "z" + name)
            wanted = target - value * multiplier
            if steps is not None:
                wanted -= steps["d" + name] * steps["dz" + name]
            return wanted

        comp_p, comp_q = centering("p"), centering("q")
        rho_p = -dual_p + comp_p / state.p
        rho_q = -dual_q + comp_q / state.q
        if self.free:
            # l2 dw = X.T S dy - dual_w, with dual_w = l2 w - X.T S y.
            shift = -dual_u / self.l2
        else:
            comp_u, comp_v = centering("u"), centering("v")
            rho_u = -dual_u + comp_u / state.u
            rho_v = -dual_v + comp_v / state.v
            inverse_u, inverse_v = system["inverse_u"], system["inverse_v"]
            scaled_determinant = system["scaled_determinant"]
            shift = (inverse_u * rho_u - inverse_v * rho_v) / scaled_determinant
        penalty_p = state.zp / state.p
        penalty_q = state.zq / state.q
        right = primal - rho_p / penalty_p + rho_q / penalty_q
        if self.in_features:
            dy, db = self._step_through_features(system, right, shift, balance)
        else:
            solved = self._solve(system, right - self.a * self.product(shift))
            if self.fit_intercept:
                db = (self.a @ solved + balance) / system["border_size"]
                dy = solved - db * system["border"]
            else:
                db, dy = 0.0, solved
        correlation = self.transposed(self.a * dy)
        if self.free:
            du = shift + correlation / self.l2
            dv = dzu = dzv = np.zeros_like(du)
        else:
            # The block's solve, numerator and denominator divided by
            # (zu/u) (zv/v).
            coupling = self.l2 * inverse_u * inverse_v
            up, down = rho_u + correlation, rho_v - correlation
            du = ((coupling + inverse_u) * up + coupling * down) / scaled_determinant
            dv = (coupling * up + (coupling + inverse_v) * down) / scaled_determinant
            dzu = (comp_u - state.zu * du) / state.u
            dzv = (comp_v - state.zv * dv) / state.v
        dp = (rho_p + dy) / penalty_p
        dq = (rho_q - dy) / penalty_q
        dzp = (comp_p - state.zp * dp) / state.p
        dzq = (comp_q - state.zq * dq) / state.q
        return du, dv, dp, dq, db, dy, dzu, dzv, dzp, dzq

    def step(self, state, direction, fraction):
        """The longest step (at most 1), the same for the primal variables
        and the multipliers (the quadratic term couples them), that keeps
        every one positive (free coefficients aside), times ``fraction``."""
        (du, dv, dp, dq, _, _, dzu, dzv, dzp, dzq) = direction
        bounded = [(state.p, dp), (state.q, dq), (state.zp, dzp), (state.zq, dzq)]
        if not self.free:
            bounded += [(state.u, du), (state.v, dv), (state.zu, dzu), (state.zv, dzv)]
        # The values are positive: the fastest relative fall, change /
        # value, limits the step to -value / change (one pass an array,
        # not a mask and two gathers: a third of the time on 100,000 rows).
        fastest_fall = min(
            np.min(change / value, initial=0.0) for value, change in bounded
        )
        longest = 1.0 if fastest_fall >= 0 else -1.0 / fastest_fall
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
        if self.free:
            return snapped, state.w
        nonzero = (state.u > state.zu) | (state.v > state.zv)
        return snapped, np.where(nonzero, state.w, 0.0)
