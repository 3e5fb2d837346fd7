"""Maximize an acquisition function over a mixed search space.

Three stages, as in BoTorch's ``optimize_acqf`` with mixed-variable extensions
(Balandat et al. 2020, "BoTorch: A Framework for Efficient Monte-Carlo Bayesian
Optimization"; Daulton et al. 2022, "Bayesian Optimization over Discrete and Mixed Spaces
via Probabilistic Reparameterization", for the local discrete moves):

1. Global screening: scrambled Sobol points (Owen 1998) over the whole space, plus
   perturbations of the best observed points (where the optimum of EI usually is once the
   model is confident), all snapped to valid values and scored in one batch.
2. Gradient ascent: from the best few distinct points of each pool (Sobol, and
   perturbed incumbents, so that a distant mode is refined too), L-BFGS-B on the continuous
   coordinates (and on wide integer grids, relaxed then snapped), discrete ones fixed. The
   starts are optimized jointly as one problem whose objective is the sum of their
   acquisition values; the terms are independent, so each start follows its own gradient
   while Python overhead is paid once.
3. Discrete hill-climbing: moves of one grid coordinate by +-1, 2, 4, ... steps or of one
   categorical to another choice, accepted while they improve; then stage 2 again if
   anything moved.

The answer is the best refined point that is not already taken (evaluated or in flight):
where the model believes the objective noisy, expected improvement can peak on an observed
point, and evaluating the same parameters twice is a wasted trial in tuning (a re-run of
a deterministic objective teaches nothing). Failing that, the best untaken screening point.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import scipy.optimize
from numpy.typing import NDArray
from scipy.stats import qmc

from hyperdial.samplers._gp._search_space import EncodedSpace

__all__ = ["AcquisitionFunction", "optimize_acqf"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_BATCH = 4096
# Rows closer than this in every coordinate count as the same point (unit-cube scale; far
# below any step a tuning study could care about, above floating-point noise of decoding).
_SAME_POINT = 1e-9
_MAX_ROUNDS = 3
_MAX_CLIMB_STEPS = 20


class AcquisitionFunction(Protocol):
    """What :func:`optimize_acqf` needs: values and gradients at rows of inputs."""

    def __call__(self, x: FloatArray) -> FloatArray: ...

    def value_and_grad(self, x: FloatArray) -> tuple[FloatArray, FloatArray]: ...


def _evaluate(acqf: AcquisitionFunction, x: FloatArray) -> FloatArray:
    if x.shape[0] <= _BATCH:
        return acqf(x)
    return np.concatenate([acqf(x[i : i + _BATCH]) for i in range(0, x.shape[0], _BATCH)])


def _gradient_ascent(
    acqf: AcquisitionFunction, space: EncodedSpace, x: FloatArray, values: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Stage 2: joint L-BFGS-B over the relaxed coordinates of every start."""
    dims = np.flatnonzero(space.relaxed)
    if dims.size == 0:
        return x, values
    n_starts = x.shape[0]
    base = x.copy()
    # Inactive conditional columns hold their filler; a zero gradient keeps them there
    # (categorical coordinates, which decide activity, do not move in this stage).
    frozen = space.inactive(base)[:, dims]

    def negative_sum(flat: FloatArray) -> tuple[float, FloatArray]:
        point = base.copy()
        point[:, dims] = flat.reshape(n_starts, dims.size)
        value, grad = acqf.value_and_grad(point)
        grad_dims = np.where(frozen, 0.0, grad[:, dims])
        return -float(value.sum()), -grad_dims.reshape(-1)

    result = scipy.optimize.minimize(
        negative_sum, base[:, dims].reshape(-1), jac=True, method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (n_starts * dims.size),
        options={"maxiter": 200, "ftol": 1e-9, "gtol": 1e-6},
    )  # fmt: skip
    moved = base.copy()
    moved[:, dims] = np.asarray(result.x).reshape(n_starts, dims.size)
    moved = space.snap(moved)
    new_values = acqf(moved)
    better = new_values > values
    return np.where(better[:, None], moved, x), np.where(better, new_values, values)


