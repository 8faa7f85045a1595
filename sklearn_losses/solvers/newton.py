"""Newton's method for a smooth loss with no L1 part.

The template is scikit-learn's ``NewtonSolver``: at each point a direction
from an inner solve, a line search along it, a test of the step. The inner
solve is one of three strategies, chosen by the size of the problem:

- ``FactoredHessian``: the (generalized) Hessian formed over the samples of
  non-zero curvature and factored, the factor kept while no sample's
  curvature moves by more than ``CURVATURE_DRIFT`` (chord steps);
- ``ConjugateGradients``: Hessian-vector products, preconditioned by a
  Hessian estimated on a sample of rows once they take many
  (multinomial);
- ``QuasiNewtonApproach``: L-BFGS steps from a cold start, before the
  factored Hessian takes over (forming it costs about ``n_features / 10``
  passes over ``X``, a quasi-Newton step two).
"""

import collections
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from .linalg import (
    conjugate_gradient,
    diagonal_view,
    factor_symmetric,
    forcing_term,
    quasi_newton_direction,
)
from .line_search import VALUE_RESOLUTION, line_search
from .result import SolverResult, no_callback

# Up to this many parameters, Newton's method forms the Hessian (over the
# samples of non-zero curvature only) and factors it; beyond, it uses
# conjugate gradients on Hessian-vector products.
DIRECT_NEWTON_SIZE = 1000
# ... unless X is sparse and this many products with it (conjugate
# gradients' work for a few Newton steps) cost less than factoring: on
# random sparse 3,000 x 1,000 with two entries a row, the 1,000 x 1,000
# factorizations took 35 of a logistic fit's 71 ms (25 ms by conjugate
# gradients; Huber 219 -> 49 ms, 20,000 x 1,000: 195 -> 54 ms).
SPARSE_PRODUCTS = 500
# Newton steps longer than this (in any coordinate) are not trusted.
LONGEST_STEP = 1e100
# Where no step decreases the objective, a gradient this small counts as
# converged (rounding level of a gradient with entries of order one).
ROUNDING_GRADIENT = 1e-8
# Steps over which the value must drop by more than its rounding, or the
# gradient halve (see _Progress).
STALL_STEPS = 20
# A factored Hessian is kept while no sample's curvature has moved by more
# than this fraction of it (chord steps converge at this rate).
CURVATURE_DRIFT = 0.1
# Below this many multiply-adds (samples times parameters squared), forming
# and factoring a Hessian costs no more than the rest of a step (its passes
# over X and about 0.3 ms of Python): a chord step, which converges only
# linearly (at the curvature's drift), then saves nothing and costs steps
# (logistic L1 on 100 x 5: residuals falling by 0.03 a step instead of
# squaring, 10 steps instead of 6).
CHORD_WORK = 1e7
# A Hessian kept from a path's previous alpha serves the first step at the
# next alpha from this many multiply-adds (a tenth of CHORD_WORK): there
# the warm start is close, and one chord step saves a formation (CV
# estimators on 5,000 x 30: logistic 0.19 -> 0.14 s, squared hinge 0.15
# -> 0.09 s; the later steps form their own).
CHORD_WORK_ACROSS_SOLVES = 1e6
# The quasi-Newton approach lasts at most this many steps, with this many
# stored pairs (docs/solvers.rst: when it hands over, what it saves).
APPROACH_STEPS = 10
APPROACH_MEMORY = 10
# Conjugate gradients that took more products than this on the last Newton
# step get a preconditioner (a sampled Hessian, see sampled_hessian_pays;
# else the diagonal, feature_scale_preconditioner).
PRECONDITION_AFTER = 6
# Features whose scales (feature_scale) spread by this factor or more get
# the Hessian's diagonal as CG's preconditioner, where no sampled Hessian
# pays (tf-idf text spreads by about 7, columns of scales 1e-4 to 1e4 with an
# L2 term of 1e-4 by 1e6).
FEATURE_SCALE_SPREAD = 1e3
# Rows per parameter in the sample that estimates the Hessian.
HESSIAN_SAMPLE = 10
# The estimate is made only where it costs at most this many Hessian
# products in arithmetic (see sampled_hessian_pays).
HESSIAN_ESTIMATE_COST = 60


