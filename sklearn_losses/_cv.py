"""Cross-validated estimators: alpha and l1_ratio chosen on warm-started paths.

Each ``...CV`` estimator solves, on the training rows of every fold and for
every ``l1_ratio``, the regularization path of its plain estimator over one
grid of alphas (``loss_path``'s machinery: each alpha warm-started from the
one before), scores every point of the path on the fold's held-out rows,
picks the ``(alpha, l1_ratio)`` of the best mean score over the folds and
refits the plain estimator there on all the data. It answers what a
``GridSearchCV`` of the plain estimator over the same grid and folds
answers, with one warm-started path per fold instead of a cold fit per
grid point.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    validate_data,
)

from ._base import _fit_context
from ._distributed import as_local, is_dask_array, validate_dask_data
from ._path import PathPoints, alpha_grid, solve_path
from .metrics import get_scorer

# Parameters of the plain estimator that the search sets itself.
_SEARCHED = ("alpha", "l1_ratio", "warm_start")


class _LossCV:
    """``fit`` of the CV estimators; a subclass names its plain estimator
    (``_plain``, the class it also derives from) and its default scorer."""

    _plain = None

    _cv_parameter_constraints = {
        "alphas": ["array-like", None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [Integral, None],
        "refit": ["boolean"],
    }

    @classmethod
    def _constraints(cls, plain):
        constraints = {
            name: rule
            for name, rule in plain._parameter_constraints.items()
            if name not in _SEARCHED
        }
        return {**constraints, **cls._cv_parameter_constraints}

    def _default_scorer(self):
        raise NotImplementedError

    def _labels(self):
        """The classes of all the data, for the loss scorers of classifiers: a
        fold's held-out rows may hold a single class."""
        classes = getattr(self, "classes_", None)
        return {} if classes is None else {"labels": classes}

    def _get_scorer(self):
        """The scorer of ``scoring``: the estimator's own loss by default."""
        if self.scoring is None:
            return self._default_scorer()
        if isinstance(self.scoring, str):
            return get_scorer(self.scoring)
        return self.scoring

    def _plain_estimator(self, l1_ratio, class_weight=None):
        """The plain estimator with this estimator's loss and solver settings
        (and ``class_weight`` instead of its own, if given)."""
        names = self._plain._get_param_names()
        params = {name: getattr(self, name) for name in names if name not in _SEARCHED}
        if class_weight is not None:
            params["class_weight"] = class_weight
        return self._plain(**params, l1_ratio=float(l1_ratio))

    def _fold_class_weight(self, y):
        """``"balanced"`` weighs the classes of all the data, in every fold
        too (as ``LogisticRegressionCV``), not those of each fold's rows."""
        if getattr(self, "class_weight", None) != "balanced":
            return None
        weights = compute_class_weight("balanced", classes=self.classes_, y=y)
        return dict(zip(self.classes_, weights, strict=True))

    def _l1_ratios(self):
        l1_ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=float))
        if (
            l1_ratios.ndim != 1
            or l1_ratios.size == 0
            or not np.all((l1_ratios >= 0) & (l1_ratios <= 1))
        ):
            raise ValueError(
                "l1_ratio must be a number in [0, 1] or a non-empty list of "
                f"them; got {self.l1_ratio!r}."
            )
        return l1_ratios

    def _alpha_grids(self, l1_ratios, X, y, sample_weight):
        """One decreasing grid per l1_ratio: ``alphas`` for all, or each
        l1_ratio's automatic grid on all the data (as ``ElasticNetCV``)."""
        if self.alphas is not None:
            alphas = np.sort(np.asarray(self.alphas, dtype=float).ravel())[::-1]
            if alphas.size == 0 or not np.all(np.isfinite(alphas)) or alphas[-1] < 0:
                raise ValueError(
                    "alphas must be a non-empty array of finite non-negative "
                    f"numbers; got {self.alphas!r}."
                )
            return np.tile(alphas, (l1_ratios.size, 1))
        return np.array(
            [
                alpha_grid(
                    self._plain_estimator(l1_ratio),
                    X,
                    y,
                    n_alphas=self.n_alphas,
                    eps=self.eps,
                    sample_weight=sample_weight,
                )
                for l1_ratio in l1_ratios
            ]
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Choose alpha and l1_ratio by cross-validation, then fit there.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR and CSC sparse matrices are used as they are.
        y : array-like of shape (n_samples,)
            Targets, or class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, used by every fit; also passed to the
            scorer (its held-out rows), as ``LogisticRegressionCV`` does.
        **params : dict
            Metadata for the splitter (``groups``) and the scorer, with
            metadata routing enabled (``sklearn.set_config(
            enable_metadata_routing=True)``).

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_losses import QuantileLossRegressorCV
        >>> X, y = load_diabetes(return_X_y=True)
        >>> model = QuantileLossRegressorCV(quantile=0.9, n_alphas=10).fit(X, y)
        >>> model.alphas_.shape, model.scores_.shape
        ((10,), (10, 5))
        """
        _raise_for_params(params, self, "fit")
        classifier = is_classifier(self)
        if is_dask_array(X):
            # Folds of a Dask array are Dask arrays: each path runs on the
            # cluster, each fold scored lazily.
            X, y = validate_dask_data(self, X, y, y_numeric=not classifier)
            sample_weight = as_local(sample_weight)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                dtype=[np.float64, np.float32],
                y_numeric=not classifier,
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, y, dtype=np.float64, ensure_non_negative=True
            )
        if classifier:
            # The labels' checks and messages of the plain estimator, now.
            self._encode_classes(y, _ones_if_none(sample_weight, y))
        l1_ratios = self._l1_ratios()
        routed = self._routed(sample_weight, params)
        folds = list(
            check_cv(self.cv, y, classifier=classifier).split(
                X, y, **routed.splitter.split
            )
        )
        grids = self._alpha_grids(l1_ratios, X, y, sample_weight)
        scorer = self._get_scorer()
        class_weight = self._fold_class_weight(y) if classifier else None
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(_scored_path)(
                self._plain_estimator(l1_ratio, class_weight),
                X,
                y,
                sample_weight,
                train,
                test,
                grid,
                scorer,
                routed.scorer.score,
                own_loss=self.scoring is None,
            )
            for l1_ratio, grid in zip(l1_ratios, grids, strict=True)
            for train, test in folds
        )
        nested, best_l1, best_alpha = self._choose(paths, grids, l1_ratios)
        if self.refit:
            model = self._plain_estimator(self.l1_ratio_).set_params(alpha=self.alpha_)
            model.fit(X, y, sample_weight=sample_weight)
            for name, value in vars(model).items():
                if name.endswith("_") and not name.startswith("_"):
                    setattr(self, name, value)
        else:
            self._average_of_folds(nested[best_l1], best_alpha, y)
        return self

    def _routed(self, sample_weight, params):
        """Metadata for the splitter and the scorer: routed when routing is
        enabled, else the sample weights for the scorer."""
        if _routing_enabled():
            return process_routing(self, "fit", sample_weight=sample_weight, **params)
        score_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return Bunch(splitter=Bunch(split={}), scorer=Bunch(score=score_params))

    def _choose(self, paths, grids, l1_ratios):
        """Set the search's attributes from the scored paths (in order
        l1_ratio, then fold) and return them per l1_ratio, with the indices
        of the best l1_ratio and alpha."""
        n_folds = len(paths) // l1_ratios.size
        # (n_l1_ratios, n_alphas, n_folds), as ElasticNetCV's mse_path_.
        scores = np.array([path.scores for path in paths]).reshape(
            l1_ratios.size, n_folds, -1
        )
        scores = scores.transpose(0, 2, 1)
        mean = scores.mean(axis=2)
        if not np.any(np.isfinite(mean)):
            raise ValueError(
                "Every point of the grid scored NaN or infinity on some fold; "
                f"check the scoring {self.scoring!r}."
            )
        # The first best in grid order: the largest alpha among ties (the
        # simplest model), then the first l1_ratio given.
        best_l1, best_alpha = np.unravel_index(
            np.argmax(np.where(np.isnan(mean), -np.inf, mean)), mean.shape
        )
        self.alpha_ = float(grids[best_l1, best_alpha])
        self.l1_ratio_ = float(l1_ratios[best_l1])
        single = np.ndim(self.l1_ratio) == 0
        self.alphas_ = grids[0] if single else grids
        self.scores_ = scores[0] if single else scores
        nested = [paths[i * n_folds : (i + 1) * n_folds] for i in range(l1_ratios.size)]
        self.paths_ = nested[0] if single else nested
        return nested, best_l1, best_alpha

    def _average_of_folds(self, fold_paths, index, y):
        """``refit=False``: the mean of the folds' models at the best point
        (as ``LogisticRegressionCV``); no problem has it as its optimum, so
        ``objective_`` and ``duality_gap_`` are NaN."""
        self.coef_ = np.mean([path.coefs[index] for path in fold_paths], axis=0)
        self.intercept_ = np.mean(
            [path.intercepts[index] for path in fold_paths], axis=0
        )
        if np.ndim(self.intercept_) == 0:
            self.intercept_ = float(self.intercept_)
        self.n_iter_ = int(max(path.n_iters[index] for path in fold_paths))
        self.objective_ = np.nan
        self.duality_gap_ = np.nan
        if is_classifier(self):
            self._encode_classes(y, np.ones(len(y)))

    def get_metadata_routing(self):
        """Metadata routing of this estimator: ``groups`` and the like to the
        splitter, scoring metadata to the scorer.

        Returns
        -------
        routing : MetadataRouter
            Where each piece of metadata goes.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._get_scorer(),
                method_mapping=MethodMapping().add(caller="fit", callee="score"),
            )
        )


