"""A storage that keeps everything in this process's memory."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from hyperdial._best import best_trial_of
from hyperdial._checks import utcnow
from hyperdial._frozen import FrozenTrial, StudyDirection, StudySummary, TrialState
from hyperdial.exceptions import (
    DuplicatedStudyError,
    StaleTrialError,
    StudyNotFoundError,
    TrialNotFoundError,
    UpdateFinishedTrialError,
)
from hyperdial.space import Distribution
from hyperdial.storage._base import Storage, TrialTemplate
from hyperdial.storage._copy import copy_attrs, copy_json, copy_trial, trial_from_template

__all__ = ["InMemoryStorage"]


def _check_json(kind: str, key: str, value: Any) -> None:
    # The same rule as the SQL storage, so that code moving between the two behaves alike.
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"The {kind} {key!r} must be JSON-serialisable (numbers, strings, lists, dicts, "
            f"None). Got {value!r}: {error}."
        ) from None


class _Study:
    def __init__(self, name: str, directions: list[StudyDirection]) -> None:
        self.name = name
        self.directions = directions
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}
        self.trial_ids: list[int] = []
        self.waiting: list[int] = []  # WAITING trial ids in number order, so claims are O(1)
        self.datetime_start = utcnow()


class InMemoryStorage(Storage):
    """Keeps studies in a dict; fast, thread-safe, gone when the process ends.

    Worker processes cannot share it: ``optimize(n_jobs>1)`` asks for a SQL storage.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(storage=hyperdial.storage.InMemoryStorage())
    """

    multiprocess_safe: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, _Study] = {}
        self._trials: dict[int, FrozenTrial] = {}
        self._trial_study: dict[int, int] = {}
        self._lease_ends: dict[int, datetime.datetime] = {}
        self._next_study_id = 0
        self._next_trial_id = 0

    def __repr__(self) -> str:
        return "InMemoryStorage()"

    def _study(self, study_id: int) -> _Study:
        try:
            return self._studies[study_id]
        except KeyError:
            raise StudyNotFoundError(f"No study with id {study_id}.") from None

    def _trial(self, trial_id: int) -> FrozenTrial:
        try:
            return self._trials[trial_id]
        except KeyError:
            raise TrialNotFoundError(f"No trial with id {trial_id}.") from None

    # -- studies ---------------------------------------------------------------------------

    def create_study(self, directions: Sequence[StudyDirection], study_name: str) -> int:
        with self._lock:
            if any(s.name == study_name for s in self._studies.values()):
                raise DuplicatedStudyError(f"A study named {study_name!r} already exists.")
            study_id = self._next_study_id
            self._next_study_id += 1
            self._studies[study_id] = _Study(study_name, list(directions))
            return study_id

    def delete_study(self, study_id: int) -> None:
        with self._lock:
            study = self._study(study_id)
            for trial_id in study.trial_ids:
                del self._trials[trial_id]
                del self._trial_study[trial_id]
                self._lease_ends.pop(trial_id, None)
            del self._studies[study_id]

    def get_study_id(self, study_name: str) -> int:
        with self._lock:
            for study_id, study in self._studies.items():
                if study.name == study_name:
                    return study_id
        raise StudyNotFoundError(f"No study named {study_name!r}.")

    def get_study_name(self, study_id: int) -> str:
        with self._lock:
            return self._study(study_id).name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        with self._lock:
            return list(self._study(study_id).directions)

    def list_studies(self) -> list[StudySummary]:
        with self._lock:
            summaries = []
            for study_id, study in self._studies.items():
                trials = [self._trials[t] for t in study.trial_ids]
                summaries.append(
                    StudySummary(
                        study_name=study.name,
                        study_id=study_id,
                        directions=list(study.directions),
                        n_trials=len(trials),
                        best_trial=best_trial_of(trials, study.directions),
                        datetime_start=min(
                            (t.datetime_start for t in trials if t.datetime_start), default=None
                        ),
                        user_attrs=copy_attrs(study.user_attrs),
                    )
                )
            return summaries

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        _check_json("study user attribute", key, value)
        with self._lock:
            self._study(study_id).user_attrs[key] = copy_json(value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        _check_json("study system attribute", key, value)
        with self._lock:
            self._study(study_id).system_attrs[key] = copy_json(value)

    def set_study_system_attr_if_absent(self, study_id: int, key: str, value: Any) -> bool:
        _check_json("study system attribute", key, value)
        with self._lock:
            attrs = self._study(study_id).system_attrs
            if key in attrs:
                return False
            attrs[key] = copy_json(value)
            return True

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        with self._lock:
            return copy_attrs(self._study(study_id).user_attrs)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        with self._lock:
            return copy_attrs(self._study(study_id).system_attrs)

    # -- trials ----------------------------------------------------------------------------

    def create_trial(self, study_id: int, template: TrialTemplate | None = None) -> FrozenTrial:
        template = template or TrialTemplate()
        for key, value in template.user_attrs.items():
            _check_json("trial user attribute", key, value)
        for key, value in template.system_attrs.items():
            _check_json("trial system attribute", key, value)
        with self._lock:
            study = self._study(study_id)
            now = utcnow()
            trial_id = self._next_trial_id
            self._next_trial_id += 1
            finished = template.state.is_finished()
            trial = trial_from_template(
                template,
                number=len(study.trial_ids),
                trial_id=trial_id,
                state=template.state,
                datetime_start=None if template.state == TrialState.WAITING else now,
                datetime_complete=now if finished else None,
            )
            self._trials[trial_id] = trial
            self._trial_study[trial_id] = study_id
            if template.state == TrialState.RUNNING and template.lease is not None:
                self._lease_ends[trial_id] = now + datetime.timedelta(seconds=template.lease)
            study.trial_ids.append(trial_id)
            if template.state == TrialState.WAITING:
                study.waiting.append(trial_id)
            return copy_trial(trial)

    def claim_waiting_trial(
        self, study_id: int, *, lease: float | None = None
    ) -> FrozenTrial | None:
        with self._lock:
            waiting = self._study(study_id).waiting
            while waiting:
                trial = self._trials[waiting.pop(0)]
                if trial.state == TrialState.WAITING:
                    now = utcnow()
                    claimed = replace(trial, state=TrialState.RUNNING, datetime_start=now)
                    self._trials[trial.trial_id] = claimed
                    if lease is not None:
                        self._lease_ends[trial.trial_id] = now + datetime.timedelta(seconds=lease)
                    return copy_trial(claimed)
            return None

    def start_trial(
        self,
        study_id: int,
        template: TrialTemplate | None = None,
        *,
        max_trials: int | None = None,
    ) -> FrozenTrial:
        with self._lock:  # claim-or-create as one step for this process's threads
            started = super().start_trial(study_id, template, max_trials=max_trials)
            if (
                template is not None
                and template.system_attrs
                and started.state == (TrialState.RUNNING)
            ):
                # A claimed trial gets the template's attributes too (the worker, say).
                stored = self._trials[started.trial_id]
                attrs = {**stored.system_attrs, **copy_attrs(template.system_attrs)}
                self._trials[started.trial_id] = replace(stored, system_attrs=attrs)
                started = copy_trial(self._trials[started.trial_id])
            return started

    def update_trial(
        self,
        trial_id: int,
        *,
        params: Mapping[str, tuple[float, Distribution]] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        state: TrialState | None = None,
        values: Sequence[float] | None = None,
    ) -> None:
        for key, value in (user_attrs or {}).items():
            _check_json("trial user attribute", key, value)
        for key, value in (system_attrs or {}).items():
            _check_json("trial system attribute", key, value)
        with self._lock:
            trial = self._trial(trial_id)
            if trial.state.is_finished():
                if trial.system_attrs.get("stale"):
                    raise StaleTrialError(
                        f"Trial {trial.number} was failed as stale "
                        f"({trial.system_attrs.get('fail_reason')}); this late write is "
                        "rejected and nothing was changed."
                    )
                raise UpdateFinishedTrialError(
                    f"Trial {trial.number} is already {trial.state.name}; finished trials "
                    "cannot change."
                )
            new_params = dict(trial.params)
            new_dists = dict(trial.distributions)
            for name, (internal, dist) in (params or {}).items():
                new_params[name] = dist.to_external(internal)
                new_dists[name] = dist
            changes: dict[str, Any] = {
                "params": new_params,
                "distributions": new_dists,
                "intermediate_values": {**trial.intermediate_values, **(intermediate_values or {})},
                "user_attrs": {**trial.user_attrs, **copy_attrs(user_attrs or {})},
                "system_attrs": {**trial.system_attrs, **copy_attrs(system_attrs or {})},
            }
            if values is not None:
                changes["values"] = [float(v) for v in values]
            if state is not None:
                changes["state"] = state
                if state.is_finished():
                    changes["datetime_complete"] = utcnow()
                    self._lease_ends.pop(trial_id, None)
                if state == TrialState.RUNNING and trial.datetime_start is None:
                    changes["datetime_start"] = utcnow()
            self._trials[trial_id] = replace(trial, **changes)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            return copy_trial(self._trial(trial_id))

    # -- leases --------------------------------------------------------------------------

    def renew_leases(self, trial_ids: Sequence[int], seconds: float) -> list[int]:
        with self._lock:
            end = utcnow() + datetime.timedelta(seconds=seconds)
            lost = []
            for trial_id in trial_ids:
                trial = self._trials.get(trial_id)
                if trial is None or trial.state != TrialState.RUNNING:
                    lost.append(trial_id)
                else:
                    self._lease_ends[trial_id] = end
            return lost

    def fail_stale_trials(
        self,
        study_id: int,
        *,
        reason: str,
        trial_ids: Sequence[int] | None = None,
        retry: Callable[[FrozenTrial], TrialTemplate | None] | None = None,
    ) -> list[tuple[FrozenTrial, FrozenTrial | None]]:
        with self._lock:
            self._study(study_id)  # raises for an unknown study
            now = utcnow()
            if trial_ids is None:
                candidates = [
                    t
                    for t, end in self._lease_ends.items()
                    if end < now and self._trial_study.get(t) == study_id
                ]
            else:
                candidates = [t for t in trial_ids if self._trial_study.get(t) == study_id]
            results: list[tuple[FrozenTrial, FrozenTrial | None]] = []
            for trial_id in sorted(candidates, key=lambda t: self._trials[t].number):
                trial = self._trials[trial_id]
                if trial.state != TrialState.RUNNING:
                    continue
                self._lease_ends.pop(trial_id, None)
                failed = replace(trial, state=TrialState.FAIL, datetime_complete=now)
                template = None if retry is None else retry(failed)
                retried = None if template is None else self.create_trial(study_id, template)
                attrs: dict[str, Any] = {"fail_reason": reason, "stale": True}
                if retried is not None:
                    attrs["retried_as"] = retried.number
                failed = replace(failed, system_attrs={**trial.system_attrs, **attrs})
                self._trials[trial_id] = failed
                results.append((copy_trial(failed), retried))
            return results

    def get_trial_id(self, study_id: int, number: int) -> int:
        with self._lock:
            ids = self._study(study_id).trial_ids
            if not 0 <= number < len(ids):
                raise TrialNotFoundError(
                    f"Study {self._study(study_id).name!r} has no trial number {number}."
                )
            return ids[number]

    def get_all_trials(
        self,
        study_id: int,
        *,
        states: Container[TrialState] | None = None,
        deepcopy: bool = True,
    ) -> list[FrozenTrial]:
        with self._lock:
            trials = [self._trials[t] for t in self._study(study_id).trial_ids]
            if states is not None:
                trials = [t for t in trials if t.state in states]
            return [copy_trial(t) for t in trials] if deepcopy else trials

    def get_n_trials(self, study_id: int, states: Container[TrialState] | None = None) -> int:
        with self._lock:
            ids = self._study(study_id).trial_ids
            if states is None:
                return len(ids)
            return sum(1 for t in ids if self._trials[t].state in states)
