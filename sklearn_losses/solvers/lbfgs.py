"""L-BFGS-B on the split ``W = W+ - W-``, for any smooth loss and any penalty."""

import numpy as np
from scipy.optimize import Bounds, minimize
from scipy.sparse.linalg import LinearOperator

from .._parallel import blas_on_one_thread
from .linalg import conjugate_gradient, expand
from .result import SolverResult, no_callback

# L-BFGS-B also stops on a relative decrease of the objective below ftol;
# scikit-learn uses 64 * eps, small enough that the gradient test decides.
FTOL = 64 * np.finfo(float).eps
# Pairs L-BFGS-B keeps (20: fewer iterations on the multinomial and focal
# problems than SciPy's 10, at a negligible cost per iteration).
MEMORY = 20
# Fresh starts after a stop on the objective's decrease alone (see
# solve_smooth).
RESTARTS = 5


def solve_smooth(
    objective, coef, intercept, *, max_iter, tol, on_iteration=no_callback
):
    """L-BFGS-B for a smooth loss; the L1 part through the split ``W = W+ - W-``.

    On the split, ``l1 * sum(W+ + W-)`` is linear and the bounds ``W+-`` >= 0
    are handled exactly by L-BFGS-B's projection, so the kink of ``|w|`` at
    zero never reaches the line search.

    L-BFGS-B works on scaled coefficients ``V = D W`` with ``D`` the square
    root of the Hessian's diagonal for a unit-curvature loss,
    ``sqrt(mean square of the centered feature + l2)`` (a diagonal
    preconditioner: very large features, or an L2 term on tiny ones,
    otherwise stall it), so ``tol`` bounds the gradient in those units. A
    positive diagonal keeps the bounds of the split. Where the loss has a
    curvature per sample, a few Newton steps polish the result
    (``newton_polish``).
    """
    problem = _SplitProblem(objective, coef, intercept)
    start, iterations, previous = problem.start, 0, None
    for _ in range(RESTARTS + 1):
        with blas_on_one_thread():
            result = minimize(
                problem.value_gradient,
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=problem.bounds,
                callback=lambda intermediate_result: on_iteration(),
                options={
                    "maxiter": max_iter - iterations,
                    "maxfun": 2 * (max_iter - iterations) + 20,
                    "ftol": FTOL,
                    "gtol": tol,
                    "maxcor": MEMORY,
                },
            )
        iterations += result.nit
        if previous is not None and result.nit <= 1:
            # A fresh start that stops after a step: the point before it was
            # already at the resolution of floating point; keep it.
            result = previous
            break
        # L-BFGS-B also stops when one step barely lowers the objective,
        # which a stale memory can cause far from the optimum (a multinomial
        # elastic net stopped with its objective 1e-4 too high and the
        # gradient at 1e-3). A fresh start from there, with no memory, goes
        # on; a true optimum passes the gradient test at once.
        if (
            result.status != 0
            or problem.projected_gradient_size(result.x, result.jac) <= tol
            or iterations >= max_iter
        ):
            break
        start, previous = result.x, result
    params = problem.unscale(result.x)
    # Status 2 ("ABNORMAL_TERMINATION_IN_LNSRCH") means no further decrease
    # can be found in floating point; the point is as good as it gets.
    converged = result.status in (0, 2)
    # Status 1: out of iterations (or evaluations), which needs no words.
    stop = "" if result.status in (0, 1, 2) else f"L-BFGS-B: {result.message}"
    if objective.loss.has_curvature:
        params = newton_polish(objective, params)
    coef, intercept = objective.unpack(params)
    return SolverResult(
        coef, intercept, max(iterations, 1), converged, "lbfgs-split", stop
    )


