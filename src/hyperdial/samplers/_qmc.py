"""Quasi-Monte Carlo search: scrambled Sobol points."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import StudyView
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._random import RandomSampler
from hyperdial.samplers._rng import resolve_seed
from hyperdial.space import Distribution, check_space, space_from_json, space_to_json

if TYPE_CHECKING:
    from scipy.stats import qmc

__all__ = ["QMCSampler"]


class QMCSampler(Sampler):
    """Proposes points of a scrambled Sobol sequence.

    Sobol points cover a space more evenly than random points do, so the first few dozen
    trials miss fewer regions.

    Trial number ``n`` takes point ``n`` of the sequence, so parallel workers never take the
    same point and the same seed gives the same points.

    The space is ``search_space`` if given; otherwise the space of the study's first
    finished trial, agreed by all workers through the study's shared state. Parameters
    outside it (and the first trial's, before any space is known) are drawn at random.

    Args:
        search_space: Parameter name to distribution, if known in advance.
        scramble: Randomize the sequence (Owen scrambling); keeps it low-discrepancy.
        seed: Seed of the scrambling and of the random fallback.

    Example:
        >>> from hyperdial.samplers import QMCSampler
        >>> sampler = QMCSampler(seed=0)
    """

    def __init__(
        self,
        search_space: Mapping[str, Distribution] | None = None,
        *,
        scramble: bool = True,
        seed: int | None = None,
    ) -> None:
        self.search_space = search_space
        self.scramble = scramble
        self.seed = seed
        self._seed = resolve_seed(seed)
        self._space = None if search_space is None else check_space(search_space)
        self._fallback = RandomSampler(seed=self._seed)
        # The inferred space of each study this sampler has served, by study name: one
        # sampler object may serve several studies with different spaces.
        self._inferred: dict[str, dict[str, Distribution]] = {}
        self._engines: dict[tuple[int, int], qmc.Sobol] = {}
        self._study_seeds: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Copies go to worker processes (pickle) and into other studies (deepcopy); a lock
        # cannot be copied, and the engines are a cache that each copy rebuilds.
        state = self.__dict__.copy()
        del state["_lock"]
        state["_engines"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _study_space(self, study: StudyView) -> dict[str, Distribution] | None:
        if self._space is not None:
            return self._space
        known = self._inferred.get(study.study_name)
        if known is not None:
            return known
        state = study.state("QMCSampler")
        stored = state.get("space")
        if stored is None:
            finished = study.get_trials(states=(TrialState.COMPLETE,))
            if not finished:
                return None
            first = finished[0].distributions
            space = {n: d for n, d in sorted(first.items()) if not d.is_single()}
            state.set_if_absent("space", space_to_json(space))
            stored = state.get("space")
        inferred = space_from_json(stored)
        self._inferred[study.study_name] = inferred
        return inferred

    def _scramble_seed(self, study: StudyView) -> int:
        # Without a seed, every worker process (and every CLI call) would scramble its own
        # sequence and their points would no longer interleave; the first worker's random
        # seed is stored in the study and the others adopt it.
        if self.seed is not None:
            return self._seed
        seed = self._study_seeds.get(study.study_name)
        if seed is None:
            state = study.state("QMCSampler")
            state.set_if_absent("seed", self._seed)
            seed = int(state.get("seed"))
            self._study_seeds[study.study_name] = seed
        return seed

    def _point(self, dimension: int, index: int, seed: int) -> list[float]:
        # scipy.stats is slow to import; only QMC users pay for it.
        from scipy.stats import qmc

        with self._lock:
            engine = self._engines.get((dimension, seed))
            if engine is None:
                engine = qmc.Sobol(dimension, scramble=self.scramble, seed=seed)
                self._engines[(dimension, seed)] = engine
            engine.reset()
            if index:
                engine.fast_forward(index)
            return [float(u) for u in engine.random(1)[0]]

    def sample_relative(self, study: StudyView, trial: FrozenTrial) -> dict[str, Any]:
        space = self._study_space(study)
        if not space:
            return {}
        units = self._point(len(space), trial.number, self._scramble_seed(study))
        return {
            name: dist.to_external(dist.from_unit(u))
            for (name, dist), u in zip(space.items(), units, strict=True)
        }

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        return self._fallback.sample_independent(study, trial, name, distribution)
