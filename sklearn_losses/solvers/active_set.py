"""The exact step of the kinked losses with an L2 part, and its certificate.

A piecewise-linear loss (hinge, pinball) with an L2 or elastic-net penalty
is a quadratic program. The smoothed and box duals reach a dual point near
the optimum; from the samples it puts on the kink, a primal-dual active-set
method (``active_set_method``) solves the optimality conditions exactly.
Each primal point found is a ``Candidate``, evaluated with a feasible dual
point; a ``CandidatePool`` keeps the lowest primal value and the highest
dual bound, and certifies the result when the duality gap between them is
within the tolerance.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dpocon
from scipy.optimize import linprog
from scipy.sparse.linalg import LinearOperator, minres

from .newton import dense_hessian_fits

# The smallest relative duality gap the dual solvers are asked to certify:
# where most samples sit on the kink, a floating-point dual bound is itself
# only this accurate, though the primal point is usually exact.
GAP_FLOOR = 1e-8
# Entries of dense kink rows of a sparse X always small enough to solve on
# (2 MB).
DENSE_ROWS_FLOOR = 2**18
# Most samples on the kink for a dense solve of the kink system (and
# beyond twice the number of features and ten).
DENSE_KINK_LIMIT = 2000
# Linear programs certifying a degenerate optimum, at most, per call, each
# over at most this many samples (beyond, HiGHS's dense rows cost more than
# the next smoothing round).
CERTIFICATES = 3
CERTIFICATE_SAMPLES = 2000
# HiGHS's absolute primal feasibility tolerance, which a row of
# ``dual_certificate``'s program without variables must meet as well.
LP_FEASIBILITY = 1e-7
# Rounds of the active-set method without a new fewest number of violated
# conditions, after which it gives up. Where it finishes, the count falls
# (7, 4, 2, 0) or is zero at once; where it does not, the sets swing and
# grow: an elastic net near alpha_max on tf-idf 5,000 x 50,000 (quantile,
# 25 non-zeros at the optimum) went from 19 violations to 20,000 and ran
# its 100 rounds over thousands of features in 49 s, before the smoothed
# dual certified.
STALL_ROUNDS = 5
# Below DENSE_KINK_LIMIT, an elastic net's kink system is solved by MINRES
# (on the active features) where its estimated cost is below the dense
# solve's (``_ActiveSets.minres_is_cheaper``). MINRES's iterations follow the
# condition of the kink rows on those features, which grows as the two
# counts meet (ratio r): about MINRES_ITERATION_SCALE * (1 + sqrt(r)) /
# (1 - sqrt(r)), as measured: 149 at 1,800 kink samples on 6,500 features
# and at 1,922 on 3,106 (tf-idf), 600 to 1,250 at 890 on 960. Each costs
# two passes over the kink rows and MINRES_OVERHEAD_PER_ITERATION, twice
# with the refinement; the dense eigendecomposition about
# 9 n_kink**3 operations at DENSE_SPEEDUP times the rate of a sparse
# product. Measured: at 890 on 960 kink rows of tf-idf (80 entries a row)
# the dense solves took 2.3 s of a fit and MINRES 5.7 s; at 1,927 on 2,059
# of random sparse rows (30 entries) dense 5.2 s and 50 times X, MINRES
# 1.7 s and 2.1 times X.
MINRES_ITERATION_SCALE = 20
MINRES_OVERHEAD_PER_ITERATION = 1.5e5
DENSE_SPEEDUP = 10
# A kink system's definite part is solved by Cholesky where LAPACK's estimate
# of its reciprocal condition is at least this times eps * size (``lstsq``'s
# cut for a singular value), else by an eigendecomposition (LeastSquares):
# a margin for the estimate, which is within a factor of the size of the
# truth and usually much nearer.
CHOLESKY_RCOND = 1e3
# Relative tolerance of the optimality conditions' tests.
CONDITION_TOLERANCE = 1e-9
# Relative rounding of a sum of floating-point terms, as a share of the sum
# of their magnitudes (a few units of the last place).
ROUNDING = 4 * np.finfo(float).eps
# Steps of iterative refinement of a kink system: a dense one whose kink
# equations the solution misses (features in the thousands with a small l2
# make the system's matrix, X_E X_E.T / l2, ill-conditioned), an iterative
# one whose true residual is above KINK_SYSTEM_RTOL.
REFINEMENTS = 2
# Relative residual to which MINRES solves the kink system (solve_kink_system),
# and the true relative residual above which its answer is refined: above it
# (6e-11 and 5e-10 measured with an intercept) the intercept's row misses by
# enough to spoil the dual bound, and 9e-12 left a gap of 1.1e-10 (an
# epsilon-insensitive elastic net on tf-idf 2,000 x 20,000, 1,922 kink
# samples on 3,106 active features; 1e-13 after a refinement); below (2e-12
# to 4e-12 measured without one) the gap certifies to 1e-11, and a
# refinement would cost 13% of a sparse hinge fit.
KINK_SYSTEM_RTOL = 1e-13
KINK_SYSTEM_REFINE_ABOVE = 5e-12


def many_features_with_l2(objective):
    """A penalty with an L2 part on more features than a dense Newton system
    takes: there the box-constrained dual replaces the smoothed primal."""
    return objective.penalty.has_l2 and not dense_hessian_fits(
        objective, objective.n_features
    )


def many_features_pure_l2(objective):
    """``many_features_with_l2`` without an L1 part: there the active-set
    step also solves its kink system iteratively (every feature is free)."""
    return not objective.penalty.has_l1 and many_features_with_l2(objective)


@dataclass
class Candidate:
    """A primal point with its objective ``primal`` and a dual bound ``dual``
    (the dual value at a feasible dual point: a lower bound of the optimum),
    and that dual point ``theta`` where the candidate keeps it."""

    coef: np.ndarray
    intercept: float
    primal: float
    dual: float
    theta: np.ndarray | None = None


class CandidatePool:
    """The lowest primal point and the highest dual bound seen so far.

    Any feasible dual point bounds the optimum from below, so the bound is
    the best over all candidates, whichever primal point wins.
    """

    def __init__(self):
        self.best = None
        self.dual = -np.inf

    def consider(self, candidate):
        if candidate is None:
            return
        if self.best is None or candidate.primal < self.best.primal:
            self.best = candidate
        self.dual = max(self.dual, candidate.dual)

    def result_fields(self, fit_intercept, tol):
        """The fields ``coef``, ``intercept`` and ``converged`` of a
        ``SolverResult`` for the best point."""
        best = self.best
        return dict(
            coef=best.coef.reshape(-1, 1),
            intercept=np.array([best.intercept if fit_intercept else 0.0]),
            converged=self.certified(tol),
            dual_bound=self.dual,
        )

    def relative_gap(self):
        """``(J - D) / |J|`` of the best point and the best bound (inf if none)."""
        if self.best is None:
            return np.inf
        primal = self.best.primal
        return (primal - self.dual) / max(abs(primal), np.finfo(float).tiny)

    def certified(self, tol):
        """Whether the duality gap of the best point is within ``tol`` of ``J``."""
        if self.best is None:
            return False
        primal = self.best.primal
        return primal - self.dual <= tol * max(abs(primal), np.finfo(float).tiny)


def exact_candidate(
    objective,
    theta,
    primal_guess,
    box_lower,
    box_upper,
    max_rounds=100,
    certificates=CERTIFICATES,
    stall_rounds=STALL_ROUNDS,
):
    """The active-set solution from a dual point, as a ``Candidate``.

    None if the active-set method does not finish. The method reads its
    sets off ``theta`` as it is: projecting it first (as
    ``smoothed_candidate`` does) would shift every variable held at a
    bound off it. ``certificates`` and ``stall_rounds``: as in
    ``active_set_method``.
    """
    refined = active_set_method(
        objective,
        theta,
        primal_guess,
        box_lower,
        box_upper,
        max_rounds,
        certificates,
        stall_rounds,
    )
    if refined is None:
        return None
    return evaluated_candidate(
        objective, refined.coef, refined.intercept, refined.theta, box_lower, box_upper
    )


def evaluated_candidate(objective, coef, intercept, theta, box_lower, box_upper):
    """The ``Candidate`` of a primal point, with ``D`` at ``theta`` made feasible."""
    primal = objective.value(coef.reshape(-1, 1), np.array([intercept]))
    if objective.fit_intercept:
        _, a = objective.loss.affine_parts(objective.y)
        theta = project_dual(theta, a, box_lower, box_upper)
    return Candidate(coef, intercept, primal, objective.dual_value(theta), theta)


def smoothed_candidate(objective, theta, primal_guess, box_lower, box_upper):
    """The better of two primal points at hand, and the bound of ``theta`` itself.

    ``primal_guess`` (the smoothed problem's solution) or the coefficients
    the dual point maps to, whichever is lower, each with its exact
    intercept; the dual bound at ``theta`` made feasible.
    """
    c, a = objective.loss.affine_parts(objective.y)
    if objective.fit_intercept:
        theta = project_dual(theta, a, box_lower, box_upper)
    best = None
    for coef in (
        objective.penalty.coef_from_dual(objective.rmatvec(a * theta).ravel()),
        primal_guess,
    ):
        intercept = (
            objective.best_intercept(coef.reshape(-1, 1))
            if objective.fit_intercept
            else 0.0
        )
        primal = objective.value(coef.reshape(-1, 1), np.array([intercept]))
        if best is None or primal < best[2]:
            best = (coef, intercept, primal)
    return Candidate(*best, objective.dual_value(theta))


def certified_point(objective, coef, box_lower, box_upper):
    """A primal point with the dual point of ``dual_certificate``, as a
    ``Candidate``; None where the linear program finds none.

    For a degenerate optimum that the active-set method cannot settle (many
    samples with zero residual, as rows of zeros all on the kink): the
    smoothed problem's solution, with its exact intercept, is often the
    optimum to rounding, and the program finds the dual point proving it.
    """
    c, a = objective.loss.affine_parts(objective.y)
    intercept = (
        objective.best_intercept(coef.reshape(-1, 1))
        if objective.fit_intercept
        else 0.0
    )
    residual = c - a * (objective.matvec(coef).ravel() + intercept)
    tolerance = CONDITION_TOLERANCE * max(
        np.abs(residual).max(), np.abs(c).max(), np.finfo(float).tiny
    )
    theta = dual_certificate(objective, coef, residual, tolerance, box_lower, box_upper)
    if theta is None:
        return None
    return evaluated_candidate(objective, coef, intercept, theta, box_lower, box_upper)


def dual_point_of_residuals(objective, residual, width):
    """The dual point whose sets a primal point's residuals suggest: rows
    within ``width`` of their kink in the middle of their box (on the kink),
    the others at the end of their box on their residual's side."""
    lower, upper = objective.loss.dual_box()
    near = np.abs(residual) <= width
    slope = np.where(near, 0.5 * (lower + upper), np.where(residual > 0, upper, lower))
    return objective.sample_weight * slope


def project_dual(theta, a, box_lower, box_upper):
    """Move ``theta`` onto ``a . theta = 0`` within the box.

    ``theta(t) = clip(theta - t * a)`` has ``a . theta(t)`` non-increasing in
    ``t`` (as ``a = +-1``); bisection finds the root. The result is a
    feasible dual point, so ``D`` there is a valid lower bound.
    """

    def violation(shift):
        return a @ np.clip(theta - shift * a, box_lower, box_upper)

    if violation(0.0) == 0.0:
        return theta
    span = np.max(box_upper - box_lower) + np.max(np.abs(theta)) + 1.0
    low, high = -span, span
    for _ in range(200):
        middle = 0.5 * (low + high)
        if violation(middle) > 0:
            low = middle
        else:
            high = middle
        if high - low <= 1e-17 * span:
            break
    return np.clip(theta - 0.5 * (low + high) * a, box_lower, box_upper)


@dataclass
class ActiveSetSolution:
    """An exact optimum: coefficients, intercept and the dual point proving it."""

    coef: np.ndarray
    intercept: float
    theta: np.ndarray


def active_set_method(
    objective,
    theta,
    coef,
    box_lower,
    box_upper,
    max_rounds=100,
    certificates=CERTIFICATES,
    stall_rounds=STALL_ROUNDS,
):
    """Solve the optimality conditions exactly, from the sets a dual point suggests.

    A primal-dual active-set method on the dual box QP. With ``E`` the
    samples on the kink (dual variable free: ``a_i * f_i = c_i``), ``N`` the
    others (dual variable at the end of its box on the side of their
    residual), and ``A`` the non-zero features with signs ``sigma``, the
    optimum solves the linear system

        l2 * w_A = X_A.T @ (a * theta) - l1 * sigma
        x_iA . w_A + b = a_i * c_i             for i in E
        a . theta = 0                          (with an intercept)

    in the unknowns ``theta_E`` and ``b``. Each round solves it, then moves
    every sample and feature that violates an optimality condition (a free
    variable out of its box, a residual on the wrong side of the kink, a
    coefficient changing sign, a zero feature beyond the L1 bound). When a
    round moves nothing, every condition holds and the solution is exact.
    Where the optimum is degenerate, a small linear program
    (``dual_certificate``) may prove a round's point optimal.

    ``coef`` is a primal point near the optimum; its residuals give the
    starting sets when ``theta`` has too many free variables to use.
    ``certificates``: how many rounds may try ``dual_certificate``;
    ``stall_rounds``: rounds without a new fewest number of violated
    conditions after which the method gives up.

    Returns an ``ActiveSetSolution``, or ``None`` if the rounds run out or
    the system grows too large to be worth solving densely.
    """
    sets = _ActiveSets(objective, theta, coef, box_lower, box_upper)
    if not sets.worth_solving():
        # The dual has not settled; the next, less smoothed round will do.
        return None
    sets.trim_kink(coef)
    certificates_left = certificates
    fewest_violations, rounds_since_fewest = np.inf, 0
    for _ in range(max_rounds):
        if not sets.worth_solving():
            return None
        solution = sets.solve_round(coef)
        if not sets.move(solution):
            theta = np.clip(solution.theta, box_lower, box_upper)
            return ActiveSetSolution(
                _without_negligible(objective, solution), solution.intercept, theta
            )
        if sets.n_violations < fewest_violations:
            fewest_violations, rounds_since_fewest = sets.n_violations, 0
        else:
            rounds_since_fewest += 1
        if rounds_since_fewest >= stall_rounds:
            return None
        # Degenerate optimum: samples off the kink whose residual is zero
        # could take any dual value in their box, which the rules reading
        # sides off residual signs cannot choose. A small linear program
        # can: if it finds a dual point consistent with this primal point,
        # the point is optimal.
        if sets.weakly_on_kink(solution).any() and certificates_left > 0:
            certificates_left -= 1
            certificate = dual_certificate(
                objective,
                solution.coef,
                solution.residual,
                solution.residual_tolerance,
                box_lower,
                box_upper,
            )
            if certificate is not None:
                return ActiveSetSolution(
                    _without_negligible(objective, solution),
                    solution.intercept,
                    certificate,
                )
        sets.apply_moves()
    return None


def _without_negligible(objective, solution):
    """The coefficients, those below the rounding of their own optimality
    condition set to zero, where an L1 part makes zeros exact.

    On its orthant a coefficient is ``w_j = (z_j - l1 * sign_j) / l2`` with
    ``z_j = sum_i a_i theta_i Z_ij``, which floating point resolves to
    about ``eps * (max_i |Z_ij| * sum_i |theta_i| + l1)``; a coefficient
    below that share of ``1 / l2`` is zero computed inexactly. At a
    degenerate optimum (features at the L1 bound with samples on the kink)
    such a zero came out of the kink system as 1e-22, with either sign, on
    a feature of scale 1e6.
    """
    coef = solution.coef
    penalty = objective.penalty
    if not penalty.has_l1 or not coef.any():
        return coef
    X, mean = objective.X, objective.x_mean
    highest, lowest = X.max(axis=0), X.min(axis=0)
    if sp.issparse(X):
        highest, lowest = highest.toarray(), lowest.toarray()
    extent = np.maximum(
        np.abs(np.ravel(highest) - mean), np.abs(np.ravel(lowest) - mean)
    )
    rounding = ROUNDING * (extent * np.abs(solution.theta).sum() + penalty.l1)
    return np.where(penalty.l2 * np.abs(coef) <= rounding, 0.0, coef)


@dataclass
class _RoundSolution:
    """One round's solution of the kink system, and what it implies."""

    theta: np.ndarray
    coef: np.ndarray
    intercept: float
    correlation: np.ndarray  # X.T @ (a * theta)
    residual: np.ndarray  # c - a * f
    residual_tolerance: float
    n_kink: int


class _ActiveSets:
    """The sets of the active-set method and the rounds that update them.

    ``on_kink``: samples whose dual variable is free; ``at_upper``: for the
    others, which end of their box; ``signs``: the sign of each free
    feature (0 for features held at zero; all ones without an L1 part).
    """

    def __init__(self, objective, theta, coef, box_lower, box_upper):
        self.objective = objective
        self.c, self.a = objective.loss.affine_parts(objective.y)
        self.box_lower, self.box_upper = box_lower, box_upper
        tiny = np.finfo(float).tiny
        self.width = box_upper - box_lower
        inside = CONDITION_TOLERANCE * np.maximum(self.width, tiny)
        self.on_kink = (theta > box_lower + inside) & (theta < box_upper - inside)
        self.at_upper = ~self.on_kink & (theta - box_lower > box_upper - theta)
        n_features = coef.size
        has_l1 = objective.penalty.has_l1
        self.signs = np.sign(coef) if has_l1 else np.ones(n_features)
        # In general position at most |A| + 1 samples sit on the kink at the
        # optimum; a set much larger than that is not worth a dense solve.
        # With no L1 part and many features (the box-constrained dual's
        # problems), the system is solved iteratively beyond this size (its
        # matrix is never formed), and below it too where the kink rows of a
        # sparse X are too wide to solve on: there MINRES on two passes over
        # those rows per product beat the dense Gram matrix's eigh (tf-idf
        # 5,000 x 50,000, hinge, alpha 2e-4, about 1,900 samples on the
        # kink: 1.8 -> 0.13 s, same optimum).
        self.limit = min(DENSE_KINK_LIMIT, 2 * n_features + 10)
        self.iterative = many_features_pure_l2(objective)
        # An elastic net on such features: MINRES on the active features
        # too, where it is estimated to cost less than the dense solve
        # (MINRES_ITERATION_SCALE). The dense Gram matrix of 1,800 tf-idf
        # kink rows (hinge, 2,000 x 20,000, 6,500 non-zeros) and its
        # eigenvectors peaked at 46 times X.
        self.iterative_on_active = has_l1 and many_features_with_l2(objective)
        self.theta_guess = theta
        self.intercept_guess = None  # MINRES's start for b: the last round's
        self.moves = None

    def worth_solving(self):
        n_kink = self.on_kink.sum()
        if self.iterative or n_kink <= self.limit:
            return True
        # Past the dense limit, an elastic net's system goes to MINRES where
        # it is consistent: no more samples on the kink than free
        # parameters (tf-idf 5,000 x 50,000, hinge, alpha 1e-4: 2,385
        # samples on the kink, 9,759 non-zeros; refused, the smoothed dual
        # ran to max_iter at a gap of 5e-2). An inconsistent system needs
        # the dense solve's least-norm least-squares answer.
        return self.iterative_on_active and self.consistent(
            n_kink, np.count_nonzero(self.signs)
        )

    def _minres_below_limit(self, kink_index, n_active):
        """Whether a kink system within the dense limit goes to MINRES: with
        no L1 part always (on many features), with an elastic net where it
        is consistent and the cheaper solve."""
        return self.iterative or (
            self.iterative_on_active
            and self.consistent(kink_index.size, n_active)
            and self.minres_is_cheaper(kink_index, n_active)
        )

    def minres_is_cheaper(self, kink_index, n_active):
        """Whether MINRES on the kink rows is estimated to cost less than
        the dense solve (see MINRES_ITERATION_SCALE)."""
        X = self.objective.X
        if not sp.issparse(X):
            return False  # its kink rows always fit a dense solve
        n_kink = kink_index.size
        ratio = np.sqrt(min(n_kink / max(n_active, 1), 1.0))
        iterations = min(
            MINRES_ITERATION_SCALE * (1 + ratio) / max(1 - ratio, 1e-12), n_kink
        )
        if X.format == "csr":
            kink_entries = np.diff(X.indptr)[kink_index].sum()
        else:
            kink_entries = X[kink_index].nnz
        minres_cost = (
            2 * iterations * (4 * kink_entries + MINRES_OVERHEAD_PER_ITERATION)
        )
        return bool(minres_cost < 9 * float(n_kink) ** 3 / DENSE_SPEEDUP)

    def consistent(self, n_kink, n_active):
        """Whether a kink system is consistent in general position: no more
        samples on the kink than free parameters to put them there."""
        return n_kink <= n_active + int(self.objective.fit_intercept)

    def trim_kink(self, coef):
        """With more samples on the kink than parameters to put them there,
        keep those the primal point puts closest to it; the others go to the
        end of their box on the side of their residual."""
        objective = self.objective
        n_parameters = np.count_nonzero(self.signs) + int(objective.fit_intercept)
        if self.on_kink.sum() <= n_parameters:
            return
        intercept = (
            objective.best_intercept(coef.reshape(-1, 1))
            if objective.fit_intercept
            else 0.0
        )
        residual = self.c - self.a * (objective.matvec(coef).ravel() + intercept)
        candidates = np.flatnonzero(self.on_kink)
        order = np.argsort(np.abs(residual[candidates]), kind="stable")
        dropped = candidates[order[n_parameters:]]
        self.on_kink[dropped] = False
        self.at_upper[dropped] = residual[dropped] > 0

    def solve_round(self, coef):
        """Solve the kink system on the current sets (``coef``: the start's
        primal point, for the intercept's first guess)."""
        objective, a = self.objective, self.a
        penalty = objective.penalty
        active = np.flatnonzero(self.signs != 0)
        kink_index = np.flatnonzero(self.on_kink)
        n_kink = kink_index.size
        theta_fixed = np.where(
            self.on_kink, 0.0, np.where(self.at_upper, self.box_upper, self.box_lower)
        )
        # w_A = (base + (a_E * X_kink).T @ theta_E) / l2
        base = objective.rmatvec(a * theta_fixed).ravel()[active]
        if penalty.has_l1:
            base = base - penalty.l1 * self.signs[active]
        size = n_kink + (1 if objective.fit_intercept and n_kink > 0 else 0)
        solution = system = found = None
        rows_fit = size > 0 and self._rows_fit(n_kink, active.size)
        # Past the dense limit only MINRES takes the system (worth_solving
        # has checked an elastic net's is consistent); below it, MINRES
        # where the rows do not fit and it is the cheaper solve.
        if size > 0 and (
            n_kink > self.limit
            or (not rows_fit and self._minres_below_limit(kink_index, active.size))
        ):
            if self.intercept_guess is None:
                self.intercept_guess = (
                    objective.best_intercept(coef.reshape(-1, 1))
                    if objective.fit_intercept
                    else 0.0
                )
            solution = solve_kink_system(
                objective,
                kink_index,
                base,
                theta_fixed,
                self.theta_guess,
                self.intercept_guess,
                active=None if active.size == self.signs.size else active,
            )
        elif rows_fit:
            found = self._solved_on_rows(kink_index, active, base, theta_fixed)
        elif size > 0:
            matrix, right = self._dense_kink_system(
                kink_index, active, base, theta_fixed
            )
            # The intercept's row is the border's transpose times a.
            row_signs = np.append(a[kink_index], np.ones(size - n_kink))
            system = LeastSquares(matrix, row_signs, bordered=size > n_kink)
            del matrix
            solution = system.solve(right)
        if found is None:
            found = self._primal_of(theta_fixed, solution, kink_index, active)
        # A consistent system (no more kink samples than free parameters).
        if system is not None and self.consistent(n_kink, active.size):
            found = self._refined(found, system, solution, theta_fixed, active)
        self.theta_guess = found.theta
        self.intercept_guess = found.intercept
        return found

    def _rows_fit(self, n_kink, n_active):
        """Whether the kink rows, made dense on the active features, are
        small enough to solve on: always for a dense ``X``; for a sparse one
        where they weigh no more than its stored entries, the Gram solve's
        matrix (``n_kink ** 2``) or 2 MB, as with one-hot columns next to a
        few numeric ones. Beyond (text: 2,000 kink rows on 200,000 words;
        an elastic net on 4,000 sparse features, where a looser bound of
        four Gram matrices peaked at 81 times ``X``) the Gram matrix is
        formed sparse. (The smoothed dual's later rounds pass a reduced
        ``X`` of a few hundred rows, so its own size alone would send every
        such system to the Gram.)"""
        X = self.objective.X
        if not sp.issparse(X):
            return True
        return n_kink * n_active <= max(X.nnz, n_kink * n_kink, DENSE_ROWS_FLOOR)

    def _solved_on_rows(self, kink_index, active, base, theta_fixed):
        """The kink system solved on its rows, not their Gram matrix.

        With ``Z`` the kink rows (centered, active columns), ``u = a_E *
        theta_E`` and ``t = a_E * c_E``, the system is

            w = (base + Z.T @ u) / l2,   Z @ w + b = t,   sum(u) = s

        (``s = -(a . theta_fixed)``; without an intercept, no ``b`` and no
        sum). Splitting ``u = s / k + u_perp`` with ``u_perp`` summing to
        zero, and ``B = Z - mean(Z)`` (the rows centered among themselves),
        the coefficients are ``w = base / l2 + Z.T @ 1 * s / (k * l2) + e``
        with ``e`` the least-norm solution of ``B e = t - mean(t) - B @
        (w - e)`` and ``u_perp = l2 * pinv(B.T) @ e``; ``b`` is the mean of
        ``t - Z @ w``. Both solves use one factorization of ``B``
        (``_KinkRowsFactors``), whose condition is that of the rows: the
        Gram matrix ``Z Z.T`` squares it, and on columns scaled from 1e-4 to
        1e4 (a condition of 1e8 squared to 1e16) its solution missed the
        kink equations by up to 1e0, so the sets cycled and the step never
        finished. The coefficients come from ``e`` itself, not back through
        ``theta``, which would square the condition again. The kink
        equations' misses are then solved for a correction with the same
        factors.
        """
        objective, a, c = self.objective, self.a, self.c
        penalty = objective.penalty
        fit_intercept = objective.fit_intercept
        n_kink = kink_index.size
        rows = objective.rows(kink_index, active)
        a_kink = a[kink_index]
        target = a_kink * c[kink_index]
        factors = _KinkRowsFactors(rows, fit_intercept)
        rows_sum = rows.sum(axis=0)

        def solve(missed, sum_missed):
            # The change (w, u, b) that solves Z w + b = missed with
            # sum(u) = sum_missed and w = Z.T @ u / l2.
            shift = sum_missed / n_kink if fit_intercept else 0.0
            coef = rows_sum * (shift / penalty.l2)
            least_norm, multipliers = factors.solve(missed - rows @ coef)
            coef += least_norm
            multipliers = shift + penalty.l2 * multipliers
            intercept = np.mean(missed - rows @ coef) if fit_intercept else 0.0
            return coef, multipliers, intercept

        coef_active = base / penalty.l2
        coef_change, multipliers, intercept = solve(
            target - rows @ coef_active, -(a @ theta_fixed)
        )
        coef_active = coef_active + coef_change
        theta = theta_fixed.copy()
        theta[kink_index] = a_kink * multipliers
        coef = np.zeros(self.signs.size)
        coef[active] = coef_active
        found = self._point_of(theta, coef, intercept, n_kink)
        # More kink samples than free parameters: no solution meets every
        # kink equation, and a least-squares one is not refined.
        consistent = self.consistent(n_kink, active.size)
        for _ in range(REFINEMENTS if consistent else 0):
            missed = a_kink * found.residual[kink_index]
            sum_missed = -(a @ found.theta) if fit_intercept else 0.0
            if (
                np.max(np.abs(missed)) <= found.residual_tolerance
                and abs(sum_missed) <= CONDITION_TOLERANCE * self.width.sum()
            ):
                break
            coef_change, multipliers, intercept_change = solve(missed, sum_missed)
            coef = found.coef.copy()
            coef[active] += coef_change
            theta = found.theta.copy()
            theta[kink_index] += a_kink * multipliers
            found = self._point_of(
                theta, coef, found.intercept + intercept_change, n_kink
            )
        return found

    def _point_of(self, theta, coef, intercept, n_kink, correlation=None):
        """The round's point from its dual variables, coefficients and
        intercept: with the correlation ``X.T @ (a * theta)`` (computed if
        not given), the residuals and their tolerance."""
        objective, a, c = self.objective, self.a, self.c
        if correlation is None:
            correlation = objective.rmatvec(a * theta).ravel()
        residual = c - a * (objective.matvec(coef).ravel() + intercept)
        tolerance = CONDITION_TOLERANCE * max(
            np.abs(residual).max(), np.abs(c).max(), np.finfo(float).tiny
        )
        return _RoundSolution(
            theta, coef, intercept, correlation, residual, tolerance, n_kink
        )

    def _primal_of(self, theta_fixed, solution, kink_index, active):
        """The round's point: the dual variables with the kink system's
        ``solution`` in place, the coefficients they map to on the orthant of
        ``signs``, the intercept, the residuals and their tolerance."""
        objective, a = self.objective, self.a
        n_kink = kink_index.size
        theta = theta_fixed.copy()
        if solution is not None:
            theta[kink_index] = solution[:n_kink]
        correlation = objective.rmatvec(a * theta).ravel()
        coef = np.zeros(self.signs.size)
        coef[active] = objective.penalty.coef_on_orthant(
            correlation[active], self.signs[active]
        )
        if not objective.fit_intercept:
            intercept = 0.0
        elif n_kink > 0:
            intercept = solution[n_kink]
        else:
            # No sample on the kink: b is only confined to an interval.
            intercept = objective.best_intercept(coef.reshape(-1, 1))
        return self._point_of(theta, coef, intercept, n_kink, correlation)

    def _refined(self, found, system, solution, theta_fixed, active):
        """Iterative refinement of a square (or under-determined) kink system.

        Its matrix ``X_E X_E.T / l2`` is ill-conditioned where the features
        are large and ``l2`` small (income in the thousands, ``l2 = 1e-3``:
        a condition number of 6e8), and the least-squares solution can miss
        the kink equations by more than their tolerance although it is
        right to eight digits. The equations' own residuals, computed from
        the point (``a_E * r_E``, and ``-a . theta`` for the intercept's
        row), are solved for a correction with the same factors
        (``system``, a ``LeastSquares``).
        """
        kink_index = np.flatnonzero(self.on_kink)
        n_kink = kink_index.size
        for _ in range(REFINEMENTS):
            missed = self.a[kink_index] * found.residual[kink_index]
            if np.max(np.abs(missed)) <= found.residual_tolerance:
                break
            if system.size > n_kink:
                missed = np.append(missed, -(self.a @ found.theta))
            solution = solution + system.solve(missed)
            found = self._primal_of(theta_fixed, solution, kink_index, active)
        return found

    def _dense_kink_system(self, kink_index, active, base, theta_fixed):
        """The kink system formed on the kink rows: ``(matrix, right side)``."""
        objective, a, c = self.objective, self.a, self.c
        l2 = objective.penalty.l2
        n_kink = kink_index.size
        size = n_kink + int(objective.fit_intercept)
        gram, kink_base = _centered_gram_of_rows(objective, kink_index, active, base)
        gram *= a[kink_index] / l2
        system = np.zeros((size, size))
        right = np.zeros(size)
        system[:n_kink, :n_kink] = gram
        del gram
        right[:n_kink] = a[kink_index] * c[kink_index] - kink_base / l2
        if size > n_kink:
            system[:n_kink, n_kink] = 1.0
            system[n_kink, :n_kink] = a[kink_index]
            right[n_kink] = -(a @ theta_fixed)
        return system, right

    def move(self, solution):
        """Find every violated condition at ``solution``; whether any is.

        The sample moves are kept for ``apply_moves``; feature signs are
        updated at once (a sign that flips leaves the active set, a zero
        feature beyond the L1 bound enters it).
        """
        tiny = np.finfo(float).tiny
        residual, tolerance = solution.residual, solution.residual_tolerance
        on_kink, theta = self.on_kink, solution.theta
        slack = CONDITION_TOLERANCE * np.maximum(self.width, tiny)
        above = on_kink & (theta > self.box_upper + slack)
        below = on_kink & (theta < self.box_lower - slack)
        # With more samples on the kink than free parameters the system is
        # inconsistent; a sample whose kink equation fails leaves the kink
        # for the end of its box on the side of its residual.
        off_equation = on_kink & ~above & ~below & (np.abs(residual) > tolerance)
        above |= off_equation & (residual > 0)
        below |= off_equation & (residual < 0)
        off_kink = ~on_kink & (self.width > 0)
        wrong_side = off_kink & (
            (self.at_upper & (residual < -tolerance))
            | (~self.at_upper & (residual > tolerance))
        )
        self.n_violations = (
            np.count_nonzero(above)
            + np.count_nonzero(below)
            + np.count_nonzero(wrong_side)
            + self._move_features(solution)
        )
        if self.objective.fit_intercept and solution.n_kink == 0:
            # Without a free variable, a . theta = 0 must already hold.
            unbalanced = abs(self.a @ theta) > CONDITION_TOLERANCE * self.width.sum()
            self.n_violations += int(unbalanced)
        self.moves = (above, below, wrong_side)
        return self.n_violations > 0

    def _move_features(self, solution):
        """Update the feature signs; how many changed."""
        penalty = self.objective.penalty
        if not penalty.has_l1:
            return 0
        correlation = solution.correlation
        tolerance = CONDITION_TOLERANCE * max(
            np.abs(correlation).max(), penalty.l1, np.finfo(float).tiny
        )
        flipped = (self.signs != 0) & (np.sign(solution.coef) != self.signs)
        entering = (self.signs == 0) & (np.abs(correlation) > penalty.l1 + tolerance)
        self.signs = np.where(
            flipped, 0.0, np.where(entering, np.sign(correlation), self.signs)
        )
        return np.count_nonzero(flipped) + np.count_nonzero(entering)

    def weakly_on_kink(self, solution):
        """Samples off the kink whose residual is zero (a degenerate optimum)."""
        return (
            ~self.on_kink
            & (self.width > 0)
            & (np.abs(solution.residual) <= solution.residual_tolerance)
        )

    def apply_moves(self):
        above, below, wrong_side = self.moves
        self.on_kink = (self.on_kink & ~above & ~below) | wrong_side
        self.at_upper = np.where(above, True, np.where(below, False, self.at_upper))


class LeastSquares:
    """The least-squares solution of minimum norm of ``matrix @ x = right``,
    as ``np.linalg.lstsq(matrix, right, rcond=None)`` gives it, from one
    factorization for every right-hand side.

    The kink system's refinements solve again with the same matrix:
    ``lstsq`` factored it anew each time, and on a sparse hinge elastic net
    (5,000 x 3,000, about 1,500 samples on the kink) its 28 calls were 21
    of the fit's 25 s. Where ``row_signs`` (entries of size one) make
    ``row_signs[:, None] * matrix`` symmetric, as they do the kink system
    (its rows are the Gram matrix's times the samples' ``a = +-1``, and
    the intercept's border), the signs are an orthogonal map, so the
    least-squares solutions are those of the symmetric matrix. Its
    positive definite part (all of it, or all but the intercept's
    ``bordered`` last row and column) is then factored by Cholesky, and the
    border eliminated by its Schur complement, where the factor's
    estimated reciprocal condition is at least ``CHOLESKY_RCOND`` times
    ``eps * size``: there the matrix is far from singular and the
    least-squares solution is the solution. Elsewhere (more kink samples
    than features, duplicated rows), and where ``row_signs`` do not serve,
    an eigendecomposition or a singular value decomposition gives the
    least-norm solution, counting values below ``lstsq``'s cut
    (``eps * max(shape)`` of the largest) as zero. Measured on 500 to
    2,000 unknowns, Cholesky took a tenth of ``eigh``'s time (733: 7 against
    73 ms), and ``eigh`` 0.6 of ``lstsq``'s.
    """

    def __init__(self, matrix, row_signs=None, *, bordered=False):
        self.size = matrix.shape[0]
        self.cholesky = None
        cut = np.finfo(float).eps * max(matrix.shape)
        if row_signs is not None and np.all(np.abs(row_signs) == 1):
            self.row_signs = row_signs
            if self._factor_definite_part(matrix, bordered):
                return
            values, vectors = np.linalg.eigh(row_signs[:, None] * matrix)
            kept = np.abs(values) > cut * np.abs(values).max(initial=0.0)
            self.left = self.right = vectors[:, kept]
        else:
            self.row_signs = None
            left, values, right_t = np.linalg.svd(matrix, full_matrices=False)
            kept = values > cut * values.max(initial=0.0)
            self.left, self.right = left[:, kept], right_t[kept].T
        self.inverse_values = 1.0 / values[kept]

    def _factor_definite_part(self, matrix, bordered):
        """Cholesky on the symmetric matrix's definite part, and the border's
        Schur complement; whether both are well conditioned."""
        n_definite = self.size - int(bordered)
        if n_definite == 0:
            return False
        signs = self.row_signs[:n_definite]
        definite = signs[:, None] * matrix[:n_definite, :n_definite]
        self.nonzero_rows = None
        if not bordered:
            # An empty sample on the kink (a row of X without stored
            # entries, uncentered without an intercept) is a zero row and
            # column: its least-norm solution is zero, and the rest is
            # solved without it. With two to six entries a row, such rows
            # made the first system singular on random sparse data.
            diagonal = np.diagonal(definite)
            nonzero = np.flatnonzero(diagonal)
            if nonzero.size == 0 or np.any(definite[diagonal == 0]):
                # Not positive semidefinite (a zero on the diagonal of a
                # nonzero row): the eigendecomposition takes it.
                return False
            if nonzero.size < n_definite:
                self.nonzero_rows = nonzero
                definite = definite[np.ix_(nonzero, nonzero)]
        norm = np.abs(definite).sum(axis=0).max()
        try:
            factor = cho_factor(
                definite, lower=True, overwrite_a=True, check_finite=False
            )
        except np.linalg.LinAlgError:
            return False
        reciprocal_condition, info = dpocon(factor[0], norm, uplo="L")
        smallest = CHOLESKY_RCOND * np.finfo(float).eps * definite.shape[0]
        if info != 0 or not reciprocal_condition >= smallest:
            return False
        self.border = None
        if bordered:
            border = matrix[:n_definite, n_definite] * signs
            solved_border = cho_solve(factor, border, check_finite=False)
            schur = border @ solved_border
            # The bordered matrix is singular where the border lies in the
            # definite part's range at rounding level.
            if not schur > smallest * np.abs(border) @ np.abs(solved_border):
                return False
            self.border, self.solved_border, self.schur = border, solved_border, schur
        self.cholesky = factor
        return True

    def solve(self, right):
        if self.row_signs is not None:
            right = self.row_signs * right
        if self.cholesky is not None:
            if self.nonzero_rows is not None:
                solution = np.zeros(self.size)
                solution[self.nonzero_rows] = cho_solve(
                    self.cholesky, right[self.nonzero_rows], check_finite=False
                )
                return solution
            if self.border is None:
                return cho_solve(self.cholesky, right, check_finite=False)
            # [[K, c], [c', 0]] [x; b] = [r; s]: x = K^-1 (r - c b), c'x = s.
            solved = cho_solve(self.cholesky, right[:-1], check_finite=False)
            last = (self.border @ solved - right[-1]) / self.schur
            return np.append(solved - last * self.solved_border, last)
        return self.right @ (self.inverse_values * (self.left.T @ right))


class _KinkRowsFactors:
    """A factorization of the kink rows ``Z`` (centered among themselves with
    an intercept) for the two least-norm solves of the kink system.

    With an intercept the multipliers sum to a given value, so only their
    part summing to zero is solved for: a Householder reflection that swaps
    the first axis and ``1 / sqrt(k)`` gives in its other columns an
    orthonormal basis ``Q1`` of that subspace, and ``C = Q1.T @ Z`` (``Z``
    itself without an intercept) has full row rank in general. ``solve(g)``
    returns ``e``, the least-norm solution of ``C e = Q1.T g``, and ``z``
    (in the original coordinates, summing to zero) with ``Z.T @ z = e``.

    A QR factorization of ``C.T`` serves where ``C`` has full row rank (no
    diagonal entry of the triangle at rounding level against the largest);
    a singular value decomposition (two to three times the cost, measured
    on 100 x 100 to 1,500 x 1,500) where it has not, as with duplicated
    kink samples or more of them than features.
    """

    def __init__(self, rows, fit_intercept):
        n_kink, n_columns = rows.shape
        self.fit_intercept = fit_intercept
        self.n_columns = n_columns
        # With one kink sample and an intercept the reflection is the
        # identity and the subspace empty.
        self.reflector = np.full(n_kink, 1.0 / np.sqrt(n_kink))
        self.reflector[0] -= 1.0
        reduced = self._reflect(rows)[1:] if fit_intercept else rows
        self.n_reduced = reduced.shape[0]
        self.triangle = self.pseudo_inverse = None
        if self.n_reduced == 0 or n_columns == 0:
            return
        if self.n_reduced <= n_columns:
            orthogonal, triangle = np.linalg.qr(reduced.T)
            diagonal = np.abs(np.diag(triangle))
            if (
                diagonal.min()
                > max(reduced.shape) * np.finfo(float).eps * diagonal.max()
            ):
                self.orthogonal, self.triangle = orthogonal, triangle
                return
        self.pseudo_inverse = LeastSquares(reduced)

    def _reflect(self, matrix):
        reflector = self.reflector
        squared_norm = reflector @ reflector
        if squared_norm == 0:
            return matrix
        return matrix - np.multiply.outer(
            reflector, (2.0 / squared_norm) * (reflector @ matrix)
        )

    def solve(self, right):
        """``(e, z)`` for the right side ``g`` (see the class)."""
        if self.fit_intercept:
            right = self._reflect(right)[1:]
        if self.triangle is not None:
            # NumPy's solve (LU on a triangle) rather than SciPy's triangular
            # solves: SciPy's LAPACK runs on its own BLAS threads, and
            # switching between the two pools cost 5-75 ms a call in a fit.
            step = np.linalg.solve(self.triangle.T, right)
            least_norm = self.orthogonal @ step
            reduced = np.linalg.solve(self.triangle, step)
        elif self.pseudo_inverse is not None:
            pseudo = self.pseudo_inverse
            projected = pseudo.inverse_values * (pseudo.left.T @ right)
            least_norm = pseudo.right @ projected
            reduced = pseudo.left @ (pseudo.inverse_values * projected)
        else:
            least_norm, reduced = np.zeros(self.n_columns), np.zeros(self.n_reduced)
        if self.fit_intercept:
            return least_norm, self._reflect(np.append(0.0, reduced))
        return least_norm, reduced


def _centered_gram_of_rows(objective, index, columns, vector):
    """``Z @ Z.T`` and ``Z @ vector`` for the rows ``index`` and ``columns``
    of the centered matrix ``Z``. For a sparse ``X`` the product is formed
    sparse and centered afterwards (``A A' - A m 1' - 1 m' A' + m'm``):
    the dense rows would be many times the size of ``X`` (a sparse
    epsilon-insensitive elastic net on 20,000 x 5,000 peaked at 39x X)."""
    if not sp.issparse(objective.X):
        rows = objective.rows(index, columns)
        return rows @ rows.T, rows @ vector
    rows = objective.X[index][:, columns]
    mean = objective.x_mean[columns]
    gram = np.asarray((rows @ rows.T).toarray(), dtype=float)
    rows_mean = np.asarray(rows @ mean, dtype=float).ravel()
    gram -= rows_mean[:, None]
    gram -= rows_mean[None, :]
    gram += mean @ mean
    rows_vector = np.asarray(rows @ vector, dtype=float).ravel() - mean @ vector
    return gram, rows_vector


def solve_kink_system(
    objective,
    kink_index,
    base,
    theta_fixed,
    theta_guess,
    intercept_guess,
    active=None,
):
    """The active-set system, by MINRES on matrix products.

    With the features ``active`` free (every feature if ``None``; ``base``
    is given on them), ``w = (base + X_E.T @ (a_E * theta_E)) / l2`` on them
    and zero elsewhere, and the system, each kink row multiplied by ``a_i``
    to make it symmetric, is

        a_i * x_iA . X_EA.T @ (a_E * theta_E) / l2 + a_i * b
            = c_i - a_i * x_iA . base / l2
        a_E . theta_E = -(a . theta_fixed)          (with an intercept)

    (symmetric, indefinite with the intercept row), solved by MINRES from
    the current dual point. Only the kink rows of ``X`` enter, copied
    once: each product costs two passes over them, not over all of ``X``.
    Returns ``theta_E``, followed by ``b`` with an intercept.
    """
    c, a = objective.loss.affine_parts(objective.y)
    l2 = objective.penalty.l2
    n_kink = kink_index.size
    a_kink = a[kink_index]
    fit_intercept = objective.fit_intercept
    size = n_kink + int(fit_intercept)
    kink_rows = objective.X[kink_index]

    def on_features(coef_active):
        if active is None:
            return coef_active
        coef = np.zeros(objective.n_features)
        coef[active] = coef_active
        return coef

    def product(vector):
        correlation = objective.rmatvec(a_kink * vector[:n_kink], kink_rows).ravel()
        coef = on_features(
            (correlation if active is None else correlation[active]) / l2
        )
        result = np.empty(size)
        result[:n_kink] = a_kink * objective.matvec(coef, kink_rows).ravel()
        if fit_intercept:
            result[:n_kink] += a_kink * vector[n_kink]
            result[n_kink] = a_kink @ vector[:n_kink]
        return result

    fixed_part = objective.matvec(on_features(base / l2), kink_rows).ravel()
    right = c[kink_index] - a_kink * fixed_part
    start = np.asarray(theta_guess, dtype=float)[kink_index]
    if fit_intercept:
        right = np.append(right, -(a @ theta_fixed))
        start = np.append(start, intercept_guess)
    operator = LinearOperator((size, size), matvec=product, dtype=float)
    solution, _ = minres(
        operator, right, x0=start, rtol=KINK_SYSTEM_RTOL, maxiter=10 * size
    )
    # MINRES stops on its own estimate of the residual, which can be far
    # below the true one: 4.7e-10 relative where 1e-13 was asked (3,083 kink
    # samples of a sparse 20,000 x 5,000 epsilon-insensitive fit), which
    # left the intercept's row off by 5e-8 and the duality gap at 2e-8.
    # Refinement on the true residual: 2.5e-15 after one step.
    size_of_right = np.linalg.norm(right)
    for _ in range(REFINEMENTS):
        missed = right - product(solution)
        if np.linalg.norm(missed) <= KINK_SYSTEM_REFINE_ABOVE * size_of_right:
            break
        correction, _ = minres(
            operator, missed, rtol=KINK_SYSTEM_RTOL, maxiter=10 * size
        )
        solution += correction
    return solution


def dual_certificate(objective, coef, residual, tolerance, box_lower, box_upper):
    """A dual point proving a primal point optimal, by a linear program.

    ``coef`` and ``residual`` describe the primal point (its intercept
    enters through the residuals).

    Samples with ``|residual| <= tolerance`` may take any dual value in
    their box; the others sit at the end of their box on the side of their
    residual (with no free sample, that is the dual point returned). The
    optimality conditions left are linear in the free dual values
    ``theta_F``, with ``z = X.T @ (a * theta)``:

        z_j = l1 * sign(w_j) + l2 * w_j    where w_j != 0 (every j without L1)
        |z_j| <= l1                        where w_j == 0
        a . theta = 0                      (with an intercept)

    HiGHS finds a feasible ``theta_F`` or proves there is none. Its
    tolerances are absolute (1e-7), so the program is posed in units it can
    resolve: each ``theta_i`` as a share of its box's width (weights can
    differ by 1e7 between classes) and each row divided by its largest
    entry. Returns ``theta`` (clipped to its box), or ``None``.
    """
    _, a = objective.loss.affine_parts(objective.y)
    penalty = objective.penalty
    l1 = penalty.l1
    free = (np.abs(residual) <= tolerance) & (box_upper > box_lower)
    free_index = np.flatnonzero(free)
    if free_index.size > CERTIFICATE_SAMPLES:
        return None
    theta = np.where(residual > 0, box_upper, box_lower)
    if free_index.size == 0:
        # Nothing to choose (no sample on the kink, as where the optimal
        # intercept is an interval): the dual point the residuals give,
        # which the duality gap then judges.
        return theta
    theta[free] = 0.0
    fixed_z = objective.rmatvec(a * theta).ravel()
    active = coef != 0 if penalty.has_l1 else np.ones(coef.size, bool)
    width = box_upper[free] - box_lower[free]
    # Column i of `columns`: the contribution of theta_i to z, times the
    # width of its box.
    columns, fixed_z = free_columns(
        objective, free, a[free] * width, a @ theta, fixed_z
    )
    if sp.issparse(columns):
        # Only the features the free samples touch: a row of the others has
        # no variables, and is held here to HiGHS's absolute tolerance.
        touched = np.diff(columns.indptr) > 0
        stack, as_rows = sp.vstack, sp.csr_array
    else:
        touched = np.ones(coef.size, bool)
        stack, as_rows = np.vstack, np.asarray
    untouched_equal = np.abs(
        penalty.gradient_off_zero(coef[active & ~touched]) - fixed_z[active & ~touched]
    )
    if np.any(untouched_equal > LP_FEASIBILITY) or np.any(
        np.abs(fixed_z[~active & ~touched]) > l1 + LP_FEASIBILITY
    ):
        return None
    active_rows, inactive_rows = active & touched, ~active & touched
    equality_matrix = columns[active_rows]
    equality_right = penalty.gradient_off_zero(coef[active_rows]) - fixed_z[active_rows]
    if objective.fit_intercept:
        intercept_row = as_rows((a[free_index] * width)[None, :])
        equality_matrix = stack([equality_matrix, intercept_row])
        equality_right = np.append(equality_right, -(a @ theta))
    equalities = _unit_rows(equality_matrix, equality_right)
    inequalities = _unit_rows(
        stack([columns[inactive_rows], -columns[inactive_rows]]),
        np.concatenate([l1 - fixed_z[inactive_rows], l1 + fixed_z[inactive_rows]]),
    )
    result = linprog(
        np.zeros(free_index.size),
        A_ub=inequalities[0],
        b_ub=inequalities[1],
        A_eq=equalities[0],
        b_eq=equalities[1],
        bounds=np.column_stack([box_lower[free], box_upper[free]]) / width[:, None],
        method="highs",
    )
    if result.status != 0:
        return None
    theta[free] = np.clip(result.x * width, box_lower[free], box_upper[free])
    return theta


def free_columns(objective, free, scale, imbalance, fixed):
    """The free samples' rows of a certificate program, one row per feature
    (``X_free.T * scale``, sparse where ``X`` is), and the fixed correlation
    ``fixed`` (centered, from ``rmatvec``) that goes with them.

    A sparse ``X`` is not made dense: the free rows are all the samples of
    one class for hinge with an intercept (1,500 rows of 30,000 tf-idf
    words: 360 MB dense, and 137 s of HiGHS on the zero dual point's
    program; 20 to 30 s per ``dual_certificate`` program on 2,000 x
    20,000). Its rows are taken as they are, not centered: the centering
    adds ``x_mean`` times ``a . theta`` to the correlation, zero at the
    program's solution (the intercept's constraint; without an intercept
    ``x_mean`` is zero), so the fixed part (``imbalance`` being the fixed
    samples' ``a . theta``) is taken without it too.
    """
    index = np.flatnonzero(free)
    X = objective.X
    if sp.issparse(X):
        selected = sp.csr_array(X[index]).multiply(scale[:, None])
        return sp.csr_array(selected.T), fixed + objective.x_mean * imbalance
    return (objective.rows(index) * scale[:, None]).T, fixed


def _unit_rows(matrix, right):
    """Rows divided by their largest entry (rows of zeros as they are); both
    None where there are no rows, as ``linprog`` wants. Sparse rows stay
    sparse."""
    if matrix.shape[0] == 0:
        return None, None
    if sp.issparse(matrix):
        scale = abs(matrix).max(axis=1).toarray().ravel()
        scale = np.where(scale > 0, scale, 1.0)
        return sp.csr_array(sp.diags_array(1 / scale) @ matrix), right / scale
    scale = np.max(np.abs(matrix), axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    return matrix / scale[:, None], right / scale
