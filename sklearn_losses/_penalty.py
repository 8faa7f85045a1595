"""The elastic-net penalty, the one penalty every estimator uses.

    P(W) = l1 * ||W||_1 + l2 / 2 * ||W||_F**2,    l1 = alpha * l1_ratio,
                                                   l2 = alpha * (1 - l1_ratio)

``ElasticNet`` holds the two strengths and answers what the solvers and the
certificates ask of a penalty: its value, its proximal step, the minimum-norm
subgradient of the objective (the optimality residual of an L1 part), the
coefficients that a dual point maps to, and the smallest ``alpha`` at which
the optimal coefficients are all zero. The intercept is never penalized, so
none of these sees it.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ElasticNet:
    """``l1 * ||W||_1 + l2 / 2 * ||W||**2``, with ``l1, l2 >= 0``.

    Parameters
    ----------
    l1 : float, default=0.0
        Strength of the L1 norm, ``alpha * l1_ratio``.
    l2 : float, default=0.0
        Strength of the squared L2 norm, ``alpha * (1 - l1_ratio)``.
    """

    l1: float = 0.0
    l2: float = 0.0

    @classmethod
    def from_alpha(cls, alpha, l1_ratio):
        """The penalty ``alpha * (l1_ratio * |W|_1 + (1 - l1_ratio) / 2 * |W|**2)``."""
        return cls(alpha * l1_ratio, alpha * (1.0 - l1_ratio))

    @property
    def has_l1(self):
        return self.l1 > 0

    @property
    def has_l2(self):
        return self.l2 > 0

    def scaled(self, l1_factor, l2_factor):
        """The penalty with each strength multiplied by its factor (a change of
        variables ``W = c * W'`` multiplies ``l1`` by ``c`` and ``l2`` by ``c**2``)."""
        return ElasticNet(self.l1 * l1_factor, self.l2 * l2_factor)

    def divided(self, divisor):
        """The penalty divided by ``divisor`` (for a loss divided by it too)."""
        return ElasticNet(self.l1 / divisor, self.l2 / divisor)

    def value(self, coef):
        """``P(W)``."""
        return self.l1 * np.abs(coef).sum() + 0.5 * self.l2 * (
            coef.ravel() @ coef.ravel()
        )

    def smooth_value(self, coef):
        """The L2 part, ``l2 / 2 * ||W||**2``, which the smooth objective carries."""
        return 0.5 * self.l2 * (coef.ravel() @ coef.ravel())

    def minimum_norm_subgradient(self, coef, smooth_gradient):
        """The element of least size in ``smooth_gradient + l1 * d|W|_1``.

        Zero exactly at an optimum: ``g + l1 * sign(w)`` where ``w != 0``,
        and ``g`` shrunk towards zero by ``l1`` where ``w == 0``.
        """
        return np.where(
            coef != 0,
            smooth_gradient + self.l1 * np.sign(coef),
            np.sign(smooth_gradient)
            * np.maximum(np.abs(smooth_gradient) - self.l1, 0.0),
        )

    def coef_from_dual(self, correlation):
        """The coefficients that minimize ``-z . w + P(w)``, for ``l2 > 0``.

        ``z`` (``correlation``) is ``X.T @ (a * theta)`` for a dual point
        ``theta``: the soft threshold of ``z`` at ``l1``, divided by ``l2``.
        """
        return (
            np.sign(correlation)
            * np.maximum(np.abs(correlation) - self.l1, 0.0)
            / self.l2
        )

    def coef_on_orthant(self, correlation, signs):
        """``(z - l1 * signs) / l2``: the coefficients that minimize
        ``-z . w + P(w)`` on the orthant of ``signs``, where the dual map is
        linear (``coef_from_dual`` where the signs agree)."""
        coef = correlation / self.l2
        if self.l1 > 0:
            coef -= self.l1 * signs / self.l2
        return coef

    def gradient_off_zero(self, coef):
        """``l1 * sign(w) + l2 * w``: the gradient of ``P`` where ``w != 0``."""
        return self.l1 * np.sign(coef) + self.l2 * coef

    def proximal_step(self, point, step):
        """``argmin_w P(w) + |w - point|**2 / (2 * step)``: the proximal operator.

        The soft threshold at ``step * l1``, shrunk by ``1 + step * l2``.
        """
        shrunk = np.sign(point) * np.maximum(np.abs(point) - step * self.l1, 0.0)
        return shrunk / (1.0 + step * self.l2)

    def zero_is_optimal(self, gradient_at_zero):
        """Whether ``W = 0`` satisfies the subgradient condition there.

        ``gradient_at_zero`` is the gradient of the data term in the
        coefficients at ``W = 0`` (with the intercept at its best): zero is
        optimal exactly when no entry exceeds ``l1`` in size.
        """
        return np.max(np.abs(gradient_at_zero), initial=0.0) <= self.l1

    @staticmethod
    def smallest_alpha_for_zero(gradient_at_zero, l1_ratio):
        """The smallest ``alpha`` at which ``W = 0`` is optimal, for this ``l1_ratio``.

        ``max |g| / l1_ratio`` with ``g`` as in ``zero_is_optimal``; infinite
        without an L1 part (a ridge penalty never makes every coefficient
        zero unless the gradient at zero already is).
        """
        largest = np.max(np.abs(gradient_at_zero), initial=0.0)
        if largest == 0:
            return 0.0
        return largest / l1_ratio if l1_ratio > 0 else np.inf
