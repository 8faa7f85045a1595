"""The public estimators: one per loss, all minimizing the same objective
(the regressors in ``_regressors.py``, the classifiers in
``_classifiers.py``)."""

from ._classifiers import (
    FocalLossClassifier,
    HingeLossClassifier,
    LogisticLossClassifier,
)
from ._regressors import (
    EpsilonInsensitiveLossRegressor,
    HuberLossRegressor,
    LogCoshLossRegressor,
    PoissonLossRegressor,
    QuantileLossRegressor,
)

__all__ = [
    "EpsilonInsensitiveLossRegressor",
    "FocalLossClassifier",
    "HingeLossClassifier",
    "HuberLossRegressor",
    "LogCoshLossRegressor",
    "LogisticLossClassifier",
    "PoissonLossRegressor",
    "QuantileLossRegressor",
]
