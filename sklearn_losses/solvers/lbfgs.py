"""L-BFGS-B on the split ``W = W+ - W-``, for any smooth loss and any penalty."""

import numpy as np
from scipy.optimize import Bounds, minimize
from scipy.sparse.linalg import LinearOperator

from .._parallel import blas_on_one_thread
from .linalg import conjugate_gradient, expand
from .newton import ROUNDING_GRADIENT, stalled
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
# The relative rounding of J below which its decrease no longer judges a
# Newton polish step (a few ulps: its terms are sums over the samples).
ROUNDING = 16 * np.finfo(float).eps


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
    # Status 0 is also a stop on the objective's relative decrease (ftol),
    # and status 2 ("ABNORMAL_TERMINATION_IN_LNSRCH") one of the line search
    # finding no decrease in floating point; after the fresh starts above,
    # either means no step lowers J in floating point, which is convergence
    # unless the duality gap grows linearly with the gradient left there:
    # then only where the projected gradient is at most tol or at rounding
    # level, as Newton's stop; else a stall, which the certificate may
    # still clear (dispatch.solve). Huber L1 with targets 1,000 times delta
    # stopped on ftol at a gradient of 4e-8 and a relative gap of 2e-6, and
    # was taken as converged, with no warning.
    converged, stop = False, ""
    if result.status in (0, 2):
        largest = problem.projected_gradient_size(result.x, result.jac)
        converged = not _gap_is_linear_in_residual(objective) or largest <= max(
            tol, ROUNDING_GRADIENT
        )
        stop = "" if converged else stalled(largest)
    elif result.status != 1:
        # Status 1: out of iterations (or evaluations), which needs no words.
        stop = f"L-BFGS-B: {result.message}"
    if objective.loss.has_curvature or _needs_block_polish(objective):
        params = newton_polish(objective, params)
    coef, intercept = objective.unpack(params)
    return SolverResult(
        coef, intercept, max(iterations, 1), converged, "lbfgs-split", stop
    )


def _gap_is_linear_in_residual(objective):
    """Whether the duality gap grows linearly with the stationarity residual:
    a loss with a conjugate and no L2 part (the dual point is scaled by
    ``l1 / max |X.T @ g|``). With an L2 part it grows with the residual's
    square; without a conjugate there is no gap (the focal losses, whose
    certificate is the residual itself)."""
    return objective.loss.has_conjugate and not objective.penalty.has_l2


def _needs_block_polish(objective):
    """Whether a softmax fit (curvature in blocks per sample) is polished.

    Only with no L2 part: the dual point of a pure L1 penalty is scaled by
    ``l1 / max |X.T @ (s * u)|``, so the duality gap grows linearly with
    the stationarity residual (L-BFGS-B's 7e-9, against ``l1 = 1.4e-3``,
    left a gap of 5e-7), where with an L2 part it grows with its square
    (gaps of 1e-12 unpolished). Each step is costly (a Hessian product
    with five classes is about ten binary ones), so the others are not.
    """
    return objective.loss.has_block_curvature and not objective.penalty.has_l2


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
    not increase beyond its rounding.

    Near the optimum a step lowers ``J`` by less than its rounding (a
    gradient of 1e-10 moves ``J`` by about 1e-20), so the objective can no
    longer tell a good step from a bad one; there a full step is taken if it
    shrinks the gradient (``_armijo_step``). That matters for a pure L1
    penalty, whose dual point is scaled by ``l1 / max |X.T @ (s * u)|``: a
    gradient of 3e-10 against ``l1 = 1.4e-3`` left a duality gap of 1.5e-8.
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
    resolution = ROUNDING * max(abs(value), np.finfo(float).tiny)
    n_free_coef = int(np.count_nonzero(free[:n_coef]))
    common_intercept = objective.loss.has_block_curvature and objective.fit_intercept

    def without_common_intercept(vector):
        # The softmax's Hessian is singular along a shift of every class's
        # intercept: rounding gives that direction a negative curvature,
        # which stopped conjugate gradients at a relative residual of 0.06.
        # The step never needs it (it changes no probability).
        if not common_intercept:
            return vector
        vector = vector.copy()
        vector[n_free_coef:] -= vector[n_free_coef:].mean()
        return vector

    # A gradient this small is at the rounding of its own sums; steps from
    # there change nothing measurable (a third step on softmax paths started
    # from gradients of 1e-17).
    floor = ROUNDING * max(1.0, abs(value))
    for _ in range(max_steps):
        if np.max(np.abs(gradient)) <= floor:
            break
        # The curvature at the point, computed once for all of the step's
        # products (one evaluation instead of one per product).
        curvature_product = objective.hessian_operator(current)

        def hessian_times(vector, curvature_product=curvature_product):
            return curvature_product(expand(vector, free))[free]

        hessian = LinearOperator(
            (free.sum(), free.sum()),
            matvec=lambda v: without_common_intercept(
                hessian_times(without_common_intercept(v))
            ),
            dtype=float,
        )
        step, _ = conjugate_gradient(
            hessian,
            -without_common_intercept(gradient),
            # To the floor at once: near the optimum one accurate step
            # (7 to 23 products on softmax paths) costs less than two loose
            # ones.
            rtol=1e-12,
            maxiter=2 * free.sum() + 10,
            finish=0.5 * floor,
        )
        slope = gradient @ step
        if not np.isfinite(slope) or slope >= 0:
            break
        trial = _armijo_step(
            value_gradient, current, free, step, value, gradient, resolution
        )
        if trial is None:
            break
        current, value, gradient = trial
    if l1 > 0 and np.any(np.sign(current[:n_coef]) != signs):
        return params
    return current if value <= start_value + resolution else params


def _armijo_step(value_gradient, current, free, step, value, gradient, resolution):
    """Halving from the full step until Armijo holds: ``(point, value,
    gradient)``, or None below a length of 1e-10.

    Where the full step's predicted decrease is below ``resolution`` (the
    rounding of ``J``), the full step is taken if ``J`` does not rise beyond
    that rounding and the gradient shrinks; else None (the point is as good
    as floating point tells).
    """
    slope = gradient @ step
    if -slope <= resolution:
        trial = current.copy()
        trial[free] += step
        trial_value, trial_gradient = value_gradient(trial)
        shrinks = np.max(np.abs(trial_gradient)) < 0.5 * np.max(np.abs(gradient))
        if trial_value <= value + resolution and shrinks:
            return trial, trial_value, trial_gradient
        return None
    length = 1.0
    while length > 1e-10:
        trial = current.copy()
        trial[free] += length * step
        trial_value, trial_gradient = value_gradient(trial)
        if trial_value <= value + 1e-4 * length * slope:
            return trial, trial_value, trial_gradient
        length *= 0.5
    return None