def _negative_mean_loss(model, X, y, sample_weight):
    """What the estimator's own loss scorer returns for ``model`` on (X, y):
    minus the weighted mean loss at the decision values (the SPEC's
    invariant: the data term of J, with unit class weights), without the
    scorer's checks of ``predict`` and the metric's, once per path point
    (a quarter of a cross-validation's time otherwise, on 10,000 x 50)."""
    raw = safe_sparse_dot(X, np.asarray(model.coef_).T) + model.intercept_
    if not is_classifier(model):
        values = model._get_loss().loss(np.asarray(y, dtype=float), raw)
    else:
        codes = np.searchsorted(model.classes_, y)
        n_classes = model.classes_.size
        loss = model._get_loss(n_classes)
        if n_classes == 2:
            values = loss.loss(np.where(codes == 1, 1.0, -1.0), raw.ravel())
        elif model._multiclass == "multinomial":
            values = loss.loss(codes, raw)
        else:
            # One-vs-rest: the sum over classes of the binary losses.
            signed = np.where(codes[:, None] == np.arange(n_classes), 1.0, -1.0)
            values = loss.loss(signed, raw).sum(axis=1)
    weight = np.ones(len(values)) if sample_weight is None else sample_weight
    return -float(weight @ values / weight.sum())


def _ones_if_none(sample_weight, y):
    return np.ones(len(y)) if sample_weight is None else sample_weight


