"""scikit-learn's common estimator checks, at default and non-default parameters."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    EpsilonInsensitiveLossRegressorCV,
    FocalLossClassifier,
    FocalLossClassifierCV,
    HingeLossClassifier,
    HingeLossClassifierCV,
    HuberLossRegressor,
    HuberLossRegressorCV,
    LogCoshLossRegressor,
    LogCoshLossRegressorCV,
    LogisticLossClassifier,
    LogisticLossClassifierCV,
    PoissonLossRegressor,
    PoissonLossRegressorCV,
    QuantileLossRegressor,
    QuantileLossRegressorCV,
)

ESTIMATORS = [
    HuberLossRegressor(),
    HuberLossRegressor(delta=0.5, alpha=0.01, l1_ratio=1.0),
    QuantileLossRegressor(),
    QuantileLossRegressor(quantile=0.2),
    QuantileLossRegressor(alpha=0.01, l1_ratio=1.0),
    HingeLossClassifier(),
    HingeLossClassifier(loss="squared_hinge"),
    HingeLossClassifier(alpha=0.01, l1_ratio=1.0),
    LogisticLossClassifier(),
    LogisticLossClassifier(alpha=0.01, l1_ratio=1.0),
    FocalLossClassifier(),
    FocalLossClassifier(gamma=0.5),
    FocalLossClassifier(alpha=0.01, l1_ratio=1.0),
    PoissonLossRegressor(),
    PoissonLossRegressor(alpha=0.01, l1_ratio=0.5),
    LogCoshLossRegressor(),
    LogCoshLossRegressor(scale=0.3, alpha=0.01, l1_ratio=1.0),
    EpsilonInsensitiveLossRegressor(),
    EpsilonInsensitiveLossRegressor(epsilon=0.2, alpha=0.01, l1_ratio=0.5),
    EpsilonInsensitiveLossRegressor(loss="squared_epsilon_insensitive", epsilon=0.2),
    # Short grids and few folds: the checks test the interface, and
    # tests/test_cv.py the search.
    HuberLossRegressorCV(n_alphas=3, cv=3),
    QuantileLossRegressorCV(l1_ratio=[0.0, 1.0], n_alphas=3, cv=3),
    HingeLossClassifierCV(n_alphas=2, cv=2),
    LogisticLossClassifierCV(l1_ratio=[0.0, 1.0], n_alphas=3, cv=3),
    FocalLossClassifierCV(n_alphas=3, cv=3, refit=False),
    PoissonLossRegressorCV(l1_ratio=[0.0, 1.0], n_alphas=3, cv=3),
    LogCoshLossRegressorCV(n_alphas=3, cv=3),
    EpsilonInsensitiveLossRegressorCV(epsilon=0.1, n_alphas=3, cv=3),
]

# Hinge optima need not be unique (scikit-learn grants LinearSVC the same):
# a fit on repeated rows and one on integer weights may pick different optima.
HINGE_NOT_UNIQUE = {
    "check_sample_weight_equivalence_on_dense_data": "hinge optima are not unique",
    "check_sample_weight_equivalence_on_sparse_data": "hinge optima are not unique",
}


def expected_failed_checks(estimator):
    if isinstance(estimator, HingeLossClassifier):
        return HINGE_NOT_UNIQUE
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
