"""The certificate of a solve: the objective at the answer and how far from
optimal it can be.

For a convex loss, the relative duality gap ``(J - D) / |J|`` at a feasible
dual point: a bound on the answer's suboptimality that needs no knowledge
of the optimum. The duals of the kinked losses come from their solvers
(``SolverResult.dual_bound``); for the smooth convex losses, the dual point
is built from the answer itself (Fenchel duality):

    J(W, b) = sum_i s_i L(y_i, f_i) + P(W),   f = X W + b,
    D(u) = -sum_i s_i L*(y_i, u_i) - P*(-X.T @ (s * u)),   sum_i s_i u_i = 0,

with ``u_i = L'(y_i, f_i)`` the derivatives of the loss at the answer
(``D(u) = J`` at the optimum), ``L*`` the loss's conjugate
(``PointwiseLoss.conjugate``) and ``P*`` the penalty's: ``sum_j
(|v_j| - l1)_+**2 / (2 l2)``, or, without an L2 part, zero once ``u`` is
scaled so that ``|X.T @ (s * u)| <= l1``. The intercept's constraint is met
by shifting the answer's intercept to its exact optimum for the answer's
coefficients before taking the derivatives (a problem in the intercept
alone); the gap of the answer itself stays a valid bound, since any
feasible ``D`` is below the optimum.

Where no dual bound is available (the focal loss, which is not convex, and a
smooth loss with no penalty, or an L2 penalty below the rounding of the
objective, whose dual asks ``X.T @ (s * u) = 0`` to rounding), the
certificate is the stationarity residual: the largest entry of the
objective's minimum-norm subgradient.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .active_set import free_columns


@dataclass
class Certificate:
    """``objective``: J at the answer (of the problem as solved); ``gap``: the
    relative duality gap, or the stationarity residual, as ``kind`` says."""

    objective: float
    gap: float
    kind: str


DUALITY_GAP = "relative duality gap"
STATIONARITY = "stationarity residual"


def certify(objective, result):
    """The ``Certificate`` of ``result`` (intercepts of the centered problem),
    from its scores ``result.raw`` where it has them.

    The scores are taken from the result and handed on in a list that their
    last user empties: with many classes they are as large as ``X``, and no
    frame holds them while the derivatives are formed from them.
    """
    coef, intercept = result.coef, result.intercept
    if result.raw is None:
        scores = [objective.raw_prediction(coef, intercept)]
    else:
        scores, result.raw = [result.raw], None
    pointwise = None
    if objective.loss.is_multiclass or result.dual_bound is not None:
        # With many classes the derivatives are as large as X: formed only
        # where needed, and dropped after.
        value = objective.value(coef, intercept, scores[0])
    else:
        # One evaluation gives the value and the derivatives at the answer,
        # where the dual point's search for the intercept starts.
        pointwise = objective.pointwise(scores[0])
        value = objective.sample_weight @ pointwise[0] + objective.penalty.value(coef)
    if result.dual_bound is not None:
        return Certificate(value, relative_gap(value, result.dual_bound), DUALITY_GAP)
    if has_fenchel_dual(objective, coef, value):
        derivative = None if pointwise is None else pointwise[1]
        dual = fenchel_dual_value(objective, coef, intercept, scores, derivative)
        return Certificate(value, relative_gap(value, dual), DUALITY_GAP)
    residual = stationarity(objective, coef, intercept, scores.pop(), pointwise)
    return Certificate(value, residual, STATIONARITY)


def has_fenchel_dual(objective, coef, value):
    """Whether the Fenchel dual bounds the optimum usefully at the answer: a
    loss with a conjugate and an L1 part, or an L2 part above J's rounding.

    An L2 part below the rounding of J at the answer (features of extreme
    magnitude, rescaled) makes P* = |z|**2 / (2 l2) of a z at rounding level
    astronomical: as without a penalty, no useful bound.
    """
    penalty = objective.penalty
    negligible = penalty.smooth_value(coef) <= np.finfo(float).eps * abs(value)
    return objective.loss.has_conjugate and (
        penalty.has_l1 or (penalty.has_l2 and not negligible)
    )


def zero_certificate(objective, raw, value, gradient):
    """The certificate of ``W = 0`` with its best intercept, from what the zero
    check has at hand (no product with ``X``): ``P*`` vanishes there, as no
    gradient entry exceeds ``l1``, so ``D = -sum_i s_i L*(y_i, u_i)``."""
    if objective.loss.has_conjugate:
        derivative = objective.loss.gradient(objective.y, raw)
        dual = -(
            objective.sample_weight @ objective.loss.conjugate(objective.y, derivative)
        )
        return Certificate(value, relative_gap(value, dual), DUALITY_GAP)
    residual = stationarity_residual(
        objective.penalty, np.zeros(gradient.size), gradient, objective.n_coef
    )
    return Certificate(value, residual, STATIONARITY)


def relative_gap(value, dual):
    """``(J - D) / |J|``, zero where rounding puts ``D`` above ``J``."""
    return max(value - dual, 0.0) / max(abs(value), np.finfo(float).tiny)


def stationarity(objective, coef, intercept, raw=None, pointwise=None):
    """The largest entry of the minimum-norm subgradient of ``J`` (from the
    scores ``raw``, and the loss and its derivatives there, where they are at
    hand)."""
    params = objective.pack(coef, intercept)
    _, gradient = objective.smooth_value_gradient(params, raw=raw, pointwise=pointwise)
    return stationarity_residual(objective.penalty, params, gradient, objective.n_coef)


def stationarity_residual(penalty, params, gradient, n_coef):
    """The largest entry of the minimum-norm subgradient of ``J`` at packed
    ``params``, from the smooth part's ``gradient`` there (the first
    ``n_coef`` entries are coefficients, the rest intercepts, never
    penalized)."""
    residual = penalty.minimum_norm_subgradient(params[:n_coef], gradient[:n_coef])
    return float(np.max(np.abs(np.concatenate([residual, gradient[n_coef:]]))))


@np.errstate(over="ignore", invalid="ignore")
def fenchel_dual_value(objective, coef, intercept, scores=None, derivative=None):
    """``D(u)`` at the dual point the answer ``(coef, intercept)`` gives.

    ``scores``, a list holding the answer's scores if they are at hand, is
    emptied (the scores are shifted in place); ``derivative``, the loss's
    derivatives at those scores if known (one output). Each per-sample
    array lives only as long as it is needed: with many classes each is as
    large as ``X``.
    """
    loss, penalty = objective.loss, objective.penalty
    if derivative is None:
        derivative = loss.gradient(
            objective.y, _optimal_scores(objective, coef, intercept, scores)
        )
    elif objective.fit_intercept:
        raw = scores.pop() if scores else objective.raw_prediction(coef, intercept)
        shift, derivative = _intercept_shift(objective, raw, derivative)
        if derivative is None:
            raw += shift
            derivative = loss.gradient(objective.y, raw)
    candidates = [derivative]
    if objective.fit_intercept and not loss.is_multiclass:
        # At the intercept's root sum_i s_i u_i is zero only to the rounding
        # of the derivatives themselves (a Poisson count of 1e6 at a score
        # of 14: mu - y carries an error of eps * 14 * mu), and the dual
        # value ignores that residual, which enters the gap multiplied by
        # the intercept: 2e-9 of J there. Without their weighted mean the
        # derivatives meet the constraint to the rounding of the sum; the
        # derivatives as they are serve where that leaves the conjugate's
        # domain.
        residual = objective.sample_weight @ derivative
        if residual != 0:
            candidates.insert(0, derivative - residual)
    for dual_point in candidates:
        conjugate, scale = penalty_conjugate(
            penalty,
            objective.rmatvec(
                objective.weighted(dual_point).reshape(-1, objective.n_outputs)
            ),
        )
        if scale != 1.0:
            dual_point *= scale
        losses = loss.conjugate(objective.y, dual_point)
        value = -(objective.sample_weight @ losses) - conjugate
        if np.isfinite(value):
            break
    return value


def _optimal_scores(objective, coef, intercept, scores=None):
    """The scores of the answer (taken out of the list ``scores`` and
    shifted in place, where given), with the intercept's exact optimum for
    its coefficients."""
    raw = scores.pop() if scores else objective.raw_prediction(coef, intercept)
    if objective.fit_intercept:
        raw += _intercept_shift(objective, raw)[0]
    return raw


def penalty_conjugate(penalty, correlation):
    """``(P*(v), scale)`` at the correlation ``v = X.T @ (s * u)``.

    With an L2 part, ``sum_j (|v_j| - l1)_+**2 / (2 l2)`` and a scale of 1.
    Without one, P* is 0 inside ``|v| <= l1`` and infinite outside: the dual
    point ``u`` is then scaled by ``scale`` (below 1 where ``|v|`` exceeds
    ``l1``), which keeps it in the loss's domain (which holds 0) and the
    intercept's constraint, and P* is 0.
    """
    if penalty.has_l2:
        excess = np.maximum(np.abs(correlation) - penalty.l1, 0.0).ravel()
        return (excess @ excess) / (2.0 * penalty.l2), 1.0
    largest = np.max(np.abs(correlation), initial=0.0)
    return 0.0, (penalty.l1 / largest if largest > penalty.l1 else 1.0)


def _intercept_shift(objective, raw, derivative=None):
    """The shift of every score that makes ``sum_i s_i L'(y_i, f_i)`` zero:
    the intercept's exact optimum for the answer's coefficients.

    The slope is non-decreasing in the shift (a convex loss). Newton's method
    on it, kept inside a bracket of the root and bisecting where a step
    leaves it or there is no curvature (Huber with every residual past the
    band): from an answer whose intercept is already optimal to ``tol``,
    one or two steps.

    Returns ``(shift, derivatives)``: the loss's derivatives at the shifted
    scores where the search evaluated them last there (one output), else
    None. ``derivative``, those at the scores themselves if known, serves
    the search's first evaluation.
    """
    if objective.loss.is_multiclass:
        return _multinomial_shift(objective, raw), None
    loss, y, weight = objective.loss, objective.y, objective.sample_weight
    latest = {} if derivative is None else {0.0: derivative}

    def slope_and_curvature(shift):
        shifted = raw + shift
        if shift not in latest:
            latest.clear()
            latest[shift] = loss.gradient(y, shifted)
        slope = weight @ latest[shift]
        curvature = weight @ loss.hessian(y, shifted) if loss.has_curvature else 0.0
        return slope, curvature

    shift = slope_root(slope_and_curvature)
    return shift, latest.get(shift)


def slope_root(slope_and_curvature):
    """The shift where a non-decreasing slope crosses zero (the intercept's
    optimum), from ``slope_and_curvature(shift)``: Newton's method inside a
    bracket of the root, bisecting where a step leaves it or there is no
    curvature. Also over a Dask array's chunks, a pass per evaluation."""
    low, high = -np.inf, np.inf
    shift = 0.0
    for _ in range(100):
        slope, curvature = slope_and_curvature(shift)
        if slope == 0:
            return shift
        if slope > 0:
            high = shift
        else:
            low = shift
        step = -slope / curvature if curvature > 0 else -np.sign(slope)
        trial = shift + step
        if not low < trial < high:
            if np.isfinite(low) and np.isfinite(high):
                trial = 0.5 * (low + high)
            else:
                # No bracket yet: double the reach on the slope's side.
                width = max(abs(step), 1.0) if np.isfinite(step) else 1.0
                trial = shift - np.sign(slope) * 2.0 * width
        resolution = np.finfo(float).eps * (1 + abs(shift))
        if abs(trial - shift) <= resolution or (
            np.isfinite(high - low) and high - low <= 4 * resolution
        ):
            # A step below the resolution of scores of unit size moves no
            # score: the slope is at its rounding (seen: 73 evaluations
            # stepping by 1e-17 through noise of 1e-17).
            return shift
        shift = trial
    return shift


