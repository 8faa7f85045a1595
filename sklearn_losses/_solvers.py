"""Solvers, and the one place where a solver is chosen for a problem.

``solve`` picks the method from two facts: whether the loss is smooth, and
whether the penalty has an L2 part.

=====================  =====================  ==================================
loss                   penalty                method
=====================  =====================  ==================================
smooth, one output     L2 or none             Newton's method (``solve_newton``),
(Huber, squared                               from quasi-Newton steps while
hinge, logistic)                              the curvature moves
                       L1 or elastic net      projected Newton on the orthants
                                              (``solve_orthant_newton``)
multinomial            L2 or none             Newton's method, conjugate
                                              gradients on Hessian products
                                              (preconditioned by a sampled
                                              Hessian once they take many)
multinomial, focal     L1, elastic net;       L-BFGS-B, on the split
                       focal: any             ``W = W+ - W-``, ``W+-`` >= 0
                                              for an L1 part
piecewise linear       none or pure L1        dual linear program (HiGHS IPM),
(hinge, pinball)                              screened on many samples
                       L2, many features      the box-constrained dual by
                                              L-BFGS-B, an exact active-set
                                              step, certified by the gap
                       L2 or elastic net      smoothing with continuation
                                              (Newton per level, the later
                                              ones on the rows near the
                                              kink), an exact active-set
                                              step, certified by the
                                              duality gap
=====================  =====================  ==================================

None of these treats a kink as if it were smooth: the split turns the L1
norm into a linear function on a box, the orthant-wise Newton method works
on one orthant at a time (where the L1 norm is linear) and projects onto
it, the linear program is exact, and the smoothed problems are only a route
to a dual point; the duality gap certifies the final answer.
Every method returns a :class:`SolverResult`.
"""

import collections
import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_solve
from scipy.optimize import Bounds, linprog, minimize
from scipy.sparse.linalg import LinearOperator, minres

from ._objective import LinearObjective, blas_on_one_thread

# L-BFGS-B also stops on a relative decrease of the objective below ftol;
# scikit-learn uses 64 * eps, small enough that the gradient test decides.
_FTOL = 64 * np.finfo(float).eps
# The smallest relative duality gap the smoothed-dual solver is asked to
# certify: where most samples sit on the kink, a floating-point dual bound
# is itself only this accurate, though the primal point is usually exact.
_GAP_FLOOR = 1e-8
# Up to this many parameters, Newton's method forms the Hessian (over the
# samples of non-zero curvature only) and factors it; beyond, it uses
# conjugate gradients on Hessian-vector products.
_DIRECT_NEWTON_SIZE = 1000
_ORTHANT_NEWTON_STEPS = 50
# A smoothed piecewise-linear loss (with its L2 part) needs more: each step
# moves only the samples near the band's edges, about p / 3 steps at narrow
# smoothing (101 at p = 300), where L-BFGS-B took 838 iterations.
_SMOOTHED_ORTHANT_NEWTON_STEPS = 500
# Conjugate gradients that took more products than this on the last Newton
# step get a preconditioner (multinomial; see _sampled_hessian_preconditioner)
_PRECONDITION_AFTER = 6
# Rows per parameter in the sample that estimates the Hessian.
_HESSIAN_SAMPLE = 10
# The estimate is made only where it costs at most this many Hessian
# products in arithmetic (see _sampled_hessian_pays).
_HESSIAN_ESTIMATE_COST = 60
# Consecutive steepest-descent steps (Newton's direction failing) after
# which the orthant-wise Newton method hands over.
_GRADIENT_STEPS = 5
# Newton steps longer than this (in any coordinate) are not trusted.
_LONGEST_STEP = 1e100
# Where no step decreases the objective, a gradient this small counts as
# converged (rounding level of a gradient with entries of order one).
_ROUNDING_GRADIENT = 1e-8
# The line search accepts a step once the derivative along the line has
# shrunk to this fraction of its size at the start (strong Wolfe).
_CURVATURE_CONDITION = 0.001
# Newton's method keeps a factored Hessian while no sample's curvature has
# moved by more than this fraction of it.
_CURVATURE_DRIFT = 0.1
# Newton's method with a formed Hessian approaches by quasi-Newton (L-BFGS)
# steps, each two passes over X, until no sample's curvature moves by more
# than _CURVATURE_DRIFT in a step (a Hessian formed before that is thrown
# away at the next step) or a step does not shrink the gradient; for at most
# this many steps, with this many stored pairs.
_APPROACH_STEPS = 10
_APPROACH_MEMORY = 10
# Conjugate gradients go on past their relative residual to the finishing
# residual (tol / 2) when that is at most this many times smaller: measured
# on sparse logistic, squared hinge and Huber and on multinomial, 10 ends
# the fit one Newton step earlier at a cost of a few products.
_FINISH_REACH = 10.0
# A decrease of the objective smaller than this, relative to its value, is
# lost in the rounding of a sum over the samples.
_VALUE_RESOLUTION = 1e3 * np.finfo(float).eps
# Linear programs over more samples than this (and than _SCREENING_FREE
# per parameter, four times over) are screened: a smoothed fit fixes most
# samples' dual variables (see solve_linear_program), in at most
# _SCREENING_ROUNDS programs.
_SCREENING_MINIMUM = 2000
# The smoothing rounds of the screening fit stop once at most this many
# samples per parameter lie within _SCREENING_REACH smoothings of the kink
# (or after _SCREENING_SMOOTHINGS rounds); those samples, and at least this
# many per parameter nearest the kink, are the first program's variables.
_SCREENING_FREE = 4.0
_SCREENING_REACH = 2.0
_SCREENING_SMOOTHINGS = 4
_SCREENING_ROUNDS = 10
# HiGHS's presolve finds nothing to remove in these programs (dense columns,
# box bounds) and costs time and memory: at 6,744 x 101 (pinball L1, 30k x
# 100) 0.92 -> 0.63 s and 117 -> 83 MB of resident growth without it.
_HIGHS_PRESOLVE = False
# Rounds of the smoothing continuation, tenfold narrower each.
_SMOOTHING_ROUNDS = 12
# The first smoothed problem starts from its solution on evenly spaced rows,
# this many per parameter and at least _SUBSAMPLE_MINIMUM.
_SUBSAMPLE_ROWS = 50
_SUBSAMPLE_MINIMUM = 5000
# Later ones keep the rows of the samples within this many times the
# previous smoothing of the kink (folding the others), unless they are more
# than _CANDIDATE_SHARE of all; samples that cross the band join them, up
# to _CANDIDATE_EXPANSIONS solves.
_CANDIDATE_REACH = 2.0
_CANDIDATE_SHARE = 0.25
_CANDIDATE_EXPANSIONS = 4
# Rounds of the active-set method from each smoothed solution: it finishes
# in one to three where its start is right, and cycles where it is not
# (measured), when the next, narrower smoothing does better.
_ATTEMPT_ROUNDS = 10
# An L2 strength below this, on a piecewise-linear loss, is first tried as
# negligible (see _l2_term_is_negligible).
_NEGLIGIBLE_L2 = 1e-50


def _no_callback():
    """Default of ``on_iteration``: nothing to report."""


