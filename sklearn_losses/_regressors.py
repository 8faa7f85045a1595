"""The regressors: Huber, quantile, log-cosh, Poisson and epsilon-insensitive.

Each differs from the others only in the loss it builds (``_get_loss``), in
that loss's parameters and in how it is rescaled with the targets;
``fit`` lives in ``_base.py``.
"""

from numbers import Real

import numpy as np
from sklearn.metrics import d2_tweedie_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import LossRegressor
from ._docstrings import _document
from ._loss import (
    EpsilonInsensitiveLoss,
    HuberLoss,
    LogCoshLoss,
    PinballLoss,
    PoissonLoss,
    SquaredEpsilonInsensitiveLoss,
)


def _band_loss(loss_class, delta):
    """A loss with a band ``delta`` (Huber's, log-cosh's) on rescaled
    targets, and its divisor: beyond the band the slopes are only ``delta``,
    so below one the loss is divided by ``delta`` to keep the gradient (and
    the meaning of ``tol``) on the scale of one."""
    divisor = min(1.0, delta)
    return loss_class(delta, scale=1.0 / divisor), divisor


@_document(
    """Linear regression with the Huber loss: squared near zero, linear in the tails.

    The loss of the residual ``r = y - f`` is ``r**2 / 2`` for
    ``|r| <= delta`` and ``delta * (|r| - delta / 2)`` beyond, so that
    outliers pull on the fit with a bounded force.
{objective}

    Unlike scikit-learn's ``HuberRegressor``, ``delta`` is on the scale of
    ``y`` (no scale is estimated) and the penalty follows the convention
    above.

    Solver: Newton's method with the analytic (generalized) Hessian and an
    exact line search (the Huber loss is continuously differentiable and
    piecewise quadratic); with ``l1_ratio > 0``, projected Newton on the
    orthants where ``|w|`` is linear, with L-BFGS-B on the bound-constrained
    split ``w = w+ - w-`` as the fallback.

    Parameters
    ----------
    delta : float, default=1.0
        Where the loss turns from quadratic to linear, ``delta > 0``, in the
        units of ``y``.

    {common}

    Attributes
    ----------
    {regressor_attributes}

    See Also
    --------
    QuantileLossRegressor : Linear quantile regression.
    sklearn.linear_model.HuberRegressor : Huber regression with a jointly
        estimated scale.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_losses import HuberLossRegressor
    >>> X = np.arange(20.0).reshape(-1, 1)
    >>> y = 2.0 * X.ravel() + 1.0
    >>> y[-1] = 200.0  # one gross outlier; least squares gives a slope of 4.3
    >>> model = HuberLossRegressor(delta=1.0, alpha=0.0).fit(X, y)
    >>> round(float(model.coef_[0]), 3), round(model.intercept_, 3)
    (2.018, 0.895)
    """
)
class HuberLossRegressor(LossRegressor):
    _parameter_constraints = {
        **LossRegressor._parameter_constraints,
        "delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        delta=1.0,
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
        )
        self.delta = delta

    _loss_degree = 2  # huber(scale * r; delta) = scale**2 * huber(r; delta / scale)

    def _get_loss(self):
        return HuberLoss(self.delta)

    def _scaled_loss(self, target_scale, y, sample_weight):
        """The loss on targets divided by ``target_scale``, and its divisor.

        Beyond ``delta' = delta / target_scale`` the slopes are only
        ``delta'``: below one, the loss is divided by ``delta'`` to keep the
        gradient (and so the meaning of ``tol``) on the scale of one. A band
        narrower than Newton's method resolves is solved as least absolute
        deviations by the solver table (``solvers.dispatch``).
        """
        return _band_loss(HuberLoss, self.delta / target_scale)


