"""One metric and one scorer per loss.

Each metric is the data term of the objective, the weighted mean of the
pointwise loss, evaluated on a model's output: ``predict`` for the
regressors, ``decision_function`` for the hinge losses, ``predict_proba``
for the logistic and focal losses. The formulas are those of
``sklearn_losses._loss``, the module the estimators minimize, so that for a
fitted estimator ``scorer(est, X, y) == -(data term at the fit)``.
"""

import inspect
from numbers import Real

import numpy as np
from scipy.special import rel_entr
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import make_scorer
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight, check_consistent_length

from ._loss import (
    EpsilonInsensitiveLoss,
    HingeLoss,
    HuberLoss,
    LogCoshLoss,
    PinballLoss,
    PoissonLoss,
    SquaredEpsilonInsensitiveLoss,
    SquaredHingeLoss,
)

__all__ = [
    "epsilon_insensitive_loss",
    "focal_loss",
    "get_scorer",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "log_cosh_loss",
    "logistic_loss",
    "make_loss_scorer",
    "pinball_loss",
    "poisson_loss",
    "squared_epsilon_insensitive_loss",
    "squared_hinge_loss",
]


def _not_empty(y_true):
    if np.asarray(y_true).size == 0:
        raise ValueError(
            "y_true is empty: a mean loss needs at least one sample (got 0)."
        )


def _regression_inputs(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    check_consistent_length(y_true, y_pred)
    _not_empty(y_true)
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true and y_pred must be finite (no NaN or infinity).")
    return y_true, y_pred


def _encode(y_true, labels, output):
    """Integer codes of ``y_true`` in the sorted ``labels``; output checked."""
    y_true = np.asarray(y_true)
    _not_empty(y_true)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if labels.size < 2:
        raise ValueError(
            f"At least two labels are needed; got {labels.tolist()}. "
            "Pass labels=... when y_true holds a single class."
        )
    unknown = np.setdiff1d(np.unique(y_true), labels)
    if unknown.size:
        raise ValueError(f"y_true has labels {unknown.tolist()} not in labels.")
    labels = np.sort(labels)
    codes = np.searchsorted(labels, y_true)
    output = np.asarray(output, dtype=float)
    check_consistent_length(y_true, output)
    if not np.all(np.isfinite(output)):
        raise ValueError("The model output must be finite (no NaN or infinity).")
    n_columns = 1 if output.ndim == 1 else output.shape[1]
    if labels.size == 2 and n_columns not in (1, 2):
        raise ValueError(f"Binary labels need 1 or 2 output columns, got {n_columns}.")
    if labels.size > 2 and n_columns != labels.size:
        raise ValueError(
            f"{labels.size} labels need {labels.size} output columns, got {n_columns}."
        )
    return codes, labels, output


def _weighted_mean(values, sample_weight):
    weight = _check_sample_weight(
        sample_weight, np.asarray(values), ensure_non_negative=True
    )
    return float(weight @ values / weight.sum())


def _hinge_family(loss, y_true, y_score, labels, sample_weight):
    codes, labels, y_score = _encode(y_true, labels, y_score)
    if labels.size == 2:
        score = y_score if y_score.ndim == 1 else y_score[:, 1] - y_score[:, 0]
        values = loss.loss(np.where(codes == 1, 1.0, -1.0), score.ravel())
    else:
        # One-vs-rest: the sum over classes of the binary losses.
        signed = np.where(codes[:, None] == np.arange(labels.size), 1.0, -1.0)
        values = loss.loss(signed, y_score).sum(axis=1)
    return _weighted_mean(values, sample_weight)


def _true_class_probability(y_true, y_proba, labels):
    # Rows sum to 1 to the precision they were computed in (scikit-learn's
    # log_loss test): 1.5e-8 in float64, 3.5e-4 in float32.
    given = np.asarray(y_proba)
    dtype = given.dtype if np.issubdtype(given.dtype, np.floating) else np.float64
    tolerance = np.sqrt(np.finfo(dtype).eps)
    codes, labels, y_proba = _encode(y_true, labels, y_proba)
    if np.any(y_proba < 0) or np.any(y_proba > 1):
        raise ValueError("y_proba must lie in [0, 1].")
    if y_proba.ndim == 1 or y_proba.shape[1] == 1:
        positive = y_proba.ravel()
        return np.where(codes == 1, positive, 1.0 - positive)
    if not np.allclose(y_proba.sum(axis=1), 1.0, rtol=0, atol=tolerance):
        raise ValueError("The rows of y_proba must sum to 1.")
    return y_proba[np.arange(codes.size), codes]


_SAMPLE_WEIGHT = ["array-like", None]
_LABELS = ["array-like", None]
# The loss parameters, shared by the metrics and make_loss_scorer.
_LOSS_PARAMETERS = {
    "delta": [Interval(Real, 0, None, closed="neither")],
    "scale": [Interval(Real, 0, None, closed="neither")],
    "quantile": [Interval(Real, 0, 1, closed="neither")],
    "gamma": [Interval(Real, 0, None, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="left")],
    "labels": _LABELS,
}


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "delta": _LOSS_PARAMETERS["delta"],
        "sample_weight": _SAMPLE_WEIGHT,
    },
    prefer_skip_nested_validation=True,
)
def huber_loss(y_true, y_pred, *, delta=1.0, sample_weight=None):
    """Weighted mean Huber loss.

    With ``r = y_true - y_pred``: ``r**2 / 2`` for ``|r| <= delta``, else
    ``delta * (|r| - delta / 2)``; the data term ``HuberLossRegressor``
    minimizes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Target values.
    y_pred : array-like of shape (n_samples,)
        Predicted values.
    delta : float, default=1.0
        Where the loss turns from quadratic to linear, ``delta > 0``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import huber_loss
    >>> huber_loss([0.0, 0.0], [0.5, 3.0], delta=1.0)
    1.3125
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred)
    return _weighted_mean(HuberLoss(delta).loss(y_true, y_pred), sample_weight)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "scale": _LOSS_PARAMETERS["scale"],
        "sample_weight": _SAMPLE_WEIGHT,
    },
    prefer_skip_nested_validation=True,
)
def log_cosh_loss(y_true, y_pred, *, scale=1.0, sample_weight=None):
    """Weighted mean log-cosh loss.

    With ``r = y_true - y_pred``: ``scale**2 * log(cosh(r / scale))``; the
    data term ``LogCoshLossRegressor`` minimizes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Target values.
    y_pred : array-like of shape (n_samples,)
        Predicted values.
    scale : float, default=1.0
        The scale of the residuals, ``scale > 0``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import log_cosh_loss
    >>> round(log_cosh_loss([0.0, 0.0], [0.5, 3.0]), 6)
    1.214722
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred)
    return _weighted_mean(LogCoshLoss(scale).loss(y_true, y_pred), sample_weight)