@dataclass
class SolverResult:
    """What a solver returns: the fitted parameters and how it got there."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    converged: bool
    method: str


def solve(objective, coef, intercept, *, max_iter, tol, on_iteration=None):
    """Minimize ``objective`` from ``(coef, intercept)`` with the method it calls for.

    Parameters
    ----------
    objective : LinearObjective
        The problem.
    coef : ndarray of shape (n_features, n_outputs)
        Starting coefficients (zeros, or the previous fit for ``warm_start``).
    intercept : ndarray of shape (n_outputs,)
        Starting intercepts.
    max_iter : int
        Iteration budget of the method.
    tol : float
        Stopping tolerance: on the largest entry of the projected gradient
        for the smooth methods, on the relative duality gap for the dual;
        the linear program is solved to HiGHS's own (exact) tolerances.
    on_iteration : callable or None, default=None
        Called with no argument after each iteration of the method (for
        progress callbacks); a linear program is one step.

    Returns
    -------
    SolverResult
    """
    options = dict(
        max_iter=max_iter, tol=tol, on_iteration=on_iteration or _no_callback
    )
    threads = (
        blas_on_one_thread()
        if objective.products_on_own_threads
        else contextlib.nullcontext()
    )
    with threads:
        # The conversions too: a dot product of many features outside the
        # limit wakes OpenBLAS's threads, which then spin on the cores that
        # the products' own threads need (the first 90 ms of a fit on
        # 50,000 x 20,000 sparse ran at one thread's speed).
        intercept = objective.to_centered_intercept(coef, intercept)
        result = _solve_by_chosen_method(objective, coef, intercept, options)
        result.intercept = objective.from_centered_intercept(
            result.coef, result.intercept
        )
    return result


def _solve_by_chosen_method(objective, coef, intercept, options):
    """The body of ``solve``: the table of the module docstring, in code."""
    max_iter = options["max_iter"]
    zero = None
    if objective.loss.is_smooth and objective.l1_strength > 0:
        zero, best_intercept = _solve_if_zero_is_optimal(
            objective, intercept, **options
        )
        if not np.any(coef):
            # A cold start: the best intercept for W = 0 is a better one.
            intercept = best_intercept
    if zero is not None:
        result = zero
    elif objective.loss.is_smooth and hasattr(objective.loss, "hessian"):
        if objective.l1_strength == 0:
            result = solve_newton(objective, coef, intercept, **options, approach=True)
        elif hasattr(objective.loss, "linear_tails") and objective.l2_strength == 0:
            result = _solve_from_linear_tails(objective, coef, intercept, **options)
        else:
            coef, intercept, spent = _subsample_start(
                objective, solve_orthant_newton, coef, intercept, options
            )
            if spent >= max_iter:
                # The subsample took every iteration: the start, unconverged.
                result = SolverResult(
                    coef, intercept, max_iter, False, "orthant-newton"
                )
            else:
                result = solve_orthant_newton(
                    objective,
                    coef,
                    intercept,
                    **dict(options, max_iter=max_iter - spent),
                )
                result.n_iter += spent
    elif hasattr(objective.loss, "hessian_product_factory") and (
        objective.l1_strength == 0
    ):
        result = solve_newton(objective, coef, intercept, **options)
    elif objective.loss.is_smooth:
        result = solve_smooth(objective, coef, intercept, **options)
    else:
        # A piecewise-linear loss: the linear program (which leaves out the
        # L2 term) where there is no L2 term or it may be negligible, the
        # smoothed dual where it matters.
        result = None
        if objective.l2_strength <= _NEGLIGIBLE_L2:
            result = solve_linear_program(objective, max_iter=max_iter)
            options["on_iteration"]()
            if objective.l2_strength > 0 and not _l2_term_is_negligible(
                objective, result
            ):
                result = None
        if result is None and _suits_box_dual(objective):
            result = solve_box_dual(objective, coef, intercept, **options)
        elif result is None:
            result = solve_smoothed_dual(objective, coef, intercept, **options)
    return result


def _solve_if_zero_is_optimal(objective, intercept, **options):
    """``W = 0`` with its best intercept, if that is the optimum.

    Returns ``(result or None, the best intercept for W = 0)``.

    With an L1 part ``l1 * |W|_1`` and ``b*`` the best intercept for
    ``W = 0``, the point ``(0, b*)`` is optimal exactly when no coefficient's
    gradient there exceeds ``l1`` in size (the subgradient condition at
    zero). Above that largest useful penalty the whole fit is a problem in
    the intercept alone, whose predictions are constant (passes of the loss,
    no product with ``X``), and one product ``X.T @ g`` that certifies it:
    the full solver took about 20 products to find the same point.
    """
    n_outputs = objective.n_outputs
    coef = np.zeros((objective.n_features, n_outputs))
    # The check is one step of the fit, reported once if it ends the fit:
    # the intercept's own iterations are not the fit's.
    on_iteration = options.pop("on_iteration")
    if not objective.fit_intercept:
        intercept = np.zeros(n_outputs)
    elif (
        constant := objective.loss.best_constant(objective.y, objective.sample_weight)
    ) is not None:
        intercept = constant
    else:
        # The same problem on no features: only the intercept is free, and
        # ``solve`` picks its method as for any problem without an L1 part.
        intercept_only = LinearObjective(
            objective.loss,
            objective.X[:, :0],
            objective.y,
            objective.sample_weight,
            alpha=0.0,
            l1_ratio=0.0,
            fit_intercept=True,
            n_outputs=n_outputs,
            threads=objective.threads,
        )
        found = solve(intercept_only, coef[:0], intercept, **options)
        if not found.converged:
            return None, intercept
        intercept = found.intercept
    raw = np.broadcast_to(intercept, (objective.X.shape[0], n_outputs))
    raw = raw if objective.loss.is_multiclass else raw.ravel()
    _, gradient = objective.smooth_value_gradient(
        objective.pack(coef, intercept), raw=raw
    )
    if np.max(np.abs(gradient[: objective.n_coef])) > objective.l1_strength:
        return None, intercept
    on_iteration()
    return SolverResult(coef, intercept, 1, True, "zero-check"), intercept


def _solve_from_linear_tails(objective, coef, intercept, **options):
    """Huber with a pure L1 penalty: orthant Newton, restarted from a linear program.

    Where most residuals lie beyond the band, the generalized Hessian is
    (nearly) zero and the orthant-wise Newton method creeps. The problem
    with the loss replaced by its linear tails (least absolute deviations
    with the same L1 penalty) is a linear program, solved exactly; at the
    Huber optimum in that regime the samples sit where the two losses
    nearly agree, so Newton's method finishes from the program's solution
    in a step or two. Tried only if Newton alone does not converge.
    """
    max_iter = options["max_iter"]
    result = solve_orthant_newton(
        objective, coef, intercept, **options, fall_back_to_lbfgs=False
    )
    if result.converged or result.n_iter >= max_iter:
        return result
    tails, factor = objective.loss.linear_tails()
    lad = LinearObjective(
        tails,
        objective.X,
        objective.y,
        objective.sample_weight,
        alpha=objective.l1_strength / factor,
        l1_ratio=1.0,
        fit_intercept=objective.fit_intercept,
        threads=objective.threads,
    )
    start = solve_linear_program(lad, max_iter=max_iter)
    options["on_iteration"]()
    if not start.converged or objective.value(
        start.coef, start.intercept
    ) > objective.value(result.coef, result.intercept):
        start = result
    options["max_iter"] = max_iter - result.n_iter - 1
    restarted = solve_orthant_newton(objective, start.coef, start.intercept, **options)
    restarted.n_iter += result.n_iter + 1
    return restarted


def _l2_term_is_negligible(objective, result):
    """Whether the L2 term is below rounding at the linear program's optimum.

    With a tiny L2 strength (as after rescaling features of magnitude
    1e150) the smoothed dual divides by it; the linear program's solution,
    which leaves the L2 term out, is kept if ``l2 / 2 * |W|**2`` there is
    below ``eps * J``: it is then optimal to the last bit.
    """
    coef = result.coef
    with np.errstate(over="ignore"):
        l2_term = 0.5 * objective.l2_strength * (coef.ravel() @ coef.ravel())
    value = objective.value(coef, result.intercept)
    return result.converged and l2_term <= np.finfo(float).eps * abs(value)


def solve_smooth(
    objective, coef, intercept, *, max_iter, tol, on_iteration=_no_callback
):
    """L-BFGS-B for a smooth loss; the L1 part through the split ``W = W+ - W-``.

    On the split, ``l1 * sum(W+ + W-)`` is linear and the bounds ``W+-`` >= 0
    are handled exactly by L-BFGS-B's projection, so the kink of ``|w|`` at
    zero never reaches the line search.

    L-BFGS-B works on scaled coefficients ``V = D W`` with ``D`` the square
    root of the Hessian's diagonal for a unit-curvature loss,
    ``sqrt(mean square of the centered feature + l2)`` (a diagonal
    preconditioner: very large features, or an L2 term on tiny ones,
    otherwise stall it), so ``tol`` bounds the gradient in those units. A
    positive diagonal keeps the bounds of the split.
    """
    n_coef = objective.n_coef
    n_outputs = objective.n_outputs
    l1 = objective.l1_strength
    scale = np.repeat(objective.feature_scale(), n_outputs)
    start = objective.pack(coef, intercept)
    start[:n_coef] *= scale
    if l1 > 0:
        positive = np.maximum(start[:n_coef], 0.0)
        negative = np.maximum(-start[:n_coef], 0.0)
        start = np.concatenate([positive, negative, start[n_coef:]])
        bounds = Bounds(
            np.concatenate(
                [np.zeros(2 * n_coef), np.full(start.size - 2 * n_coef, -np.inf)]
            ),
            np.inf,
        )

        def unscale(split):
            return np.concatenate(
                [
                    (split[:n_coef] - split[n_coef : 2 * n_coef]) / scale,
                    split[2 * n_coef :],
                ]
            )

        def fun(split):
            value, gradient = objective.smooth_value_gradient(unscale(split))
            value += l1 * (split[:n_coef] / scale).sum()
            value += l1 * (split[n_coef : 2 * n_coef] / scale).sum()
            coef_gradient = gradient[:n_coef] / scale
            split_gradient = np.concatenate(
                [
                    coef_gradient + l1 / scale,
                    l1 / scale - coef_gradient,
                    gradient[n_coef:],
                ]
            )
            return value, split_gradient

    else:
        bounds = None

        def unscale(scaled):
            return np.concatenate([scaled[:n_coef] / scale, scaled[n_coef:]])

        def fun(scaled):
            value, gradient = objective.smooth_value_gradient(unscale(scaled))
            gradient[:n_coef] /= scale
            return value, gradient

    with blas_on_one_thread():
        result = minimize(
            fun,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=lambda intermediate_result: on_iteration(),
            options={
                "maxiter": max_iter,
                "maxfun": 2 * max_iter + 20,
                "ftol": _FTOL,
                "gtol": tol,
                "maxcor": 20,
            },
        )
    params = unscale(result.x)
    # Status 2 ("ABNORMAL_TERMINATION_IN_LNSRCH") means no further decrease
    # can be found in floating point; the point is as good as it gets.
    converged = result.status in (0, 2)
    if hasattr(objective.loss, "hessian"):
        params = _newton_polish(objective, params)
    coef, intercept = objective.unpack(params)
    return SolverResult(coef, intercept, max(result.nit, 1), converged, "lbfgs")


def solve_newton(
    objective,
    coef,
    intercept,
    *,
    max_iter,
    tol,
    on_iteration=_no_callback,
    approach=False,
):
    """Newton's method with an exact line search, for a smooth loss and no L1 part.

    Each step solves ``H d = -g`` with the (generalized) Hessian: formed and
    factored where that is cheap (``_use_dense_hessian``), else by conjugate
    gradients on Hessian products to a relative residual
    ``min(0.1, sqrt(|g|))`` that tightens as the gradient vanishes
    (superlinear convergence); ``_line_search`` then finds the step length.
    The prediction ``X @ W + b`` is computed once per point and shared by
    the gradient, the Hessian and the line search. On a piecewise-quadratic
    loss (Huber, the Moreau envelope of hinge or pinball) the generalized
    Hessian is exact on each piece, so the method stops after a few steps
    once the pieces are identified. Stops when the largest gradient entry is
    at most ``tol``, or when no step decreases the objective in floating
    point (the point is then as good as it gets); a step that raises the
    value by less than its rounding counts if it at least halves the
    largest gradient entry.

    With ``approach`` and a formed Hessian, the first steps are quasi-Newton
    (L-BFGS, :func:`_quasi_newton_direction`) steps instead: forming the
    Hessian costs about ``n_features / 10`` passes over ``X``, a quasi-Newton
    step two, and from a cold start the curvature moves so much per step
    that the Hessian formed at one point is of little use at the next.
    The quasi-Newton steps work in the coordinates of the diagonal
    preconditioner (``LinearObjective.feature_scale``). The Hessian is
    formed once no sample's curvature moves by more than
    ``_CURVATURE_DRIFT`` in a step, once a step does not shrink the largest
    gradient entry (the quasi-Newton steps stall: separable data, badly
    scaled features), or after ``_APPROACH_STEPS`` steps; from there
    Newton's method finishes as above, in one to three steps.
    """
    params = objective.pack(coef, intercept)
    raw = objective.raw_prediction(coef, intercept)
    value, gradient = objective.smooth_value_gradient(params, raw=raw)
    size = params.size
    converged = False
    n_iter = 0
    factor = factored = None
    products, preconditioner = 0, None
    dense = _use_dense_hessian(objective, objective.n_coef)
    approaching = approach and dense
    pairs = collections.deque(maxlen=_APPROACH_MEMORY)
    previous_curvature = None
    if approaching:
        scale = np.ones(size)
        scale[: objective.n_coef] = np.repeat(
            objective.feature_scale(), objective.n_outputs
        )
    while n_iter < max_iter:
        if np.max(np.abs(gradient)) <= tol:
            converged = True
            break
        n_iter += 1
        on_iteration()
        norm = np.linalg.norm(gradient)
        if dense:
            curvature = objective.curvature(raw)
            if approaching and (
                n_iter > _APPROACH_STEPS
                or (
                    previous_curvature is not None
                    and _curvature_is_close(curvature, previous_curvature)
                )
            ):
                approaching = False
            previous_curvature = curvature
        if approaching:
            step = -_quasi_newton_direction(gradient / scale, pairs) / scale
        elif dense:
            # Forming the Hessian costs n_features passes over X in arithmetic
            # (about n_features / 10 at BLAS speed), a step with a stored
            # factor almost nothing: near the optimum, where the
            # curvature has stopped moving, the stored one serves (a chord
            # step, linear convergence at rate _CURVATURE_DRIFT).
            if factor is None or not _curvature_is_close(curvature, factored):
                factor = _factor_symmetric(
                    objective.hessian_matrix(params, raw=raw, curvature=curvature)
                )
                factored = curvature
            step = factor(-gradient)
        else:
            hessian = LinearOperator(
                (size, size),
                matvec=objective.hessian_operator(params, raw=raw),
                dtype=float,
            )
            # Where conjugate gradients start to take many products, a
            # Hessian estimated from a sample of rows preconditions them; it
            # is kept while it works and re-estimated when it no longer does.
            if products > _PRECONDITION_AFTER and _sampled_hessian_pays(objective):
                preconditioner = _sampled_hessian_preconditioner(objective, raw)
            step, products = _conjugate_gradient(
                hessian,
                -gradient,
                rtol=_forcing_term(norm),
                maxiter=size + 20,
                preconditioner=preconditioner,
                finish=0.5 * tol,
            )
        # A (nearly) singular Hessian can give a step too long to represent:
        # then steepest descent, whose length the line search chooses.
        step_is_usable = np.all(np.abs(step) < _LONGEST_STEP)
        slope = gradient @ step if step_is_usable else np.nan
        if not np.isfinite(slope) or slope >= 0:
            step, slope = -gradient, -(norm**2)
        length, trial_raw, pointwise = _line_search(
            objective, params, raw, step, value, slope
        )
        trial = params + length * step
        trial_value, trial_gradient = objective.smooth_value_gradient(
            trial, raw=trial_raw, pointwise=pointwise
        )
        # At the end the value no longer resolves a step that still shrinks
        # the gradient (with a feature of scale 1e3, from 1e-8 to 1e-10 while
        # the value rose by two units in the last place): such a step is
        # taken where the value is within its rounding and the largest
        # gradient entry at least halves (rounding noise does not keep
        # halving it; taking any shrink looped in noise to max_iter on a
        # 16-sample hinge fit). Any decrease still counts: the smoothing
        # rounds' Newton steps end with decreases of a few units in the last
        # place while the gradient shrinks slowly, and stopping them there
        # (halving asked of those too) left hinge L2 at 1e6 x 50 uncertified
        # after its fifth round: 1,000 iterations and 16 s instead of 100 and
        # 1.7 s.
        largest = np.max(np.abs(gradient))
        trial_largest = np.max(np.abs(trial_gradient))
        resolved = trial_value < value or (
            trial_value <= value + _VALUE_RESOLUTION * abs(value)
            and trial_largest <= 0.5 * largest
        )
        if not resolved:
            # No decrease left in floating point: converged if the gradient
            # is at rounding level, stuck (and reported) otherwise.
            converged = largest <= max(tol, _ROUNDING_GRADIENT)
            break
        if approaching:
            # A step that does not shrink the largest gradient entry: the
            # quasi-Newton steps stall, and Newton's method takes over.
            approaching = trial_largest < largest
            moved, turned = trial - params, trial_gradient - gradient
            # Convexity makes moved . turned >= 0; a pair without positive
            # curvature (rounding) would break the update's positive definiteness.
            if moved @ turned > 0:
                pairs.append((moved * scale, turned / scale))
        params, raw, value, gradient = trial, trial_raw, trial_value, trial_gradient
    coef, intercept = objective.unpack(params)
    return SolverResult(coef, intercept, max(n_iter, 1), converged, "newton-cg")


def _quasi_newton_direction(gradient, pairs):
    """The L-BFGS inverse-Hessian estimate times ``gradient`` (two-loop recursion).

    ``pairs`` holds the latest ``(s, y)``: a step between two points and
    the change of the gradient over it; the estimate starts from the
    multiple of the identity ``s . y / y . y`` of the newest pair (Nocedal
    and Wright, Algorithm 7.4). Without pairs, the gradient itself (a
    steepest-descent step, whose length the line search chooses).
    """
    direction = gradient.copy()
    if not pairs:
        return direction
    coefficients = []
    for moved, turned in reversed(pairs):
        coefficient = (moved @ direction) / (moved @ turned)
        direction -= coefficient * turned
        coefficients.append(coefficient)
    moved, turned = pairs[-1]
    direction *= (moved @ turned) / (turned @ turned)
    for (moved, turned), coefficient in zip(pairs, reversed(coefficients), strict=True):
        direction += (coefficient - (turned @ direction) / (moved @ turned)) * moved
    return direction


def solve_orthant_newton(
    objective,
    coef,
    intercept,
    *,
    max_iter,
    tol,
    on_iteration=_no_callback,
    fall_back_to_lbfgs=True,
    newton_steps=_ORTHANT_NEWTON_STEPS,
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
    minimum-norm subgradient's largest entry is at most ``tol``. If Newton
    does not settle within ``newton_steps``, L-BFGS-B on the split
    finishes, unless ``fall_back_to_lbfgs`` is false (the caller then has a
    better restart).
    """
    n_coef = objective.n_coef
    l1 = objective.l1_strength
    params = objective.pack(coef, intercept)

    def full_value(point, raw=None):
        """Objective, gradient of its smooth part, and the prediction, at point."""
        if raw is None:
            raw = objective.raw_prediction(*objective.unpack(point))
        smooth, gradient = objective.smooth_value_gradient(point, raw=raw)
        return smooth + l1 * np.abs(point[:n_coef]).sum(), gradient, raw

    value, gradient, raw = full_value(params)
    converged = False
    n_iter = 0
    # Newton settles on the right orthant within a few dozen steps or not
    # at all; past this budget L-BFGS-B on the split takes over.
    newton_budget = min(max_iter, newton_steps)
    gradient_steps = 0
    while n_iter < newton_budget:
        weights = params[:n_coef]
        coef_gradient = gradient[:n_coef]
        # Minimum-norm subgradient: the optimality residual.
        residual = np.where(
            weights != 0,
            coef_gradient + l1 * np.sign(weights),
            np.sign(coef_gradient) * np.maximum(np.abs(coef_gradient) - l1, 0.0),
        )
        residual = np.concatenate([residual, gradient[n_coef:]])
        if np.max(np.abs(residual)) <= tol:
            converged = True
            break
        n_iter += 1
        on_iteration()
        entering = np.sign(residual[:n_coef]) * (weights == 0)
        # Without an L2 part the Hessian has rank at most n_samples: let at
        # most that many coefficients be free, the zero ones entering by
        # the size of their violation (a working set).
        room = objective.X.shape[0] - np.count_nonzero(weights)
        if objective.l2_strength == 0 and np.count_nonzero(entering) > max(room, 1):
            candidates = np.flatnonzero(entering)
            order = np.argsort(-np.abs(residual[candidates]), kind="stable")
            entering[candidates[order[max(room, 1) :]]] = 0.0
        orthant = np.concatenate(
            [
                np.where(weights != 0, np.sign(weights), -entering),
                np.zeros(params.size - n_coef),
            ]
        )
        free = np.concatenate(
            [orthant[:n_coef] != 0, np.ones(params.size - n_coef, bool)]
        )
        reduced_gradient = residual[free]
        if _use_dense_hessian(objective, np.count_nonzero(free[:n_coef])):
            hessian = objective.hessian_matrix(
                params, columns=np.flatnonzero(free[:n_coef]), raw=raw
            )
            direction = _solve_symmetric(hessian, -reduced_gradient)
        else:
            product = objective.hessian_operator(params, raw=raw)
            operator = LinearOperator(
                (free.sum(), free.sum()),
                matvec=lambda v, product=product, free=free: product(_expand(v, free))[
                    free
                ],
                dtype=float,
            )
            norm = np.linalg.norm(reduced_gradient)
            direction, _ = _conjugate_gradient(
                operator,
                -reduced_gradient,
                rtol=_forcing_term(norm),
                maxiter=free.sum() + 20,
                finish=0.5 * tol,
            )
        trial, _, trial_raw = _projected_search(
            objective, params, raw, value, _expand(direction, free), orthant, residual
        )
        newton_failed = trial is None
        if newton_failed:
            trial, _, trial_raw = _projected_search(
                objective, params, raw, value, -residual, orthant, residual
            )
        if trial is None:
            # Neither the Newton nor the steepest-descent step decreases the
            # objective: at rounding level if the residual is, else stuck
            # (L-BFGS-B on the split then takes over, below).
            converged = np.max(np.abs(residual)) <= max(tol, _ROUNDING_GRADIENT)
            break
        params = trial
        value, gradient, raw = full_value(params, trial_raw)
        gradient_steps = gradient_steps + 1 if newton_failed else 0
        if gradient_steps > _GRADIENT_STEPS:
            # Newton's direction keeps failing (too little curvature, as
            # where every Huber residual is beyond the band): a different
            # method will do better than steepest descent.
            break
    coef, intercept = objective.unpack(params)
    if not converged and n_iter < max_iter and fall_back_to_lbfgs:
        # Switching orthants back and forth without settling (possible where
        # the Hessian is singular, e.g. Huber with a pure L1 penalty):
        # L-BFGS-B on the split finishes from here, robustly.
        result = solve_smooth(
            objective,
            coef,
            intercept,
            max_iter=max_iter - n_iter,
            tol=tol,
            on_iteration=on_iteration,
        )
        result.n_iter += n_iter
        return result
    return SolverResult(coef, intercept, max(n_iter, 1), converged, "orthant-newton")


