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

__all__ = ["LogEI", "log_augmentation", "log_h", "log_h_grad"]

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


def log_augmentation(var: FloatArray, noise: float) -> tuple[FloatArray, FloatArray]:
    """Return the log of the augmentation factor (A3) and its derivative in ``var``.

    With ``r = sqrt(var + noise)`` and ``a = sqrt(noise)``, ``1 - a / r`` is computed as
    ``var / (r (r + a))``, which stays accurate where ``var`` is far below ``noise``.
    """
    a = math.sqrt(noise)
    r = np.sqrt(var + noise)
    value = np.log(var) - np.log(r) - np.log(r + a)
    grad = 1.0 / var - 0.5 / (r * r) - 0.5 / (r * (r + a))
    return value, grad


class LogEI:
    """Log expected improvement of a fitted :class:`GPModel` over ``best`` (maximization).

    EI is multiplied by the factor of augmented expected improvement (Huang, Allen, Notz &
    Zeng 2006, "Global Optimization of Stochastic Black-Box Systems via Sequential Kriging
    Meta-Models", eq. 10)::

        AEI(x) = EI(x) * (1 - sqrt(noise) / sqrt(var(x) + noise))                     (A3)

    EI alone rewards the model's leftover uncertainty between observations however close
    together they are, so once the model is sure of a basin or a plateau (a rank-based
    score is flat over a range of a regularization constant), EI's maximum sits a hair
    from the incumbent and trial after trial re-refines it by amounts far below what an
    evaluation can resolve (ElasticNet: 40 of 50 trials within 1e-3 of the incumbent in
    the unit cube). The factor vanishes where the posterior standard deviation is well
    below the noise's, that is where one more evaluation could not tell the answer from
    what the model already predicts, and is close to one where the model is uncertain.
    For a noise-free objective the noise is the model's floor (``1e-6`` of the target
    variance), so the factor only acts at that resolution.

    Args:
        model: Posterior of the (standardized, warped) objective, larger is better.
        best: The incumbent value on the model's scale.
        noise: Observation-noise variance of (A3); None to use the model's, 0 for plain EI.
    """

    def __init__(self, model: GPModel, best: float, noise: float | None = None) -> None:
        self.model = model
        self.best = float(best)
        self.noise = math.exp(model.params.log_noise) if noise is None else float(noise)

    def __call__(self, x: FloatArray) -> FloatArray:
        """Return log AEI at the rows of ``x``."""
        mean, var, _, _ = self.model.posterior(x)
        sigma = np.sqrt(var)
        out: FloatArray = log_h((mean - self.best) / sigma) + np.log(sigma)
        if self.noise > 0.0:
            out = out + log_augmentation(var, self.noise)[0]
        return out

    def value_and_grad(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return log AEI and its gradient with respect to ``x`` (zero on categorical dims).

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
        value = lh + np.log(sigma)
        if self.noise > 0.0:
            log_factor, dlog_factor = log_augmentation(var, self.noise)
            value = value + log_factor
            grad = grad + dlog_factor[:, None] * dvar
        return value, grad
