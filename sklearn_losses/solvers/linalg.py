"""Linear algebra shared by the Newton-type solvers.

Conjugate gradients with a finishing test, the factorization of a
(generalized, possibly singular) Hessian, L-BFGS's two-loop recursion, and
the helpers that move vectors between all parameters and a free subset.
"""

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

# Conjugate gradients go on past their relative residual to the finishing
# residual when that is at most this many times smaller (ends a fit one
# Newton step earlier for a few products: measured on sparse logistic,
# squared hinge, Huber and multinomial).
FINISH_REACH = 10.0
# Damping of a factored Hessian, relative to each diagonal entry
# (factor_symmetric).
DAMPING = 1e-10
# One right-hand side of at least this many unknowns is solved by two
# triangular solves rather than cho_solve (cholesky_solve).
TRIANGULAR_PAIR_SIZE = 256


def forcing_term(gradient_norm):
    """Relative residual to which conjugate gradients solve a Newton system.

    ``min(0.1, sqrt(|g|))`` tightens as the gradient vanishes, for
    superlinear convergence (Eisenstat and Walker). Near the end,
    ``conjugate_gradient``'s ``finish`` takes over.
    """
    return min(0.1, np.sqrt(gradient_norm))


# Overflow (from a huge operator) shows as a non-finite solution, which the
# caller handles; no warning.
@np.errstate(all="ignore")
def conjugate_gradient(operator, right, rtol, maxiter, preconditioner=None, finish=0.0):
    """Conjugate gradients for ``operator @ x = right``, with a finishing test.

    Stops at a relative residual ``rtol`` in 2-norm, as ``scipy``'s ``cg``
    does, with two differences that save whole Newton steps:

    - it stops as soon as the largest entry of the residual is at most
      ``finish``: the gradient after a unit Newton step is about the
      residual, so with ``finish = tol / 2`` the next point passes the
      stopping test and solving further is wasted;
    - where the ``rtol`` solution would leave the largest entry within
      ``FINISH_REACH`` times ``finish``, it goes on to ``finish``: a few
      more products instead of one more Newton step (an evaluation, a line
      search and a new solve).

    SciPy's ``cg`` cannot stop on a test of its own. ``preconditioner``
    (a ``LinearOperator`` applying an approximate inverse) as ``cg``'s
    ``M``. Returns the solution and the number of products with
    ``operator``; the solution is NaN if the first direction has no
    positive curvature (a singular generalized Hessian), and the caller
    then falls back to steepest descent. A later loss of curvature (only
    from rounding on a semi-definite operator) ends the iteration at the
    current point, which is a descent direction.
    """
    solution = np.zeros_like(right)
    residual = right.copy()
    target = rtol * np.linalg.norm(right)

    def precondition(vector):
        return vector if preconditioner is None else preconditioner.matvec(vector)

    preconditioned = precondition(residual)
    direction = preconditioned.copy()
    alignment = residual @ preconditioned
    products = 0
    while products < maxiter:
        largest = np.max(np.abs(residual), initial=0.0)
        if largest <= finish or (
            np.linalg.norm(residual) <= target and largest > FINISH_REACH * finish
        ):
            break
        image = operator.matvec(direction)
        products += 1
        curvature = direction @ image
        if not curvature > 0:
            if products == 1:
                solution.fill(np.nan)
            break
        length = alignment / curvature
        solution += length * direction
        residual -= length * image
        preconditioned = precondition(residual)
        new_alignment = residual @ preconditioned
        direction *= new_alignment / alignment
        direction += preconditioned
        alignment = new_alignment
    if not np.all(np.isfinite(solution)):
        solution.fill(np.nan)
    return solution, products


def marquardt_damped(matrix):
    """``matrix`` plus ``DAMPING`` times its diagonal, a zero entry taken as
    the largest (see ``factor_symmetric``)."""
    damped = np.array(matrix, dtype=float)
    diagonal_view(damped)[:] += _marquardt_shift(damped)
    return damped


def diagonal_view(matrix):
    """The diagonal of a square C-contiguous ``matrix``, as a writable view
    (``np.diag_indices_from`` indexing costs ten times as much on the small
    blocks of a tiny fit, where it runs a few thousand times)."""
    if matrix.flags.c_contiguous:
        return matrix.reshape(-1)[:: matrix.shape[0] + 1]
    return np.einsum("ii->i", matrix)


def _marquardt_shift(matrix):
    """What ``marquardt_damped`` adds to the diagonal of ``matrix``."""
    diagonal = np.diag(matrix).astype(float)
    largest = np.max(diagonal, initial=0.0)
    if largest > 0:
        return _shift_against(diagonal, largest)
    return np.full(diagonal.size, DAMPING)


def _shift_against(diagonal, largest):
    """Marquardt's damping of ``diagonal`` entries in a matrix whose largest
    diagonal entry is ``largest``: ``DAMPING`` times each, or times the
    largest where an entry is zero (no curvature at all along it)."""
    return DAMPING * np.where(diagonal > 0, diagonal, largest)


