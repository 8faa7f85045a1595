"""``solve``: the one place where a method is chosen for a problem.

A problem is a ``LinearObjective``: what its loss offers (the flags of
``sklearn_losses._loss.PointwiseLoss``) and which parts its penalty has
decide its route. A route is the primary method and, in order, every method
that takes over when the one before does not finish. ``ROUTES`` is that
table; the first row whose condition holds is taken:

==  ======================================  =====================================
    problem                                 methods, in order
==  ======================================  =====================================
1   linear tails (Huber, log-cosh), band    least-absolute-deviations (its tails)
    narrower than 1e-9
2   curvature per sample; no L1             newton
3   linear tails; pure L1                   zero-check, proximal-newton-probe,
                                            linear-tails-start, proximal-newton,
                                            orthant-newton, lbfgs-split
4   curvature per sample, no linear tails   zero-check, subsample-start-proximal,
    (or an elastic net with 4 features per  proximal-newton, orthant-newton,
    sample); L1 part; at most 1000 samples  lbfgs-split
    or features, or pure L1 on at most
    3000 samples, at least as many features
5   curvature per sample; L1 part           zero-check, subsample-start,
                                            orthant-newton, lbfgs-split
6   multinomial; no L1                      newton
7   other smooth (multinomial, softmax      zero-check, lbfgs-split
    focal); L1 part
8   other smooth (softmax focal); no L1     lbfgs-split
9   piecewise linear; no L2                 linear-program
10  piecewise linear; L2 below 1e-50;       linear-program-if-l2-negligible,
    many features, no L1                    box-dual, smoothed-dual
11  piecewise linear; L2 below 1e-50        linear-program-if-l2-negligible,
                                            smoothed-dual
12  piecewise linear; L2 or elastic net;    dual-coordinate-descent, box-dual,
    many features                           interior-point, smoothed-dual
13  piecewise linear; L2 or elastic net     dual-coordinate-descent,
                                            interior-point-first, smoothed-dual
==  ======================================  =====================================

The rule of a route: each later method runs only where the one before did
not finish (not converged, or not certified) and iterations remain; it
starts from that one's point, and the iterations add up. Three methods
never finish a fit on their own account but hand a start on: the zero
check (finishes only where ``W = 0`` is optimal), the subsample start
(whose subsample is solved by the rest of its route) and the linear-tails
start; the linear program with a negligible L2 term
finishes only where that term is below rounding at its optimum, and
otherwise hands on the original start. Dual coordinate descent
(scikit-learn's liblinear) runs only with a pure L2 penalty on sparse
data, for the hinge loss with many features per sample and the
epsilon-insensitive loss on many samples, or where liblinear's dual is easy
or X small, from a cold start
(``dual_coordinate_descent.dual_coordinate_descent_applies``); elsewhere,
or where it does not certify, it hands the start on untouched. The
interior-point method runs first
on an elastic net whose normal equations in the samples or the features
are small (``interior_point.interior_point_applies``: more features than
samples, few samples, or sparse data with more samples than features,
where it also takes a pure L2 penalty; with many features, only the
last), from a cold start; after the box dual, as its fallback, on any L2
or elastic-net penalty whose normal equations fit in a larger memory
(``FALLBACK_SYSTEM_MEMORY``); elsewhere it hands the start on untouched.

The smoothed problems inside the smoothed dual and the screening of the
linear program are solved by ``SMOOTHED_ROUTES``: Newton's method without
an L1 part; with one, proximal Newton on working sets (at most 1,000
samples or features), then projected Newton on orthants, then L-BFGS-B.

``forced_method`` replaces the route of every fit in its context (a hook
for tests and experiments). A problem on a Dask array
(``_distributed.DistributedObjective``) is solved by passes over its
chunks (``distributed.solve_distributed``, which chooses by the loss); the
rows it gathers for a kinked loss come back here, as an in-memory problem.
"""

import contextlib
import contextvars
import functools
from dataclasses import dataclass

import numpy as np

from .._parallel import blas_on_one_thread
from .._penalty import ElasticNet
from .active_set import GAP_FLOOR, many_features_pure_l2, many_features_with_l2
from .box_dual import solve_box_dual
from .certificate import (
    DUALITY_GAP,
    certify,
    stationarity,
    zero_certificate,
    zero_dual_point,
)
from .distributed import solve_distributed
from .dual_coordinate_descent import (
    dual_coordinate_descent_applies,
    solve_dual_coordinate_descent,
)
from .interior_point import MAX_ITERATIONS as INTERIOR_POINT_ITERATIONS
from .interior_point import interior_point_applies, solve_interior_point
from .lbfgs import solve_smooth
from .linear_program import solve_linear_program
from .newton import DIRECT_NEWTON_SIZE, solve_newton
from .orthant_newton import solve_orthant_newton
from .proximal_newton import pure_l1_on_few_samples, solve_proximal_newton
from .result import SolverResult, no_callback
from .smoothed_dual import solve_smoothed_dual, subsample_start