def _projected_search(objective, params, raw, value, step, orthant, residual):
    """Backtracking along ``step`` projected onto the orthant.

    A coefficient that would cross zero stops there. The sufficient-decrease
    test uses the actual (projected) move: ``J(trial) <= J + 1e-4 *
    residual . (trial - params)``. Returns ``(trial, value, raw prediction
    at trial)``, or ``(None, None, None)`` when no length down to 1e-12
    decreases ``J``, or as soon as the decrease that the move promises is
    below what ``J`` can show in floating point (halving further could not
    help).

    The prediction moves linearly along the unprojected step, ``f + t * q``
    with ``q = X @ d`` computed once, so a trial where no coefficient
    crosses zero costs one pass over the samples; where some do, one
    product takes them back out.
    """
    n_coef = objective.n_coef
    if not np.all(np.isfinite(step)) or residual @ step >= 0:
        return None, None, None
    change = objective.raw_prediction(*objective.unpack(step))
    length = 1.0
    while length > 1e-12:
        trial = params + length * step
        crossed = orthant[:n_coef] * trial[:n_coef] < 0
        with np.errstate(over="ignore", invalid="ignore"):
            trial_raw = raw + length * change
            if crossed.any():
                taken_back = np.where(crossed, trial[:n_coef], 0.0)
                trial_raw -= objective.raw_prediction(
                    taken_back.reshape(-1, objective.n_outputs), 0.0
                )
            trial[:n_coef][crossed] = 0.0
            coef, _ = objective.unpack(trial)
            trial_value = objective.sample_weight @ objective.loss.loss(
                objective.y, trial_raw
            ) + objective.penalty(coef)
        promised = -(residual @ (trial - params))
        if trial_value < value and trial_value <= value - 1e-4 * promised:
            return trial, trial_value, trial_raw
        if promised <= _VALUE_RESOLUTION * abs(value):
            break
        length *= 0.5
    return None, None, None


