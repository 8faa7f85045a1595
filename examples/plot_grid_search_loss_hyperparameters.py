"""
=========================================================
Tuning the Huber threshold and the penalty by grid search
=========================================================

:class:`~sklearn_losses.HuberLossRegressor` has a loss hyperparameter,
``delta`` (residuals beyond it count linearly, so outliers pull less), and a
penalty strength ``alpha``. Both are ordinary constructor parameters, so
:class:`~sklearn.model_selection.GridSearchCV` tunes them like any other.

The training targets below carry 10% gross outliers; the validation score is
the mean absolute error (robust to those outliers), and the Huber loss on
clean held-out data is reported next to it with our scorer
:func:`~sklearn_losses.metrics.make_loss_scorer`.
"""

# %%
# Data: a linear signal, heavy noise on a tenth of the targets
# ------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_losses import HuberLossRegressor
from sklearn_losses.metrics import make_loss_scorer

rng = np.random.default_rng(0)
n_samples, n_features = 600, 8
X = rng.standard_normal((n_samples, n_features))
true_coef = rng.uniform(-3, 3, n_features)
y_clean = X @ true_coef + 0.5 * rng.standard_normal(n_samples)
y = y_clean.copy()
outliers = rng.random(n_samples) < 0.1
y[outliers] += rng.choice([-1, 1], outliers.sum()) * rng.uniform(20, 60, outliers.sum())

X_train, X_test, y_train, y_test, clean_train, clean_test = train_test_split(
    X, y, y_clean, test_size=0.3, random_state=0
)

# %%
# Search over ``delta`` and ``alpha``
# -----------------------------------
deltas = np.geomspace(0.05, 50, 13)
alphas = [1e-4, 1e-2, 1e-1]
search = GridSearchCV(
    make_pipeline(StandardScaler(), HuberLossRegressor()),
    {"huberlossregressor__delta": deltas, "huberlossregressor__alpha": alphas},
    scoring={
        "mae": "neg_mean_absolute_error",
        "huber": make_loss_scorer("neg_huber_loss", delta=1.0),
    },
    refit="mae",
    n_jobs=2,
).fit(X_train, y_train)
best = search.best_params_
print(
    f"best delta = {best['huberlossregressor__delta']:.3g}, "
    f"best alpha = {best['huberlossregressor__alpha']:g}"
)
coef_error = np.abs(search.best_estimator_[-1].coef_ / X_train.std(axis=0) - true_coef)
print(f"largest coefficient error of the refit model: {coef_error.max():.3f}")
test_mae = np.mean(np.abs(search.predict(X_test) - clean_test))
print(f"mean absolute error on clean held-out targets: {test_mae:.3f}")

# %%
# The validation curves
# ---------------------
# Small ``delta`` behaves like least absolute deviations, large ``delta``
# like least squares, which the outliers drag away; in between lies the
# best trade-off. The Huber loss of a residual ``r`` is about
# ``delta * |r|`` beyond ``delta``, so at small ``delta`` the data term is
# small and a fixed ``alpha`` shrinks the coefficients relatively more: the
# penalty and the threshold have to be tuned together.
results = search.cv_results_
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
for alpha in alphas:
    rows = np.asarray(results["param_huberlossregressor__alpha"]) == alpha
    for axis, name in zip(axes, ["mae", "huber"], strict=True):
        mean = -results[f"mean_test_{name}"][rows]
        axis.plot(deltas, mean, marker="o", label=f"alpha = {alpha:g}")
for axis, title in zip(
    axes,
    ["Mean absolute error (validation)", "Huber loss, delta = 1 (validation)"],
    strict=True,
):
    axis.axvline(
        best["huberlossregressor__delta"], color="grey", linestyle=":", label="best"
    )
    axis.set_xscale("log")
    axis.set_xlabel("delta of the fitted HuberLossRegressor")
    axis.set_title(title)
axes[0].set_ylabel("mean over 5 folds (lower is better)")
axes[0].legend()
fig.suptitle("Validation curves of a grid search over delta and alpha")
fig.tight_layout()
plt.show()
