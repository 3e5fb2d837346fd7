"""A per-process cache of trials, exploiting that finished trials never change.

For each study the cache keeps every trial numbered below a *watermark* (trial numbers are
contiguous, so "all numbers below n" is one integer), and the ids of those among them that
were unfinished when last read. A refresh then only has to read trials numbered at or
above the watermark plus the unfinished ones: reading a study of 10,000 finished trials a
second time fetches nothing but the new and the running trials.

Why the watermark is safe: a trial number is taken by updating the study's counter row in
the same transaction as the trial insert, so writers of one study commit in number order.
Any snapshot that shows trial n therefore also shows every trial below n.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from hyperdial._frozen import FrozenTrial

__all__ = ["StudyTrials", "TrialCache"]

# Past this many unfinished trials, the refresh asks for "number >= the lowest unfinished
# number" rather than listing ids, to keep statements small (SQLite caps bound parameters).
MAX_LISTED_UNFINISHED = 500


class StudyTrials:
    """The cached trials of one study."""

    def __init__(self) -> None:
        #: Trials by number; ``trials[n].number == n``. Its length is the watermark.
        self.trials: list[FrozenTrial] = []
        #: Unfinished trial id -> number, among ``trials``.
        self.unfinished: dict[int, int] = {}

    @property
    def watermark(self) -> int:
        """Every trial numbered below this is cached."""
        return len(self.trials)

    def merge(self, fetched: Iterable[FrozenTrial]) -> int:
        """Record freshly read trials (sorted by number); return how many were kept."""
        kept = 0
        for trial in fetched:
            if trial.number < len(self.trials):
                self.trials[trial.number] = trial
            elif trial.number == len(self.trials):
                self.trials.append(trial)
            else:
                # A gap should not happen (see the module docstring); if it does, stop here
                # so the missing trials and everything after are read again next time.
                break
            kept += 1
            if trial.state.is_finished():
                self.unfinished.pop(trial.trial_id, None)
            else:
                self.unfinished[trial.trial_id] = trial.number
        return kept


class TrialCache:
    """Studies' cached trials, plus finished trials by id for ``get_trial``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.studies: dict[int, StudyTrials] = {}
        #: Finished trials by id, and the study of each (to forget them with the study).
        self.finished: dict[int, FrozenTrial] = {}
        self.finished_study: dict[int, int] = {}

    def reset_lock(self) -> None:
        """Replace the lock; a forked child may inherit it held by a thread that is gone."""
        self.lock = threading.RLock()

    def study(self, study_id: int) -> StudyTrials:
        """Return the cache of a study, creating it empty."""
        cached = self.studies.get(study_id)
        if cached is None:
            cached = self.studies[study_id] = StudyTrials()
        return cached

    def add_finished(self, study_id: int, trial: FrozenTrial) -> None:
        """Remember a finished trial for ``get_trial``."""
        self.finished[trial.trial_id] = trial
        self.finished_study[trial.trial_id] = study_id

    def forget_study(self, study_id: int) -> None:
        """Drop a deleted study's trials."""
        self.studies.pop(study_id, None)
        doomed = [tid for tid, owner in self.finished_study.items() if owner == study_id]
        for trial_id in doomed:
            del self.finished[trial_id]
            del self.finished_study[trial_id]
