"""Output warping: make objective values look Gaussian enough for a GP.

Losses of hyperparameter searches are skewed and heavy-tailed: most runs land near some
typical loss, a few diverge to huge values. A GP fitted to the raw values spends its
outputscale on the outliers and becomes flat (uninformative) where the good runs are. But
ordinary spread, however skewed, is information: squashing every value a few robust
standard deviations out (as this module once did) flattened the slopes of ElasticNet's
landscape, whose bad fifth lies hundreds to thousands of robust standard deviations above
a plateau, and the model never found the valley beside it. So only *diverged* runs are
treated, and the transform is strictly monotone, keeping the order of the trials. With
values ``y`` to minimize:

1. Robust standardization ``u = (y - median) / (IQR / 1.349)`` (the scale falls back to the
   standard deviation or the range when the IQR is zero), median and IQR taken from a
   *reference* sample of the space when one is given: the sampler passes its space-filling
   startup trials (the later ones crowd around the incumbent and their IQR shrinks). This
   step only sets the units of the next.
2. Diverged runs keep their rank, not their magnitude. With the distances above the median
   sorted, ``d_1 >= d_2 >= ...``, the ``j`` largest values are diverged if
   ``d_j > 10 * max(d_{j+1}, 1)``: set apart from all the others by an order of magnitude
   of distance, and by more than ten robust standard deviations (the largest such ``j``
   below half the values counts). They are placed within one standard deviation of the
   ordinary values beyond the worst of them, ``w + s * (1 - exp((w - u) / s))``. A run at
   ``1e300`` then counts like a bad run, not like an earthquake. A gap, not a fixed fence,
   because no fence separates the two cases: ElasticNet's ordinary tail reaches 4000 robust
   standard deviations while a run at 100 times the typical loss is already a divergence;
   ElasticNet's bad values, though, come in a continuum, a divergence alone.
3. Standardization to zero mean and unit variance, and a sign flip so that larger is
   better (the GP and the acquisition maximize). Without diverged runs, steps 1 to 3 are
   plain standardization.

A power transform (Yeo-Johnson, as in HEBO, Cowen-Rivers et al. 2022) was tried as a
further step and left out: on smooth benchmarks it distorted the objective near its
optimum and slowed convergence.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["warp_objective"]

FloatArray = NDArray[np.float64]

# Diverged runs are the values set apart from all others by a gap of this factor (an order
# of magnitude) in their distance above the median.
_GAP = 10.0
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


def _diverged(u: FloatArray) -> NDArray[np.bool_]:
    """Mark the values that lie an order of magnitude further above the median than the rest.

    With the distances above the median sorted, ``d_1 >= d_2 >= ...``, the ``j`` largest
    values are diverged if ``d_j > _GAP * max(d_{j+1}, 1)`` (distances in robust standard
    deviations, so ordinary spread is never a gap); the largest such ``j`` below half the
    values counts.
    """
    d = np.sort(u)[::-1]
    count = 0
    for j in range(1, (u.size + 1) // 2):
        if d[j - 1] > _GAP * max(float(d[j]), 1.0):
            count = j
    out = np.zeros(u.shape, dtype=bool)
    if count:
        out[u >= d[count - 1]] = True
    return out


def warp_objective(values: FloatArray, reference: FloatArray | None = None) -> FloatArray:
    """Map values to minimize to standardized, warped targets to maximize.

    Args:
        values: Finite objective values, smaller is better, shape ``(n,)``.
        reference: Values of a representative sample of the search space, which fix the
            median and robust scale in which diverged runs are told apart (step 1); None
            (or a sample without spread) to use ``values`` themselves.

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
    # Step 2: diverged runs keep their rank, not their magnitude.
    ordinary = ~_diverged(u)
    if ordinary.any() and not ordinary.all():
        worst = float(u[ordinary].max())
        spread = float(np.std(u[ordinary]))
        if not spread > 0.0:
            spread = 1.0
        u[~ordinary] = worst + spread * -np.expm1((worst - u[~ordinary]) / spread)
    # Step 3: standardize; larger is better.
    return -(u - float(np.mean(u))) / float(np.std(u))
