"""The public cross-validated estimators, one per plain estimator (the
machinery they share is ``_cv._LossCV``)."""

from ._cv import (
    _CLASS_WEIGHT,
    _CLASSIFICATION_EXAMPLE,
    _REGRESSION_EXAMPLE,
    _document_cv,
    _LossCV,
    _set_cv_parameters,
)
from ._estimators import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogCoshLossRegressor,
    LogisticLossClassifier,
    PoissonLossRegressor,
    QuantileLossRegressor,
)
from .metrics import make_loss_scorer


@_document_cv(
    HuberLossRegressor,
    "neg_huber_loss",
    """delta : float, default=1.0
        Where the Huber loss turns from quadratic to linear, ``delta > 0``,
        in the units of ``y``.""",
    _REGRESSION_EXAMPLE.format(name="HuberLossRegressorCV"),
)
class HuberLossRegressorCV(_LossCV, HuberLossRegressor):
    _plain = HuberLossRegressor
    _parameter_constraints = _LossCV._constraints(HuberLossRegressor)

    def __init__(
        self,
        *,
        delta=1.0,
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
    ):
        self.delta = delta
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer("neg_huber_loss", delta=self.delta)


@_document_cv(
    QuantileLossRegressor,
    "neg_pinball_loss",
    """quantile : float, default=0.5
        The quantile predicted, in ``(0, 1)``.""",
    _REGRESSION_EXAMPLE.format(name="QuantileLossRegressorCV"),
)
class QuantileLossRegressorCV(_LossCV, QuantileLossRegressor):
    _plain = QuantileLossRegressor
    _parameter_constraints = _LossCV._constraints(QuantileLossRegressor)

    def __init__(
        self,
        *,
        quantile=0.5,
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
    ):
        self.quantile = quantile
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer("neg_pinball_loss", quantile=self.quantile)


@_document_cv(
    LogCoshLossRegressor,
    "neg_log_cosh_loss",
    """scale : float, default=1.0
        The scale of the residuals, ``scale > 0``, in the units of ``y``.""",
    _REGRESSION_EXAMPLE.format(name="LogCoshLossRegressorCV"),
)
class LogCoshLossRegressorCV(_LossCV, LogCoshLossRegressor):
    _plain = LogCoshLossRegressor
    _parameter_constraints = _LossCV._constraints(LogCoshLossRegressor)

    def __init__(
        self,
        *,
        scale=1.0,
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
    ):
        self.scale = scale
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer("neg_log_cosh_loss", scale=self.scale)


@_document_cv(
    EpsilonInsensitiveLossRegressor,
    "neg_epsilon_insensitive_loss`` or ``neg_squared_epsilon_insensitive_loss",
    """epsilon : float, default=0.0
        Half-width of the band of residuals that cost nothing,
        ``epsilon >= 0``, in the units of ``y``.

    loss : {"epsilon_insensitive", "squared_epsilon_insensitive"}
        The loss beyond the band: linear (the default), or squared.""",
    _REGRESSION_EXAMPLE.format(name="EpsilonInsensitiveLossRegressorCV"),
)
class EpsilonInsensitiveLossRegressorCV(_LossCV, EpsilonInsensitiveLossRegressor):
    _plain = EpsilonInsensitiveLossRegressor
    _parameter_constraints = _LossCV._constraints(EpsilonInsensitiveLossRegressor)

    def __init__(
        self,
        *,
        epsilon=0.0,
        loss="epsilon_insensitive",
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
    ):
        self.epsilon = epsilon
        self.loss = loss
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer(f"neg_{self.loss}_loss", epsilon=self.epsilon)


_POISSON_EXAMPLE = """    >>> import numpy as np
    >>> from sklearn_losses import PoissonLossRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 6))
    >>> y = rng.poisson(np.exp(0.3 + X @ np.array([0.5, -0.4, 0, 0, 0, 0])))
    >>> model = PoissonLossRegressorCV(l1_ratio=[0.5, 1.0], n_alphas=20).fit(X, y)
    >>> model.scores_.shape  # (l1_ratios, alphas, folds)
    (2, 20, 5)
    >>> bool(model.alpha_ < model.alphas_.max())
    True"""


@_document_cv(PoissonLossRegressor, "neg_poisson_loss", "", _POISSON_EXAMPLE)
class PoissonLossRegressorCV(_LossCV, PoissonLossRegressor):
    _plain = PoissonLossRegressor
    _parameter_constraints = _LossCV._constraints(PoissonLossRegressor)

    def __init__(
        self,
        *,
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
    ):
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer("neg_poisson_loss")


@_document_cv(
    HingeLossClassifier,
    "neg_hinge_loss`` or ``neg_squared_hinge_loss",
    """loss : {"hinge", "squared_hinge"}, default="hinge"
        The hinge loss ``max(0, 1 - y f)`` or its square.""",
    _CLASSIFICATION_EXAMPLE.format(name="HingeLossClassifierCV"),
    _CLASS_WEIGHT,
)
class HingeLossClassifierCV(_LossCV, HingeLossClassifier):
    _plain = HingeLossClassifier
    _parameter_constraints = _LossCV._constraints(HingeLossClassifier)

    def __init__(
        self,
        *,
        loss="hinge",
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        class_weight=None,
    ):
        self.loss = loss
        self.class_weight = class_weight
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer(f"neg_{self.loss}_loss", **self._labels())


@_document_cv(
    LogisticLossClassifier,
    "neg_logistic_loss",
    "",
    _CLASSIFICATION_EXAMPLE.format(name="LogisticLossClassifierCV"),
    _CLASS_WEIGHT,
)
class LogisticLossClassifierCV(_LossCV, LogisticLossClassifier):
    _plain = LogisticLossClassifier
    _parameter_constraints = _LossCV._constraints(LogisticLossClassifier)

    def __init__(
        self,
        *,
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        class_weight=None,
    ):
        self.class_weight = class_weight
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer("neg_logistic_loss", **self._labels())


@_document_cv(
    FocalLossClassifier,
    "neg_focal_loss",
    """gamma : float, default=2.0
        Focusing parameter of the focal loss, ``gamma >= 0``.""",
    _CLASSIFICATION_EXAMPLE.format(name="FocalLossClassifierCV"),
    _CLASS_WEIGHT,
)
class FocalLossClassifierCV(_LossCV, FocalLossClassifier):
    _plain = FocalLossClassifier
    _parameter_constraints = _LossCV._constraints(FocalLossClassifier)

    def __init__(
        self,
        *,
        gamma=2.0,
        alphas=None,
        n_alphas=100,
        eps=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        class_weight=None,
    ):
        self.gamma = gamma
        self.class_weight = class_weight
        _set_cv_parameters(self, locals())

    def _default_scorer(self):
        return make_loss_scorer("neg_focal_loss", gamma=self.gamma, **self._labels())
