"""The solvers, and the one place where a solver is chosen for a problem.

===================  ==========================================================
module               solves / holds
===================  ==========================================================
``dispatch``         ``solve``: the solver table (primary method and every
                     fallback per kind of problem), the zero check and the
                     starts handed from one method to the next
``newton``           Newton's method, no L1 part: factored Hessian, conjugate
                     gradients (sampled-Hessian preconditioner), quasi-Newton
                     approach
``proximal_newton``  proximal Newton on working sets, for an L1 part: the
                     L1-penalized quadratic model solved exactly
``orthant_newton``   projected Newton on orthants, for an L1 part
``lbfgs``            L-BFGS-B on the split ``W = W+ - W-``; Newton polish
``linear_program``   the dual linear program of hinge / pinball with no or an
                     L1 penalty (HiGHS), screened on many samples
``smoothed_dual``    Moreau smoothing with continuation for hinge / pinball
                     with an L2 part; subsample starts
``box_dual``         the box-constrained dual (L-BFGS-B) for hinge / pinball
                     with an L2 penalty and many features
``active_set``       the exact active-set step from a dual point, its
                     certificate and the duality gap
``distributed``      a Dask array's problem by passes over its chunks: Newton
                     and proximal Newton on summed Hessians, L-BFGS-B, the
                     kinked losses reduced to the rows near their kink
``line_search``      strong Wolfe search and the projected search, along the
                     prediction
``linalg``           conjugate gradients, factorizations, L-BFGS two-loop
``result``           ``SolverResult``
===================  ==========================================================

None of these treats a kink as if it were smooth: proximal Newton solves its
L1-penalized model exactly (an active set over orthants), the split turns the
L1 norm into a linear function on a box, the orthant-wise Newton method works
on one orthant at a time (where the L1 norm is linear) and projects onto it,
the linear program is exact, and the smoothed problems are only a route to a
dual point; the duality gap certifies the final answer. docs/solvers.rst tells
why each is exact and how fast.
"""

from .dispatch import METHODS, ROUTES, forced_method, route_of, solve
from .result import SolverResult

__all__ = ["METHODS", "ROUTES", "SolverResult", "forced_method", "route_of", "solve"]
