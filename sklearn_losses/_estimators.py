"""The public estimators: one per loss, all minimizing the same objective.

Each differs from the others only in the loss it builds (``_get_loss``) and
in that loss's parameters; ``fit`` lives in ``_base.py``.
"""

from numbers import Real

import numpy as np
from sklearn.metrics import d2_tweedie_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import LossClassifier, LossRegressor, ProbabilisticLossClassifier
from ._loss import (
    ExpectedLoss,
    FocalLoss,
    HingeLoss,
    HuberLoss,
    LogCoshLoss,
    LogisticLoss,
    MultinomialFocalLoss,
    MultinomialLoss,
    PinballLoss,
    PoissonLoss,
    SoftLogisticLoss,
    SoftMultinomialLoss,
    SquaredHingeLoss,
)

# Focal losses smaller than this at the trivial model are solved divided by
# that value (FocalLossClassifier._scaled_loss).
_SMALLEST_LOSS = 1e-4


_OBJECTIVE = """
    The objective, with ``f_i = x_i . w + b`` and ``s_i`` the sample weights
    (times the class weights, for classifiers) summing to ``S``::

        J(w, b) = (1 / S) * sum_i s_i * L(y_i, f_i)
                  + alpha * (l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||_2**2)

    The intercept ``b`` is not penalized."""

_COMMON_PARAMETERS = """alpha : float, default=1e-4
        Strength of the penalty, ``alpha >= 0``; ``alpha=0`` fits without
        penalty.

    l1_ratio : float, default=0.0
        Share of the L1 norm in the penalty, in ``[0, 1]``: 0 is ridge, 1 is
        lasso, in between the elastic net.

    fit_intercept : bool, default=True
        Whether to fit the intercept ``b``; if False, ``b = 0``.

    max_iter : int, default=1000
        Maximum number of iterations of the solver (Newton or L-BFGS-B
        iterations, summed over the smoothing levels of the smoothed dual,
        or HiGHS iterations for a linear program), ``max_iter >= 1``.

    tol : float, default=1e-10
        Stopping tolerance, ``tol >= 0``: the largest entry of the (projected)
        gradient for the Newton and L-BFGS-B solvers; the duality gap relative to the
        objective for the smoothed-dual solver, where it is at least 1e-8.
        Linear programs are solved exactly.

    warm_start : bool, default=False
        Whether to start from the previous ``coef_`` and ``intercept_``
        rather than from zero."""

_CLASS_WEIGHT = """class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights by class: a dict
        ``{class_label: weight}``, or ``"balanced"`` for
        ``n_samples / (n_classes * bincount(y))``; None gives every class
        weight one."""


_CERTIFICATES = """objective_ : float or ndarray of shape (n_classes,)
        The objective ``J`` above at the fitted ``coef_`` and ``intercept_``
        on the training data (one value per class for one-vs-rest).

    duality_gap_ : float or ndarray of shape (n_classes,)
        How far from optimal the fit can be: the relative duality gap
        ``(J - D) / |J|`` at a feasible dual point (built from the fit by
        Fenchel duality, or kept by the kinked losses' dual solvers), a
        bound on the relative suboptimality. Where no dual bound exists,
        the stationarity residual instead: the largest entry of the
        objective's minimum-norm subgradient at the fit, for the focal loss
        (not convex) and for smooth losses with ``alpha=0`` (their dual asks
        ``X.T @ u = 0`` exactly). For the problem as solved: features or
        targets of extreme magnitude are rescaled first."""


_REGRESSOR_ATTRIBUTES = """coef_ : ndarray of shape (n_features,)
        Coefficients ``w``.

    intercept_ : float
        Intercept ``b``.

    n_iter_ : int
        Number of solver iterations.

    {certificates}

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names."""


