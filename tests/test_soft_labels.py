"""Soft labels: LogisticLossClassifier on class probabilities (cross-entropy,
i.e. KL divergence up to a constant), and the kl_divergence metric."""

import numpy as np
import pytest
from scipy.special import rel_entr
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_losses import (
    FocalLossClassifier,
    HingeLossClassifier,
    LogisticLossClassifier,
)
from sklearn_losses._loss import SoftLogisticLoss, SoftMultinomialLoss
from sklearn_losses.metrics import get_scorer, kl_divergence


def _data(n_classes, seed=0, n_samples=300, n_features=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    scores = X @ rng.standard_normal((n_features, n_classes))
    labels = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    return X, labels


def _smoothed(labels, n_classes, smoothing):
    return np.eye(n_classes)[labels] * (1 - smoothing) + smoothing / n_classes


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_one_hot_rows_give_the_fit_on_the_labels(n_classes, l1_ratio):
    """Coefficients and intercepts equal to 1e-9."""
    X, labels = _data(n_classes, seed=1)
    hard = LogisticLossClassifier(alpha=0.01, l1_ratio=l1_ratio).fit(X, labels)
    soft = LogisticLossClassifier(alpha=0.01, l1_ratio=l1_ratio).fit(
        X, np.eye(n_classes)[labels]
    )
    np.testing.assert_allclose(soft.coef_, hard.coef_, atol=1e-9)
    np.testing.assert_allclose(soft.intercept_, hard.intercept_, atol=1e-9)
    np.testing.assert_array_equal(soft.classes_, np.arange(n_classes))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_soft_labels_equal_weighted_copies_of_each_class(n_classes, l1_ratio):
    """The cross-entropy is linear in p: a sample with probabilities p is
    n_classes copies with hard labels 0..K-1 weighted by s_i p_ik. An
    independent route to the same optimum: objectives equal to 1e-12
    relative, coefficients to 1e-7, both certified to 1e-9."""
    X, labels = _data(n_classes, seed=2)
    soft_labels = _smoothed(labels, n_classes, 0.2)
    weight = np.random.default_rng(3).uniform(0.5, 2.0, len(labels))
    soft = LogisticLossClassifier(alpha=0.01, l1_ratio=l1_ratio).fit(
        X, soft_labels, sample_weight=weight
    )
    copies = LogisticLossClassifier(alpha=0.01, l1_ratio=l1_ratio).fit(
        np.repeat(X, n_classes, axis=0),
        np.tile(np.arange(n_classes), len(labels)),
        sample_weight=(soft_labels * weight[:, None]).ravel(),
    )
    assert soft.objective_ == pytest.approx(copies.objective_, rel=1e-12)
    np.testing.assert_allclose(soft.coef_, copies.coef_, atol=1e-7)
    assert soft.duality_gap_ <= 1e-9 and copies.duality_gap_ <= 1e-9


@pytest.mark.parametrize("loss", [SoftLogisticLoss(), SoftMultinomialLoss()])
def test_soft_losses_derivatives_and_conjugates(loss, rng):
    """Derivatives against central differences (1e-6); the conjugate at the
    derivative u equals u . f - L(f) (1e-9)."""
    if isinstance(loss, SoftLogisticLoss):
        y, f = rng.random(200), rng.standard_normal(200) * 3
    else:
        y, f = rng.dirichlet(np.ones(3), 100), rng.standard_normal((100, 3)) * 3
    gradient = loss.gradient(y, f)
    step = 1e-6
    for column in range(f.shape[1] if f.ndim == 2 else 1):
        shift = np.zeros_like(f)
        if f.ndim == 2:
            shift[:, column] = step
        else:
            shift += step
        numerical = (loss.loss(y, f + shift) - loss.loss(y, f - shift)) / (2 * step)
        analytic = gradient[:, column] if f.ndim == 2 else gradient
        np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-7)
    inner = (gradient * f).sum(axis=1) if f.ndim == 2 else gradient * f
    np.testing.assert_allclose(
        loss.conjugate(y, gradient), inner - loss.loss(y, f), rtol=1e-9, atol=1e-9
    )


