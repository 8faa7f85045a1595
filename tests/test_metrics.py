"""Metrics equal their formulas and the data term; scorers drive searches."""

import numpy as np
import pytest
from objective import pointwise
from sklearn.base import is_regressor
from sklearn.metrics import hinge_loss as sklearn_hinge_loss
from sklearn.metrics import log_loss, mean_pinball_loss
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_losses import (
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
)
from sklearn_losses.metrics import (
    focal_loss,
    get_scorer,
    hinge_loss,
    huber_loss,
    logistic_loss,
    make_loss_scorer,
    pinball_loss,
    squared_hinge_loss,
)


def test_regression_metrics_equal_their_formulas(rng):
    y, f, w = rng.standard_normal(50), rng.standard_normal(50), rng.random(50)
    expected = w @ pointwise("huber", y, f, delta=0.3) / w.sum()
    assert huber_loss(y, f, delta=0.3, sample_weight=w) == pytest.approx(expected)
    expected = w @ pointwise("pinball", y, f, quantile=0.2) / w.sum()
    assert pinball_loss(y, f, quantile=0.2, sample_weight=w) == pytest.approx(expected)
    assert pinball_loss(y, f, quantile=0.2, sample_weight=w) == pytest.approx(
        mean_pinball_loss(y, f, alpha=0.2, sample_weight=w)
    )


def test_binary_classification_metrics_equal_their_formulas(rng):
    labels = np.array(["cat", "dog"])
    y = labels[rng.integers(0, 2, 60)]
    signed = np.where(y == "dog", 1.0, -1.0)
    score, w = rng.standard_normal(60) * 2, rng.random(60)
    proba = 1 / (1 + np.exp(-score))
    for name, metric in [("hinge", hinge_loss), ("squared_hinge", squared_hinge_loss)]:
        expected = w @ pointwise(name, signed, score) / w.sum()
        assert metric(y, score, sample_weight=w) == pytest.approx(expected)
    assert hinge_loss(y, score, sample_weight=w) == pytest.approx(
        sklearn_hinge_loss(y, score, sample_weight=w)
    )
    expected = w @ pointwise("logistic", signed, score) / w.sum()
    assert logistic_loss(y, proba, sample_weight=w) == pytest.approx(expected)
    assert logistic_loss(y, proba, sample_weight=w) == pytest.approx(
        log_loss(y, proba, sample_weight=w)
    )
    two_columns = np.column_stack([1 - proba, proba])
    assert focal_loss(y, two_columns, gamma=1.5, sample_weight=w) == pytest.approx(
        w @ pointwise("focal", signed, score, gamma=1.5) / w.sum()
    )


def test_multiclass_metrics(rng):
    y = rng.integers(0, 3, 40)
    scores = rng.standard_normal((40, 3))
    proba = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    onehot = np.where(np.eye(3)[y] > 0, 1.0, -1.0)
    # One-vs-rest sum, not scikit-learn's Crammer-Singer hinge.
    assert hinge_loss(y, scores) == pytest.approx(
        np.maximum(0, 1 - onehot * scores).sum(axis=1).mean()
    )
    assert logistic_loss(y, proba) == pytest.approx(log_loss(y, proba))
    p_true = proba[np.arange(40), y]
    assert focal_loss(y, proba, gamma=2.0) == pytest.approx(
        np.mean(-((1 - p_true) ** 2) * np.log(p_true))
    )


