"""``fit`` of the classifiers: class labels (binary, one-vs-rest or
multinomial problems) or soft labels (class probabilities), and the
probabilities of the probabilistic ones."""

import warnings

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
)

from ._base import LossLinearModel, _summable
from ._distributed import (
    is_dask_array,
    lazy_prediction,
)
from ._penalty import ElasticNet


def _has_probability_columns(y):
    """Whether ``y`` is a numeric matrix with two or more columns (soft
    labels), not one label per sample."""
    if not hasattr(y, "shape") and not isinstance(y, list | tuple):
        return False
    try:
        values = np.asarray(y)
    except ValueError:
        return False
    return (
        values.ndim == 2
        and values.shape[1] >= 2
        and np.issubdtype(values.dtype, np.number)
        and not np.issubdtype(values.dtype, np.bool_)
    )


def _check_label_types(y):
    """Labels of one kind: strings, or numbers (booleans count as numbers).

    NumPy cannot sort a mix, and would raise a TypeError from deep inside;
    scikit-learn's own check catches only mixes that start with a number.
    """
    if y.dtype != object or y.size == 0:
        return
    is_string = np.fromiter((isinstance(label, str) for label in y), bool, y.size)
    if is_string.any() and not is_string.all():
        raise ValueError(
            "Unknown label type: the labels mix strings and non-strings, e.g. "
            f"{y[is_string][0]!r} and {y[~is_string][0]!r}; use labels of one "
            "type."
        )


