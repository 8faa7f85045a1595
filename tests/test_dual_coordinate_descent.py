"""Dual coordinate descent (scikit-learn's liblinear) for the hinge loss
with an L2 penalty on sparse data with many features per sample, and for
the epsilon-insensitive loss on sparse data.

On tf-idf text the box dual's L-BFGS-B took 60-odd evaluations where
liblinear settles in a dozen passes (20,000 x 200,000 at alpha 1e-4: 0.43
s against 0.11 s). Liblinear's answer is only a start: the active-set
step solves the conditions exactly and the duality gap certifies them, so
the optimum is the same as by the other routes, checked here against
cvxpy/Clarabel and against the box dual forced.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from problems import objective_with_intercept
from reference import reference_optimum
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from sklearn_losses import EpsilonInsensitiveLossRegressor, HingeLossClassifier
from sklearn_losses._loss import EpsilonInsensitiveLoss, HingeLoss, PinballLoss
from sklearn_losses._objective import LinearObjective
from sklearn_losses._penalty import ElasticNet
from sklearn_losses.solvers import dispatch, dual_coordinate_descent
from sklearn_losses.solvers.dual_coordinate_descent import (
    dual_coordinate_descent_applies,
)

# Relative distance to the reference optimum, and the certified gap.
REFERENCE_RTOL = 1e-8
GAP_TOL = 1e-9


def _text(n_samples=300, n_features=1500, seed=0):
    """Rows of unit norm over Zipf-distributed words (as tf-idf), labels
    from a score over a few of them with logistic noise."""
    rng = np.random.default_rng(seed)
    frequency = 1.0 / (np.arange(n_features) + 10.0) ** 1.1
    cumulative = np.cumsum(frequency / frequency.sum())
    lengths = rng.poisson(30, n_samples) + 1
    rows = np.repeat(np.arange(n_samples), lengths)
    words = np.minimum(
        np.searchsorted(cumulative, rng.random(lengths.sum())), n_features - 1
    )
    X = sp.csr_matrix(
        (np.ones(rows.size), (rows, words)), shape=(n_samples, n_features)
    )
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    X = sp.csr_matrix(X.multiply(1.0 / np.sqrt(X.multiply(X).sum(axis=1))))
    coef = np.zeros(n_features)
    topical = rng.choice(n_features, n_features // 20, replace=False)
    coef[topical] = 5.0 * rng.standard_normal(topical.size)
    score = X @ coef
    labels = score + 0.5 * rng.logistic(size=n_samples) > np.median(score)
    return X, labels.astype(int)


def _weights(n_samples, seed):
    """Weights from uniform(0, 2), every 13th zero."""
    weight = np.random.default_rng(seed).uniform(0.0, 2.0, n_samples)
    weight[::13] = 0.0
    return weight


def _recorded_methods(monkeypatch, names):
    """The names of ``names`` in the order their methods run (and finish)."""
    runs = []
    for name in names:
        original = dispatch.METHODS[name]

        def recorded(*args, original=original, name=name, **kwargs):
            result = original(*args, **kwargs)
            runs.append((name, result.converged))
            return result

        monkeypatch.setitem(dispatch.METHODS, name, recorded)
    return runs


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-2, 1e-3, 1e-5])
@pytest.mark.parametrize("weighted", [False, True])
def test_text_hinge_l2_is_solved_by_it_at_the_reference_optimum(
    monkeypatch, fit_intercept, alpha, weighted
):
    """The method certifies the fit by itself (the box dual does not run):
    no ConvergenceWarning, a gap below 1e-9, the cvxpy objective to 1e-8.
    Weights include zeros."""
    X, labels = _text()
    weight = _weights(X.shape[0], seed=1) if weighted else None
    runs = _recorded_methods(monkeypatch, ["dual-coordinate-descent", "box-dual"])
    model = HingeLossClassifier(alpha=alpha, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, labels, sample_weight=weight)
    assert runs == [("dual-coordinate-descent", True)]
    assert model.duality_gap_ <= GAP_TOL
    value, _, _ = reference_optimum(
        "hinge",
        X,
        2.0 * labels - 1.0,
        np.ones(X.shape[0]) if weight is None else weight,
        alpha=alpha,
        l1_ratio=0.0,
        fit_intercept=fit_intercept,
    )
    assert abs(model.objective_ - value) <= REFERENCE_RTOL * abs(value)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_same_optimum_as_the_box_dual(fit_intercept):
    """Larger than cvxpy takes quickly: the box dual forced (the route
    before this method) reaches the same objective, to 1e-10 relative."""
    X, labels = _text(2000, 8000, seed=3)
    model = HingeLossClassifier(alpha=1e-4, fit_intercept=fit_intercept)
    model.fit(X, labels)
    with dispatch.forced_method("box-dual", "smoothed-dual"):
        reference = HingeLossClassifier(alpha=1e-4, fit_intercept=fit_intercept)
        reference.fit(X, labels)
    assert model.duality_gap_ <= GAP_TOL
    assert abs(model.objective_ - reference.objective_) <= 1e-10 * abs(
        reference.objective_
    )


def test_no_intercept_is_linear_svc_objective_or_lower():
    """Without an intercept the objective is LinearSVC's (C = 1 / (n alpha)):
    ours is at least as low as LinearSVC's at tol 1e-8."""
    X, labels = _text(seed=5)
    alpha = 1e-3
    model = HingeLossClassifier(alpha=alpha, fit_intercept=False).fit(X, labels)
    peer = LinearSVC(
        C=1.0 / (alpha * X.shape[0]), loss="hinge", fit_intercept=False, tol=1e-8
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        peer.fit(X, labels)
    margins = (2.0 * labels - 1.0) * (X @ peer.coef_.ravel())
    peer_value = np.mean(np.maximum(0.0, 1.0 - margins)) + 0.5 * alpha * np.sum(
        peer.coef_**2
    )
    assert model.objective_ <= peer_value * (1.0 + 1e-12)


def test_unsettled_liblinear_hands_the_start_on(monkeypatch):
    """Where liblinear does not settle within its passes, the start it was
    given goes to the box dual, which certifies the same optimum."""
    X, labels = _text()
    runs = _recorded_methods(monkeypatch, ["dual-coordinate-descent", "box-dual"])
    monkeypatch.setattr(dual_coordinate_descent, "PASSES", 1)
    monkeypatch.setattr(dual_coordinate_descent, "PASSES_WORK", 0)
    model = HingeLossClassifier(alpha=1e-3).fit(X, labels)
    assert runs == [("dual-coordinate-descent", False), ("box-dual", True)]
    assert model.duality_gap_ <= GAP_TOL
    monkeypatch.undo()
    direct = HingeLossClassifier(alpha=1e-3).fit(X, labels)
    assert abs(model.objective_ - direct.objective_) <= 1e-10 * direct.objective_


def _objective(loss, X, y, alpha=1e-3, l1_ratio=0.0, weight=None):
    return objective_with_intercept(loss, X, y, alpha, l1_ratio, weight)


def test_the_method_takes_sparse_hinge_l2_with_many_features():
    """Taken: hinge, pure L2, sparse float64, at least twice as many features
    as samples, both labels among the weighted samples. Not taken: dense,
    CSC or float32 data, an L1 part, another loss, too few features (where
    liblinear's dual is not easy, see the next test), one label."""
    X, labels = _text()
    signed = 2.0 * labels - 1.0
    assert dual_coordinate_descent_applies(_objective(HingeLoss(), X, signed))
    for other in (
        _objective(HingeLoss(), X.toarray(), signed),
        _objective(HingeLoss(), X.astype(np.float32), signed),
        _objective(HingeLoss(), X.tocsc(), signed),
        _objective(HingeLoss(), X, signed, l1_ratio=0.5),
        _objective(PinballLoss(0.5), X, signed),
        _objective(
            HingeLoss(),
            sp.vstack([X] * 3, format="csr"),
            np.tile(signed, 3),
            alpha=1e-4,
        ),
        _objective(HingeLoss(), X, signed, weight=(signed > 0).astype(float)),
    ):
        assert not dual_coordinate_descent_applies(other)
    method = dispatch.METHODS["dual-coordinate-descent"]
    problem = _objective(HingeLoss(), X, signed)
    zero, intercept = np.zeros((X.shape[1], 1)), np.zeros(1)
    options = dict(max_iter=1000, tol=1e-10)
    assert method(problem, zero, intercept, **options).converged
    # A warm start (a path's previous alpha) is left to the box dual.
    handed_on = method(problem, zero + 0.1, intercept, **options)
    assert handed_on.n_iter == 0 and not handed_on.converged


def test_the_method_takes_tall_sparse_hinge_where_liblinear_settles_soon():
    """With fewer features than twice the samples, the method is first where
    the curvature of liblinear's dual per coordinate, ``C_i |x_i|**2``
    averaged, is at most EASY_CURVATURE (the text rows stacked three times:
    1.1 at alpha 1e-3, 11 at 1e-4), or X is small; it certifies there."""
    X, labels = _text()
    signed = 2.0 * labels - 1.0
    tall, tall_signed = sp.vstack([X] * 3, format="csr"), np.tile(signed, 3)
    easy = _objective(HingeLoss(), tall, tall_signed, alpha=1e-3)
    hard = _objective(HingeLoss(), tall, tall_signed, alpha=1e-4)
    assert tall.nnz > dual_coordinate_descent.FEW_STORED
    assert dual_coordinate_descent_applies(easy)
    assert not dual_coordinate_descent_applies(hard)
    small = _objective(HingeLoss(), tall[:600], tall_signed[:600], alpha=1e-5)
    assert small.X.nnz <= dual_coordinate_descent.FEW_STORED
    assert dual_coordinate_descent_applies(small)
    model = HingeLossClassifier(alpha=1e-3).fit(tall, tall_signed)
    assert model.duality_gap_ <= GAP_TOL
    with dispatch.forced_method("box-dual"):
        reference = HingeLossClassifier(alpha=1e-3).fit(tall, tall_signed)
    assert abs(model.objective_ - reference.objective_) <= 1e-10 * abs(
        reference.objective_
    )


def _sparse_regression(n_samples=3000, n_features=1500, seed=0, density=0.01):
    """Sparse rows (``density`` of the features: about 15 entries at 0.01),
    a signal on half the features, noise of Student's t(3) with 5% outliers
    20 times larger: the benchmark's sparse regression data, smaller."""
    rng = np.random.default_rng(seed)
    X = sp.random(
        n_samples,
        n_features,
        density=density,
        format="csr",
        random_state=rng,
        data_rvs=rng.standard_normal,
    )
    coef = 10.0 * rng.standard_normal(n_features) * (rng.random(n_features) < 0.5)
    noise = rng.standard_t(3, n_samples)
    noise[rng.random(n_samples) < 0.05] *= 20.0
    return X, X @ coef + noise


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-2, 1e-3])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_epsilon_insensitive_l2_is_solved_by_it(
    monkeypatch, fit_intercept, alpha, weighted
):
    """LinearSVR's dual coordinate descent on the samples (the first half of
    the loss's stacked solver rows), then the exact step: certified by
    itself, at the box dual's objective (forced) to 1e-10 relative."""
    X, target = _sparse_regression()
    weight = _weights(X.shape[0], seed=2) if weighted else None
    runs = _recorded_methods(monkeypatch, ["dual-coordinate-descent", "box-dual"])
    model = EpsilonInsensitiveLossRegressor(
        alpha=alpha, epsilon=0.5, fit_intercept=fit_intercept
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, target, sample_weight=weight)
    assert runs == [("dual-coordinate-descent", True)]
    assert model.duality_gap_ <= GAP_TOL
    monkeypatch.undo()
    with dispatch.forced_method("box-dual", "smoothed-dual"):
        reference = clone(model).fit(X, target, sample_weight=weight)
    assert abs(model.objective_ - reference.objective_) <= 1e-10 * abs(
        reference.objective_
    )


