"""Matern-5/2 kernel with automatic relevance determination (ARD) and categorical dims.

Every dimension ``j`` contributes a term ``D_j(x, x')`` to a squared distance that is scaled
by its own lengthscale ``l_j``::

    d2(x, x') = sum_j D_j(x, x') / l_j**2                                          (K1)
    D_j = (x_j - x'_j)**2        numerical dimension (unit-cube coordinate)
    D_j = [x_j != x'_j]          categorical dimension (Hamming distance)

and the kernel is the Matern-5/2 function of ``r = sqrt(d2)`` (Rasmussen & Williams 2006,
eq. 4.17)::

    k(x, x') = s * (1 + sqrt(5) r + 5/3 r**2) * exp(-sqrt(5) r)                     (K2)

with outputscale ``s``. The Hamming term equals half the squared Euclidean distance between
one-hot encodings, so (K2) stays positive definite; it costs one lengthscale per categorical
parameter instead of one per choice, does not let L-BFGS-B wander through the inside of a
simplex, and treats every pair of distinct choices as equally far apart, which is what we
know about unordered choices a priori.

All functions take the distance in the form ``d2`` so that gradients with respect to the
log-lengthscales and to the inputs both follow from the chain rule through::

    dk/d(d2) = -5/6 * s * (1 + sqrt(5) r) * exp(-sqrt(5) r)                         (K3)

which, unlike ``dk/dr``, is finite at ``r = 0``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "matern52",
    "matern52_and_derivative",
    "pairwise_components",
    "scaled_sq_dist",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_SQRT5 = float(np.sqrt(5.0))


def pairwise_components(x: FloatArray, categorical: BoolArray) -> FloatArray:
    """Return the per-dimension distance terms ``D_j`` of (K1) between all rows of ``x``.

    Args:
        x: Inputs, shape ``(n, d)``.
        categorical: Which of the ``d`` dimensions hold category codes.

    Returns:
        Array of shape ``(n, n, d)``.
    """
    diff = x[:, None, :] - x[None, :, :]
    comp = diff * diff
    if categorical.any():
        comp[:, :, categorical] = (diff[:, :, categorical] != 0.0).astype(np.float64)
    return comp


def scaled_sq_dist(
    xa: FloatArray, xb: FloatArray, inv_sq_lengthscales: FloatArray, categorical: BoolArray
) -> FloatArray:
    """Return ``d2`` of (K1) between the rows of ``xa`` and of ``xb``, shape ``(na, nb)``.

    Numerical dimensions use ``|a|^2 + |b|^2 - 2 a.b`` (one matrix product), clipped at
    zero against rounding; categorical dimensions add their weight where codes differ.
    """
    num = ~categorical
    d2: FloatArray
    if num.any():
        w = np.sqrt(inv_sq_lengthscales[num])
        a = xa[:, num] * w
        b = xb[:, num] * w
        d2 = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
        np.maximum(d2, 0.0, out=d2)
    else:
        d2 = np.zeros((xa.shape[0], xb.shape[0]))
    for j in np.flatnonzero(categorical):
        d2 += inv_sq_lengthscales[j] * (xa[:, j][:, None] != xb[:, j][None, :])
    return d2


def matern52(d2: FloatArray, outputscale: float) -> FloatArray:
    """Return the Matern-5/2 kernel (K2) of squared scaled distances ``d2``."""
    r = np.sqrt(d2)
    return outputscale * (1.0 + _SQRT5 * r + (5.0 / 3.0) * d2) * np.exp(-_SQRT5 * r)


def matern52_and_derivative(d2: FloatArray, outputscale: float) -> tuple[FloatArray, FloatArray]:
    """Return the kernel (K2) and its derivative (K3) with respect to ``d2``."""
    r = np.sqrt(d2)
    e = np.exp(-_SQRT5 * r)
    k = outputscale * (1.0 + _SQRT5 * r + (5.0 / 3.0) * d2) * e
    dk = (-5.0 / 6.0) * outputscale * (1.0 + _SQRT5 * r) * e
    return k, dk