def _line_search(objective, params, raw, step, value, slope):
    """Step length along ``step`` that satisfies the strong Wolfe conditions.

    Returns ``(length, raw_prediction at params + length * step, pointwise)``
    with ``pointwise`` the loss and its derivative per sample at that length
    (for ``smooth_value_gradient``), or None if they are not at hand. The
    prediction moves linearly, ``f + t * q`` with ``q = X @ d``, so each
    trial costs one pass over the samples and no product with ``X``. A
    trial is accepted as soon as it decreases the objective enough (Armijo,
    ``1e-4``) and the derivative along the line has shrunk to
    ``_CURVATURE_CONDITION`` of its size at ``t = 0`` (a Newton step near the
    optimum passes at ``t = 1``, one trial). Otherwise the derivative,
    non-decreasing because the objective is convex, has its root bracketed
    by extrapolating the secant of the derivative from ``t = 1`` (which for a
    Newton step from a point of very different curvature, such as a cold
    start, lands near the root at once, where doubling would take several
    trials) and found by the Illinois variant of regula falsi, which on a
    piecewise-quadratic loss (derivative piecewise linear) lands on it in a
    few trials. Falls back to halving until the Armijo condition holds if the
    root search stalls.
    """
    coef, _ = objective.unpack(params)
    step_coef, step_intercept = objective.unpack(step)
    change = objective.raw_prediction(step_coef, step_intercept)
    weight = objective.sample_weight
    l2 = objective.l2_strength
    coef_coef = coef.ravel() @ coef.ravel()
    coef_step = coef.ravel() @ step_coef.ravel()
    step_step = step_coef.ravel() @ step_coef.ravel()
    # The derivative along the line is sum_i s_i * L'_i . q_i: with s * q
    # formed once, one dot product per trial.
    weighted_change = objective.weighted(change).ravel()
    values = {}
    # The prediction and per-sample results of the latest trial, handed
    # back if accepted.
    latest = {}

    @np.errstate(over="ignore", invalid="ignore")
    def value_derivative(length):
        # Far along a long step the value may overflow to inf: that only
        # means "too far", which the bracketing below handles.
        trial_raw = raw + length * change
        pointwise = objective.pointwise(trial_raw)
        latest.clear()
        latest[length] = trial_raw, pointwise
        penalty = (
            0.5 * l2 * (coef_coef + 2 * length * coef_step + length**2 * step_step)
        )
        values[length] = weight @ pointwise[0] + penalty
        return (
            values[length],
            pointwise[1].ravel() @ weighted_change
            + l2 * (coef_step + length * step_step),
        )

    def acceptable(length, length_value, length_derivative):
        return length_value <= value + 1e-4 * length * slope and abs(
            length_derivative
        ) <= _CURVATURE_CONDITION * abs(slope)

    def result(length):
        if length in latest:
            return length, *latest[length]
        return length, raw + length * change, None

    low, low_derivative = 0.0, slope
    high = 1.0
    high_value, high_derivative = value_derivative(high)
    if -slope <= _VALUE_RESOLUTION * abs(value):
        # The whole step promises less than floating point resolves in the
        # value: values and derivatives along it are rounding noise, and
        # searching them is wasted work. The caller judges the full step.
        return result(high)
    for _ in range(60):
        if acceptable(high, high_value, high_derivative):
            return result(high)
        if high_derivative >= 0 or not np.isfinite(high_value):
            break
        # The derivative is still negative: extrapolate its secant to zero,
        # at most 8 times further (no curvature left along the line: 8).
        # Where the derivative is concave (curvature fading along the line,
        # as for logistic from a cold start) the secant falls short each
        # time: after a first shortfall, aim twice as far, to bracket.
        rise = high_derivative - low_derivative
        reach = -high_derivative * (high - low) / rise if rise > 0 else np.inf
        longer = high + (2.0 * reach if low > 0 else reach)
        longer = min(max(longer, 1.001 * high), 8.0 * high)
        low, low_derivative = high, high_derivative
        high = longer
        high_value, high_derivative = value_derivative(high)
    if high_derivative < 0 and np.isfinite(high_value):
        return result(high)
    side = 0
    for _ in range(50):
        if not (np.isfinite(high_derivative) and high_derivative > low_derivative):
            break
        middle = (low * high_derivative - high * low_derivative) / (
            high_derivative - low_derivative
        )
        if not low < middle < high:
            middle = 0.5 * (low + high)
        middle_value, middle_derivative = value_derivative(middle)
        if acceptable(middle, middle_value, middle_derivative):
            return result(middle)
        if middle_derivative == 0 or high - low <= 1e-3 * high:
            low = high = middle
            break
        if middle_derivative < 0:
            low, low_derivative = middle, middle_derivative
            if side == -1:
                high_derivative *= 0.5
            side = -1
        else:
            high, high_derivative = middle, middle_derivative
            if side == 1:
                low_derivative *= 0.5
            side = 1
    length = low if low > 0 else high
    # Guard against rounding: keep the step only if it satisfies Armijo.
    while length > 1e-12:
        if length not in values:
            value_derivative(length)
        if values[length] <= value + 1e-4 * length * slope:
            return result(length)
        length *= 0.5
    return result(length)


def _use_dense_hessian(objective, n_free_coefficients):
    """Form and factor the Hessian, or use conjugate gradients on products?

    Forming costs about ``n_samples * k**2`` and factoring ``k**3 / 3`` for
    ``k`` free coefficients; a product costs two passes over ``X``. Dense
    wins for moderate ``k`` up to the number of samples.
    """
    return objective.n_outputs == 1 and n_free_coefficients <= min(
        _DIRECT_NEWTON_SIZE, objective.X.shape[0]
    )


def _suits_box_dual(objective):
    """A pure L2 penalty on more features than a dense Newton system takes.

    There the box-constrained dual (and, in the active-set step, an
    iterative solve of the kink system) replaces the smoothed primal.
    """
    return objective.l1_strength == 0 and not _use_dense_hessian(
        objective, objective.n_features
    )


def _forcing_term(gradient_norm):
    """Relative residual to which conjugate gradients solve a Newton system.

    ``min(0.1, sqrt(|g|))`` tightens as the gradient vanishes, for
    superlinear convergence (Eisenstat and Walker). Near the end,
    ``_conjugate_gradient``'s ``finish`` takes over.
    """
    return min(0.1, np.sqrt(gradient_norm))


# Overflow (from a huge operator) shows as a non-finite solution, which the
# caller handles; no warning.
@np.errstate(all="ignore")
def _conjugate_gradient(
    operator, right, rtol, maxiter, preconditioner=None, finish=0.0
):
    """Conjugate gradients for ``operator @ x = right``, with a finishing test.

    Stops at a relative residual ``rtol`` in 2-norm, as ``scipy``'s ``cg``
    does, with two differences that save whole Newton steps:

    - it stops as soon as the largest entry of the residual is at most
      ``finish``: the gradient after a unit Newton step is about the
      residual, so with ``finish = tol / 2`` the next point passes the
      stopping test and solving further is wasted;
    - where the ``rtol`` solution would leave the largest entry within
      ``_FINISH_REACH`` times ``finish``, it goes on to ``finish``: a few
      more products instead of one more Newton step (an evaluation, a line
      search and a new solve).

    SciPy's ``cg`` cannot stop on a test of its own. ``preconditioner``
    (a ``LinearOperator`` applying an approximate inverse) as ``cg``'s
    ``M``. Returns the solution and the number of products with
    ``operator``; the solution is NaN if the first direction has no
    positive curvature (a singular generalized Hessian), and the caller
    then falls back to steepest descent. A later loss of curvature (only
    from rounding on a semi-definite operator) ends the iteration at the
    current point, which is a descent direction.
    """
    solution = np.zeros_like(right)
    residual = right.copy()
    target = rtol * np.linalg.norm(right)

    def precondition(vector):
        return vector if preconditioner is None else preconditioner.matvec(vector)

    preconditioned = precondition(residual)
    direction = preconditioned.copy()
    alignment = residual @ preconditioned
    products = 0
    while products < maxiter:
        largest = np.max(np.abs(residual), initial=0.0)
        if largest <= finish or (
            np.linalg.norm(residual) <= target and largest > _FINISH_REACH * finish
        ):
            break
        image = operator.matvec(direction)
        products += 1
        curvature = direction @ image
        if not curvature > 0:
            if products == 1:
                solution.fill(np.nan)
            break
        length = alignment / curvature
        solution += length * direction
        residual -= length * image
        preconditioned = precondition(residual)
        new_alignment = residual @ preconditioned
        direction *= new_alignment / alignment
        direction += preconditioned
        alignment = new_alignment
    if not np.all(np.isfinite(solution)):
        solution.fill(np.nan)
    return solution, products


def _sampled_hessian_rows(objective):
    """How many rows estimate the Hessian: ``_HESSIAN_SAMPLE`` per parameter."""
    return min(objective.X.shape[0], _HESSIAN_SAMPLE * objective.n_params)


def _sampled_hessian_pays(objective):
    """A multinomial problem on which a sampled Hessian saves time.

    Forming the estimate on ``m`` rows and inverting it take about
    ``2 m p**2 + 2 p**3`` operations for ``p`` parameters, a Hessian product
    ``4 n p`` on ``n`` samples: the estimate costs ``(m p + p**2) / (2 n)``
    products. Fit time with the estimate against without it, on 2 cores
    (that cost in brackets): 200,000 x 50 with 5 classes 0.89 (1.8),
    100,000 x 100 0.76 (14), 20,000 x 30 with 10 classes 0.75 (26),
    50,000 x 100 0.90 (28), 30,000 x 100 0.86 (47); 20,000 x 100 1.03
    (70), 3,000 x 50 1.22 (119), 10,000 x 100 1.64 (140), digits (1,797 x
    64, 10 classes) 2.6 (443), 2,000 x 200 with 4 classes 4.7 (563). Where
    it costs more than ``_HESSIAN_ESTIMATE_COST`` products, conjugate
    gradients go on without it. At most ``_DIRECT_NEWTON_SIZE`` parameters.
    """
    if not hasattr(objective.loss, "probabilities"):
        return False
    size = objective.n_params
    cost = (_sampled_hessian_rows(objective) * size + size**2) / (
        2 * objective.X.shape[0]
    )
    return size <= _DIRECT_NEWTON_SIZE and cost <= _HESSIAN_ESTIMATE_COST


def _sampled_hessian_preconditioner(objective, raw):
    """The inverse Hessian on evenly spaced rows, as a preconditioner for CG.

    ``_HESSIAN_SAMPLE`` rows per parameter (all rows if there are fewer):
    the estimate is then within a modest factor of the Hessian, so that
    preconditioned CG needs a few products where plain CG needs tens (on
    30,000 x 100 with five classes: 29 products instead of 55 per fit).
    The scores move every intercept of a sample alike, which changes
    nothing: the preconditioner works on the complement of that direction.
    """
    n_samples = raw.shape[0]
    size = objective.n_params
    n_rows = _sampled_hessian_rows(objective)
    rows = np.unique(np.linspace(0, n_samples - 1, n_rows).astype(np.intp))
    hessian = objective.sampled_multinomial_hessian(raw, rows)
    hessian[np.diag_indices_from(hessian)] += 1e-10 * np.max(np.diag(hessian))
    # The explicit inverse, by NumPy: each application is then one product
    # in NumPy's BLAS, like the Hessian products around it. SciPy's LAPACK
    # runs on a second OpenBLAS thread pool, and calling it right after
    # NumPy's (whose threads keep spinning for a while) was measured to
    # stall the Cholesky factorization from 3 ms to 100 ms in one fit of three.
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


