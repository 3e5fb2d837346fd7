"""Output warping: make objective values look Gaussian enough for a GP.

Losses of hyperparameter searches are skewed and heavy-tailed: most runs land near some
typical loss, a few diverge to huge values. A GP fitted to the raw values spends its
outputscale on the outliers and becomes flat (uninformative) where the good runs are. The
transform below is strictly monotone, so the order of trials and the location of the best
one are preserved; only the scale changes. With values ``y`` to minimize:

1. Robust standardization ``u = (y - median) / (IQR / 1.349)`` (the scale falls back to the
   standard deviation or the range when the IQR is zero): a few outliers do not move it.
2. Bad-tail squashing: ``u -> c + 1 - exp(c - u)`` for ``u > c`` (``c = 3``, three robust
   standard deviations; value and slope are continuous at ``c``). Every value worse than
   that lands in ``(c, c + 1)``, so a diverged run at ``1e300`` counts like a bad run, not
   like an earthquake; a logarithm would still leave it ten times further out than the
   rest. The good tail is kept as is: a much better run is information to exploit, and the
   shape of the objective near its optimum is what the model must get right.
3. Standardization to zero mean and unit variance, and a sign flip so that larger is
   better (the GP and the acquisition maximize).

A power transform (Yeo-Johnson, as in HEBO, Cowen-Rivers et al. 2022) was tried as a
further step and left out: on smooth benchmarks it distorted the objective near its
optimum and slowed convergence, while step 2 alone already tames heavy tails.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["warp_objective"]

FloatArray = NDArray[np.float64]

_TAIL_THRESHOLD = 3.0
# Standardized values are clipped here first, so nothing downstream can overflow.
_CLIP = 1e12


def _robust_scale(y: FloatArray) -> float:
    q25, q75 = np.percentile(y, [25.0, 75.0])
    with np.errstate(over="ignore", invalid="ignore"):  # std of values near 1e308
        std = float(np.std(y))
    for scale in (float(q75 - q25) / 1.349, std, float(np.ptp(y))):
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
    # Step 2: squash the bad tail.
    over = u > _TAIL_THRESHOLD
    u[over] = _TAIL_THRESHOLD + 1.0 - np.exp(_TAIL_THRESHOLD - u[over])
    # Step 3: standardize; larger is better.
    return -(u - float(np.mean(u))) / float(np.std(u))
