"""The estimators inside scikit-learn's tooling: searches, meta-estimators,
column transformers, metadata routing, persistence and callbacks."""

import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import sklearn
from families import CLASSIFIERS, REGRESSORS
from scipy.stats import loguniform, uniform
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.callback import ProgressBar
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_losses import (
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
)
from sklearn_losses.metrics import get_scorer, huber_loss, make_loss_scorer


def regression_data(rng, n_samples=150):
    X = rng.standard_normal((n_samples, 4)) * [1.0, 10.0, 0.1, 1.0] + 3.0
    y = X @ [1.0, 0.2, -5.0, 0.0] + rng.standard_t(2, n_samples)
    return X, y


def classification_data(rng, n_samples=150, n_classes=3):
    X = rng.standard_normal((n_samples, 4))
    scores = X @ rng.standard_normal((4, n_classes))
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    return X, np.array(["ant", "bee", "cat", "dog"])[y]


def data(estimator_class, rng):
    if estimator_class in REGRESSORS:
        return regression_data(rng)
    return classification_data(rng)


def test_randomized_search_over_loss_hyperparameters_with_two_scorings(rng):
    X, y = regression_data(rng)
    search = RandomizedSearchCV(
        make_pipeline(StandardScaler(), HuberLossRegressor()),
        {
            "huberlossregressor__delta": loguniform(0.1, 10),
            "huberlossregressor__alpha": loguniform(1e-4, 1e-1),
            "huberlossregressor__l1_ratio": uniform(0, 1),
        },
        n_iter=6,
        scoring={
            "huber": make_loss_scorer("neg_huber_loss", delta=1.0),
            "mae": "neg_mean_absolute_error",
        },
        refit="huber",
        n_jobs=2,
        random_state=0,
    ).fit(X, y)
    assert {"mean_test_huber", "mean_test_mae"} <= set(search.cv_results_)
    best = search.cv_results_["mean_test_huber"].max()
    assert search.best_score_ == best

    X, y = classification_data(rng, n_classes=2)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), FocalLossClassifier()),
        {"focallossclassifier__gamma": [0.0, 1.0, 2.0]},
        scoring={"focal": get_scorer("neg_focal_loss"), "roc_auc": "roc_auc"},
        refit="roc_auc",
        n_jobs=2,
    ).fit(X, y)
    assert search.best_params_["focallossclassifier__gamma"] in (0.0, 1.0, 2.0)
    assert search.predict(X).dtype == y.dtype


@pytest.mark.parametrize("n_classes", [2, 3])
def test_calibrated_hinge_classifier_gives_probabilities(n_classes, rng):
    X, y = classification_data(rng, n_classes=n_classes)
    model = CalibratedClassifierCV(HingeLossClassifier(), cv=3).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.mean(model.predict(X) == y) > 0.6


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_one_vs_rest_around_each_classifier(estimator_class, rng):
    X, y = classification_data(rng)
    model = OneVsRestClassifier(estimator_class()).fit(X, y)
    assert len(model.estimators_) == 3
    assert np.mean(model.predict(X) == y) > 0.6
    # Our hinge classifier is itself one-vs-rest: the same binary problems.
    if estimator_class is HingeLossClassifier:
        direct = HingeLossClassifier().fit(X, y)
        np.testing.assert_allclose(
            model.decision_function(X), direct.decision_function(X), atol=1e-6
        )


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_column_transformer_on_a_frame_keeps_feature_names(estimator_class, rng):
    X, y = data(estimator_class, rng)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=len(frame))
    columns = ColumnTransformer(
        [
            ("scale", StandardScaler(), ["a", "b", "c", "d"]),
            ("onehot", OneHotEncoder(sparse_output=False), ["colour"]),
        ]
    ).set_output(transform="pandas")
    model = make_pipeline(columns, estimator_class()).fit(frame, y)
    fitted = model[-1]
    expected = list(columns.get_feature_names_out())
    assert list(fitted.feature_names_in_) == expected
    assert fitted.n_features_in_ == 7
    assert model.predict(frame).shape == (len(frame),)