def dense_hessian_fits(objective, n_free_coefficients):
    """Whether the Hessian of ``k`` free coefficients is small enough to
    form and factor: at most ``DIRECT_NEWTON_SIZE`` of them, and no more
    than the samples (the shape rule the solver table's routes go by)."""
    return objective.n_outputs == 1 and n_free_coefficients <= min(
        DIRECT_NEWTON_SIZE, objective.X.shape[0]
    )


def use_dense_hessian(objective, n_free_coefficients):
    """Form and factor the Hessian, or use conjugate gradients on products?

    Forming costs about ``n_samples * k**2`` and factoring ``k**3 / 3`` for
    ``k`` free coefficients; a product costs two passes over ``X``. Dense
    wins for moderate ``k`` up to the number of samples, except on a sparse
    ``X`` so sparse that ``SPARSE_PRODUCTS`` products cost less than the
    factorization alone.
    """
    if not dense_hessian_fits(objective, n_free_coefficients):
        return False
    X = objective.X
    if not sp.issparse(X):
        return True
    return n_free_coefficients**3 / 3 <= SPARSE_PRODUCTS * 2 * (X.nnz + X.shape[0])


@dataclass
class NewtonResult(SolverResult):
    """A ``SolverResult`` with the work of the inner solves: Hessians formed
    and factored, quasi-Newton steps, Hessian products of conjugate
    gradients, and steps whose conjugate gradients were preconditioned."""

    hessians: int = 0
    quasi_newton_steps: int = 0
    hessian_products: int = 0
    preconditioned_steps: int = 0


@dataclass
class _Point:
    """A point of the iteration with what is known there."""

    params: np.ndarray
    raw: np.ndarray
    value: float
    gradient: np.ndarray

    @property
    def largest(self):
        return np.max(np.abs(self.gradient))


def solve_newton(
    objective,
    coef,
    intercept,
    *,
    max_iter,
    tol,
    on_iteration=no_callback,
    approach=False,
    precondition_after=PRECONDITION_AFTER,
):
    """Newton's method with an exact line search, for a smooth loss and no L1 part.

    Each step solves ``H d = -g`` with the (generalized) Hessian, by the
    inner solve its size calls for (module docstring), to a relative
    residual ``min(0.1, sqrt(|g|))`` that tightens as the gradient vanishes
    (superlinear convergence); ``line_search`` then finds the step length.
    The prediction ``X @ W + b`` is computed once per point and shared by
    the gradient, the Hessian and the line search. On a piecewise-quadratic
    loss (Huber, the Moreau envelope of hinge or pinball) the generalized
    Hessian is exact on each piece, so the method stops after a few steps
    once the pieces are identified. Stops when the largest gradient entry is
    at most ``tol``, or when no step decreases the objective in floating
    point (the point is then as good as it gets); a step that raises the
    value by less than its rounding counts if it at least halves the
    largest gradient entry.

    With ``approach``, a formed Hessian and a cold start, the first steps are
    quasi-Newton steps (``QuasiNewtonApproach``) until the curvature settles. Conjugate
    gradients are preconditioned once a step takes more than
    ``precondition_after`` products (``ConjugateGradients``). Returns a
    ``NewtonResult``.
    """
    point = _start_point(objective, coef, intercept)
    dense = use_dense_hessian(objective, objective.n_coef)
    inner = (
        FactoredHessian(objective)
        if dense
        else ConjugateGradients(objective, tol, precondition_after)
    )
    # From a warm start (a previous fit, a path's previous alpha) the curvature
    # is already near its final value: Newton's method from the first step.
    warm = np.any(coef)
    approaching = (
        QuasiNewtonApproach(objective) if approach and dense and not warm else None
    )
    quasi_newton_steps = 0
    progress = _Progress(point)
    converged, stop = False, ""
    n_iter = 0
    while n_iter < max_iter:
        if point.largest <= tol:
            converged = True
            break
        n_iter += 1
        on_iteration()
        if dense:
            curvature = objective.curvature(point.raw)
            if approaching is not None and not approaching.goes_on(n_iter, curvature):
                approaching = None
            solver = inner if approaching is None else approaching
            quasi_newton_steps += approaching is not None
            step = solver.direction(point, curvature)
        else:
            step = inner.direction(point, None)
        trial = _step_along(objective, point, step)
        if not _resolved(point, trial) or progress.stalled(trial):
            # No decrease left in floating point: converged if the gradient
            # is at rounding level, stuck (and reported) otherwise.
            point = trial if _resolved(point, trial) else point
            converged = point.largest <= max(tol, ROUNDING_GRADIENT)
            stop = "" if converged else stalled(point.largest)
            break
        if approaching is not None and not approaching.record(point, trial):
            approaching = None
        point = trial
    coef, intercept = objective.unpack(point.params)
    return NewtonResult(
        coef,
        intercept,
        max(n_iter, 1),
        converged,
        "newton",
        stop=stop,
        hessians=inner.hessians,
        quasi_newton_steps=quasi_newton_steps,
        hessian_products=inner.total_products,
        preconditioned_steps=inner.preconditioned_steps,
        raw=point.raw,
    )


