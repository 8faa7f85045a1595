"""
=====================================================
Focal loss against logistic loss on a rare class
=====================================================

With one positive for fifty negatives, the logistic loss is dominated by
the many easy negatives. The focal loss multiplies each sample's log-loss by
``(1 - p)**gamma``, ``p`` the probability of its true class, so confidently
classified samples count less. ``gamma`` is tuned by
:class:`~sklearn.model_selection.GridSearchCV` on average precision, and the
two models are compared on held-out precision-recall curves.

On this problem, whose classes a linear model separates as well as it can
with either loss, the search picks a small ``gamma`` and the two curves
nearly coincide: the focal loss is no free lunch for a correctly specified
linear model, and the grid search says so instead of assuming otherwise.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.metrics import PrecisionRecallDisplay, average_precision_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_losses import FocalLossClassifier, LogisticLossClassifier

X, y = make_classification(
    n_samples=20_000,
    n_features=20,
    n_informative=6,
    weights=[50 / 51],
    class_sep=0.7,
    flip_y=0.0,
    random_state=0,
)
print(f"positives: {y.sum()} of {y.size} ({100 * y.mean():.1f}%)")
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)

# %%
# Tune gamma
# ----------
search = GridSearchCV(
    make_pipeline(StandardScaler(), FocalLossClassifier(alpha=1e-4)),
    {"focallossclassifier__gamma": [0.0, 0.5, 1.0, 2.0, 3.0]},
    scoring="average_precision",
    cv=4,
    n_jobs=2,
).fit(X_train, y_train)
for gamma, score in zip(
    search.cv_results_["param_focallossclassifier__gamma"],
    search.cv_results_["mean_test_score"],
    strict=True,
):
    print(f"gamma = {gamma:3.1f}: cross-validated average precision {score:.4f}")
focal = search.best_estimator_
logistic = make_pipeline(StandardScaler(), LogisticLossClassifier(alpha=1e-4)).fit(
    X_train, y_train
)

# %%
# Held-out precision and recall
# -----------------------------
fig, axis = plt.subplots(figsize=(6.5, 5))
for name, model in [
    (f"focal, gamma = {search.best_params_['focallossclassifier__gamma']:g}", focal),
    ("logistic", logistic),
]:
    scores = model.decision_function(X_test)
    precision = average_precision_score(y_test, scores)
    print(f"{name:20s} held-out average precision {precision:.4f}")
    PrecisionRecallDisplay.from_predictions(y_test, scores, name=name, ax=axis)
axis.set_title("Rare class (1:50): precision-recall on held-out data")
fig.tight_layout()
plt.show()