@_document(
    """Linear quantile regression: the pinball loss.

    The loss of the residual ``r = y - f`` is ``max(q * r, (q - 1) * r)``
    with ``q = quantile``; its minimizer predicts the conditional
    ``q``-quantile of ``y``.
{objective}

    Solver (both exact): with no penalty or a pure L1 penalty
    (``alpha == 0`` or ``l1_ratio == 1``), the dual linear program (one
    row per feature) solved by HiGHS's interior-point method with
    crossover, the coefficients read off its multipliers;
    with an L2 part, the "smoothed dual": the loss is replaced by its Moreau
    envelope, whose width shrinks tenfold per round (each round solved by
    Newton's method, projected onto the orthants of ``w`` with an L1 part);
    the dual point each round gives seeds an exact active-set step,
    and the duality gap certifies the result.

    Parameters
    ----------
    quantile : float, default=0.5
        The quantile to predict, ``0 < quantile < 1``.

    {common}

    Attributes
    ----------
    {regressor_attributes}

    See Also
    --------
    HuberLossRegressor : Robust regression with the Huber loss.
    sklearn.linear_model.QuantileRegressor : The same model with
        ``l1_ratio=1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_losses import QuantileLossRegressor
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 2.0 * X.ravel() + 1.0
    >>> model = QuantileLossRegressor(quantile=0.5, alpha=0.0).fit(X, y)
    >>> round(float(model.coef_[0]), 6), round(model.intercept_, 6)
    (2.0, 1.0)
    """
)
class QuantileLossRegressor(LossRegressor):
    _parameter_constraints = {
        **LossRegressor._parameter_constraints,
        "quantile": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        *,
        quantile=0.5,
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
        )
        self.quantile = quantile

    _loss_degree = 1  # pinball(scale * r) = scale * pinball(r)

    def _get_loss(self):
        return PinballLoss(self.quantile)

    def _scaled_loss(self, target_scale, y, sample_weight):
        """The loss on targets divided by ``target_scale`` (the same), divisor 1."""
        return self._get_loss(), 1.0


@_document(
    """Linear regression with the log-cosh loss: smooth and robust.

    The loss of the residual ``r = y - f`` is
    ``scale**2 * log(cosh(r / scale))``: ``r**2 / 2`` near zero and
    ``scale * |r| - scale**2 * log(2)`` for ``|r|`` well beyond ``scale``,
    so outliers pull on the fit with a force bounded by ``scale``, as with
    the Huber loss of ``delta = scale``, but the loss is smooth to every
    order (its curvature ``1 - tanh(r / scale)**2`` fades instead of
    stopping at ``scale``).
{objective}

    Solver: Newton's method with the analytic Hessian and a line search;
    with ``l1_ratio > 0``, projected Newton on the orthants where ``|w|`` is
    linear, with L-BFGS-B on the bound-constrained split ``w = w+ - w-`` as
    the fallback. The duality gap of a Fenchel dual point certifies the
    result.

    Parameters
    ----------
    scale : float, default=1.0
        The scale of the residuals, ``scale > 0``, in the units of ``y``:
        quadratic well inside it, linear well beyond.

    {common}

    Attributes
    ----------
    {regressor_attributes}

    See Also
    --------
    HuberLossRegressor : The piecewise version: quadratic, then linear.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_losses import LogCoshLossRegressor
    >>> X = np.arange(20.0).reshape(-1, 1)
    >>> y = 2.0 * X.ravel() + 1.0
    >>> y[-1] = 200.0  # one gross outlier; least squares gives a slope of 4.3
    >>> model = LogCoshLossRegressor(scale=1.0, alpha=0.0).fit(X, y)
    >>> round(float(model.coef_[0]), 3), round(model.intercept_, 3)
    (2.018, 0.894)
    """
)
class LogCoshLossRegressor(LossRegressor):
    _parameter_constraints = {
        **LossRegressor._parameter_constraints,
        "scale": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        scale=1.0,
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
        )
        self.scale = scale

    # scale**2 log cosh(c * r / scale) = c**2 * (scale / c)**2
    # log cosh(r / (scale / c)): the targets' factor c enters squared.
    _loss_degree = 2

    def _get_loss(self):
        return LogCoshLoss(self.scale)

    def _scaled_loss(self, target_scale, y, sample_weight):
        """The loss on targets divided by ``target_scale`` (``scale`` with
        them), divided by the new scale where that is below one, as Huber's."""
        return _band_loss(LogCoshLoss, self.scale / target_scale)


