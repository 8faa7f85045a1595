"""Fits on a Dask cluster: sklearn_losses against dask-ml, same data, same cluster.

Usage::

    pip install ".[bench]"
    python benchmarks/dask_cluster.py --quick     # 1,000,000 x 20, a minute or two
    python benchmarks/dask_cluster.py             # and 4 GB of X, workers of 1.5 GiB

Both fit L2-penalized logistic, Poisson (log link) and least-squares
regressions without an intercept (dask-ml penalizes its intercept, ours is
never penalized: without one the objectives coincide). dask-ml (dask-glm)
minimizes ``sum_i loss_i + lambda / 2 |w|**2`` with ``lambda = 1 / C``; ours
the mean loss plus ``alpha / 2 |w|**2``, so ``alpha = lambda / n_samples``
(the Poisson losses differ by a constant, ``y log y - y``). Both objectives are
evaluated by one function, ours, at each fit's coefficients, in the same
passes over the chunks. The large run keeps X (generated chunk by chunk by
``dask.array.random`` on the workers) larger than any worker's memory
limit, and reports each worker's peak resident memory during our fit.
"""

import argparse
import threading
import time

import dask
import dask.array as da
import numpy as np
from dask import distributed
from dask.distributed import Client, LocalCluster

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    LogisticLossClassifier,
    PoissonLossRegressor,
)
from sklearn_losses._distributed import DistributedObjective
from sklearn_losses._loss import (
    LogisticLoss,
    PoissonLoss,
    SquaredEpsilonInsensitiveLoss,
)
from sklearn_losses._penalty import ElasticNet


def make_data(n_samples, n_features, chunk_rows, seed=0):
    """Gaussian features and a linear score, generated on the workers; the
    targets of each model are drawn from the score (``TARGETS``)."""
    state = da.random.RandomState(seed)
    X = state.normal(size=(n_samples, n_features), chunks=(chunk_rows, n_features))
    coef = np.random.default_rng(seed).normal(size=n_features) / np.sqrt(n_features)
    return X, X @ coef, state


TARGETS = {
    "logistic": lambda score, state: (
        score + state.logistic(size=score.shape[0], chunks=score.chunks[0]) > 0
    ).astype(float),
    "poisson": lambda score, state: state.poisson(da.exp(0.5 * score)).astype(float),
    "linear": lambda score, state: (
        score + state.normal(size=score.shape[0], chunks=score.chunks[0])
    ),
}


def models(alpha):
    """Per model: our estimator, dask-ml's, and our loss (in the encoding of
    its targets) for evaluating both fits. ``alpha = lambda / n_samples``
    (``C = 1 / lambda``), no intercept in either."""
    from dask_ml.linear_model import (
        LinearRegression,
        LogisticRegression,
        PoissonRegression,
    )

    return {
        "logistic": (
            LogisticLossClassifier(alpha=alpha, fit_intercept=False),
            LogisticRegression,
            LogisticLoss(),
            lambda y: np.where(y > 0, 1.0, -1.0),
        ),
        "poisson": (
            PoissonLossRegressor(alpha=alpha, fit_intercept=False),
            PoissonRegression,
            PoissonLoss(),
            lambda y: y,
        ),
        "linear": (
            EpsilonInsensitiveLossRegressor(
                epsilon=0.0,
                loss="squared_epsilon_insensitive",
                alpha=alpha,
                fit_intercept=False,
            ),
            LinearRegression,
            SquaredEpsilonInsensitiveLoss(0.0),
            lambda y: y,
        ),
    }


def objective_of(X, y, coef, alpha, loss):
    """Our objective (mean loss + alpha / 2 |w|**2) at ``coef``, by passes over
    the chunks: the same function for both fits."""
    objective = DistributedObjective(
        loss,
        X,
        y,
        np.ones(X.shape[0]),
        penalty=ElasticNet(0.0, alpha),
        fit_intercept=False,
    )
    return objective.value(np.asarray(coef, dtype=float).reshape(-1, 1), np.zeros(1))


class PeakMemory:
    """Each worker's peak resident memory while the context runs (sampled)."""

    def __init__(self, client, every=0.2):
        self.client, self.every = client, every
        self.peaks = {}

    def _sample(self):
        while not self._stop.is_set():
            for address, info in self.client.scheduler_info()["workers"].items():
                memory = info["metrics"]["memory"]
                self.peaks[address] = max(self.peaks.get(address, 0), memory)
            self._stop.wait(self.every)

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()


