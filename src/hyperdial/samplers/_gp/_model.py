"""Gaussian-process regression: MAP hyperparameters and the posterior.

The model is ``t = f(x) + eps`` with ``f ~ GP(m, k)``, ``k`` the Matern-5/2 ARD kernel of
:mod:`._kernel` and ``eps ~ N(0, noise)``; targets ``t`` are standardized and warped (see
:mod:`._warping`). The constant prior mean ``m`` is estimated by generalized least squares
for the current hyperparameters (and so profiled out of the likelihood):

    m = 1^T K^-1 t / 1^T K^-1 1                                                      (M3)

Trials cluster around good regions, and (M3) down-weights clustered points, so ``m`` is
closer to the typical value of the space than the plain average: regions far from all
data look ordinary rather than promising, which keeps expected improvement from chasing
corners of the cube (a zero mean made it do so on Ackley-10).

Hyperparameters ``theta = (log l_1..log l_d, log s, log noise)`` are fitted by maximum a
posteriori (MAP) estimation: L-BFGS-B on the negative log posterior

    L(theta) = 1/2 r^T K^-1 r + sum_i log L_ii + n/2 log(2 pi) - log p(theta)       (M1)

(``K = L L^T``; Rasmussen & Williams 2006, eq. 5.8) with its analytic gradient

    dL/dtheta_i = -1/2 tr((alpha alpha^T - K^-1) dK/dtheta_i) - dlog p/dtheta_i      (M2)

(``r = t - m``, ``alpha = K^-1 r``, eq. 5.9; since ``m`` minimizes (M1) for given
``theta``, its dependence on ``theta`` adds nothing to (M2)). Priors, all on log scales:

* lengthscales: ``log l_j ~ N(log(d)/2 - 1, 3)``, after the dimension-scaled prior of
  Hvarfner, Hellsten & Nardi (2024), "Vanilla Bayesian Optimization Performs Great in High
  Dimensions": the typical lengthscale grows like ``sqrt(d)`` so that the prior's
  complexity does not explode with the dimension. The paper centres it at
  ``sqrt(2) + log(d)/2`` (a median of four cube widths in 1-D), which made the model too
  smooth for the few dozen trials of a tuning study: confident about regions it had not
  seen, it stopped exploring them. We keep the ``sqrt(d)`` growth and the spread and
  centre it at ``sqrt(d) / e`` (a third of the range in 1-D). Offsets ``sqrt(2)``, ``0``
  and ``-1`` (to ``log(d)/2``) were compared on Branin and Hartmann-6, and the last two
  also on Ackley-10, by the best value after 25 to 50 trials: ``sqrt(2)`` was worst, and
  with the rest of this model ``-1`` beat ``0`` on all three;
* outputscale: ``log s ~ N(0, 1)`` (targets have unit variance);
* noise: ``p(noise) ∝ exp(-30 noise) / noise`` on ``[1e-6, 1]``: flat in ``log noise``
  (no preferred scale among small noises), with an exponential penalty on noise that would
  explain a sizeable part of the (unit) variance: 10% costs three nats. Fixed at
  ``1e-6`` for a deterministic objective. A log-normal ``N(-4, 1)`` (centred at 2% of the
  variance; BoTorch's default) was used before: it charged 48 nats for ``1e-6`` and kept
  the learnt noise above ``1e-3`` on deterministic objectives, where the model then
  smoothed over the differences that matter near the optimum. On Hartmann-6, Branin and
  the SVC problem (3 seeds, 50 trials) the flat prior matched fixing the noise at
  ``1e-6`` (Hartmann-6 best -3.20 against -2.82 before; SVC 0.00393 against 0.00402),
  while noise that is really there is still learnt: the likelihood of a few dozen trials
  outweighs a penalty of a few nats. A rate of 10 did as well there but let the model
  explain Ackley-10's ripples as noise (0.25 of the variance): expected improvement over
  the best (lucky) value then found nothing near the data and wandered the space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
from numpy.typing import NDArray

from hyperdial.samplers._gp._kernel import (
    matern52,
    matern52_and_derivative,
    pairwise_components,
    scaled_sq_dist,
)

__all__ = ["GPModel", "Hyperparameters", "fit_gp"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_LOG_2PI = math.log(2.0 * math.pi)
# Noise of a deterministic objective; also the floor of a learnt noise (standardized units).
_MIN_NOISE = 1e-6
_LOG_LENGTHSCALE_BOUNDS = (math.log(5e-3), math.log(1e3))
_LOG_OUTPUTSCALE_BOUNDS = (math.log(1e-2), math.log(1e2))
_LOG_NOISE_BOUNDS = (math.log(_MIN_NOISE), math.log(1.0))
_LENGTHSCALE_PRIOR_SCALE = math.sqrt(3.0)
_OUTPUTSCALE_PRIOR = (0.0, 1.0)
# Noise prior: log-uniform (flat in log noise) times exp(-rate * noise); see the docstring.
_NOISE_RATE = 30.0
# Where the noise search starts (prior centre), and the range of its random starts.
_NOISE_START = -4.0
_LOG_NOISE_DRAWS = (math.log(_MIN_NOISE), math.log(1.0 / _NOISE_RATE))
# Relative jitter added to the diagonal, tenfold per failed Cholesky factorisation.
_JITTERS = (0.0, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
_FAILED_LOSS = 1e25


@dataclass(frozen=True)
class Hyperparameters:
    """Kernel hyperparameters on log scales (the MAP search space).

    Attributes:
        log_lengthscales: One per input dimension.
        log_outputscale: Log of the kernel variance ``s``.
        log_noise: Log of the observation-noise variance.
    """

    log_lengthscales: FloatArray
    log_outputscale: float
    log_noise: float

    def to_vector(self, with_noise: bool) -> FloatArray:
        tail = [self.log_outputscale, self.log_noise] if with_noise else [self.log_outputscale]
        return np.concatenate([self.log_lengthscales, tail])

    @classmethod
    def from_vector(cls, theta: FloatArray, dim: int, log_noise: float | None) -> Hyperparameters:
        return cls(
            log_lengthscales=np.array(theta[:dim], dtype=np.float64),
            log_outputscale=float(theta[dim]),
            log_noise=float(theta[dim + 1]) if log_noise is None else log_noise,
        )


def lengthscale_prior_mean(dim: int) -> float:
    """Mean of the log-lengthscale prior for ``dim`` inputs: ``log(sqrt(dim) / e)``."""
    return 0.5 * math.log(dim) - 1.0


def lengthscale_penalty(log_ls: FloatArray, center: float) -> tuple[float, FloatArray]:
    """Negative log prior density of the log-lengthscales and its gradient."""
    z = (log_ls - center) / _LENGTHSCALE_PRIOR_SCALE
    return 0.5 * float(z @ z), z / _LENGTHSCALE_PRIOR_SCALE


def _gls_mean(chol: FloatArray, y: FloatArray) -> float:
    """Generalized-least-squares constant mean (M3): ``1^T K^-1 y / 1^T K^-1 1``."""
    k_inv_ones = scipy.linalg.cho_solve((chol, True), np.ones_like(y), check_finite=False)
    return float(k_inv_ones @ y) / float(k_inv_ones.sum())


def _cholesky(matrix: FloatArray) -> tuple[FloatArray, float] | None:
    """Cholesky factor of ``matrix`` with the smallest jitter that works, or None."""
    scale = float(np.mean(np.diag(matrix)))
    for relative in _JITTERS:
        jitter = relative * scale
        try:
            factor = scipy.linalg.cholesky(
                matrix + jitter * np.eye(matrix.shape[0]), lower=True, check_finite=False
            )
        except np.linalg.LinAlgError:
            continue
        if np.all(np.isfinite(factor)):
            return factor, jitter
    return None


class GPModel:
    """A GP conditioned on data with fixed hyperparameters.

    Args:
        x: Inputs, shape ``(n, d)``: unit-cube coordinates, category codes where
            ``categorical``.
        y: Standardized targets, shape ``(n,)``.
        categorical: Which dimensions hold category codes.
        params: Kernel hyperparameters.
        exact: Which rows are noise-free (fantasies); None for none.
        mean_constant: The prior mean; None to estimate it from the data (M3).

    Raises:
        numpy.linalg.LinAlgError: if the kernel matrix cannot be factorised even with jitter.
    """

    def __init__(
        self,
        x: FloatArray,
        y: FloatArray,
        categorical: BoolArray,
        params: Hyperparameters,
        exact: BoolArray | None = None,
        mean_constant: float | None = None,
    ) -> None:
        self.x = x
        self.y = y
        self.categorical = categorical
        self.params = params
        self.exact = np.zeros(x.shape[0], dtype=bool) if exact is None else exact
        self.inv_sq_lengthscales = np.exp(-2.0 * params.log_lengthscales)
        self.outputscale = math.exp(params.log_outputscale)
        d2 = scaled_sq_dist(x, x, self.inv_sq_lengthscales, categorical)
        gram = matern52(d2, self.outputscale)
        gram[np.diag_indices_from(gram)] += np.where(
            self.exact, _MIN_NOISE, math.exp(params.log_noise)
        )
        result = _cholesky(gram)
        if result is None:
            raise np.linalg.LinAlgError("kernel matrix is not positive definite")
        self._chol, _ = result
        if mean_constant is None:
            mean_constant = _gls_mean(self._chol, y)
        self.mean_constant = mean_constant
        self.alpha: FloatArray = scipy.linalg.cho_solve(
            (self._chol, True), y - mean_constant, check_finite=False
        )

    def posterior(
        self, xq: FloatArray, *, with_grad: bool = False
    ) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
        """Posterior mean and variance of the latent ``f`` at the rows of ``xq``.

        Uses ``mu = k_q^T alpha`` and ``var = s - k_q^T K^-1 k_q`` (R&W 2006, eqs. 2.25-2.26).
        With ``with_grad``, also their gradients with respect to ``xq``; by (K1) and (K3)
        ``dk_i/dx_j = dk/d(d2)_i * 2 (x_j - X_ij) / l_j**2`` on numerical dimensions, zero on
        categorical ones.

        Returns:
            ``(mean, var, dmean, dvar)``; the gradients have shape ``(b, d)`` or are None.
        """
        d2 = scaled_sq_dist(xq, self.x, self.inv_sq_lengthscales, self.categorical)
        if with_grad:
            kq, dk = matern52_and_derivative(d2, self.outputscale)
        else:
            kq, dk = matern52(d2, self.outputscale), None
        mean = self.mean_constant + kq @ self.alpha
        w = scipy.linalg.solve_triangular(self._chol, kq.T, lower=True, check_finite=False)
        var = np.maximum(self.outputscale - np.einsum("ij,ij->j", w, w), 1e-12)
        if dk is None:
            return mean, var, None, None
        v = scipy.linalg.solve_triangular(self._chol.T, w, lower=False, check_finite=False)
        scale = 2.0 * self.inv_sq_lengthscales
        scale[self.categorical] = 0.0

        def _directional(weights: FloatArray) -> FloatArray:
            # sum_i weights_bi * (x_bj - X_ij), without a (b, n, d) temporary.
            out: FloatArray = weights.sum(axis=1)[:, None] * xq - weights @ self.x
            return out

        dmean = _directional(dk * self.alpha[None, :]) * scale
        dvar = -2.0 * _directional(dk * v.T) * scale
        return mean, var, dmean, dvar

    def condition_on(self, x_new: FloatArray, y_new: FloatArray) -> GPModel:
        """Return the model with extra noise-free observations, same hyperparameters.

        Used for fantasies: a believed value is exact, so the posterior variance at a
        pending point collapses and the acquisition looks elsewhere.
        """
        return GPModel(
            np.vstack([self.x, x_new]), np.concatenate([self.y, y_new]), self.categorical,
            self.params, np.concatenate([self.exact, np.ones(x_new.shape[0], dtype=bool)]),
            self.mean_constant,
        )  # fmt: skip


class _MapObjective:
    """Negative log posterior (M1) and its gradient (M2) for one data set."""

    def __init__(
        self, x: FloatArray, y: FloatArray, categorical: BoolArray, fixed_log_noise: float | None
    ) -> None:
        self.y = y
        self.n, self.dim = x.shape
        self.fixed_log_noise = fixed_log_noise
        # (n*n, d): the D_j of (K1), so d2 = comp @ (1 / l**2) is one matrix-vector product.
        self.comp = pairwise_components(x, categorical).reshape(self.n * self.n, self.dim)
        self.ls_mean = lengthscale_prior_mean(self.dim)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        dim, n = self.dim, self.n
        log_ls = theta[:dim]
        log_s = theta[dim]
        log_noise = theta[dim + 1] if self.fixed_log_noise is None else self.fixed_log_noise
        inv_sq = np.exp(-2.0 * log_ls)
        s, noise = math.exp(log_s), math.exp(log_noise)
        d2 = (self.comp @ inv_sq).reshape(n, n)
        kf, dkf = matern52_and_derivative(d2, s)
        gram = kf.copy()
        gram[np.diag_indices_from(gram)] += noise
        result = _cholesky(gram)
        if result is None:
            return _FAILED_LOSS, np.zeros_like(theta)
        chol, _ = result
        # Profile the constant mean out (M3); by the envelope theorem (M2) still holds.
        yc = self.y - _gls_mean(chol, self.y)
        alpha = scipy.linalg.cho_solve((chol, True), yc, check_finite=False)
        # K^-1 from the Cholesky factor (LAPACK potri fills the lower triangle).
        inv, info = scipy.linalg.lapack.dpotri(chol, lower=1)
        if info != 0:
            inv = scipy.linalg.cho_solve((chol, True), np.eye(n), check_finite=False)
        else:
            inv = np.tril(inv) + np.tril(inv, -1).T
        # (M1), data part.
        loss = 0.5 * float(yc @ alpha) + float(np.log(np.diag(chol)).sum()) + 0.5 * n * _LOG_2PI
        w = np.outer(alpha, alpha) - inv  # (M2): dL/dtheta_i = -1/2 sum(W * dK/dtheta_i)
        grad = np.empty_like(theta)
        # dK/dlog l_j = dk/d(d2) * (-2 D_j / l_j**2)  =>  dL/dlog l_j = sum(W dk D_j) / l_j**2
        grad[:dim] = ((w * dkf).reshape(-1) @ self.comp) * inv_sq
        # dK/dlog s = K_f.
        grad[dim] = -0.5 * float(np.sum(w * kf))
        if self.fixed_log_noise is None:
            # dK/dlog noise = noise * I.
            grad[dim + 1] = -0.5 * noise * float(np.trace(w))
        # Log-normal priors (negative log densities, constants dropped).
        penalty, penalty_grad = lengthscale_penalty(log_ls, self.ls_mean)
        loss += penalty
        grad[:dim] += penalty_grad
        z_s = (log_s - _OUTPUTSCALE_PRIOR[0]) / _OUTPUTSCALE_PRIOR[1]
        loss += 0.5 * z_s * z_s
        grad[dim] += z_s / _OUTPUTSCALE_PRIOR[1]
        if self.fixed_log_noise is None:
            # Flat in log noise: the penalty is rate * noise, its log-derivative the same.
            loss += _NOISE_RATE * noise
            grad[dim + 1] += _NOISE_RATE * noise
        if not (math.isfinite(loss) and np.all(np.isfinite(grad))):
            return _FAILED_LOSS, np.zeros_like(theta)
        return loss, grad

    def bounds(self) -> list[tuple[float, float]]:
        bounds = [_LOG_LENGTHSCALE_BOUNDS] * self.dim + [_LOG_OUTPUTSCALE_BOUNDS]
        if self.fixed_log_noise is None:
            bounds.append(_LOG_NOISE_BOUNDS)
        return bounds

    def prior_center(self) -> FloatArray:
        center = [self.ls_mean] * self.dim + [_OUTPUTSCALE_PRIOR[0]]
        if self.fixed_log_noise is None:
            center.append(_NOISE_START)
        return np.array(center)

    def prior_draw(self, rng: np.random.Generator) -> FloatArray:
        draw = [
            *np.asarray(rng.normal(self.ls_mean, _LENGTHSCALE_PRIOR_SCALE, size=self.dim)).tolist(),
            float(rng.normal(_OUTPUTSCALE_PRIOR[0], _OUTPUTSCALE_PRIOR[1])),
        ]
        if self.fixed_log_noise is None:
            draw.append(float(rng.uniform(*_LOG_NOISE_DRAWS)))
        return np.array(draw)


def fit_gp(
    x: FloatArray,
    y: FloatArray,
    categorical: BoolArray,
    *,
    deterministic: bool,
    rng: np.random.Generator,
    warm_starts: Sequence[Hyperparameters] = (),
    n_random_starts: int = 2,
    explore: bool = True,
    max_iter: int = 200,
) -> GPModel:
    """Fit the hyperparameters by MAP with multi-start L-BFGS-B and return the model.

    Starts are the ``warm_starts`` (usually the previous fit) and, with ``explore`` (or
    without warm starts), the prior's centre and ``n_random_starts`` draws from the prior;
    the lowest loss (M1) wins. If every start fails, the prior's centre is used as is.

    Args:
        x: Inputs, shape ``(n, d)``.
        y: Standardized targets, shape ``(n,)``.
        categorical: Which dimensions hold category codes.
        deterministic: Fix the noise at a tiny value instead of learning it.
        rng: Source of the random starts.
        warm_starts: Previous hyperparameters to start from.
        n_random_starts: How many starts to draw from the prior.
        explore: Also start from the prior (centre and draws), not only from
            ``warm_starts``.
        max_iter: L-BFGS-B iterations per start.
    """
    dim = x.shape[1]
    fixed_log_noise = math.log(_MIN_NOISE) if deterministic else None
    objective = _MapObjective(x, y, categorical, fixed_log_noise)
    bounds = objective.bounds()
    lower = np.array([b[0] for b in bounds])
    upper = np.array([b[1] for b in bounds])
    starts = [h.to_vector(not deterministic) for h in warm_starts]
    starts = [s for s in starts if s.shape == lower.shape and np.all(np.isfinite(s))]
    if explore or not starts:
        starts.append(objective.prior_center())
        starts.extend(objective.prior_draw(rng) for _ in range(n_random_starts))

    best_theta, best_loss = objective.prior_center(), math.inf
    for start in starts:
        start = np.clip(start, lower, upper)
        result = scipy.optimize.minimize(
            objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-9, "gtol": 1e-5},
        )  # fmt: skip
        loss = float(result.fun)
        if math.isfinite(loss) and loss < best_loss and loss < _FAILED_LOSS:
            best_theta, best_loss = np.asarray(result.x, dtype=np.float64), loss
    params = Hyperparameters.from_vector(best_theta, dim, fixed_log_noise)
    return GPModel(x, y, categorical, params)