def test_kl_divergence_and_its_scorer():
    """The metric is scipy's relative entropy summed over classes, weighted
    mean over samples; the fit's data term is it plus the entropy of the
    labels; the scorer searches the smoothing's strength as a grid would."""
    X, labels = _data(3, seed=4)
    soft_labels = _smoothed(labels, 3, 0.3)
    model = LogisticLossClassifier(alpha=0.01).fit(X, soft_labels)
    proba = model.predict_proba(X)
    weight = np.linspace(0.5, 1.5, len(labels))
    expected = weight @ rel_entr(soft_labels, proba).sum(axis=1) / weight.sum()
    assert kl_divergence(soft_labels, proba, sample_weight=weight) == pytest.approx(
        expected, rel=1e-12
    )
    entropy = -np.mean((soft_labels * np.log(soft_labels)).sum(axis=1))
    data_term = model.objective_ - 0.01 / 2 * (model.coef_**2).sum()
    assert kl_divergence(soft_labels, proba) + entropy == pytest.approx(
        data_term, rel=1e-10
    )
    search = GridSearchCV(
        LogisticLossClassifier(),
        {"alpha": [1e-3, 1e-1]},
        cv=KFold(3),
        scoring=get_scorer("neg_kl_divergence"),
    ).fit(X, soft_labels)
    assert search.best_params_["alpha"] in (1e-3, 1e-1)


@pytest.mark.parametrize(
    "y, message",
    [
        ([[0.5, 0.6], [1.0, 0.0]], "summing to 1"),
        ([[1.5, -0.5], [1.0, 0.0]], "non-negative"),
        ([[np.nan, 1.0], [1.0, 0.0]], "NaN"),
    ],
)
def test_soft_labels_that_are_not_probabilities_are_errors(y, message):
    with pytest.raises(ValueError, match=message):
        LogisticLossClassifier().fit([[0.0], [1.0]], y)


def test_class_weight_with_soft_labels_is_an_error():
    X, labels = _data(2, seed=5)
    with pytest.raises(ValueError, match="class_weight"):
        LogisticLossClassifier(class_weight="balanced").fit(X, np.eye(2)[labels])


def test_estimators_without_soft_labels_reject_probability_rows():
    X, labels = _data(2, seed=6)
    with pytest.raises(ValueError):
        HingeLossClassifier().fit(X, np.eye(2)[labels] * 0.9 + 0.05)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("gamma", [2.0, 40.0])
def test_focal_soft_labels_equal_weighted_copies_of_each_class(n_classes, gamma):
    """The focal loss in expectation over the soft labels: the fit equals
    one on weighted copies (objective to 1e-10 relative, coefficients to
    1e-6: both are stationary points of a non-convex objective reached from
    zero, certified by their residuals), also where the loss is divided by
    its tiny value at the trivial model (gamma = 40)."""
    X, labels = _data(n_classes, seed=7)
    soft_labels = _smoothed(labels, n_classes, 0.2)
    soft = FocalLossClassifier(gamma=gamma, alpha=0.01).fit(X, soft_labels)
    copies = FocalLossClassifier(gamma=gamma, alpha=0.01).fit(
        np.repeat(X, n_classes, axis=0),
        np.tile(np.arange(n_classes), len(labels)),
        sample_weight=soft_labels.ravel(),
    )
    assert soft.objective_ == pytest.approx(copies.objective_, rel=1e-10)
    np.testing.assert_allclose(soft.coef_, copies.coef_, atol=1e-6)
    one_hot = FocalLossClassifier(gamma=gamma, alpha=0.01).fit(
        X, np.eye(n_classes)[labels]
    )
    hard = FocalLossClassifier(gamma=gamma, alpha=0.01).fit(X, labels)
    np.testing.assert_allclose(one_hot.coef_, hard.coef_, atol=1e-9)


@pytest.mark.parametrize(
    "y_true, y_proba, message",
    [
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], "same shape"),
        ([[0.5, 0.5]], [[-0.5, 1.5]], "non-negative"),
        ([[0.5, 0.5]], [[np.inf, 0.5]], "finite"),
    ],
)
def test_kl_divergence_rejects_what_is_not_two_distributions(y_true, y_proba, message):
    with pytest.raises(ValueError, match=message):
        kl_divergence(y_true, y_proba)
