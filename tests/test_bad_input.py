"""Bad input gets a clear error; hard but valid input gets a finite model."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from families import CLASSIFIERS, ESTIMATORS, REGRESSORS
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogCoshLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
    metrics,
)


def data(estimator_class, rng, n_samples=60, n_features=3):
    X = rng.standard_normal((n_samples, n_features))
    if estimator_class in REGRESSORS:
        return X, X @ np.arange(1.0, n_features + 1) + rng.standard_normal(n_samples)
    return X, (X[:, 0] + 0.5 * rng.standard_normal(n_samples) > 0).astype(int)


def assert_finite_model(estimator, X):
    assert np.all(np.isfinite(estimator.coef_))
    assert np.all(np.isfinite(estimator.intercept_))
    if hasattr(estimator, "decision_function"):
        assert np.all(np.isfinite(estimator.decision_function(X)))
    else:
        assert np.all(np.isfinite(estimator.predict(X)))


# -- 1. invalid hyperparameters ------------------------------------------------
COMMON_INVALID = {
    "alpha": [-1.0, "big", None],
    "l1_ratio": [-0.1, 1.5],
    "fit_intercept": ["yes", 2],
    "max_iter": [0, 1.5],
    "tol": [-1e-3],
    "warm_start": ["no"],
}
SPECIFIC_INVALID = {
    HuberLossRegressor: {"delta": [0.0, -1.0, "one"]},
    QuantileLossRegressor: {"quantile": [0.0, 1.0, 1.5, -0.2]},
    EpsilonInsensitiveLossRegressor: {"epsilon": [-0.1, "one"], "loss": ["huber"]},
    LogCoshLossRegressor: {"scale": [0.0, -1.0, "one"]},
    HingeLossClassifier: {"loss": ["squared", "log"], "class_weight": ["even"]},
    LogisticLossClassifier: {"class_weight": ["even", 3]},
    FocalLossClassifier: {"gamma": [-0.5, "two"], "class_weight": ["even"]},
}
INVALID_CASES = [
    (estimator_class, name, value)
    for estimator_class in ESTIMATORS
    for name, values in {**COMMON_INVALID, **SPECIFIC_INVALID[estimator_class]}.items()
    for value in values
]


@pytest.mark.parametrize(
    "estimator_class, name, value",
    INVALID_CASES,
    ids=[f"{cls.__name__}-{name}={value!r}" for cls, name, value in INVALID_CASES],
)
def test_invalid_hyperparameter_is_an_error_naming_it(estimator_class, name, value):
    X, y = data(estimator_class, np.random.default_rng(0))
    estimator = estimator_class(**{name: value})
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        estimator.fit(X, y)


METRIC_INVALID = [
    (metrics.huber_loss, {"delta": 0.0}, "delta"),
    (metrics.huber_loss, {"sample_weight": "heavy"}, "sample_weight"),
    (metrics.pinball_loss, {"quantile": 1.0}, "quantile"),
    (metrics.focal_loss, {"gamma": -1.0}, "gamma"),
    (metrics.hinge_loss, {"labels": "ab"}, "labels"),
    (metrics.logistic_loss, {"labels": 3}, "labels"),
]


@pytest.mark.parametrize("metric, params, name", METRIC_INVALID)
def test_invalid_metric_parameter_is_an_error_naming_it(metric, params, name):
    if metric in (metrics.huber_loss, metrics.pinball_loss):
        y_true, y_pred = [1.0, 2.0], [1.5, 2.5]
    elif metric in (metrics.hinge_loss,):
        y_true, y_pred = [0, 1], [-0.5, 0.5]
    else:
        y_true, y_pred = [0, 1], [0.3, 0.6]
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        metric(y_true, y_pred, **params)


def test_invalid_scorer_name_is_an_error():
    with pytest.raises(ValueError, match="neg_nonsense_loss"):
        metrics.make_loss_scorer("neg_nonsense_loss")
    with pytest.raises(InvalidParameterError, match="'delta' parameter"):
        metrics.make_loss_scorer("neg_huber_loss", delta=-1.0)


# -- 2. invalid data -----------------------------------------------------------
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_a_value_error(estimator_class, bad, rng):
    X, y = data(estimator_class, rng)
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        estimator_class().fit(X_bad, y)
    if estimator_class in REGRESSORS:
        y_bad = y.copy()
        y_bad[5] = bad
        with pytest.raises(ValueError, match="Input y contains"):
            estimator_class().fit(X, y_bad)
    weight = np.ones(len(y))
    weight[2] = bad
    with pytest.raises(ValueError, match="sample_weight"):
        estimator_class().fit(X, y, sample_weight=weight)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_bad_sample_weight_is_a_value_error(estimator_class, rng):
    X, y = data(estimator_class, rng)
    with pytest.raises(
        ValueError, match="Negative values in data passed to `sample_weight`"
    ):
        estimator_class().fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(y) - 1)])
    with pytest.raises(ValueError, match="at least one non-zero"):
        estimator_class().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        estimator_class().fit(X, y, sample_weight=np.ones(len(y) + 1))


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_bad_shapes_are_value_errors(estimator_class, rng):
    X, y = data(estimator_class, rng)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        estimator_class().fit(X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        estimator_class().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="0 feature"):
        estimator_class().fit(X[:, :0], y)
    fitted = estimator_class().fit(X, y)
    with pytest.raises(ValueError, match="features, but .* is expecting 3"):
        fitted.predict(X[:, :2])
    with pytest.raises(ValueError, match="features, but .* is expecting 3"):
        fitted.predict(np.column_stack([X, X[:, 0]]))


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_classifier_target_errors(estimator_class, rng):
    X, _ = data(estimator_class, rng)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        estimator_class().fit(X, rng.standard_normal(len(X)))
    with pytest.raises(ValueError, match="only one class"):
        estimator_class().fit(X, np.full(len(X), "spam"))


def test_metric_data_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.logistic_loss([0, 1], [0.2, 1.3])
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.logistic_loss([0, 1, 2], [[0.5, 0.2, 0.2]] * 3)
    with pytest.raises(ValueError, match="labels"):
        metrics.hinge_loss(["a", "b", "c"], [-1.0, 1.0, 1.0], labels=["a", "b"])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        metrics.huber_loss([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="must be finite"):
        metrics.pinball_loss([1.0, np.nan], [1.0, 2.0])


# -- 3. hard but valid data ----------------------------------------------------
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
@pytest.mark.parametrize("scale", [1e150, 1e-150])
def test_extreme_scales_give_the_rescaled_model(estimator_class, scale, rng):
    X, y = data(estimator_class, rng)
    y_scaled = y * scale if estimator_class in REGRESSORS else y
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = estimator_class().fit(X * scale, y_scaled)
    assert_finite_model(model, X * scale)
    if estimator_class in REGRESSORS and scale > 1:
        # The penalty is negligible at this scale: the fit is the
        # unpenalized fit of the unscaled data, scaled back. For both losses
        # that is the median regression (Huber's band, delta = 1, is nothing
        # next to residuals of 1e150: least absolute deviations).
        reference = QuantileLossRegressor(alpha=0.0).fit(X, y)
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-6)
    if estimator_class in CLASSIFIERS and scale > 1:
        # Scores are invariant: coefficients shrink by the scale.
        reference = estimator_class(alpha=0.0).fit(X, y)
        assert np.mean(model.predict(X * scale) == reference.predict(X)) > 0.95


@pytest.mark.parametrize("scale", [1e-120, 1e-60, 1e-20, 1e200])
@pytest.mark.parametrize(
    "make, degree",
    [
        (lambda scale: HuberLossRegressor(delta=0.5 * scale), 2),
        (lambda scale: QuantileLossRegressor(quantile=0.3), 1),
        (lambda scale: EpsilonInsensitiveLossRegressor(epsilon=0.4 * scale), 1),
    ],
    ids=["huber", "quantile", "epsilon_insensitive"],
)
def test_targets_times_a_constant_give_coefficients_times_it(make, degree, scale, rng):
    """y (and Huber's delta) times c multiply the loss by c**degree; with
    the L2 strength times c**(degree - 2) the coefficients are times c, to
    1e-8, certified, silently. The start's intercept was divided by c twice:
    Huber on targets of 1e-60 started at an intercept of 1e55 and stopped
    at W = 0 with a ConvergenceWarning."""
    X = rng.standard_normal((200, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + 3.0 + rng.standard_t(3, 200)
    base = make(1.0).set_params(alpha=0.01).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = make(scale).set_params(alpha=0.01 * scale ** (degree - 2))
        model.fit(X, y * scale)
    np.testing.assert_allclose(model.coef_ / scale, base.coef_, rtol=1e-8, atol=1e-10)
    assert model.intercept_ / scale == pytest.approx(base.intercept_, rel=1e-8)
    assert model.duality_gap_ <= 1e-9


def test_huge_targets_keep_the_solved_coefficients_over_zero(rng):
    """Targets of 1e160 and an elastic net: the answer's penalty is far
    below the rounding of J, so J at W = 0 ties with the answer's; the
    answer stays (zero is taken on a tie only where the penalty is resolved
    in J, as at alpha_max). Independently, by the optimality conditions:
    residuals of 1e160 dwarf X @ w, so every sample's dual variable sits at
    its bound on the side of y - median(y) (an even number of samples: none
    on the kink), and w = soft_threshold(X.T @ theta, l1) / l2 (1e-8)."""
    X = rng.standard_normal((300, 5))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + rng.standard_t(3, 300)) * 1e160
    model = QuantileLossRegressor(alpha=1e-3, l1_ratio=0.5).fit(X, y)
    theta = 0.5 * np.sign(y - np.median(y)) / len(y)
    correlation = X.T @ theta
    expected = np.sign(correlation) * np.maximum(np.abs(correlation) - 5e-4, 0) / 5e-4
    assert np.any(model.coef_)
    np.testing.assert_allclose(model.coef_, expected, rtol=1e-8)


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_separable_classes_without_penalty(estimator_class, rng):
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(int)
    if estimator_class._separable_has_no_minimizer:
        with pytest.warns(UserWarning, match="no minimizer"):
            model = estimator_class(alpha=0.0).fit(X, y)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = estimator_class(alpha=0.0).fit(X, y)
    assert_finite_model(model, X)
    np.testing.assert_array_equal(model.predict(X), y)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
@pytest.mark.parametrize("sparse", [False, True])
def test_constant_duplicated_and_zero_columns(estimator_class, sparse, rng):
    X, y = data(estimator_class, rng)
    X_wide = np.column_stack([X, np.full(len(X), 3.0), X[:, 0], np.zeros(len(X))])
    X_wide = sp.csr_matrix(X_wide) if sparse else X_wide
    model = estimator_class(alpha=1e-3).fit(X_wide, y)
    assert_finite_model(model, X_wide)
    coef = np.atleast_2d(model.coef_)
    # The L2 penalty splits a duplicated column evenly and leaves a
    # constant or zero column at zero (the intercept absorbs constants).
    np.testing.assert_allclose(coef[:, 0], coef[:, 4], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(coef[:, [3, 5]], 0.0, atol=1e-8)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_small_and_wide_problems(estimator_class, rng):
    X, y = data(estimator_class, rng, n_features=1)
    assert_finite_model(estimator_class().fit(X, y), X)
    X, y = data(estimator_class, rng, n_samples=50, n_features=2000)
    assert_finite_model(estimator_class().fit(X, y), X)
    assert_finite_model(estimator_class(alpha=0.1, l1_ratio=1.0).fit(X, y), X)


@pytest.mark.parametrize("estimator_class", CLASSIFIERS)
def test_one_sample_per_class_and_label_types(estimator_class, rng):
    X = rng.standard_normal((3, 2))
    model = estimator_class().fit(X, ["c", "a", "b"])
    assert_finite_model(model, X)
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c"])
    X, y = data(estimator_class, rng)
    for labels in (
        y.astype(bool),
        np.where(y == 1, 7, -3),
        np.where(y == 1, "yes", "no"),
    ):
        model = estimator_class().fit(X, labels)
        assert set(model.predict(X)) <= set(labels)
        np.testing.assert_array_equal(model.classes_, np.unique(labels))


# -- 4. max_iter=1 -------------------------------------------------------------
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_max_iter_one_warns_and_warm_start_continues(estimator_class, rng):
    X, y = data(estimator_class, rng, n_samples=200, n_features=8)
    model = estimator_class(max_iter=1, warm_start=True, alpha=1e-2)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=1.*tol="):
        model.fit(X, y)
    assert_finite_model(model, X)
    first = np.copy(model.coef_)
    model.set_params(max_iter=1000)
    model.fit(X, y)
    optimum = clone(model).set_params(warm_start=False).fit(X, y)
    np.testing.assert_allclose(model.coef_, optimum.coef_, rtol=1e-5, atol=1e-8)
    assert not np.array_equal(first, model.coef_)


# -- 5. no side effects, determinism -------------------------------------------
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_fit_leaves_inputs_and_parameters_alone(estimator_class, rng, tmp_path):
    X, y = data(estimator_class, rng)
    weight = rng.uniform(0.5, 2.0, len(y))
    path = tmp_path / "X.npy"
    np.save(path, X)
    memory_mapped = np.load(path, mmap_mode="r")
    read_only_y, read_only_weight = y.copy(), weight.copy()
    read_only_y.setflags(write=False)
    read_only_weight.setflags(write=False)
    copies = X.copy(), y.copy(), weight.copy()
    estimator = estimator_class(alpha=1e-2, l1_ratio=0.5)
    params = estimator.get_params()
    first = estimator.fit(memory_mapped, read_only_y, sample_weight=read_only_weight)
    first_coef = np.copy(first.coef_)
    np.testing.assert_array_equal(memory_mapped, copies[0])
    np.testing.assert_array_equal(read_only_y, copies[1])
    np.testing.assert_array_equal(read_only_weight, copies[2])
    assert estimator.get_params() == params
    second = clone(estimator).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(second.coef_, first_coef)


@pytest.mark.parametrize(
    "estimator", [LogisticLossClassifier(alpha=0.01), FocalLossClassifier(gamma=0.0)]
)
def test_found_by_fuzzing_tiny_feature_keeps_the_best_intercept(estimator):
    # A feature of magnitude 1e-8 once stalled the preconditioned L-BFGS-B
    # at zero. With one sample of class 0 and two of class 1 and a
    # negligible feature, the logistic fit is the best constant, log(2).
    X = np.array([[1e-8], [0.0], [0.0]])
    model = estimator.fit(X, [0, 1, 1])
    np.testing.assert_allclose(model.decision_function([[0.0]]), np.log(2.0), rtol=1e-6)


def test_found_by_fuzzing_hinge_elastic_net_on_large_features():
    # A degenerate optimum: at w = 0, b = 1 three samples of class 1 sit on
    # the kink with one parameter (b) to put them there, and the dual value
    # of each is fixed only by inequalities (|X.T @ (a * theta)| <= l1 on
    # features of scale 1e6). The active-set step could not choose it, so
    # the gap was never certified; the dual certificate's linear program
    # does. (A Nelder-Mead search over w, with the exact intercept, finds
    # no lower objective than at w = 0.)
    X = np.array(
        [[0.0, 0.0], [3.745e-03, 9.99999e05], [177.0, 0.0], [170260.0, 0.0]]
        + [[0.0, 0.0], [0.0, 1.0e06], [0.0, 0.0]]
    )
    y = np.array([1, 0, 1, 1, 1, 1, 1])
    weight = np.array([0.0, 0.5, 1.0, 4.96539067, 0.0, 1.75, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = HingeLossClassifier(alpha=0.01, l1_ratio=0.5).fit(
            X, y, sample_weight=weight
        )
    np.testing.assert_array_equal(model.coef_, 0.0)
    np.testing.assert_allclose(model.intercept_, 1.0, rtol=1e-12)
