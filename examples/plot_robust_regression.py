"""
==========================================
Robust regression with the Huber loss
==========================================

Ordinary least squares lets a few gross outliers in ``y`` drag the fit
anywhere. :class:`~sklearn_losses.HuberLossRegressor` counts residuals
beyond ``delta`` linearly, so each outlier pulls with a bounded force. We
compare it, for several ``delta``, with least squares and with
scikit-learn's :class:`~sklearn.linear_model.HuberRegressor` (which also
fits a scale, so its threshold is relative rather than in units of ``y``).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import HuberRegressor, LinearRegression

from sklearn_losses import HuberLossRegressor

rng = np.random.default_rng(42)
n_samples = 80
x = rng.uniform(0, 10, n_samples)
y = 2.0 * x + 1.0 + rng.normal(0, 1.0, n_samples)
# A tenth of the targets corrupted, all in the same direction (the hard case).
outliers = rng.choice(n_samples, 8, replace=False)
y[outliers] += rng.uniform(25, 40, outliers.size)
X = x.reshape(-1, 1)

# %%
# Fits
# ----
fits = {"least squares": LinearRegression().fit(X, y)}
for delta in [0.5, 2.0, 10.0, 50.0]:
    fits[f"HuberLossRegressor, delta={delta:g}"] = HuberLossRegressor(
        delta=delta, alpha=0.0
    ).fit(X, y)
fits["sklearn HuberRegressor (epsilon=1.35)"] = HuberRegressor(alpha=0.0).fit(X, y)
for name, model in fits.items():
    print(f"{name:40s} slope {model.coef_[0]:6.3f}  intercept {model.intercept_:6.3f}")
print("true model                               slope  2.000  intercept  1.000")

# %%
# The picture
# -----------
# Small ``delta`` recovers the clean line; as ``delta`` grows past the size
# of the outliers the Huber fit becomes least squares.
grid = np.linspace(0, 10, 2).reshape(-1, 1)
fig, axis = plt.subplots(figsize=(7, 4.5))
inliers = np.setdiff1d(np.arange(n_samples), outliers)
axis.scatter(x[inliers], y[inliers], s=14, color="black", label="samples")
axis.scatter(x[outliers], y[outliers], s=30, marker="x", color="red", label="outliers")
colors = plt.cm.viridis(np.linspace(0, 0.9, len(fits)))
for (name, model), color in zip(fits.items(), colors, strict=True):
    style = "--" if name == "least squares" else "-"
    axis.plot(grid, model.predict(grid), style, color=color, label=name)
axis.plot(grid, 2.0 * grid + 1.0, ":", color="grey", label="true line")
axis.set_xlabel("x")
axis.set_ylabel("y")
axis.set_title("Huber regression resists outliers that pull least squares away")
axis.legend(fontsize=7)
fig.tight_layout()
plt.show()