def _factor_symmetric(matrix):
    """A solver for a positive semi-definite system, damped where it is singular.

    Returns a function ``right -> solution``. A generalized Hessian can be
    singular (no curvature along the intercept when every sample sits on a
    linear piece): a small multiple of the identity (Levenberg-Marquardt
    damping, 1e-10 of the largest diagonal entry) turns those directions
    into long gradient steps, whose length the line search then chooses,
    instead of dropping them. Least squares where Cholesky fails.

    The factorization is NumPy's, like the products that form the matrix:
    SciPy's ``cho_factor`` runs on SciPy's own OpenBLAS thread pool, and
    right after NumPy's products (whose threads keep spinning for a while)
    it stalled, and slowed the products after it: a 301 x 301 factor took
    13 ms in the fit against 1 ms alone, and logistic L2 at 2,000 x 300 fell
    from 276 to 29 ms per fit with NumPy's. The two triangular solves
    (``cho_solve``, one right-hand side) stay in SciPy: NumPy has none.
    """
    largest = np.max(np.diag(matrix), initial=0.0)
    damping = 1e-10 * largest if largest > 0 else 1.0
    matrix = matrix + damping * np.eye(matrix.shape[0])
    try:
        factor = (np.linalg.cholesky(matrix), True)
    except np.linalg.LinAlgError:
        factor = None

    def solve(right):
        if factor is not None:
            solution = cho_solve(factor, right, check_finite=False)
            if np.all(np.isfinite(solution)):
                return solution
        return np.linalg.lstsq(matrix, right, rcond=None)[0]

    return solve


def _solve_symmetric(matrix, right):
    """Solve a positive semi-definite system once (see ``_factor_symmetric``)."""
    return _factor_symmetric(matrix)(right)


def _curvature_is_close(curvature, reference):
    """Whether each sample's curvature is within ``_CURVATURE_DRIFT`` of the reference.

    Then ``(1 - drift) H_ref <= H <= (1 + drift) H_ref`` (the L2 term only
    helps), so a step with ``H_ref`` in place of ``H`` contracts the error by
    about ``drift`` per step.
    """
    return bool(np.all(np.abs(curvature - reference) <= _CURVATURE_DRIFT * reference))


def _newton_polish(objective, params, max_steps=10):
    """A few Newton steps on the free coordinates, from a quasi-Newton optimum.

    L-BFGS-B stops with a projected gradient near ``tol``, which leaves the
    coefficients accurate to about ``tol`` divided by the smallest curvature;
    Newton's method squares the error at each step (and is exact in one step
    on a piece of a piecewise-quadratic loss such as Huber). The free
    coordinates are the non-zero coefficients (all of them without an L1
    part) and the intercept; on them ``l1 * |w|`` is linear, ``l1 * sign(w)
    . w``. The result is kept only if no sign changes and the objective does
    not increase.
    """
    n_coef = objective.n_coef
    l1 = objective.l1_strength
    signs = np.sign(params[:n_coef])
    free = np.concatenate(
        [
            signs != 0 if l1 > 0 else np.ones(n_coef, bool),
            np.ones(params.size - n_coef, bool),
        ]
    )
    linear_part = np.concatenate([l1 * signs, np.zeros(params.size - n_coef)])[free]

    def value_gradient(point):
        value, gradient = objective.smooth_value_gradient(point)
        return value + linear_part @ point[free], gradient[free] + linear_part

    current = params.copy()
    value, gradient = value_gradient(current)
    start_value = value
    for _ in range(max_steps):
        hessian = LinearOperator(
            (free.sum(), free.sum()),
            matvec=lambda v, point=current: objective.smooth_hessian_product(
                point, _expand(v, free)
            )[free],
            dtype=float,
        )
        step, _ = _conjugate_gradient(
            hessian, -gradient, rtol=1e-12, maxiter=2 * free.sum() + 10
        )
        slope = gradient @ step
        if not np.isfinite(slope) or slope >= 0:
            break
        length = 1.0
        while length > 1e-10:
            trial = current.copy()
            trial[free] += length * step
            trial_value, trial_gradient = value_gradient(trial)
            if trial_value <= value + 1e-4 * length * slope:
                break
            length *= 0.5
        else:
            break
        if trial_value >= value:
            break
        current, value, gradient = trial, trial_value, trial_gradient
    if l1 > 0 and np.any(np.sign(current[:n_coef]) != signs):
        return params
    return current if value <= start_value else params


def _expand(reduced, free):
    """Embed a vector over the free coordinates into the full parameter space."""
    full = np.zeros(free.size)
    full[free] = reduced
    return full


def solve_linear_program(objective, *, max_iter):
    """Exact solution of a piecewise-linear loss with an L1 penalty (or none).

    The loss of sample ``i`` is ``max over u in [lower, upper] of
    u * (c_i - a_i * f_i)``, so the problem is the saddle point
    ``min over (w, b) of max over theta of theta . (c - a * (X w + b)) +
    l1 * |w|_1`` with ``theta_i`` in ``s_i * [lower, upper]``. Its dual is
    the linear program

        maximize  c . theta
        subject to  -l1 <= X.T @ (a * theta) <= l1,  a . theta = 0 (intercept),
                    s_i * lower <= theta_i <= s_i * upper,

    with ``n_features + 1`` rows instead of the primal's ``n_samples``,
    which HiGHS's interior-point method (with crossover to a vertex) solves
    far faster than the primal. The coefficients are the multipliers of the
    rows ``X.T @ (a * theta) - z = 0`` (``z`` in ``[-l1, l1]`` carries the
    L1 bound); the intercept is then the exact minimizer at those
    coefficients (the midpoint where the optimum is an interval). Samples of
    zero weight are left out.

    On many samples, most of them end far from their kink, their dual
    variable at a bound; only the others need to be variables of the linear
    program (screening, as in Portnoy and Koenker's preprocessing for
    quantile regression). A smoothed fit predicts which samples those are:
    the smoothing rounds of :func:`solve_smoothed_dual` (Newton's method on
    the Moreau envelope, each round tenfold narrower and solved on the rows
    near the kink), until only a few samples per parameter lie near it. The
    rest are fixed at the bound their residual's sign gives, and enter the
    program as a constant. The program's solution is optimal for the whole
    problem exactly when every fixed sample's residual ``c_i - a_i * f_i``
    at it has the sign of its bound (then the fixed values satisfy
    complementary slackness); fixed samples that violate this become
    variables, and the program is solved again. HiGHS thus holds the rows
    of a few hundred samples instead of ``X``, which saves memory and time
    (pinball with L1 at 30,000 x 100: one program of 404 variables, where
    a subsample's program left 6,744).
    """
    weight = objective.sample_weight
    samples = np.flatnonzero(weight > 0)
    n_params = objective.n_params
    if samples.size <= max(_SCREENING_MINIMUM, 4 * _SCREENING_FREE * n_params):
        solution = _dual_linear_program(objective, samples, None, max_iter=max_iter)
        return _linear_program_result(objective, solution)
    coef, model_intercept, smoothing, total_iterations = _screening_fit(
        objective, max_iter
    )
    c, a = objective.loss.affine_parts(objective.y)

    def residual_at(coef, intercept):
        """``c - a * f``; on the uncentered X, so ``intercept`` is the model's
        ``b`` in ``X @ w + b`` (the programs' multiplier is that one too)."""
        return c - a * (np.asarray(objective.X @ coef).ravel() + intercept)

    residual = residual_at(coef, model_intercept)
    # The samples near the kink at the smoothed fit are the variables.
    free = np.zeros(weight.size, bool)
    distance = np.abs(residual[samples])
    order = np.argsort(distance, kind="stable")
    free[samples[order[: int(_SCREENING_FREE * n_params)]]] = True
    free[samples[distance <= _SCREENING_REACH * smoothing]] = True
    for _ in range(_SCREENING_ROUNDS):
        fixed = samples[~free[samples]]
        at_upper = residual[fixed] > 0
        solution = _dual_linear_program(
            objective, np.flatnonzero(free), (fixed, at_upper), max_iter=max_iter
        )
        total_iterations += solution["n_iter"]
        if solution["out_of_iterations"]:
            # More variables would not help: the unconverged result (zero
            # coefficients), which the caller reports.
            solution["n_iter"] = total_iterations
            return _linear_program_result(objective, solution)
        if not solution["optimal"]:
            # Too many samples fixed for the constraints to hold: twice as
            # many variables (at least one more per parameter), the nearest
            # their kink.
            nearest = np.argsort(np.abs(residual[fixed]), kind="stable")
            added = max(np.count_nonzero(free), n_params)
            free[fixed[nearest[:added]]] = True
            continue
        residual = residual_at(solution["coef"], solution["intercept"])
        violated = np.where(at_upper, residual[fixed] < 0, residual[fixed] > 0)
        if not violated.any():
            solution["n_iter"] = total_iterations
            return _linear_program_result(objective, solution)
        free[fixed[violated]] = True
    # Screening did not settle: the whole program.
    solution = _dual_linear_program(objective, samples, None, max_iter=max_iter)
    solution["n_iter"] += total_iterations
    return _linear_program_result(objective, solution)


def _screening_fit(objective, max_iter):
    """The smoothed fit that screens a linear program (``solve_linear_program``).

    Smoothing rounds as in :func:`solve_smoothed_dual`, from zero, until at
    most ``_SCREENING_FREE`` samples per parameter lie within
    ``_SCREENING_REACH`` smoothings of the kink, or for
    ``_SCREENING_SMOOTHINGS`` rounds; the first costs a few passes over
    ``X`` (from a subsample's solution), the later ones work on the rows
    near the kink. Its accuracy decides only how many programs follow, not
    their answer. Returns ``(coef, intercept of X @ w + b, the last
    smoothing, iterations)``.
    """
    loss = objective.loss
    weight = objective.sample_weight
    c, a = loss.affine_parts(objective.y)
    coef, intercept = np.zeros((objective.n_features, 1)), np.zeros(1)
    smoothing = max(0.1 * (weight @ np.abs(c)), 1e-12 * (1 + np.abs(c).max()))
    smoothed_objective = _on_rows(
        objective, objective.X, objective.y, weight, _SmoothedLoss(loss, smoothing)
    )
    smooth_solver = _smoothed_solver(objective)
    n_iter = 0
    for round_index in range(_SCREENING_SMOOTHINGS):
        if round_index > 0:
            smoothing *= 0.1
            smoothed_objective.loss = _SmoothedLoss(loss, smoothing)
        options = dict(max_iter=max_iter - n_iter, tol=1e-12, on_iteration=_no_callback)
        result, _, spent = _smoothing_round(
            smoothed_objective, smooth_solver, round_index, coef, intercept, options
        )
        n_iter += spent
        if result is None:
            break
        if np.all(np.isfinite(result.coef)) and np.all(np.isfinite(result.intercept)):
            coef, intercept = result.coef, result.intercept
        residual = c - a * objective.raw_prediction(coef, intercept)
        near = np.count_nonzero(np.abs(residual) <= _SCREENING_REACH * smoothing)
        if near <= _SCREENING_FREE * objective.n_params or n_iter >= max_iter:
            break
    (model_intercept,) = objective.from_centered_intercept(coef, intercept)
    return coef, model_intercept, smoothing, n_iter


