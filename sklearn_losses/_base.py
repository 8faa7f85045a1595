"""The shared ``fit``: validate, build the objective, solve, set fitted attributes.

The public estimators in ``_estimators.py`` differ only in the loss they
build (``_get_loss``) and in their constructor parameters.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._distributed import (
    DistributedObjective,
    as_local,
    is_dask_array,
    largest_magnitude,
    lazy_prediction,
    validate_dask_data,
)
from ._objective import LinearObjective
from ._penalty import ElasticNet
from .solvers import solve


def _weighted_median(values, weights):
    """Smallest value at which the cumulative weight reaches half the total."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]


def _summable(sample_weight):
    """The weights times a power of two, where needed for their sum to be finite.

    Only ratios of weights matter (the objective divides by their sum), and a
    power of two changes none of them. Weights near the float maximum would
    sum to infinity (every normalized weight then zero); tiny ones to a
    subnormal number that normalizes poorly.
    """
    largest = np.max(sample_weight, initial=0.0)
    if largest == 0 or 2.0**-500 <= largest <= 2.0**500:
        return sample_weight
    # ldexp: 2**-exponent itself overflows for subnormal weights.
    return np.ldexp(sample_weight, -int(np.floor(np.log2(largest))))


def _extreme_scale(values):
    """A power of two near the largest ``|value|`` if that is extreme, else 1."""
    if min(values.shape) == 0:
        return 1.0
    if is_dask_array(values):
        largest = largest_magnitude(values)
    else:
        largest = max(float(values.max()), -float(values.min()))
    if largest == 0 or 2.0**-40 <= largest <= 2.0**40:
        return 1.0
    # Below 2**-450, l2 / scale**2 would overflow.
    return 2.0 ** np.clip(np.round(np.log2(largest)), -450, 1000)


@dataclass
class _Problem:
    """One problem of a fit in its solved units (``LossLinearModel._problem``):
    the objective (whose penalty ``penalty_of(alpha)`` gives), the start, and
    the factors back to the model's coefficients, intercepts and objective."""

    objective: LinearObjective
    coef: np.ndarray
    intercept: np.ndarray
    penalty_of: object
    coef_scale: float
    intercept_scale: float
    objective_scale: float


class _IterationReporter:
    """Turn each solver iteration into a leaf task of ``sklearn.callback``.

    Callbacks set with ``set_callbacks`` (or propagated by a meta-estimator
    such as ``GridSearchCV``) see the fit as a root task, one subtask per
    optimization problem (one, or one per class for one-vs-rest) and one
    leaf per iteration of the solver within it.
    """

    def __init__(self, context, hook_arguments):
        self.context = context
        self.hook_arguments = hook_arguments

    def __call__(self):
        iteration = self.context.subcontext(task_name="iteration")
        iteration.call_on_fit_task_begin(**self.hook_arguments)
        iteration.call_on_fit_task_end(**self.hook_arguments)


