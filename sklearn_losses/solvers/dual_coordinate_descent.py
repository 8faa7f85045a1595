"""Dual coordinate descent for the hinge loss with an L2 penalty, by
scikit-learn's liblinear (``LinearSVC``), finished exactly by the
active-set method.

Where the data are sparse and have more features than samples (text), one
pass of dual coordinate descent over the samples costs about one product
with ``X`` and a dozen to a few dozen passes settle the dual; the
box-constrained dual's L-BFGS-B (``box_dual``) needs about 60 evaluations
of two products each. Liblinear's passes run in compiled code, which
NumPy cannot match sample by sample, so the method is taken from
scikit-learn rather than written again.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from .._loss import HingeLoss
from .active_set import GAP_FLOOR, CandidatePool, exact_candidate
from .result import SolverResult, no_callback

# Passes over the samples liblinear may take: PASSES, or as many as touch
# PASSES_WORK stored entries of X in all where X is small. On tf-idf text
# (2,000 x 20,000 to 20,000 x 200,000, alpha 1e-5 to 1e-3) it settled in 3
# to 91; where it has not settled by then, the start is handed on: on
# sparse 50,000 x 20,000 (0.2% dense) it took 553 passes, and the exact
# step from that unsettled point took 8.5 s and failed. On small problems
# passes cost little and more are needed with an intercept (300 x 1,500
# tf-idf at alpha 1e-3 and 1e-5: 125 to 173).
PASSES = 100
PASSES_WORK = 1e7
# liblinear's own stopping tolerance (on its projected gradient). At 1e-6
# the sets it leaves are those of the optimum on the text shapes above;
# 1e-4 left the active-set method more rounds, 1e-8 more passes for the
# same sets.
LIBLINEAR_TOL = 1e-6
# A sample whose margin is within this of 1 at liblinear's point starts on
# the kink (its dual variable free); the active-set rounds move the rest.
KINK_WIDTH = 1e-3
# Rounds of the active-set method from liblinear's point: where the sets
# are right it needs two; where they are not, the box dual does better.
ROUNDS = 8
# Features per sample from which the method is first in the route (sparse
# X only): on sparse data with as many features as samples liblinear took
# 106 passes and the exact step 1.9 s where the box dual took 0.53 s in all
# (random 20,000 x 20,000 at alpha 1e-4); on dense data its exact step
# alone cost more than the box dual's whole fit (500 x 5,000, 2,000 x
# 5,000).
FEATURES_PER_SAMPLE = 2
INTERCEPT_SCALING = 1.0


def dual_coordinate_descent_applies(objective):
    """The hinge loss with a pure L2 penalty on CSR float64 data of at
    least ``FEATURES_PER_SAMPLE`` features per sample, with both labels
    among the samples of positive weight."""
    X = objective.X
    if not (
        isinstance(objective.loss, HingeLoss)
        and objective.n_outputs == 1
        and objective.penalty.has_l2
        and not objective.penalty.has_l1
        and sp.issparse(X)
        # liblinear takes CSR float64 as it is; other data it would copy.
        and X.format == "csr"
        and X.dtype == np.float64
        and X.shape[1] >= FEATURES_PER_SAMPLE * X.shape[0]
    ):
        return False
    labels = objective.y[objective.sample_weight > 0]
    return bool(np.any(labels > 0) and np.any(labels < 0))


def solve_dual_coordinate_descent(
    objective, coef, intercept, *, max_iter, tol, on_iteration=no_callback
):
    """Hinge loss with an L2 penalty: liblinear's dual coordinate descent,
    then the exact active-set step.

    The objective

        J(w, b) = sum_i s_i max(0, 1 - y_i (x_i . w + b)) + l2 / 2 |w|**2

    is, divided by ``l2``, the objective of ``LinearSVC(loss="hinge",
    C=1 / l2)`` with sample weights ``s``: without an intercept the same
    problem. With one, liblinear penalizes the intercept (as a feature of
    constant value 1), so its answer is only near the optimum; the exact
    step then solves the conditions with the intercept free.

    Liblinear's dual variables are not returned, so the sets are read off
    its margins: a sample within ``KINK_WIDTH`` of margin 1 starts on the
    kink, the others at the end of their box on the side of their
    residual. From there the active-set method (``exact_candidate``)
    solves the optimality conditions exactly and the duality gap certifies
    the answer, to ``max(tol, 1e-8)`` relative to ``J``. Where liblinear
    does not settle within ``PASSES`` passes, or the active-set method does
    not certify within ``ROUNDS`` rounds, the start it was given is handed
    on unconverged (the box dual takes it from there). Liblinear's run
    counts as one iteration, the exact step as another.
    """
    weight = objective.sample_weight
    labels = objective.y
    stored = objective.X.nnz
    passes = max(1, min(max(PASSES, int(PASSES_WORK // max(stored, 1))), max_iter))
    with warnings.catch_warnings():
        # Not settling within the passes is an answer here: the point is
        # handed on.
        warnings.simplefilter("ignore", ConvergenceWarning)
        machine = LinearSVC(
            C=1.0 / objective.penalty.l2,
            loss="hinge",
            dual=True,
            fit_intercept=objective.fit_intercept,
            tol=LIBLINEAR_TOL,
            max_iter=passes,
            random_state=0,
            intercept_scaling=INTERCEPT_SCALING,
        ).fit(objective.X, labels, sample_weight=weight)
    on_iteration()
    # liblinear's run counts as one iteration of the route, as a linear
    # program does: its passes (up to a thousand on small problems) are not
    # the route's iterations, and counted as such they left the box dual no
    # budget where liblinear did not settle.
    settled = int(machine.n_iter_) < passes
    # Where the method does not finish, the route goes on from the start it
    # was given: from liblinear's unsettled point the box dual was no faster
    # (random sparse 1,000 x 2,000: 0.15 s either way).
    handed_on = SolverResult(coef, intercept, 1, False, "dual-coordinate-descent")
    if not settled:
        return handed_on
    found = machine.coef_.reshape(-1, 1)
    scores = objective.matvec(found).ravel()
    if objective.fit_intercept:
        # liblinear's intercept is penalized: the exact one for its
        # coefficients puts the margins, hence the sets, nearer the optimum's.
        scores += objective.best_intercept(found, offset=scores)
    margin_excess = 1.0 - labels * scores
    theta = np.where(
        margin_excess > KINK_WIDTH,
        weight,
        np.where(margin_excess < -KINK_WIDTH, 0.0, 0.5 * weight),
    )
    gap_tol = max(tol, GAP_FLOOR)
    pool = CandidatePool()
    pool.consider(
        exact_candidate(
            objective,
            theta,
            found.ravel(),
            np.zeros_like(weight),
            weight,
            max_rounds=ROUNDS,
        )
    )
    if not pool.certified(gap_tol):
        return handed_on
    if objective.along_path:
        # A path's next alpha starts the box dual's active-set rounds from
        # this exact dual point (as shares of the boxes, box_dual._kept_start).
        objective.kept_dual_point = np.divide(
            pool.best.theta,
            weight,
            out=np.zeros_like(weight),
            where=weight > 0,
        )
    return SolverResult(
        **pool.result_fields(objective.fit_intercept, gap_tol),
        n_iter=2,
        method="dual-coordinate-descent",
    )
