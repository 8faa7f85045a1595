"""``python -m sklearn_losses``: every estimator on datasets shipped with scikit-learn.

Prints a table (dataset, estimator, penalty, score, fit time) showing what
each loss buys: robustness to outliers (Huber, quantile vs squared loss),
Poisson regression on claim counts (against the squared loss), class
weights and focal loss on a problem with 3% positives, multinomial
and one-vs-rest classification on digits. ``--plot FILE.png`` also saves a
figure of the loss curves and of robust fits on one feature (needs
matplotlib: the ``plot`` extra).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits, make_classification
from sklearn.linear_model import LinearRegression
from sklearn.metrics import (
    mean_absolute_error,
    mean_poisson_deviance,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_losses import (
    EpsilonInsensitiveLossRegressor,
    FocalLossClassifier,
    HingeLossClassifier,
    HuberLossRegressor,
    LogisticLossClassifier,
    PoissonLossRegressor,
    QuantileLossRegressor,
    __version__,
)


class _Progress:
    """A one-line progress bar on stderr (one line per step when not a terminal)."""

    def __init__(self, total):
        self.total = total
        self.count = 0
        self.interactive = sys.stderr.isatty()

    def step(self, label):
        self.count += 1
        filled = round(20 * (self.count - 1) / self.total)
        bar = "#" * filled + "." * (20 - filled)
        text = f"[{bar}] {self.count}/{self.total} fitting {label}"
        if self.interactive:
            sys.stderr.write("\r\033[K" + text[:150])
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self):
        if self.interactive:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _plot(path, seed):
    """Losses and derivatives; robust fits of one diabetes feature with outliers."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from ._loss import HingeLoss, HuberLoss, LogisticLoss, PinballLoss, SquaredHingeLoss

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.3))
    residual = np.linspace(-3, 3, 601)
    zeros = np.zeros_like(residual)
    for name, loss in [
        ("Huber, delta=1", HuberLoss(1.0)),
        ("pinball, q=0.8", PinballLoss(0.8)),
    ]:
        value, gradient = loss.loss_gradient(residual, zeros)
        axes[0].plot(residual, value, label=name)
        axes[0].plot(
            residual, -gradient, linestyle=":", color=axes[0].lines[-1].get_color()
        )
    axes[0].plot(residual, residual**2 / 2, label="squared / 2")
    axes[0].plot(residual, residual, linestyle=":", color=axes[0].lines[-1].get_color())
    axes[0].set_ylim(-1.2, 3)
    axes[0].set_title("regression losses (solid), derivatives in r (dotted)")
    axes[0].set_xlabel("residual r = y - f")
    margin = residual
    ones = np.ones_like(margin)
    for name, loss in [
        ("hinge", HingeLoss()),
        ("squared hinge", SquaredHingeLoss()),
        ("logistic", LogisticLoss()),
    ]:
        value, gradient = loss.loss_gradient(ones, margin)
        axes[1].plot(margin, value, label=name)
        axes[1].plot(
            margin, gradient, linestyle=":", color=axes[1].lines[-1].get_color()
        )
    axes[1].set_ylim(-2.2, 4)
    axes[1].set_title("classification losses (solid), derivatives in m (dotted)")
    axes[1].set_xlabel("margin m = y f, with the label y = -1 or +1")
    for axis in axes[:2]:
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.legend(fontsize=8)

    X_train, _, y_train, _ = _diabetes_with_outliers(seed)
    bmi = (X_train[:, [2]] - X_train[:, 2].mean()) / X_train[:, 2].std()
    clean = np.abs(y_train) < 500
    axes[2].scatter(bmi[clean], y_train[clean], s=8, color="black", label="samples")
    # The outliers sit at +-1000: drawn at the edges of the view, inside it.
    axes[2].scatter(
        bmi[~clean],
        np.clip(y_train[~clean], -180, 580),
        s=20,
        marker="x",
        color="red",
        label="outliers (+-1000, drawn at the edges)",
    )
    grid = np.linspace(bmi.min(), bmi.max(), 2).reshape(-1, 1)
    for name, model in [
        ("least squares", LinearRegression()),
        ("Huber, delta=20", HuberLossRegressor(delta=20.0)),
        ("median (pinball 0.5)", QuantileLossRegressor(quantile=0.5)),
    ]:
        model.fit(bmi, y_train)
        axes[2].plot(grid, model.predict(grid), label=name)
    axes[2].set_ylim(-200, 600)
    axes[2].set_title("diabetes progression against BMI, 10% outliers in y")
    axes[2].set_xlabel("BMI (standardized)")
    # Outside the axes: clear of the outlier markers along both edges.
    axes[2].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