# A Huber or log-cosh band narrower than this (in units of the scaled targets) is below
# what Newton's method resolves (its curvature would be 1 / delta): the
# loss is then solved as least absolute deviations, exact to 1e-9 relative.
NARROWEST_BAND = 1e-9
# An L2 strength below this, on a piecewise-linear loss, is first tried as
# negligible (see _linear_program_if_l2_negligible).
NEGLIGIBLE_L2 = 1e-50
# A smoothed piecewise-linear loss with an L1 part needs more orthant-Newton
# steps than ORTHANT_NEWTON_STEPS: each moves only the samples near the
# band's edges, about p / 3 steps at narrow smoothing (101 at p = 300).
SMOOTHED_ORTHANT_NEWTON_STEPS = 500
# Proximal Newton steps tried on a Huber or log-cosh pure L1 problem before
# the linear-tails start is considered: where most residuals sit in the
# band at the optimum it finishes in 11 to 100 (wide, 500 x 5,000: 0.1 to
# 0.9 s, where the start's linear program alone takes 9 s); where most lie
# in the tails (targets far larger than delta) it creeps (938 steps), and
# the start serves.
PROXIMAL_NEWTON_PROBE = 60
# ... and the share of samples (weighted) within the band at its point that
# lets it go on instead. Where targets are far beyond delta, few samples
# are in the band there (0.003 to 0.006 at 1,000 times delta, where
# proximal Newton runs to max_iter); at 30 to 100 times delta a fifth to a
# half are, after 60 steps, and it finishes 2 to 3.5 times sooner than
# the program (1,000 x 4,000, 100 times delta: 10.7 s against 25 s;
# 2,000 x 5,000 at 0.37: 19.5 s against 70 s). Between 0.01 and 0.1 the
# two are within a factor of two either way.
BAND_SHARE = 0.1
# A smooth fit whose certified gap exceeds this many times tol is taken on
# with a tighter gradient test, at most CLOSER_ROUNDS times
# (_certified_closer), by its route's methods less STARTS: those that only
# hand a start on, and the probe, whose proximal Newton the route runs
# again after it.
GAP_PER_TOL = 10.0
CLOSER_ROUNDS = 2
CLOSER_STEP = 1e-2
STARTS = frozenset(
    {
        "zero-check",
        "subsample-start",
        "subsample-start-proximal",
        "linear-tails-start",
        "proximal-newton-probe",
    }
)
# A Huber or log-cosh elastic net with at least this many features per
# sample (and at most DIRECT_NEWTON_SIZE samples) takes row 4's route,
# proximal Newton on working sets from a subsample start, instead of the
# orthant-wise steps and L-BFGS-B of row 5. Those ended at max_iter with a
# ConvergenceWarning on 14 of 40 fits from 100 x 1,000 to 250 x 5,000
# (gaps up to 0.2; every l1_ratio = 0.9 fit at alpha = 1e-3); proximal
# Newton certified 38 of the 40, in 1.2 times the total time (slower
# where the optimum has many more non-zeros than there are samples, as
# at l1_ratio = 0.1, and there the two it missed). With fewer features
# per sample (800 x 1,000, 1,000 x 3,000) it was 2 to 3 times slower and
# failed as often.
FEATURES_PER_SAMPLE = 4
# Units in the last place of J by which two evaluations of one value may
# differ in their sums' rounding (_midpoint_intercept).
ROUNDING_SLACK = 64


@dataclass(frozen=True)
class Route:
    """One row of the solver table: which problems, and the methods in order."""

    problem: str
    applies: object  # objective -> bool
    methods: tuple


def _curvature(objective):
    return objective.loss.is_smooth and objective.loss.has_curvature


def _band_is_negligible(objective):
    loss = objective.loss
    return loss.has_linear_tails and loss.delta < NARROWEST_BAND


def _many_features_per_sample(objective):
    """At least ``FEATURES_PER_SAMPLE`` features per sample (see there)."""
    n_samples, n_features = objective.X.shape
    return n_features >= FEATURES_PER_SAMPLE * n_samples


def _piecewise(objective):
    return objective.loss.is_piecewise_linear


def _tiny_l2(objective):
    return _piecewise(objective) and 0 < objective.penalty.l2 <= NEGLIGIBLE_L2