@_document(
    """Poisson regression with the log link: counts and rates.

    The model predicts the mean ``mu = exp(f)`` of a non-negative target,
    and the loss is half the Poisson deviance,
    ``y * log(y / mu) - y + mu = exp(f) - y * f + (y * log(y) - y)``,
    zero where ``mu = y``; ``y >= 0`` with a positive weighted sum.
{objective}

    With an L2 penalty this is scikit-learn's ``PoissonRegressor(alpha=alpha)``
    (the same objective); L1 and the elastic net too, as glum's.

    Solver: Newton's method with the analytic Hessian
    ``X.T @ diag(s * mu) @ X`` and a line search (the loss is smooth and
    strictly convex in ``f``); with ``l1_ratio > 0``, projected Newton on the
    orthants where ``|w|`` is linear, with L-BFGS-B on the bound-constrained
    split ``w = w+ - w-`` as the fallback. The duality gap of a Fenchel
    dual point certifies the result.

    Parameters
    ----------
    {common}

    Attributes
    ----------
    {regressor_attributes}

    See Also
    --------
    sklearn.linear_model.PoissonRegressor : The same model with an L2 penalty.
    HuberLossRegressor : Robust regression with the Huber loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_losses import PoissonLossRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 2))
    >>> y = rng.poisson(np.exp(0.5 + X @ np.array([0.3, -0.2])))
    >>> model = PoissonLossRegressor(alpha=0.0).fit(X, y)
    >>> model.coef_.round(1), round(model.intercept_, 1)
    (array([ 0.3, -0.2]), 0.4)
    >>> bool(model.predict(X[:3]).min() > 0)
    True
    """
)
class PoissonLossRegressor(LossRegressor):
    # Dividing the targets by c shifts f by log(c) instead of scaling it, so
    # they are solved as given (_target_scale).
    _loss_degree = 1

    def _get_loss(self):
        return PoissonLoss()

    def _scaled_loss(self, target_scale, y, sample_weight):
        """The loss divided by the weighted mean target ``c``, and ``c``.

        The loss is homogeneous in the targets up to a shift of ``f``:
        ``L(c y', f' + log c) = c L(y', f')``; its slopes and values are in
        the units of ``c``, so divided by ``c`` they are near one whatever
        the counts' size, and ``tol`` means the same for counts in the
        thousands as for rates below one.
        """
        mean = float(sample_weight @ y / sample_weight.sum())
        return PoissonLoss(scale=1.0 / mean), mean

    def _check_targets(self, y, sample_weight):
        if np.any(y < 0):
            raise ValueError(
                "PoissonLossRegressor needs non-negative targets (counts or "
                f"rates); the smallest is {y.min()!r}."
            )
        if not sample_weight @ y > 0:
            raise ValueError(
                "PoissonLossRegressor needs targets with a positive weighted "
                "sum: with every weighted target zero the best mean is zero, "
                "an intercept of minus infinity."
            )

    def _target_scale(self, y):
        return 1.0

    def _constant_start(self, y, sample_weight):
        """The best constant model: the log of the weighted mean target
        (positive, as ``_check_targets`` made sure)."""
        return float(PoissonLoss().best_constant(y, sample_weight)[0])

    def _inverse_link(self, raw_prediction):
        with np.errstate(over="ignore"):
            return np.exp(raw_prediction)

    def score(self, X, y, sample_weight=None):
        """D^2, the fraction of the Poisson deviance explained.

        ``1 - deviance(y, predict(X)) / deviance(y, weighted mean of y)``,
        as scikit-learn's ``PoissonRegressor.score``; 1 is a perfect fit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            Non-negative targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            D^2 of ``predict(X)`` against ``y``.
        """
        return d2_tweedie_score(
            y, self.predict(X), power=1, sample_weight=sample_weight
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags


@_document(
    """Linear support vector regression: the epsilon-insensitive loss.

    The loss of the residual ``r = y - f`` is ``max(0, |r| - epsilon)``
    (``loss="epsilon_insensitive"``) or its square
    (``loss="squared_epsilon_insensitive"``): residuals within ``epsilon``
    cost nothing.
{objective}

    With an L2 penalty and no intercept this is scikit-learn's
    ``LinearSVR(C=1 / (n_samples * alpha))`` (the same minimizer);
    ``LinearSVR`` penalizes its intercept, this estimator does not, and
    takes L1 and elastic-net penalties too.

    Solver (all exact): the epsilon-insensitive loss is piecewise linear.
    With ``epsilon = 0`` it is twice the pinball loss at the median, solved
    as ``QuantileLossRegressor`` solves it; with ``epsilon > 0`` each sample
    is seen as two hinges, ``max(0, (y - epsilon) - f)`` and
    ``max(0, f - (y + epsilon))``, whose sum is the loss: with no penalty or
    a pure L1 penalty the dual linear program (HiGHS), with an L2 part the
    smoothed dual (Moreau envelopes of shrinking width solved by Newton's
    method, an exact active-set step, the duality gap certifying the
    result). The squared loss is continuously differentiable and piecewise
    quadratic: Newton's method with its generalized Hessian (curvature 2
    outside the band) and an exact line search; with ``l1_ratio > 0``,
    projected Newton on the orthants of ``w``, L-BFGS-B on the split
    ``w = w+ - w-`` as the fallback.

    Parameters
    ----------
    epsilon : float, default=0.0
        Half-width of the band of residuals that cost nothing,
        ``epsilon >= 0``, in the units of ``y``.

    loss : {{"epsilon_insensitive", "squared_epsilon_insensitive"}}
        The loss beyond the band: linear (the default), or squared.

    {common}

    Attributes
    ----------
    {regressor_attributes}

    See Also
    --------
    QuantileLossRegressor : Quantile regression; at quantile 0.5, half of
        the epsilon-insensitive loss with ``epsilon = 0``.
    sklearn.svm.LinearSVR : The same model with a penalized intercept.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_losses import EpsilonInsensitiveLossRegressor
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 2.0 * X.ravel() + 1.0
    >>> model = EpsilonInsensitiveLossRegressor(epsilon=0.5, alpha=0.0).fit(X, y)
    >>> bool(np.abs(model.predict(X) - y).max() <= 0.5)
    True
    """
)
class EpsilonInsensitiveLossRegressor(LossRegressor):
    _parameter_constraints = {
        **LossRegressor._parameter_constraints,
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "loss": [StrOptions({"epsilon_insensitive", "squared_epsilon_insensitive"})],
    }

    def __init__(
        self,
        *,
        epsilon=0.0,
        loss="epsilon_insensitive",
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
        )
        self.epsilon = epsilon
        self.loss = loss

    @property
    def _squared(self):
        return self.loss == "squared_epsilon_insensitive"

    @property
    def _loss_degree(self):
        # L(scale * r; scale * epsilon) = scale**k * L(r; epsilon), k = 1 or 2.
        return 2 if self._squared else 1

    def _get_loss(self, epsilon=None):
        """The loss at ``epsilon`` (the estimator's by default)."""
        epsilon = self.epsilon if epsilon is None else epsilon
        if self._squared:
            return SquaredEpsilonInsensitiveLoss(epsilon)
        return EpsilonInsensitiveLoss(epsilon)

    def _scaled_loss(self, target_scale, y, sample_weight):
        """The loss on targets divided by ``target_scale`` (``epsilon`` with
        them), and its divisor.

        The linear loss is solved at half its value with half the penalty
        (divisor 2): with ``epsilon = 0`` as the pinball loss at the median,
        ``|r| / 2``; beyond, on two rows per sample, whose normalized weights
        are half the sample's (``EpsilonInsensitiveLoss.solver_rows``).
        """
        epsilon = self.epsilon / target_scale
        if self._squared:
            return self._get_loss(epsilon), 1.0
        if epsilon == 0:
            return PinballLoss(0.5), 2.0
        return self._get_loss(epsilon), 2.0