def test_bad_metric_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        logistic_loss([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="sum to 1"):
        logistic_loss([0, 1, 2], [[0.5, 0.4, 0.4]] * 3)
    with pytest.raises(ValueError, match="not in labels"):
        hinge_loss([0, 1, 5], [0.1, 0.2, 0.3], labels=[0, 1])
    with pytest.raises(InvalidParameterError, match="quantile"):
        pinball_loss([1.0], [1.0], quantile=1.5)
    with pytest.raises(InvalidParameterError, match="delta"):
        huber_loss([1.0], [1.0], delta=0)


@pytest.mark.parametrize(
    "estimator, scorer",
    [
        (HuberLossRegressor(delta=0.5), make_loss_scorer("neg_huber_loss", delta=0.5)),
        (
            QuantileLossRegressor(quantile=0.8),
            make_loss_scorer("neg_pinball_loss", quantile=0.8),
        ),
        (HingeLossClassifier(), get_scorer("neg_hinge_loss")),
        (
            HingeLossClassifier(loss="squared_hinge"),
            get_scorer("neg_squared_hinge_loss"),
        ),
        (LogisticLossClassifier(), get_scorer("neg_logistic_loss")),
        (FocalLossClassifier(gamma=1.0), make_loss_scorer("neg_focal_loss", gamma=1.0)),
    ],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_scorer_is_minus_the_data_term_at_the_fit(estimator, scorer, n_classes, rng):
    """SPEC section 4's invariant, against the objective written out independently."""
    X = rng.standard_normal((90, 4))
    if is_regressor(estimator):
        if n_classes == 3:
            pytest.skip("regression has no classes")
        y = X @ rng.standard_normal(4) + rng.standard_normal(90)
        data_term = np.mean(
            pointwise(
                "huber" if isinstance(estimator, HuberLossRegressor) else "pinball",
                y,
                X @ estimator.fit(X, y).coef_ + estimator.intercept_,
                **{
                    k: v
                    for k, v in estimator.get_params().items()
                    if k in ("delta", "quantile")
                },
            )
        )
    else:
        y = rng.integers(0, n_classes, 90)
        estimator.fit(X, y)
        scores = X @ estimator.coef_.T + estimator.intercept_
        if n_classes == 2:
            signed = np.where(y == 1, 1.0, -1.0)
            name = getattr(estimator, "loss", None) or (
                "focal" if isinstance(estimator, FocalLossClassifier) else "logistic"
            )
            data_term = np.mean(
                pointwise(
                    name, signed, scores.ravel(), gamma=getattr(estimator, "gamma", 0)
                )
            )
        elif isinstance(estimator, HingeLossClassifier):
            onehot = np.where(np.eye(3)[y] > 0, 1.0, -1.0)
            data_term = np.mean(pointwise(estimator.loss, onehot, scores).sum(axis=1))
        else:
            proba = np.exp(scores - scores.max(axis=1, keepdims=True))
            proba /= proba.sum(axis=1, keepdims=True)
            p_true = proba[np.arange(90), y]
            gamma = getattr(estimator, "gamma", 0.0)
            data_term = np.mean(-((1 - p_true) ** gamma) * np.log(p_true))
    assert scorer(estimator, X, y) == pytest.approx(-data_term, rel=1e-9)


def test_grid_search_for_the_quantile_picks_the_scored_quantile(rng):
    X = rng.standard_normal((400, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.standard_exponential(400) * 2
    search = GridSearchCV(
        make_pipeline(StandardScaler(), QuantileLossRegressor()),
        {"quantilelossregressor__quantile": [0.1, 0.5, 0.9]},
        scoring=make_loss_scorer("neg_pinball_loss", quantile=0.9),
        n_jobs=2,
    ).fit(X, y)
    assert search.best_params_["quantilelossregressor__quantile"] == 0.9


def test_multi_metric_search_mixes_our_scorers_and_scikit_learn_names(rng):
    X = rng.standard_normal((200, 4))
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(200) > 0, "pos", "neg")
    search = GridSearchCV(
        make_pipeline(StandardScaler(), HingeLossClassifier()),
        {
            "hingelossclassifier__loss": ["hinge", "squared_hinge"],
            "hingelossclassifier__alpha": [1e-3, 1e-1],
            "hingelossclassifier__l1_ratio": [0.0, 1.0],
        },
        scoring={"hinge": get_scorer("neg_hinge_loss"), "accuracy": "accuracy"},
        refit="hinge",
        n_jobs=2,
    ).fit(X, y)
    assert set(search.cv_results_) >= {"mean_test_hinge", "mean_test_accuracy"}
    assert search.best_estimator_.score(X, y) > 0.8
    results = cross_validate(
        LogisticLossClassifier(), X, y, scoring=get_scorer("neg_logistic_loss")
    )
    assert np.all(results["test_score"] < 0)