ROUTES = (
    Route(
        "linear tails (Huber, log-cosh), band narrower than Newton resolves",
        _band_is_negligible,
        ("least-absolute-deviations",),
    ),
    Route(
        "smooth, curvature per sample; L2 or none",
        lambda o: _curvature(o) and not o.penalty.has_l1,
        ("newton",),
    ),
    Route(
        "linear tails (Huber, log-cosh); pure L1",
        lambda o: _curvature(o) and o.loss.has_linear_tails and not o.penalty.has_l2,
        (
            "zero-check",
            "proximal-newton-probe",
            "linear-tails-start",
            "proximal-newton",
            "orthant-newton",
            "lbfgs-split",
        ),
    ),
    Route(
        "smooth, curvature per sample, no linear tails (or an elastic net "
        "with FEATURES_PER_SAMPLE features per sample); L1 or elastic net; "
        "at most DIRECT_NEWTON_SIZE samples or features, or pure L1 on at "
        "most PURE_L1_SAMPLES samples and at least as many features",
        lambda o: (
            _curvature(o)
            and (not o.loss.has_linear_tails or _many_features_per_sample(o))
            and (
                min(o.X.shape) <= DIRECT_NEWTON_SIZE
                or (pure_l1_on_few_samples(o) and o.X.shape[0] <= o.X.shape[1])
            )
        ),
        (
            "zero-check",
            "subsample-start-proximal",
            "proximal-newton",
            "orthant-newton",
            "lbfgs-split",
        ),
    ),
    Route(
        "smooth, curvature per sample; L1 or elastic net",
        _curvature,
        ("zero-check", "subsample-start", "orthant-newton", "lbfgs-split"),
    ),
    Route(
        "multinomial; L2 or none",
        lambda o: o.loss.has_block_curvature and not o.penalty.has_l1,
        ("newton",),
    ),
    Route(
        "other smooth (multinomial, softmax focal); L1 or elastic net",
        lambda o: o.loss.is_smooth and o.penalty.has_l1,
        ("zero-check", "lbfgs-split"),
    ),
    Route(
        "other smooth (softmax focal); L2 or none",
        lambda o: o.loss.is_smooth,
        ("lbfgs-split",),
    ),
    Route(
        "piecewise linear; no L2",
        lambda o: _piecewise(o) and not o.penalty.has_l2,
        ("linear-program",),
    ),
    Route(
        "piecewise linear; L2 below 1e-50; many features, no L1",
        lambda o: _tiny_l2(o) and many_features_pure_l2(o),
        ("linear-program-if-l2-negligible", "box-dual", "smoothed-dual"),
    ),
    Route(
        "piecewise linear; L2 below 1e-50",
        _tiny_l2,
        ("linear-program-if-l2-negligible", "smoothed-dual"),
    ),
    Route(
        "piecewise linear; L2 or elastic net; many features",
        lambda o: _piecewise(o) and many_features_with_l2(o),
        (
            "dual-coordinate-descent",
            "interior-point-first-if-tall",
            "box-dual",
            "interior-point",
            "smoothed-dual",
        ),
    ),
    Route(
        "piecewise linear; L2 or elastic net",
        _piecewise,
        ("dual-coordinate-descent", "interior-point-first", "smoothed-dual"),
    ),
)

SMOOTHED_ROUTES = (
    Route(
        "smoothed piecewise-linear loss; L2 or none",
        lambda o: not o.penalty.has_l1,
        ("newton-without-approach",),
    ),
    Route(
        "smoothed piecewise-linear loss; L1 part; at most DIRECT_NEWTON_SIZE "
        "samples or features",
        lambda o: min(o.X.shape) <= DIRECT_NEWTON_SIZE,
        (
            "proximal-newton",
            "orthant-newton",
            "lbfgs-split",
        ),
    ),
    Route(
        "smoothed piecewise-linear loss; L1 part",
        lambda o: True,
        ("orthant-newton-long", "lbfgs-split"),
    ),
)

_FORCED = contextvars.ContextVar("forced_method", default=None)