def _start_point(objective, coef, intercept):
    """The ``_Point`` at ``(coef, intercept)``; its scores live only as long
    as the point (with many classes they are as large as ``X``)."""
    params = objective.pack(coef, intercept)
    raw = objective.raw_prediction(coef, intercept)
    return _Point(params, raw, *objective.smooth_value_gradient(params, raw=raw))


def stalled(largest):
    """The ``stop`` of a method that no step can improve in floating point."""
    return (
        "no step decreases the objective in floating point, at a largest "
        f"gradient entry of {largest:.1e}"
    )


def _step_along(objective, point, step):
    """The point the line search reaches along ``step`` (steepest descent
    where ``step`` is not a usable descent direction).

    ``point`` loses its scores (``raw``) once the line search is done: only
    its parameters, value and gradient serve afterwards, and with many
    classes the scores are as large as ``X``, so holding them while the
    trial's derivatives are formed would make the peak one ``X`` higher.
    """
    # A (nearly) singular Hessian can give a step too long to represent:
    # then steepest descent, whose length the line search chooses.
    step_is_usable = np.all(np.abs(step) < LONGEST_STEP)
    slope = point.gradient @ step if step_is_usable else np.nan
    if not np.isfinite(slope) or slope >= 0:
        step = -point.gradient
        slope = -(np.linalg.norm(point.gradient) ** 2)
    found = line_search(objective, point.params, point.raw, step, point.value, slope)
    point.raw = None
    trial = point.params + found.length * step
    value, gradient = objective.smooth_value_gradient(
        trial, raw=found.raw, pointwise=found.pointwise
    )
    return _Point(trial, found.raw, value, gradient)


def _resolved(point, trial):
    """Whether the step from ``point`` to ``trial`` counts as progress.

    Any decrease of the value does. At the end the value no longer resolves
    a step that still shrinks the gradient (with a feature of scale 1e3,
    from 1e-8 to 1e-10 while the value rose by two units in the last
    place): such a step counts where the value is within its rounding and
    the largest gradient entry at least halves (rounding noise does not
    keep halving it; docs/solvers.rst has the cases behind both rules).
    """
    return trial.value < point.value or halved_within_rounding(
        point.value, trial.value, point.largest, trial.largest
    )


def halved_within_rounding(value, trial_value, largest, trial_largest):
    """Whether a step kept the value within its rounding and at least
    halved the largest gradient (or residual) entry."""
    return (
        trial_value <= value + VALUE_RESOLUTION * abs(value)
        and trial_largest <= 0.5 * largest
    )


