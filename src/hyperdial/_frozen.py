"""Records that storage keeps: trial states, study directions, finished trial snapshots."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import Any

from hyperdial.space import Distribution

__all__ = ["FrozenTrial", "StudyDirection", "StudySummary", "TrialState"]


class TrialState(enum.Enum):
    """Where a trial is in its life.

    ``WAITING`` (enqueued, not yet claimed) -> ``RUNNING`` -> one of the finished states
    ``COMPLETE``, ``PRUNED`` or ``FAIL``. A finished trial never changes again.
    """

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"

    def is_finished(self) -> bool:
        """Whether the trial has ended and is immutable."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

    def __repr__(self) -> str:
        return f"TrialState.{self.name}"


class StudyDirection(enum.Enum):
    """Whether an objective is minimized or maximized."""

    MINIMIZE = "MINIMIZE"
    MAXIMIZE = "MAXIMIZE"

    def __repr__(self) -> str:
        return f"StudyDirection.{self.name}"


@dataclass(frozen=True)
class FrozenTrial:
    """A snapshot of one trial as storage holds it.

    Samplers and pruners read these; they must not change the dicts inside. A finished
    trial's snapshot is final: storage may cache and share it.

    Attributes:
        number: Position in its study, unique and contiguous from 0.
        trial_id: Storage key, unique across studies.
        state: Where the trial is in its life.
        values: One value per study direction once COMPLETE (or PRUNED with a report).
        params: External parameter values by name.
        distributions: The distribution each parameter was drawn from, as of this trial.
        user_attrs: What the objective recorded with ``trial.set_user_attr``.
        system_attrs: What hyperdial and its plug-ins recorded (fail reason, sampler, ...).
        intermediate_values: Reported values by step.
        datetime_start: When the trial started running.
        datetime_complete: When it finished.

    Example:
        >>> trial = study.best_trial  # doctest: +SKIP
        >>> trial.params, trial.value  # doctest: +SKIP
    """

    number: int
    trial_id: int
    state: TrialState
    values: list[float] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    intermediate_values: dict[int, float] = field(default_factory=dict)
    datetime_start: datetime.datetime | None = None
    datetime_complete: datetime.datetime | None = None

    @property
    def value(self) -> float | None:
        """The single objective value, or None if the trial has none."""
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise RuntimeError(
                f"Trial {self.number} has {len(self.values)} values; use trial.values."
            )
        return self.values[0]

    @property
    def duration(self) -> datetime.timedelta | None:
        """How long the trial ran, once finished."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def last_step(self) -> int | None:
        """The highest step reported, or None."""
        return max(self.intermediate_values) if self.intermediate_values else None

    @property
    def fail_reason(self) -> str | None:
        """Why a FAIL trial failed, as recorded by hyperdial."""
        reason = self.system_attrs.get("fail_reason")
        return None if reason is None else str(reason)


@dataclass(frozen=True)
class StudySummary:
    """One line about a study, as ``list_studies`` returns it."""

    study_name: str
    study_id: int
    directions: list[StudyDirection]
    n_trials: int
    best_trial: FrozenTrial | None
    datetime_start: datetime.datetime | None
    user_attrs: dict[str, Any] = field(default_factory=dict)