def test_metadata_routing_sends_sample_weight_to_fit_and_scorer(rng):
    X, y = regression_data(rng)
    weight = rng.uniform(0.1, 3.0, size=len(y))
    grid = {"huberlossregressor__delta": [0.5, 2.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_loss_scorer("neg_huber_loss", delta=1.0).set_score_request(
            sample_weight=True
        )
        regressor = HuberLossRegressor().set_fit_request(sample_weight=True)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        search = GridSearchCV(
            make_pipeline(scaler, regressor),
            grid,
            scoring=scorer,
            cv=[(np.arange(0, 100), np.arange(100, 150))],
        ).fit(X, y, sample_weight=weight)
    # Weights reached fit: the refit model is the weighted fit.
    best_delta = search.best_params_["huberlossregressor__delta"]
    direct = make_pipeline(StandardScaler(), HuberLossRegressor(delta=best_delta))
    direct.fit(X, y, huberlossregressor__sample_weight=weight)
    np.testing.assert_allclose(search.best_estimator_[-1].coef_, direct[-1].coef_)
    # Weights reached the scorer: the score is the weighted validation loss
    # of the model fitted with weights on the training fold.
    train, test = np.arange(0, 100), np.arange(100, 150)
    for delta, score in zip(
        grid["huberlossregressor__delta"],
        search.cv_results_["split0_test_score"],
        strict=True,
    ):
        model = make_pipeline(StandardScaler(), HuberLossRegressor(delta=delta))
        model.fit(X[train], y[train], huberlossregressor__sample_weight=weight[train])
        expected = -huber_loss(
            y[test], model.predict(X[test]), delta=1.0, sample_weight=weight[test]
        )
        assert score == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_clone_pickle_and_skops_round_trips_predict_identically(estimator_class, rng):
    skops_io = pytest.importorskip("skops.io")
    X, y = data(estimator_class, rng)
    model = estimator_class(alpha=1e-3).fit(X, y)
    expected = model.predict(X)

    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    np.testing.assert_array_equal(cloned.fit(X, y).predict(X), expected)

    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(unpickled.predict(X), expected)

    payload = skops_io.dumps(model)
    untrusted = skops_io.get_untrusted_types(data=payload)
    assert all(name.startswith("sklearn_losses.") for name in untrusted)
    loaded = skops_io.loads(payload, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), expected)
    if hasattr(model, "decision_function"):
        np.testing.assert_array_equal(
            loaded.decision_function(X), model.decision_function(X)
        )


class RecordingCallback:
    """A callback that records the tasks it is told about."""

    def __init__(self):
        self.events = []

    def setup(self, estimator, context):
        self.events.append(("setup", None))

    def on_fit_task_begin(self, estimator, context):
        self.events.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context):
        self.events.append(("end", context.task_name))

    def teardown(self, estimator, context):
        self.events.append(("teardown", None))


@pytest.mark.parametrize(
    "estimator",
    [
        HuberLossRegressor(),
        HuberLossRegressor(l1_ratio=1.0, alpha=1e-2),
        QuantileLossRegressor(),
        QuantileLossRegressor(alpha=0.0),
        HingeLossClassifier(),
        LogisticLossClassifier(),
        FocalLossClassifier(),
    ],
    ids=repr,
)
def test_callbacks_see_the_fit_its_problems_and_each_iteration(estimator, rng):
    X, y = data(type(estimator), rng)
    recorder = RecordingCallback()
    estimator.set_callbacks(recorder).fit(X, y)
    counts = Counter(recorder.events)
    assert counts[("setup", None)] == counts[("teardown", None)] == 1
    assert counts[("begin", "fit")] == counts[("end", "fit")] == 1
    n_problems = 3 if isinstance(estimator, HingeLossClassifier) else 1
    assert counts[("begin", "solve")] == counts[("end", "solve")] == n_problems
    iterations = counts[("begin", "iteration")]
    assert counts[("end", "iteration")] == iterations
    assert n_problems <= iterations <= n_problems * estimator.n_iter_
    # The tasks nest: the fit opens first and closes last.
    assert recorder.events[1] == ("begin", "fit")
    assert recorder.events[-2] == ("end", "fit")


def test_progress_bar_on_an_estimator_and_on_a_search(rng):
    pytest.importorskip("rich")
    X, y = classification_data(rng)
    HingeLossClassifier().set_callbacks(ProgressBar()).fit(X, y)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticLossClassifier()),
        {"logisticlossclassifier__alpha": [1e-3, 1e-1]},
        cv=2,
    ).set_callbacks(ProgressBar())
    search.fit(X, y)
    assert hasattr(search, "best_estimator_")