class _Progress:
    """Whether the steps still make progress that floating point resolves.

    A step counts if it lowers the value at all (``_resolved``), and near
    the end that is often by a unit in the last place: where the gradient
    itself is only known to rounding (a narrow smoothing, whose slopes are
    residuals divided by it), such steps can go on without end. Every
    ``STALL_STEPS`` steps, the value must have dropped by more than its
    rounding or the largest gradient entry must have halved.
    """

    def __init__(self, point):
        # The mark's value and largest entry, not the point: its scores are
        # as large as X with many classes.
        self.value, self.largest, self.steps = point.value, point.largest, 0

    def stalled(self, point):
        self.steps += 1
        if self.steps < STALL_STEPS:
            return False
        decreased = self.value - point.value > VALUE_RESOLUTION * abs(point.value)
        shrunk = point.largest <= 0.5 * self.largest
        self.value, self.largest, self.steps = point.value, point.largest, 0
        return not (decreased or shrunk)


def chord_steps_pay(objective, n_params, work=CHORD_WORK):
    """Whether a Hessian on ``n_params`` parameters costs enough to form that
    reusing it while the curvature is close (chord steps) pays."""
    return objective.X.shape[0] * n_params**2 >= work


def kept_hessian_pays(objective, n_params):
    """Whether a Hessian is worth keeping for, and taking from, a path's
    previous alpha (``keep_hessian``, ``kept_hessian``)."""
    return chord_steps_pay(objective, n_params, CHORD_WORK_ACROSS_SOLVES)


def curvature_is_close(curvature, reference):
    """Whether each sample's curvature is within ``CURVATURE_DRIFT`` of the reference.

    Then ``(1 - drift) H_ref <= H <= (1 + drift) H_ref`` (the L2 term only
    helps), so a step with ``H_ref`` in place of ``H`` contracts the error by
    about ``drift`` per step.
    """
    return bool(np.all(np.abs(curvature - reference) <= CURVATURE_DRIFT * reference))


class FactoredHessian:
    """Inner solve by the formed and factored Hessian, kept while it is close.

    Forming the Hessian costs ``n_features`` passes over ``X`` in arithmetic
    (about ``n_features / 10`` at BLAS speed), a step with a stored factor
    almost nothing: near the optimum, where the curvature has stopped
    moving, the stored one serves (a chord step, linear convergence at rate
    ``CURVATURE_DRIFT``).
    """

    def __init__(self, objective):
        self.objective = objective
        self.factor = None
        self.factored = None
        # The work done, for NewtonResult (no products: the factor solves).
        self.hessians = self.total_products = self.preconditioned_steps = 0

    def direction(self, point, curvature):
        if (
            self.factor is None
            or not chord_steps_pay(self.objective, point.params.size)
            or not curvature_is_close(curvature, self.factored)
        ):
            # The first step may take a path's previous alpha's Hessian (on
            # 10,000 x 50, forming one was half the cost of each path point).
            hessian, kept_at = formed_or_kept_hessian(
                self.objective,
                point.params,
                point.raw,
                curvature,
                take_kept=self.factor is None,
            )
            self.hessians += kept_at is None
            self.factor = factor_symmetric(hessian, overwrite=True)
            self.factored = curvature if kept_at is None else kept_at
        return self.factor(-point.gradient)


def keep_hessian(objective, curvature, hessian):
    """Keep a copy of ``hessian`` (formed at ``curvature``) without its L2
    term on ``objective``, for its solve at a path's next alpha; only where
    it is small against ``X`` (a copy as large as ``X`` would raise the
    peak memory of wide problems)."""
    if 4 * hessian.size > objective.X.size:
        return
    data_part = hessian.copy()
    diagonal_view(data_part)[: objective.n_coef] -= objective.penalty.l2
    objective.kept_hessian = (objective.loss, curvature, data_part)


def kept_hessian(objective, curvature):
    """The Hessian ``keep_hessian`` kept on ``objective``, with the current
    L2 term (a new array), where it was formed for the same loss at a
    curvature within ``CURVATURE_DRIFT`` of ``curvature``; else None."""
    kept = objective.kept_hessian
    if (
        kept is None
        or kept[0] is not objective.loss
        or not curvature_is_close(curvature, kept[1])
    ):
        return None
    hessian = kept[2].copy()
    diagonal_view(hessian)[: objective.n_coef] += objective.penalty.l2
    return hessian


