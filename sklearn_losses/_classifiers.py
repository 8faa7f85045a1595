"""The classifiers: hinge and squared hinge, logistic, focal.

Each differs from the others only in the loss it builds (``_get_loss``, and
``_soft_loss`` for soft labels) and in that loss's parameters; ``fit`` lives
in ``_base_classifier.py``.
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._base_classifier import LossClassifier, ProbabilisticLossClassifier
from ._docstrings import _document
from ._loss import (
    ExpectedLoss,
    FocalLoss,
    HingeLoss,
    LogisticLoss,
    MultinomialFocalLoss,
    MultinomialLoss,
    SoftLogisticLoss,
    SoftMultinomialLoss,
    SquaredHingeLoss,
)

# Focal losses smaller than this at the trivial model are solved divided by
# that value (FocalLossClassifier._scaled_loss).
_SMALLEST_LOSS = 1e-4


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

    Solver, two classes: Newton's method (proximal Newton on working sets,
    or projected Newton on orthants, when ``l1_ratio > 0``) on the Hessian
    with each sample's second derivative clipped at zero where the loss
    bends concave (misclassified samples near margin -4 at ``gamma = 2``):
    positive definite, so every step is a descent direction, and exact at
    a stationary point where no sample sits on that stretch. More classes:
    L-BFGS-B with the analytic gradient and a diagonal preconditioner
    (features scaled to unit root mean square), on the split ``w = w+ -
    w-`` when ``l1_ratio > 0``.

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
