"""The parts every estimator's docstring shares: the objective, the common
parameters, class weights, the certificates and the regressors' attributes,
filled in by ``_document``."""

_OBJECTIVE = """
    The objective, with ``f_i = x_i . w + b`` and ``s_i`` the sample weights
    (times the class weights, for classifiers) summing to ``S``::

        J(w, b) = (1 / S) * sum_i s_i * L(y_i, f_i)
                  + alpha * (l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||_2**2)

    The intercept ``b`` is not penalized."""

_COMMON_PARAMETERS = """alpha : float, default=1e-4
        Strength of the penalty, ``alpha >= 0``; ``alpha=0`` fits without
        penalty.

    l1_ratio : float, default=0.0
        Share of the L1 norm in the penalty, in ``[0, 1]``: 0 is ridge, 1 is
        lasso, in between the elastic net.

    fit_intercept : bool, default=True
        Whether to fit the intercept ``b``; if False, ``b = 0``.

    max_iter : int, default=1000
        Maximum number of iterations of the solver (Newton or L-BFGS-B
        iterations, summed over the smoothing levels of the smoothed dual,
        or HiGHS iterations for a linear program), ``max_iter >= 1``.

    tol : float, default=1e-10
        Stopping tolerance, ``tol >= 0``: the largest entry of the (projected)
        gradient for the Newton and L-BFGS-B solvers; the duality gap relative to the
        objective for the smoothed-dual solver, where it is at least 1e-8.
        Linear programs are solved exactly.

    warm_start : bool, default=False
        Whether to start from the previous ``coef_`` and ``intercept_``
        rather than from zero."""

_CLASS_WEIGHT = """class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights by class: a dict
        ``{class_label: weight}``, or ``"balanced"`` for
        ``n_samples / (n_classes * bincount(y))``; None gives every class
        weight one."""


_CERTIFICATES = """objective_ : float or ndarray of shape (n_classes,)
        The objective ``J`` above at the fitted ``coef_`` and ``intercept_``
        on the training data (one value per class for one-vs-rest).

    duality_gap_ : float or ndarray of shape (n_classes,)
        How far from optimal the fit can be: the relative duality gap
        ``(J - D) / |J|`` at a feasible dual point (built from the fit by
        Fenchel duality, or kept by the kinked losses' dual solvers), a
        bound on the relative suboptimality. Where no dual bound exists,
        the stationarity residual instead: the largest entry of the
        objective's minimum-norm subgradient at the fit, for the focal loss
        (not convex) and for smooth losses with ``alpha=0`` (their dual asks
        ``X.T @ u = 0`` exactly). For the problem as solved: features or
        targets of extreme magnitude are rescaled first."""


_REGRESSOR_ATTRIBUTES = """coef_ : ndarray of shape (n_features,)
        Coefficients ``w``.

    intercept_ : float
        Intercept ``b``.

    n_iter_ : int
        Number of solver iterations.

    {certificates}

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names."""


def _document(template):
    """Fill the shared parts into a class docstring."""

    def decorate(cls):
        cls.__doc__ = template.format(
            objective=_OBJECTIVE,
            common=_COMMON_PARAMETERS,
            class_weight=_CLASS_WEIGHT,
            certificates=_CERTIFICATES,
            regressor_attributes=_REGRESSOR_ATTRIBUTES.format(
                certificates=_CERTIFICATES
            ),
        )
        return cls

    return decorate