def formed_or_kept_hessian(objective, params, raw, curvature, take_kept):
    """The Hessian for a step at ``params``: the one a path's previous alpha
    kept (``kept_hessian``), where ``take_kept`` and it serves; else formed
    at ``curvature``, and kept for the next alpha where that pays
    (``kept_hessian_pays``). Returns ``(hessian, the curvature the kept one
    was formed at, or None where it was formed now)``."""
    across = kept_hessian_pays(objective, params.size)
    if across and take_kept:
        hessian = kept_hessian(objective, curvature)
        if hessian is not None:
            return hessian, objective.kept_hessian[1]
    hessian = objective.hessian_matrix(params, raw=raw, curvature=curvature)
    if across:
        keep_hessian(objective, curvature, hessian)
    return hessian, None


class ConjugateGradients:
    """Inner solve by conjugate gradients on Hessian-vector products.

    Where they start to take many products (more than
    ``precondition_after``), a Hessian estimated from a sample of rows
    preconditions them (where that pays, ``sampled_hessian_pays``); it is
    re-estimated at each step from then on. Elsewhere, on features of
    widely spread scales, the Hessian's diagonal for a unit curvature
    (``feature_scale_preconditioner``) does, from then on: it undoes the
    scales, which plain CG does not (five classes on correlated columns of
    scales 1e-4 to 1e4: every step ran to its product limit, and 1,000
    steps ended at a gap of 4e2). They stop at the finishing residual
    ``tol / 2`` (``conjugate_gradient``).
    """

    def __init__(self, objective, tol, precondition_after=PRECONDITION_AFTER):
        self.objective = objective
        self.tol = tol
        self.precondition_after = precondition_after
        self.products = 0
        self.preconditioner = None
        # The work done, for NewtonResult (no Hessian is formed).
        self.hessians = self.total_products = self.preconditioned_steps = 0

    def direction(self, point, curvature):
        objective = self.objective
        size = point.params.size
        hessian = LinearOperator(
            (size, size),
            matvec=objective.hessian_operator(point.params, raw=point.raw),
            dtype=float,
        )
        if self.products > self.precondition_after:
            if sampled_hessian_pays(objective):
                self.preconditioner = sampled_hessian_preconditioner(
                    objective, point.raw
                )
            elif self.preconditioner is None:
                # None again where the scales are alike (a test over the
                # cached scales, O(p)).
                self.preconditioner = feature_scale_preconditioner(objective)
        step, self.products = conjugate_gradient(
            hessian,
            -point.gradient,
            rtol=forcing_term(np.linalg.norm(point.gradient)),
            maxiter=size + 20,
            preconditioner=self.preconditioner,
            finish=0.5 * self.tol,
        )
        self.total_products += self.products
        self.preconditioned_steps += self.preconditioner is not None
        return step


class QuasiNewtonApproach:
    """L-BFGS steps (two-loop recursion on the last ``APPROACH_MEMORY``
    pairs) until the factored Hessian is worth forming.

    From a cold start the curvature moves so much per step that a Hessian
    formed at one point is of little use at the next. The steps work in the
    coordinates of the diagonal preconditioner
    (``LinearObjective.feature_scale``). The approach ends once no sample's
    curvature moves by more than ``CURVATURE_DRIFT`` in a step, once a step
    does not shrink the largest gradient entry (the quasi-Newton steps
    stall: separable data, badly scaled features), or after
    ``APPROACH_STEPS`` steps; Newton's method then finishes, in one to
    three steps.
    """

    def __init__(self, objective):
        self.scale = parameter_scale(objective)
        self.pairs = collections.deque(maxlen=APPROACH_MEMORY)
        self.previous_curvature = None

    def goes_on(self, n_iter, curvature):
        """Whether iteration ``n_iter``, with this curvature, still approaches."""
        settled = self.previous_curvature is not None and curvature_is_close(
            curvature, self.previous_curvature
        )
        self.previous_curvature = curvature
        return not (n_iter > APPROACH_STEPS or settled)

    def direction(self, point, curvature):
        gradient = point.gradient / self.scale
        return -quasi_newton_direction(gradient, self.pairs) / self.scale

    def record(self, point, trial):
        """Keep the step's pair; whether the approach goes on after it.

        Convexity makes ``moved . turned >= 0``; a pair without positive
        curvature (rounding) would break the update's positive definiteness.
        """
        moved = trial.params - point.params
        turned = trial.gradient - point.gradient
        if moved @ turned > 0:
            self.pairs.append((moved * self.scale, turned / self.scale))
        return trial.largest < point.largest


