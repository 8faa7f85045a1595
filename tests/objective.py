"""The SPEC objective written out plainly in NumPy, independent of the package."""

import numpy as np
from scipy.special import logsumexp


def pointwise(loss, y, f, **params):
    """SPEC section 2 formula by formula (y signed if binary, codes if multiclass)."""
    if loss == "huber":
        delta = params.get("delta", 1.0)
        r = np.abs(y - f)
        return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    if loss == "pinball":
        q = params.get("quantile", 0.5)
        r = y - f
        return np.maximum(q * r, (q - 1) * r)
    if loss == "hinge":
        return np.maximum(0, 1 - y * f)
    if loss == "squared_hinge":
        return np.maximum(0, 1 - y * f) ** 2
    if loss == "logistic":
        return np.logaddexp(0, -y * f)
    if loss == "focal":
        gamma = params.get("gamma", 2.0)
        # log p = -log(1 + exp(-m)) and 1 - p = 1 / (1 + exp(m)), written
        # so that a large margin of either sign does not overflow.
        margin = y * f
        log_p = -np.logaddexp(0, -margin)
        return -np.exp(-gamma * np.logaddexp(0, margin)) * log_p
    if loss == "log_cosh":
        scale = params.get("scale", 1.0)
        return scale**2 * np.log(np.cosh((y - f) / scale))
    if loss == "epsilon_insensitive":
        return np.maximum(np.abs(y - f) - params.get("epsilon", 0.0), 0.0)
    if loss == "squared_epsilon_insensitive":
        return np.maximum(np.abs(y - f) - params.get("epsilon", 0.0), 0.0) ** 2
    if loss == "poisson":
        mean = np.exp(f)
        log_ratio = np.log(np.where(y > 0, y, 1.0) / mean)
        return np.where(y > 0, y * log_ratio, 0.0) - y + mean
    if loss == "multinomial":
        return logsumexp(f, axis=1) - f[np.arange(len(y)), y]
    raise ValueError(loss)


def objective(loss, X, y, sample_weight, coef, intercept, *, alpha, l1_ratio, **params):
    """J(W, b) of SPEC section 1 for coef shaped as scikit-learn shapes it."""
    coef = np.asarray(coef, dtype=float)
    f = np.asarray(X @ coef.T) + intercept
    if loss != "multinomial":
        f = f.ravel()
    weight = np.asarray(sample_weight, dtype=float)
    data = weight @ pointwise(loss, y, f, **params) / weight.sum()
    penalty = alpha * (
        l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * (coef**2).sum()
    )
    return data + penalty