def _dual_linear_program(objective, free, fixed, *, max_iter):
    """The dual program over the ``free`` samples' ``theta`` (solve_linear_program).

    ``fixed`` is ``None`` or ``(samples, at_upper)``: those samples' ``theta``
    sits at the upper or lower end of its box and enters the constraints as
    a constant. Returns the coefficients, the intercept of the model
    ``X @ w + b`` on the uncentered ``X`` (the multiplier of the row
    ``a . theta``), whether HiGHS found the optimum or else ran out of
    iterations, and its iteration count.
    """
    loss = objective.loss
    weight = objective.sample_weight
    c, a = loss.affine_parts(objective.y)
    lower, upper = loss.dual_box()
    n_features = objective.n_features
    l1 = objective.l1_strength
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
        options={"maxiter": max_iter, "presolve": _HIGHS_PRESOLVE},
    )
    multipliers = getattr(getattr(result, "eqlin", None), "marginals", None)
    optimal = result.status == 0 and multipliers is not None
    if optimal:
        coef = -scale * np.asarray(multipliers[:n_features], dtype=float)
        intercept = (
            -scale * float(multipliers[n_features]) if objective.fit_intercept else 0.0
        )
    else:
        # Iteration limit before an optimal basis: fall back to zero
        # coefficients, a finite model; the caller warns.
        coef, intercept = np.zeros(n_features), 0.0
    return {
        "coef": coef.reshape(-1, 1),
        "intercept": intercept,
        "optimal": optimal,
        # HiGHS's status 1: the iteration limit, not an infeasible program.
        "out_of_iterations": result.status == 1,
        "n_iter": int(result.nit),
    }


def _linear_program_result(objective, solution):
    coef = solution["coef"]
    # Where the optimal intercept is an interval, take its midpoint.
    intercept = np.array(
        [objective.best_intercept(coef) if objective.fit_intercept else 0.0]
    )
    return SolverResult(
        coef, intercept, max(solution["n_iter"], 1), solution["optimal"], "highs"
    )


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


def solve_smoothed_dual(
    objective, coef, intercept, *, max_iter, tol, on_iteration=_no_callback
):
    """Piecewise-linear loss with an L2 or elastic-net penalty: exact, certified.

    The problem is a quadratic program. It is solved in three steps:

    1. Smoothing with continuation: the loss is replaced by its Moreau
       envelope of width ``smoothing`` (``PiecewiseLinearLoss.
       smoothed_loss_gradient``), which is continuously differentiable and
       piecewise quadratic, and minimized by Newton's method (projected onto
       orthants for an L1 part); the width shrinks tenfold per round, each
       round warm-started: the first from a subsample's solution
       (:func:`_subsample_start`), the later ones solved on the rows of the
       samples near the kink with the others folded
       (:func:`_solve_on_candidates`).
    2. The slope of the envelope at each sample is a dual point
       ``theta_i = s_i * u_i`` in the box of the dual (see
       ``LinearObjective.dual_value``); from the samples it puts on the kink,
       an active-set method solves the optimality conditions exactly
       (:func:`_active_set_method`, on the reduced rows where the round
       used them).
    3. The duality gap ``J(W, b) - D(theta)`` at a feasible dual point,
       both evaluated on all samples, certifies the result: the rounds stop
       once it is below ``max(tol, 1e-8)`` relative to ``J``, which the
       exact step achieves at rounding level once the smoothing has
       narrowed enough to show it the kink samples (the fourth to seventh
       round in the benchmark's problems).
    """
    loss = objective.loss
    lower, upper = loss.dual_box()
    weight = objective.sample_weight
    box_lower, box_upper = weight * lower, weight * upper
    c, a = loss.affine_parts(objective.y)
    tol = max(tol, _GAP_FLOOR)

    start_intercept = intercept if objective.fit_intercept else np.zeros(1)
    start_residual = c - a * objective.raw_prediction(coef, start_intercept)
    smoothing = max(
        0.1 * (weight @ np.abs(start_residual)), 1e-12 * (1 + np.abs(c).max())
    )

    n_iter = 0
    best, best_dual = None, -np.inf
    smoothed_objective = _on_rows(
        objective, objective.X, objective.y, weight, _SmoothedLoss(loss, smoothing)
    )
    smooth_solver = _smoothed_solver(objective)
    for round_index in range(_SMOOTHING_ROUNDS):
        remaining = max_iter - n_iter
        if remaining <= 0:
            break
        # Only the loss changes from round to round (the centering, computed
        # once, is a pass over X).
        smoothed_objective.loss = _SmoothedLoss(loss, smoothing)
        options = dict(max_iter=remaining, tol=1e-12, on_iteration=on_iteration)
        result, reduction, spent = _smoothing_round(
            smoothed_objective, smooth_solver, round_index, coef, intercept, options
        )
        n_iter += spent
        if result is None:
            break
        coef, intercept = result.coef, result.intercept
        raw = objective.raw_prediction(coef, intercept)
        smoothed_loss, _, slope = loss.smoothed_loss_gradient(
            objective.y, raw, smoothing
        )
        theta = weight * slope
        if reduction is not None:
            exact = _exact_candidate_from_reduction(
                objective, reduction, box_lower, box_upper
            )
        else:
            exact = _exact_candidate(
                objective, theta, coef.ravel(), box_lower, box_upper, _ATTEMPT_ROUNDS
            )
        best, best_dual = _better_candidate(best, best_dual, exact)
        if _certified(best, best_dual, tol):
            break
        # The smoothed pair (W, theta) is within smoothing * max(lower**2,
        # upper**2) of certifying; the exact candidate is what usually
        # certifies, and evaluating the smoothed one costs several passes
        # over X, so it is evaluated only where it might certify, or as the
        # fallback in the last round.
        last_round = round_index == _SMOOTHING_ROUNDS - 1 or n_iter >= max_iter
        smoothed_value = weight @ smoothed_loss + objective.penalty(coef)
        bias = smoothing * max(lower**2, upper**2)
        if last_round or bias <= tol * abs(smoothed_value):
            best, best_dual = _better_candidate(
                best,
                best_dual,
                _smoothed_candidate(
                    objective, theta, coef.ravel(), box_lower, box_upper
                ),
            )
            if _certified(best, best_dual, tol):
                break
        smoothing *= 0.1

    if best is None:
        # The iterations ran out before any candidate was evaluated.
        raw = objective.raw_prediction(coef, intercept)
        theta = weight * loss.smoothed_loss_gradient(objective.y, raw, smoothing)[2]
        best, best_dual = _better_candidate(
            best,
            best_dual,
            _smoothed_candidate(objective, theta, coef.ravel(), box_lower, box_upper),
        )
    coef_vector, intercept_value, primal, _ = best
    return SolverResult(
        coef_vector.reshape(-1, 1),
        np.array([intercept_value if objective.fit_intercept else 0.0]),
        n_iter,
        _certified(best, best_dual, tol),
        "smoothed-dual",
    )


def _smoothed_solver(objective):
    """Newton's method for a smoothed problem: on the orthants for an L1 part."""
    if objective.l1_strength == 0:
        return solve_newton
    return functools.partial(
        solve_orthant_newton, newton_steps=_SMOOTHED_ORTHANT_NEWTON_STEPS
    )


def _smoothing_round(
    smoothed_objective, smooth_solver, round_index, coef, intercept, options
):
    """Minimize one smoothing level from ``(coef, intercept)``.

    The first round starts from a subsample's solution
    (:func:`_subsample_start`); the later ones solve on the rows of the
    samples near the kink at the previous, tenfold wider, level
    (:func:`_solve_on_candidates`), or on all rows where those are too many.
    Returns ``(result or None, _Reduction or None, iterations spent)``,
    the last counting the result's own and those spent on a subsample or on
    candidates given up; the result is None where the iterations ran out
    first.
    """
    if round_index == 0:
        coef, intercept, spent = _subsample_start(
            smoothed_objective, smooth_solver, coef, intercept, options
        )
    else:
        reduction, spent = _solve_on_candidates(
            smoothed_objective,
            smooth_solver,
            coef,
            intercept,
            10 * smoothed_objective.loss.smoothing,
            options,
        )
        if reduction is not None:
            return reduction.result, reduction, reduction.result.n_iter
    remaining = options["max_iter"] - spent
    if remaining <= 0:
        return None, None, spent
    result = smooth_solver(
        smoothed_objective, coef, intercept, **dict(options, max_iter=remaining)
    )
    return result, None, spent + result.n_iter


def _on_rows(objective, X, y, sample_weight, loss=None):
    """The same problem (penalty, intercept; loss unless given) on other rows."""
    loss = objective.loss if loss is None else loss
    if loss is objective.loss and isinstance(loss, _SmoothedLoss):
        # Its own instance: the loss keeps the affine parts of one target.
        loss = _SmoothedLoss(loss.piecewise, loss.smoothing)
    alpha = objective.l1_strength + objective.l2_strength
    return LinearObjective(
        loss,
        X,
        y,
        sample_weight,
        alpha=alpha,
        l1_ratio=objective.l1_strength / alpha if alpha > 0 else 0.0,
        fit_intercept=objective.fit_intercept,
        n_outputs=objective.n_outputs,
        threads=objective.threads,
    )


def _solve_between(objective, other, smooth_solver, coef, intercept, options):
    """Minimize ``other`` from a point of ``objective``, in its terms.

    The two objectives center their features differently, so the
    intercept goes through the model's own, ``X @ W + b``.
    """
    result = smooth_solver(
        other, coef, _recentered(intercept, coef, objective, other), **options
    )
    result.intercept = _recentered(result.intercept, result.coef, other, objective)
    return result


def _recentered(intercept, coef, source, target):
    """``source``'s centered intercept at ``coef`` as ``target``'s.

    Each objective centers the features on its own weighted means; both
    describe the same model ``X @ W + b``.
    """
    return target.to_centered_intercept(
        coef, source.from_centered_intercept(coef, intercept)
    )


@dataclass
class _Reduction:
    """A smoothed problem solved on candidate rows, the other samples folded.

    ``result`` is in the full problem's terms; ``reduced`` is the problem
    that was solved, its first rows the samples ``index``, then the folded
    rows; ``folded_theta`` the folded samples' dual variables (each at the
    end of its box, on its side), zero for the candidates.
    """

    result: SolverResult
    reduced: LinearObjective
    index: np.ndarray
    folded_theta: np.ndarray


def _exact_candidate_from_reduction(objective, reduction, box_lower, box_upper):
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
    exact_reduced = _on_rows(
        objective, reduced.X, reduced.y, reduced.sample_weight, piecewise
    )
    lower, upper = piecewise.dual_box()
    reduced_weight = exact_reduced.sample_weight
    coef = reduction.result.coef
    reduced_intercept = _recentered(
        reduction.result.intercept, coef, objective, exact_reduced
    )
    raw = exact_reduced.raw_prediction(coef, reduced_intercept)
    theta = (
        reduced_weight
        * piecewise.smoothed_loss_gradient(exact_reduced.y, raw, smoothing)[2]
    )
    refined = _active_set_method(
        exact_reduced,
        theta,
        coef.ravel(),
        reduced_weight * lower,
        reduced_weight * upper,
        _ATTEMPT_ROUNDS,
    )
    if refined is None:
        return None
    refined_coef, refined_intercept, refined_theta = refined
    intercept = _recentered(refined_intercept, refined_coef, exact_reduced, objective)
    full_theta = reduction.folded_theta.copy()
    full_theta[index] = refined_theta[: index.size]
    return _evaluated_candidate(
        objective, refined_coef, intercept, full_theta, box_lower, box_upper
    )


