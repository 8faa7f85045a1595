"""Fit time and objective of sklearn_losses against its peers, on the same data.

Usage::

    pip install ".[bench]"
    python benchmarks/run.py --quick        # a few minutes on 2 cores
    python benchmarks/run.py                # the full grid; writes RESULTS.md
    python benchmarks/run.py --only logistic  # the cells whose name has "logistic"

Every cell fits our estimator and each peer on the same objective (the
parameter mapping is written next to each peer), in this one process, and
reports the median fit time over repeats (ours and the peers taking turns,
each fit after a short pause, see ``timed_fits``), the ratio ours / peer, and both
objectives evaluated by one function, ``objective_value`` (our metrics plus
the penalty), so that accuracy is compared too. Where a peer minimizes a
different objective (scikit-learn's HuberRegressor fits a scale as well),
the note says so. ``Peak / X`` is the peak memory Python allocated during
our fit (``tracemalloc``), relative to the size of ``X``; ``resident / X``
is the growth of the process's resident set during the fit, which also
counts compiled code's own allocations (HiGHS's, BLAS's).
"""

import argparse
import ctypes
import functools
import os
import platform
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from scipy.special import log_softmax
from sklearn.linear_model import (
    HuberRegressor,
    LogisticRegression,
    PoissonRegressor,
    QuantileRegressor,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.svm import LinearSVC, LinearSVR

import sklearn_losses
from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogCoshLossRegressor,
    LogisticLossClassifier,
    PoissonLossRegressor,
    QuantileLossRegressor,
)
from sklearn_losses.metrics import (
    epsilon_insensitive_loss,
    hinge_loss,
    huber_loss,
    log_cosh_loss,
    pinball_loss,
    poisson_loss,
    squared_epsilon_insensitive_loss,
    squared_hinge_loss,
)

HERE = Path(__file__).parent


# -- data ------------------------------------------------------------------------
def make_data(kind, n_samples, n_features, *, sparse=False, n_classes=2, seed=0):
    """Synthetic data: features, a linear signal, noise with some outliers."""
    rng = np.random.default_rng(seed)
    if sparse:
        X = sp.random(
            n_samples,
            n_features,
            density=0.002,
            format="csr",
            random_state=seed,
            data_rvs=rng.standard_normal,
        )
    else:
        X = rng.standard_normal((n_samples, n_features))
    coef = rng.standard_normal((n_features, max(n_classes, 2) if n_classes > 2 else 1))
    coef[rng.random(n_features) < 0.5] = 0.0  # half the features irrelevant
    if sparse:
        coef *= 10.0  # sparse rows carry few non-zeros
    signal = np.asarray(X @ coef)
    if kind == "counts":
        # Poisson counts with a mean of about exp(0.5) and a log-mean of
        # standard deviation 0.5 across the samples.
        log_mean = signal.ravel()
        log_mean = 0.5 + 0.5 * log_mean / max(log_mean.std(), 1e-12)
        return X, rng.poisson(np.exp(log_mean)).astype(float)
    if kind == "regression":
        noise = rng.standard_t(3, n_samples)
        outliers = rng.random(n_samples) < 0.05
        noise[outliers] *= 20
        return X, signal.ravel() + noise
    if n_classes > 2:
        return X, np.argmax(signal + rng.gumbel(size=signal.shape), axis=1)
    return X, (signal.ravel() + 2 * rng.logistic(size=n_samples) > 0).astype(int)