class LossClassifier(LinearClassifierMixin, LossLinearModel):
    """Shared ``fit`` of the classifiers.

    Two classes make one binary problem on the signed label; more classes
    make one multinomial problem (``_multiclass = "multinomial"``) or one
    binary problem per class against the rest (``_multiclass = "ovr"``).
    """

    _parameter_constraints = {
        **LossLinearModel._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _multiclass = "multinomial"
    # Logistic and focal losses are positive for every finite margin.
    _separable_has_no_minimizer = True

    def __init__(
        self,
        *,
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
        class_weight=None,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
        )
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minimizing the objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR and CSC sparse matrices are used as they are.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels (strings, integers or booleans); for
            ``LogisticLossClassifier`` and ``FocalLossClassifier`` also soft
            labels, one row of class probabilities per sample.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero, multiplied by the class
            weights; ``None`` gives every sample weight one.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from sklearn_losses import HingeLossClassifier
        >>> X, y = [[-2.0], [-1.0], [1.0], [2.0]], ["no", "no", "yes", "yes"]
        >>> model = HingeLossClassifier().fit(X, y)
        >>> model.classes_.tolist(), model.predict([[3.0]]).tolist()
        (['no', 'yes'], ['yes'])
        """
        if self._soft_loss(2) is not None and _has_probability_columns(y):
            return self._fit_soft_labels(X, y, sample_weight)
        X, y, sample_weight = self._validate_fit_data(
            X, y, sample_weight, y_numeric=False
        )
        codes, sample_weight = self._encode_classes(y, sample_weight)
        problems = self._problems(X, codes, sample_weight)
        self._solve_problems(problems, X, y, sample_weight)
        if self.alpha == 0 and self._separable_has_no_minimizer:
            weighted = sample_weight > 0
            if np.all(np.asarray(self.predict(X))[weighted] == y[weighted]):
                warnings.warn(
                    f"{type(self).__name__}: with alpha=0 the classes are "
                    "separated by the fitted model, so the objective has no "
                    "minimizer (it decreases without end as the coefficients "
                    "grow); the coefficients returned are where the gradient "
                    "fell below tol. Set alpha > 0 for a well-defined model.",
                    UserWarning,
                    stacklevel=2,
                )
        return self

    def decision_function(self, X):
        """Confidence scores: ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples; a Dask array gives a lazy Dask array.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The score of the positive class for two classes, else one per
            class.

        Examples
        --------
        >>> from sklearn_losses import HingeLossClassifier
        >>> X, y = [[-2.0], [-1.0], [1.0], [2.0]], [0, 0, 1, 1]
        >>> model = HingeLossClassifier().fit(X, y)
        >>> model.decision_function([[-3.0], [3.0]]).round(2).tolist()
        [-3.0, 3.0]
        """
        if is_dask_array(X):
            columns = None if self.coef_.shape[0] == 1 else self.coef_.shape[0]
            return lazy_prediction(self, X, self.decision_function, columns)
        return super().decision_function(X)

    def predict(self, X):
        """Class labels: the class of the highest score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples; a Dask array gives a lazy Dask array.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.

        Examples
        --------
        >>> from sklearn_losses import LogisticLossClassifier
        >>> X, y = [[-2.0], [-1.0], [1.0], [2.0]], ["a", "a", "b", "b"]
        >>> LogisticLossClassifier().fit(X, y).predict([[-3.0], [3.0]]).tolist()
        ['a', 'b']
        """
        if is_dask_array(X):
            return lazy_prediction(self, X, self.predict, dtype=self.classes_.dtype)
        return super().predict(X)

    def _soft_loss(self, n_classes):
        """The loss against class probabilities and its divisor (as
        ``_scaled_loss``'s), or None where the estimator takes class labels
        only."""
        return None

    def _fit_soft_labels(self, X, y, sample_weight):
        """``fit`` on soft labels: one row of class probabilities per sample
        (``classes_`` are the column indices), for the cross-entropy against
        them: label smoothing, distillation, aggregated annotations."""
        if self.class_weight is not None:
            raise ValueError(
                "class_weight weighs samples by their class: with soft labels "
                "(class probabilities) there is none; pass sample_weight."
            )
        X, y, sample_weight = self._validate_fit_data(
            X, y, sample_weight, y_numeric=True, multi_output=True
        )
        y = np.asarray(y, dtype=np.float64)
        n_classes = y.shape[1]
        tolerance = np.sqrt(np.finfo(np.float64).eps) * n_classes
        if (
            not np.all(np.isfinite(y))
            or np.any(y < 0)
            or np.any(np.abs(y.sum(axis=1) - 1.0) > tolerance)
        ):
            raise ValueError(
                "Soft labels must be class probabilities: non-negative, with "
                f"each row summing to 1 (within {tolerance:.1e})."
            )
        self.classes_ = np.arange(n_classes)
        loss, divisor = self._soft_loss(n_classes)
        outputs = 1 if n_classes == 2 else n_classes
        target = y[:, 1] if n_classes == 2 else y
        l1_ratio = self.l1_ratio
        problem = self._problem(
            loss,
            X,
            target,
            sample_weight,
            self._start(X.shape[1], outputs, 0.0),
            lambda alpha: ElasticNet.from_alpha(alpha, l1_ratio).divided(divisor),
            objective_scale=divisor,
        )
        self._solve_problems([problem], X, y, sample_weight)
        return self

    def _path_problems(self, X, y, sample_weight):
        """Validated problems for a path, and the function that sets the
        fitted attributes from their results."""
        X, y, sample_weight = self._validate_fit_data(
            X, y, sample_weight, y_numeric=False
        )
        codes, sample_weight = self._encode_classes(y, sample_weight)
        return self._problems(
            X, codes, sample_weight
        ), lambda results: self._set_fitted(X.dtype, results)

    def _set_fitted(self, dtype, results):
        """``coef_``, ``intercept_`` and the rest from the problems' results."""
        if len(results) == 1 and results[0].coef.shape[1] > 1:
            coef_matrix = results[0].coef.T
            intercept_vector = results[0].intercept
            # Softmax ignores a shift shared by all intercepts, and they are
            # not penalized: report the representative that sums to zero.
            intercept_vector = intercept_vector - intercept_vector.mean()
        else:
            coef_matrix = np.array([result.coef.ravel() for result in results])
            intercept_vector = np.array([result.intercept[0] for result in results])
        self.coef_ = np.ascontiguousarray(coef_matrix, dtype=dtype) + 0.0
        self.intercept_ = intercept_vector.astype(dtype) + 0.0
        self.n_iter_ = max(result.n_iter for result in results)
        # One problem (binary, multinomial): a number; one per class for
        # one-vs-rest, in the order of classes_.
        objectives = [result.objective for result in results]
        gaps = [float(result.certificate.gap) for result in results]
        single = len(results) == 1
        self.objective_ = objectives[0] if single else np.array(objectives)
        self.duality_gap_ = gaps[0] if single else np.array(gaps)

    def _problems(self, X, codes, sample_weight):
        """The problems of a classification fit (validated data, class codes):
        one binary problem on the signed label for two classes, one per class
        against the rest (``_multiclass = "ovr"``), or one multinomial one."""
        n_classes = self.classes_.size
        multinomial = n_classes > 2 and self._multiclass != "ovr"
        loss, divisor = self._scaled_loss(n_classes if multinomial else 2)
        l1_ratio = self.l1_ratio

        def penalty_of(alpha):
            return ElasticNet.from_alpha(alpha, l1_ratio).divided(divisor)

        if multinomial:
            start = self._start(X.shape[1], n_classes, 0.0)
            targets = [codes]
        else:
            positives = (
                [codes == 1]
                if n_classes == 2
                else [codes == k for k in range(n_classes)]
            )
            coef, intercept = self._start(X.shape[1], len(positives), 0.0)
            targets = [np.where(positive, 1.0, -1.0) for positive in positives]
        problems = []
        for k, target in enumerate(targets):
            if not multinomial:
                start = (coef[:, [k]], intercept[[k]])
            problems.append(
                self._problem(
                    loss,
                    X,
                    target,
                    sample_weight,
                    start,
                    penalty_of,
                    objective_scale=divisor,
                )
            )
        return problems

    def _encode_classes(self, y, sample_weight):
        """Set ``classes_``; the class codes, and the sample weights times the
        class weights, validated as sample weights are (finite, non-negative,
        not all zero, with the same messages)."""
        _check_label_types(y)
        check_classification_targets(y)
        # fit_transform finds the classes and the codes in one pass over y.
        encoder = LabelEncoder()
        codes = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        if self.class_weight is not None:
            # Without class weights compute_class_weight returns ones, after
            # a pass over y and its own parameter checks (0.4 ms at 10,000
            # samples, a twentieth of such a fit).
            class_weight = compute_class_weight(
                self.class_weight, classes=self.classes_, y=y
            )
            with np.errstate(over="ignore", invalid="ignore"):
                product = sample_weight * class_weight[codes]
            sample_weight = _summable(
                _check_sample_weight(
                    product, product, dtype=np.float64, ensure_non_negative=True
                )
            )
        if np.count_nonzero(np.bincount(codes[sample_weight > 0])) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with "
                "positive weight; the data contains only one class: "
                f"{self.classes_[codes[sample_weight > 0][0]].item()!r}."
            )
        return codes, sample_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = True
        return tags


class ProbabilisticLossClassifier(LossClassifier):
    """A classifier whose scores are log-odds (binary) or softmax logits."""

    def predict_proba(self, X):
        """Class probabilities: the sigmoid of the score, or the softmax of the scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.

        Examples
        --------
        >>> from sklearn_losses import LogisticLossClassifier
        >>> X, y = [[-2.0], [-1.0], [1.0], [2.0]], [0, 1, 0, 1]
        >>> model = LogisticLossClassifier().fit(X, y)
        >>> model.predict_proba([[0.0]]).sum()
        np.float64(1.0)
        """
        if is_dask_array(X):
            return lazy_prediction(self, X, self.predict_proba, self.classes_.size)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = expit(scores)
            return np.column_stack([1.0 - positive, positive])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed without underflow.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, in the order of ``classes_``.

        Examples
        --------
        >>> from sklearn_losses import FocalLossClassifier
        >>> X, y = [[-2.0], [-1.0], [1.0], [2.0]], [0, 0, 1, 1]
        >>> model = FocalLossClassifier(alpha=1e-2).fit(X, y)
        >>> model.predict_log_proba([[0.0], [3.0]]).shape
        (2, 2)
        """
        if is_dask_array(X):
            return lazy_prediction(self, X, self.predict_log_proba, self.classes_.size)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)