def _subsample_start(objective, smooth_solver, coef, intercept, options):
    """A starting point for a cold start on many samples.

    Newton's method takes a dozen steps from a cold start where it must
    find the pieces of a piecewise-quadratic loss (the widest smoothing of
    hinge or pinball; Huber) or the orthant of an L1 part, each step a few
    passes over all of ``X``; the same problem on evenly spaced rows
    (``_SUBSAMPLE_ROWS`` per parameter, at least ``_SUBSAMPLE_MINIMUM``)
    lands close to its solution, from where the full problem takes three or
    four steps. Returns ``(coef, intercept, n_iter)``; the subsample is
    skipped for a warm start (it would move away from a good point) and
    where it would not be much smaller than ``X``.
    """
    n_samples = objective.X.shape[0]
    size = max(_SUBSAMPLE_MINIMUM, _SUBSAMPLE_ROWS * objective.n_params)
    if 4 * size > n_samples or np.any(coef):
        return coef, intercept, 0
    rows = np.arange(0, n_samples, n_samples // size)
    if not objective.sample_weight[rows].any():
        return coef, intercept, 0
    subsample = _on_rows(
        objective, objective.X[rows], objective.y[rows], objective.sample_weight[rows]
    )
    result = _solve_between(
        objective, subsample, smooth_solver, coef, intercept, options
    )
    if not np.all(np.isfinite(result.coef)) or not result.converged:
        return coef, intercept, result.n_iter
    return result.coef, result.intercept, result.n_iter


def _solve_on_candidates(
    objective, smooth_solver, coef, intercept, previous_smoothing, options
):
    """The smoothed problem on the samples near the kink; the others folded.

    Where the envelope is linear (a sample beyond the smoothing band) the
    samples on one side with one value of ``a`` add up to a single linear
    function of ``(W, b)``: that of one row, their weighted mean, with
    their total weight. So the samples within ``_CANDIDATE_REACH`` times the
    previous round's smoothing of the kink keep their rows, the others are
    folded into at most four such rows (which also keeps the weighted mean
    of the features, hence the centering), and Newton's method works on a
    problem of a few hundred rows instead of all of ``X``. The reduction is
    exact as long as every folded sample stays beyond the band on its side:
    that is checked on all samples at the solution, and those that crossed
    join the candidates for another solve, from there. Returns
    ``(_Reduction or None, iterations spent)``: None where the candidates
    are not a small share of the samples, or keep growing.
    """
    loss = objective.loss.piecewise
    smoothing = objective.loss.smoothing
    lower, upper = loss.dual_box()
    c, a = loss.affine_parts(objective.y)
    weight = objective.sample_weight
    residual = c - a * objective.raw_prediction(coef, intercept)
    candidates = np.abs(residual) <= _CANDIDATE_REACH * previous_smoothing
    upper_side = residual > 0
    # One group per side and value of a (a = +-1 for the hinge, 1 for the
    # pinball loss): group codes 0 to 3.
    group = np.where(upper_side, 2, 0) + (a > 0)
    n_iter = 0
    for _ in range(_CANDIDATE_EXPANSIONS):
        if np.count_nonzero(candidates) > _CANDIDATE_SHARE * weight.size:
            return None, n_iter
        folded = ~candidates & (weight > 0)
        totals = np.bincount(group[folded], weights=weight[folded], minlength=4)
        present = np.flatnonzero(totals)
        membership = np.zeros((weight.size, present.size))
        for column, code in enumerate(present):
            membership[:, column] = np.where(folded & (group == code), weight, 0.0)
        totals = totals[present]
        folded_rows = np.asarray(objective.X.T @ membership).T / totals[:, None]
        folded_c = (c @ membership) / totals
        folded_a = np.where(present % 2 == 1, 1.0, -1.0)
        index = np.flatnonzero(candidates)
        X = objective.X
        if sp.issparse(X):
            rows = sp.vstack([X[index], sp.csr_matrix(folded_rows)], format="csr")
        else:
            rows = np.vstack([X[index], folded_rows])
        reduced = _on_rows(
            objective,
            rows,
            np.concatenate(
                [objective.y[index], loss.target_from_affine(folded_c, folded_a)]
            ),
            np.concatenate([weight[index], totals]),
        )
        result = _solve_between(
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
            return _Reduction(result, reduced, index, folded_theta), n_iter
        candidates |= crossed
        options = dict(options, max_iter=options["max_iter"] - result.n_iter)
        if options["max_iter"] <= 0:
            break
    return None, n_iter


def solve_box_dual(
    objective, coef, intercept, *, max_iter, tol, on_iteration=_no_callback
):
    """Piecewise-linear loss with an L2 penalty and many features: the dual.

    The dual of ``J`` is the box-constrained quadratic program

        maximize  D(theta) = c . theta - |X.T @ (a * theta)|**2 / (2 * l2)
        subject to  s_i * lower <= theta_i <= s_i * upper,  a . theta = 0,

    the last constraint only with an intercept. L-BFGS-B handles the box
    exactly (by projection), on ``u = theta / s`` so that every variable
    lives in the same unit box; each evaluation costs two passes over
    ``X`` and none forms a Hessian, where Newton's method on the smoothed
    primal needs many conjugate-gradient products once most samples sit
    near the kink. The equality constraint is handled by an augmented
    Lagrangian, ``- D + b * (a . theta) + rho / 2 * (a . theta)**2``, whose
    multiplier ``b`` converges to the intercept.

    From the dual point, the active-set method solves the optimality
    conditions exactly (MINRES on the kink system) and the duality gap
    certifies the result, to ``max(tol, 1e-8)`` relative to ``J``. If it
    does not, :func:`solve_smoothed_dual` finishes from the best primal
    point.
    """
    loss = objective.loss
    lower, upper = loss.dual_box()
    weight = objective.sample_weight
    box_lower, box_upper = weight * lower, weight * upper
    c, a = loss.affine_parts(objective.y)
    l2 = objective.l2_strength
    gap_tol = max(tol, _GAP_FLOOR)
    fit_intercept = objective.fit_intercept

    def coef_of(theta):
        return objective.rmatvec(a * theta).ravel() / l2

    # From the starting primal point: each sample at the end of its box on
    # the side of its residual (0, inside every box, where it is zero).
    start_intercept = intercept if fit_intercept else np.zeros(1)
    residual = c - a * objective.raw_prediction(coef, start_intercept).ravel()
    unit = np.where(residual > 0, upper, np.where(residual < 0, lower, 0.0))
    multiplier = float(start_intercept[0]) if fit_intercept else 0.0
    if fit_intercept:
        # Curvature of -D along one sample's unit variable is about
        # s_i**2 * |x_i|**2 / l2, on average about R / (n**2 * l2) with R
        # the weighted mean squared norm of a (centered) row. The penalty's
        # curvature, rho * |s|**2 along s (about rho / n), is set to 100
        # times that: enough for the multiplier to converge in a few rounds,
        # not so much as to stall L-BFGS-B on a rank-one ridge.
        mean_square = np.maximum(objective.feature_scale() ** 2 - l2, 0.0).sum()
        n_samples = np.count_nonzero(weight)
        rho = 100.0 * max(mean_square, np.finfo(float).tiny) / (n_samples * l2)
    n_iter = 0
    for _ in range(10 if fit_intercept else 1):
        remaining = max_iter - n_iter
        if remaining <= 0:
            break

        def negative_dual(unit, multiplier=multiplier):
            theta = weight * unit
            coef = coef_of(theta)
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
                    "ftol": _FTOL,
                    "gtol": 0.0,
                    "maxcor": 10,
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

    theta = weight * unit
    guess = coef_of(theta)
    best, dual = _better_candidate(
        None,
        -np.inf,
        _exact_candidate(objective, theta, guess, box_lower, box_upper),
    )
    if not _certified(best, dual, gap_tol):
        best, dual = _better_candidate(
            best,
            dual,
            _smoothed_candidate(objective, theta, guess, box_lower, box_upper),
        )
    coef_vector, intercept_value, primal, _ = best
    if _certified(best, dual, gap_tol):
        return SolverResult(
            coef_vector.reshape(-1, 1),
            np.array([intercept_value if fit_intercept else 0.0]),
            n_iter,
            True,
            "box-dual",
        )
    result = solve_smoothed_dual(
        objective,
        coef_vector.reshape(-1, 1),
        np.array([intercept_value if fit_intercept else 0.0]),
        max_iter=max(max_iter - n_iter, 1),
        tol=tol,
        on_iteration=on_iteration,
    )
    result.n_iter += n_iter
    return result


class _SmoothedLoss:
    """A piecewise-linear loss seen through its Moreau envelope, as a smooth loss."""

    is_smooth = True
    is_multiclass = False

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

    def loss(self, y_true, raw_prediction):
        return self.loss_gradient(y_true, raw_prediction)[0]

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


def _exact_candidate(
    objective, theta, primal_guess, box_lower, box_upper, max_rounds=100
):
    """The active-set solution from a dual point: ``(coef, intercept, J, D)``.

    ``D`` is the dual value at the solution's dual point, made feasible;
    None if the active-set method does not finish. The method reads its
    sets off ``theta`` as it is: projecting it first (as
    ``_smoothed_candidate`` does) would shift every variable held at a
    bound off it.
    """
    refined = _active_set_method(
        objective, theta, primal_guess, box_lower, box_upper, max_rounds
    )
    if refined is None:
        return None
    return _evaluated_candidate(objective, *refined, box_lower, box_upper)


def _evaluated_candidate(objective, coef, intercept, theta, box_lower, box_upper):
    """``(coef, intercept, J, D)`` with ``D`` at ``theta`` made feasible."""
    primal = objective.value(coef.reshape(-1, 1), np.array([intercept]))
    if objective.fit_intercept:
        _, a = objective.loss.affine_parts(objective.y)
        theta = _project_dual(theta, a, box_lower, box_upper)
    return coef, intercept, primal, objective.dual_value(theta)


def _smoothed_candidate(objective, theta, primal_guess, box_lower, box_upper):
    """The better of two primal points at hand, and the bound of ``theta`` itself.

    Returns ``(coef, intercept, J, D)``: ``primal_guess`` (the smoothed
    problem's solution) or the coefficients the dual point maps to,
    whichever is lower, each with its exact intercept; ``D`` at ``theta``
    made feasible.
    """
    c, a = objective.loss.affine_parts(objective.y)
    if objective.fit_intercept:
        theta = _project_dual(theta, a, box_lower, box_upper)
    best = None
    for coef in (
        objective.soft_threshold(objective.rmatvec(a * theta).ravel()),
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
    return (*best, objective.dual_value(theta))


def _better_candidate(best, best_dual, candidate):
    """The lower primal point and the higher dual bound of two candidates.

    Any feasible dual point bounds the optimum from below, so the bound is
    the best over all candidates, whichever primal point wins.
    """
    if candidate is None:
        return best, best_dual
    if best is None or candidate[2] < best[2]:
        best = candidate
    return best, max(best_dual, candidate[3])


def _certified(best, best_dual, tol):
    """Whether the duality gap of the best candidate is within ``tol`` of ``J``."""
    if best is None:
        return False
    return best[2] - best_dual <= tol * max(abs(best[2]), np.finfo(float).tiny)


def _project_dual(theta, a, box_lower, box_upper):
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


def _active_set_method(objective, theta, coef, box_lower, box_upper, max_rounds=100):
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

    ``coef`` is a primal point near the optimum; its residuals give the
    starting sets when ``theta`` has too many free variables to use.

    Returns ``(coef, intercept, theta)``, or ``None`` if the rounds run out
    or the system grows too large to be worth solving densely.
    """
    c, a = objective.loss.affine_parts(objective.y)
    l1, l2 = objective.l1_strength, objective.l2_strength
    fit_intercept = objective.fit_intercept
    n_features = coef.size
    tiny = np.finfo(float).tiny
    width = box_upper - box_lower
    inside = 1e-9 * np.maximum(width, tiny)
    on_kink = (theta > box_lower + inside) & (theta < box_upper - inside)
    at_upper = ~on_kink & (theta - box_lower > box_upper - theta)
    if l1 > 0:
        signs = np.sign(coef)
    else:
        signs = np.ones(n_features)  # all features free; signs unused
    # In general position at most |A| + 1 samples sit on the kink at the
    # optimum; a set much larger than that is not worth a dense solve. With
    # no L1 part and many features (the box-constrained dual's problems),
    # the system is solved iteratively beyond this size (its matrix is
    # never formed); on few features a larger set means the dual point has
    # not settled.
    limit = min(2000, 2 * n_features + 10)
    iterative = _suits_box_dual(objective)
    if on_kink.sum() > limit and not iterative:
        # The dual has not settled; the next, less smoothed round will do.
        return None
    theta_guess = theta
    n_parameters = np.count_nonzero(signs) + int(fit_intercept)
    if on_kink.sum() > n_parameters:
        # More samples on the kink than parameters to put them there: keep
        # those the primal point puts closest to it, the others go to the
        # end of their box on the side of their residual.
        intercept = (
            objective.best_intercept(coef.reshape(-1, 1)) if fit_intercept else 0.0
        )
        residual = c - a * (objective.matvec(coef).ravel() + intercept)
        candidates = np.flatnonzero(on_kink)
        order = np.argsort(np.abs(residual[candidates]), kind="stable")
        dropped = candidates[order[n_parameters:]]
        on_kink[dropped] = False
        at_upper[dropped] = residual[dropped] > 0

    certificates_left = 3
    intercept_guess = None  # MINRES's start for b; the previous round's b
    for _ in range(max_rounds):
        active = np.flatnonzero(signs != 0)
        kink_index = np.flatnonzero(on_kink)
        n_kink = kink_index.size
        if n_kink > limit and not iterative:
            return None
        theta_fixed = np.where(on_kink, 0.0, np.where(at_upper, box_upper, box_lower))
        # w_A = (base + (a_E * X_kink).T @ theta_E) / l2
        base = objective.rmatvec(a * theta_fixed).ravel()[active]
        if l1 > 0:
            base = base - l1 * signs[active]
        size = n_kink + (1 if fit_intercept and n_kink > 0 else 0)
        theta_new = theta_fixed.copy()
        if size > 0 and n_kink > limit:
            if intercept_guess is None:
                intercept_guess = (
                    objective.best_intercept(coef.reshape(-1, 1))
                    if fit_intercept
                    else 0.0
                )
            solution = _solve_kink_system(
                objective, kink_index, base, theta_fixed, theta_guess, intercept_guess
            )
            theta_new[kink_index] = solution[:n_kink]
        elif size > 0:
            X_kink = objective.rows(kink_index)[:, active]
            system = np.zeros((size, size))
            right = np.zeros(size)
            system[:n_kink, :n_kink] = (X_kink @ X_kink.T) * a[kink_index] / l2
            right[:n_kink] = a[kink_index] * c[kink_index] - X_kink @ base / l2
            if size > n_kink:
                system[:n_kink, n_kink] = 1.0
                system[n_kink, :n_kink] = a[kink_index]
                right[n_kink] = -(a @ theta_fixed)
            solution = np.linalg.lstsq(system, right, rcond=None)[0]
            theta_new[kink_index] = solution[:n_kink]
        theta_guess = theta_new
        z = objective.rmatvec(a * theta_new).ravel()
        new_coef = np.zeros(n_features)
        new_coef[active] = z[active] / l2
        if l1 > 0:
            new_coef[active] -= l1 * signs[active] / l2
        if not fit_intercept:
            intercept = 0.0
        elif n_kink > 0:
            intercept = solution[n_kink]
        else:
            # No sample on the kink: b is only confined to an interval.
            intercept = objective.best_intercept(new_coef.reshape(-1, 1))
        residual = c - a * (objective.matvec(new_coef).ravel() + intercept)
        intercept_guess = intercept

        scale_r = 1e-9 * max(np.abs(residual).max(), np.abs(c).max(), tiny)
        slack = 1e-9 * np.maximum(width, tiny)
        above = on_kink & (theta_new > box_upper + slack)
        below = on_kink & (theta_new < box_lower - slack)
        # With more samples on the kink than free parameters the system is
        # inconsistent; a sample whose kink equation fails leaves the kink
        # for the end of its box on the side of its residual.
        off_equation = on_kink & ~above & ~below & (np.abs(residual) > scale_r)
        above |= off_equation & (residual > 0)
        below |= off_equation & (residual < 0)
        off_kink = ~on_kink & (width > 0)
        wrong_side = off_kink & (
            (at_upper & (residual < -scale_r)) | (~at_upper & (residual > scale_r))
        )
        moved = above.any() or below.any() or wrong_side.any()
        if l1 > 0:
            scale_z = 1e-9 * max(np.abs(z).max(), l1, tiny)
            flipped = (signs != 0) & (np.sign(new_coef) != signs)
            entering = (signs == 0) & (np.abs(z) > l1 + scale_z)
            moved = moved or flipped.any() or entering.any()
            signs = np.where(flipped, 0.0, np.where(entering, np.sign(z), signs))
        if fit_intercept and n_kink == 0:
            # Without a free variable, a . theta = 0 must already hold.
            unbalanced = abs(a @ theta_new) > 1e-9 * width.sum()
            moved = moved or unbalanced
        if not moved:
            theta_new = np.clip(theta_new, box_lower, box_upper)
            return new_coef, intercept, theta_new
        # Degenerate optimum: samples off the kink whose residual is zero
        # could take any dual value in their box, which the rules above,
        # reading sides off residual signs, cannot choose. A small linear
        # program can: if it finds a dual point consistent with this primal
        # point, the point is optimal.
        weakly_on_kink = ~on_kink & (width > 0) & (np.abs(residual) <= scale_r)
        if weakly_on_kink.any() and certificates_left > 0:
            certificates_left -= 1
            certificate = _dual_certificate(
                objective, new_coef, residual, scale_r, box_lower, box_upper
            )
            if certificate is not None:
                return new_coef, intercept, certificate
        on_kink = (on_kink & ~above & ~below) | wrong_side
        at_upper = np.where(above, True, np.where(below, False, at_upper))
    return None


def _solve_kink_system(
    objective, kink_index, base, theta_fixed, theta_guess, intercept_guess
):
    """The active-set system without an L1 part, by MINRES on matrix products.

    With every feature free, ``w = (base + X_E.T @ (a_E * theta_E)) / l2``
    and the system, each kink row multiplied by ``a_i`` to make it
    symmetric, is

        a_i * x_i . X_E.T @ (a_E * theta_E) / l2 + a_i * b = c_i - a_i * x_i . base / l2
        a_E . theta_E = -(a . theta_fixed)          (with an intercept)

    (symmetric, indefinite with the intercept row), solved by MINRES from
    the current dual point. Only the kink rows of ``X`` enter, copied
    once: each product costs two passes over them, not over all of ``X``.
    Returns ``theta_E``, followed by ``b`` with an intercept.
    """
    c, a = objective.loss.affine_parts(objective.y)
    l2 = objective.l2_strength
    n_kink = kink_index.size
    a_kink = a[kink_index]
    fit_intercept = objective.fit_intercept
    size = n_kink + int(fit_intercept)
    kink_rows = objective.X[kink_index]

    def product(vector):
        coef = objective.rmatvec(a_kink * vector[:n_kink], kink_rows).ravel() / l2
        result = np.empty(size)
        result[:n_kink] = a_kink * objective.matvec(coef, kink_rows).ravel()
        if fit_intercept:
            result[:n_kink] += a_kink * vector[n_kink]
            result[n_kink] = a_kink @ vector[:n_kink]
        return result

    fixed_part = objective.matvec(base / l2, kink_rows).ravel()
    right = c[kink_index] - a_kink * fixed_part
    start = np.asarray(theta_guess, dtype=float)[kink_index]
    if fit_intercept:
        right = np.append(right, -(a @ theta_fixed))
        start = np.append(start, intercept_guess)
    operator = LinearOperator((size, size), matvec=product, dtype=float)
    solution, _ = minres(operator, right, x0=start, rtol=1e-13, maxiter=10 * size)
    return solution


def _dual_certificate(objective, coef, residual, tolerance, box_lower, box_upper):
    """A dual point proving a primal point optimal, by a linear program.

    ``coef`` and ``residual`` describe the primal point (its intercept
    enters through the residuals).

    Samples with ``|residual| <= tolerance`` may take any dual value in
    their box; the others sit at the end of their box on the side of their
    residual. The optimality conditions left are linear in the free dual
    values ``theta_F``, with ``z = X.T @ (a * theta)``:

        z_j = l1 * sign(w_j) + l2 * w_j    where w_j != 0 (every j without L1)
        |z_j| <= l1                        where w_j == 0
        a . theta = 0                      (with an intercept)

    HiGHS finds a feasible ``theta_F`` or proves there is none. Returns
    ``theta`` (clipped to its box), or ``None``.
    """
    _, a = objective.loss.affine_parts(objective.y)
    l1, l2 = objective.l1_strength, objective.l2_strength
    free = (np.abs(residual) <= tolerance) & (box_upper > box_lower)
    free_index = np.flatnonzero(free)
    if free_index.size == 0 or free_index.size > 2000:
        return None
    theta = np.where(residual > 0, box_upper, box_lower)
    theta[free] = 0.0
    fixed_z = objective.rmatvec(a * theta).ravel()
    # Column i of `columns`: the contribution of theta_i to z.
    columns = (objective.rows(free_index) * a[free_index, None]).T
    active = coef != 0 if l1 > 0 else np.ones(coef.size, bool)
    equality_matrix = columns[active]
    equality_right = l1 * np.sign(coef[active]) + l2 * coef[active] - fixed_z[active]
    if objective.fit_intercept:
        equality_matrix = np.vstack([equality_matrix, a[free_index]])
        equality_right = np.append(equality_right, -(a @ theta))
    inactive = ~active
    has_inequalities, has_equalities = inactive.any(), equality_matrix.shape[0] > 0
    result = linprog(
        np.zeros(free_index.size),
        A_ub=np.vstack([columns[inactive], -columns[inactive]])
        if has_inequalities
        else None,
        b_ub=np.concatenate([l1 - fixed_z[inactive], l1 + fixed_z[inactive]])
        if has_inequalities
        else None,
        A_eq=equality_matrix if has_equalities else None,
        b_eq=equality_right if has_equalities else None,
        bounds=np.column_stack([box_lower[free], box_upper[free]]),
        method="highs",
    )
    if result.status != 0:
        return None
    theta[free] = np.clip(result.x, box_lower[free], box_upper[free])
    return theta
