"""Regularization paths and CV estimators against cold fits and grid searches.

Usage::

    pip install ".[bench]"
    python benchmarks/cv.py --quick    # a few minutes on 2 cores; results-cv-quick.md
    python benchmarks/cv.py            # larger sizes; writes results-cv.md

Three tables, each on the same data in this one process:

* ``loss_path`` over an automatic grid of alphas against one cold fit at
  the grid's smallest alpha (the ratio path / fit), with the largest
  duality gap along the path (relative; for focal, the stationarity
  residual);
* each CV estimator against a ``GridSearchCV`` of its plain estimator over
  the same grid, folds and scorer: time, speedup, and whether both chose the
  same ``alpha`` and ``l1_ratio``;
* ``LogisticLossClassifierCV`` against scikit-learn's ``LogisticRegressionCV``
  (lbfgs, L2) on the same folds, its ``Cs`` the same problems as our alphas
  on each fold's training rows (``C = 1 / (alpha * n_train)``), both at
  tol=1e-10: time, the choice, and the refit's objective at scikit-learn's
  chosen penalty (both evaluated by one function).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from run import machine, make_data, objective_value  # noqa: E402

from sklearn_losses import (  # noqa: E402
    FocalLossClassifier,
    FocalLossClassifierCV,
    HingeLossClassifier,
    HingeLossClassifierCV,
    HuberLossRegressor,
    HuberLossRegressorCV,
    LogCoshLossRegressor,
    LogCoshLossRegressorCV,
    LogisticLossClassifier,
    LogisticLossClassifierCV,
    PoissonLossRegressor,
    PoissonLossRegressorCV,
    QuantileLossRegressor,
    QuantileLossRegressorCV,
    loss_path,
)

# (name, CV estimator, plain estimator, data kind, l1_ratios)
CELLS = [
    ("logistic", LogisticLossClassifierCV(), LogisticLossClassifier(), "binary"),
    ("huber", HuberLossRegressorCV(), HuberLossRegressor(), "regression"),
    ("log-cosh", LogCoshLossRegressorCV(), LogCoshLossRegressor(), "regression"),
    (
        "squared hinge",
        HingeLossClassifierCV(loss="squared_hinge"),
        HingeLossClassifier(loss="squared_hinge"),
        "binary",
    ),
    ("hinge", HingeLossClassifierCV(), HingeLossClassifier(), "binary"),
    (
        "quantile 0.8",
        QuantileLossRegressorCV(quantile=0.8),
        QuantileLossRegressor(quantile=0.8),
        "regression",
    ),
    ("poisson", PoissonLossRegressorCV(), PoissonLossRegressor(), "counts"),
    ("focal", FocalLossClassifierCV(), FocalLossClassifier(), "binary"),
    (
        "multinomial",
        LogisticLossClassifierCV(),
        LogisticLossClassifier(),
        "multiclass",
    ),
]
PENALTIES = {"L2": 0.0, "EN": 0.5, "L1": 1.0}


def data(kind, n_samples, n_features, seed):
    if kind == "multiclass":
        return make_data(
            "classification", n_samples, n_features, n_classes=5, seed=seed
        )
    return make_data(kind, n_samples, n_features, seed=seed)


def seconds(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def path_rows(shapes, n_alphas, only):
    rows = []
    for n_samples, n_features in shapes:
        for name, _, plain, kind in CELLS:
            for penalty, l1_ratio in PENALTIES.items():
                if only and only not in name:
                    continue
                if name == "multinomial" and penalty == "EN":
                    continue
                X, y = data(kind, n_samples, n_features, seed=1)
                estimator = clone(plain).set_params(l1_ratio=l1_ratio)
                path_seconds, path = seconds(
                    loss_path, estimator, X, y, n_alphas=n_alphas
                )
                smallest = clone(estimator).set_params(alpha=path.alphas[-1])
                fit_seconds, _ = seconds(smallest.fit, X, y)
                rows.append(
                    [
                        f"{name} {penalty}",
                        f"{n_samples:,} x {n_features}",
                        f"{path_seconds:.2f}",
                        f"{fit_seconds:.3f}",
                        f"{path_seconds / fit_seconds:.1f}",
                        f"{np.max(path.duality_gaps):.1e}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    return rows


def cv_rows(shapes, n_alphas, only):
    rows = []
    for n_samples, n_features in shapes:
        for name, searcher, _, kind in CELLS:
            for l1_ratios in ([0.0], [0.5, 1.0]):
                if only and only not in name:
                    continue
                X, y = data(kind, n_samples, n_features, seed=2)
                splitter = (
                    KFold(5) if kind in ("regression", "counts") else StratifiedKFold(5)
                )
                folds = list(splitter.split(X, y))
                cv = clone(searcher).set_params(
                    l1_ratio=l1_ratios, n_alphas=n_alphas, cv=folds
                )
                cv_seconds, _ = seconds(cv.fit, X, y)
                alphas = np.atleast_2d(cv.alphas_)
                grid = [
                    {"alpha": list(alphas[index]), "l1_ratio": [l1_ratio]}
                    for index, l1_ratio in enumerate(l1_ratios)
                ]
                search = GridSearchCV(
                    cv._plain_estimator(l1_ratios[0]),
                    grid,
                    cv=folds,
                    scoring=cv._get_scorer(),
                )
                grid_seconds, _ = seconds(search.fit, X, y)
                same = (
                    np.isclose(search.best_params_["alpha"], cv.alpha_, rtol=1e-12)
                    and search.best_params_["l1_ratio"] == cv.l1_ratio_
                )
                rows.append(
                    [
                        f"{name} l1_ratio={l1_ratios}",
                        f"{n_samples:,} x {n_features}",
                        f"{cv_seconds:.2f}",
                        f"{grid_seconds:.2f}",
                        f"{grid_seconds / cv_seconds:.1f}",
                        "yes" if same else "**no**",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    return rows


def logistic_rows(shapes, n_alphas):
    rows = []
    for n_samples, n_features in shapes:
        X, y = make_data("binary", n_samples, n_features, seed=3)
        folds = list(StratifiedKFold(5).split(X, y))
        ours = LogisticLossClassifierCV(n_alphas=n_alphas, cv=folds)
        ours_seconds, _ = seconds(ours.fit, X, y)
        n_train = len(folds[0][0])
        theirs = LogisticRegressionCV(
            Cs=1.0 / (ours.alphas_ * n_train),
            cv=folds,
            scoring="neg_log_loss",
            tol=1e-10,
            max_iter=10_000,
            l1_ratios=(0.0,),
            use_legacy_attributes=False,
        )
        theirs_seconds, _ = seconds(theirs.fit, X, y)
        their_alpha = 1.0 / (theirs.C_ * n_samples)
        same = np.isclose(1.0 / (theirs.C_ * n_train), ours.alpha_, rtol=1e-9)
        reference = LogisticLossClassifier(alpha=their_alpha).fit(X, y)

        def objective(coef, intercept, alpha=their_alpha, X=X, y=y):
            return objective_value(
                "logistic", X, y, coef, intercept, alpha=alpha, l1_ratio=0.0
            )

        ours_objective = objective(reference.coef_, reference.intercept_)
        theirs_objective = objective(theirs.coef_, theirs.intercept_)
        rows.append(
            [
                f"{n_samples:,} x {n_features}",
                f"{ours_seconds:.2f}",
                f"{theirs_seconds:.2f}",
                f"{ours_seconds / theirs_seconds:.2f}",
                "yes" if same else "**no**",
                f"{(theirs_objective - ours_objective) / abs(ours_objective):.1e}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    return rows


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", default=None, help="cells whose name has this")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        path_shapes, cv_shapes = [(2_000, 20), (10_000, 50)], [(5_000, 30)]
        logistic_shapes, n_alphas = [(5_000, 30), (20_000, 50)], 20
    else:
        path_shapes, cv_shapes = (
            [(2_000, 20), (10_000, 50), (50_000, 30)],
            [
                (5_000, 30),
                (20_000, 50),
            ],
        )
        logistic_shapes, n_alphas = [(5_000, 30), (20_000, 50), (100_000, 20)], 30
    output = args.output or HERE / (
        "results-cv-quick.md" if args.quick else "results-cv.md"
    )
    warnings.simplefilter("ignore", ConvergenceWarning)

    report = [
        "# Benchmark: regularization paths and CV estimators",
        "",
        f"Machine: {machine()}.",
        "",
        f"Command: `python benchmarks/cv.py{' --quick' if args.quick else ''}`; "
        "one timing per cell (ratios within one process; the machine is noisy).",
        "",
        "## A 100-alpha path against one fit at its smallest alpha",
        "",
        "`loss_path(estimator, X, y)` (100 alphas from alpha_max down to "
        "1e-3 alpha_max, warm-started) against one cold fit at the smallest "
        "alpha, default tol=1e-10. Largest gap: the largest `duality_gap_` "
        "along the path.",
        "",
    ]
    report += table(
        ["problem", "shape", "path (s)", "fit (s)", "path / fit", "largest gap"],
        path_rows(path_shapes, 100, args.only),
    )
    report += [
        "",
        f"## CV estimators against GridSearchCV ({n_alphas} alphas, 5 folds)",
        "",
        "The same grid (the CV estimator's `alphas_`), folds and scorer (the "
        "loss on the held-out rows); GridSearchCV refits too.",
        "",
    ]
    report += table(
        ["problem", "shape", "CV (s)", "GridSearchCV (s)", "speedup", "same choice"],
        cv_rows(cv_shapes, n_alphas, args.only),
    )
    if not args.only or args.only in "logistic":
        report += [
            "",
            f"## LogisticLossClassifierCV against LogisticRegressionCV "
            f"({n_alphas} alphas, 5 folds, L2)",
            "",
            "Objective: (theirs - ours) / ours at scikit-learn's refit penalty "
            "(> 0: ours lower).",
            "",
        ]
        report += table(
            ["shape", "ours (s)", "LogisticRegressionCV (s)", "ours / theirs"]
            + ["same choice", "objective"],
            logistic_rows(logistic_shapes, n_alphas),
        )
    output.write_text("\n".join(report) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
