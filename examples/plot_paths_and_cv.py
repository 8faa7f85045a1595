"""
=====================================================
Regularization paths and cross-validation, per loss
=====================================================

Every estimator has a cross-validated version (``HuberLossRegressorCV``,
``QuantileLossRegressorCV``, ``HingeLossClassifierCV``,
``LogisticLossClassifierCV``, ``FocalLossClassifierCV``) that picks
``alpha`` (and ``l1_ratio`` when given a list) by the held-out value of the
estimator's own loss. On each fold it solves the whole regularization path,
each alpha warm-started from the one before, instead of a cold fit per grid
point; :func:`~sklearn_losses.loss_path` gives the same path on any data.

Top row: the coefficients along the elastic-net path (``l1_ratio = 0.5``)
on all the data, from the smallest alpha at which every coefficient is zero
(computed exactly for each loss) down to a thousandth of it. Bottom row:
the held-out loss, mean over 5 folds with one standard deviation, and the
chosen ``alpha_``. Each point of the paths is certified: its relative
duality gap (or, for focal, its stationarity residual) is printed.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler

from sklearn_losses import (
    FocalLossClassifier,
    FocalLossClassifierCV,
    HingeLossClassifier,
    HingeLossClassifierCV,
    HuberLossRegressor,
    HuberLossRegressorCV,
    LogisticLossClassifier,
    LogisticLossClassifierCV,
    QuantileLossRegressor,
    QuantileLossRegressorCV,
    loss_path,
)

X_regression, y_regression = load_diabetes(return_X_y=True)
X_regression = StandardScaler().fit_transform(X_regression)
X_classification, y_classification = load_breast_cancer(return_X_y=True)
X_classification = StandardScaler().fit_transform(X_classification)

# The loss parameters are in the units of y: diabetes targets are in the
# hundreds, so Huber's quadratic zone is 20 wide.
models = {
    "Huber (delta = 20)": (
        HuberLossRegressorCV(delta=20.0),
        HuberLossRegressor(delta=20.0),
        "regression",
    ),
    "pinball (quantile = 0.9)": (
        QuantileLossRegressorCV(quantile=0.9),
        QuantileLossRegressor(quantile=0.9),
        "regression",
    ),
    "hinge": (HingeLossClassifierCV(), HingeLossClassifier(), "classification"),
    "logistic": (
        LogisticLossClassifierCV(),
        LogisticLossClassifier(),
        "classification",
    ),
    "focal (gamma = 2)": (
        FocalLossClassifierCV(gamma=2.0),
        FocalLossClassifier(gamma=2.0),
        "classification",
    ),
}
data = {
    "regression": (X_regression, y_regression),
    "classification": (X_classification, y_classification),
}

# %%
# Fit each CV estimator on a 30-alpha grid, and the path of its plain
# estimator on all the data.
fitted, paths = {}, {}
for title, (model, plain, kind) in models.items():
    X, y = data[kind]
    model.set_params(l1_ratio=0.5, n_alphas=30)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    path = loss_path(plain.set_params(l1_ratio=0.5), X, y, n_alphas=30)
    fitted[title], paths[title] = model, path
    gaps = np.asarray(path.duality_gaps)
    print(
        f"{title:25s} alpha_ = {model.alpha_:.3g}, "
        f"{np.count_nonzero(model.coef_)} of {model.coef_.size} coefficients "
        f"non-zero, 5-fold CV of 30 alphas in {seconds:.2f} s; "
        f"largest gap on the path {gaps.max():.1e}"
    )

# %%
fig, axes = plt.subplots(2, len(models), figsize=(17, 6.5), sharex="col")
for column, (title, model) in enumerate(fitted.items()):
    path = paths[title]
    coefs = path.coefs.reshape(len(path.alphas), -1)
    top, bottom = axes[0, column], axes[1, column]
    top.plot(path.alphas, coefs, linewidth=1)
    top.set_title(title)
    mean = -model.scores_.mean(axis=1)
    spread = model.scores_.std(axis=1)
    bottom.plot(model.alphas_, mean, color="black")
    bottom.fill_between(
        model.alphas_, mean - spread, mean + spread, color="grey", alpha=0.3
    )
    for axis in (top, bottom):
        axis.axvline(model.alpha_, color="tab:red", linestyle="--", linewidth=1)
        axis.set_xscale("log")
    bottom.invert_xaxis()
    bottom.set_xlabel("alpha (decreasing)")
axes[0, 0].set_ylabel("coefficient")
axes[1, 0].set_ylabel("held-out loss (mean over folds)")
axes[1, -1].plot([], [], color="tab:red", linestyle="--", label="alpha_")
axes[1, -1].legend(loc="upper right")
fig.suptitle("Elastic-net paths (l1_ratio = 0.5) and 5-fold CV curves")
fig.tight_layout()
plt.show()
