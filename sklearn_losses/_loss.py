"""Pointwise losses on the raw prediction.

Each loss maps a target and a raw prediction ``f`` (a score, or one score per
class) to one number per sample, and knows its derivative with respect to
``f``.  The losses know nothing of coefficients, penalties or solvers: the
objective module lifts them to coefficient space.

Encodings of ``y_true``:

- regression losses: the real target (a non-negative count or rate for
  the Poisson loss, whose raw prediction is the log of the mean; the pair
  ``(y, side)`` on the solvers' rows of ``EpsilonInsensitiveLoss``);
- binary classification losses: the signed label ``+1`` for ``classes_[1]``
  and ``-1`` for ``classes_[0]``, so that the margin is ``y_true * f``;
- multiclass losses: the integer code of the class, with ``f`` of shape
  ``(n_samples, n_classes)``.

Every formula here stays finite and silent (no floating point warning) for
residuals and margins of magnitude up to 1e300, with one exception that
arithmetic forces: the squared hinge (and squared epsilon-insensitive) loss
exceeds the float64 range once the margin (residual) is beyond about
1.3e154 in size, where its value is ``inf``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, xlog1py, xlogy

from ._parallel import ExecutionSettings, blocks


def _underflow_to_zero():
    """Exponentials of very negative numbers are meant to flush to zero."""
    return np.errstate(under="ignore")


class PointwiseLoss:
    """Base class: a loss ``L(y_true, raw_prediction)`` evaluated per sample.

    The solvers read what a loss offers from these flags (the solver table,
    ``sklearn_losses.solvers.dispatch``, chooses by them), never by looking
    for methods.

    Attributes
    ----------
    is_smooth : bool
        True when ``L`` is continuously differentiable in the raw prediction,
        so that a quasi-Newton method may be applied to it.
    is_multiclass : bool
        True when the raw prediction has one column per class.
    has_curvature : bool
        True when ``hessian(y_true, raw_prediction)`` gives the (generalized)
        second derivative per sample, so that Newton's method can form the
        Hessian ``X.T @ diag(s * L'') @ X``.
    has_block_curvature : bool
        True for a multiclass loss whose Hessian is a ``K x K`` block per
        sample: ``hessian_product_factory`` applies the blocks and
        ``probabilities`` gives what they are made of.
    has_linear_tails : bool
        True when the loss is linear beyond a band, up to a constant
        (``linear_tails``): Huber's, log-cosh's.
    is_piecewise_linear : bool
        True for the maximum of two affine functions (``PiecewiseLinearLoss``).
    has_conjugate : bool
        True for a convex loss whose convex conjugate in the raw prediction,
        ``conjugate(y_true, u) = sup_f (u f - L(y_true, f))``, is given at
        the derivatives ``u`` the loss takes (for the duality gap).
    """

    is_smooth = True
    is_multiclass = False
    has_curvature = False
    has_block_curvature = False
    has_linear_tails = False
    is_piecewise_linear = False
    has_conjugate = False

    def loss(self, y_true, raw_prediction):
        """Return ``L(y_true, raw_prediction)`` for each sample."""
        return self.loss_gradient(y_true, raw_prediction)[0]

    def gradient(self, y_true, raw_prediction):
        """Return the derivative of ``L`` with respect to the raw prediction."""
        return self.loss_gradient(y_true, raw_prediction)[1]

    def loss_gradient(self, y_true, raw_prediction):
        """Return the loss and its derivative, sharing the common work."""
        raise NotImplementedError

    def for_new_target(self):
        """The loss to use with another target array: itself, unless it keeps
        something of the target (see ``solvers.smoothed_dual.SmoothedLoss``)."""
        return self

    # Rows the solvers see per sample (see ``solver_rows``).
    rows_per_sample = 1

    def solver_rows(self, X, y_true, sample_weight):
        """``(X, y_true, sample_weight)`` as the solvers see them: as given,
        unless the loss sees each sample as several rows
        (``EpsilonInsensitiveLoss``)."""
        return X, y_true, sample_weight

    def best_constant(self, y_true, sample_weight):
        """The constant raw prediction of least weighted loss, if in closed form.

        None where it has none (the caller then minimizes numerically) or
        where it is infinite.
        """
        return None

    def __repr__(self):
        params = ", ".join(
            f"{key}={value!r}"
            for key, value in vars(self).items()
            if not key.startswith("_")
        )
        return f"{type(self).__name__}({params})"


class PiecewiseLinearLoss(PointwiseLoss):
    """A convex loss that is the maximum of two affine functions of ``f``.

    Written as ``L(y, f) = max over u in [lower, upper] of u * (c - a * f)``
    with ``a = +-1``, which is what the linear program and the dual solvers
    need: the dual variable of sample ``i`` lives in the box
    ``[s_i * lower, s_i * upper]``.
    """

    is_smooth = False
    is_piecewise_linear = True

    def dual_box(self):
        """Return ``(lower, upper)``, the range of the slope variable ``u``."""
        raise NotImplementedError

    def affine_parts(self, y_true):
        """Return ``(c, a)`` with ``L(y, f) = max_u u * (c - a * f)``."""
        raise NotImplementedError

    def target_from_affine(self, c, a):
        """The target ``y`` whose affine parts are ``(c, a)`` (folded samples)."""
        raise NotImplementedError

    def smoothed_loss_gradient(self, y_true, raw_prediction, smoothing, affine=None):
        """Moreau envelope ``max over u in the box of u * t - smoothing * u**2 / 2``.

        With ``t = c - a * f``: quadratic ``t**2 / (2 * smoothing)`` where
        ``t / smoothing`` lies in the box, linear beyond; it is continuously
        differentiable, below ``L`` by at most ``smoothing * max(lower**2,
        upper**2) / 2``, and its slope ``u = clip(t / smoothing, lower, upper)``
        is a dual point. Returns the value, the derivative in ``f`` and ``u``.
        ``affine``, if given, is ``affine_parts(y_true)``, already known.
        """
        c, a = self.affine_parts(y_true) if affine is None else affine
        lower, upper = self.dual_box()
        # In place: a solver evaluates this many times per fit, and each
        # fresh array of a large fit costs page faults.
        inner = a * raw_prediction
        np.subtract(c, inner, out=inner)
        slope = np.divide(inner, smoothing)
        np.clip(slope, lower, upper, out=slope)
        # u * t - smoothing * u**2 / 2 = u * (t - smoothing * u / 2)
        value = np.multiply(slope, -0.5 * smoothing)
        value += inner
        value *= slope
        gradient = np.multiply(a, slope)
        np.negative(gradient, out=gradient)
        return value, gradient, slope

    def loss_gradient(self, y_true, raw_prediction):
        c, a = self.affine_parts(y_true)
        lower, upper = self.dual_box()
        inner = c - a * raw_prediction
        # The slope that attains the maximum: upper where inner > 0, else lower;
        # it is also a subgradient of L with respect to inner.
        slope = np.where(inner > 0, upper, lower)
        return slope * inner, -a * slope


class HuberLoss(PointwiseLoss):
    """Huber loss ``r**2 / 2`` for ``|r| <= delta``, else ``delta * (|r| - delta / 2)``.

    ``r = y_true - raw_prediction``.  Its derivative is ``-clip(r, -delta, delta)``.
    ``scale`` multiplies the loss (used to keep slopes near one when the
    targets are rescaled, see ``LossRegressor.fit``).
    """

    has_curvature = True
    has_linear_tails = True
    has_conjugate = True

    def __init__(self, delta=1.0, scale=1.0):
        self.delta = delta
        self.scale = scale

    def loss_gradient(self, y_true, raw_prediction):
        residual = y_true - raw_prediction
        clipped = np.clip(residual, -self.delta, self.delta)
        # clipped * (r - clipped / 2) is r**2/2 inside the band and the linear
        # branch outside, without ever squaring a large residual.
        return self.scale * (clipped * (residual - clipped / 2)), -self.scale * clipped

    def hessian(self, y_true, raw_prediction):
        """Second derivative (generalized): 1 inside the band, 0 outside."""
        inside = np.abs(y_true - raw_prediction) <= self.delta
        return self.scale * inside.astype(float)

    def conjugate(self, y_true, dual):
        """``u y + u**2 / (2 scale)`` for ``|u| <= scale * delta``: with
        ``r = y - f``, ``sup_r (-u r - scale * huber(r)) = u**2 / (2 scale)``."""
        return dual * y_true + dual**2 / (2.0 * self.scale)

    def linear_tails(self):
        """The loss outside the band, ``scale * delta * |r|`` up to a constant.

        Returns ``(PinballLoss(0.5), factor, offset)``: for every ``r``,
        ``factor * pinball(r) - offset <= L(r) <= factor * pinball(r)``,
        with equality on the left beyond the band.
        """
        return (
            PinballLoss(0.5),
            2.0 * self.scale * self.delta,
            self.scale * self.delta**2 / 2,
        )


class LogCoshLoss(PointwiseLoss):
    """Log-cosh loss ``delta**2 * log(cosh(r / delta))`` of ``r = y_true - f``.

    Smooth everywhere: ``r**2 / 2`` near zero, ``delta * |r| - delta**2 *
    log(2)`` in the tails, so a robust cousin of Huber's with the same
    ``delta`` and a curvature that fades instead of stopping. Its derivative
    is ``-delta * tanh(r / delta)``, its second derivative ``1 -
    tanh(r / delta)**2``. ``scale`` multiplies the loss (as ``HuberLoss``'s).
    """

    has_curvature = True
    has_linear_tails = True
    has_conjugate = True

    def __init__(self, delta=1.0, scale=1.0):
        self.delta = delta
        self.scale = scale

    def linear_tails(self):
        """``(PinballLoss(0.5), factor, offset)`` as ``HuberLoss``'s: from
        ``e**|x| / 2 <= cosh(x) <= e**|x|``, ``scale * (delta * |r| -
        delta**2 log 2) <= L(r) <= scale * delta * |r|``, the left side
        exact to rounding once ``|r| > 20 * delta``."""
        factor = 2.0 * self.scale * self.delta
        return PinballLoss(0.5), factor, self.scale * self.delta**2 * np.log(2.0)

    def loss_gradient(self, y_true, raw_prediction):
        ratio = (y_true - raw_prediction) / self.delta
        size = np.abs(ratio)
        # log(cosh(x)) = |x| + log1p(exp(-2 |x|)) - log(2), exact and finite
        # for any x; tanh never overflows.
        with _underflow_to_zero():
            log_cosh = size + np.log1p(np.exp(-2.0 * size)) - np.log(2.0)
        factor = self.scale * self.delta
        return factor * self.delta * log_cosh, -factor * np.tanh(ratio)

    def hessian(self, y_true, raw_prediction):
        """Second derivative ``scale * (1 - tanh(r / delta)**2)``."""
        slope = np.tanh((y_true - raw_prediction) / self.delta)
        return self.scale * (1.0 - slope * slope)

    def conjugate(self, y_true, dual):
        """``u y + scale * delta**2 * g(s)`` with ``s = u / (scale * delta)``
        and ``g(s) = s atanh(s) + log(1 - s**2) / 2`` for ``|s| <= 1``, the
        conjugate of ``log cosh`` (``inf`` outside)."""
        share = dual / (self.scale * self.delta)
        # |s| = 1 is the limit of residuals beyond tanh's resolution: there
        # g is log(2), as ((1 + s) log(1 + s) + (1 - s) log(1 - s)) / 2 says.
        inside = np.abs(share) <= 1.0
        share = np.where(inside, share, 0.0)
        conjugate = 0.5 * (
            xlogy(1.0 + share, 1.0 + share) + xlogy(1.0 - share, 1.0 - share)
        )
        value = dual * y_true + self.scale * self.delta**2 * conjugate
        return np.where(inside, value, np.inf)


def _y_log_y_minus_y(y_true):
    """``y log y - y`` of non-negative targets (``-y`` at zero): the
    constant of the Poisson loss, by NumPy's log where ``y > 0`` (SciPy's
    ``xlogy`` took 0.8 of the 2.2 ms of each Poisson loss evaluation on
    100,000 samples)."""
    logs = np.log(y_true, out=np.zeros(np.shape(y_true)), where=y_true > 0)
    logs -= 1.0
    logs *= y_true
    return logs


class _PoissonTargets:
    """What the Poisson loss keeps of one target array: the rows of large
    counts (``large``: None, a slice of every row, or their positions) with
    their targets and logarithms, and, unless every count is large, the
    constant ``y log y - y`` of the direct form."""

    def __init__(self, y_true):
        self.y_true = y_true
        is_large = y_true >= PoissonLoss.LARGE_COUNT
        if not is_large.any():
            self.large = None
        elif is_large.all():
            self.large = slice(None)
        else:
            self.large = np.flatnonzero(is_large)
        if self.large is not None:
            self.y_large = y_true[self.large]
            self.log_large = np.log(self.y_large)
        if not isinstance(self.large, slice):
            self.constant = _y_log_y_minus_y(y_true)


class PoissonLoss(PointwiseLoss):
    """Half the Poisson deviance with the log link: ``exp(f) - y f + y log y - y``.

    ``f`` is the log of the predicted mean ``mu = exp(f)``; the loss is
    ``y log(y / mu) - y + mu``, zero where ``mu = y``, and its derivative is
    ``mu - y``, its second derivative ``mu``. ``y_true >= 0``. Where
    ``exp(f)`` overflows the value is ``inf`` (a line search's trial, never
    an optimum). ``scale`` multiplies the loss (``PoissonLossRegressor``
    divides it by the mean target).

    For counts of at least ``LARGE_COUNT`` the loss is evaluated as ``y
    (expm1(r) - r)`` and its derivative as ``y expm1(r)``, with ``r = f -
    log y`` the log of ``mu / y``. As written above, the loss is a
    difference of terms of size ``y log y`` whose result is of order one
    wherever the model fits (a count's Poisson noise is about ``sqrt(y)``),
    so it carries an absolute rounding of about ``eps y log y``: with counts
    of 1e6 to 1e13, duality gaps of well-solved fits came out as 1e-2 to
    1e3. Below ``LARGE_COUNT`` that rounding is under 1e-11 and the direct
    form is kept: NumPy's ``expm1`` takes twice as long as its ``exp``.
    """

    has_curvature = True
    has_conjugate = True
    # Targets (ranges of rows of one target array) whose constants are kept.
    KEPT_TARGETS = 8
    LARGE_COUNT = 1024.0

    def __init__(self, scale=1.0):
        self.scale = scale
        self._kept = {}

    def for_new_target(self):
        """A fresh loss: this one keeps what it computed of its targets."""
        return PoissonLoss(self.scale)

    def _targets(self, y_true):
        """The ``_PoissonTargets`` of ``y_true``, computed once per target
        array (or range of its rows): a fit evaluates the loss a dozen times
        on the same targets, and the logarithm was a third of each
        evaluation (200,000 samples: 1 of 2.6 ms). Keyed on the array's
        memory, which the kept targets hold on to, so no other array can
        take its place while it is kept."""
        key = (y_true.__array_interface__["data"][0], y_true.shape, y_true.strides)
        kept = self._kept.get(key)
        if kept is None:
            if len(self._kept) >= self.KEPT_TARGETS:
                self._kept.pop(next(iter(self._kept)))
            kept = self._kept[key] = _PoissonTargets(y_true)
        return kept

    def loss_gradient(self, y_true, raw_prediction):
        targets = self._targets(np.asarray(y_true))
        large = targets.large
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if isinstance(large, slice):
                loss, gradient = self._of_large_counts(targets, raw_prediction)
            else:
                mean = np.exp(raw_prediction)
                # Where mean is inf, mean - y f is inf whatever the sign of f.
                loss = np.subtract(mean, y_true * raw_prediction)
                loss += targets.constant
                gradient = np.subtract(mean, y_true, out=mean)
                if large is not None:
                    loss[large], gradient[large] = self._of_large_counts(
                        targets, raw_prediction[large]
                    )
        if self.scale != 1.0:
            loss *= self.scale
            gradient *= self.scale
        return loss, gradient

    @staticmethod
    def _of_large_counts(targets, raw_prediction):
        """The loss and derivative at the large counts' scores, without the
        cancellation of their ``y log y`` terms (see the class docstring)."""
        log_ratio = np.subtract(raw_prediction, targets.log_large)
        # mu / y - 1; inf where mu overflows, and the loss with it.
        excess = np.expm1(log_ratio)
        loss = np.subtract(excess, log_ratio)
        loss *= targets.y_large
        return loss, np.multiply(excess, targets.y_large, out=excess)

    def hessian(self, y_true, raw_prediction):
        """Second derivative ``scale * exp(f)``."""
        with np.errstate(over="ignore", under="ignore"):
            return self.scale * np.exp(raw_prediction)

    def conjugate(self, y_true, dual):
        """``scale * (v log v - v - (y log y - y))`` with ``v = t + y`` and
        ``t = u / scale``: the mean at which the derivative is ``u`` (``v >=
        0``; ``inf`` outside). Where ``y > 0``, evaluated as ``t log y + y
        ((1 + d) log1p(d) - d)`` with ``d = t / y``, free of the cancellation
        of terms of size ``y log y`` (see the class docstring)."""
        y_true = np.asarray(y_true)
        change = dual / self.scale
        inside = change + y_true >= 0
        positive = y_true > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.divide(change, y_true)
            value = xlog1py(1.0 + share, share) - share
            value *= y_true
            value += change * np.log(y_true, out=np.zeros(y_true.shape), where=positive)
            value = np.where(positive, value, xlogy(change, change) - change)
        return np.where(inside, self.scale * value, np.inf)

    def best_constant(self, y_true, sample_weight):
        """The log of the weighted mean of the targets (None if it is zero)."""
        mean = (sample_weight @ y_true) / sample_weight.sum()
        if not mean > 0:
            return None
        return np.array([np.log(mean)])


class PinballLoss(PiecewiseLinearLoss):
    """Pinball (quantile) loss ``max(q * r, (q - 1) * r)``, ``r = y_true - f``."""

    def __init__(self, quantile=0.5):
        self.quantile = quantile

    def dual_box(self):
        return self.quantile - 1.0, self.quantile

    def affine_parts(self, y_true):
        return y_true, np.ones_like(y_true)

    def target_from_affine(self, c, a):
        return c

    def best_constant(self, y_true, sample_weight):
        """The weighted ``quantile`` of ``y_true``: the smallest ``y`` whose
        cumulative weight reaches ``quantile`` of the total (an end of the
        optimal interval where it is one)."""
        positive = sample_weight > 0
        values, weights = y_true[positive], sample_weight[positive]
        order = np.argsort(values, kind="stable")
        cumulative = np.cumsum(weights[order])
        index = np.searchsorted(cumulative, self.quantile * cumulative[-1])
        return np.array([values[order[min(index, values.size - 1)]]])


class HingeLoss(PiecewiseLinearLoss):
    """Hinge loss ``max(0, 1 - m)`` of the margin ``m = y_true * f``."""

    def dual_box(self):
        return 0.0, 1.0

    def affine_parts(self, y_true):
        return np.ones_like(y_true), y_true

    def target_from_affine(self, c, a):
        return a

    def best_constant(self, y_true, sample_weight):
        """``+1`` or ``-1``, the label of more weight (the loss is linear in
        the constant between them, of slope ``w- - w+``); 0 on a tie."""
        positive = sample_weight @ (y_true > 0)
        negative = sample_weight @ (y_true < 0)
        return np.array([float(np.sign(positive - negative))])


class EpsilonInsensitiveLoss(PiecewiseLinearLoss):
    """``max(0, |r| - epsilon)`` of ``r = y - f``, ``epsilon > 0``, one row per side.

    The loss is the sum of ``max(0, (y - epsilon) - f)`` and ``max(0, f -
    (y + epsilon))``, two hinges ``max over u in [0, 1] of u * (c - a * f)``
    (``a = +1, c = y - epsilon``; ``a = -1, c = -y - epsilon``). The solvers
    see each sample as those two rows (``solver_rows``), a target row being
    ``(y, a)``; on plain targets (one dimension) ``loss`` is the loss itself.
    """

    rows_per_sample = 2

    def __init__(self, epsilon):
        self.epsilon = epsilon

    def solver_rows(self, X, y_true, sample_weight):
        """Each sample twice, each row with its weight: the normalized weights,
        hence the data term, are halved (the estimator halves the penalty)."""
        twice = (
            sp.vstack([X, X], format=X.format) if sp.issparse(X) else np.vstack([X] * 2)
        )
        sides = np.repeat([1.0, -1.0], y_true.size)
        targets = np.column_stack([np.concatenate([y_true, y_true]), sides])
        return twice, targets, np.concatenate([sample_weight, sample_weight])

    def dual_box(self):
        return 0.0, 1.0

    def affine_parts(self, y_true):
        return y_true[:, 1] * y_true[:, 0] - self.epsilon, y_true[:, 1]

    def target_from_affine(self, c, a):
        return np.column_stack([a * (c + self.epsilon), a])

    def loss(self, y_true, raw_prediction):
        if np.ndim(y_true) == 1:
            return np.maximum(np.abs(y_true - raw_prediction) - self.epsilon, 0.0)
        return super().loss(y_true, raw_prediction)

    def best_constant(self, y_true, sample_weight):
        """The weighted median of the kinks ``a * c = y -+ epsilon``.

        The sum's slope in ``f`` is minus the weight of the ``a = +1`` rows
        whose kink lies beyond ``f``, plus that of the ``a = -1`` rows whose
        kink lies before: zero where the kinks before ``f`` weigh as much as
        the ``a = +1`` rows, half of all (``solver_rows`` gives both rows of
        a sample its weight), which is the median's pinball condition.
        """
        c, a = self.affine_parts(y_true)
        return PinballLoss(0.5).best_constant(a * c, sample_weight)


class SquaredEpsilonInsensitiveLoss(PointwiseLoss):
    """``max(0, |r| - epsilon)**2`` of ``r = y - f``, ``epsilon >= 0``."""

    has_curvature = True
    has_conjugate = True

    def __init__(self, epsilon=0.0):
        self.epsilon = epsilon

    def loss_gradient(self, y_true, raw_prediction):
        residual = y_true - raw_prediction
        excess = np.maximum(np.abs(residual) - self.epsilon, 0.0)
        with np.errstate(over="ignore"):  # inf beyond |r| ~ 1.3e154, as squared hinge
            loss = excess**2
        return loss, -2.0 * np.sign(residual) * excess

    def hessian(self, y_true, raw_prediction):
        """Second derivative (generalized): 2 outside the band, 0 inside."""
        return 2.0 * (np.abs(y_true - raw_prediction) > self.epsilon)

    def conjugate(self, y_true, dual):
        """``u y + epsilon |u| + u**2 / 4``: with ``r = y - f``, ``sup_r
        (-u r - (|r| - epsilon)_+**2) = epsilon |u| + u**2 / 4``."""
        return dual * y_true + self.epsilon * np.abs(dual) + dual**2 / 4.0


class SquaredHingeLoss(PointwiseLoss):
    """Squared hinge loss ``max(0, 1 - m)**2`` of the margin ``m = y_true * f``."""

    has_curvature = True
    has_conjugate = True

    def conjugate(self, y_true, dual):
        """``v + v**2 / 4`` with ``v = u * y <= 0`` (``sup_m (v m - (1 - m)_+**2)``)."""
        scaled = dual * y_true
        return scaled + scaled**2 / 4.0

    def loss_gradient(self, y_true, raw_prediction):
        shortfall = np.maximum(0.0, 1.0 - y_true * raw_prediction)
        # The square exceeds float64 only beyond |m| ~ 1.3e154; inf is the
        # honest value there, so the overflow is not reported as an error.
        with np.errstate(over="ignore"):
            loss = shortfall**2
        return loss, -2.0 * y_true * shortfall

    def hessian(self, y_true, raw_prediction):
        """Second derivative (generalized): 2 where the margin is below 1."""
        return 2.0 * (y_true * raw_prediction < 1.0)


class LogisticLoss(PointwiseLoss):
    """Binary logistic loss ``log(1 + exp(-m))``, ``m = y_true * f``."""

    has_curvature = True
    has_conjugate = True

    def conjugate(self, y_true, dual):
        """The negative binary entropy of ``t = -u * y`` in ``[0, 1]``:
        ``t log t + (1 - t) log(1 - t)``, zero at the ends."""
        share = np.clip(-dual * y_true, 0.0, 1.0)
        return _x_log_x(share) + _x_log_x(1.0 - share)

    def loss_gradient(self, y_true, raw_prediction):
        # With e = exp(-|m|) in (0, 1]: log(1 + exp(-m)) = max(-m, 0) + log1p(e)
        # and sigmoid(-m) = e / (1 + e) where m > 0, 1 / (1 + e) elsewhere, so
        # one exponential serves both (a second one took a quarter of the
        # evaluation's time). NumPy's exp and log1p over the array are several
        # times faster than SciPy's log_expit and expit; the arrays are reused
        # in place, since each fresh array of a large fit costs page faults.
        with _underflow_to_zero():
            margin = y_true * raw_prediction
            exponential = np.abs(margin)
            np.negative(exponential, out=exponential)
            np.exp(exponential, out=exponential)
            loss = np.log1p(exponential)
            gradient = np.negative(margin)
            np.maximum(gradient, 0.0, out=gradient)
            loss += gradient
            # gradient = -y * sigmoid(-m), the numerator chosen by the sign of m.
            np.copyto(gradient, exponential)
            np.copyto(gradient, 1.0, where=margin <= 0)
            exponential += 1.0
            gradient /= exponential
            gradient *= y_true
            np.negative(gradient, out=gradient)
            return loss, gradient

    def best_constant(self, y_true, sample_weight):
        """The weighted log-odds ``log(w+ / w-)`` of the two labels."""
        positive = sample_weight @ (y_true > 0)
        negative = sample_weight @ (y_true < 0)
        if positive == 0 or negative == 0:
            return None
        return np.array([np.log(positive) - np.log(negative)])

    def hessian(self, y_true, raw_prediction):
        """Second derivative ``p * (1 - p)`` with ``p = sigmoid(m)``.

        Symmetric in the margin: ``e / (1 + e)**2`` with ``e = exp(-|m|)``.
        """
        with _underflow_to_zero():
            exponential = np.abs(raw_prediction)
            np.negative(exponential, out=exponential)
            np.exp(exponential, out=exponential)
            denominator = exponential + 1.0
            denominator *= denominator
            exponential /= denominator
            return exponential


class SoftLogisticLoss(PointwiseLoss):
    """Binary cross-entropy against a soft target: ``log(1 + exp(f)) - p f``.

    ``y_true = p`` is the probability of the positive class, in ``[0, 1]``;
    ``-(p log(sigmoid(f)) + (1 - p) log(sigmoid(-f)))``, which is the
    logistic loss for ``p`` in ``{0, 1}`` and, up to the entropy of ``p``,
    the Kullback-Leibler divergence from ``p`` to the prediction.
    Derivative ``sigmoid(f) - p``, second derivative as the logistic loss's.
    """

    has_curvature = True
    has_conjugate = True

    def loss_gradient(self, y_true, raw_prediction):
        with _underflow_to_zero():
            exponential = np.exp(-np.abs(raw_prediction))
            loss = np.maximum(raw_prediction, 0.0) + np.log1p(exponential)
            loss -= y_true * raw_prediction
            sigmoid = np.where(raw_prediction >= 0, 1.0, exponential) / (
                1.0 + exponential
            )
            return loss, sigmoid - y_true

    def hessian(self, y_true, raw_prediction):
        """Second derivative ``sigmoid(f) * sigmoid(-f)``."""
        with _underflow_to_zero():
            exponential = np.exp(-np.abs(raw_prediction))
            return exponential / (1.0 + exponential) ** 2

    def conjugate(self, y_true, dual):
        """The negative binary entropy of ``t = u + p`` in ``[0, 1]``, the
        predicted probability at which the derivative is ``u``."""
        share = np.clip(dual + y_true, 0.0, 1.0)
        return _x_log_x(share) + _x_log_x(1.0 - share)

    def best_constant(self, y_true, sample_weight):
        """The log-odds of the weighted mean target probability."""
        mean = (sample_weight @ y_true) / sample_weight.sum()
        if not 0.0 < mean < 1.0:
            return None
        return np.array([np.log(mean) - np.log1p(-mean)])


class FocalLoss(PointwiseLoss):
    """Binary focal loss ``-(1 - p)**gamma * log(p)``, ``p = sigmoid(y_true * f)``.

    With ``u = 1 - p``, its derivative in the margin is
    ``gamma * u**gamma * p * log(p) - u**(gamma + 1)``, evaluated through
    ``log(p)`` and ``log(u)`` so that neither ``p`` nor ``u`` underflowing
    produces ``0 * inf``. ``scale`` multiplies the loss (see
    ``FocalLossClassifier._scaled_loss``).
    """

    has_curvature = True

    def __init__(self, gamma=2.0, scale=1.0):
        self.gamma = gamma
        self.scale = scale

    def loss_gradient(self, y_true, raw_prediction):
        with _underflow_to_zero():
            margin = y_true * raw_prediction
            log_p = log_expit(margin)
            log_u = log_expit(-margin)
            modulating = np.exp(self.gamma * log_u)  # (1 - p) ** gamma
            probability = expit(margin)
            loss = -modulating * log_p
            dloss_dmargin = modulating * (
                self.gamma * probability * log_p - np.exp(log_u)
            )
            return self.scale * loss, self.scale * (y_true * dloss_dmargin)

    def hessian(self, y_true, raw_prediction):
        """The second derivative where it is positive, zero where it is not.

        With ``m = y_true * f``, ``p = sigmoid(m)`` and ``u = 1 - p``, the
        second derivative in ``f`` (``y_true**2 = 1``) is

            p u**gamma * (gamma u (1 + log p) - gamma**2 p log p + (gamma + 1) u),

        ``p * u`` (the logistic loss's) at ``gamma = 0``. For ``gamma > 0`` it
        dips below zero on misclassified samples (about ``-0.05`` near
        ``m = -4`` at ``gamma = 2``, where the loss bends from its linear
        tail into its flattened middle): the focal loss is not convex.
        Clipped at zero, the Hessian ``X.T @ diag(s * L'') @ X`` plus the
        L2 term is positive definite, so Newton's steps are descent
        directions everywhere; at an optimum where no sample sits in the
        concave stretch it is the exact Hessian, and elsewhere it leaves
        out only those samples' small negative curvature (convergence is
        then linear, at a rate of that share).
        """
        gamma = self.gamma
        with _underflow_to_zero():
            margin = y_true * raw_prediction
            log_p = log_expit(margin)
            log_u = log_expit(-margin)
            probability = expit(margin)
            u = np.exp(log_u)
            weight = np.exp(log_p + gamma * log_u)  # p * u**gamma
            curvature = weight * (
                gamma * u * (1.0 + log_p)
                - gamma * gamma * probability * log_p
                + (gamma + 1.0) * u
            )
            np.maximum(curvature, 0.0, out=curvature)
            return self.scale * curvature


class MultinomialLoss(PointwiseLoss):
    """Multinomial logistic loss ``-log softmax(f)[y]`` over ``n_classes`` scores."""

    is_multiclass = True
    has_block_curvature = True
    has_conjugate = True

    def conjugate(self, y_true, dual):
        """The negative entropy of ``p = u + e_y`` (a point of the simplex),
        summed over the classes, per sample."""

        def entropy(rows):
            proba = dual[rows].copy()
            proba[np.arange(proba.shape[0]), y_true[rows]] += 1.0
            return _row_sums_of_x_log_x(np.clip(proba, 0.0, 1.0, out=proba))

        return _per_row_in_blocks(entropy, *dual.shape)

    def loss_gradient(self, y_true, raw_prediction):
        with _underflow_to_zero():
            rows = np.arange(raw_prediction.shape[0])
            top, proba, total = _shifted_exponentials(raw_prediction)
            # log sum_k exp(f_k) = top + log(total); the softmax is proba / total.
            loss = np.log(total)
            loss += top
            loss -= raw_prediction[rows, y_true]
            proba /= total[:, None]
            proba[rows, y_true] -= 1.0
            return loss, proba

    def probabilities(self, raw_prediction, out=None):
        """The softmax of the scores, per sample (in ``out`` if given, which
        may be ``raw_prediction`` itself)."""
        with _underflow_to_zero():
            _, proba, total = _shifted_exponentials(raw_prediction, out=out)
            proba /= total[:, None]
        return proba

    def hessian_product_factory(self, y_true, raw_prediction):
        """Per-sample Hessian ``diag(p) - p p.T`` as a function of score changes.

        The function takes the changes of the scores of the samples
        ``rows`` (a slice, by default all), one row per sample, and returns
        the product in their place (with many classes they are as large as
        a block of ``X``).
        """
        all_proba = self.probabilities(raw_prediction)

        def product(change, rows=slice(None)):
            proba = all_proba[rows]
            expected = row_dots(proba, change)
            change -= expected[:, None]
            change *= proba
            return change

        return product


class SoftMultinomialLoss(MultinomialLoss):
    """Cross-entropy ``-sum_k p_k log softmax(f)_k`` against class probabilities.

    ``y_true`` has one row of probabilities ``p`` per sample (summing to
    one); with one-hot rows this is the multinomial loss. The Hessian does
    not depend on the target: ``MultinomialLoss``'s serves.
    """

    def conjugate(self, y_true, dual):
        """The negative entropy of ``u + p`` (a point of the simplex)."""

        def entropy(rows):
            proba = dual[rows] + y_true[rows]
            return _row_sums_of_x_log_x(np.clip(proba, 0.0, 1.0, out=proba))

        return _per_row_in_blocks(entropy, *dual.shape)

    def loss_gradient(self, y_true, raw_prediction):
        with _underflow_to_zero():
            top, proba, total = _shifted_exponentials(raw_prediction)
            loss = np.log(total)
            loss += top
            loss -= (raw_prediction * y_true) @ np.ones(raw_prediction.shape[1])
            proba /= total[:, None]
            proba -= y_true
            return loss, proba


class ExpectedLoss(PointwiseLoss):
    """A loss on class labels, in expectation over soft labels.

    ``sum_k p_k L(k, f)`` with ``p`` the sample's class probabilities: for
    two classes ``y_true = p_1`` and ``L`` takes the signed label (``+1``
    with weight ``p_1``, ``-1`` with ``1 - p_1``); for more, ``y_true`` has
    one row of probabilities and ``L`` takes class codes. Linear in ``p``,
    so the fit equals one on weighted copies of each sample, one per class.
    For losses with no closed form against soft targets (focal): one
    evaluation of ``L`` per class.
    """

    def __init__(self, loss):
        self.loss_of_label = loss
        self.is_multiclass = loss.is_multiclass
        self.is_smooth = loss.is_smooth
        self.has_curvature = loss.has_curvature and not loss.is_multiclass

    def hessian(self, y_true, raw_prediction):
        """``p_1 L''(+1, f) + (1 - p_1) L''(-1, f)`` (two classes)."""
        ones = np.ones(raw_prediction.shape[0])
        on_positive = self.loss_of_label.hessian(ones, raw_prediction)
        on_negative = self.loss_of_label.hessian(-ones, raw_prediction)
        return y_true * on_positive + (1.0 - y_true) * on_negative

    def loss_gradient(self, y_true, raw_prediction):
        n_samples = raw_prediction.shape[0]
        if not self.is_multiclass:
            positive = self.loss_of_label.loss_gradient(
                np.ones(n_samples), raw_prediction
            )
            negative = self.loss_of_label.loss_gradient(
                -np.ones(n_samples), raw_prediction
            )
            return tuple(
                y_true * on_positive + (1.0 - y_true) * on_negative
                for on_positive, on_negative in zip(positive, negative, strict=True)
            )
        loss = np.zeros(n_samples)
        gradient = np.zeros_like(raw_prediction)
        for code in range(raw_prediction.shape[1]):
            share = y_true[:, code]
            value, slope = self.loss_of_label.loss_gradient(
                np.full(n_samples, code), raw_prediction
            )
            loss += share * value
            gradient += share[:, None] * slope
        return loss, gradient


def _x_log_x(values):
    """``x log x``, zero at ``x = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, values * np.log(values), 0.0)