def _multinomial_shift(objective, raw):
    """The shift of each class's scores that makes the weighted probabilities
    of every class sum to its weighted share: Newton's method on the
    intercepts alone (a few steps from an answer already near it)."""
    loss, y, weight = objective.loss, objective.y, objective.sample_weight
    n_classes = raw.shape[1]
    # Class codes, or one row of class probabilities per sample (soft labels).
    shares = (
        weight @ y
        if y.ndim == 2
        else np.bincount(y, weights=weight, minlength=n_classes)
    )
    shift = np.zeros(n_classes)
    best, best_size = shift, np.inf
    # One buffer for the shifted scores and their softmax: with many
    # classes it is as large as X.
    buffer = np.empty_like(raw)
    root_weight = np.sqrt(weight)[:, None]
    for _ in range(50):
        proba = loss.probabilities(np.add(raw, shift, out=buffer), out=buffer)
        expected = weight @ proba
        slope = expected - shares
        size = np.max(np.abs(slope))
        if size >= 0.5 * best_size:
            # Newton's method converges quadratically; a slope that no
            # longer halves is at its rounding (1e-17 to 1e-16 in every
            # fit measured, never exactly zero).
            break
        best, best_size = shift.copy(), size
        if size <= 1e-15:
            break
        proba *= root_weight
        hessian = np.diag(expected) - proba.T @ proba
        step = np.linalg.lstsq(hessian, -slope, rcond=None)[0]
        step -= step.mean()
        shift = shift + step
    return best