@contextlib.contextmanager
def forced_method(*methods):
    """Solve every problem in this context by ``methods`` (names of ``METHODS``),
    in order, by the rule of a route, instead of its route in ``ROUTES``."""
    unknown = [name for name in methods if name not in METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; known: {sorted(METHODS)}")
    token = _FORCED.set(tuple(methods))
    try:
        yield
    finally:
        _FORCED.reset(token)


def route_of(objective, routes=ROUTES):
    """The first route of ``routes`` whose condition the problem meets."""
    for route in routes:
        if route.applies(objective):
            return route
    raise ValueError(f"no solver route for {objective.loss!r}")


def solve(objective, coef, intercept, *, max_iter, tol, on_iteration=None):
    """Minimize ``objective`` from ``(coef, intercept)`` by its route.

    Parameters
    ----------
    objective : LinearObjective
        The problem.
    coef : ndarray of shape (n_features, n_outputs)
        Starting coefficients (zeros, or the previous fit for ``warm_start``).
    intercept : ndarray of shape (n_outputs,)
        Starting intercepts, of the model ``X @ W + b``.
    max_iter : int
        Iteration budget, shared by the methods of the route.
    tol : float
        Stopping tolerance: on the largest entry of the projected gradient
        for the smooth methods, on the relative duality gap for the duals;
        the linear program is solved to HiGHS's own (exact) tolerances.
    on_iteration : callable or None, default=None
        Called with no argument after each iteration of a method (for
        progress callbacks); a linear program is one step.

    Returns
    -------
    SolverResult
        With the intercept of the model ``X @ W + b``.
    """
    options = dict(max_iter=max_iter, tol=tol, on_iteration=on_iteration or no_callback)
    if getattr(objective, "is_distributed", False):
        # Rows in chunks elsewhere (a Dask array): passes over the chunks.
        return solve_distributed(objective, coef, intercept, **options)
    threads = (
        blas_on_one_thread()
        if objective.execution.on_own_threads
        else contextlib.nullcontext()
    )
    with threads:
        # The conversions too: a dot product of many features outside the
        # limit wakes OpenBLAS's threads, which then spin on the cores that
        # the products' own threads need.
        intercept = objective.to_centered_intercept(coef, intercept)
        methods = _FORCED.get() or route_of(objective).methods
        result = run_route(methods, objective, coef, intercept, options)
        if objective.loss.is_piecewise_linear and objective.penalty.has_l1:
            result = _zero_if_as_good(objective, result, options)
        elif objective.loss.is_piecewise_linear and not result.converged:
            result = _zero_if_certified(objective, result, options)
        if objective.loss.is_piecewise_linear and objective.fit_intercept:
            result = _midpoint_intercept(objective, result)
        if result.certificate is None:
            result.certificate = certify(objective, result)
        if not objective.loss.is_piecewise_linear:
            result = _certified_closer(objective, methods, result, options)
        certificate = result.certificate
        if (
            not result.converged
            and certificate.kind == DUALITY_GAP
            and certificate.gap <= tol
        ):
            # A method stopped on its own test (a gradient entry above tol at
            # the rounding of features of 1e4) where the duality gap proves
            # the answer optimal to tol: no warning is due.
            result.converged, result.stop = True, ""
        result.intercept = objective.from_centered_intercept(
            result.coef, result.intercept
        )
    return result


def _certified_closer(objective, methods, result, options):
    """The answer of a smooth loss, taken on with a tighter gradient test
    while its certified gap exceeds ``GAP_PER_TOL`` times ``tol``.

    The smooth methods stop on the largest gradient entry, whose meaning
    for the gap depends on the objective's scale: the gap is about the
    gradient squared over the L2 strength, or the gradient times the
    coefficients' size, relative to ``J``. Where ``J`` at the optimum is far
    below one (Poisson counts in the millions, whose loss is divided by the
    mean target while a well-fitted count's deviance is of order one, so
    that ``J`` is about 1e-6), a gradient of ``tol`` leaves gaps of 1e-6.
    The route's finishing methods then go on from the answer with a
    gradient test at the answer's largest entry scaled by the gap's excess
    (by ``CLOSER_STEP`` at least), at most ``CLOSER_ROUNDS`` times, kept
    while the gap falls; a refinement that stops at the rounding of its
    gradient still meets the fit's own ``tol``.
    """
    tol, max_iter = options["tol"], options["max_iter"]
    target = GAP_PER_TOL * tol
    finishing = tuple(name for name in methods if name not in STARTS)
    for _ in range(CLOSER_ROUNDS):
        certificate = result.certificate
        if (
            not finishing
            or not result.converged
            or certificate.kind != DUALITY_GAP
            or certificate.gap <= target
            or result.n_iter >= max_iter
        ):
            break
        # The gap falls with the gradient's square (an L2 part) or the
        # gradient itself: a test a hundredfold tighter at least than the
        # answer's own largest entry (often well below tol already).
        largest = stationarity(objective, result.coef, result.intercept)
        tighter = largest * min(CLOSER_STEP, target / certificate.gap)
        closer = run_route(
            finishing,
            objective,
            result.coef,
            result.intercept,
            dict(options, tol=tighter, max_iter=max_iter - result.n_iter),
        )
        closer.n_iter += result.n_iter
        closer.certificate = certify(objective, closer)
        if not closer.certificate.gap < certificate.gap:
            break
        closer.converged, closer.stop = True, ""
        result = closer
    return result


def _zero_if_as_good(objective, result, options):
    """``W = 0`` with its best intercept instead of the answer, where that is
    strictly better in floating point.

    With a kinked loss and an L1 part, zero is optimal over a whole range of
    alpha and, at alpha_max, one end of a segment of optima; a linear
    program may return the segment's other vertex, and the smoothed dual
    stops within its gap (measured: coefficients of 5e-7 at a gap of 6e-9
    just above alpha_max for a hinge elastic net). The check costs passes
    of the loss at constant predictions and one product with ``X``; the
    answer's dual bound, if any, certifies zero as well.
    """
    if not np.any(result.coef):
        return result
    compared = _against_zero(objective, result, options)
    if compared is None:
        return result
    intercept, at_zero, value, slack = compared
    # Zero where it is strictly lower, and where the two agree to the
    # rounding of their sums while the answer's penalty is resolved in J
    # (the two vertices of the segment of optima at alpha_max). Where the
    # penalty is below J's rounding (targets of 1e160, say), a tie says
    # nothing, and the answer is the one the solver resolved.
    tie = at_zero <= value + slack and objective.penalty.value(result.coef) > slack
    if not (at_zero < value or tie):
        return result
    result.coef, result.intercept = np.zeros_like(result.coef), intercept
    result.raw = None
    return result


def _against_zero(objective, result, options):
    """``(best intercept at W = 0, J there, J at the answer, the rounding
    slack of J)``, or None where the intercept's problem did not converge."""
    intercept = best_intercept_for_zero(objective, result.intercept, options)
    if intercept is None:
        return None
    at_zero = objective.value(np.zeros_like(result.coef), intercept)
    value = objective.value(result.coef, result.intercept)
    return intercept, at_zero, value, ROUNDING_SLACK * np.finfo(float).eps * abs(value)


def _zero_if_certified(objective, result, options):
    """``W = 0`` with its best intercept instead of an uncertified answer of a
    kinked loss with a pure L2 penalty, where a dual point certifies zero.

    With the L2 term only, ``W = 0`` is optimal exactly where a dual point at
    zero has ``X.T @ (a * theta) = 0`` (``certificate.zero_dual_point``, a
    small linear program in the samples on the kink). Such optima put many
    samples on the kink (a one-vs-rest class that no hyperplane separates
    from the rest: 4,242 of 6,000 samples at ``f = -1``), where the
    active-set step's systems are singular and the smoothed dual stalls a
    little above its floor (gap 2.7e-8 after 12 rounds). The check costs
    the best intercept at zero and, where zero is at least as good as the
    answer, one pass and the linear program.
    """
    compared = _against_zero(objective, result, options)
    if compared is None:
        return result
    intercept, at_zero, value, slack = compared
    if at_zero > value + slack:
        return result
    largest, theta = zero_dual_point(objective, intercept)
    if largest > 0:
        return result
    dual = objective.dual_value(theta)
    if (at_zero - dual) > max(options["tol"], GAP_FLOOR) * abs(at_zero):
        return result
    result.coef, result.intercept = np.zeros_like(result.coef), intercept
    result.raw = None
    result.converged, result.stop, result.dual_bound = True, "", dual
    result.certificate = None
    return result


def _midpoint_intercept(objective, result):
    """The answer with the midpoint of its coefficients' optimal intercepts.

    A kinked data term can be flat in ``b`` over an interval (the samples
    crossing their kinks balance; the epsilon-insensitive loss's band makes
    it common); an active-set solve, a linear program and a warm start stop
    at different points of it, at the same ``J``. The midpoint
    (``LinearObjective.best_intercept``) makes the intercept a function of
    the coefficients alone, so that a path and a cold fit, a CV estimator
    and a ``GridSearchCV``, predict alike. Kept where ``J`` there is not
    above the answer's beyond the rounding of a sum (``ROUNDING_SLACK``
    units in the last place): the sweep over the sorted kinks is exact, the
    sums are not. One product with ``X``, shared by the sweep and both data
    terms (the penalty is the same at either intercept), and a sort.
    """
    offset = objective.matvec(result.coef).ravel()
    intercept = objective.best_intercept(result.coef, offset)
    loss, y, weight = objective.loss, objective.y, objective.sample_weight
    data_term = weight @ loss.loss(y, offset + result.intercept[0])
    value = data_term + objective.penalty.value(result.coef)
    slack = ROUNDING_SLACK * np.finfo(float).eps * abs(value)
    if weight @ loss.loss(y, offset + intercept) <= data_term + slack:
        result.intercept = np.array([intercept])
        result.raw = None
    return result


def run_route(methods, objective, coef, intercept, options):
    """The methods in turn, by the rule of a route (module docstring); on the
    centered problem, as ``solve``'s body."""
    max_iter = options["max_iter"]
    result = None
    for name in methods:
        if result is not None:
            if result.converged or result.n_iter >= max_iter:
                break
            coef, intercept = result.coef, result.intercept
        spent = 0 if result is None else result.n_iter
        found = METHODS[name](
            objective, coef, intercept, **dict(options, max_iter=max_iter - spent)
        )
        found.n_iter += spent
        result = found
    return result


def smoothing_solver(objective):
    """Newton-type solver of the smoothed problems, by ``SMOOTHED_ROUTES``."""
    methods = route_of(objective, SMOOTHED_ROUTES).methods

    def solver(problem, coef, intercept, **options):
        return run_route(methods, problem, coef, intercept, options)

    return solver


# -- methods that decide or hand on a start ---------------------------------------
def _zero_check(objective, coef, intercept, **options):
    """``W = 0`` with its best intercept, if that is the optimum; else a start.

    With an L1 part ``l1 * |W|_1`` and ``b*`` the best intercept for
    ``W = 0``, the point ``(0, b*)`` is optimal exactly when no coefficient's
    gradient there exceeds ``l1`` in size (``ElasticNet.zero_is_optimal``).
    Above that largest useful penalty the whole fit is a problem in the
    intercept alone, whose predictions are constant (passes of the loss,
    no product with ``X``), and one product ``X.T @ g`` that certifies it.
    Otherwise the start, with ``b*`` for a cold start, unconverged and at
    no iteration (the intercept's own iterations are not the fit's).
    """
    n_outputs = objective.n_outputs
    zero = np.zeros((objective.n_features, n_outputs))
    best = best_intercept_for_zero(objective, intercept, options)
    if best is None:
        return SolverResult(coef, intercept, 0, False, "zero-check")
    if not np.any(coef):
        # A cold start: the best intercept for W = 0 is a better one.
        intercept = best
    raw = np.broadcast_to(best, (objective.X.shape[0], n_outputs))
    raw = raw if objective.loss.is_multiclass else raw.ravel()
    value, gradient = objective.smooth_value_gradient(
        objective.pack(zero, best), raw=raw
    )
    if not objective.penalty.zero_is_optimal(gradient[: objective.n_coef]):
        return SolverResult(coef, intercept, 0, False, "zero-check")
    options["on_iteration"]()
    result = SolverResult(zero, best, 1, True, "zero-check")
    result.certificate = zero_certificate(objective, raw, value, gradient)
    return result


def best_intercept_for_zero(objective, intercept, options):
    """The best intercept for ``W = 0`` (zero without one), or None where the
    problem in the intercept alone does not converge."""
    n_outputs = objective.n_outputs
    if not objective.fit_intercept:
        return np.zeros(n_outputs)
    # It depends on the loss and the data, not the penalty: a path's solves
    # (the same objective at each alpha) find it once.
    remembered = objective.intercept_for_zero
    if remembered is not None and remembered[0] is objective.loss:
        return remembered[1].copy()
    found = _intercept_for_zero(objective, intercept, options)
    if found is not None:
        objective.intercept_for_zero = (objective.loss, found.copy())
    return found


def _intercept_for_zero(objective, intercept, options):
    """``best_intercept_for_zero`` without the memory: in closed form where
    the loss has one, else by the route of the problem in the intercept."""
    n_outputs = objective.n_outputs
    constant = objective.loss.best_constant(objective.y, objective.sample_weight)
    if constant is not None:
        return constant
    # The same problem on no features: only the intercept is free, and its
    # route is that of a problem without an L1 part (whatever is forced).
    intercept_only = objective.on_rows(
        objective.X[:, :0],
        objective.y,
        objective.sample_weight,
        penalty=ElasticNet(),
    )
    found = run_route(
        route_of(intercept_only).methods,
        intercept_only,
        np.zeros((0, n_outputs)),
        intercept,
        dict(options, on_iteration=no_callback),
    )
    return found.intercept if found.converged else None


def _linear_tails_start(objective, coef, intercept, **options):
    """Linear tails (Huber, log-cosh), pure L1: a start from the tails' program.

    Where most residuals lie beyond the band, the generalized Hessian is
    (nearly) zero and the orthant-wise Newton method creeps. The problem
    with the loss replaced by its linear tails (least absolute deviations
    with the same L1 penalty) is a linear program, solved exactly; at the
    Huber optimum in that regime the samples sit where the two losses
    nearly agree, so Newton's method finishes from the program's solution
    in a step or two. The better of that solution and ``(coef,
    intercept)`` (the previous method's point), as one iteration.
    """
    lad = _linear_tails_problem(objective)
    start = solve_linear_program(
        lad,
        max_iter=options["max_iter"],
        smooth_solver=smoothing_solver(lad),
        on_iteration=options["on_iteration"],
    )
    if not start.converged or objective.value(
        start.coef, start.intercept
    ) > objective.value(coef, intercept):
        start = SolverResult(coef, intercept, 1, False, "linear-tails-start")
    return SolverResult(start.coef, start.intercept, 1, False, "linear-tails-start")


def _linear_tails_problem(objective):
    """The problem with the loss replaced by its linear tails (least absolute
    deviations, the pinball loss at 0.5 times ``2 * delta``, by which the
    penalty is divided)."""
    tails, factor, _ = objective.loss.linear_tails()
    return objective.on_rows(
        objective.X,
        objective.y,
        objective.sample_weight,
        loss=tails,
        penalty=objective.penalty.divided(factor),
    )


def _least_absolute_deviations(objective, coef, intercept, **options):
    """A band below ``NARROWEST_BAND`` (Huber, log-cosh), as least absolute
    deviations.

    Then ``L / delta`` is ``|r|`` up to a constant below ``delta`` (Huber's
    ``delta / 2``, log-cosh's ``delta * log(2)``): twice the pinball loss
    at 0.5 up to a constant (objective error below 1e-9 relative to the
    residuals), solved exactly by that loss's route.
    """
    lad = _linear_tails_problem(objective)
    result = run_route(route_of(lad).methods, lad, coef, intercept, options)
    if result.dual_bound is not None:
        # L(r) >= factor * pinball(r) - offset for every r: a bound of least
        # absolute deviations is one of the loss's.
        _, factor, offset = objective.loss.linear_tails()
        result.dual_bound = factor * result.dual_bound - offset
    return result


def _proximal_newton_probe(objective, coef, intercept, *, max_iter, **options):
    """Proximal Newton to the end where the residuals sit in the band; else
    a start for the linear-tails start.

    After ``PROXIMAL_NEWTON_PROBE`` steps unconverged, the weighted share of
    samples within ``delta`` of their target decides: at least
    ``BAND_SHARE``, the method goes on to the end (Huber L1 on 500 x 20,000:
    0.998 of them, 71 steps in all, 1 s); below, the curvature is in the
    few samples on the band and the linear program of the tails is the
    better start (targets far beyond delta: 0 to 0.03 of them).
    """
    result = solve_proximal_newton(
        objective,
        coef,
        intercept,
        max_iter=min(max_iter, PROXIMAL_NEWTON_PROBE),
        **options,
    )
    if result.converged or result.stop or result.n_iter >= max_iter:
        # Finished, stalled (which more steps will not mend) or out of steps.
        return result
    raw = objective.raw_prediction(result.coef, result.intercept)
    inside = np.abs(objective.y - raw) <= objective.loss.delta
    weight = objective.sample_weight
    if weight @ inside < BAND_SHARE * weight.sum():
        return result
    rest = solve_proximal_newton(
        objective,
        result.coef,
        result.intercept,
        max_iter=max_iter - result.n_iter,
        **options,
    )
    rest.n_iter += result.n_iter
    return rest


def _linear_program_if_l2_negligible(objective, coef, intercept, **options):
    """The linear program (which leaves out the L2 term), where that term is
    below rounding at its optimum; else the start, unconverged.

    With a tiny L2 strength (as after rescaling features of magnitude
    1e150) the smoothed dual divides by it; the program's solution is kept
    if ``l2 / 2 * |W|**2`` there is below ``eps * J``: it is then optimal
    to the last bit.
    """
    result = _linear_program(objective, coef, intercept, **options)
    if result.converged:
        with np.errstate(over="ignore"):
            l2_term = objective.penalty.smooth_value(result.coef)
        value = objective.value(result.coef, result.intercept)
        if l2_term <= np.finfo(float).eps * abs(value):
            return result
    return SolverResult(coef, intercept, 0, False, "linear-program-if-l2-negligible")


# -- the methods ----------------------------------------------------------------
def _linear_program(objective, coef, intercept, *, max_iter, tol, on_iteration):
    return solve_linear_program(
        objective,
        max_iter=max_iter,
        smooth_solver=smoothing_solver(objective),
        on_iteration=on_iteration,
    )


def _smoothed_dual(objective, coef, intercept, **options):
    return solve_smoothed_dual(
        objective,
        coef,
        intercept,
        smooth_solver=smoothing_solver(objective),
        **options,
    )


def _interior_point(
    objective, coef, intercept, *, cold_only=False, many_features=False, **options
):
    """The interior-point method where it takes the problem
    (``interior_point_applies``: as a fallback after the box dual, or, with
    ``cold_only``, as the first method where the start is cold, and with
    ``many_features`` only on more samples than features); else nothing
    done, the start handed on. (The method starts from its own interior point: a
    warm start serves the rest of the route, from the previous alpha of a
    path.)

    First on tall sparse data with many features (26 problems on 1,016 to
    1,387 of them, 1% to 5% dense, alpha 4e-6 to 9e-5, hinge, pinball and
    epsilon-insensitive): 0.8 to 3.8 s, where the box dual first took 0.3
    to 11 s and failed 7 (ConvergenceWarnings, objectives up to 11% above
    the optimum). Not first with more features than samples: there the box
    dual certifies (wide dense 500 x 5,000, elastic nets: 0.8 s)."""
    applies = interior_point_applies(
        objective, fallback=not cold_only, many_features=many_features
    )
    if not applies or (cold_only and np.any(coef)):
        return SolverResult(coef, intercept, 0, False, "interior-point")
    return solve_interior_point(objective, coef, intercept, **options)


def _box_dual(objective, coef, intercept, *, max_iter, **options):
    """The box dual, leaving the interior-point method's iterations
    (``MAX_ITERATIONS``) of the budget where that method would take the
    problem after it (``interior_point_applies`` as a fallback): a box
    dual that fails takes every iteration it is given (epsilon-insensitive
    L2 on sparse 5,809 x 2,905, alpha 2e-5: all 1,000, a gap of 4e-3)."""
    if interior_point_applies(objective, fallback=True):
        max_iter = max(max_iter - INTERIOR_POINT_ITERATIONS, max_iter // 2)
    return solve_box_dual(objective, coef, intercept, max_iter=max_iter, **options)


def _dual_coordinate_descent(objective, coef, intercept, **options):
    """Liblinear's dual coordinate descent where it takes the problem
    (``dual_coordinate_descent_applies``: hinge or epsilon-insensitive with
    an L2 penalty on sparse data of suitable shape) from a cold start; else
    nothing done, the start handed on (a path's warm start serves the box
    dual)."""
    if not dual_coordinate_descent_applies(objective) or np.any(coef):
        return SolverResult(coef, intercept, 0, False, "dual-coordinate-descent")
    return solve_dual_coordinate_descent(objective, coef, intercept, **options)


def _subsample_start(objective, coef, intercept, *, methods, **options):
    """A start from the same problem on a subsample (cold starts on many
    samples), solved by ``methods`` (the rest of its route)."""

    def rest_of_route(problem, coef, intercept, **options):
        return run_route(methods, problem, coef, intercept, options)

    return subsample_start(objective, rest_of_route, coef, intercept, options)


METHODS = {
    "newton": functools.partial(solve_newton, approach=True),
    "newton-without-approach": solve_newton,
    "orthant-newton": solve_orthant_newton,
    "proximal-newton": solve_proximal_newton,
    "proximal-newton-probe": _proximal_newton_probe,
    "orthant-newton-long": functools.partial(
        solve_orthant_newton, newton_steps=SMOOTHED_ORTHANT_NEWTON_STEPS
    ),
    "lbfgs-split": solve_smooth,
    "zero-check": _zero_check,
    "subsample-start": functools.partial(
        _subsample_start, methods=("orthant-newton", "lbfgs-split")
    ),
    "subsample-start-proximal": functools.partial(
        _subsample_start,
        methods=("proximal-newton", "orthant-newton", "lbfgs-split"),
    ),
    "linear-tails-start": _linear_tails_start,
    "least-absolute-deviations": _least_absolute_deviations,
    "linear-program": _linear_program,
    "linear-program-if-l2-negligible": _linear_program_if_l2_negligible,
    "interior-point": _interior_point,
    "interior-point-first": functools.partial(_interior_point, cold_only=True),
    "interior-point-first-if-tall": functools.partial(
        _interior_point, cold_only=True, many_features=True
    ),
    "box-dual": _box_dual,
    "dual-coordinate-descent": _dual_coordinate_descent,
    "smoothed-dual": _smoothed_dual,
}