def row_dots(left, right):
    """``left_i . right_i`` per sample (row), without an array of products
    per class (with many classes it would be as large as ``X``)."""
    if left.ndim == 1 or left.shape[1] == 1:
        return left.ravel() * right.ravel()
    return np.einsum("ij,ij->i", left, right)


def _per_row_in_blocks(per_row, n_rows, n_columns):
    """``per_row(rows)`` (one number per row of the slice ``rows``) over all
    ``n_rows`` rows, block by block of ``score_block_entries`` entries (the
    execution's default): the temporaries of ``per_row`` are then as large
    as a block, not as the ``n_rows x n_columns`` arrays it reads (with
    many classes, as ``X``)."""
    result = np.empty(n_rows)
    entries = ExecutionSettings.score_block_entries
    for rows in blocks(slice(0, n_rows), max(1, entries // max(n_columns, 1))):
        result[rows] = per_row(rows)
    return result


def _row_sums_of_x_log_x(values):
    """``sum_k x_k log x_k`` per row of non-negative ``values`` (zero at
    ``x = 0``), with one temporary as large as ``values`` (with many classes
    it is as large as ``X``)."""
    logs = np.zeros_like(values)
    np.log(values, out=logs, where=values > 0)
    return row_dots(values, logs)


def _shifted_exponentials(raw_prediction, out=None):
    """``exp(f - max_k f_k)`` per sample and class, with the maxima and row sums.

    The shift keeps every exponential in ``[0, 1]`` with the largest equal to
    one, so that neither the softmax nor ``log sum exp`` overflows. Written
    out, with the reductions over the few classes done column by column and
    by a matrix-vector product: SciPy's ``logsumexp`` and ``softmax`` take
    about ten times as long on a tall array with few columns.
    """
    top = raw_prediction[:, 0].copy()
    for column in range(1, raw_prediction.shape[1]):
        np.maximum(top, raw_prediction[:, column], out=top)
    exponentials = np.subtract(raw_prediction, top[:, None], out=out)
    np.exp(exponentials, out=exponentials)
    return top, exponentials, exponentials @ np.ones(raw_prediction.shape[1])


class MultinomialFocalLoss(PointwiseLoss):
    """Softmax focal loss ``-(1 - p_y)**gamma * log(p_y)``, ``p = softmax(f)``.

    With ``u = 1 - p_y``, the derivative in ``f_k`` is
    ``r_k * (gamma * u**gamma * p_y * log(p_y) - u**(gamma + 1))`` where
    ``r_y = 1`` and ``r_k = -p_k / u`` for ``k != y``: ``-r`` over the other
    classes is the softmax of their scores, which stays finite when ``u``
    underflows to zero. ``scale`` multiplies the loss.
    """

    is_multiclass = True

    def __init__(self, gamma=2.0, scale=1.0):
        self.gamma = gamma
        self.scale = scale

    def loss_gradient(self, y_true, raw_prediction):
        with _underflow_to_zero():
            rows = np.arange(raw_prediction.shape[0])
            true_score = raw_prediction[rows, y_true]
            # The other classes' exponentials, shifted by their own maximum
            # (the true class masked out), become their softmax in place: one
            # array as large as the scores (with many classes, as X).
            direction = raw_prediction.copy()
            direction[rows, y_true] = -np.inf
            top, direction, total = _shifted_exponentials(direction, out=direction)
            # With d = log sum_{k != y} e**f_k - f_y: log p_y = -log(1 + e**d)
            # and log u = -log(1 + e**-d), each exact to rounding.
            excess = top + np.log(total) - true_score
            log_p = -np.logaddexp(0.0, excess)
            log_u = np.minimum(-np.logaddexp(0.0, -excess), 0.0)
            modulating = np.exp(self.gamma * log_u)
            loss = -modulating * log_p
            scale = modulating * (self.gamma * np.exp(log_p) * log_p - np.exp(log_u))
            direction /= -total[:, None]
            direction[rows, y_true] = 1.0
            direction *= (self.scale * scale)[:, None]
            return self.scale * loss, direction
