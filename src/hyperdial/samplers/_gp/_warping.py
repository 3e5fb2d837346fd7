"""Output warping: make objective values look Gaussian enough for a GP.

Losses of hyperparameter searches are skewed and heavy-tailed: most runs land near some
typical loss, a few diverge to huge values. A GP fitted to the raw values spends its
outputscale on the outliers and becomes flat (uninformative) where the good runs are. The
transform below is strictly monotone, so the order of trials and the location of the best
one are preserved; only the scale changes. With values ``y`` to minimize:

1. Robust standardization ``u = (y - median) / (IQR / 1.349)`` (the scale falls back to the
   standard deviation or the range when the IQR is zero): a few outliers do not move it.
   Median and IQR describe how the objective varies over the search space, so they are
   taken from a *reference* sample of it when one is given: the sampler passes its
   space-filling startup trials. The other trials are not a sample of the space: the
   sampler crowds them around its incumbent, and their IQR shrinks with every trial spent
   there. On ElasticNet (a basin whose floor varies by 1e-6 of the loss) it shrank until
   a trial 3e-4 worse than the best was three "standard deviations" out, so step 2 made
   every point outside the basin equally bad, and the model saw nothing else worth
   trying: 40 of 50 trials went to re-refining the incumbent by 1e-7.
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


def warp_objective(values: FloatArray, reference: FloatArray | None = None) -> FloatArray:
    """Map values to minimize to standardized, warped targets to maximize.

    Args:
        values: Finite objective values, smaller is better, shape ``(n,)``.
        reference: Values of a representative sample of the search space, which fix the
            median and robust scale of step 1; None (or a sample without spread) to use
            ``values`` themselves.

    Returns:
        Targets with zero mean and unit variance (all zeros if the values are constant),
        in the reverse order of ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    if reference is None or not np.ptp(reference) > 0.0:
        reference = values
    median = float(np.median(reference))
    scale = _robust_scale(np.asarray(reference, dtype=np.float64))
    u = np.clip((values - median) / scale, -_CLIP, _CLIP)
    if not np.ptp(u) > 0.0:
        return np.zeros_like(values)
    # Step 2: squash the bad tail.
    over = u > _TAIL_THRESHOLD
    u[over] = _TAIL_THRESHOLD + 1.0 - np.exp(_TAIL_THRESHOLD - u[over])
    # Step 3: standardize; larger is better.
    return -(u - float(np.mean(u))) / float(np.std(u))
