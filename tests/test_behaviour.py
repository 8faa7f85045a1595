"""Behaviour a scikit-learn user relies on: warm starts, warnings, input types."""

import multiprocessing

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from families import CLASSIFIERS, REGRESSORS
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_losses import (
    LogisticLossClassifier,
)
from sklearn_losses._loss import (
    LogisticLoss,
    MultinomialFocalLoss,
    MultinomialLoss,
)
from sklearn_losses._objective import LinearObjective
from sklearn_losses._parallel import ExecutionSettings
from sklearn_losses._penalty import ElasticNet
from sklearn_losses.solvers import solve


def data(estimator_class, rng, n_samples=120, n_features=6, n_classes=3):
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features)
    if estimator_class in REGRESSORS:
        return X, X @ w + rng.standard_normal(n_samples)
    scores = X @ rng.standard_normal((n_features, n_classes))
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_max_iter_one_warns_naming_max_iter_and_tol(estimator_class, rng):
    X, y = data(estimator_class, rng)
    model = estimator_class(max_iter=1, alpha=1e-3)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=1\b.*tol="):
        model.fit(X, y)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    assert np.all(np.isfinite(model.predict(X)))


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_warm_start_continues_to_the_same_optimum(estimator_class, rng):
    X, y = data(estimator_class, rng)
    cold = estimator_class(alpha=1e-2).fit(X, y)
    warm = estimator_class(alpha=1e-2, max_iter=2, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    warm.set_params(max_iter=1000).fit(X, y)
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_sparse_dense_and_float32_agree(estimator_class, rng):
    X, y = data(estimator_class, rng)
    X[np.abs(X) < 0.8] = 0.0
    dense = estimator_class(alpha=1e-2).fit(X, y)
    for converted in (sp.csr_matrix(X), sp.csc_matrix(X)):
        sparse = estimator_class(alpha=1e-2).fit(converted, y)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    single = estimator_class(alpha=1e-2).fit(X.astype(np.float32), y)
    assert single.coef_.dtype == np.float32
    assert single.predict(X.astype(np.float32)).dtype in (np.float32, y.dtype)
    np.testing.assert_allclose(single.coef_, dense.coef_, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("estimator_class", REGRESSORS + CLASSIFIERS)
def test_pandas_feature_names_are_kept(estimator_class, rng):
    X, y = data(estimator_class, rng)
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(X.shape[1])])
    model = estimator_class().fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame.iloc[:, :-1])


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifier_shapes_follow_scikit_learn(estimator_class, rng):
    X, y = data(estimator_class, rng)
    multi = estimator_class().fit(X, y)
    assert multi.coef_.shape == (3, X.shape[1]) and multi.intercept_.shape == (3,)
    binary = estimator_class().fit(X, np.where(y == 0, "no", "yes"))
    assert binary.coef_.shape == (1, X.shape[1]) and binary.intercept_.shape == (1,)
    assert list(binary.classes_) == ["no", "yes"]
    if hasattr(binary, "predict_proba"):
        proba = binary.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_allclose(np.log(proba), binary.predict_log_proba(X))


def test_balanced_class_weight_equals_manual_weights(rng):
    X, y = data(LogisticLossClassifier, rng)
    counts = np.bincount(y)
    manual = {k: len(y) / (3 * counts[k]) for k in range(3)}
    balanced = LogisticLossClassifier(class_weight="balanced").fit(X, y)
    by_hand = LogisticLossClassifier(class_weight=manual).fit(X, y)
    np.testing.assert_allclose(balanced.coef_, by_hand.coef_, rtol=1e-7)


def test_one_class_with_positive_weight_is_an_error(rng):
    X, y = data(LogisticLossClassifier, rng)
    weight = (y == 1).astype(float)
    with pytest.raises(ValueError, match="only one class"):
        LogisticLossClassifier().fit(X, y, sample_weight=weight)


def _blas_threads():
    return [
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    ]


def _skip_unless_blas_has_two_threads():
    if max(_blas_threads(), default=1) < 2:
        pytest.skip("BLAS runs on one thread here anyway")


def _objective(loss, X, y, execution=None, n_outputs=1):
    return LinearObjective(
        loss,
        X,
        y,
        np.ones(X.shape[0]),
        penalty=ElasticNet.from_alpha(1e-3, 0.0),
        fit_intercept=True,
        n_outputs=n_outputs,
        execution=execution,
    )


def _solved(objective, on_iteration=None):
    """``solve`` from zero to the default tolerance."""
    start = np.zeros((objective.n_features, objective.n_outputs))
    return solve(
        objective,
        start,
        np.zeros(objective.n_outputs),
        max_iter=1000,
        tol=1e-10,
        on_iteration=on_iteration,
    )


