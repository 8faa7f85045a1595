"""Problems as the solvers see them, built directly for tests of a
method's own rules (which problems it takes)."""

import numpy as np

from sklearn_losses._objective import LinearObjective
from sklearn_losses._penalty import ElasticNet


def objective_with_intercept(loss, X, y, alpha, l1_ratio, weight=None):
    """The ``LinearObjective`` of ``loss`` on ``(X, y)`` with an intercept,
    unit weights unless given."""
    weight = np.ones(X.shape[0]) if weight is None else weight
    return LinearObjective(
        loss,
        X,
        y,
        weight,
        penalty=ElasticNet.from_alpha(alpha, l1_ratio),
        fit_intercept=True,
    )
