"""Regularization paths: the fit at every alpha of a grid, warm-started.

``loss_path(estimator, X, y)`` solves the estimator's problem (its loss, loss
parameters, ``l1_ratio`` and ``fit_intercept``) at a decreasing grid of
``alpha``: from the smallest ``alpha`` at which every coefficient is zero,
computed exactly for the loss, down to ``eps`` times it, each solve starting
from the previous one's answer (glmnet's way of tuning a penalty).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

from ._base import LossLinearModel
from .solvers.certificate import zero_dual_point
from .solvers.dispatch import best_intercept_for_zero

# Without an L1 part no alpha makes every coefficient zero: the grid then
# starts where it would for this share of L1 (glmnet's choice).
GRID_L1_RATIO = 1e-3


@validate_params(
    {
        "estimator": [LossLinearModel],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "alphas": ["array-like", None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="right")],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def loss_path(
    estimator, X, y, *, alphas=None, n_alphas=100, eps=1e-3, sample_weight=None
):
    """The estimator's fit at each alpha of a decreasing grid, warm-started.

    Parameters
    ----------
    estimator : estimator of sklearn_losses
        Gives the loss and its parameters, ``l1_ratio``, ``fit_intercept``,
        ``max_iter`` and ``tol``; it is not fitted (a clone is).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,)
        Targets, or class labels.
    alphas : array-like of shape (n_alphas,), default=None
        The penalty strengths, solved in decreasing order. None: ``n_alphas``
        values spaced evenly on a log scale from ``alpha_max`` down to
        ``eps * alpha_max``, where ``alpha_max`` is the smallest ``alpha`` at
        which every coefficient is zero (with ``l1_ratio`` below 1e-3, where
        it would be for ``l1_ratio = 1e-3``).
    n_alphas : int, default=100
        Number of alphas on the automatic grid.
    eps : float, default=1e-3
        Ratio of the smallest to the largest alpha on the automatic grid.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    path : Bunch
        ``alphas`` (n_alphas,), decreasing; ``coefs`` ``(n_alphas, *coef_.shape)``
        and ``intercepts`` ``(n_alphas, *intercept_.shape)``, as the estimator
        would have them fitted at each alpha; ``objectives`` and
        ``duality_gaps`` (n_alphas,), or (n_alphas, n_classes) for
        one-vs-rest, as ``objective_`` and ``duality_gap_``; ``n_iters``
        (n_alphas,).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_losses import HuberLossRegressor, loss_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 5))
    >>> y = X @ np.array([1.0, 0.0, 0.0, 2.0, 0.0]) + rng.standard_normal(100)
    >>> path = loss_path(HuberLossRegressor(l1_ratio=1.0), X, y, n_alphas=20)
    >>> int(np.count_nonzero(path.coefs[0])), int(np.count_nonzero(path.coefs[-1]))
    (0, 5)
    """
    model = clone(estimator).set_params(warm_start=False)
    model._validate_params()
    problems, finish = model._path_problems(X, y, sample_weight)
    if alphas is None:
        alphas = _grid(model, problems, n_alphas, eps)
    points = PathPoints()
    alphas = solve_path(model, problems, finish, alphas, points.keep)
    return points.bunch(alphas)


def alpha_grid(estimator, X, y, *, n_alphas, eps, sample_weight=None):
    """The automatic grid of ``loss_path`` for these data (decreasing)."""
    model = clone(estimator).set_params(warm_start=False)
    problems, _ = model._path_problems(X, y, sample_weight)
    return _grid(model, problems, n_alphas, eps)


def _grid(model, problems, n_alphas, eps):
    bounds = [_zero_subgradient_bound(model, problem) for problem in problems]
    alpha_max = max(bounds) / max(model.l1_ratio, GRID_L1_RATIO)
    return alpha_max * np.geomspace(1.0, eps, n_alphas)


class PathPoints:
    """What a path keeps of its fit at each alpha, in ``loss_path``'s form."""

    def __init__(self):
        self.points = []

    def keep(self, model, **extra):
        """Keep the fitted attributes of ``model`` (and any named ``extra``
        value, such as a held-out score)."""
        self.points.append(
            {
                "coefs": model.coef_,
                "intercepts": model.intercept_,
                "objectives": model.objective_,
                "duality_gaps": model.duality_gap_,
                "n_iters": model.n_iter_,
                **extra,
            }
        )

    def bunch(self, alphas):
        """The path: ``alphas`` and an array per kept quantity."""
        names = self.points[0]
        return Bunch(
            alphas=alphas,
            **{
                name: np.array([point[name] for point in self.points]) for name in names
            },
        )


