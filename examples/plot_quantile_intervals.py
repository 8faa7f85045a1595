"""
===================================================
Prediction intervals from quantile regression
===================================================

Three :class:`~sklearn_losses.QuantileLossRegressor` fits, at quantiles
0.05, 0.5 and 0.95, give a median prediction and a 90% prediction interval.
The noise here grows with ``x`` (heteroscedastic), so the interval widens
with it. Coverage, the share of held-out targets inside the interval, is
measured on data the models never saw.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

from sklearn_losses import QuantileLossRegressor
from sklearn_losses.metrics import pinball_loss

rng = np.random.default_rng(0)
n_samples = 4000
x = rng.uniform(0, 10, n_samples)
y = np.sin(x) * 3 + x + rng.standard_normal(n_samples) * (0.3 + 0.3 * x)
X = x.reshape(-1, 1)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)

# %%
# One model per quantile (a spline basis makes them non-linear in x)
# --------------------------------------------------------------------
models = {}
for quantile in [0.05, 0.5, 0.95]:
    models[quantile] = make_pipeline(
        SplineTransformer(n_knots=8, degree=3),
        QuantileLossRegressor(quantile=quantile, alpha=1e-5),
    ).fit(X_train, y_train)
    loss = pinball_loss(y_test, models[quantile].predict(X_test), quantile=quantile)
    print(f"quantile {quantile:4.2f}: held-out pinball loss {loss:.3f}")

lower, upper = models[0.05].predict(X_test), models[0.95].predict(X_test)
coverage = np.mean((y_test >= lower) & (y_test <= upper))
below = np.mean(y_test < models[0.5].predict(X_test))
print(f"held-out coverage of the 90% interval: {100 * coverage:.1f}%")
print(f"share of held-out targets below the median fit: {100 * below:.1f}%")

# %%
# The interval
# ------------
grid = np.linspace(0, 10, 400).reshape(-1, 1)
fig, axis = plt.subplots(figsize=(7, 4.5))
axis.scatter(
    X_test[:600], y_test[:600], s=5, color="grey", alpha=0.5, label="held-out samples"
)
axis.fill_between(
    grid.ravel(),
    models[0.05].predict(grid),
    models[0.95].predict(grid),
    alpha=0.3,
    label=f"90% interval (coverage {100 * coverage:.1f}%)",
)
axis.plot(grid, models[0.5].predict(grid), color="black", label="median (q = 0.5)")
axis.set_xlabel("x")
axis.set_ylabel("y")
axis.set_title("Quantile regression: an interval that widens with the noise")
axis.legend()
fig.tight_layout()
plt.show()