@pytest.mark.parametrize(
    "loss, sparse, one_thread",
    [
        (LogisticLoss(), True, True),
        (LogisticLoss(), False, False),
        (MultinomialFocalLoss(2.0), False, True),
    ],
)
def test_blas_runs_on_one_thread_where_only_vectors_use_it(
    loss, sparse, one_thread, rng
):
    """Sparse X and L-BFGS-B solve with one BLAS thread (see
    sklearn_losses._parallel.blas_on_one_thread), seen at every iteration;
    dense Newton keeps the threads it had; afterwards every library has its
    threads back."""
    X = rng.standard_normal((200, 5))
    y = np.where(X[:, 0] + rng.standard_normal(200) > 0, 1.0, -1.0)
    n_outputs = 1
    if loss.is_multiclass:
        y, n_outputs = (y > 0).astype(int) + (X[:, 1] > 0), 3
    with threadpool_limits(limits=2, user_api="blas"):
        _skip_unless_blas_has_two_threads()
        outside = _blas_threads()
        seen = []
        objective = _objective(
            loss, sp.csr_matrix(X) if sparse else X, y, n_outputs=n_outputs
        )
        assert _solved(objective, lambda: seen.append(_blas_threads())).converged
        expected = [1] * len(outside) if one_thread else outside
        assert seen and all(threads == expected for threads in seen)
        assert _blas_threads() == outside


def _sparse_problem(n_samples=400, n_features=60):
    X = sp.random(n_samples, n_features, density=0.2, format="csr", random_state=1)
    signal = np.asarray(X @ np.linspace(-2.0, 2.0, n_features)).ravel()
    noise = np.random.default_rng(1).logistic(size=n_samples)
    return X, np.where(signal + noise > 0, 1.0, -1.0)


def test_sparse_products_take_as_many_threads_as_blas_may():
    """Products with sparse X run on as many threads as threadpoolctl lets
    BLAS use: one under ``threadpool_limits(1)``, as for scikit-learn's own
    threads; and the fit is the same either way (1e-8: two solves to the
    default tol whose products sum in different orders). BLAS has its
    threads back after each solve."""
    X, y = _sparse_problem()
    fits = {}
    for limit in (1, 2):
        with threadpool_limits(limits=limit, user_api="blas"):
            if limit == 2:
                _skip_unless_blas_has_two_threads()
            outside = _blas_threads()
            execution = ExecutionSettings.from_blas(nonzeros_per_thread=1)
            assert execution.threads == limit
            objective = _objective(LogisticLoss(), X, y, execution)
            assert objective.execution.on_own_threads
            fits[limit] = _solved(objective)
            assert _blas_threads() == outside
    np.testing.assert_allclose(fits[2].coef, fits[1].coef, rtol=1e-8)
    np.testing.assert_allclose(fits[2].intercept, fits[1].intercept, rtol=1e-8)


def test_dense_multinomial_fit_on_threads_solves_with_blas_on_one_thread(rng):
    """A dense multinomial problem large enough for its products to go on
    threads of our own solves with BLAS on one thread (none of its threads
    left spinning between the products), and gives the fit that one thread
    gives (1e-8: two solves to the default tol whose products sum in
    different orders)."""
    X = rng.standard_normal((300, 6))
    y = np.argmax(X[:, :3] + rng.gumbel(size=(300, 3)), axis=1)
    fits, seen = {}, {}
    for limit in (1, 2):
        with threadpool_limits(limits=limit, user_api="blas"):
            if limit == 2:
                _skip_unless_blas_has_two_threads()
            execution = ExecutionSettings.from_blas(dense_entries_per_thread=1)
            objective = _objective(MultinomialLoss(), X, y, execution, n_outputs=3)
            assert objective.execution.on_own_threads == (limit == 2)
            seen[limit] = []
            fits[limit] = _solved(
                objective, lambda record=seen[limit]: record.append(_blas_threads())
            )
    assert seen[2] and all(max(threads) == 1 for threads in seen[2])
    np.testing.assert_allclose(fits[2].coef, fits[1].coef, rtol=1e-8)
    np.testing.assert_allclose(fits[2].intercept, fits[1].intercept, rtol=1e-8)


def _fit_sparse_problem():
    X, y = _sparse_problem()
    execution = ExecutionSettings(threads=2, nonzeros_per_thread=1)
    return _solved(_objective(LogisticLoss(), X, y, execution)).coef


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)
def test_a_forked_child_fits_on_sparse_data_after_its_parent():
    """The thread pool of the sparse products is not inherited by a forked
    child (whose copy would have no threads and wait forever)."""
    in_parent = _fit_sparse_problem()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        in_child = pool.apply_async(_fit_sparse_problem).get(timeout=60)
    np.testing.assert_array_equal(in_child, in_parent)