def solve_path(model, problems, finish, alphas, on_point):
    """Solve ``problems`` (of ``model._path_problems``) at each of ``alphas``
    in decreasing order, warm-started; after each, ``model`` is fitted at
    that alpha and ``on_point(model)`` is called. Returns the alphas, sorted.
    """
    alphas = np.sort(np.asarray(alphas, dtype=float).ravel())[::-1]
    if alphas.size == 0 or not np.all(np.isfinite(alphas)) or alphas[-1] < 0:
        raise ValueError(
            "alphas must be a non-empty array of finite non-negative numbers; "
            f"got {alphas!r}."
        )
    previous = [[] for _ in problems]
    for problem in problems:
        problem.objective.along_path = True
    for index, alpha in enumerate(alphas):
        results = []
        for k, problem in enumerate(problems):
            start = _predicted(previous[k], alphas[max(index - 2, 0) : index + 1])
            result = model._run(problem, alpha, start=start)
            if not result.converged and start is not None:
                result = _better_cold(model, problem, alpha, result)
            previous[k] = (previous[k] + [result.solved])[-2:]
            results.append(result)
            if not result.converged:
                model._warn_not_converged(result, f" at alpha={alpha:.6g}")
        finish(results)
        model.alpha = float(alpha)
        on_point(model)
    return alphas


def _better_cold(model, problem, alpha, warm):
    """The same point solved again from a cold start, as a fit at that alpha
    alone would be (nothing kept from the path), where it certifies or ends
    lower than the warm-started ``warm``; else ``warm``.

    From the previous alpha's answer a route can run out where a cold start
    does not: a hinge elastic net on breast cancer (364 x 30 in a fold, 30
    alphas, near alpha_max) spent all 1,000 iterations of the smoothed dual
    at one alpha in two of five folds, where a cold fit certifies in 34 to
    153 (the gallery's ``plot_paths_and_cv.py`` warned).
    """
    objective = problem.objective
    objective.along_path = False
    try:
        cold = model._run(problem, alpha)
    finally:
        objective.along_path = True
    if cold.converged or cold.objective < warm.objective:
        return cold
    return warm


def _predicted(solutions, alphas):
    """The start at ``alphas[-1]``: the previous solution, or the line
    through the last two extrapolated in log(alpha), which is right to
    second order in the step where the path is smooth (no coefficient
    crossing zero). Solved units: ``(coef, intercept)`` pairs."""
    if not solutions:
        return None
    # Extrapolation needs three distinct positive alphas.
    if len(solutions) == 1 or alphas[-1] <= 0 or len(np.unique(alphas)) < 3:
        return solutions[-1]
    (coef_a, intercept_a), (coef_b, intercept_b) = solutions
    log_alphas = np.log(alphas)
    reach = (log_alphas[2] - log_alphas[1]) / (log_alphas[1] - log_alphas[0])
    coef = coef_b + reach * (coef_b - coef_a)
    # A coefficient the line would carry across zero starts at zero.
    coef[np.sign(coef) * np.sign(coef_b) < 0] = 0.0
    coef[coef_b == 0] = 0.0
    return coef, intercept_b + reach * (intercept_b - intercept_a)


def _zero_subgradient_bound(model, problem):
    """The smallest alpha at which the problem's optimal coefficients are
    zero, for ``l1_ratio = 1`` (``alpha * l1_ratio`` for any other).

    Zero is optimal exactly when some subgradient of the data term in ``W``
    at ``W = 0`` (with its best intercept) is at most ``l1`` in size: for a
    smooth loss that is the gradient, and ``alpha_max`` its largest entry
    over ``l1`` per unit alpha; for a kinked loss the subgradients form a set
    (the dual variables of the samples on the kink are free), and the
    smallest size in it comes from a small linear program. In the model's
    units: the objective and the coefficients of a problem may be rescaled.
    """
    objective = problem.objective
    intercept = best_intercept_for_zero(
        objective, problem.intercept, dict(max_iter=model.max_iter, tol=model.tol)
    )
    if intercept is None:
        intercept = problem.intercept
    if objective.loss.is_piecewise_linear:
        largest, _ = zero_dual_point(objective, intercept)
    else:
        zero = np.zeros((objective.n_features, objective.n_outputs))
        _, gradient = objective.smooth_value_gradient(objective.pack(zero, intercept))
        largest = np.max(np.abs(gradient[: objective.n_coef]), initial=0.0)
    # J_model = objective_scale * J_solved, W_model = coef_scale * W_solved.
    return largest * problem.objective_scale / problem.coef_scale
