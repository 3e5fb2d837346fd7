"""Output warping: make objective values look Gaussian enough for a GP.

Losses of hyperparameter searches are skewed and heavy-tailed: most runs land near some
typical loss, a few diverge to huge values. A GP fitted to the raw values spends its
outputscale on the outliers and becomes flat (uninformative) where the good runs are. The
transform below is strictly monotone, so the order of trials and the location of the best
one are preserved; only the scale changes. With values ``y`` to minimize:

1. Robust standardization ``u = (y - median) / (IQR / 1.349)`` (the scale falls back to the
   standard deviation or the range when the IQR is zero): a few outliers do not move it.
2. Bad-tail compression: ``u -> c + log(1 + u - c)`` for ``u > c`` (``c = 3``), so a
   diverged run counts like a bad run, not like an earthquake. The good tail is kept: a
   much better run is information to exploit.
3. Yeo-Johnson power transform (Yeo & Johnson 2000) with the exponent fitted by maximum
   likelihood, the output transform used by HEBO (Cowen-Rivers et al. 2022, "HEBO:
   Pushing the Limits of Sample-Efficient Hyperparameter Optimisation") to remove the
   remaining skew.
4. Standardization to zero mean and unit variance, and a sign flip so that larger is
   better (the GP and the acquisition maximize).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

__all__ = ["warp_objective", "yeo_johnson"]

FloatArray = NDArray[np.float64]

_TAIL_THRESHOLD = 3.0
_LAMBDA_BOUNDS = (-2.0, 4.0)
# Standardized values are clipped here before the power transform so it cannot overflow.
_CLIP = 1e4


def yeo_johnson(u: FloatArray, lam: float) -> FloatArray:
    """Yeo-Johnson transform of ``u`` with exponent ``lam``.

    ``((u + 1)**lam - 1) / lam`` for ``u >= 0`` and ``-((1 - u)**(2 - lam) - 1) / (2 - lam)``
    for ``u < 0``, with the ``log`` limits at ``lam = 0`` and ``lam = 2``.
    """
    out = np.empty_like(u)
    pos = u >= 0.0
    up, un = u[pos], u[~pos]
    if abs(lam) < 1e-8:
        out[pos] = np.log1p(up)
    else:
        out[pos] = np.expm1(lam * np.log1p(up)) / lam
    if abs(lam - 2.0) < 1e-8:
        out[~pos] = -np.log1p(-un)
    else:
        out[~pos] = -np.expm1((2.0 - lam) * np.log1p(-un)) / (2.0 - lam)
    return out


def _yeo_johnson_lambda(u: FloatArray) -> float:
    """Maximum-likelihood exponent of the Yeo-Johnson transform.

    Maximizes ``-n/2 log var(psi(u)) + (lam - 1) sum sign(u) log(1 + |u|)``.
    """
    n = int(u.shape[0])
    jacobian = float(np.sum(np.sign(u) * np.log1p(np.abs(u))))

    def negative_log_likelihood(lam: float) -> float:
        var = float(np.var(yeo_johnson(u, lam)))
        if not var > 1e-300 or not math.isfinite(var):
            return math.inf
        return 0.5 * n * math.log(var) - (lam - 1.0) * jacobian

    result = scipy.optimize.minimize_scalar(
        negative_log_likelihood, bounds=_LAMBDA_BOUNDS, method="bounded",
        options={"xatol": 1e-3},
    )  # fmt: skip
    lam = float(result.x)
    if not math.isfinite(float(result.fun)) or not math.isfinite(lam):
        return 1.0
    return lam


def _robust_scale(y: FloatArray) -> float:
    q25, q75 = np.percentile(y, [25.0, 75.0])
    for scale in (float(q75 - q25) / 1.349, float(np.std(y)), float(np.ptp(y))):
        if scale > 0.0 and math.isfinite(scale):
            return scale
    return 1.0


def warp_objective(values: FloatArray) -> FloatArray:
    """Map values to minimize to standardized, warped targets to maximize.

    Args:
        values: Finite objective values, smaller is better, shape ``(n,)``.

    Returns:
        Targets with zero mean and unit variance (all zeros if the values are constant),
        in the reverse order of ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    median = float(np.median(values))
    scale = _robust_scale(values)
    u = np.clip((values - median) / scale, -_CLIP, _CLIP)
    if not np.ptp(u) > 0.0:
        return np.zeros_like(values)
    # Step 2: compress the bad tail.
    over = u > _TAIL_THRESHOLD
    u[over] = _TAIL_THRESHOLD + np.log1p(u[over] - _TAIL_THRESHOLD)
    # Step 3: remove the skew.
    warped = yeo_johnson(u, _yeo_johnson_lambda(u))
    std = float(np.std(warped))
    if not std > 0.0 or not math.isfinite(std):
        warped, std = u, float(np.std(u))
    return -(warped - float(np.mean(warped))) / std
