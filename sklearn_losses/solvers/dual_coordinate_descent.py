"""Dual coordinate descent for the hinge and epsilon-insensitive losses
with an L2 penalty, by scikit-learn's liblinear (``LinearSVC``,
``LinearSVR``), finished exactly by the active-set method.

On sparse data (text; regression on many sparse samples) one pass of dual
coordinate descent over the samples costs about one product with ``X``,
and a dozen to a few dozen passes settle the dual; the
box-constrained dual's L-BFGS-B (``box_dual``) needs about 60 evaluations
of two products each. Liblinear's passes run in compiled code, which
NumPy cannot match sample by sample, so the method is taken from
scikit-learn rather than written again.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC, LinearSVR
from sklearn.utils.extmath import row_norms

from .._loss import EpsilonInsensitiveLoss, HingeLoss
from .active_set import (
    GAP_FLOOR,
    CandidatePool,
    dual_point_of_residuals,
    exact_candidate,
)
from .box_dual import kept_point
from .result import SolverResult, no_callback

# Passes over the samples liblinear may take: PASSES, or as many as touch
# PASSES_WORK stored entries of X in all where X is small (and at most
# PASSES_PER_ITERATION per iteration of the route). Where it has not
# settled by then, the start is handed on, and the box dual's fit costs
# hundreds of products with X: a few hundred passes are cheap insurance.
# With 100, the epsilon-insensitive loss on random sparse 100,000 x 5,000
# at alpha 1e-4 handed on (10 to 21 s in the box dual); liblinear settles
# there in about 150 to 300. On tf-idf text (alpha 1e-5 to 1e-3) it
# settled in 6 to 68 passes. On small problems passes cost little and more
# are needed (random sparse 3,000 x 1,000, alpha 1e-4: 1,217).
PASSES = 500
PASSES_WORK = 1e8
# liblinear's own stopping tolerance (on its projected gradient), by loss.
# For the hinge loss the active-set method finishes from the sets liblinear
# leaves at 1e-4 as from those at 1e-6 (tf-idf 2,000 x 20,000 to 20,000 x
# 200,000, random sparse 3,000 x 1,000 to 20,000 x 5,000; alpha 1e-5 to
# 1e-3), in a third to a half fewer passes: at 1e-6, liblinear did not
# settle within 100 passes on tf-idf 20,000 x 200,000 at alpha 1e-5 with an
# intercept (2.9 s; 2.6 s at 1e-4). For the epsilon-insensitive loss the
# sets at 1e-6 were often off by a few samples from which the active-set
# rounds swung (random sparse 8,000 x 3,000, alpha 1e-3: 12 violations,
# then 282, 399, 499, and the box dual took 0.4 to 3 s); at 1e-8 they were
# right to 1 to 4 samples, and the method finished in two rounds on random
# sparse 1,000 x 2,000 to 100,000 x 5,000 at alpha 1e-4 and 1e-3 (0.03 to
# 0.5 s) wherever liblinear settled.
HINGE_TOL = 1e-4
EPSILON_INSENSITIVE_TOL = 1e-8
# A row whose residual is within this of its kink at liblinear's point (a
# margin within it of 1) starts on the kink, its dual variable free; the
# active-set rounds move the rest.
KINK_WIDTH = 1e-3
# Rounds of the active-set method from liblinear's point, at most, each
# with fewer violated conditions than the one before: where the sets are
# right it needs two; where they are near, the count falls steadily
# (epsilon-insensitive, random sparse 3,000 x 1,000, alpha 1e-3: 11, 8, 5,
# 2, 0, where a cap of four rounds handed on to the box dual at 30 times
# the cost); where they are not, its rounds swung (1,000 x 2,000 at alpha
# 1e-4: 8 violations, then 751, 1,145, 1,280, ...) and the box dual does
# better.
ROUNDS = 12
STALL_ROUNDS = 3
# Features per sample from which the method is first in the route (sparse
# X only): on sparse data with as many features as samples liblinear took
# 106 passes and the exact step 1.9 s where the box dual took 0.53 s in all
# (random 20,000 x 20,000 at alpha 1e-4); on dense data its exact step
# alone cost more than the box dual's whole fit (500 x 5,000, 2,000 x
# 5,000).
FEATURES_PER_SAMPLE = 2
# Weight of liblinear's intercept, a feature of this constant value whose
# coefficient it penalizes: at 0.1 liblinear settled in fewer passes but
# its coefficients, bent by the penalized intercept, gave sets that took
# the active-set step seven rounds (tf-idf 20,000 x 200,000, alpha 1e-3:
# 0.42 s against 0.15 s at 1); at 10 it did not settle in 100 passes.
INTERCEPT_SCALING = 1.0
# Passes at most per iteration of the route (max_iter): liblinear counts
# as one iteration, but on small X it may need thousands of passes at a
# few microseconds each (random sparse 3,000 x 1,000, two entries a row,
# hinge at alpha 1e-4: 1,217 passes in 35 ms, where the box and smoothed
# duals took 2.8 s; epsilon-insensitive 1,000 x 2,000 with an intercept:
# 3,035 passes, 87 ms).
PASSES_PER_ITERATION = 10
# Beyond many features per sample, the method is first where liblinear
# settles soon: the curvature of its dual per coordinate, C_i |x_i|**2
# averaged over the samples, at most EASY_CURVATURE, or X of at most
# FEW_STORED stored entries (passes cost little, and a failure too). On
# random sparse data (0.2% dense, 3,000 x 1,000 to 50,000 x 20,000) fits
# at curvature 0.5 to 2 (alpha 1e-3) took 1.5 to 27 times less time, and
# at 5 to 10 (alpha 1e-4) liblinear needed 600 to 7,000 passes where it
# settled at all: there the box dual stays first.
EASY_CURVATURE = 2.0
FEW_STORED = 20_000


def dual_coordinate_descent_applies(objective):
    """A pure L2 penalty on CSR float64 data, with the hinge loss on at
    least ``FEATURES_PER_SAMPLE`` features per sample and both labels among
    the samples of positive weight (on fewer features, where liblinear
    settles soon: ``_settles_soon``), or with the epsilon-insensitive loss
    (its solver rows ``X`` stacked on itself)."""
    X = objective.X
    loss = objective.loss
    if not (
        isinstance(loss, (HingeLoss, EpsilonInsensitiveLoss))
        and objective.n_outputs == 1
        and objective.penalty.has_l2
        and not objective.penalty.has_l1
        and sp.issparse(X)
        # liblinear takes CSR float64 as it is; other data it would copy.
        and X.format == "csr"
        and X.dtype == np.float64
    ):
        return False
    if isinstance(loss, EpsilonInsensitiveLoss):
        return _rows_are_samples_stacked(objective)
    if X.shape[1] < FEATURES_PER_SAMPLE * X.shape[0] and not _settles_soon(objective):
        return False
    labels = objective.y[objective.sample_weight > 0]
    return bool(np.any(labels > 0) and np.any(labels < 0))


def _settles_soon(objective):
    """Whether liblinear's passes are few or cheap: its dual's curvature
    per coordinate, ``C_i |x_i|**2`` (``C_i = s_i / l2``) averaged over the
    weights, at most ``EASY_CURVATURE``, or at most ``FEW_STORED`` stored
    entries of ``X``."""
    X, weight = objective.X, objective.sample_weight
    if X.nnz <= FEW_STORED:
        return True
    squared_norms = row_norms(X, squared=True)
    curvature = weight @ (weight * squared_norms) / objective.penalty.l2
    return bool(curvature <= EASY_CURVATURE * weight.sum())


def _rows_are_samples_stacked(objective):
    """Whether the epsilon-insensitive loss's solver rows are ``X`` stacked
    on itself with the sides ``+1`` then ``-1`` (as ``solver_rows`` builds
    them; rows gathered from a Dask array's chunks, say, are not)."""
    stacked, y = objective.X, objective.y
    n_rows = stacked.shape[0]
    n_samples = n_rows // 2
    if n_rows != 2 * n_samples or n_samples == 0:
        return False
    end = stacked.indptr[n_samples]
    first, second = slice(0, end), slice(end, stacked.nnz)
    return bool(
        np.all(y[:n_samples, 1] == 1.0)
        and np.all(y[n_samples:, 1] == -1.0)
        and np.array_equal(y[:n_samples, 0], y[n_samples:, 0])
        and np.array_equal(
            objective.sample_weight[:n_samples], objective.sample_weight[n_samples:]
        )
        and np.array_equal(
            stacked.indptr[: n_samples + 1], stacked.indptr[n_samples:] - end
        )
        and np.array_equal(stacked.indices[first], stacked.indices[second])
        and np.array_equal(stacked.data[first], stacked.data[second])
    )


def _first_half(stacked):
    """The first half of the rows of CSR ``stacked``, as a view."""
    n_samples = stacked.shape[0] // 2
    end = stacked.indptr[n_samples]
    return sp.csr_matrix(
        (stacked.data[:end], stacked.indices[:end], stacked.indptr[: n_samples + 1]),
        shape=(n_samples, stacked.shape[1]),
        copy=False,
    )


def _liblinear_problem(objective):
    """``(machine, X, y, sample_weight)``: liblinear's estimator and the
    problem it solves, whose objective divided by ``l2`` is ``J`` (without
    an intercept exactly; with one, liblinear also penalizes it).

    The epsilon-insensitive loss's solver rows are each sample twice, one
    row per side, each with half the sample's weight: the samples are the
    first half of them, ``X``'s rows as views (``solver_rows`` stacks
    ``X`` on itself), the targets their first column.
    """
    loss = objective.loss
    common = dict(
        C=1.0 / objective.penalty.l2,
        dual=True,
        fit_intercept=objective.fit_intercept,
        intercept_scaling=INTERCEPT_SCALING,
        random_state=0,
    )
    if isinstance(loss, HingeLoss):
        machine = LinearSVC(loss="hinge", tol=HINGE_TOL, **common)
        return machine, objective.X, objective.y, objective.sample_weight
    # dual_coordinate_descent_applies has checked the rows are stacked.
    samples = _first_half(objective.X)
    n_samples = samples.shape[0]
    machine = LinearSVR(
        loss="epsilon_insensitive",
        epsilon=loss.epsilon,
        tol=EPSILON_INSENSITIVE_TOL,
        **common,
    )
    return (
        machine,
        samples,
        objective.y[:n_samples, 0],
        objective.sample_weight[:n_samples],
    )


def solve_dual_coordinate_descent(
    objective, coef, intercept, *, max_iter, tol, on_iteration=no_callback
):
    """Hinge or epsilon-insensitive loss with an L2 penalty: liblinear's
    dual coordinate descent, then the exact active-set step.

    The objectives

        J(w, b) = sum_i s_i max(0, 1 - y_i (x_i . w + b)) + l2 / 2 |w|**2
        J(w, b) = sum_i s_i max(0, |y_i - x_i . w - b| - epsilon)
                  + l2 / 2 |w|**2

    are, divided by ``l2``, those of ``LinearSVC(loss="hinge", C=1 / l2)``
    and ``LinearSVR(loss="epsilon_insensitive", C=1 / l2)`` with sample
    weights ``s``: without an intercept the same problems. With one,
    liblinear penalizes the intercept (as a feature of constant value 1),
    so its answer is only near the optimum; the exact step then solves the
    conditions with the intercept free.

    Liblinear's dual variables are not returned, so the sets are read off
    its residuals: a row (a sample, or a side of one) within ``KINK_WIDTH``
    of its kink starts on it, the others at the end of their box on the
    side of their residual. From there the active-set method (``exact_candidate``)
    solves the optimality conditions exactly and the duality gap certifies
    the answer, to ``max(tol, 1e-8)`` relative to ``J``. Where liblinear
    does not settle within ``PASSES`` passes, or the active-set method does
    not certify within ``ROUNDS`` rounds, the start it was given is handed
    on unconverged (the box dual takes it from there). Liblinear's run
    counts as one iteration, the exact step as another.
    """
    weight = objective.sample_weight
    stored = objective.X.nnz // objective.loss.rows_per_sample
    passes = max(
        1,
        min(
            max(PASSES, int(PASSES_WORK // max(stored, 1))),
            PASSES_PER_ITERATION * max_iter,
        ),
    )
    machine, X, y, sample_weight = _liblinear_problem(objective)
    with warnings.catch_warnings():
        # Not settling within the passes is an answer here: the start is
        # handed on.
        warnings.simplefilter("ignore", ConvergenceWarning)
        machine.set_params(max_iter=passes).fit(X, y, sample_weight=sample_weight)
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
    c, a = objective.loss.affine_parts(objective.y)
    theta = dual_point_of_residuals(objective, c - a * scores, KINK_WIDTH)
    lower, upper = objective.loss.dual_box()
    gap_tol = max(tol, GAP_FLOOR)
    pool = CandidatePool()
    pool.consider(
        exact_candidate(
            objective,
            theta,
            found.ravel(),
            weight * lower,
            weight * upper,
            max_rounds=ROUNDS,
            stall_rounds=STALL_ROUNDS,
        )
    )
    if not pool.certified(gap_tol):
        return handed_on
    if objective.along_path:
        # A path's next alpha starts the box dual's active-set rounds from
        # this exact dual point (box_dual._kept_start).
        objective.kept_dual_point = kept_point(pool, weight, None)
    return SolverResult(
        **pool.result_fields(objective.fit_intercept, gap_tol),
        n_iter=2,
        method="dual-coordinate-descent",
    )
