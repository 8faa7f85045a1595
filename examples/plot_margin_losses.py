"""
=========================================================
Hinge, squared hinge and logistic: boundaries and margins
=========================================================

Three classifiers on the same two-dimensional data, with the same penalty:
the hinge loss (a linear SVM) ignores every sample beyond the margin and is
decided by the few on or inside it; the squared hinge weighs violations
quadratically; the logistic loss never reaches zero, so every sample pulls a
little. The solid line is the decision boundary ``f = 0``, the dashed lines
``f = +-1`` (the margin of the hinge losses); circled samples are those
with ``y~ f <= 1``, which determine the hinge solution.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_losses import HingeLossClassifier, LogisticLossClassifier

rng = np.random.default_rng(3)
n_per_class = 60
X = np.vstack(
    [
        rng.normal([-1.2, -0.8], 0.9, (n_per_class, 2)),
        rng.normal([1.2, 0.8], 0.9, (n_per_class, 2)),
    ]
)
y = np.repeat([0, 1], n_per_class)
models = {
    "hinge": HingeLossClassifier(loss="hinge", alpha=0.05),
    "squared hinge": HingeLossClassifier(loss="squared_hinge", alpha=0.05),
    "logistic": LogisticLossClassifier(alpha=0.05),
}

# %%
xx, yy = np.meshgrid(np.linspace(-4.5, 4.5, 300), np.linspace(-4, 4, 300))
grid = np.column_stack([xx.ravel(), yy.ravel()])
fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), sharey=True)
signed = np.where(y == 1, 1.0, -1.0)
for axis, (name, model) in zip(axes, models.items(), strict=True):
    model.fit(X, y)
    scores = model.decision_function(grid).reshape(xx.shape)
    axis.contourf(xx, yy, scores, levels=20, cmap="RdBu", alpha=0.35)
    axis.contour(
        xx, yy, scores, levels=[-1, 0, 1], colors="black", linestyles=["--", "-", "--"]
    )
    axis.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolor="black", s=18)
    margin = signed * model.decision_function(X)
    inside = margin <= 1 + 1e-9
    axis.scatter(X[inside, 0], X[inside, 1], s=90, facecolor="none", edgecolor="orange")
    accuracy = model.score(X, y)
    axis.set_title(
        f"{name}: {inside.sum()} samples with margin <= 1, accuracy {accuracy:.2f}"
        f"\n|w| = {np.linalg.norm(model.coef_):.2f}",
        fontsize=9,
    )
    axis.set_xlabel("feature 1")
    print(
        f"{name:14s} samples on or inside the margin: {inside.sum():3d}, "
        f"|w| = {np.linalg.norm(model.coef_):.3f}"
    )
axes[0].set_ylabel("feature 2")
fig.suptitle("Decision boundary (solid) and margin f = +-1 (dashed)")
fig.tight_layout()
plt.show()
