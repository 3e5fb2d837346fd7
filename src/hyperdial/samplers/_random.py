"""Random search."""

from __future__ import annotations

from typing import Any

from hyperdial._frozen import FrozenTrial
from hyperdial._view import StudyView
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._rng import resolve_seed, trial_rng
from hyperdial.space import Distribution

__all__ = ["RandomSampler"]


class RandomSampler(Sampler):
    """Draws every parameter uniformly (log parameters uniformly in log space).

    Args:
        seed: Same seed, same parameters for the same trial numbers, in any number of
            worker processes.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=hyperdial.samplers.RandomSampler(seed=0))
    """

    def __init__(self, *, seed: int | None = None) -> None:
        self.seed = seed
        self._seed = resolve_seed(seed)

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        unit = trial_rng(self._seed, trial.number, name).random()
        return distribution.to_external(distribution.from_unit(unit))
