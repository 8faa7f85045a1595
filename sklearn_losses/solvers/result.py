"""What every solver returns."""

from dataclasses import dataclass

import numpy as np


def no_callback():
    """Default of ``on_iteration``: nothing to report."""


@dataclass
class SolverResult:
    """The fitted parameters, and how the solver got there.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_outputs)
        Coefficients.
    intercept : ndarray of shape (n_outputs,)
        Intercepts, of the centered problem inside a solver and of the
        model ``X @ W + b`` once ``solve`` returns.
    n_iter : int
        Iterations spent, summed over every method that ran.
    converged : bool
        Whether the stopping test (gradient, duality gap, or the linear
        program's optimality) was met.
    method : str
        Name of the method that produced the result (the solver table's).
    stop : str
        Where a method stopped short of its tolerance for another reason than
        running out of iterations, what happened, in words (for the
        estimator's warning); empty otherwise.
    dual_bound : float or None
        A lower bound of the optimum from a feasible dual point, where the
        method has one (the kinked losses' solvers); see ``certificate``.
    certificate : Certificate or None
        Set by ``solve``: the objective at the answer and its duality gap
        (or stationarity residual).
    raw : ndarray or None
        The scores ``X @ W + b`` of the centered problem at ``coef`` and
        ``intercept``, where the method ends with them at hand: the
        certificate then takes no product with ``X`` for them (on a path,
        two of the five per alpha). None wherever the answer is changed
        after the method.
    """

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    converged: bool
    method: str
    stop: str = ""
    dual_bound: float | None = None
    certificate: object = None
    raw: np.ndarray | None = None