def _hill_climb(
    acqf: AcquisitionFunction,
    space: EncodedSpace,
    x: FloatArray,
    values: FloatArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, bool]:
    """Stage 3: best-improvement moves of one discrete coordinate at a time."""
    x, values = x.copy(), values.copy()
    moved_any = False
    active = np.ones(x.shape[0], dtype=bool)
    for _ in range(_MAX_CLIMB_STEPS):
        if not active.any():
            break
        for i in np.flatnonzero(active):
            candidates = space.neighbors(x[i], rng)
            if candidates.shape[0] == 0:
                active[i] = False
                continue
            scores = _evaluate(acqf, candidates)
            best = int(np.argmax(scores))
            if scores[best] > values[i]:
                x[i], values[i] = candidates[best], scores[best]
                moved_any = True
            else:
                active[i] = False
    return x, values, moved_any


def _untaken(x: FloatArray, taken: FloatArray | None) -> BoolArray:
    """Which rows of ``x`` differ from every row of ``taken``."""
    if taken is None or taken.shape[0] == 0:
        return np.ones(x.shape[0], dtype=bool)
    close = np.abs(x[:, None, :] - taken[None, :, :]) <= _SAME_POINT
    out: BoolArray = np.logical_not(np.any(np.all(close, axis=2), axis=1))
    return out


def optimize_acqf(
    acqf: AcquisitionFunction,
    space: EncodedSpace,
    rng: np.random.Generator,
    *,
    n_candidates: int,
    n_local_starts: int,
    incumbents: FloatArray,
    taken: FloatArray | None = None,
) -> tuple[FloatArray, float]:
    """Return the best untaken row found and its acquisition value.

    Args:
        acqf: The acquisition function to maximize.
        space: The encoded search space.
        rng: Source of every random draw (Sobol scrambling, perturbations).
        n_candidates: Sobol points for screening (rounded up to a power of two).
        n_local_starts: Starts of the local stages.
        incumbents: Best observed rows, best first; perturbed for screening.
        taken: Rows not to return (evaluated or in flight), if any other point is found.
    """
    m = max(0, math.ceil(math.log2(max(1, n_candidates))))
    sobol = qmc.Sobol(space.dim, scramble=True, seed=rng)
    pools = [space.from_unit_cube(sobol.random_base2(m))]
    if incumbents.shape[0]:
        local = space.perturb(incumbents, max(64, n_candidates // 4), rng)
        pools.append(np.vstack([local, space.snap(incumbents)]))
    # The best distinct points of each pool start the local stages: near the incumbents
    # is usually where EI peaks, but a distant mode found by the global pool is refined
    # as well rather than crowded out.
    chosen_x, chosen_values = [], []
    all_scores = []
    for k, pool in enumerate(pools):
        scores = _evaluate(acqf, pool)
        all_scores.append(scores)
        order = np.argsort(-scores, kind="stable")
        _, first = np.unique(pool[order], axis=0, return_index=True)
        n_pick = math.ceil(n_local_starts / len(pools)) if k == 0 else n_local_starts // 2
        picked = order[np.sort(first)[: max(1, n_pick)]]
        chosen_x.append(pool[picked])
        chosen_values.append(scores[picked])
    starts, values = np.vstack(chosen_x), np.concatenate(chosen_values)
    screened = np.vstack(pools), np.concatenate(all_scores)

    for _ in range(_MAX_ROUNDS):
        starts, values = _gradient_ascent(acqf, space, starts, values)
        if space.discrete.any() or space.categorical.any():
            starts, values, moved = _hill_climb(acqf, space, starts, values, rng)
        else:
            moved = False
        if not moved:
            break
    free = _untaken(starts, taken)
    if not free.any():
        # Every refined start landed on a taken point: the best untaken screening point.
        starts, values = screened
        free = _untaken(starts, taken)
        if not free.any():
            free = np.ones_like(free)  # a space with no other point: nothing better to do
    best = int(np.argmax(np.where(free, values, -np.inf)))
    return starts[best], float(values[best])
