"""Asynchronous successive halving (ASHA)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError, UpdateFinishedTrialError
from hyperdial.pruners._base import Pruner
from hyperdial.pruners._common import (
    ViewMemo,
    check_int,
    estimated_max_step,
    score,
    sign_of,
)

__all__ = ["SuccessiveHalvingPruner", "asha_prune"]

# Trials that count at a rung. FAIL trials are left out: their reports may be what made
# them fail. WAITING trials have not run.
_RUNG_STATES = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)

# "auto" min_resource: the full trial length divided by reduction_factor ** this.
_AUTO_HALVINGS = 3


def rung_score(trial: FrozenTrial, resource: int, sign: float) -> float | None:
    """Return the trial's score at the rung of ``resource``, or None if it never got there.

    A trial reaches a rung when it reports a step >= the rung's resource; its value there is
    the one at the first such step (the step itself when reported, the nearest later one
    for a trial that reports sparsely). Lower scores are better; NaN scores +inf.
    """
    steps = [s for s in trial.intermediate_values if s >= resource]
    if not steps:
        return None
    return score(trial.intermediate_values[min(steps)], sign)


def asha_prune(
    study: StudyView,
    trial: FrozenTrial,
    *,
    owner: str,
    min_resource: int,
    reduction_factor: int,
    min_early_stopping_rate: int,
    bootstrap_count: int,
    top_rung: int | None,
    memo: ViewMemo,
    same_group: Callable[[int], bool] | None = None,
) -> bool:
    """Decide a trial under ASHA; shared by the halving and Hyperband pruners.

    Rung ``i`` (absolute index) needs ``min_resource * reduction_factor ** i`` steps; a
    trial is judged at rungs ``min_early_stopping_rate``, ``+1``, ... in turn, and never at
    ``top_rung`` or above (None: no top). Only trials whose number passes ``same_group``
    compete. ``memo`` keeps finished trials' rung values.

    Returns:
        True to stop the trial.
    """
    step = trial.last_step
    if step is None:
        return False
    eta = reduction_factor
    trials = study.get_trials(states=_RUNG_STATES)
    stored = next((t for t in trials if t.number == trial.number), None)
    # Which rungs this trial has already been promoted from. Promotions are final in ASHA
    # (a promoted configuration is trained further; later arrivals at the rung do not take
    # that back), but recomputing the ranking later would change it as more trials reach
    # the rung. So each promotion is recorded in the trial's system attributes, which every
    # worker reads from the shared storage. The passed-in snapshot may predate our own
    # write, so the stored copy is read when there is one.
    key = f"{owner}:promoted_rung"
    attrs = (stored if stored is not None else trial).system_attrs
    passed = int(attrs.get(key, min_early_stopping_rate - 1))
    # The competitors' values at a rung, on the other hand, are recomputed from their
    # reports: a trial counts at a rung as soon as its report there is stored (before its
    # own decision is written), so two workers judging at once see each other, and trials
    # that never asked the pruner (added or finished elsewhere) still count as evidence.
    rivals = [
        t
        for t in trials
        if t.number != trial.number and (same_group is None or same_group(t.number))
    ]
    sign = sign_of(study, owner)
    rung = passed + 1
    stop = False
    while top_rung is None or rung < top_rung:
        resource = min_resource * eta**rung
        if step < resource:
            break
        mine = rung_score(trial, resource, sign)
        assert mine is not None  # step >= resource and ``step`` was reported
        if mine == float("inf"):  # a NaN report: worst of all, never promoted
            stop = True
            break
        at_rung = []
        for rival in rivals:
            value = memo.of_trial(
                study, rival, ("rung", resource, sign), partial(rung_score, rival, resource, sign)
            )
            if value is not None:
                at_rung.append((value, rival.number))
        n_at_rung = len(at_rung) + 1
        if n_at_rung < bootstrap_count:
            # Too few trials have reached this rung to rank any of them; the synchronous
            # algorithm would wait, but a pruned-or-not decision cannot wait, so it stops.
            stop = True
            break
        # ASHA (Li et al. 2020, Algorithm 2): get_job promotes a configuration from rung k
        # only if it is in top_k(rung k, |rung k| / eta), judged on what has reached the
        # rung so far, without waiting for the rung to fill. Here the trial asks that
        # question the moment it reaches the rung: in the set, it goes on (promoted to
        # rung k + 1); not in it, it would never be promoted, so it stops. Until eta
        # trials have reached the rung the set is empty and the paper's workers would
        # start new configurations instead; a trial cannot be parked, so the best one so
        # far at the rung goes on rather than stopping every early trial.
        quota = max(1, n_at_rung // eta)
        # Rank among the trials at the rung; ties go to the lower trial number so every
        # worker ranks identically.
        ahead = sum(1 for s, n in at_rung if s < mine or (s == mine and n < trial.number))
        if ahead >= quota:
            stop = True
            break
        rung += 1  # promoted: go on to the next rung this trial has reached
    if rung - 1 > passed and stored is not None and stored.state == TrialState.RUNNING:
        # If it finished meanwhile, there is nothing left to decide for it.
        with contextlib.suppress(UpdateFinishedTrialError):
            study.set_trial_system_attr(stored, key, rung - 1)
    return stop


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving: keep the top ``1/reduction_factor`` at each rung.

    ASHA (Li et al., 2020, "A System for Massively Parallel Hyperparameter Tuning",
    MLSys). Rung ``k`` sits at ``min_resource * reduction_factor ** (min_early_stopping_rate
    + k)`` steps. When a trial reaches a rung (reports a step at or past it) it is compared
    with every trial that reached the same rung so far, in any worker: it continues if it
    ranks in the top ``1/reduction_factor`` of them, and is stopped otherwise. Unlike
    synchronous successive halving nothing waits for a full round, so workers never idle.

    Steps are the resource: report the epoch (or iteration) number as the step. A trial is
    judged at each rung once, in order; a promotion is final. A NaN report at a rung stops
    the trial; FAIL trials do not count at a rung. While fewer than ``reduction_factor``
    trials have reached a rung, only a trial that is the best there so far goes on.

    ``min_resource="auto"`` measures the full length of a trial as the largest step
    reported by the first trial to complete (the lowest-numbered COMPLETE trial with
    reports), shared with every worker through the study's state, and uses that length
    divided by ``reduction_factor ** 3`` (at least 1): three halvings before full length.
    Nothing is stopped until that first trial completes.

    Args:
        min_resource: Steps before the first rung, an integer >= 1, or "auto".
        reduction_factor: How selective each rung is (``eta`` in the paper); >= 2.
        min_early_stopping_rate: Skips the first rungs (``s`` in the paper); >= 0.
        bootstrap_count: A trial reaching a rung before this many trials (itself included)
            have reached it is stopped, so that promotions rest on enough evidence; >= 0.

    Raises:
        InvalidValueError: if an argument is out of range.

    Example:
        >>> import hyperdial
        >>> pruner = hyperdial.pruners.SuccessiveHalvingPruner(min_resource=1)
        >>> study = hyperdial.create_study(pruner=pruner)
    """

    def __init__(
        self,
        *,
        min_resource: int | Literal["auto"] = "auto",
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        owner = type(self).__name__
        if min_resource != "auto":
            try:
                check_int(owner, "min_resource", min_resource, 1)
            except InvalidValueError:
                raise InvalidValueError(
                    f"{owner}: min_resource must be 'auto' or an integer >= 1. "
                    f"Got {min_resource!r}."
                ) from None
        self.min_resource = min_resource
        self.reduction_factor = check_int(owner, "reduction_factor", reduction_factor, 2)
        self.min_early_stopping_rate = check_int(
            owner, "min_early_stopping_rate", min_early_stopping_rate, 0
        )
        self.bootstrap_count = check_int(owner, "bootstrap_count", bootstrap_count, 0)
        self._memo = ViewMemo()

    def resolved_min_resource(
        self, study: StudyView, trials: Sequence[FrozenTrial] | None = None
    ) -> int | None:
        """Return ``min_resource``, estimated for "auto" (None until it can be)."""
        if self.min_resource != "auto":
            return int(self.min_resource)
        full = estimated_max_step(study, self._memo, trials)
        if full is None:
            return None
        return max(1, full // int(self.reduction_factor**_AUTO_HALVINGS))

    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        if trial.last_step is None:
            return False
        min_resource = self.resolved_min_resource(study)
        if min_resource is None:
            return False
        return asha_prune(
            study,
            trial,
            owner=type(self).__name__,
            min_resource=min_resource,
            reduction_factor=self.reduction_factor,
            min_early_stopping_rate=self.min_early_stopping_rate,
            bootstrap_count=self.bootstrap_count,
            top_rung=None,
            memo=self._memo,
        )
