"""Grid search."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidSpaceError
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._rng import resolve_seed
from hyperdial.space import Categorical, Distribution, Float, Int

__all__ = ["GridSampler"]

# How long a worker waits for another worker that is still queueing the grid.
_QUEUE_WAIT_SECONDS = 60.0


def _grid_values(name: str, value: Any) -> list[Any]:
    if isinstance(value, Categorical):
        return list(value.choices)
    if isinstance(value, Int):
        return list(range(value.low, value.high + 1, value.step))
    if isinstance(value, Float):
        if value.step is None:
            raise InvalidSpaceError(
                f"Parameter {name!r}: a grid needs a finite list of values, but {value!r} is "
                "continuous. Give Float(..., step=...) or a list of values."
            )
        n = round((value.high - value.low) / value.step)
        # low + n * step can land a rounding error past high (0.1 * 3 > 0.3), which the
        # distribution would then reject: the last value is high itself.
        return [min(value.high, value.low + i * value.step) for i in range(n)] + [value.high]
    if isinstance(value, Distribution):
        raise InvalidSpaceError(f"Parameter {name!r}: cannot enumerate {value!r}.")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidSpaceError(
            f"Parameter {name!r}: grid values must be a list or a Float/Int/Categorical. "
            f"Got {value!r}."
        )
    values = list(value)
    if not values:
        raise InvalidSpaceError(f"Parameter {name!r}: the grid has no values; give at least one.")
    try:
        Categorical(values)  # the same JSON-storable, distinct-values rule as choices
    except InvalidSpaceError as error:
        raise InvalidSpaceError(f"Parameter {name!r}: {error}") from None
    return values


class GridSampler(Sampler):
    """Tries every point of a declared grid exactly once, then ends the study's run.

    The grid's points are queued in the study on first use (in an order shuffled by
    ``seed``); each worker claims queued trials from storage, so parallel workers and
    machines never run the same point twice. ``optimize`` stops when the grid is done.

    Args:
        search_space: Parameter name to a list of values, a ``Categorical``, an ``Int`` or
            a ``Float`` with a ``step``.
        seed: Order in which points are tried; None keeps the declared order.

    Example:
        >>> from hyperdial.samplers import GridSampler
        >>> sampler = GridSampler({"lr": [1e-3, 1e-2], "batch_size": [32, 64, 128]})
        >>> sampler.grid_size
        6
    """

    queued_trials_only: ClassVar[bool] = True

    def __init__(self, search_space: Mapping[str, Any], *, seed: int | None = None) -> None:
        if not isinstance(search_space, Mapping) or not search_space:
            raise InvalidSpaceError(
                f"GridSampler needs a non-empty dict of parameter name to values. "
                f"Got {search_space!r}."
            )
        self.search_space = dict(search_space)
        self.seed = seed
        self._names = sorted(self.search_space)
        self._values = [_grid_values(name, self.search_space[name]) for name in self._names]
        self._points = list(itertools.product(*self._values))
        # The key names the grid, not the order it is tried in: a study resumed with another
        # seed (or none) continues the same grid instead of queueing it a second time.
        digest = json.dumps([self._names, self._points], sort_keys=True, default=str)
        self._key = hashlib.sha256(digest.encode()).hexdigest()[:16]
        if seed is not None:
            order = np.random.default_rng(resolve_seed(seed)).permutation(len(self._points))
            self._points = [self._points[i] for i in order]
        self._queued_in: set[str] = set()

    @property
    def grid_size(self) -> int:
        """How many points the grid has."""
        return len(self._points)

    def _ensure_queued(self, study: StudyView) -> None:
        if study.study_name in self._queued_in:
            return
        state = study.state("GridSampler")
        if state.set_if_absent(f"queueing:{self._key}", True):
            for point in self._points:
                study.enqueue(
                    dict(zip(self._names, point, strict=True)),
                    system_attrs={"grid_id": self._key},
                )
            state.set(f"queued:{self._key}", True)
        else:
            deadline = time.monotonic() + _QUEUE_WAIT_SECONDS
            while not state.get(f"queued:{self._key}") and time.monotonic() < deadline:
                time.sleep(0.05)
        self._queued_in.add(study.study_name)

    def is_exhausted(self, study: StudyView) -> bool:
        self._ensure_queued(study)
        waiting = study.get_trials(states=(TrialState.WAITING,))
        return not any(t.system_attrs.get("grid_id") == self._key for t in waiting)

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        # Grid trials arrive with every grid parameter fixed, so only a parameter outside
        # the grid (or a trial not from the grid) reaches here.
        raise InvalidSpaceError(
            f"Parameter {name!r} is not in the GridSampler's grid {self._names} (or trial "
            f"{trial.number} was not queued by it). Add {name!r} to the grid."
        )
