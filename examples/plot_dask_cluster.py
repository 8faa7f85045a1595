"""
Fitting on a Dask cluster
=========================

A quantile regression fitted on a Dask array, on a local Dask cluster: the
rows stay in their chunks on the workers, and the fit reaches the same
optimum as in memory. Then a grid search over the cluster through joblib's
Dask backend.
"""

# %%
# A cluster and data in chunks
# ----------------------------
# ``LocalCluster`` stands in for a real cluster here (``Client("tcp://...")``
# connects to one); the dashboard shows each pass over the chunks as it runs.
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster

from sklearn_losses import QuantileLossRegressor

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False)
client = Client(cluster)
print("Dashboard:", client.dashboard_link)

rng = np.random.default_rng(0)
n_samples = 200_000
x = rng.uniform(0, 10, n_samples)
# Noise that grows with x: each quantile has its own slope.
y = 2.0 + 0.5 * x + (0.2 + 0.3 * x) * rng.standard_normal(n_samples)
X = da.from_array(x[:, None], chunks=(25_000, 1))
print(f"X: {X.shape} in {X.numblocks[0]} chunks of rows")

# %%
# One fit per quantile, each on the cluster
# -----------------------------------------
# The pinball loss is kinked: the fit smooths it over the chunks, then brings
# only the rows near the kink to the client for the exact final solve.
models = {
    q: QuantileLossRegressor(quantile=q, alpha=0.0).fit(X, y) for q in (0.1, 0.5, 0.9)
}
for q, model in models.items():
    in_memory = QuantileLossRegressor(quantile=q, alpha=0.0).fit(x[:, None], y)
    gap = abs(model.objective_ - in_memory.objective_) / in_memory.objective_
    print(
        f"quantile {q}: slope {model.coef_[0]:.4f}, intercept {model.intercept_:.4f}, "
        f"objective {model.objective_:.10f} (in memory: relative difference {gap:.0e})"
    )

# %%
# Predictions on a Dask array are lazy, one chunk of rows each.
grid = da.linspace(0, 10, 50, chunks=25)[:, None]
lazy = models[0.9].predict(grid)
print(lazy)

fig, ax = plt.subplots(figsize=(6, 4))
shown = rng.choice(n_samples, 2000, replace=False)
ax.scatter(x[shown], y[shown], s=3, alpha=0.3, color="grey", label="a sample of rows")
for q, model in models.items():
    ax.plot(grid[:, 0].compute(), model.predict(grid).compute(), label=f"quantile {q}")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend()
ax.set_title("Quantile regression fitted on a Dask cluster")
fig.tight_layout()

# %%
# A grid search over the cluster
# ------------------------------
# For data that fits in memory, ``GridSearchCV`` sends each fit to a worker
# through joblib's Dask backend.
from joblib import parallel_backend  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_losses import HuberLossRegressor  # noqa: E402

search = GridSearchCV(
    HuberLossRegressor(),
    {"delta": [0.5, 1.0, 2.0], "alpha": [1e-4, 1e-2]},
    cv=3,
    n_jobs=-1,
)
with parallel_backend("dask"):
    search.fit(x[:20_000, None], y[:20_000])
print("best:", search.best_params_)

client.close()
cluster.close()
