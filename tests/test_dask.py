"""Fits on Dask arrays, on a LocalCluster of two worker processes: the same
optimum as in memory, lazy predictions, and the checks of bad input.

Tolerance: the objectives of the Dask and in-memory fits agree to 1e-9
relative (issue #29's bar); both are exact to rounding, so the measured
differences are near 1e-15.
"""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_losses import (  # noqa: E402
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogCoshLossRegressor,
    LogisticLossClassifier,
    PoissonLossRegressor,
    QuantileLossRegressor,
)

RELATIVE = 1e-9
CHUNK_ROWS = 500


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit="1GiB",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _data(seed=0, n_samples=1800, n_features=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features)
    X[:, 0] += 4.0  # a feature far from zero: the centering matters
    score = X @ rng.normal(size=n_features) / 3
    targets = {
        "regression": score + rng.standard_t(2, size=n_samples),
        "counts": rng.poisson(np.exp(np.clip(score, -3, 3) / 2)).astype(float),
        "binary": (score + rng.logistic(size=n_samples) > 0).astype(int),
        "three": np.digitize(score + rng.logistic(size=n_samples), [-1.0, 1.0]),
    }
    weight = rng.uniform(0.2, 2.0, n_samples)
    return X, targets, weight


ESTIMATORS = [
    (HuberLossRegressor, {"delta": 1.0}, "regression"),
    (QuantileLossRegressor, {"quantile": 0.3}, "regression"),
    (EpsilonInsensitiveLossRegressor, {"epsilon": 0.5}, "regression"),
    (
        EpsilonInsensitiveLossRegressor,
        {"epsilon": 0.5, "loss": "squared_epsilon_insensitive"},
        "regression",
    ),
    (LogCoshLossRegressor, {}, "regression"),
    (PoissonLossRegressor, {}, "counts"),
    (HingeLossClassifier, {}, "binary"),
    (HingeLossClassifier, {"loss": "squared_hinge"}, "binary"),
    (HingeLossClassifier, {}, "three"),
    (LogisticLossClassifier, {}, "binary"),
    (LogisticLossClassifier, {}, "three"),
    (FocalLossClassifier, {"gamma": 2.0}, "binary"),
    (FocalLossClassifier, {"gamma": 2.0}, "three"),
]
PENALTIES = [
    {"alpha": 1e-3, "l1_ratio": 0.0},
    {"alpha": 1e-2, "l1_ratio": 0.5},
    {"alpha": 1e-2, "l1_ratio": 1.0},
]


def _name(case):
    estimator, params, target = case
    return "-".join([estimator.__name__, *map(str, params.values()), target])


@pytest.mark.parametrize(
    "penalty", PENALTIES, ids=lambda p: f"l1_ratio={p['l1_ratio']}"
)
@pytest.mark.parametrize("case", ESTIMATORS, ids=_name)
def test_same_optimum_as_in_memory(client, case, penalty):
    estimator, params, target = case
    X, targets, weight = _data()
    y = targets[target]
    in_memory = estimator(**params, **penalty).fit(X, y, sample_weight=weight)
    X_dask = da.from_array(X, chunks=(CHUNK_ROWS, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning either
        on_dask = estimator(**params, **penalty).fit(
            X_dask,
            da.from_array(y, chunks=CHUNK_ROWS),
            sample_weight=da.from_array(weight, chunks=CHUNK_ROWS),
        )
    reference = np.sum(in_memory.objective_)
    difference = abs(np.sum(on_dask.objective_) - reference) / abs(reference)
    assert difference <= RELATIVE
    assert on_dask.coef_.shape == in_memory.coef_.shape
    assert on_dask.n_features_in_ == X.shape[1]
    # Predictions are lazy, one chunk of rows each, equal to in-memory ones
    # of the Dask fit.
    prediction = on_dask.predict(X_dask)
    assert isinstance(prediction, da.Array)
    np.testing.assert_array_equal(prediction.compute(), on_dask.predict(X))


def test_no_penalty_and_no_intercept(client):
    X, targets, weight = _data(seed=3)
    for estimator, y in [
        (QuantileLossRegressor(alpha=0.0, quantile=0.7), targets["regression"]),
        (HuberLossRegressor(alpha=0.0, fit_intercept=False), targets["regression"]),
        (HingeLossClassifier(alpha=1e-3, fit_intercept=False), targets["binary"]),
    ]:
        reference = estimator.fit(X, y).objective_
        value = estimator.fit(da.from_array(X, chunks=(CHUNK_ROWS, -1)), y).objective_
        assert abs(value - reference) <= RELATIVE * abs(reference)


def test_lazy_probabilities_and_score(client):
    X, targets, _ = _data(seed=1)
    y = targets["three"]
    X_dask = da.from_array(X, chunks=(CHUNK_ROWS, -1))
    model = LogisticLossClassifier(alpha=1e-3).fit(X_dask, y)
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        lazy = getattr(model, method)(X_dask)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), getattr(model, method)(X))
    assert model.score(X_dask, y) == pytest.approx(model.score(X, y))
    binary = HingeLossClassifier().fit(X_dask, targets["binary"])
    scores = binary.decision_function(X_dask)
    assert scores.ndim == 1
    np.testing.assert_allclose(scores.compute(), binary.decision_function(X))


