"""
===================================================
An elastic-net regularization path, warm-started
===================================================

Coefficient traces of :class:`~sklearn_losses.LogisticLossClassifier` with
an elastic-net penalty (``l1_ratio = 0.5``) as ``alpha`` decreases from
where every coefficient is zero. Each fit starts from the previous one
(``warm_start=True``), which makes the whole path cheap. Features enter
one by one; the uninformative ones stay at zero longest.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from sklearn_losses import LogisticLossClassifier

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
alphas = np.geomspace(2.0, 1e-4, 40)

# %%
model = LogisticLossClassifier(l1_ratio=0.5, warm_start=True)
coefs, iterations = [], []
start = time.perf_counter()
for alpha in alphas:
    model.set_params(alpha=alpha).fit(X, y)
    coefs.append(model.coef_.ravel().copy())
    iterations.append(model.n_iter_)
warm = time.perf_counter() - start
start = time.perf_counter()
for alpha in alphas:
    LogisticLossClassifier(alpha=alpha, l1_ratio=0.5).fit(X, y)
cold = time.perf_counter() - start
coefs = np.array(coefs)
print(f"path of {alphas.size} fits: {warm:.2f} s warm-started, {cold:.2f} s from zero")
print(f"non-zero coefficients along the path: {(coefs != 0).sum(axis=1)}")

# %%
fig, axis = plt.subplots(figsize=(7, 4.5))
axis.plot(alphas, coefs)
axis.set_xscale("log")
axis.invert_xaxis()
axis.set_xlabel("alpha (decreasing)")
axis.set_ylabel("coefficient")
axis.set_title("Elastic-net logistic regression path (l1_ratio = 0.5)")
fig.tight_layout()
plt.show()