def fit_all(client, shape, chunk_rows, kind, fits, alpha=1e-4):
    """Each fit of ``fits`` ("ours" or a dask-ml solver) on the same data:
    ``{fit: (seconds, objective, note, peak resident memory per worker)}``."""
    n_samples, n_features = shape
    X, score, state = make_data(n_samples, n_features, chunk_rows)
    # Generated once and kept on the workers, for every fit alike.
    X = X.persist()
    distributed.wait(X)
    ours, peer_class, loss, encode = models(alpha)[kind]
    y = TARGETS[kind](score, state).persist()
    y_local = y.compute()
    rows = {}
    for fit in fits:
        if fit == "ours":
            model, target = ours, y_local
        else:
            model = peer_class(
                penalty="l2",
                C=1.0 / (alpha * n_samples),
                fit_intercept=False,
                solver=fit,
                max_iter=100,
            )
            target = y
        with PeakMemory(client) as memory:
            start = time.perf_counter()
            try:
                model.fit(X, target)
            except Exception as error:  # a worker over its memory limit, say
                rows[fit] = (np.nan, np.nan, f"failed: {type(error).__name__}", [])
                continue
            seconds = time.perf_counter() - start
        note = (
            f"{model.n_iter_} Newton steps, gap {model.duality_gap_:.0e}"
            if fit == "ours"
            else ""
        )
        value = objective_of(X, encode(y_local), model.coef_.ravel(), alpha, loss)
        rows[fit] = (seconds, value, note, sorted(memory.peaks.values()))
    return rows


def report(title, rows):
    """The table of ``fit_all``'s rows, ratios to ours."""
    our_seconds, our_value = rows["ours"][:2]
    print(f"\n### {title}\n")
    print("| fit | seconds | time / ours | objective | objective - ours (relative) |")
    print("|---|---|---|---|---|")
    for fit, (seconds, value, note, _) in rows.items():
        name = "sklearn_losses" if fit == "ours" else f"dask-ml {fit}"
        print(
            f"| {name} {f'({note})' if note else ''} | {seconds:.1f} | "
            f"{seconds / our_seconds:.1f} | {value:.12f} | "
            f"{(value - our_value) / our_value:+.1e} |"
        )
    peaks = ", ".join(f"{peak / 2**30:.2f}" for peak in rows["ours"][3])
    print(f"\nPeak resident memory per worker during our fit (GiB): {peaks}")


def cluster(n_workers, memory_limit):
    """A LocalCluster of single-threaded worker processes, and its client."""
    local = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        memory_limit=memory_limit,
        dashboard_address=":0",
    )
    client = Client(local)
    client.wait_for_workers(n_workers)
    print(f"Dashboard: {client.dashboard_link}")
    return local, client


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the small run")
    parser.add_argument("--large", action="store_true", help="only the large run")
    arguments = parser.parse_args()
    # No spilling to disk: X must fit in the workers' memory, in pieces.
    dask.config.set(
        {
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
            "distributed.worker.memory.pause": 0.95,
        }
    )
    if not arguments.large:
        local, client = cluster(2, "4GiB")
        print("\n## 1,000,000 x 20 (0.16 GB), chunks of 100,000 rows, 2 workers")
        for kind in ("logistic", "poisson", "linear"):
            rows = fit_all(
                client,
                (1_000_000, 20),
                100_000,
                kind,
                ["ours", "lbfgs", "newton", "admm"],
            )
            report(kind, rows)
        client.close()
        local.close()
    if arguments.quick:
        return
    # 4 GB of X on five workers of 1.5 GiB: each fit on a fresh cluster, so
    # that no fit inherits the memory another left to its workers.
    print("\n## 10,000,000 x 50 (4.0 GB), chunks of 100,000 rows, 5 workers of 1.5 GiB")
    rows = {}
    for fit in ("ours", "lbfgs"):
        local, client = cluster(5, "1.5GiB")
        rows.update(fit_all(client, (10_000_000, 50), 100_000, "logistic", [fit]))
        client.close()
        local.close()
    report("logistic", rows)


if __name__ == "__main__":
    main()
