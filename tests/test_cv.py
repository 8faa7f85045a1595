"""CV estimators: the choice of GridSearchCV over the same grid and folds,
their fitted attributes, metadata routing, and behaviour on bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_losses import (
    FocalLossClassifierCV,
    HingeLossClassifier,
    HingeLossClassifierCV,
    HuberLossRegressorCV,
    LogisticLossClassifier,
    LogisticLossClassifierCV,
    QuantileLossRegressorCV,
    loss_path,
)
from sklearn_losses._cv import _negative_mean_loss
from sklearn_losses.metrics import make_loss_scorer


def _data(kind, seed=0, n_samples=300, n_features=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    beta = np.zeros(n_features)
    beta[:3] = [1.0, -0.8, 0.5]
    if kind == "regression":
        return X, X @ beta + rng.standard_t(3, n_samples)
    if kind == "binary":
        return X, (X @ beta + rng.logistic(size=n_samples) > 0).astype(int)
    scores = X[:, :3] + rng.gumbel(size=(n_samples, 3))
    return X, np.array(["a", "b", "c"])[np.argmax(scores, axis=1)]


CASES = {
    "huber": (HuberLossRegressorCV(delta=0.7), "regression"),
    "quantile": (QuantileLossRegressorCV(quantile=0.3), "regression"),
    "hinge": (HingeLossClassifierCV(), "binary"),
    "squared_hinge": (HingeLossClassifierCV(loss="squared_hinge"), "binary"),
    "logistic": (LogisticLossClassifierCV(), "binary"),
    "multinomial": (LogisticLossClassifierCV(), "multiclass"),
    "focal": (FocalLossClassifierCV(gamma=1.0), "binary"),
    "hinge_ovr": (HingeLossClassifierCV(), "multiclass"),
}


def _folds(kind, X, y):
    splitter = KFold(4) if kind == "regression" else StratifiedKFold(4)
    return list(splitter.split(X, y))


@pytest.mark.parametrize("case", list(CASES))
def test_same_choice_and_scores_as_grid_search(case):
    """Over the same grid (two l1_ratios, 8 alphas each) and folds, the CV
    estimator picks GridSearchCV's (alpha, l1_ratio), its mean held-out
    scores are GridSearchCV's to 1e-7 relative (each fit to its tolerance,
    the path's warm-started, GridSearchCV's cold), and the refit is
    GridSearchCV's best estimator (objective to 1e-9 relative)."""
    estimator, kind = CASES[case]
    X, y = _data(kind, seed=1)
    folds = _folds(kind, X, y)
    model = clone(estimator).set_params(l1_ratio=[0.5, 1.0], n_alphas=8, cv=folds)
    model.fit(X, y)
    grid = [
        {"alpha": list(alphas), "l1_ratio": [l1_ratio]}
        for alphas, l1_ratio in zip(model.alphas_, [0.5, 1.0], strict=True)
    ]
    search = GridSearchCV(
        model._plain_estimator(0.5), grid, cv=folds, scoring=model._get_scorer()
    ).fit(X, y)
    assert search.best_params_["l1_ratio"] == model.l1_ratio_
    assert search.best_params_["alpha"] == pytest.approx(model.alpha_, rel=1e-12)
    theirs = search.cv_results_["mean_test_score"].reshape(2, 8)
    np.testing.assert_allclose(model.scores_.mean(axis=2), theirs, rtol=1e-7)
    best = search.best_estimator_
    np.testing.assert_allclose(model.objective_, best.objective_, rtol=1e-9)
    np.testing.assert_allclose(model.coef_, best.coef_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", list(CASES))
def test_own_loss_scores_are_the_scorer(case):
    """The shortcut for the default scoring computes what the estimator's own
    loss scorer returns, to 1e-12 relative, with and without weights."""
    estimator, kind = CASES[case]
    X, y = _data(kind, seed=2)
    model = clone(estimator).set_params(n_alphas=2, cv=3).fit(X[:200], y[:200])
    plain = model._plain_estimator(0.0).set_params(alpha=model.alpha_)
    plain.fit(X[:200], y[:200])
    weight = np.random.default_rng(0).uniform(0.5, 2.0, 100)
    scorer = model._get_scorer()
    for sample_weight in (None, weight):
        expected = scorer(plain, X[200:], y[200:], sample_weight=sample_weight)
        got = _negative_mean_loss(plain, X[200:], y[200:], sample_weight)
        assert got == pytest.approx(expected, rel=1e-12)


def test_fitted_attributes_and_shapes():
    X, y = _data("multiclass", seed=3)
    model = LogisticLossClassifierCV(l1_ratio=[0.0, 0.5, 1.0], n_alphas=6, cv=3)
    model.fit(X, y)
    assert model.alphas_.shape == (3, 6)
    assert model.scores_.shape == (3, 6, 3)
    assert len(model.paths_) == 3 and len(model.paths_[0]) == 3
    assert model.paths_[1][2].coefs.shape == (6, 3, X.shape[1])
    assert model.coef_.shape == (3, X.shape[1])
    assert model.alpha_ in model.alphas_[model.l1_ratio_ == np.array([0.0, 0.5, 1.0])]
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c"])
    assert model.duality_gap_ <= 1e-9
    assert model.predict_proba(X).shape == (300, 3)
    single = LogisticLossClassifierCV(l1_ratio=0.5, n_alphas=6, cv=3).fit(X, y)
    assert single.alphas_.shape == (6,)
    assert single.scores_.shape == (6, 3)
    assert len(single.paths_) == 3


def test_given_alphas_are_searched_in_decreasing_order_for_every_l1_ratio():
    X, y = _data("regression", seed=4)
    model = HuberLossRegressorCV(alphas=[0.01, 1.0, 0.1], l1_ratio=[0.2, 0.8], cv=3)
    model.fit(X, y)
    np.testing.assert_array_equal(model.alphas_, [[1.0, 0.1, 0.01]] * 2)
    assert model.alpha_ in (1.0, 0.1, 0.01)


def test_refit_false_averages_the_folds_models_at_the_best_point():
    X, y = _data("binary", seed=5)
    model = LogisticLossClassifierCV(n_alphas=5, cv=3, refit=False).fit(X, y)
    index = list(model.alphas_).index(model.alpha_)
    expected = np.mean([path.coefs[index] for path in model.paths_], axis=0)
    np.testing.assert_allclose(model.coef_, expected)
    assert np.isnan(model.objective_) and np.isnan(model.duality_gap_)
    assert model.predict(X).shape == y.shape


def test_any_scorer_by_name_or_callable():
    X, y = _data("binary", seed=6)
    by_name = HingeLossClassifierCV(n_alphas=5, cv=3, scoring="accuracy").fit(X, y)
    assert np.all((by_name.scores_ >= 0) & (by_name.scores_ <= 1))
    scorer = make_loss_scorer("neg_squared_hinge_loss")
    by_callable = HingeLossClassifierCV(n_alphas=5, cv=3, scoring=scorer).fit(X, y)
    assert np.all(by_callable.scores_ <= 0)


def test_parallel_jobs_give_the_same_result():
    X, y = _data("regression", seed=7)
    one = QuantileLossRegressorCV(l1_ratio=[0.0, 1.0], n_alphas=5, cv=3).fit(X, y)
    two = clone(one).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(two.scores_, one.scores_, rtol=1e-10)
    assert (two.alpha_, two.l1_ratio_) == (one.alpha_, one.l1_ratio_)


def test_sparse_and_dense_agree():
    X, y = _data("binary", seed=8)
    X[np.abs(X) < 0.7] = 0.0
    dense = LogisticLossClassifierCV(l1_ratio=1.0, n_alphas=6, cv=3).fit(X, y)
    sparse = clone(dense).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, rtol=1e-8)
    assert sparse.alpha_ == pytest.approx(dense.alpha_, rel=1e-12)