def test_float32_soft_labels_and_string_classes(client):
    X, targets, _ = _data(seed=2)
    X32 = X.astype(np.float32)
    labels = np.array(["low", "mid", "high"])[targets["three"]]
    model = LogisticLossClassifier(alpha=1e-3).fit(
        da.from_array(X32, chunks=(CHUNK_ROWS, -1)), labels
    )
    assert model.coef_.dtype == np.float32
    assert set(model.predict(da.from_array(X32, chunks=(400, -1))).compute()) <= set(
        labels
    )
    soft = np.full((X.shape[0], 3), 0.05)
    soft[np.arange(X.shape[0]), targets["three"]] = 0.9
    weight = np.linspace(0.5, 2.0, X.shape[0])
    reference = (
        LogisticLossClassifier(alpha=1e-3).fit(X, soft, sample_weight=weight).objective_
    )
    value = (
        LogisticLossClassifier(alpha=1e-3)
        .fit(
            da.from_array(X, chunks=(CHUNK_ROWS, -1)),
            soft,
            sample_weight=da.from_array(weight, chunks=CHUNK_ROWS),
        )
        .objective_
    )
    assert abs(value - reference) <= RELATIVE * reference


def test_bad_input(client):
    X, targets, _ = _data()
    y = targets["regression"]
    model = HuberLossRegressor()
    with pytest.raises(ValueError, match="2D"):
        model.fit(da.from_array(X[:, 0], chunks=CHUNK_ROWS), y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        bad = X.copy()
        bad[7, 2] = np.nan
        model.fit(da.from_array(bad, chunks=(CHUNK_ROWS, -1)), y)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        X_dask = da.from_array(X, chunks=(CHUNK_ROWS, -1))
        model.fit(X_dask[X_dask[:, 1] > -np.inf], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(da.from_array(X, chunks=(CHUNK_ROWS, -1)), y[:-1])
    model.fit(da.from_array(X, chunks=(CHUNK_ROWS, -1)), y)
    with pytest.raises(ValueError, match="features"):
        model.predict(da.from_array(X[:, :3], chunks=(CHUNK_ROWS, -1)))


def test_grid_search_on_the_cluster(client):
    """GridSearchCV over the cluster through joblib's Dask backend (in-memory
    folds, each fit on a worker): the same choice as on local threads."""
    from joblib import parallel_backend

    X, targets, _ = _data(seed=4, n_samples=600)
    grid = {"delta": [0.5, 1.0, 2.0], "alpha": [1e-3, 1e-1]}
    local = GridSearchCV(HuberLossRegressor(), grid, cv=3).fit(X, targets["regression"])
    with parallel_backend("dask"):
        remote = GridSearchCV(HuberLossRegressor(), grid, cv=3, n_jobs=-1).fit(
            X, targets["regression"]
        )
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def test_sparse_chunks(client):
    import scipy.sparse as sp

    X = sp.random(1500, 30, density=0.1, format="csr", random_state=0)
    y = (X @ np.linspace(-1, 1, 30) > 0).astype(int)
    X_dask = da.from_array(X, chunks=(400, -1), asarray=False)
    for model in (HingeLossClassifier(alpha=1e-3), LogisticLossClassifier(alpha=1e-3)):
        reference = model.fit(X, y).objective_
        value = model.fit(X_dask, y).objective_
        assert abs(value - reference) <= RELATIVE * reference
        np.testing.assert_array_equal(model.predict(X_dask).compute(), model.predict(X))


def test_paths_and_cv_estimators_on_dask_arrays(client):
    """The path's alphas (alpha_max from one pass and the rows on the kink)
    and objectives, and a CV estimator's choice, as in memory."""
    from sklearn_losses import HingeLossClassifierCV, QuantileLossRegressorCV, loss_path

    X, targets, _ = _data(seed=5, n_samples=900)
    X_dask = da.from_array(X, chunks=(300, -1))
    for estimator, y in [
        (HuberLossRegressor(l1_ratio=0.5), targets["regression"]),
        (QuantileLossRegressor(l1_ratio=1.0), targets["regression"]),
        (HingeLossClassifier(l1_ratio=0.5), targets["binary"]),
    ]:
        reference = loss_path(estimator, X, y, n_alphas=4)
        path = loss_path(estimator, X_dask, y, n_alphas=4)
        np.testing.assert_allclose(path.alphas, reference.alphas, rtol=1e-12)
        np.testing.assert_allclose(path.objectives, reference.objectives, rtol=RELATIVE)
    for search, y in [
        (QuantileLossRegressorCV(n_alphas=4, cv=3), targets["regression"]),
        (
            HingeLossClassifierCV(n_alphas=4, cv=3, l1_ratio=[0.5, 1.0]),
            targets["binary"],
        ),
    ]:
        reference = search.fit(X, y)
        choice = (reference.alpha_, reference.l1_ratio_, reference.objective_)
        found = search.fit(X_dask, y)
        assert found.alpha_ == pytest.approx(choice[0], rel=1e-12)
        assert found.l1_ratio_ == choice[1]
        assert found.objective_ == pytest.approx(choice[2], rel=RELATIVE)
