"""Fits on a Dask cluster: sklearn_losses against dask-ml, same data, same cluster.

Usage::

    pip install ".[bench]"
    python benchmarks/dask_cluster.py --quick     # 1,000,000 x 20, a minute or two
    python benchmarks/dask_cluster.py             # and 4 GB of X, workers of 1.5 GiB

Both fit an L2-penalized logistic regression without an intercept (dask-ml
penalizes its intercept, ours is never penalized: without one the two
objectives coincide). dask-ml (dask-glm) minimizes ``sum_i log-loss +
lambda / 2 |w|**2`` with ``lambda = 1 / C``; ours the mean log-loss plus
``alpha / 2 |w|**2``, so ``alpha = lambda / n_samples``. Both objectives are
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

from sklearn_losses import LogisticLossClassifier
from sklearn_losses._distributed import DistributedObjective
from sklearn_losses._loss import LogisticLoss
from sklearn_losses._penalty import ElasticNet


def make_data(n_samples, n_features, chunk_rows, seed=0):
    """A logistic model's labels on Gaussian features, generated on the workers."""
    state = da.random.RandomState(seed)
    X = state.normal(size=(n_samples, n_features), chunks=(chunk_rows, n_features))
    coef = np.random.default_rng(seed).normal(size=n_features) / np.sqrt(n_features)
    noise = state.logistic(size=n_samples, chunks=chunk_rows)
    y = (X @ coef + noise > 0).astype(float)
    return X, y


def objective_of(X, y, coef, alpha):
    """Our objective (mean log-loss + alpha / 2 |w|**2) at ``coef``, by passes
    over the chunks."""
    objective = DistributedObjective(
        LogisticLoss(),
        X,
        np.where(y > 0, 1.0, -1.0),
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


def compare(client, n_samples, n_features, chunk_rows, solvers, memory_limit):
    from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression

    X, y = make_data(n_samples, n_features, chunk_rows)
    # Generated once and kept on the workers, for every fit alike.
    X = X.persist()
    distributed.wait(X)
    y_local = y.compute()
    alpha = 1e-4
    size_gb = n_samples * n_features * 8 / 1e9
    print(
        f"\n## {n_samples:,} x {n_features}, X = {size_gb:.1f} GB in chunks of "
        f"{chunk_rows:,} rows; workers: {len(client.scheduler_info()['workers'])} x "
        f"{memory_limit}, alpha = {alpha:g}\n"
    )
    print("| fit | seconds | objective | relative to ours | note |")
    print("|---|---|---|---|---|")
    ours = LogisticLossClassifier(alpha=alpha, fit_intercept=False)
    with PeakMemory(client) as memory:
        start = time.perf_counter()
        ours.fit(X, y_local)
        seconds = time.perf_counter() - start
    our_value = objective_of(X, y_local, ours.coef_.ravel(), alpha)
    print(
        f"| sklearn_losses | {seconds:.1f} | {our_value:.12f} | 1 | "
        f"{ours.n_iter_} Newton steps, duality gap {ours.duality_gap_:.1e} |"
    )
    for solver in solvers:
        peer = DaskMLLogisticRegression(
            penalty="l2",
            C=1.0 / (alpha * n_samples),
            fit_intercept=False,
            solver=solver,
            max_iter=100,
        )
        start = time.perf_counter()
        peer.fit(X, y)
        peer_seconds = time.perf_counter() - start
        value = objective_of(X, y_local, peer.coef_.ravel(), alpha)
        print(
            f"| dask-ml {solver} | {peer_seconds:.1f} | {value:.12f} | "
            f"{peer_seconds / seconds:.1f}x the time, objective "
            f"{(value - our_value) / our_value:+.1e} | |"
        )
    peaks = ", ".join(f"{peak / 2**30:.2f}" for peak in sorted(memory.peaks.values()))
    print(f"\nPeak resident memory per worker during our fit (GiB): {peaks}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the small run")
    arguments = parser.parse_args()
    # No spilling to disk: X must fit in the workers' memory, in pieces.
    dask.config.set(
        {
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
            "distributed.worker.memory.pause": 0.95,
        }
    )
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit="4GiB",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"Dashboard: {client.dashboard_link}")
        client.wait_for_workers(2)
        compare(client, 1_000_000, 20, 100_000, ["lbfgs", "admm", "newton"], "4GiB")
    if arguments.quick:
        return
    with (
        LocalCluster(
            n_workers=4,
            threads_per_worker=1,
            memory_limit="1.5GiB",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(5)
        compare(client, 10_000_000, 50, 100_000, ["lbfgs"], "1.5 GiB")


if __name__ == "__main__":
    main()
