"""An independent reference: the SPEC objective written in cvxpy, solved by Clarabel.

Used by the tests to measure objective gaps; it shares no code with the
package (only the formulas of SPEC section 1 and 2).
"""

import cvxpy as cp
import numpy as np
import scipy.sparse as sp


def reference_optimum(
    loss, X, y, sample_weight, *, alpha, l1_ratio, fit_intercept, **params
):
    """Minimum of the SPEC objective for a convex loss.

    ``y`` is the real target for regression, the signed label (+-1) for the
    binary losses and the integer class code for ``"multinomial"``.
    Returns ``(value, coef, intercept)``.
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=float)
    n_samples, n_features = X.shape
    weight = np.asarray(sample_weight, dtype=float)
    weight = weight / weight.sum()
    n_outputs = int(np.max(y)) + 1 if loss == "multinomial" else 1
    coef = cp.Variable((n_features, n_outputs))
    intercept = cp.Variable(n_outputs) if fit_intercept else np.zeros(n_outputs)
    raw = X @ coef + np.ones((n_samples, 1)) @ cp.reshape(
        intercept, (1, n_outputs), order="C"
    )
    if loss == "multinomial":
        onehot = np.eye(n_outputs)[y]
        pointwise = cp.log_sum_exp(raw, axis=1) - cp.sum(
            cp.multiply(onehot, raw), axis=1
        )
    else:
        f = raw[:, 0]
        if loss == "huber":
            delta = params.get("delta", 1.0)
            # cvxpy's huber(r, M) is r**2 for |r| <= M, else 2M|r| - M**2: twice ours.
            pointwise = 0.5 * cp.huber(y - f, delta)
        elif loss == "pinball":
            q = params.get("quantile", 0.5)
            residual = y - f
            pointwise = cp.maximum(q * residual, (q - 1) * residual)
        elif loss == "hinge":
            pointwise = cp.pos(1 - cp.multiply(y, f))
        elif loss == "squared_hinge":
            pointwise = cp.square(cp.pos(1 - cp.multiply(y, f)))
        elif loss == "logistic":
            pointwise = cp.logistic(-cp.multiply(y, f))
        elif loss == "log_cosh":
            scale = params.get("scale", 1.0)
            ratio = cp.reshape((y - f) / scale, (n_samples, 1), order="C")
            both = cp.hstack([ratio, -ratio])
            pointwise = scale**2 * (cp.log_sum_exp(both, axis=1) - np.log(2.0))
        elif loss in ("epsilon_insensitive", "squared_epsilon_insensitive"):
            excess = cp.pos(cp.abs(y - f) - params.get("epsilon", 0.0))
            pointwise = excess if loss == "epsilon_insensitive" else cp.square(excess)
        elif loss == "poisson":
            # Half the deviance: exp(f) - y f + (y log y - y).
            constant = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - y
            pointwise = cp.exp(f) - cp.multiply(y, f) + constant
        else:
            raise ValueError(loss)
    penalty = alpha * (
        l1_ratio * cp.sum(cp.abs(coef)) + (1 - l1_ratio) / 2 * cp.sum_squares(coef)
    )
    problem = cp.Problem(cp.Minimize(weight @ pointwise + penalty))
    problem.solve(
        solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
    )
    value_intercept = intercept.value if fit_intercept else intercept
    return problem.value, coef.value, value_intercept
