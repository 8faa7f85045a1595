"""The estimators, grouped as the tests use them."""

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogCoshLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
)

REGRESSORS = [
    HuberLossRegressor,
    QuantileLossRegressor,
    EpsilonInsensitiveLossRegressor,
    LogCoshLossRegressor,
]
CLASSIFIERS = [HingeLossClassifier, LogisticLossClassifier, FocalLossClassifier]
ESTIMATORS = REGRESSORS + CLASSIFIERS
