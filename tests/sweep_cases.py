"""Cases of the random sweeps that found failures (session 36), rebuilt from
their seeds: the draws follow the sweep's order, so that each test fits the
very problem that failed."""

import numpy as np


def separation_case(
    seed, *, samples, features, noise, target_noise, weighted, l1_ratios, log_alpha
):
    """``(X, labels, weight, l1_ratio, alpha)`` of a sweep's hinge fit.

    Dense columns of scales ``exp(N(0, 1))``, labels from a linear score
    with logistic noise scaled by ``uniform(*noise)`` (near separation where
    it is small), split at the median; the sweep then drew a regression
    target (skipped here), the weights (``uniform(0, 2)`` where
    ``weighted``) and the penalty: ``l1_ratio`` from ``l1_ratios``, ``alpha
    = 10**uniform(*log_alpha)``.
    """
    rng = np.random.default_rng(seed)
    n_samples, n_features = int(rng.integers(*samples)), int(rng.integers(*features))
    X = rng.standard_normal((n_samples, n_features))
    X *= np.exp(rng.normal(0, 1, n_features))
    score = X @ rng.standard_normal(n_features)
    scaled_noise = rng.logistic(size=n_samples) * rng.uniform(*noise)
    labels = (score + scaled_noise > np.median(score)).astype(int)
    rng.standard_normal(n_features), rng.random(n_features)
    rng.uniform(*target_noise), rng.standard_t(3, n_samples)
    weight = rng.uniform(0, 2, n_samples) if weighted else None
    l1_ratio = float(rng.choice(l1_ratios))
    alpha = float(10 ** rng.uniform(*log_alpha))
    return X, labels, weight, l1_ratio, alpha