def test_sparse_epsilon_insensitive_matches_the_reference_optimum():
    """Against cvxpy/Clarabel, with an intercept (which liblinear penalizes
    and the exact step frees): the objective to 1e-8."""
    X, target = _sparse_regression(2000, 500, seed=4)
    model = EpsilonInsensitiveLossRegressor(alpha=1e-3, epsilon=0.5).fit(X, target)
    value, _, _ = reference_optimum(
        "epsilon_insensitive",
        X,
        target,
        np.ones(X.shape[0]),
        alpha=1e-3,
        l1_ratio=0.0,
        fit_intercept=True,
        epsilon=0.5,
    )
    assert model.duality_gap_ <= GAP_TOL
    assert abs(model.objective_ - value) <= REFERENCE_RTOL * abs(value)


def test_epsilon_insensitive_rows_must_be_the_samples_stacked():
    """Taken on the loss's own stacked rows, whatever the shape (3,000
    samples on 1,500 features, 1,500 on 1,500, 6,000 on 700, 1,000 on 600);
    not on rows that are not ``X`` stacked on itself (shuffled)."""
    X, target = _sparse_regression()
    loss = EpsilonInsensitiveLoss(0.1)

    def problem(X, target, reorder=False):
        rows, targets, weight = loss.solver_rows(X, target, np.ones(X.shape[0]))
        if reorder:
            order = np.random.default_rng(0).permutation(rows.shape[0])
            rows, targets, weight = rows[order], targets[order], weight[order]
        return LinearObjective(
            loss,
            sp.csr_matrix(rows),
            targets,
            weight,
            penalty=ElasticNet.from_alpha(1e-3, 0.0),
            fit_intercept=True,
        )

    assert dual_coordinate_descent_applies(problem(X, target))
    assert not dual_coordinate_descent_applies(problem(X, target, reorder=True))
    assert dual_coordinate_descent_applies(problem(X[:1500], target[:1500]))
    tall = sp.vstack([X, X], format="csr")[:, :700]
    assert dual_coordinate_descent_applies(problem(tall, np.tile(target, 2)))
    assert dual_coordinate_descent_applies(problem(X[:1000, :600], target[:1000]))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_epsilon_insensitive_on_very_sparse_tall_rows_finishes_from_liblinear(
    monkeypatch, fit_intercept
):
    """Random sparse 8,000 x 3,000 with six entries a row (the benchmark's
    sparse data, smaller): liblinear settled to 1e-6 left sets from which
    the active-set rounds swung and the box dual took over (488 and 119
    iterations, with and without an intercept); settled to 1e-8
    (EPSILON_INSENSITIVE_TOL), the method certifies alone, at the forced
    box dual's objective to 1e-10."""
    X, target = _sparse_regression(8000, 3000, seed=0, density=0.002)
    runs = _recorded_methods(monkeypatch, ["dual-coordinate-descent", "box-dual"])
    model = EpsilonInsensitiveLossRegressor(
        alpha=1e-3, epsilon=0.1, fit_intercept=fit_intercept
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, target)
    assert runs == [("dual-coordinate-descent", True)]
    assert model.duality_gap_ <= GAP_TOL
    monkeypatch.undo()
    with dispatch.forced_method("box-dual", "smoothed-dual"):
        reference = clone(model).fit(X, target)
    assert abs(model.objective_ - reference.objective_) <= 1e-10 * abs(
        reference.objective_
    )