class SymmetricFactor:
    """A solver for a positive semi-definite system, damped where it is singular.

    A generalized Hessian can be singular (no curvature along the intercept
    when every sample sits on a linear piece): a small damping (Marquardt's,
    ``DAMPING`` times each diagonal entry, or times the largest where an
    entry is zero) turns those directions into long gradient steps, whose
    length the line search then chooses, instead of dropping them. Relative
    to each entry, not to the largest: with features of scales 1e2 to 1e4,
    1e-10 of the largest entry exceeded the L2 curvature along the
    Hessian's near-null direction, and Newton's steps zigzagged for
    hundreds of iterations (a 16 x 5 squared hinge: 166; some badly scaled
    small fits ran to max_iter at a gap of 8.7). Even where an entry is
    below 1e-10 of the largest: with columns of scales 1e-4 to 1e4 the
    small ones' curvature is the L2 term's, 1e-12 of the largest entry,
    and damping them by 1e-10 of the largest cut their steps a
    hundredfold (Huber on 20,000 x 200: 480 steps, against 5). Cholesky's
    accuracy follows the matrix scaled to a unit diagonal, so entries that
    small need no more. Least squares where Cholesky fails.

    With ``overwrite``, ``matrix`` (the caller's scratch) is damped in
    place, and only the Cholesky factor is kept: a Hessian of more
    coefficients than samples weighs as much as ``X``, and the matrix, its
    damped copy and the factor would be three of them. ``times`` gives the
    undamped matrix's products from the factor.

    The factorization is NumPy's, like the products that form the matrix:
    SciPy's ``cho_factor`` runs on SciPy's own OpenBLAS thread pool, which
    stalled right after NumPy's products (docs/solvers.rst). The two
    triangular solves stay in SciPy (``cholesky_solve``): NumPy has none.
    """

    def __init__(self, matrix, overwrite=False):
        self.largest = np.max(np.diag(matrix), initial=0.0)
        self.shift = _marquardt_shift(matrix)
        damped = matrix if overwrite else np.array(matrix, dtype=float)
        diagonal_view(damped)[:] += self.shift
        try:
            self.lower = np.linalg.cholesky(damped)
            self.damped = None
        except np.linalg.LinAlgError:
            self.lower, self.damped = None, damped

    def solve(self, right):
        """The damped system's solution for ``right``."""
        if self.lower is not None:
            solution = cholesky_solve(self.lower, right)
            if np.all(np.isfinite(solution)):
                return solution
        damped = self.damped
        if damped is None:  # rounding broke the solve: rebuild the matrix once
            damped = self.damped = self.lower @ self.lower.T
        return np.linalg.lstsq(damped, right, rcond=None)[0]

    def shift_for(self, diagonal):
        """The damping of further diagonal entries bordered onto the matrix
        (its largest entry as the reference, as for its own)."""
        return _shift_against(diagonal, self.largest)

    def times(self, vector):
        """The undamped matrix times ``vector`` (to the factor's rounding)."""
        if self.lower is not None:
            product = self.lower @ (self.lower.T @ vector)
        else:
            product = self.damped @ vector
        return product - self.shift * vector


def cholesky_solve(lower, right):
    """``(L L.T)^-1 right`` from NumPy's C-ordered Cholesky factor ``L``.

    SciPy's LAPACK wants Fortran order: ``cho_solve((L, True), ...)``
    copied the whole factor at every call (at 900 x 900 a single solve took
    1.3 ms, 0.2 of them the solve; the bordered solves of proximal Newton on
    a wide kinked elastic net made 1,860 of them, 2.9 of a 10 s fit).
    ``L.T`` is the Fortran-ordered upper factor, passed as it is; for one
    right-hand side of ``TRIANGULAR_PAIR_SIZE`` or more unknowns two
    triangular solves (``solve_triangular`` takes a C-ordered matrix as the
    transpose of a Fortran one) are faster still (900: 0.21 against 0.49
    ms; 2,000: 1.0 against 3.8), while ``cho_solve`` is faster on small
    or several right-hand sides.
    """
    if right.ndim == 1 and lower.shape[0] >= TRIANGULAR_PAIR_SIZE:
        middle = solve_triangular(lower, right, lower=True, check_finite=False)
        return solve_triangular(lower, middle, lower=True, trans=1, check_finite=False)
    return cho_solve((lower.T, False), right, check_finite=False)


def factor_symmetric(matrix, overwrite=False):
    """``SymmetricFactor(matrix, overwrite).solve``: a function ``right ->
    solution`` of the damped system."""
    return SymmetricFactor(matrix, overwrite).solve


def solve_symmetric(matrix, right):
    """Solve a positive semi-definite system once (see ``factor_symmetric``)."""
    return factor_symmetric(matrix)(right)


def quasi_newton_direction(gradient, pairs):
    """The L-BFGS inverse-Hessian estimate times ``gradient`` (two-loop recursion).

    ``pairs`` holds the latest ``(s, y)``: a step between two points and
    the change of the gradient over it; the estimate starts from the
    multiple of the identity ``s . y / y . y`` of the newest pair (Nocedal
    and Wright, Algorithm 7.4). Without pairs, the gradient itself (a
    steepest-descent step, whose length the line search chooses).
    """
    direction = gradient.copy()
    if not pairs:
        return direction
    coefficients = []
    for moved, turned in reversed(pairs):
        coefficient = (moved @ direction) / (moved @ turned)
        direction -= coefficient * turned
        coefficients.append(coefficient)
    moved, turned = pairs[-1]
    direction *= (moved @ turned) / (turned @ turned)
    for (moved, turned), coefficient in zip(pairs, reversed(coefficients), strict=True):
        direction += (coefficient - (turned @ direction) / (moved @ turned)) * moved
    return direction


def expand(reduced, free):
    """Embed a vector over the free coordinates into the full parameter space."""
    full = np.zeros(free.size)
    full[free] = reduced
    return full
