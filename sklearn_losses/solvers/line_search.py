"""Line searches along the prediction.

Along a step ``d`` the prediction moves linearly, ``f + t * (X @ d)``, so
once ``q = X @ d`` is known every trial length costs one pass over the
samples and no product with ``X``. ``line_search`` finds a strong Wolfe
length for a smooth objective; ``projected_search`` backtracks along a
step projected onto an orthant, for an L1 part.
"""

from dataclasses import dataclass

import numpy as np

from .._loss import row_dots

# The line search accepts a step once the derivative along the line has
# shrunk to this fraction of its size at the start (strong Wolfe).
CURVATURE_CONDITION = 0.001
# A decrease of the objective smaller than this, relative to its value, is
# lost in the rounding of a sum over the samples.
VALUE_RESOLUTION = 1e3 * np.finfo(float).eps
# Armijo's sufficient decrease, as a fraction of what the slope promises.
SUFFICIENT_DECREASE = 1e-4
# A first secant root this close to the bracket's start, relative to its
# width, may mean the derivative is far from linear on it (_rises_late) ...
SECANT_FLOOR = 1e-6
# ... and the value gained across it below this share of what a linear
# derivative would give means the derivative rises late (an exponential).
LATE_RISE = 0.1


@dataclass
class LineSearchResult:
    """The length found, with the prediction there and, if at hand, the loss
    and its derivative per sample there (for ``smooth_value_gradient``)."""

    length: float
    raw: np.ndarray
    pointwise: tuple | None


class _Line:
    """The smooth objective along ``params + t * step``: value and derivative.

    The derivative along the line is ``sum_i s_i * L'_i . q_i`` plus the L2
    term's. Far along a long step the value may overflow to inf: that only
    means "too far", which the search handles.

    Memory: with many classes each per-sample array (scores, their change,
    the derivatives) is as large as ``X`` itself (50 classes on 50
    features); there the line holds only the scores and their change, and
    evaluates a trial block by block of rows (``value_and_slope_along``);
    the accepted point's derivatives are computed once more, by the caller.
    Where they are smaller (one output, or a few classes on many
    features), the line keeps the latest trial's scores and derivatives
    and hands them back, which saves that evaluation.
    """

    def __init__(self, objective, params, raw, step):
        coef, _ = objective.unpack(params)
        step_coef, step_intercept = objective.unpack(step)
        self.objective = objective
        self.raw = raw
        self.change = objective.raw_prediction(step_coef, step_intercept)
        self.l2 = objective.penalty.l2
        self.coef_coef = coef.ravel() @ coef.ravel()
        self.coef_step = coef.ravel() @ step_coef.ravel()
        self.step_step = step_coef.ravel() @ step_coef.ravel()
        self.values = {}
        self.by_blocks = objective.scores_rival_X
        # The prediction and per-sample results of the latest trial, handed
        # back if accepted.
        self.latest = {}

    @np.errstate(over="ignore", invalid="ignore")
    def __call__(self, length):
        # The previous trial goes before this one is formed.
        self.latest.clear()
        if self.by_blocks:
            data, slope = self.objective.value_and_slope_along(
                self.raw, self.change, length
            )
        else:
            trial_raw = self.raw + length * self.change
            pointwise = self.objective.pointwise(trial_raw)
            self.latest[length] = trial_raw, pointwise
            data = self.objective.sample_weight @ pointwise[0]
            slope = self.objective.sample_weight @ row_dots(pointwise[1], self.change)
        penalty = (
            0.5
            * self.l2
            * (
                self.coef_coef
                + 2 * length * self.coef_step
                + length**2 * self.step_step
            )
        )
        self.values[length] = data + penalty
        derivative = slope + self.l2 * (self.coef_step + length * self.step_step)
        return self.values[length], derivative

    def result(self, length):
        """The ``LineSearchResult`` at ``length``; the line is used up: its
        score change becomes the result's scores, in place (with many
        classes a new array would be one ``X`` more at the peak)."""
        if length in self.latest:
            return LineSearchResult(length, *self.latest[length])
        trial_raw, self.change = self.change, None
        trial_raw *= length
        trial_raw += self.raw
        return LineSearchResult(length, trial_raw, None)


def line_search(objective, params, raw, step, value, slope):
    """Step length along ``step`` that satisfies the strong Wolfe conditions.

    Returns a ``LineSearchResult``. A trial is accepted as soon as it
    decreases the objective enough (Armijo, ``1e-4``) and the derivative
    along the line has shrunk to ``CURVATURE_CONDITION`` of its size at
    ``t = 0`` (a Newton step near the optimum passes at ``t = 1``, one
    trial). Otherwise the derivative, non-decreasing because the objective
    is convex, has its root bracketed by extrapolating the secant of the
    derivative from ``t = 1`` (which for a Newton step from a point of very
    different curvature, such as a cold start, lands near the root at once,
    where doubling would take several trials) and found by the Illinois
    variant of regula falsi, which on a piecewise-quadratic loss
    (derivative piecewise linear) lands on it in a few trials. Falls back
    to halving until the Armijo condition holds if the root search stalls.
    """
    search = _WolfeSearch(_Line(objective, params, raw, step), value, slope)
    if -slope <= VALUE_RESOLUTION * abs(value):
        # The whole step promises less than floating point resolves in the
        # value: values and derivatives along it are rounding noise, and
        # searching them is wasted work. The caller judges the full step.
        return search.line.result(1.0)
    for phase in (search.extrapolate, search.interpolate, search.backtrack):
        length = phase()
        if length is not None:
            return search.line.result(length)
    raise AssertionError("backtracking always returns a length")