def _scored_path(
    estimator,
    X,
    y,
    sample_weight,
    train,
    test,
    alphas,
    scorer,
    score_params,
    *,
    own_loss=False,
):
    """The path of ``estimator`` on the ``train`` rows at ``alphas``, each
    point scored on the ``test`` rows: a Bunch as ``loss_path``'s, with
    ``scores`` (n_alphas,). With ``own_loss`` the scorer is the estimator's
    own loss scorer, and the score is computed from the decision values
    directly (``_negative_mean_loss``)."""
    model = clone(estimator)
    model._validate_params()
    train_weight = None if sample_weight is None else sample_weight[train]
    problems, finish = model._path_problems(X[train], y[train], train_weight)
    X_test, y_test = X[test], y[test]
    test_params = _check_method_params(X, params=score_params, indices=test)
    points = PathPoints()

    def score(model):
        # A fold whose training rows lack a class of its held-out rows goes
        # through the scorer, which says so.
        if own_loss and (
            not is_classifier(model) or np.all(np.isin(y_test, model.classes_))
        ):
            value = _negative_mean_loss(
                model, X_test, y_test, test_params.get("sample_weight")
            )
        else:
            value = scorer(model, X_test, y_test, **test_params)
        points.keep(model, scores=value)

    alphas = solve_path(model, problems, finish, alphas, score)
    return points.bunch(alphas)


