"""``python -m sklearn_losses``: every estimator on datasets shipped with scikit-learn.

Prints a table (dataset, estimator, penalty, score, fit time) showing what
each loss buys: robustness to outliers (Huber, quantile vs squared loss),
focal vs logistic on an imbalanced problem, multinomial and one-vs-rest
classification on digits.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LinearRegression
from sklearn.metrics import average_precision_score, mean_absolute_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_losses import (
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    QuantileLossRegressor,
    __version__,
)


def _penalty(model):
    alpha = getattr(model, "alpha", None)
    if alpha is None:
        return "-"
    if alpha == 0:
        return "none"
    kind = {0.0: "L2", 1.0: "L1"}.get(model.l1_ratio, f"EN({model.l1_ratio:g})")
    return f"{kind} alpha={alpha:g}"


def _diabetes_with_outliers(seed):
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)
    rng = np.random.default_rng(seed)
    corrupt = rng.choice(len(y_train), size=len(y_train) // 10, replace=False)
    y_train = y_train.copy()
    y_train[corrupt] += rng.choice([-1, 1], corrupt.size) * 1000.0
    return X_train, X_test, y_train, y_test


def _imbalanced_breast_cancer(seed):
    X, y = load_breast_cancer(return_X_y=True)
    y = 1 - y  # malignant as the positive class
    rng = np.random.default_rng(seed)
    positive = np.flatnonzero(y == 1)
    keep = np.concatenate(
        [np.flatnonzero(y == 0), rng.choice(positive, 12, replace=False)]
    )
    return train_test_split(X[keep], y[keep], stratify=y[keep], random_state=seed)


def experiments(seed):
    """(dataset, metric name, data, [(name, model, scorer)])."""
    mae = ("clean-test MAE", lambda m, X, y: mean_absolute_error(y, m.predict(X)))
    ap = (
        "test avg precision",
        lambda m, X, y: average_precision_score(y, m.decision_function(X)),
    )
    accuracy = ("test accuracy", lambda m, X, y: m.score(X, y))
    return [
        (
            "diabetes, 10% outliers in y",
            mae,
            _diabetes_with_outliers(seed),
            [
                ("LinearRegression (squared loss)", LinearRegression()),
                ("HuberLossRegressor(delta=20)", HuberLossRegressor(delta=20.0)),
                ("QuantileLossRegressor(0.5)", QuantileLossRegressor(quantile=0.5)),
                (
                    "QuantileLossRegressor(0.5) L1",
                    QuantileLossRegressor(quantile=0.5, alpha=0.01, l1_ratio=1.0),
                ),
            ],
        ),
        (
            "breast cancer, 12 positives",
            ap,
            _imbalanced_breast_cancer(seed),
            [
                ("LogisticLossClassifier", LogisticLossClassifier(alpha=1e-2)),
                ("FocalLossClassifier(gamma=2)", FocalLossClassifier(alpha=1e-2)),
                (
                    "HingeLossClassifier(squared_hinge)",
                    HingeLossClassifier(loss="squared_hinge", alpha=1e-2),
                ),
            ],
        ),
        (
            "digits, 10 classes",
            accuracy,
            train_test_split(*load_digits(return_X_y=True), random_state=seed),
            [
                (
                    "LogisticLossClassifier (multinomial)",
                    LogisticLossClassifier(alpha=1e-3),
                ),
                ("FocalLossClassifier (softmax)", FocalLossClassifier(alpha=1e-3)),
                ("HingeLossClassifier (one-vs-rest)", HingeLossClassifier(alpha=1e-3)),
                (
                    "LogisticLossClassifier elastic net",
                    LogisticLossClassifier(alpha=1e-3, l1_ratio=0.5),
                ),
            ],
        ),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_losses",
        description=(
            "Fit every sklearn_losses estimator on datasets that ship with "
            "scikit-learn and print what each loss buys, with fit times."
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)

    print(f"sklearn_losses {__version__}: every model minimizes")
    data_term = "(1/S) sum_i s_i L(y_i, x_i.w + b)"
    penalty = "alpha (l1_ratio |w|_1 + (1-l1_ratio)/2 |w|^2)"
    print(f"  {data_term} + {penalty}")
    rows = []
    for dataset, (metric, score), (
        X_train,
        X_test,
        y_train,
        y_test,
    ), models in experiments(args.seed):
        for name, model in models:
            print(f"  fitting {name} on {dataset} ...", file=sys.stderr, flush=True)
            pipeline = make_pipeline(StandardScaler(), model)
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pipeline.fit(X_train, y_train)
            elapsed = time.perf_counter() - start
            note = " (did not converge)" if caught else ""
            rows.append(
                (
                    dataset,
                    name,
                    _penalty(model),
                    metric,
                    f"{score(pipeline, X_test, y_test):.3f}{note}",
                    f"{elapsed * 1000:.0f} ms",
                )
            )
    header = ("dataset", "estimator", "penalty", "metric", "score", "fit time")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(6)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print()
    print(line.format(*header))
    print(line.format(*["-" * w for w in widths]))
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            print()
        print(line.format(*row))
        previous = row[0]
    return 0


if __name__ == "__main__":
    sys.exit(main())