class _SplitProblem:
    """The objective in the variables L-BFGS-B works on.

    Scaled coefficients ``D W`` and the intercepts; with an L1 part the
    scaled coefficients are split into ``(D W)+`` and ``(D W)-``, both
    bounded below by zero, and the L1 term is linear in them.
    """

    def __init__(self, objective, coef, intercept):
        self.objective = objective
        self.n_coef = n_coef = objective.n_coef
        self.l1 = objective.penalty.l1
        self.scale = np.repeat(objective.feature_scale(), objective.n_outputs)
        start = objective.pack(coef, intercept)
        start[:n_coef] *= self.scale
        self.split = self.l1 > 0
        self.bounds = None
        if self.split:
            positive = np.maximum(start[:n_coef], 0.0)
            negative = np.maximum(-start[:n_coef], 0.0)
            start = np.concatenate([positive, negative, start[n_coef:]])
            self.bounds = Bounds(
                np.concatenate(
                    [np.zeros(2 * n_coef), np.full(start.size - 2 * n_coef, -np.inf)]
                ),
                np.inf,
            )
        self.start = start

    def unscale(self, variables):
        """The packed parameters ``(W, b)`` of the variables."""
        n_coef, scale = self.n_coef, self.scale
        if self.split:
            return np.concatenate(
                [
                    (variables[:n_coef] - variables[n_coef : 2 * n_coef]) / scale,
                    variables[2 * n_coef :],
                ]
            )
        return np.concatenate([variables[:n_coef] / scale, variables[n_coef:]])

    def projected_gradient_size(self, variables, gradient):
        """Largest entry of the gradient projected on the bounds, the measure
        L-BFGS-B tests against ``gtol``."""
        if self.bounds is None:
            return np.max(np.abs(gradient), initial=0.0)
        lower = self.bounds.lb
        # At a bound a positive partial derivative points out of the box.
        at_bound = (variables <= lower) & (gradient > 0)
        return np.max(np.abs(np.where(at_bound, 0.0, gradient)), initial=0.0)

    def value_gradient(self, variables):
        n_coef, scale, l1 = self.n_coef, self.scale, self.l1
        value, gradient = self.objective.smooth_value_gradient(self.unscale(variables))
        if not self.split:
            gradient[:n_coef] /= scale
            return value, gradient
        value += l1 * (variables[:n_coef] / scale).sum()
        value += l1 * (variables[n_coef : 2 * n_coef] / scale).sum()
        coef_gradient = gradient[:n_coef] / scale
        split_gradient = np.concatenate(
            [
                coef_gradient + l1 / scale,
                l1 / scale - coef_gradient,
                gradient[n_coef:],
            ]
        )
        return value, split_gradient


def newton_polish(objective, params, max_steps=10):
    """A few Newton steps on the free coordinates, from a quasi-Newton optimum.

    L-BFGS-B stops with a projected gradient near ``tol``, which leaves the
    coefficients accurate to about ``tol`` divided by the smallest curvature;
    Newton's method squares the error at each step (and is exact in one step
    on a piece of a piecewise-quadratic loss such as Huber). The free
    coordinates are the non-zero coefficients (all of them without an L1
    part) and the intercept; on them ``l1 * |w|`` is linear, ``l1 * sign(w)
    . w``. The result is kept only if no sign changes and the objective does
    not increase.
    """
    n_coef = objective.n_coef
    l1 = objective.penalty.l1
    signs = np.sign(params[:n_coef])
    free = np.concatenate(
        [
            signs != 0 if l1 > 0 else np.ones(n_coef, bool),
            np.ones(params.size - n_coef, bool),
        ]
    )
    linear_part = np.concatenate([l1 * signs, np.zeros(params.size - n_coef)])[free]

    def value_gradient(point):
        value, gradient = objective.smooth_value_gradient(point)
        return value + linear_part @ point[free], gradient[free] + linear_part

    current = params.copy()
    value, gradient = value_gradient(current)
    start_value = value
    for _ in range(max_steps):
        hessian = LinearOperator(
            (free.sum(), free.sum()),
            matvec=lambda v, point=current: objective.smooth_hessian_product(
                point, expand(v, free)
            )[free],
            dtype=float,
        )
        step, _ = conjugate_gradient(
            hessian, -gradient, rtol=1e-12, maxiter=2 * free.sum() + 10
        )
        slope = gradient @ step
        if not np.isfinite(slope) or slope >= 0:
            break
        trial = _armijo_step(value_gradient, current, free, step, value, slope)
        if trial is None or trial[1] >= value:
            break
        current, value, gradient = trial
    if l1 > 0 and np.any(np.sign(current[:n_coef]) != signs):
        return params
    return current if value <= start_value else params


def _armijo_step(value_gradient, current, free, step, value, slope):
    """Halving from the full step until Armijo holds: ``(point, value,
    gradient)``, or None below a length of 1e-10."""
    length = 1.0
    while length > 1e-10:
        trial = current.copy()
        trial[free] += length * step
        trial_value, trial_gradient = value_gradient(trial)
        if trial_value <= value + 1e-4 * length * slope:
            return trial, trial_value, trial_gradient
        length *= 0.5
    return None