_CV_PARAMETERS = """alphas : array-like of shape (n_alphas,), default=None
        The penalty strengths searched, for every ``l1_ratio``. None: for
        each ``l1_ratio``, ``n_alphas`` values on a log scale from the
        smallest ``alpha`` at which every coefficient is zero on all the data
        (computed exactly for the loss; for ``l1_ratio`` below 1e-3, where it
        would be at 1e-3) down to ``eps`` times it, as ``loss_path``.

    n_alphas : int, default=100
        Number of alphas on the automatic grid.

    eps : float, default=1e-3
        Ratio of the smallest to the largest alpha on the automatic grid.

    l1_ratio : float or array-like of float, default=0.0
        Share of the L1 norm in the penalty, in ``[0, 1]``; a list is
        searched too.

    fit_intercept : bool, default=True
        Whether to fit the intercept ``b``; if False, ``b = 0``.

    max_iter : int, default=1000
        Maximum number of solver iterations of each fit.

    tol : float, default=1e-10
        Stopping tolerance of each fit, as the plain estimator's.

    cv : int, cross-validation generator or iterable, default=None
        The folds, as ``GridSearchCV``'s ``cv``: None for 5 folds, an int
        for that many (stratified for classifiers), a splitter, or an
        iterable of (train, test) index arrays.

    scoring : str, callable or None, default=None
        What the held-out rows score, greater is better: None for the
        estimator's own loss (``{scorer}`` of ``sklearn_losses.metrics``,
        with this estimator's loss parameters), a name that
        ``sklearn_losses.metrics.get_scorer`` knows, or a scorer callable
        ``scorer(estimator, X, y)``.

    n_jobs : int, default=None
        Number of jobs solving the (fold, l1_ratio) paths in parallel, as
        joblib's; None is 1 unless in a ``joblib.parallel_backend`` context.

    refit : bool, default=True
        Whether to refit the plain estimator at the best ``alpha_`` and
        ``l1_ratio_`` on all the data. If False, ``coef_`` and
        ``intercept_`` are the mean of the folds' fits at that point, and
        ``objective_`` and ``duality_gap_`` are NaN."""

_CV_ATTRIBUTES = """alpha_ : float
        The alpha of the best mean score over the folds (the largest among
        ties).

    l1_ratio_ : float
        The l1_ratio of the best mean score (the first given among ties).

    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratios, n_alphas)
        The grid searched, decreasing; one row per l1_ratio when
        ``l1_ratio`` is a list.

    scores_ : ndarray of shape (n_alphas, n_folds) or \
            (n_l1_ratios, n_alphas, n_folds)
        The score of each grid point on each fold's held-out rows.

    paths_ : list of Bunch, or list of lists of Bunch
        The path on each fold's training rows (per l1_ratio, then per fold,
        when ``l1_ratio`` is a list), as ``loss_path`` returns it, with the
        held-out ``scores``."""


def _document_cv(plain, scorer, loss_parameter, example, class_weight=""):
    """Fill a CV estimator's docstring from its plain estimator's."""
    attributes = plain.__doc__.split("Attributes\n    ----------\n")[1]
    attributes = attributes.split("\n    See Also")[0].rstrip()

    parameters = "\n\n    ".join(
        part for part in (loss_parameter, _CV_PARAMETERS.format(scorer=scorer)) if part
    )

    def decorate(cls):
        name = plain.__name__
        cls.__doc__ = f"""{name} with alpha and l1_ratio chosen by cross-validation.

    On each fold's training rows and for each ``l1_ratio``, the
    regularization path of ``{name}`` over the grid of alphas is solved,
    each alpha warm-started from the one before; each point is scored on the
    fold's held-out rows; the best mean score over the folds picks
    ``alpha_`` and ``l1_ratio_``, where ``{name}`` is refit on all the
    data. The same choice as a ``GridSearchCV`` of ``{name}`` over the same
    grid and folds, from one warm-started path per fold.

    Parameters
    ----------
    {parameters}
{class_weight}
    Attributes
    ----------
    {_CV_ATTRIBUTES}

{attributes}

    See Also
    --------
    {name} : The estimator at one alpha and l1_ratio.
    loss_path : The regularization path of one estimator.

    Examples
    --------
{example}
"""
        return cls

    return decorate


_CLASS_WEIGHT = """
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights by class, as the plain
        estimator's.
"""

_REGRESSION_EXAMPLE = """    >>> import numpy as np
    >>> from sklearn_losses import {name}
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 6))
    >>> y = X @ np.array([2.0, -1.0, 0.0, 0.0, 0.0, 0.0]) + rng.standard_t(3, 200)
    >>> model = {name}(l1_ratio=[0.5, 1.0], n_alphas=30).fit(X, y)
    >>> model.scores_.shape  # (l1_ratios, alphas, folds)
    (2, 30, 5)
    >>> bool(model.alpha_ < model.alphas_.max())
    True"""

_CLASSIFICATION_EXAMPLE = """    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_losses import {name}
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), {name}(n_alphas=20))
    >>> model.fit(X, y).score(X, y) > 0.95
    True"""


def _set_cv_parameters(estimator, arguments):
    """The parameters every CV estimator shares, as given to ``__init__``."""
    for name in (
        "alphas",
        "n_alphas",
        "eps",
        "l1_ratio",
        "fit_intercept",
        "max_iter",
        "tol",
        "cv",
        "scoring",
        "n_jobs",
        "refit",
    ):
        setattr(estimator, name, arguments[name])
