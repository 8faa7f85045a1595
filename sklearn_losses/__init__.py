"""scikit-learn compatible linear models, one for each loss practitioners choose.

Every estimator minimizes the weighted mean of its loss plus an L1, L2 or
elastic-net penalty, exactly, with ``scipy.optimize`` and analytic gradients.
"""

from ._cv_estimators import (
    EpsilonInsensitiveLossRegressorCV,
    FocalLossClassifierCV,
    HingeLossClassifierCV,
    HuberLossRegressorCV,
    LogCoshLossRegressorCV,
    LogisticLossClassifierCV,
    PoissonLossRegressorCV,
    QuantileLossRegressorCV,
)
from ._estimators import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogCoshLossRegressor,
    LogisticLossClassifier,
    PoissonLossRegressor,
    QuantileLossRegressor,
)
from ._path import loss_path

__version__ = "0.1.0"

__all__ = [
    "EpsilonInsensitiveLossRegressor",
    "EpsilonInsensitiveLossRegressorCV",
    "FocalLossClassifier",
    "FocalLossClassifierCV",
    "HingeLossClassifier",
    "HingeLossClassifierCV",
    "HuberLossRegressor",
    "HuberLossRegressorCV",
    "LogCoshLossRegressor",
    "LogCoshLossRegressorCV",
    "LogisticLossClassifier",
    "LogisticLossClassifierCV",
    "PoissonLossRegressor",
    "PoissonLossRegressorCV",
    "QuantileLossRegressor",
    "QuantileLossRegressorCV",
    "__version__",
    "loss_path",
]