class _WolfeSearch:
    """The three phases of ``line_search`` on one line, sharing the bracket
    ``[low, high]`` with the derivative at both ends and the value at ``high``."""

    def __init__(self, line, value, slope):
        self.line = line
        self.value = value
        self.slope = slope
        self.low, self.low_derivative = 0.0, slope
        self.high = 1.0
        self.high_value, self.high_derivative = line(self.high)

    def acceptable(self, length, length_value, length_derivative):
        return (
            length_value <= self.value + SUFFICIENT_DECREASE * length * self.slope
            and abs(length_derivative) <= CURVATURE_CONDITION * abs(self.slope)
        )

    def extrapolate(self):
        """Lengthen the step until the derivative turns non-negative.

        While it is negative, its secant is extrapolated to zero, at most 8
        times further (no curvature left along the line: 8). Where the
        derivative is concave (curvature fading along the line, as for
        logistic from a cold start) the secant falls short each time: after
        a first shortfall, aim twice as far, to bracket. Returns an accepted
        length, or None with the root bracketed.
        """
        for _ in range(60):
            if self.acceptable(self.high, self.high_value, self.high_derivative):
                return self.high
            if self.high_derivative >= 0 or not np.isfinite(self.high_value):
                break
            rise = self.high_derivative - self.low_derivative
            reach = (
                -self.high_derivative * (self.high - self.low) / rise
                if rise > 0
                else np.inf
            )
            longer = self.high + (2.0 * reach if self.low > 0 else reach)
            longer = min(max(longer, 1.001 * self.high), 8.0 * self.high)
            self.low, self.low_derivative = self.high, self.high_derivative
            self.high = longer
            self.high_value, self.high_derivative = self.line(self.high)
        if self.high_derivative < 0 and np.isfinite(self.high_value):
            return self.high
        return None

    def interpolate(self):
        """Regula falsi (Illinois) on the derivative within the bracket.

        Returns an accepted length, or None where the bracket collapses or
        stops shrinking (then ``backtrack`` decides).
        """
        side = 0
        for _ in range(50):
            if not (
                np.isfinite(self.high_derivative)
                and self.high_derivative > self.low_derivative
            ):
                break
            middle = (
                self.low * self.high_derivative - self.high * self.low_derivative
            ) / (self.high_derivative - self.low_derivative)
            if side == 0 and self._rises_late(middle):
                # The derivative grows by orders of magnitude, late in the
                # bracket (an exponential loss from a step far too long):
                # its secant says nothing, and halving from the far end
                # finds the scale of the step in a few trials.
                return None
            if not self.low < middle < self.high:
                middle = 0.5 * (self.low + self.high)
            middle_value, middle_derivative = self.line(middle)
            if self.acceptable(middle, middle_value, middle_derivative):
                return middle
            if middle_derivative == 0 or self.high - self.low <= 1e-3 * self.high:
                self.low = self.high = middle
                break
            if middle_derivative < 0:
                self.low, self.low_derivative = middle, middle_derivative
                if side == -1:
                    self.high_derivative *= 0.5
                side = -1
            else:
                self.high, self.high_derivative = middle, middle_derivative
                if side == 1:
                    self.low_derivative *= 0.5
                side = 1
        return None

    def _rises_late(self, secant_root):
        """Whether the secant's root hugs the bracket's start because the
        derivative rises late and steeply: the value gained across the
        bracket is a small part of what a linear derivative would give
        (a piecewise-linear derivative rising early, as a narrow smoothing's,
        gives more, and its secant is right)."""
        width = self.high - self.low
        if secant_root - self.low >= SECANT_FLOOR * width:
            return False
        low_value = self.value if self.low == 0 else self.line.values[self.low]
        linear_gain = 0.5 * (self.low_derivative + self.high_derivative) * width
        return self.high_value - low_value < LATE_RISE * linear_gain

    def backtrack(self):
        """Halve from the best end of the bracket until Armijo holds.

        A guard against rounding: the step is kept only if it satisfies
        Armijo; below 1e-12 the tiny length is returned as it is.
        """
        length = self.low if self.low > 0 else self.high
        values = self.line.values
        while length > 1e-12:
            if length not in values:
                self.line(length)
            if values[length] <= self.value + SUFFICIENT_DECREASE * length * self.slope:
                return length
            length *= 0.5
        return length


def projected_search(objective, params, raw, value, step, orthant, residual):
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
            ) + objective.penalty.value(coef)
        promised = -(residual @ (trial - params))
        if (
            trial_value < value
            and trial_value <= value - SUFFICIENT_DECREASE * promised
        ):
            return trial, trial_value, trial_raw
        if promised <= VALUE_RESOLUTION * abs(value):
            break
        length *= 0.5
    return None, None, None