def feature_scale_preconditioner(objective):
    """The inverse of the Hessian's diagonal for a loss of unit curvature:
    ``feature_scale()**2`` per coefficient (each class's alike), 1 per
    intercept; None where the features' scales spread by less than
    ``FEATURE_SCALE_SPREAD``. Costs a division per application; the
    curvature's own level is one factor for all entries, which CG ignores.
    Where the scales are alike it only adds the curvature's variation to
    the system: tf-idf text and wide dense problems took as many products
    or more, and 10-40% longer."""
    scale = objective.feature_scale()
    if np.max(scale) < FEATURE_SCALE_SPREAD * np.min(scale):
        return None
    diagonal = parameter_scale(objective) ** 2
    size = diagonal.size
    return LinearOperator((size, size), matvec=lambda v: v.ravel() / diagonal)


def parameter_scale(objective):
    """``feature_scale()`` per coefficient (each class's alike) and 1 per
    intercept, in the order of ``objective.pack``."""
    scale = np.ones(objective.n_params)
    scale[: objective.n_coef] = np.repeat(
        objective.feature_scale(), objective.n_outputs
    )
    return scale


def sampled_hessian_rows(objective):
    """How many rows estimate the Hessian: ``HESSIAN_SAMPLE`` per parameter."""
    return min(objective.X.shape[0], HESSIAN_SAMPLE * objective.n_params)


def sampled_hessian_pays(objective):
    """A multinomial problem on which a sampled Hessian saves time.

    Forming the estimate on ``m`` rows and inverting it take about
    ``2 m p**2 + 2 p**3`` operations for ``p`` parameters, a Hessian product
    ``4 n p`` on ``n`` samples: the estimate costs ``(m p + p**2) / (2 n)``
    products. Where it costs more than ``HESSIAN_ESTIMATE_COST`` products
    (measured: it saved time up to 47 and cost time from 119 on,
    docs/solvers.rst), conjugate gradients go on without it. At most
    ``DIRECT_NEWTON_SIZE`` parameters.
    """
    if not objective.loss.has_block_curvature:
        return False
    size = objective.n_params
    cost = (sampled_hessian_rows(objective) * size + size**2) / (
        2 * objective.X.shape[0]
    )
    return size <= DIRECT_NEWTON_SIZE and cost <= HESSIAN_ESTIMATE_COST


def sampled_hessian_preconditioner(objective, raw):
    """The inverse Hessian on evenly spaced rows, as a preconditioner for CG.

    ``HESSIAN_SAMPLE`` rows per parameter (all rows if there are fewer):
    the estimate is then within a modest factor of the Hessian, so that
    preconditioned CG needs a few products where plain CG needs tens (on
    30,000 x 100 with five classes: 29 products instead of 55 per fit).
    The scores move every intercept of a sample alike, which changes
    nothing: the preconditioner works on the complement of that direction.
    """
    n_samples = raw.shape[0]
    size = objective.n_params
    n_rows = sampled_hessian_rows(objective)
    rows = np.unique(np.linspace(0, n_samples - 1, n_rows).astype(np.intp))
    hessian = objective.sampled_multinomial_hessian(raw, rows)
    hessian[np.diag_indices_from(hessian)] += 1e-10 * np.max(np.diag(hessian))
    # The explicit inverse, by NumPy: each application is then one product
    # in NumPy's BLAS, like the Hessian products around it (SciPy's LAPACK
    # runs on a second OpenBLAS thread pool, docs/solvers.rst).
    try:
        inverse = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return None
    n_coef = objective.n_coef

    def without_common_intercept(vector):
        vector = np.array(vector, dtype=float).ravel()
        if objective.fit_intercept:
            vector[n_coef:] -= vector[n_coef:].mean()
        return vector

    def apply(vector):
        return without_common_intercept(inverse @ without_common_intercept(vector))

    return LinearOperator((size, size), matvec=apply, dtype=float)