_EPSILON_PARAMETERS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "epsilon": _LOSS_PARAMETERS["epsilon"],
    "sample_weight": _SAMPLE_WEIGHT,
}


@validate_params(_EPSILON_PARAMETERS, prefer_skip_nested_validation=True)
def epsilon_insensitive_loss(y_true, y_pred, *, epsilon=0.0, sample_weight=None):
    """Weighted mean epsilon-insensitive loss.

    With ``r = y_true - y_pred``: ``max(0, |r| - epsilon)``; the data term
    ``EpsilonInsensitiveLossRegressor`` minimizes (``epsilon = 0``: the mean
    absolute error).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Target values.
    y_pred : array-like of shape (n_samples,)
        Predicted values.
    epsilon : float, default=0.0
        Half-width of the band of residuals that cost nothing, ``epsilon >= 0``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import epsilon_insensitive_loss
    >>> epsilon_insensitive_loss([0.0, 0.0], [0.5, 3.0], epsilon=1.0)
    1.0
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred)
    values = EpsilonInsensitiveLoss(epsilon).loss(y_true, y_pred)
    return _weighted_mean(values, sample_weight)


@validate_params(_EPSILON_PARAMETERS, prefer_skip_nested_validation=True)
def squared_epsilon_insensitive_loss(
    y_true, y_pred, *, epsilon=0.0, sample_weight=None
):
    """Weighted mean squared epsilon-insensitive loss.

    With ``r = y_true - y_pred``: ``max(0, |r| - epsilon)**2``; the data
    term of ``EpsilonInsensitiveLossRegressor(loss="squared_epsilon_insensitive")``
    (``epsilon = 0``: the mean squared error).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Target values.
    y_pred : array-like of shape (n_samples,)
        Predicted values.
    epsilon : float, default=0.0
        Half-width of the band of residuals that cost nothing, ``epsilon >= 0``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import squared_epsilon_insensitive_loss
    >>> squared_epsilon_insensitive_loss([0.0, 0.0], [0.5, 3.0], epsilon=1.0)
    2.0
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred)
    values = SquaredEpsilonInsensitiveLoss(epsilon).loss(y_true, y_pred)
    return _weighted_mean(values, sample_weight)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "quantile": _LOSS_PARAMETERS["quantile"],
        "sample_weight": _SAMPLE_WEIGHT,
    },
    prefer_skip_nested_validation=True,
)
def pinball_loss(y_true, y_pred, *, quantile=0.5, sample_weight=None):
    """Weighted mean pinball (quantile) loss.

    With ``r = y_true - y_pred``: ``max(q * r, (q - 1) * r)``. Equal to
    scikit-learn's ``mean_pinball_loss(alpha=quantile)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Target values.
    y_pred : array-like of shape (n_samples,)
        Predicted values.
    quantile : float, default=0.5
        The quantile, ``0 < quantile < 1``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import pinball_loss
    >>> pinball_loss([1.0, 2.0], [2.0, 0.0], quantile=0.9)
    0.95
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred)
    return _weighted_mean(PinballLoss(quantile).loss(y_true, y_pred), sample_weight)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "sample_weight": _SAMPLE_WEIGHT,
    },
    prefer_skip_nested_validation=True,
)
def poisson_loss(y_true, y_pred, *, sample_weight=None):
    """Weighted mean of half the Poisson deviance.

    With the predicted mean ``mu = y_pred > 0`` and ``y_true >= 0``:
    ``y_true * log(y_true / mu) - y_true + mu``, the data term
    ``PoissonLossRegressor`` minimizes. Half scikit-learn's
    ``mean_poisson_deviance``: ``2 * poisson_loss == mean_poisson_deviance``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Non-negative targets (counts or rates).
    y_pred : array-like of shape (n_samples,)
        Predicted means, positive.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import poisson_loss
    >>> round(poisson_loss([0.0, 2.0], [1.0, 2.0]), 6)
    0.5
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred)
    if np.any(y_true < 0) or np.any(y_pred <= 0):
        raise ValueError(
            "poisson_loss needs non-negative y_true and positive y_pred "
            "(predicted means)."
        )
    return _weighted_mean(PoissonLoss().loss(y_true, np.log(y_pred)), sample_weight)


