"""Log expected improvement, computed stably even where EI underflows.

For a Gaussian posterior ``f(x) ~ N(mu, sigma**2)`` and incumbent ``best`` (targets are
maximized), expected improvement is (Jones et al. 1998)::

    EI(x) = sigma * h(z),    h(z) = phi(z) + z Phi(z),    z = (mu - best) / sigma     (A1)

``h(z)`` underflows to zero for ``z`` below about -38, which leaves the acquisition flat
(no gradient) over most of the space once the model is confident. Following Ament, Daulton,
Eriksson, Balandat & Bakshy (2023), "Unexpected Improvements to Expected Improvement for
Bayesian Optimization", eq. (9), ``log h`` is evaluated piecewise::

    z > -1:             log(phi(z) + z Phi(z))
    -1/sqrt(eps) < z <= -1:
                        -z**2/2 - log(2 pi)/2
                        + log1mexp(log(erfcx(-z/sqrt 2) |z|) + log(pi/2)/2)          (A2)
    z <= -1/sqrt(eps):  -z**2/2 - log(2 pi)/2 - 2 log|z|

where ``erfcx`` is the scaled complementary error function and
``log1mexp(a) = log(1 - exp(a))``. Since ``dh/dz = Phi(z)``, the gradient is
``dlog h/dz = exp(log Phi(z) - log h(z))``, again finite everywhere.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

from hyperdial.samplers._gp._model import GPModel

__all__ = ["LogEI", "log_h", "log_h_grad"]

FloatArray = NDArray[np.float64]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_LOG_PI_OVER_2 = 0.5 * math.log(math.pi / 2.0)
_INV_SQRT_EPS = 1.0 / math.sqrt(float(np.finfo(np.float64).eps))
_LN2 = math.log(2.0)


def _log1mexp(a: FloatArray) -> FloatArray:
    """``log(1 - exp(a))`` for ``a < 0`` (Maechler 2012: two branches around -log 2)."""
    out = np.empty_like(a)
    near = a > -_LN2
    out[near] = np.log(-np.expm1(a[near]))
    out[~near] = np.log1p(-np.exp(a[~near]))
    return out


def log_h(z: FloatArray) -> FloatArray:
    """Return ``log(phi(z) + z Phi(z))`` by (A2), finite for every finite ``z``."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    upper = z > -1.0
    tail = z <= -_INV_SQRT_EPS
    middle = ~upper & ~tail
    zu = z[upper]
    out[upper] = np.log(special.ndtr(zu) * zu + np.exp(-0.5 * zu * zu - _HALF_LOG_2PI))
    zm = z[middle]
    out[middle] = (
        -0.5 * zm * zm
        - _HALF_LOG_2PI
        + _log1mexp(np.log(special.erfcx(-zm / math.sqrt(2.0)) * -zm) + _HALF_LOG_PI_OVER_2)
    )
    zt = z[tail]
    out[tail] = -0.5 * zt * zt - _HALF_LOG_2PI - 2.0 * np.log(-zt)
    return out


def log_h_grad(z: FloatArray, log_h_value: FloatArray) -> FloatArray:
    """Return ``d log h / dz = Phi(z) / h(z)``, computed in log space."""
    out: FloatArray = np.exp(special.log_ndtr(z) - log_h_value)
    return out


class LogEI:
    """Log expected improvement of a fitted :class:`GPModel` over ``best`` (maximization).

    Args:
        model: Posterior of the (standardized, warped) objective, larger is better.
        best: The incumbent value on the model's scale.
    """

    def __init__(self, model: GPModel, best: float) -> None:
        self.model = model
        self.best = float(best)

    def __call__(self, x: FloatArray) -> FloatArray:
        """Return log EI at the rows of ``x``."""
        mean, var, _, _ = self.model.posterior(x)
        sigma = np.sqrt(var)
        return log_h((mean - self.best) / sigma) + np.log(sigma)

    def value_and_grad(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return log EI and its gradient with respect to ``x`` (zero on categorical dims).

        With ``sigma = sqrt(var)``: ``dsigma = dvar / (2 sigma)``,
        ``dz = dmu / sigma - z dsigma / sigma`` and
        ``dlogEI = dlog h/dz * dz + dsigma / sigma``.
        """
        mean, var, dmean, dvar = self.model.posterior(x, with_grad=True)
        assert dmean is not None and dvar is not None
        sigma = np.sqrt(var)
        z = (mean - self.best) / sigma
        lh = log_h(z)
        dsigma = dvar / (2.0 * sigma[:, None])
        dz = dmean / sigma[:, None] - (z / sigma)[:, None] * dsigma
        grad = log_h_grad(z, lh)[:, None] * dz + dsigma / sigma[:, None]
        return lh + np.log(sigma), grad