class LossLinearModel(CallbackSupportMixin, BaseEstimator):
    """Parameters and ``fit`` machinery shared by every estimator.

    Supports ``sklearn.callback`` (``set_callbacks``): the fit is a task
    with one subtask per optimization problem and one leaf per iteration.
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        *,
        alpha=1e-4,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-10,
        warm_start=False,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    def _get_loss(self, n_classes=None):
        """The pointwise loss of this estimator (and of its number of classes)."""
        raise NotImplementedError

    def _scaled_loss(self, n_classes):
        """The loss to solve with, and what it (and the penalty) is divided by:
        the loss itself, 1, unless the estimator says otherwise."""
        return self._get_loss(n_classes), 1.0

    def _validate_fit_data(self, X, y, sample_weight, *, y_numeric, multi_output=False):
        if is_dask_array(X):
            X, y = validate_dask_data(
                self, X, y, y_numeric=y_numeric, multi_output=multi_output
            )
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                dtype=[np.float64, np.float32],
                y_numeric=y_numeric,
                multi_output=multi_output,
                reset=True,
            )
        # One weight per row of y (the rows of X, wherever X lives).
        sample_weight = _check_sample_weight(
            as_local(sample_weight), y, dtype=np.float64, ensure_non_negative=True
        )
        return X, y, _summable(sample_weight)

    def _solve_problems(self, problems, X, y, sample_weight):
        """Solve a fit's problems at ``alpha`` (one task for callbacks),
        warn for any that stopped short, and set the fitted attributes."""
        context = self._begin_fit_task(X, y, sample_weight, len(problems))
        results = [self._run(problem, self.alpha, context) for problem in problems]
        self._end_fit_task(context, X, y)
        for result in results:
            if not result.converged:
                self._warn_not_converged(result)
        self._set_fitted(X.dtype, results)

    def _begin_fit_task(self, X, y, sample_weight, n_problems):
        """Open the callback context of this fit: one subtask per problem."""
        context = self._init_callback_context(max_subtasks=n_problems)
        self._callback_metadata = {"sample_weight": sample_weight}
        self._callback_arguments = dict(
            estimator=self, X=X, y=y, metadata=self._callback_metadata
        )
        context.call_on_fit_task_begin(**self._callback_arguments)
        return context

    def _end_fit_task(self, context, X, y):
        context.call_on_fit_task_end(
            estimator=self,
            X=X,
            y=y,
            metadata=self._callback_metadata,
            reconstruction_attributes={},
        )
        del self._callback_metadata, self._callback_arguments

    def _problem(
        self,
        loss,
        X,
        y,
        sample_weight,
        start,
        penalty_of,
        model_scale=1.0,
        objective_scale=1.0,
    ):
        """One optimization problem of a fit, in the units it is solved in.

        Features of extreme magnitude (largest entry beyond ``2**40``) are
        first divided by a power of two, ``X = scale * X'``: with
        ``W = W' / scale`` the data term is unchanged and the penalty becomes
        ``l1 / scale * |W'|_1 + l2 / scale**2 * |W'|**2 / 2``, the same
        problem, solved without overflow or underflow in ``X.T @ D @ X``.
        Powers of two make the change of variables exact in floating point.
        ``penalty_of(alpha)`` is the penalty before that change;
        ``model_scale`` multiplies the solved coefficients and intercepts
        into the model's (rescaled targets), ``objective_scale`` the solved
        objective into the SPEC one. ``start`` is ``(coef, intercept)`` in
        the model's units divided by ``model_scale``.
        """
        # Only large features are scaled down: tiny ones would multiply the
        # L2 strength by up to 2**900.
        scale = max(_extreme_scale(X), 1.0)

        def scaled_penalty_of(alpha):
            penalty = penalty_of(alpha)
            # l2 / scale / scale, not l2 / scale**2: the square of a scale
            # beyond 2**512 overflows (both exact for powers of two).
            return ElasticNet(penalty.l1 / scale, penalty.l2 / scale / scale)

        coef, intercept = start
        # A Dask X stays in its chunks: the same problem, solved by passes
        # over them (_distributed).
        objective_class = DistributedObjective if is_dask_array(X) else LinearObjective
        objective = objective_class(
            loss,
            X / scale if scale != 1.0 else X,
            y,
            sample_weight,
            penalty=scaled_penalty_of(self.alpha),
            fit_intercept=self.fit_intercept,
            n_outputs=coef.shape[1],
        )
        return _Problem(
            objective,
            coef * scale,
            intercept,
            scaled_penalty_of,
            model_scale / scale,
            model_scale,
            objective_scale,
        )

    def _run(self, problem, alpha, context=None, start=None, max_iter=None):
        """Solve ``problem`` at ``alpha`` from its start (or ``start``, solved
        units); the result in the model's units (coefficients, intercepts and
        objective), with the solved start for a next solve kept as
        ``result.solved``."""
        objective = problem.objective
        objective.penalty = problem.penalty_of(alpha)
        coef, intercept = (problem.coef, problem.intercept) if start is None else start
        reporter = None
        if context is not None:
            task = context.subcontext(task_name="solve", max_subtasks=self.max_iter)
            hook_arguments = self._callback_arguments
            task.call_on_fit_task_begin(**hook_arguments)
            reporter = _IterationReporter(task, hook_arguments)
        result = solve(
            objective,
            coef,
            intercept,
            max_iter=self.max_iter if max_iter is None else max_iter,
            tol=self.tol,
            on_iteration=reporter,
        )
        if context is not None:
            task.call_on_fit_task_end(**hook_arguments)
        result.solved = (result.coef, result.intercept)
        result.coef = result.coef * problem.coef_scale
        result.intercept = result.intercept * problem.intercept_scale
        with np.errstate(over="ignore"):
            result.objective = float(
                result.certificate.objective * problem.objective_scale
            )
        return result

    def _warn_not_converged(self, result, where=""):
        """A ``ConvergenceWarning`` that says what stopped the solver.

        Out of iterations: raise ``max_iter``. Stopped short for another
        reason (no decrease left in floating point, a duality gap that
        does not close): raising ``max_iter`` would not help, and the
        warning says so, and what would.
        """
        name = f"{type(self).__name__} ({result.method} solver){where}"
        if result.stop and result.n_iter < self.max_iter:
            message = (
                f"{name} stopped short of tol={self.tol} after {result.n_iter} "
                f"iterations, well within max_iter={self.max_iter}: {result.stop}. "
                "Raising max_iter will not help; the model is finite and usable, "
                "and as close to the optimum as that says. Scaling the features "
                "(a StandardScaler in a pipeline) usually lets the solver certify "
                "its optimum; a larger tol silences this warning."
            )
        else:
            message = (
                f"{name} did not converge within max_iter={self.max_iter} "
                f"iterations to tol={self.tol}; the model is finite and usable but "
                "not optimal. Increase max_iter, or tol."
            )
        warnings.warn(message, ConvergenceWarning, stacklevel=3)

    def _start(self, n_features, n_outputs, default_intercept):
        """Starting point: the previous fit with ``warm_start``, else zeros."""
        previous = getattr(self, "coef_", None)
        if self.warm_start and previous is not None:
            coef = np.asarray(previous, dtype=float).reshape(-1, n_features).T
            intercept = np.atleast_1d(np.asarray(self.intercept_, dtype=float))
            if coef.shape == (n_features, n_outputs):
                return coef.copy(), intercept.copy()
        intercept = np.full(n_outputs, default_intercept if self.fit_intercept else 0.0)
        return np.zeros((n_features, n_outputs)), intercept


class LossRegressor(RegressorMixin, LossLinearModel):
    """Shared ``fit`` and ``predict`` of the regressors."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minimizing the objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR and CSC sparse matrices are used as they are.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero; ``None`` gives every sample
            weight one.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from sklearn_losses import HuberLossRegressor
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0.1, 1.0, 2.1, 30.0]
        >>> model = HuberLossRegressor(alpha=0.0).fit(X, y)
        >>> model.n_iter_ > 0
        True
        """
        X, y, sample_weight = self._validate_fit_data(
            X, y, sample_weight, y_numeric=True
        )
        self._solve_problems(self._problems(X, y, sample_weight), X, y, sample_weight)
        return self

    def _path_problems(self, X, y, sample_weight):
        """Validated problems for a path, and the function that sets the
        fitted attributes from their results."""
        X, y, sample_weight = self._validate_fit_data(
            X, y, sample_weight, y_numeric=True
        )
        return self._problems(X, y, sample_weight), lambda results: self._set_fitted(
            X.dtype, results
        )

    def _problems(self, X, y, sample_weight):
        """The one problem of a regression fit (validated data)."""
        y = np.asarray(y, dtype=np.float64)
        self._check_targets(y, sample_weight)
        # Targets of extreme magnitude: with y = scale * y', W = scale * W',
        # a loss homogeneous of degree k (L(scale * r) = scale**k * L'(r),
        # Huber with delta / scale, pinball as it is) gives the objective
        # scale**k * (data term' + l1 * scale**(1 - k) * |W'|_1
        # + l2 * scale**(2 - k) * |W'|**2 / 2): the same minimizer, in numbers
        # floating point can resolve.
        target_scale = self._target_scale(y)
        degree = self._loss_degree
        # The estimator may further divide its loss by a constant (and the
        # penalty with it), see ``_scaled_loss``.
        y_scaled = y / target_scale if target_scale != 1.0 else y
        loss, divisor = self._scaled_loss(target_scale, y_scaled, sample_weight)
        # The start in the model's units (the previous fit's, or the best
        # constant), divided below like the coefficients.
        coef, intercept = self._start(
            X.shape[1], 1, self._constant_start(y, sample_weight)
        )
        l1_ratio = self.l1_ratio

        def penalty_of(alpha):
            return ElasticNet(
                alpha * l1_ratio * target_scale ** (1 - degree) / divisor,
                alpha * (1 - l1_ratio) * target_scale ** (2 - degree) / divisor,
            )

        start = (coef / target_scale, intercept / target_scale)
        with np.errstate(over="ignore"):
            objective_scale = divisor * target_scale**degree
        return [
            self._problem(
                loss,
                *loss.solver_rows(X, y_scaled, sample_weight),
                start,
                penalty_of,
                model_scale=target_scale,
                objective_scale=objective_scale,
            )
        ]

    def _check_targets(self, y, sample_weight):
        """Raise where the loss cannot take these targets (any real one can)."""

    def _target_scale(self, y):
        """The power of two dividing the targets before the solve (1 unless
        they are of extreme magnitude, see ``_problems``)."""
        return _extreme_scale(y)

    def _constant_start(self, y, sample_weight):
        """The intercept the solver starts from: the weighted median."""
        return _weighted_median(y, sample_weight)

    def _inverse_link(self, raw_prediction):
        """The prediction from the linear model's output: the output itself."""
        return raw_prediction

    def _set_fitted(self, dtype, results):
        # + 0.0 turns the -0.0 of zero coefficients (a linear program's
        # multipliers, a sign flip) into 0.0, which prints as "0.".
        (result,) = results
        self.coef_ = result.coef.ravel().astype(dtype) + 0.0
        self.intercept_ = float(result.intercept[0]) + 0.0
        self.n_iter_ = result.n_iter
        self.objective_ = result.objective
        self.duality_gap_ = float(result.certificate.gap)

    def predict(self, X):
        """Predict with the linear model ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted values.

        Examples
        --------
        >>> from sklearn_losses import QuantileLossRegressor
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0.0, 1.0, 2.0, 3.0]
        >>> model = QuantileLossRegressor(alpha=0.0).fit(X, y)
        >>> model.predict([[4.0]]).round(6)
        array([4.])
        """
        if is_dask_array(X):
            return lazy_prediction(self, X, self.predict)
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
        )
        return self._inverse_link(np.asarray(X @ self.coef_).ravel() + self.intercept_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
