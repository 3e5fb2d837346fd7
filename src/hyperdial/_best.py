"""Which trial is best: one rule shared by the study, storages and the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState

__all__ = ["best_trial_of", "is_better"]


def is_better(value: float, than: float, direction: StudyDirection) -> bool:
    """Whether ``value`` beats ``than`` in ``direction``."""
    return value < than if direction == StudyDirection.MINIMIZE else value > than


def best_trial_of(
    trials: Iterable[FrozenTrial], directions: Sequence[StudyDirection]
) -> FrozenTrial | None:
    """Return the COMPLETE trial with the best first value (lowest number on ties)."""
    if len(directions) != 1:
        # Multi-objective studies have a Pareto front, not one best trial.
        return None
    direction = directions[0]
    best: FrozenTrial | None = None
    for trial in trials:
        if trial.state != TrialState.COMPLETE or not trial.values:
            continue
        if best is None or is_better(trial.values[0], best.values[0], direction):  # type: ignore[index]
            best = trial
    return best
