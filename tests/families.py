"""The estimators, grouped as the tests use them."""

from sklearn_losses import (
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
)

REGRESSORS = [HuberLossRegressor, QuantileLossRegressor]
CLASSIFIERS = [HingeLossClassifier, LogisticLossClassifier, FocalLossClassifier]
ESTIMATORS = REGRESSORS + CLASSIFIERS