def test_balanced_class_weights_are_those_of_all_the_data_in_every_fold():
    X, y = _data("binary", seed=9)
    y[:120] = 0
    balanced = LogisticLossClassifierCV(n_alphas=4, cv=3, class_weight="balanced")
    balanced.fit(X, y)
    counts = np.bincount(y)
    weights = {k: y.size / (2 * counts[k]) for k in (0, 1)}
    explicit = clone(balanced).set_params(class_weight=weights).fit(X, y)
    np.testing.assert_allclose(balanced.scores_, explicit.scores_, rtol=1e-10)


def test_in_a_pipeline_and_in_a_grid_search_over_a_loss_parameter():
    X, y = _data("regression", seed=10)
    pipeline = make_pipeline(StandardScaler(), HuberLossRegressorCV(n_alphas=5, cv=3))
    search = GridSearchCV(
        pipeline, {"huberlossregressorcv__delta": [0.5, 2.0]}, cv=3
    ).fit(X, y)
    assert search.best_estimator_[-1].alpha_ > 0


def test_metadata_routing_sends_groups_to_the_splitter_and_weights_to_the_scorer():
    X, y = _data("binary", seed=11)
    groups = np.repeat(np.arange(10), 30)
    weight = np.random.default_rng(1).uniform(0.5, 2.0, y.size)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_loss_scorer("neg_logistic_loss").set_score_request(
            sample_weight=True
        )
        model = LogisticLossClassifierCV(n_alphas=5, cv=GroupKFold(5), scoring=scorer)
        model.fit(X, y, sample_weight=weight, groups=groups)
        folds = list(GroupKFold(5).split(X, y, groups))
        estimator = LogisticLossClassifier().set_fit_request(sample_weight=True)
        search = GridSearchCV(
            estimator, {"alpha": list(model.alphas_)}, cv=folds, scoring=scorer
        ).fit(X, y, sample_weight=weight)
    theirs = search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(model.scores_.mean(axis=1), theirs, rtol=1e-7)
    assert search.best_params_["alpha"] == pytest.approx(model.alpha_, rel=1e-12)