_CLASSIFICATION_PARAMS = {
    "y_true": ["array-like"],
    "labels": _LABELS,
    "sample_weight": _SAMPLE_WEIGHT,
}


@validate_params(
    {**_CLASSIFICATION_PARAMS, "y_score": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def hinge_loss(y_true, y_score, *, labels=None, sample_weight=None):
    """Weighted mean hinge loss ``max(0, 1 - y~ * score)``.

    ``y~ = +1`` for the larger of the two labels and ``-1`` for the other.
    For more than two classes, the sum over classes of the one-vs-rest
    hinge losses, which is what ``HingeLossClassifier`` minimizes (unlike
    scikit-learn's ``hinge_loss``, which is the Crammer-Singer loss there).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        ``decision_function`` output.
    labels : array-like of shape (n_classes,), default=None
        All the labels; by default those of ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import hinge_loss
    >>> hinge_loss(["no", "yes"], [-2.0, 0.5])
    0.25
    """
    return _hinge_family(HingeLoss(), y_true, y_score, labels, sample_weight)


@validate_params(
    {**_CLASSIFICATION_PARAMS, "y_score": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def squared_hinge_loss(y_true, y_score, *, labels=None, sample_weight=None):
    """Weighted mean squared hinge loss ``max(0, 1 - y~ * score)**2``.

    For more than two classes, the sum over classes of the one-vs-rest
    losses, as ``HingeLossClassifier(loss="squared_hinge")`` minimizes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        ``decision_function`` output.
    labels : array-like of shape (n_classes,), default=None
        All the labels; by default those of ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import squared_hinge_loss
    >>> squared_hinge_loss([0, 1], [-2.0, 0.5])
    0.125
    """
    return _hinge_family(SquaredHingeLoss(), y_true, y_score, labels, sample_weight)


@validate_params(
    {**_CLASSIFICATION_PARAMS, "y_proba": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def logistic_loss(y_true, y_proba, *, labels=None, sample_weight=None):
    """Weighted mean logistic loss ``-log p_true`` (cross-entropy).

    Equal to scikit-learn's ``log_loss`` where no probability is clipped.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples,) or (n_samples, n_classes)
        ``predict_proba`` output; for two classes, one column (the
        probability of the larger label) or two.
    labels : array-like of shape (n_classes,), default=None
        All the labels; by default those of ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import logistic_loss
    >>> round(logistic_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 4)
    0.1643
    """
    probability = _true_class_probability(y_true, y_proba, labels)
    with np.errstate(divide="ignore"):
        values = -np.log(probability)
    return _weighted_mean(values, sample_weight)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "sample_weight": _SAMPLE_WEIGHT,
    },
    prefer_skip_nested_validation=True,
)
def kl_divergence(y_true, y_proba, *, sample_weight=None):
    """Weighted mean Kullback-Leibler divergence from soft labels to predictions.

    ``sum_k p_k log(p_k / q_k)`` per sample, with ``p`` a row of ``y_true``
    (class probabilities) and ``q`` the same row of ``y_proba``. The data
    term ``LogisticLossClassifier`` minimizes on soft labels, the
    cross-entropy ``-sum_k p_k log q_k``, is this plus the entropy of
    ``p`` (a constant of the data): both have the same minimizer.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_classes)
        Class probabilities (soft labels), rows summing to one.
    y_proba : array-like of shape (n_samples, n_classes)
        Predicted class probabilities (``predict_proba``).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    divergence : float
        The weighted mean divergence, zero where the predictions equal the
        labels.

    Examples
    --------
    >>> from sklearn_losses.metrics import kl_divergence
    >>> round(kl_divergence([[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.8, 0.2]]), 6)
    0.111572
    """
    y_true = np.asarray(y_true, dtype=float)
    y_proba = np.asarray(y_proba, dtype=float)
    _not_empty(y_true)
    if y_true.ndim != 2 or y_true.shape != y_proba.shape:
        raise ValueError(
            "y_true and y_proba must be arrays of class probabilities of the "
            f"same shape (n_samples, n_classes); got {y_true.shape} and "
            f"{y_proba.shape}."
        )
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_proba))):
        raise ValueError("y_true and y_proba must be finite (no NaN or infinity).")
    if np.any(y_true < 0) or np.any(y_proba < 0):
        raise ValueError("y_true and y_proba must be non-negative probabilities.")
    return _weighted_mean(rel_entr(y_true, y_proba).sum(axis=1), sample_weight)


@validate_params(
    {
        **_CLASSIFICATION_PARAMS,
        "y_proba": ["array-like"],
        "gamma": _LOSS_PARAMETERS["gamma"],
    },
    prefer_skip_nested_validation=True,
)
def focal_loss(y_true, y_proba, *, gamma=2.0, labels=None, sample_weight=None):
    """Weighted mean focal loss ``-(1 - p_true)**gamma * log(p_true)``.

    ``gamma = 0`` is the logistic loss.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples,) or (n_samples, n_classes)
        ``predict_proba`` output; for two classes, one column (the
        probability of the larger label) or two.
    gamma : float, default=2.0
        Focusing parameter, ``gamma >= 0``.
    labels : array-like of shape (n_classes,), default=None
        All the labels; by default those of ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean loss.

    Examples
    --------
    >>> from sklearn_losses.metrics import focal_loss
    >>> round(focal_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]], gamma=2.0), 5)
    0.00499
    """
    probability = _true_class_probability(y_true, y_proba, labels)
    with np.errstate(divide="ignore"):
        values = -((1.0 - probability) ** gamma) * np.log(probability)
    return _weighted_mean(values, sample_weight)


# name -> (metric, the estimator output it scores)
_SCORERS = {
    "neg_huber_loss": (huber_loss, "predict"),
    "neg_epsilon_insensitive_loss": (epsilon_insensitive_loss, "predict"),
    "neg_squared_epsilon_insensitive_loss": (
        squared_epsilon_insensitive_loss,
        "predict",
    ),
    "neg_log_cosh_loss": (log_cosh_loss, "predict"),
    "neg_pinball_loss": (pinball_loss, "predict"),
    "neg_poisson_loss": (poisson_loss, "predict"),
    "neg_hinge_loss": (hinge_loss, "decision_function"),
    "neg_squared_hinge_loss": (squared_hinge_loss, "decision_function"),
    "neg_logistic_loss": (logistic_loss, "predict_proba"),
    "neg_kl_divergence": (kl_divergence, "predict_proba"),
    "neg_focal_loss": (focal_loss, "predict_proba"),
}


@validate_params(
    {"name": [StrOptions(set(_SCORERS))]}, prefer_skip_nested_validation=True
)
def make_loss_scorer(name, **loss_params):
    """A scikit-learn scorer for one of our losses, negated (greater is better).

    Parameters
    ----------
    name : str
        One of ``neg_huber_loss``, ``neg_log_cosh_loss``, ``neg_pinball_loss``,
        ``neg_poisson_loss``, ``neg_epsilon_insensitive_loss``,
        ``neg_squared_epsilon_insensitive_loss``, ``neg_hinge_loss``,
        ``neg_squared_hinge_loss``, ``neg_logistic_loss``, ``neg_focal_loss``,
        ``neg_kl_divergence`` (soft labels).
    **loss_params
        The loss's parameters (``delta``, ``scale``, ``quantile``, ``epsilon``,
        ``gamma``).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None)``, asking the estimator
        for ``predict``, ``decision_function`` or ``predict_proba`` as the
        loss needs.

    Examples
    --------
    >>> from sklearn.dummy import DummyRegressor
    >>> from sklearn_losses.metrics import make_loss_scorer
    >>> X, y = [[0.0], [0.0], [0.0]], [1.0, 2.0, 3.0]
    >>> model = DummyRegressor(strategy="quantile", quantile=0.9).fit(X, y)
    >>> scorer = make_loss_scorer("neg_pinball_loss", quantile=0.9)
    >>> round(scorer(model, X, y), 4)
    -0.1467
    """
    metric, response_method = _SCORERS[name]
    accepted = [
        parameter.name
        for parameter in inspect.signature(metric).parameters.values()
        if parameter.kind is parameter.KEYWORD_ONLY
        and parameter.name != "sample_weight"
    ]
    unknown = sorted(set(loss_params) - set(accepted))
    if unknown:
        raise TypeError(f"{name} takes the loss parameters {accepted}, not {unknown}.")
    # Checked now, not at the first scoring inside a search.
    validate_parameter_constraints(
        {key: _LOSS_PARAMETERS[key] for key in loss_params},
        loss_params,
        caller_name=name,
    )
    return make_scorer(
        metric, greater_is_better=False, response_method=response_method, **loss_params
    )


def get_scorer(name):
    """Our scorer by name (default loss parameters), else scikit-learn's.

    Parameters
    ----------
    name : str
        One of our names (``neg_huber_loss`` ...) or any name scikit-learn's
        ``get_scorer`` knows.

    Returns
    -------
    scorer : callable
        The scorer.

    Examples
    --------
    >>> from sklearn_losses.metrics import get_scorer
    >>> get_scorer("neg_hinge_loss")._score_func.__name__
    'hinge_loss'
    >>> get_scorer("accuracy")._score_func.__name__
    'accuracy_score'
    """
    if isinstance(name, str) and name in _SCORERS:
        return make_loss_scorer(name)
    return _sklearn_get_scorer(name)