def make_ill_conditioned_data(kind, n_samples, n_features, *, seed=0):
    """Correlated columns scaled from 1e-4 to 1e4 (issue #26's ill-conditioned
    shape): half of each column is shared with others through 10 latent
    factors, and column j is multiplied by 10**(8 j / (p - 1) - 4). The
    targets are linear in the unscaled columns, as in ``make_data``, so that
    every scale carries signal; the Hessian's eigenvalues span about 16
    orders of magnitude before the penalty."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_samples, 10))
    unscaled = factors @ rng.standard_normal((10, n_features)) / np.sqrt(10)
    unscaled += rng.standard_normal((n_samples, n_features))
    unscaled /= np.sqrt(2.0)
    coef = rng.standard_normal(n_features) / np.sqrt(n_features)
    signal = unscaled @ coef
    X = unscaled * np.logspace(-4, 4, n_features)
    if kind == "regression":
        noise = 0.3 * rng.standard_t(3, n_samples)
        outliers = rng.random(n_samples) < 0.05
        noise[outliers] *= 20
        return X, signal + noise
    return X, (signal + 0.3 * rng.logistic(size=n_samples) > 0).astype(int)


def make_text_data(n_samples, n_features, *, seed=0, words_per_document=80):
    """tf-idf rows of synthetic documents: word frequencies follow Zipf's law
    over ``n_features`` words, about ``words_per_document`` draws per
    document; sublinear tf, idf, rows of unit norm (scikit-learn's
    ``TfidfTransformer``), CSR. The label is the sign of a score over 2% of
    the words (mostly rare ones, as topic words are), plus logistic noise."""
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    frequency = 1.0 / (np.arange(n_features) + 10.0) ** 1.1
    cumulative = np.cumsum(frequency / frequency.sum())
    lengths = rng.poisson(words_per_document, n_samples) + 1
    rows = np.repeat(np.arange(n_samples), lengths)
    words = np.minimum(
        np.searchsorted(cumulative, rng.random(lengths.sum())), n_features - 1
    )
    counts = sp.csr_matrix(
        (np.ones(rows.size), (rows, words)), shape=(n_samples, n_features)
    )
    counts.sum_duplicates()
    X = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    coef = np.zeros(n_features)
    topical = rng.choice(n_features, n_features // 50, replace=False)
    coef[topical] = 5.0 * rng.standard_normal(topical.size)
    score = X @ coef
    return X, (score + 0.5 * rng.logistic(size=n_samples) > np.median(score)).astype(
        int
    )


# -- the one objective function -------------------------------------------------
def objective_value(loss, X, y, coef, intercept, *, alpha, l1_ratio, **params):
    """SPEC objective: our metric (the data term) plus the penalty."""
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    scores = np.asarray(X @ coef.T) + np.atleast_1d(intercept)
    if loss == "huber":
        data = huber_loss(y, scores.ravel(), delta=params["delta"])
    elif loss == "pinball":
        data = pinball_loss(y, scores.ravel(), quantile=params["quantile"])
    elif loss == "hinge":
        data = hinge_loss(y, scores.ravel() if scores.shape[1] == 1 else scores)
    elif loss == "squared_hinge":
        data = squared_hinge_loss(y, scores.ravel() if scores.shape[1] == 1 else scores)
    elif loss == "log_cosh":
        data = log_cosh_loss(y, scores.ravel(), scale=params["scale"])
    elif loss == "poisson":
        data = poisson_loss(y, np.exp(scores.ravel()))
    elif loss == "epsilon_insensitive":
        data = epsilon_insensitive_loss(y, scores.ravel(), epsilon=params["epsilon"])
    elif loss == "squared_epsilon_insensitive":
        data = squared_epsilon_insensitive_loss(
            y, scores.ravel(), epsilon=params["epsilon"]
        )
    elif loss in ("logistic", "focal"):
        if scores.shape[1] == 1:
            log_proba = np.column_stack(
                [-np.logaddexp(0, scores.ravel()), -np.logaddexp(0, -scores.ravel())]
            )
        else:
            log_proba = log_softmax(scores, axis=1)
        codes = np.searchsorted(np.unique(y), y)
        log_true = log_proba[np.arange(len(y)), codes]
        # Focal weight (1 - p)**gamma, with 1 - p = -expm1(log p) (gamma 0:
        # the log-loss), computed from log-probabilities without underflow.
        gamma = params.get("gamma", 0.0)
        data = np.mean(-((-np.expm1(log_true)) ** gamma) * log_true)
    else:
        raise ValueError(loss)
    penalty = alpha * (
        l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * (coef**2).sum()
    )
    return data + penalty


# -- cells -------------------------------------------------------------------------
@dataclass
class Cell:
    """One problem: our estimator and the peers that solve it."""

    name: str
    kind: str  # "regression", "binary", "multiclass"
    loss: str
    alpha: float
    l1_ratio: float
    ours: object
    peers: list = field(default_factory=list)  # (name, estimator, note)
    loss_params: dict = field(default_factory=dict)


def cells_for(n_samples, sparse=False):
    """The cells of one dataset size: every loss x {L2, L1, elastic net}."""
    n = n_samples
    l2, l1 = 1e-4, 1e-3
    cells = [
        Cell(
            "huber L2",
            "regression",
            "huber",
            l2,
            0.0,
            HuberLossRegressor(alpha=l2, delta=1.0),
            [
                (
                    "sklearn HuberRegressor",
                    # Same L2 term (alpha_sk * |w|**2 on a summed loss, so
                    # alpha_sk = n * alpha / 2), but it also fits a scale
                    # sigma, with epsilon = 1.35 in units of sigma: a
                    # different objective.
                    HuberRegressor(alpha=n * l2 / 2, epsilon=1.35),
                    "different objective (fits a scale)",
                )
            ],
            {"delta": 1.0},
        ),
        Cell(
            "huber elastic net",
            "regression",
            "huber",
            l1,
            0.5,
            HuberLossRegressor(alpha=l1, l1_ratio=0.5, delta=1.0),
            [
                (
                    "sklearn SGDRegressor",
                    # mean huber(epsilon = delta) + alpha (l1_ratio |w|_1
                    # + (1 - l1_ratio) / 2 |w|**2): the same objective.
                    SGDRegressor(
                        loss="huber",
                        epsilon=1.0,
                        penalty="elasticnet",
                        alpha=l1,
                        l1_ratio=0.5,
                        random_state=0,
                    ),
                    "stochastic, default tol",
                )
            ],
            {"delta": 1.0},
        ),
        Cell(
            "pinball L1",
            "regression",
            "pinball",
            l1,
            1.0,
            QuantileLossRegressor(alpha=l1, l1_ratio=1.0, quantile=0.5),
            # QuantileRegressor: mean pinball + alpha |w|_1, the same objective.
            [
                (
                    "sklearn QuantileRegressor",
                    # Its primal linear program ran past 300 s already at
                    # 30,000 x 100: HiGHS gives up after 120 s, and
                    # QuantileRegressor then fails (the table says so).
                    QuantileRegressor(
                        alpha=l1, quantile=0.5, solver_options={"time_limit": 120.0}
                    ),
                    "HiGHS time limit 120 s",
                )
            ],
            {"quantile": 0.5},
        ),
        Cell(
            "pinball L2, no intercept",
            "regression",
            "pinball",
            l2,
            0.0,
            QuantileLossRegressor(alpha=l2, quantile=0.5, fit_intercept=False),
            [],
            {"quantile": 0.5},
        ),
        Cell(
            "hinge L2, no intercept",
            "binary",
            "hinge",
            l2,
            0.0,
            HingeLossClassifier(alpha=l2, fit_intercept=False),
            [
                (
                    "sklearn LinearSVC",
                    # C * sum hinge + |w|**2 / 2 = n * C * (mean hinge
                    # + alpha / 2 |w|**2) with C = 1 / (n alpha); no intercept
                    # (LinearSVC would penalize it).
                    LinearSVC(loss="hinge", C=1 / (n * l2), fit_intercept=False),
                    "",
                )
            ],
        ),
        _hinge_elastic_net_cell(l1, "hinge elastic net"),
        Cell(
            "squared hinge L2, no intercept",
            "binary",
            "squared_hinge",
            l2,
            0.0,
            HingeLossClassifier(loss="squared_hinge", alpha=l2, fit_intercept=False),
            [
                (
                    "sklearn LinearSVC",
                    LinearSVC(C=1 / (n * l2), fit_intercept=False),
                    "",
                )
            ],
        ),
        _squared_hinge_l1_cell(n, l1),
        Cell(
            "logistic L2",
            "binary",
            "logistic",
            l2,
            0.0,
            LogisticLossClassifier(alpha=l2),
            # LogisticRegression: C sum log-loss + |w|**2 / 2, C = 1 / (n alpha).
            [
                (
                    "sklearn LogisticRegression lbfgs",
                    LogisticRegression(C=1 / (n * l2)),
                    "",
                )
            ],
        ),
        _sparse_logistic_cell("logistic L1", n, l1, 1.0),
        _sparse_logistic_cell("logistic elastic net", n, l1, 0.5),
        Cell(
            "log-cosh L2",
            "regression",
            "log_cosh",
            l2,
            0.0,
            LogCoshLossRegressor(alpha=l2, scale=1.0),
            [],
            {"scale": 1.0},
        ),
        Cell(
            "poisson L2",
            "counts",
            "poisson",
            l2,
            0.0,
            PoissonLossRegressor(alpha=l2),
            # PoissonRegressor: mean half deviance + alpha |w|**2 / 2, ours.
            [
                (
                    "sklearn PoissonRegressor lbfgs",
                    PoissonRegressor(alpha=l2, max_iter=1000),
                    "default tol",
                ),
                (
                    "sklearn PoissonRegressor newton-cholesky",
                    PoissonRegressor(alpha=l2, solver="newton-cholesky", max_iter=1000),
                    "default tol",
                ),
            ],
        ),
        Cell(
            "poisson elastic net",
            "counts",
            "poisson",
            l1,
            0.5,
            PoissonLossRegressor(alpha=l1, l1_ratio=0.5),
            [],
        ),
        _epsilon_insensitive_cell("epsilon_insensitive", n, l2),
        _epsilon_insensitive_cell("squared_epsilon_insensitive", n, l2),
        Cell(
            "focal L2 (gamma 2)",
            "binary",
            "focal",
            l2,
            0.0,
            FocalLossClassifier(alpha=l2, gamma=2.0),
            [],
            {"gamma": 2.0},
        ),
    ]
    if sparse:
        keep = {
            "huber L2",
            "poisson L2",
            "logistic L2",
            "logistic L1",
            "squared hinge L2, no intercept",
            "hinge L2, no intercept",
            "epsilon-insensitive L2, no intercept",
            "squared epsilon-insensitive L2, no intercept",
        }
        cells = [cell for cell in cells if cell.name in keep]
    for cell in cells:
        if cell.name in ("hinge L2, no intercept", "pinball L2, no intercept"):
            cell.peers += _rehline(cell, n)
    return cells


def _hinge_elastic_net_cell(alpha, name):
    """Hinge with an elastic net (l1_ratio 0.5) at ``alpha``. On text, the
    box dual and the active-set step with L1 signs, whose dense kink system
    peaked at 25-55 times X before it went to MINRES (the peer, stochastic,
    stops well above the optimum)."""
    return Cell(
        name,
        "binary",
        "hinge",
        alpha,
        0.5,
        HingeLossClassifier(alpha=alpha, l1_ratio=0.5),
        [
            (
                "sklearn SGDClassifier",
                SGDClassifier(
                    loss="hinge",
                    penalty="elasticnet",
                    alpha=alpha,
                    l1_ratio=0.5,
                    random_state=0,
                ),
                "stochastic, default tol",
            )
        ],
    )


def _squared_hinge_l1_cell(n_samples, alpha, tight=False):
    """Squared hinge L1 without an intercept against LinearSVC (which would
    penalize it), at its default tolerance and, if ``tight``, at 1e-6."""
    # |w|_1 + C sum sq. hinge = n C (mean + alpha |w|_1), C = 1 / (n alpha).
    settings = dict(
        penalty="l1", dual=False, C=1 / (n_samples * alpha), fit_intercept=False
    )
    note = "default tol" if tight else ""
    peers = [("sklearn LinearSVC", LinearSVC(**settings), note)]
    if tight:
        peers.append(
            (
                "sklearn LinearSVC",
                LinearSVC(**settings, tol=1e-6, max_iter=100_000),
                "tol 1e-6",
            )
        )
    return Cell(
        "squared hinge L1, no intercept",
        "binary",
        "squared_hinge",
        alpha,
        1.0,
        HingeLossClassifier(
            loss="squared_hinge", alpha=alpha, l1_ratio=1.0, fit_intercept=False
        ),
        peers,
    )


def hard_cells(n_samples):
    """The L1 and elastic-net cells on more features than samples (issue #26).

    Peers at their default tolerance and, where that leaves their objective
    well above ours, at a tight one, so that the time to the same optimum
    is in the table too.
    """
    n, l1 = n_samples, 1e-3
    return [
        _squared_hinge_l1_cell(n, l1, tight=True),
        Cell(
            "squared hinge elastic net",
            "binary",
            "squared_hinge",
            l1,
            0.5,
            HingeLossClassifier(loss="squared_hinge", alpha=l1, l1_ratio=0.5),
        ),
        _logistic_l1_cell(n, l1),
        _sparse_logistic_cell("logistic L1", n, l1, 1.0),
        _sparse_logistic_cell("logistic elastic net", n, l1, 0.5),
        _huber_l1_cell(),
        _kinked_elastic_net_cell("pinball", {"quantile": 0.8}),
        _kinked_elastic_net_cell("epsilon_insensitive", {"epsilon": 0.1}),
    ]


# The wide kinked elastic-net cells' strength and mix: near interpolation,
# most samples on the kink at the optimum and about as many non-zeros.
KINKED_WIDE_ALPHA, KINKED_WIDE_L1_RATIO = 1e-5, 0.9


def _kinked_elastic_net_cell(loss, params):
    """Pinball or epsilon-insensitive with an elastic net near interpolation
    (more features than samples, a small alpha), against the quadratic
    program solved by Clarabel through cvxpy."""
    alpha, l1_ratio = KINKED_WIDE_ALPHA, KINKED_WIDE_L1_RATIO
    common = dict(alpha=alpha, l1_ratio=l1_ratio)
    if loss == "pinball":
        ours = QuantileLossRegressor(**common, **params)
        name = f"quantile {params['quantile']} elastic net"
    else:
        ours = EpsilonInsensitiveLossRegressor(**common, **params)
        name = "epsilon-insensitive elastic net"
    return Cell(
        f"{name}, alpha {alpha:g}, l1_ratio {l1_ratio}",
        "regression",
        loss,
        alpha,
        l1_ratio,
        ours,
        _clarabel_kinked(loss, params, alpha, l1_ratio),
        params,
    )


class ClarabelKinkedElasticNet(sklearn.base.BaseEstimator):
    """The SPEC objective of pinball or epsilon-insensitive regression with an
    elastic net and an intercept, written in cvxpy and solved by Clarabel
    (an interior-point conic solver) to a relative gap of ``tol``: mean
    loss + alpha (l1_ratio |w|_1 + (1 - l1_ratio) / 2 |w|**2)."""

    def __init__(self, loss="pinball", params=None, alpha=1.0, l1_ratio=0.5, tol=1e-8):
        self.loss = loss
        self.params = params
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.tol = tol

    def fit(self, X, y):
        import cvxpy as cp

        n_samples, n_features = X.shape
        coef, intercept = cp.Variable(n_features), cp.Variable()
        residual = y - X @ coef - intercept
        if self.loss == "pinball":
            quantile = self.params["quantile"]
            pointwise = cp.maximum(quantile * residual, (quantile - 1) * residual)
        else:
            pointwise = cp.pos(cp.abs(residual) - self.params["epsilon"])
        penalty = self.alpha * (
            self.l1_ratio * cp.norm1(coef)
            + (1 - self.l1_ratio) / 2 * cp.sum_squares(coef)
        )
        problem = cp.Problem(cp.Minimize(cp.sum(pointwise) / n_samples + penalty))
        problem.solve(
            solver=cp.CLARABEL,
            tol_gap_abs=self.tol,
            tol_gap_rel=self.tol,
            tol_feas=self.tol,
        )
        self.coef_, self.intercept_ = coef.value, float(intercept.value)
        return self


def _clarabel_kinked(loss, params, alpha, l1_ratio):
    """Clarabel at tol 1e-8 and at 1e-10 (gap and feasibility), where
    installed."""
    try:
        import clarabel  # noqa: F401
        import cvxpy  # noqa: F401
    except ImportError:
        return []
    common = dict(loss=loss, params=params, alpha=alpha, l1_ratio=l1_ratio)
    return [
        ("cvxpy + Clarabel", ClarabelKinkedElasticNet(**common), "tol 1e-8"),
        (
            "cvxpy + Clarabel",
            ClarabelKinkedElasticNet(**common, tol=1e-10),
            "tol 1e-10",
        ),
    ]


def hard_shapes(quick):
    """The shapes of issue #26 beyond the wide ones, as ``(title, cells, data,
    batch)``: ``data(kind)`` gives ``(X, y)`` for a cell's kind of target, and
    a timing is the mean of ``batch`` fits in a row. Tiny problems (each
    fit's fixed cost, paid in every fold of a cross-validation), correlated
    columns on scales from 1e-4 to 1e4, tf-idf text, many classes (one-vs-
    rest hinge, multinomial), very sparse rows on more samples than
    features, and very many samples on few features."""

    def cells(n_samples, names, sparse=False):
        table = {cell.name: cell for cell in cells_for(n_samples, sparse=sparse)}
        table["squared hinge L1, no intercept"] = _squared_hinge_l1_cell(
            n_samples, 1e-3
        )
        table["hinge elastic net, alpha 1e-4"] = _hinge_elastic_net_cell(
            1e-4, "hinge elastic net, alpha 1e-4"
        )
        return [table[name] for name in names]

    tiny = 100, 5
    conditioned = (5_000, 100) if quick else (20_000, 200)
    text = (5_000, 50_000) if quick else (20_000, 200_000)
    classes = (5_000, 50, 20) if quick else (20_000, 100, 50)
    (one_vs_rest,) = cells(classes[0], ["hinge L2, no intercept"])
    # ReHLine solves binary problems only.
    _drop_peers(one_vs_rest, "ReHLine")
    tall = (300_000, 20) if quick else (2_000_000, 20)
    # Two entries a row at density 0.2%: some rows empty, many alone in
    # their column (the duals' sets degenerate; see interior_point).
    very_sparse = (3_000, 1_000) if quick else (50_000, 1_000)
    conditioned_cells = cells(
        conditioned[0], ["huber L2", "logistic L2", "hinge L2, no intercept"]
    )
    # ReHLine at tol 1e-8 ran 757 s on the hinge cell (20,000 x 200) and
    # stopped 62% above the optimum; its default tolerance stays.
    _drop_peers(conditioned_cells[-1], "ReHLine", "tol 1e-8")
    shapes = [
        (
            f"tiny dense {tiny[0]} x {tiny[1]} (mean of {30 if quick else 100} "
            "fits in a row per timing)",
            cells(
                tiny[0],
                [
                    "logistic L2",
                    "logistic L1",
                    "squared hinge L2, no intercept",
                    "squared hinge L1, no intercept",
                    "hinge L2, no intercept",
                    "huber L2",
                ],
            ),
            functools.cache(lambda kind: make_data(kind, *tiny, seed=1)),
            30 if quick else 100,
        ),
        (
            f"ill-conditioned dense {conditioned[0]:,d} x {conditioned[1]} "
            "(correlated columns, scales 1e-4 to 1e4)",
            # Not squared hinge: LinearSVC ran 650 s on it (ours 0.1 s).
            conditioned_cells,
            functools.cache(
                lambda kind: make_ill_conditioned_data(kind, *conditioned, seed=2)
            ),
            1,
        ),
        (
            f"text: tf-idf CSR {text[0]:,d} x {text[1]:,d}",
            cells(
                text[0],
                [
                    "hinge L2, no intercept",
                    "squared hinge L2, no intercept",
                    "logistic L2",
                    "logistic L1",
                    "hinge elastic net, alpha 1e-4",
                ],
                sparse=True,
            ),
            functools.cache(lambda kind: make_text_data(*text, seed=3)),
            1,
        ),
        (
            f"many classes: dense {classes[0]:,d} x {classes[1]}, {classes[2]} classes",
            [
                one_vs_rest,
                multinomial_cell(classes[0], classes[2]),
            ],
            functools.cache(
                lambda kind: make_data(
                    "classification", *classes[:2], n_classes=classes[2], seed=4
                )
            ),
            1,
        ),
        (
            f"very sparse tall CSR {very_sparse[0]:,d} x {very_sparse[1]:,d}, "
            "density 0.2% (two entries a row)",
            cells(
                very_sparse[0],
                [
                    "hinge L2, no intercept",
                    "squared hinge L2, no intercept",
                    "logistic L1",
                    "epsilon-insensitive L2, no intercept",
                    "hinge elastic net, alpha 1e-4",
                ],
                sparse=True,
            ),
            functools.cache(
                lambda kind: make_data(kind, *very_sparse, sparse=True, seed=6)
            ),
            1,
        ),
        (
            f"very tall dense {tall[0]:,d} x {tall[1]}",
            cells(tall[0], ["logistic L2"]),
            functools.cache(lambda kind: make_data(kind, *tall, seed=5)),
            1,
        ),
    ]
    return shapes


def _drop_peers(cell, name, note=""):
    """Remove from ``cell`` the peers whose name contains ``name`` and whose
    note contains ``note``."""
    cell.peers = [
        peer for peer in cell.peers if not (name in peer[0] and note in peer[2])
    ]


def many_non_zeros_cells(n_samples):
    """Pure L1 on more than 1,000 samples and more features (issue #26),
    where the optimum can have more than 1,000 non-zeros (at 2,000 x 5,000:
    1,200 to 1,500): proximal Newton's working set grows to the number of
    samples; the orthant-wise method used to take over there, and crept.
    Peers at their default and a tight tolerance."""
    n, l1 = n_samples, 1e-3
    cells = [
        _logistic_l1_cell(n, l1),
        _huber_l1_cell(),
        _squared_hinge_l1_cell(n, l1, tight=True),
    ]
    for cell in cells:
        cell.name += ", over 1,000 samples and features"
    return cells


def _logistic_l1_cell(n_samples, alpha):
    """Logistic L1 without an intercept against liblinear (which would
    penalize it), at its default tolerance and at 1e-8."""
    # C sum log-loss + |w|_1, C = 1 / (n alpha).
    liblinear_l1 = dict(
        C=1 / (n_samples * alpha),
        l1_ratio=1.0,
        solver="liblinear",
        fit_intercept=False,
    )
    return Cell(
        "logistic L1, no intercept",
        "binary",
        "logistic",
        alpha,
        1.0,
        LogisticLossClassifier(alpha=alpha, l1_ratio=1.0, fit_intercept=False),
        [
            (
                "sklearn LogisticRegression liblinear",
                LogisticRegression(**liblinear_l1),
                "default tol",
            ),
            (
                "sklearn LogisticRegression liblinear",
                LogisticRegression(**liblinear_l1, tol=1e-8, max_iter=10_000),
                "tol 1e-8",
            ),
        ],
    )


def _huber_l1_cell():
    """Huber L1 without an intercept against skglm."""
    return Cell(
        "huber L1, no intercept",
        "regression",
        "huber",
        HUBER_L1_WIDE,
        1.0,
        HuberLossRegressor(alpha=HUBER_L1_WIDE, l1_ratio=1.0, fit_intercept=False),
        _skglm_huber_l1(HUBER_L1_WIDE),
        {"delta": 1.0},
    )


# The wide Huber L1 cell's strength: a few hundred non-zeros on the wide
# data (the shape of issue #26's 500 x 20,000).
HUBER_L1_WIDE = 0.02


class SkglmHuberL1(sklearn.base.BaseEstimator):
    """skglm's Huber datafit with an L1 penalty and no intercept, as an
    estimator that scikit-learn's ``clone`` takes (skglm's own
    ``GeneralizedLinearEstimator`` reports nested parameters it does not
    accept back): mean huber(delta) + alpha |w|_1."""

    def __init__(self, alpha=1.0, delta=1.0, tol=1e-4, max_iter=50):
        self.alpha = alpha
        self.delta = delta
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        from skglm import GeneralizedLinearEstimator
        from skglm.datafits import Huber
        from skglm.penalties import L1
        from skglm.solvers import AndersonCD

        solver = AndersonCD(tol=self.tol, max_iter=self.max_iter, fit_intercept=False)
        model = GeneralizedLinearEstimator(Huber(self.delta), L1(self.alpha), solver)
        model.fit(X, y)
        self.coef_, self.intercept_ = model.coef_, 0.0
        return self


def _skglm_huber_l1(alpha):
    """skglm at its default tol and at 1e-8, where installed."""
    try:
        import skglm  # noqa: F401
    except ImportError:
        return []
    return [
        ("skglm Huber + L1", SkglmHuberL1(alpha), "default tol"),
        (
            "skglm Huber + L1",
            SkglmHuberL1(alpha, tol=1e-8, max_iter=1000),
            "tol 1e-8",
        ),
    ]


def _data_kind(cell):
    """The data of a cell: counts, real targets or two classes."""
    return cell.kind if cell.kind in ("counts", "regression") else "binary"


# A peer's options and note at its default tolerance and at 1e-8, where its
# objective comes within 1e-7 of ours (the issue's comparison).
DEFAULT_AND_TIGHT_TOL = (
    ({}, "default tol"),
    ({"tol": 1e-8, "max_iter": 100_000}, "tol 1e-8"),
)


def _epsilon_insensitive_cell(loss, n_samples, alpha, epsilon=0.5):
    """Linear SVR against LinearSVR, without an intercept (LinearSVR would
    penalize it): C sum L + |w|**2 / 2 with C = 1 / (n alpha) is ours."""
    name = loss.replace("_", "-").replace("squared-", "squared ")
    return Cell(
        f"{name} L2, no intercept",
        "regression",
        loss,
        alpha,
        0.0,
        EpsilonInsensitiveLossRegressor(
            epsilon=epsilon, loss=loss, alpha=alpha, fit_intercept=False
        ),
        [
            (
                "sklearn LinearSVR",
                LinearSVR(
                    epsilon=epsilon,
                    loss=loss,
                    C=1 / (n_samples * alpha),
                    fit_intercept=False,
                    **options,
                ),
                note,
            )
            for options, note in DEFAULT_AND_TIGHT_TOL
        ],
        {"epsilon": epsilon},
    )


def _sparse_logistic_cell(name, n_samples, alpha, l1_ratio):
    """Logistic regression with an L1 part, against saga and skglm."""
    return Cell(
        name,
        "binary",
        "logistic",
        alpha,
        l1_ratio,
        LogisticLossClassifier(alpha=alpha, l1_ratio=l1_ratio),
        [
            (
                "sklearn LogisticRegression saga",
                # C sum log-loss + l1_ratio |w|_1 + (1 - l1_ratio) / 2 |w|**2,
                # C = 1 / (n alpha).
                LogisticRegression(
                    C=1 / (n_samples * alpha), l1_ratio=l1_ratio, solver="saga"
                ),
                "",
            ),
            *_skglm_logistic(alpha, l1_ratio),
        ],
    )


def _skglm_logistic(alpha, l1_ratio):
    try:
        from skglm import SparseLogisticRegression
    except ImportError:
        return []
    # mean log-loss + alpha (l1_ratio |w|_1 + (1 - l1_ratio) / 2 |w|**2); at
    # its default tol skglm stops 1e-4 to 1e-3 above the optimum, at 1e-8
    # within 1e-10 of it.
    return [
        (
            "skglm SparseLogisticRegression",
            SparseLogisticRegression(alpha=alpha, l1_ratio=l1_ratio),
            "default tol",
        ),
        (
            "skglm SparseLogisticRegression",
            SparseLogisticRegression(
                alpha=alpha, l1_ratio=l1_ratio, tol=1e-8, max_iter=1000
            ),
            "tol 1e-8",
        ),
    ]


def _rehline(cell, n_samples):
    try:
        from rehline import plqERM_Ridge
    except ImportError:
        return []
    # C sum loss + |w|**2 / 2 = n C (mean loss + alpha / 2 |w|**2),
    # C = 1 / (n alpha); ReHLine has no intercept.
    loss = {"name": "svm"} if cell.loss == "hinge" else {"name": "QR", "qt": 0.5}
    labels = "labels +-1, " if cell.loss == "hinge" else ""
    # At its default tol ReHLine stops 1e-5 to 1e-4 above the optimum; at
    # 1e-8 within 1e-8 of it (1e-6 still leaves 6e-7 on the sparse hinge).
    return [
        (
            "ReHLine plqERM_Ridge",
            plqERM_Ridge(loss=loss, C=1 / (n_samples * cell.alpha), **options),
            labels + note,
        )
        for options, note in DEFAULT_AND_TIGHT_TOL
    ]


def multinomial_cell(n_samples, n_classes=5):
    alpha = 1e-4
    return Cell(
        f"multinomial logistic L2, {n_classes} classes",
        "multiclass",
        "logistic",
        alpha,
        0.0,
        LogisticLossClassifier(alpha=alpha),
        [
            (
                "sklearn LogisticRegression lbfgs",
                LogisticRegression(C=1 / (n_samples * alpha)),
                "default tol",
            ),
            # At its default tol lbfgs stops 2e-4 above the optimum on 50
            # classes (20,000 x 100); at 1e-6 it is within 4e-8, at 1e-8
            # at it: the objective the issue compares at.
            (
                "sklearn LogisticRegression lbfgs",
                LogisticRegression(
                    C=1 / (n_samples * alpha), tol=1e-8, max_iter=10_000
                ),
                "tol 1e-8",
            ),
        ],
    )


# -- running -----------------------------------------------------------------------
def coef_intercept(estimator):
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(getattr(estimator, "intercept_", 0.0)))
    return coef, intercept


# Seconds of quiet before each timed fit. NumPy's and SciPy's BLAS thread
# pools and scikit-learn's OpenMP threads keep spinning for a while after a
# call; on 2 cores a fit started at once shares them with the last library's
# spinning threads (measured: lbfgs 94 ms right after one of our fits, 77 ms
# alone). The pause lets them sleep, so each fit starts on a quiet machine.
QUIET_SECONDS = 0.2
# Rounds faster than this are repeated up to FAST_REPEATS times as often.
FAST_ROUND = 1.0
FAST_REPEATS = 3


def _one_fit(estimator, X, y, batch=1):
    """A fitted clone and its fit time: the mean over ``batch`` fits in a
    row (tiny fits, whose single times are at the clock's and the
    scheduler's resolution)."""
    model = sklearn.base.clone(estimator)
    time.sleep(QUIET_SECONDS)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(batch):
            model.fit(X, y)
    return model, (time.perf_counter() - start) / batch


def timed_fits(contenders, repeats, batch=1):
    """Median fit time of each ``(estimator, X, y)`` over ``repeats`` rounds.

    The contenders take turns within each round (ours, then each peer), so
    that drifts of the machine over a cell (other load, frequency, memory
    state) fall on all of them alike. A fit slower than 20 s is timed once.
    Where a round takes less than ``FAST_ROUND`` seconds, the rounds go on
    to ``FAST_REPEATS`` times ``repeats``: on this class of machine a fit of
    0.06 s varied by 0.06-0.10 s between runs, and three timings let one
    slow fit decide a ratio near 1.
    A contender whose fit raises gets the exception in place of its result.
    ``batch`` fits in a row make one timing (``_one_fit``).
    Returns a list of ``(fitted model or exception, median seconds)``.
    """
    return [
        (model, float(np.median(seconds)) if seconds else np.nan)
        for model, seconds in _fit_times(contenders, repeats, batch)
    ]


def _fit_times(contenders, repeats, batch=1):
    """``(fitted model or exception, list of fit seconds)`` per contender."""
    times = [[] for _ in contenders]
    models = [None] * len(contenders)
    rounds = 0
    while rounds < repeats or (
        rounds < FAST_REPEATS * repeats and _last_round_seconds(times) < FAST_ROUND
    ):
        rounds += 1
        for index, (estimator, X, y) in enumerate(contenders):
            if isinstance(models[index], Exception) or (
                times[index] and times[index][0] > 20.0
            ):
                continue
            started = time.perf_counter()
            try:
                models[index], seconds = _one_fit(estimator, X, y, batch)
            except Exception as error:  # a peer that cannot take this input
                error.seconds = time.perf_counter() - started
                models[index] = error
                continue
            times[index].append(seconds)
    return list(zip(models, times, strict=True))


def _last_round_seconds(times):
    """Time of the latest round: the sum of each contender's latest fit."""
    return sum(seconds[-1] for seconds in times if seconds)


def fastest_and_median_fit(estimator, X, y, repeats):
    """The fitted model, and its fastest and median fit time over repeats.

    Rounds as in ``timed_fits``, with one contender.
    """
    ((model, seconds),) = _fit_times([(estimator, X, y)], repeats)
    if isinstance(model, Exception):
        raise model
    return model, float(np.min(seconds)), float(np.median(seconds))


def peak_memory_ratios(estimator, X, y):
    """Peak memory of one fit relative to X: ``(tracemalloc, resident set)``.

    ``tracemalloc`` sees what Python and NumPy allocate; the resident set
    (Linux: the high-water mark, reset before the fit through
    ``/proc/self/clear_refs``) also sees compiled code's own allocations,
    such as HiGHS's copy of a linear program, which ``tracemalloc`` misses.
    Both count growth over what the process held before the fit.
    """
    size = X.nbytes if not sp.issparse(X) else X.data.nbytes + X.indices.nbytes
    model = sklearn.base.clone(estimator)
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    resident = np.nan
    try:
        # Hand memory freed by earlier fits back to the system first, so
        # that the fit's own pages count as growth.
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        before = _status_bytes("VmRSS")
        model = sklearn.base.clone(estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        resident = (_status_bytes("VmHWM") - before) / size
    except OSError:  # not Linux (or not glibc)
        pass
    return peak / size, resident


def _status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(field)


def run_cell(cell, X, y, repeats, measure_memory, batch=1):
    penalty = dict(alpha=cell.alpha, l1_ratio=cell.l1_ratio)
    contenders = [(cell.ours, X, y)]
    for name, peer, _ in cell.peers:
        # ReHLine's hinge wants labels in {-1, 1}.
        y_peer = (
            np.where(y == 1, 1, -1) if "ReHLine" in name and cell.loss == "hinge" else y
        )
        contenders.append((peer, X, y_peer))
    (ours, our_time), *peer_results = timed_fits(contenders, repeats, batch)
    if isinstance(ours, Exception):
        raise ours
    our_value = objective_value(
        cell.loss, X, y, *coef_intercept(ours), **penalty, **cell.loss_params
    )
    memory = peak_memory_ratios(cell.ours, X, y) if measure_memory else (np.nan, np.nan)
    rows = []
    if not cell.peers:
        rows.append((cell.name, "-", our_time, np.nan, our_value, np.nan, memory, ""))
    for (name, _, note), (fitted, peer_time) in zip(
        cell.peers, peer_results, strict=True
    ):
        if isinstance(fitted, Exception):
            peer_time, peer_value = np.nan, np.nan
            note = "; ".join(
                part
                for part in (
                    note,
                    f"no result: {type(fitted).__name__} after {fitted.seconds:.0f} s",
                )
                if part
            )
        else:
            peer_value = objective_value(
                cell.loss, X, y, *coef_intercept(fitted), **penalty, **cell.loss_params
            )
        rows.append(
            (cell.name, name, our_time, peer_time, our_value, peer_value, memory, note)
        )
    return rows


def format_table(title, rows):
    lines = [
        f"### {title}",
        "",
        "| problem | peer | ours (s) | peer (s) | ours / peer | objective ours | "
        "objective peer | peer - ours (rel.) | peak / X | resident / X | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, peer, ours_s, peer_s, ours_j, peer_j, memory, note in rows:
        ratio = ours_s / peer_s if np.isfinite(peer_s) else np.nan
        gap = (peer_j - ours_j) / abs(ours_j) if np.isfinite(peer_j) else np.nan
        lines.append(
            f"| {name} | {peer} | {ours_s:.3g} | {_fmt(peer_s, '.3g')} | "
            f"{_fmt(ratio, '.2f')} | {ours_j:.10g} | {_fmt(peer_j, '.10g')} | "
            f"{_fmt(gap, '+.1e')} | {_fmt(memory[0], '.2f')} | "
            f"{_fmt(memory[1], '.2f')} | {note} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value, spec):
    return "-" if not np.isfinite(value) else format(value, spec)


def scaling_series(sizes, n_features, repeats, output):
    """Time per fit against n for each smooth loss and two non-smooth ones.

    The slopes are fitted to the fastest fit at each n, not the median. The
    question here is how the cost of a fit grows with n, and on a shared
    machine the noise is the other way round from the cost: it comes in
    phases of seconds (the same 10,000-sample fit ran at 11.5 ms, then at
    15.6 ms for nine fits in a row, then at 11.5 ms again), which can cover
    all the repeats of a small fit and none of a large one's. Over seven
    runs of the logistic series, its slope from 1e4 to 1e6 was 0.88-0.95 by
    medians and 0.92-0.94 by fastest fits. The medians are in the table too.
    In one run of the smooth series, by fastest fits: logistic 0.93, Huber
    0.99, squared hinge 0.95, focal 0.99 (time per iteration 1.01-1.03).
    The dotted line, linear in n, goes through the first series' time at
    1e4, where the slopes start.
    """
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    series = {
        "logistic L2 (Newton)": ("binary", LogisticLossClassifier(alpha=1e-4)),
        "huber L2 (Newton)": ("regression", HuberLossRegressor(alpha=1e-4)),
        "squared hinge L2 (Newton)": (
            "binary",
            HingeLossClassifier(loss="squared_hinge", alpha=1e-4),
        ),
        "focal L2 (Newton)": ("binary", FocalLossClassifier(alpha=1e-4)),
        "hinge L2 (smoothed dual)": ("binary", HingeLossClassifier(alpha=1e-4)),
        "pinball L1 (dual LP)": (
            "regression",
            QuantileLossRegressor(alpha=1e-3, l1_ratio=1.0),
        ),
    }
    fastest_times = {name: [] for name in series}
    medians = {name: [] for name in series}
    iterations = {name: [] for name in series}
    for n in sizes:
        for name, (kind, estimator) in series.items():
            X, y = make_data(
                "regression" if kind == "regression" else "binary", n, n_features
            )
            model, fastest, median = fastest_and_median_fit(estimator, X, y, repeats)
            fastest_times[name].append(fastest)
            medians[name].append(median)
            iterations[name].append(model.n_iter_)
            print(
                f"  scaling {name:28s} n={n:>9,d}  {fastest:8.3f} s "
                f"(median {median:.3f} s)",
                file=sys.stderr,
            )
    large = [index for index, n in enumerate(sizes) if n >= 1e4]

    def slope(values):
        if len(large) < 2:
            return np.nan
        return np.polyfit(
            np.log10(np.asarray(sizes)[large]), np.log10(np.asarray(values)[large]), 1
        )[0]

    # The solvers' iteration counts change with n (Newton's method takes
    # fewer steps on the larger, better-determined problems): the slope of
    # the time per iteration shows what each pass over the data costs.
    lines = [
        "Each fit timed as in the tables. Seconds per fit, fastest / median "
        "(iterations); log-log slopes from 1e4 up of the fastest time, the "
        "median time and the fastest time per iteration. The slopes go by the "
        "fastest fit: noise on a shared machine comes in phases that can "
        "cover all repeats of a small fit (see `scaling_series`).",
        "",
        "| loss (solver) | "
        + " | ".join(f"n = {n:,d}" for n in sizes)
        + " | slope | slope of medians | slope per iteration |",
        "|---" * (len(sizes) + 4) + "|",
    ]
    slopes = {}
    for name in fastest_times:
        slopes[name] = slope(fastest_times[name])
        cells = [
            f"{fastest:.3g} / {median:.3g} ({count})"
            for fastest, median, count in zip(
                fastest_times[name], medians[name], iterations[name], strict=True
            )
        ]
        per_iteration = slope(np.divide(fastest_times[name], iterations[name]))
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {_fmt(slopes[name], '.2f')} | {_fmt(slope(medians[name]), '.2f')}"
            f" | {_fmt(per_iteration, '.2f')} |"
        )
    fig, axis = plt.subplots(figsize=(6, 4.5))
    for name, values in fastest_times.items():
        axis.loglog(
            sizes,
            values,
            marker="o",
            label=f"{name} (slope {slopes[name]:.2f})",
        )
    reference = np.asarray(sizes, dtype=float)
    anchor = large[0] if large else 0
    first_series = next(iter(fastest_times.values()))
    axis.loglog(
        reference,
        first_series[anchor] * reference / reference[anchor],
        color="grey",
        linestyle=":",
        label="linear in n",
    )
    axis.set_xlabel("number of samples n")
    axis.set_ylabel("fit time (s), fastest of the repeats")
    axis.set_title(f"Fit time against n ({n_features} dense features)")
    axis.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return "\n".join(lines) + "\n"


def machine():
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, scikit-learn "
        f"{sklearn.__version__}, sklearn_losses {sklearn_losses.__version__}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a few minutes"
    )
    parser.add_argument("--repeats", type=int, default=None, help="fits per timing")
    parser.add_argument(
        "--output", type=Path, default=None, help="markdown file to write"
    )
    parser.add_argument(
        "--only",
        default=None,
        help="run only the cells whose table title or problem name contains "
        "this text "
        "(and the scaling series only if it is 'scaling')",
    )
    args = parser.parse_args(argv)

    def selected(name):
        return args.only is None or args.only in name

    repeats = args.repeats or (1 if args.quick else 3)
    if args.quick:
        datasets = [("dense 10,000 x 50", 10_000, 50, False)]
        sparse_size, multinomial_size, sizes = (
            (10_000, 5_000),
            (10_000, 50),
            [1_000, 10_000, 100_000],
        )
        wide_size = (300, 1_500)
        many_non_zeros_size = (1_200, 3_000)
    else:
        datasets = [
            ("dense 30,000 x 100", 30_000, 100, False),
            ("dense 200,000 x 50", 200_000, 50, False),
        ]
        sparse_size, multinomial_size = (50_000, 20_000), (30_000, 100)
        wide_size = (500, 5_000)
        many_non_zeros_size = (2_000, 5_000)
        sizes = [1_000, 10_000, 100_000, 1_000_000]
    default_output = "results-quick.md" if args.quick else "RESULTS.md"
    if args.only is not None:
        default_output = "results-selected.md"
    output = args.output or HERE / default_output
    plot = output.with_name("scaling-quick.png" if args.quick else "scaling.png")

    report = [
        "# Benchmark: sklearn_losses against its peers",
        "",
        f"Machine: {machine()}.",
        "",
        f"Command: `python benchmarks/run.py{' --quick' if args.quick else ''}`; "
        f"median of {repeats} fit(s) per timing ({FAST_REPEATS * repeats} where a "
        f"round takes under {FAST_ROUND:g} s, one for fits over 20 s), ours "
        f"and the peers taking turns, each fit after {QUIET_SECONDS} s of quiet; "
        "all at default settings "
        "(ours: tol=1e-10). Objectives are evaluated by one function; "
        "'peer - ours' > 0 means ours is lower (better).",
        "",
    ]
    started = time.perf_counter()

    def section(title, cells, n_samples, n_features, sparse=False, data=None, batch=1):
        """The table of ``cells`` on one dataset, appended to the report;
        ``data(kind)`` gives a cell's ``(X, y)`` (default: ``make_data``)."""
        rows = []
        for cell in cells:
            if not selected(f"{title}: {cell.name}"):
                continue
            if data is None:
                X, y = make_data(_data_kind(cell), n_samples, n_features, sparse=sparse)
            else:
                X, y = data(_data_kind(cell))
            print(f"{title}: {cell.name}", file=sys.stderr)
            rows += run_cell(cell, X, y, repeats, measure_memory=True, batch=batch)
        if rows:
            report.append(format_table(title, rows))
        # Written as it goes: a long run leaves its finished tables behind.
        output.write_text("\n".join(report))

    for title, n_samples, n_features, _ in datasets:
        section(title, cells_for(n_samples), n_samples, n_features)
    n_samples, n_features = wide_size
    section(
        f"wide dense {n_samples:,d} x {n_features:,d} (more features than samples)",
        hard_cells(n_samples),
        n_samples,
        n_features,
    )
    n_samples, n_features = many_non_zeros_size
    section(
        f"wide dense {n_samples:,d} x {n_features:,d} (pure L1 on over 1,000 "
        "samples and features)",
        many_non_zeros_cells(n_samples),
        n_samples,
        n_features,
    )
    for title, cells, data, batch in hard_shapes(args.quick):
        section(title, cells, None, None, data=data, batch=batch)
    n_samples, n_features = sparse_size
    section(
        f"sparse CSR {n_samples:,d} x {n_features:,d}, density 0.2%",
        cells_for(n_samples, sparse=True),
        n_samples,
        n_features,
        sparse=True,
    )
    n_samples, n_features = multinomial_size
    multinomial = multinomial_cell(n_samples)
    if selected(multinomial.name):
        X, y = make_data("classification", n_samples, n_features, n_classes=5)
        print("multinomial", file=sys.stderr)
        report.append(
            format_table(
                f"multinomial, dense {n_samples:,d} x {n_features}, 5 classes",
                run_cell(multinomial, X, y, repeats, measure_memory=True),
            )
        )
    if args.only is None or args.only == "scaling":
        report.append("### Scaling in n\n")
        report.append(scaling_series(sizes, 50, repeats, plot))
        report.append(f"\n![fit time against n]({plot.name})\n")
    report.append(f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s.\n")
    text = "\n".join(report)
    output.write_text(text)
    print(text)
    print(f"written to {output} and {plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