def zero_dual_point(objective, intercept):
    """The dual point of a kinked loss at ``W = 0`` (with ``intercept``) whose
    correlation ``X.T @ (a * theta)`` is smallest: ``(its largest entry,
    theta)``.

    Samples off the kink hold ``theta`` at the end of their box on their
    residual's side; those on it range over their box, subject to
    ``a . theta = 0`` with an intercept: a linear program in them and the
    bound ``t``, posed with each ``theta`` as a share of its box. ``W = 0``
    is optimal for an L1 strength at least ``t`` (the path's alpha_max),
    and with a pure L2 penalty exactly where ``t = 0`` (then ``theta``
    certifies it: its dual value is ``J(0, intercept)``). Where the program
    fails, ``theta`` holds the samples on the kink at zero.
    """
    c, a = objective.loss.affine_parts(objective.y)
    lower, upper = objective.loss.dual_box()
    weight = objective.sample_weight
    residual = c - a * np.broadcast_to(intercept, c.shape)
    tolerance = 1e-12 * max(np.abs(c).max(), 1.0)
    free = (np.abs(residual) <= tolerance) & (weight > 0)
    theta = weight * np.where(residual > 0, upper, lower)
    theta[free] = 0.0
    # Only the targets, weights and the intercept decide theta at W = 0, so
    # the product and the free rows are all this needs of X (a pass, and a
    # gathering of those rows, on a Dask array).
    fixed = objective.rmatvec(a * theta).ravel()
    if not free.any():
        return np.max(np.abs(fixed), initial=0.0), theta
    width = weight[free] * (upper - lower)
    columns, fixed = free_columns(objective, free, a[free] * width, a @ theta, fixed)
    # A feature no free row touches bounds t by its fixed part alone: only
    # the others are constraints (on tf-idf text most of the features).
    if sp.issparse(columns):
        touched = np.flatnonzero(np.diff(columns.indptr))
        stack, side_by_side = sp.vstack, sp.hstack
    else:
        touched = np.flatnonzero(np.any(columns != 0, axis=1))
        stack, side_by_side = np.vstack, np.hstack
    untouched = np.delete(np.abs(fixed), touched)
    columns, fixed = columns[touched], fixed[touched]
    n_free = width.size
    # Variables: the free shares u (theta = width * u), then t.
    ones = np.ones((touched.size, 1))
    rows = stack([side_by_side([columns, -ones]), side_by_side([-columns, -ones])])
    right = np.concatenate([-fixed, fixed])
    equality = None
    if objective.fit_intercept:
        equality = (np.append(a[free] * width, 0.0)[None, :], [-(a @ theta)])
    result = linprog(
        np.append(np.zeros(n_free), 1.0),
        A_ub=rows,
        b_ub=right,
        A_eq=None if equality is None else equality[0],
        b_eq=None if equality is None else equality[1],
        bounds=[(lower / (upper - lower), upper / (upper - lower))] * n_free
        + [(np.max(untouched, initial=0.0), None)],
        method="highs",
    )
    if result.status != 0:
        return np.max(np.abs(fixed), initial=0.0), theta
    theta[free] = width * result.x[:-1]
    return float(result.x[-1]), theta
