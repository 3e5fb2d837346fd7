"""Helpers the pruners share: argument checks, direction-aware scores, checkpoints."""

from __future__ import annotations

import bisect
import math
import weakref
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar, cast

from hyperdial._checks import check_int, check_number
from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError

T = TypeVar("T")

__all__ = [
    "ViewMemo",
    "best_score_until",
    "check_int",
    "check_number",
    "estimated_max_step",
    "is_checkpoint",
    "percentile",
    "score",
    "sign_of",
]

# Shared state (``StudyView.state``) namespace of the measurements pruners share.
STATE_NAMESPACE = "pruners"
# Key of the largest step reported by the first trial that completed with reports.
MAX_STEP_KEY = "max_step"


def sign_of(study: StudyView, owner: str) -> float:
    """Return 1.0 for a minimized objective and -1.0 for a maximized one.

    Multiplying a reported value by it gives a score where lower is always better.
    """
    directions = study.directions
    if len(directions) != 1:
        raise InvalidValueError(
            f"{owner} prunes single-objective studies; this one has {len(directions)} "
            "objectives. Use NopPruner."
        )
    return 1.0 if directions[0] == StudyDirection.MINIMIZE else -1.0


def score(value: float, sign: float) -> float:
    """Return the lower-is-better score of a reported value; NaN ranks worst (+inf)."""
    return math.inf if math.isnan(value) else sign * value


def best_score_until(
    trial: FrozenTrial,
    step: int,
    sign: float,
    memo: ViewMemo | None = None,
    view: StudyView | None = None,
) -> float | None:
    """Return the best score the trial reported at a step <= ``step``.

    With ``memo`` and ``view``, a finished trial's running best is computed once.

    Returns:
        None if it reported nothing up to ``step``; +inf if every such report was NaN.
    """
    if memo is not None and view is not None:
        steps, bests = memo.of_trial(
            view, trial, ("best", sign), lambda: _running_best(trial, sign)
        )
    else:
        steps, bests = _running_best(trial, sign)
    index = bisect.bisect_right(steps, step)
    return bests[index - 1] if index else None


def _running_best(trial: FrozenTrial, sign: float) -> tuple[list[int], list[float]]:
    steps = sorted(trial.intermediate_values)
    bests: list[float] = []
    best = math.inf
    for step in steps:
        best = min(best, score(trial.intermediate_values[step], sign))
        bests.append(best)
    return steps, bests


def is_checkpoint(steps: Iterable[int], step: int, n_warmup_steps: int, interval: int) -> bool:
    """Whether ``step`` is where a pruner with a warm-up and an interval should decide.

    Steps past the warm-up fall in windows of ``interval`` steps; a pruner decides at the
    first step the trial reported in each window. A trial that reports sparsely (every
    third step, say) is therefore still checked once per window it reports in, rather than
    only when a report happens to land on a multiple of the interval.
    """
    if step < n_warmup_steps:
        return False
    earlier = [s for s in steps if n_warmup_steps <= s < step]
    if not earlier:
        return True
    return (max(earlier) - n_warmup_steps) // interval != (step - n_warmup_steps) // interval


def percentile(sorted_scores: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of sorted scores by linear interpolation.

    Unlike a plain formula, it stays defined when the upper neighbour is +inf (a NaN report).
    """
    position = (len(sorted_scores) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_scores) - 1)
    fraction = position - low
    a, b = sorted_scores[low], sorted_scores[high]
    if fraction == 0.0 or a == b:
        return a
    if math.isinf(b):
        return b
    return a + fraction * (b - a)


class ViewMemo:
    """Per-study memo of values that never change once known.

    Holds what a pruner derives from finished trials (immutable, see
    :class:`~hyperdial.storage.Storage`) and from the study's shared state once set, so a
    long study does not re-scan every finished trial's reports at each decision. Keyed
    weakly by the :class:`StudyView`, so one pruner object can serve several studies. It
    pickles and deep-copies as empty: a worker process re-derives from storage.
    """

    def __init__(self) -> None:
        self._data: weakref.WeakKeyDictionary[StudyView, dict[Hashable, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def _memo(self, view: StudyView) -> dict[Hashable, Any]:
        memo = self._data.get(view)
        if memo is None:
            memo = self._data[view] = {}
        return memo

    def peek(self, view: StudyView, key: Hashable) -> Any:
        """Return the value memoised under ``key``, or None."""
        return self._memo(view).get(key)

    def put(self, view: StudyView, key: Hashable, value: Any) -> None:
        """Memoise ``value`` under ``key``."""
        self._memo(view)[key] = value

    def get(self, view: StudyView, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value memoised under ``key``, computing and storing it if absent."""
        memo = self._memo(view)
        if key in memo:
            return cast(T, memo[key])
        value = memo[key] = compute()
        return value

    def of_trial(
        self, view: StudyView, trial: FrozenTrial, key: Hashable, compute: Callable[[], T]
    ) -> T:
        """Like :meth:`get` for a value derived from ``trial``; memoised once it finished."""
        if not trial.state.is_finished():
            return compute()
        return self.get(view, (trial.trial_id, key), compute)

    def __reduce__(self) -> tuple[type[ViewMemo], tuple[()]]:
        return (ViewMemo, ())


def estimated_max_step(
    study: StudyView, memo: ViewMemo, trials: Sequence[FrozenTrial] | None = None
) -> int | None:
    """Return the study's full trial length in steps, measured once and shared by all workers.

    The measure is the largest step reported by the lowest-numbered COMPLETE trial that
    reported anything. The first worker to see such a trial stores it in the study's shared
    state with ``set_if_absent``; every other worker, and every later run of the study,
    reads that stored value, so all of them agree on it even though they may see trials
    complete in different orders.

    Args:
        study: The study.
        memo: Where the pruner memoises the value once stored.
        trials: Trials already read (any states); COMPLETE ones are looked at. Read from
            the study when None.

    Returns:
        None while no trial has completed with reports.
    """
    known = memo.peek(study, MAX_STEP_KEY)
    if known is not None:
        return int(known)
    state = study.state(STATE_NAMESPACE)
    stored = state.get(MAX_STEP_KEY)
    if stored is None:
        if trials is None:
            trials = study.get_trials(states=(TrialState.COMPLETE,))
        for trial in trials:  # in number order
            if trial.state == TrialState.COMPLETE and trial.intermediate_values:
                state.set_if_absent(MAX_STEP_KEY, max(trial.intermediate_values))
                stored = state.get(MAX_STEP_KEY)
                break
        else:
            return None
    value = int(stored)
    memo.put(study, MAX_STEP_KEY, value)
    return value