def _imbalanced(seed):
    """20,000 samples, 3% positives, classes overlapping (5 informative of 20)."""
    X, y = make_classification(
        20_000,
        20,
        n_informative=5,
        weights=[0.97],
        class_sep=0.8,
        random_state=seed,
    )
    return train_test_split(X, y, stratify=y, random_state=seed)


def _claim_counts(seed):
    """20,000 policies, 8 features (3 of them without effect), claim counts
    with a mean of about 0.4 and a log-linear rate."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20_000, 8))
    log_rate = -1.2 + X @ np.array([0.5, -0.4, 0.3, 0.2, -0.2, 0.0, 0.0, 0.0])
    y = rng.poisson(np.exp(log_rate)).astype(float)
    return train_test_split(X, y, random_state=seed)


def _poisson_deviance(model, X, y):
    """Mean Poisson deviance, with predictions floored at 1e-3 (a squared-loss
    model predicts negative counts)."""
    return f"{mean_poisson_deviance(y, np.maximum(model.predict(X), 1e-3)):.4f}"


def _auc_and_recall(model, X, y):
    """Ranking (ROC AUC) and the share of positives found at the default threshold."""
    scores = model.decision_function(X)
    auc = roc_auc_score(y, scores)
    return f"{auc:.3f} / {recall_score(y, scores > 0):.2f}"


def experiments(seed):
    """(dataset, metric name, data, [(name, model, scorer)])."""
    mae = (
        "clean-test MAE",
        lambda m, X, y: f"{mean_absolute_error(y, m.predict(X)):.3f}",
    )
    auc_recall = ("test ROC AUC / recall", _auc_and_recall)
    accuracy = ("test accuracy", lambda m, X, y: f"{m.score(X, y):.3f}")
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
                (
                    "EpsilonInsensitiveLossRegressor(epsilon=10)",
                    EpsilonInsensitiveLossRegressor(epsilon=10.0),
                ),
            ],
        ),
        (
            "synthetic claim counts (mean 0.4)",
            ("test mean Poisson deviance", _poisson_deviance),
            _claim_counts(seed),
            [
                ("LinearRegression (squared loss)", LinearRegression()),
                ("PoissonLossRegressor", PoissonLossRegressor()),
                (
                    "PoissonLossRegressor L1",
                    PoissonLossRegressor(alpha=0.003, l1_ratio=1.0),
                ),
            ],
        ),
        (
            "synthetic, 3% positives",
            auc_recall,
            _imbalanced(seed),
            [
                ("LogisticLossClassifier", LogisticLossClassifier()),
                (
                    "LogisticLossClassifier balanced",
                    LogisticLossClassifier(class_weight="balanced"),
                ),
                ("FocalLossClassifier(gamma=2)", FocalLossClassifier(gamma=2.0)),
                ("FocalLossClassifier(gamma=5)", FocalLossClassifier(gamma=5.0)),
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
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help=(
            "also save a figure of the losses and their derivatives, and of "
            "squared-loss, Huber and median fits on diabetes with outliers "
            "(needs matplotlib: pip install '.[plot]')"
        ),
    )
    args = parser.parse_args(argv)
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib: pip install '.[plot]'")
        # Checked before the fits, which take a while, rather than after.
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            parser.error(f"--plot: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            parser.error(f"--plot: the folder {folder} is not writable")

    print(f"sklearn_losses {__version__}: every model minimizes")
    data_term = "(1/S) sum_i s_i L(y_i, x_i.w + b)"
    penalty = "alpha (l1_ratio |w|_1 + (1-l1_ratio)/2 |w|^2)"
    print(f"  {data_term} + {penalty}")
    rows = []
    plan = experiments(args.seed)
    total = sum(len(models) for *_, models in plan)
    progress = _Progress(total)
    for dataset, (metric, score), (
        X_train,
        X_test,
        y_train,
        y_test,
    ), models in plan:
        for name, model in models:
            progress.step(f"{name} on {dataset}")
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
                    f"{score(pipeline, X_test, y_test)}{note}",
                    f"{elapsed * 1000:.0f} ms",
                )
            )
    progress.done()
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
    if args.plot is not None:
        _plot(args.plot, args.seed)
        print(f"\nfigure written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