def _document(template):
    """Fill the shared parts into a class docstring."""

    def decorate(cls):
        cls.__doc__ = template.format(
            objective=_OBJECTIVE,
            common=_COMMON_PARAMETERS,
            class_weight=_CLASS_WEIGHT,
            certificates=_CERTIFICATES,
            regressor_attributes=_REGRESSOR_ATTRIBUTES.format(
                certificates=_CERTIFICATES
            ),
        )
        return cls

    return decorate


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
        delta = self.delta / target_scale
        divisor = min(1.0, delta)
        return HuberLoss(delta, scale=1.0 / divisor), divisor


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
    ``delta**2 * log(cosh(r / delta))``: ``r**2 / 2`` near zero and
    ``delta * |r| - delta**2 * log(2)`` for ``|r|`` well beyond ``delta``,
    so outliers pull on the fit with a force bounded by ``delta``, as with
    the Huber loss of the same ``delta``, but the loss is smooth to every
    order (its curvature ``1 - tanh(r / delta)**2`` fades instead of
    stopping at ``delta``).
{objective}

    Solver: Newton's method with the analytic Hessian and a line search;
    with ``l1_ratio > 0``, projected Newton on the orthants where ``|w|`` is
    linear, with L-BFGS-B on the bound-constrained split ``w = w+ - w-`` as
    the fallback. The duality gap of a Fenchel dual point certifies the
    result.

    Parameters
    ----------
    delta : float, default=1.0
        The scale of the residuals, ``delta > 0``, in the units of ``y``:
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
    >>> model = LogCoshLossRegressor(delta=1.0, alpha=0.0).fit(X, y)
    >>> round(float(model.coef_[0]), 3), round(model.intercept_, 3)
    (2.018, 0.894)
    """
)
class LogCoshLossRegressor(LossRegressor):
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

    # delta**2 log cosh(scale * r / delta) = scale**2 * (delta / scale)**2
    # log cosh(r / (delta / scale)).
    _loss_degree = 2

    def _get_loss(self):
        return LogCoshLoss(self.delta)

    def _scaled_loss(self, target_scale, y, sample_weight):
        """The loss on targets divided by ``target_scale`` (``delta`` with
        them), divided by ``delta'`` where that is below one, as Huber's."""
        delta = self.delta / target_scale
        divisor = min(1.0, delta)
        return LogCoshLoss(delta, scale=1.0 / divisor), divisor


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
        """The best constant model: the log of the weighted mean target."""
        return float(np.log(sample_weight @ y / sample_weight.sum()))

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
    """Linear classification with the hinge or the squared hinge loss (a linear SVM).

    With the signed label ``y~ = +1`` for ``classes_[1]`` and ``-1`` for
    ``classes_[0]`` and the margin ``m = y~ * f``, the loss is
    ``max(0, 1 - m)`` (``loss="hinge"``) or ``max(0, 1 - m)**2``
    (``loss="squared_hinge"``). More than two classes are fitted one class
    against the rest, each problem with the objective below.
{objective}

    Solver: for ``"squared_hinge"`` (continuously differentiable), Newton's
    method with the generalized Hessian and an exact line search, projected
    onto the orthants of ``w`` when ``l1_ratio > 0``. For
    ``"hinge"`` (exact in both cases): with no penalty or a pure L1 penalty,
    the dual linear program (one row per feature, HiGHS interior point with
    crossover); with an L2 part, the "smoothed dual":
    Moreau-envelope smoothing with continuation (Newton's method per round),
    whose dual point seeds an exact active-set step, certified by the
    duality gap.

    Hinge optima need not be unique (the intercept, or with ``alpha=0`` the
    whole solution); the solvers return one of them deterministically.

    Parameters
    ----------
    loss : {{"hinge", "squared_hinge"}}, default="hinge"
        The loss to minimize.

    {common}

    {class_weight}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients: one row for two classes, one per class for more.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.

    n_iter_ : int
        Number of solver iterations (the largest over the one-vs-rest
        problems).

    {certificates}

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    LogisticLossClassifier : Classification with the logistic loss.
    sklearn.svm.LinearSVC : The same model with ``fit_intercept=False``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_losses import HingeLossClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), HingeLossClassifier(alpha=1e-3))
    >>> model.fit(X, y).score(X, y) > 0.97
    True
    """
)
class HingeLossClassifier(LossClassifier):
    _parameter_constraints = {
        **LossClassifier._parameter_constraints,
        "loss": [StrOptions({"hinge", "squared_hinge"})],
    }
    _multiclass = "ovr"
    # A margin of 1 makes both losses zero: a separable problem has minimizers.
    _separable_has_no_minimizer = False

    def __init__(
        self,
        *,
        loss="hinge",
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
        class_weight=None,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            class_weight=class_weight,
        )
        self.loss = loss

    def _get_loss(self, n_classes=None):
        return HingeLoss() if self.loss == "hinge" else SquaredHingeLoss()


@_document(
    """Logistic regression: binary, or multinomial for more than two classes.

    With the signed label ``y~`` and the margin ``m = y~ * f``, the binary
    loss is ``log(1 + exp(-m))``; for more than two classes the loss is
    ``-log softmax(f)[y]`` with one coefficient row and intercept per class,
    the penalty over the whole coefficient matrix.
{objective}

    ``LogisticLossClassifier(alpha=a)`` solves the same problem as
    scikit-learn's ``LogisticRegression(C=1 / (a * S))``.

    Soft labels: ``y`` may also be an array of shape (n_samples, n_classes)
    of class probabilities ``p`` (rows summing to one: label smoothing,
    distillation from another model, the shares of several annotators).
    The loss is then the cross-entropy ``-sum_k p_k log softmax(f)_k``
    (binary: ``log(1 + exp(f)) - p_1 f``), which is the Kullback-Leibler
    divergence from ``p`` to the prediction up to the entropy of ``p``
    (``metrics.kl_divergence``); ``classes_`` are the column indices, and
    ``class_weight`` does not apply. One-hot rows give the fit on the
    labels.

    Solver: with no L1 part, Newton's method with the analytic Hessian
    (multinomial: conjugate gradients on Hessian-vector products) and an
    exact line search; with ``l1_ratio > 0``, binary: projected Newton on
    the orthants where ``|w|`` is linear, multinomial: L-BFGS-B on the split
    ``w = w+ - w-``.

    Parameters
    ----------
    {common}

    {class_weight}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients: one row for two classes, one per class for more.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.

    n_iter_ : int
        Number of solver iterations.

    {certificates}

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    FocalLossClassifier : The focal loss, which down-weights easy samples.
    sklearn.linear_model.LogisticRegression : The same model, penalty set by
        ``C``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_losses import LogisticLossClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticLossClassifier(alpha=1e-2).fit(X, y)
    >>> model.predict_proba(X[:1]).round(2)
    array([[0.98, 0.02, 0.  ]])
    """
)
class LogisticLossClassifier(ProbabilisticLossClassifier):
    def _get_loss(self, n_classes=2):
        return LogisticLoss() if n_classes == 2 else MultinomialLoss()

    def _soft_loss(self, n_classes):
        loss = SoftLogisticLoss() if n_classes == 2 else SoftMultinomialLoss()
        return loss, 1.0


@_document(
    """Classification with the focal loss, which down-weights well-classified samples.

    With ``p_t`` the predicted probability of the true class (the sigmoid of
    the margin for two classes, the softmax for more), the loss is
    ``-(1 - p_t)**gamma * log(p_t)``; ``gamma = 0`` is the logistic loss.
{objective}

    For ``gamma > 0`` the loss is not convex in ``f``: the fit is a
    stationary point, reached deterministically from zero (or from the
    previous fit with ``warm_start``).

    Soft labels: ``y`` may also be an array of shape (n_samples, n_classes)
    of class probabilities ``p``; the loss is then its expectation over
    them, ``sum_k p_k L(k, f)`` (as the same samples copied once per class
    with weights ``p_k``); ``classes_`` are the column indices, and
    ``class_weight`` does not apply.

    Solver: L-BFGS-B with the analytic gradient and a diagonal
    preconditioner (features scaled to unit root mean square); on the split
    ``w = w+ - w-`` when ``l1_ratio > 0``.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, ``gamma >= 0``.

    {common}

    {class_weight}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients: one row for two classes, one per class for more.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.

    n_iter_ : int
        Number of solver iterations.

    {certificates}

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    LogisticLossClassifier : The case ``gamma = 0``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_losses import FocalLossClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), FocalLossClassifier(gamma=2.0))
    >>> model.fit(X, y).score(X, y) > 0.97
    True
    """
)
class FocalLossClassifier(ProbabilisticLossClassifier):
    _parameter_constraints = {
        **ProbabilisticLossClassifier._parameter_constraints,
        "gamma": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        gamma=2.0,
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
        class_weight=None,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            class_weight=class_weight,
        )
        self.gamma = gamma

    def _get_loss(self, n_classes=2, scale=1.0):
        if n_classes == 2:
            return FocalLoss(self.gamma, scale)
        return MultinomialFocalLoss(self.gamma, scale)

    def _scaled_loss(self, n_classes):
        """The loss, divided by its value at the trivial model where that is tiny.

        With ``p = 1 / K`` for every sample, the loss is
        ``(1 - 1 / K)**gamma * log(K)``: 6e-16 for two classes at
        ``gamma = 50``, where every gradient is far below ``tol`` and the
        fit would stop at once. Below ``_SMALLEST_LOSS``, the loss and the
        penalty are divided by that value (the same minimizer), so that
        ``tol`` bounds the gradient of a problem of unit scale.
        """
        at_trivial_model = (1.0 - 1.0 / n_classes) ** self.gamma * np.log(n_classes)
        divisor = at_trivial_model if at_trivial_model < _SMALLEST_LOSS else 1.0
        return self._get_loss(n_classes, 1.0 / divisor), divisor

    def _soft_loss(self, n_classes):
        """The focal loss in expectation over the soft labels (its value at
        the trivial model does not depend on the label: the same divisor)."""
        loss, divisor = self._scaled_loss(n_classes)
        return ExpectedLoss(loss), divisor