def test_metadata_without_routing_is_an_error():
    X, y = _data("binary", seed=12)
    with pytest.raises(ValueError, match="groups"):
        LogisticLossClassifierCV(n_alphas=3).fit(X, y, groups=np.arange(y.size))


def test_logistic_cv_matches_logistic_regression_cv_on_the_same_grid():
    """Ridge logistic on folds of equal size m: C = 1 / (alpha m). Both pick
    the same point by the held-out log loss, and our refit's duality gap is
    at most 1e-9."""
    X, y = _data("binary", seed=13, n_samples=400)
    folds = list(StratifiedKFold(4).split(X, y))
    ours = LogisticLossClassifierCV(n_alphas=8, cv=folds).fit(X, y)
    theirs = LogisticRegressionCV(
        Cs=1.0 / (ours.alphas_ * 300),
        cv=folds,
        scoring="neg_log_loss",
        tol=1e-10,
        max_iter=10_000,
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    ).fit(X, y)
    assert 1.0 / (theirs.C_ * 300) == pytest.approx(ours.alpha_, rel=1e-9)
    assert ours.duality_gap_ <= 1e-9


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"l1_ratio": [0.5, 1.5]}, "l1_ratio"),
        ({"l1_ratio": []}, "l1_ratio"),
        ({"alphas": [-1.0]}, "alphas"),
        ({"alphas": []}, "alphas"),
        ({"n_alphas": 0}, "n_alphas"),
        ({"eps": 0.0}, "eps"),
        ({"cv": "five"}, "cv"),
    ],
)
def test_bad_parameters_are_rejected_with_a_message(parameters, message):
    X, y = _data("binary", seed=14, n_samples=60)
    with pytest.raises(ValueError, match=message):
        LogisticLossClassifierCV(**parameters).fit(X, y)


def test_labels_of_a_single_class_are_rejected():
    X, _ = _data("binary", seed=15, n_samples=60)
    with pytest.raises(ValueError, match="at least 2 classes"):
        HingeLossClassifierCV().fit(X, np.zeros(60))


def test_a_warm_start_that_runs_out_is_solved_again_cold():
    """The gallery's hinge elastic net on breast cancer: along two folds'
    paths the warm-started smoothed dual spent all 1,000 iterations at one
    alpha near alpha_max (a ConvergenceWarning each), where a cold fit
    certifies. Solved again cold there, the CV fit raises no warning, and
    every point of the second fold's path is certified (1e-9), the point
    that ran out at the cold fit's objective (relative 1e-9)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = HingeLossClassifierCV(l1_ratio=0.5, n_alphas=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
        train, _ = list(StratifiedKFold(5).split(X, y))[1]
        path = loss_path(
            HingeLossClassifier(l1_ratio=0.5),
            X[train],
            y[train],
            alphas=np.ravel(model.alphas_),
        )
    assert np.all(path.duality_gaps <= 1e-9)
    cold = HingeLossClassifier(l1_ratio=0.5, alpha=path.alphas[3])
    cold.fit(X[train], y[train])
    assert path.objectives[3] <= cold.objective_ * (1 + 1e-9)
