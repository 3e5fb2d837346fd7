"""Ranking finished trials and splitting them into good and bad ones.

TPE models ``p(x | y < y*)`` and ``p(x | y >= y*)`` (Bergstra et al., 2011, Sec. 4), where the
threshold ``y*`` is set so that a fraction ``gamma`` of the observations fall below it. Here
the threshold is expressed as a count: the ``gamma(n)`` best of ``n`` ranked trials are good.

Ranking (best first):

1. COMPLETE trials, by objective value in the study's direction.
2. PRUNED trials, below every COMPLETE one: a trial stopped at step ``s`` ranks below every
   trial that reached a later step; trials stopped at the same step are ordered by the value
   they reported there. This is the multi-fidelity reading of a pruned trial: it was judged
   worse than the trials allowed to go further, so it should never look good next to them,
   but among trials cut at the same point the reported value still says which were closer.
   A pruned trial that reported nothing (or NaN) ranks last.
3. Going on has to be earned. A trial that went past a step at which other trials were
   stopped, but reported a value there that does not beat three quarters of the trials
   stopped there, ranks as if it had been stopped there too, with that value. Pruners let
   some trials go on unjudged (Hyperband's least aggressive brackets, the first trial to
   reach an ASHA rung); such a trial, diverged or merely mediocre, would otherwise outrank
   every trial that was judged and stopped, and be modelled as good. Every trial is thus
   held to the same yardstick at every step where some trial was stopped, whichever bracket
   it ran in. The price: a late bloomer that fell short early counts by its early value, as
   it would had a pruner judged it there. Steps are taken in increasing order; a trial is
   held at the first step where it falls short. Why three quarters: a pruner that lets the
   best ``1 / eta`` of a rung go on (ASHA and Hyperband, ``eta`` = 3 by default) promotes a
   trial only when it beats most of that rung, so a trial that earned its step sits above
   nearly all the trials stopped there. Requiring it to beat all of them would hinge on the
   one luckiest stopped trial; requiring half let mediocre unjudged trials keep their rank.
   On the pruning benchmark's task (``benchmarks/pruning.py``, 60 seeds, paired) Hyperband's
   mean best accuracy at 512 epochs was 0.07 ± 0.04 points higher with three quarters than
   with half (0.04 ± 0.03 at 768 epochs, 0.03 ± 0.03 at the end); without the rule its good
   trials came later still.

Ties are broken by trial number, so the split is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState
from hyperdial.exceptions import InvalidValueError

__all__ = [
    "EARNED_QUANTILE",
    "default_gamma",
    "good_mask",
    "hold_to_checkpoints",
    "n_good",
    "rank_key",
    "rank_order",
    "split_trials",
]


#: Share of the trials stopped at a step that a trial which went past it must have beaten
#: there to keep its further rank (rule 3 of the module docstring).
EARNED_QUANTILE = 0.75


def default_gamma(n: int) -> int:
    """Return how many of ``n`` finished trials count as good: ``min(ceil(0.1 n), 25)``.

    A linear fraction of the observations (Watanabe, 2023, Sec. 3), capped so that the
    good density stays sharp in long studies.

    Example:
        >>> default_gamma(10), default_gamma(95), default_gamma(1000)
        (1, 10, 25)
    """
    return min(math.ceil(0.1 * n), 25)


def n_good(gamma: Callable[[int], int] | float, n: int) -> int:
    """Return the number of good trials out of ``n`` for a ``gamma`` option.

    Raises:
        InvalidValueError: if a callable ``gamma`` returns something other than an integer.
    """
    if callable(gamma):
        count = gamma(n)
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
            raise InvalidValueError(
                f"TPESampler: gamma({n}) must return an integer number of good trials. "
                f"Got {count!r}."
            )
        return max(0, min(n, int(count)))
    return max(0, min(n, math.ceil(gamma * n)))


def rank_key(trial: FrozenTrial) -> tuple[bool, int, float]:
    """Return ``(pruned, last_step, raw_value)`` of a COMPLETE or PRUNED trial.

    ``raw_value`` is in the objective's own sign (NaN when there is none); ``last_step`` is
    -1 for a pruned trial without reports and 0 for complete trials (unused for them).
    """
    if trial.state == TrialState.COMPLETE:
        assert trial.values is not None  # a COMPLETE trial always has values
        return False, 0, float(trial.values[0])
    step = trial.last_step
    if step is None:
        return True, -1, math.nan
    return True, step, float(trial.intermediate_values[step])


def rank_order(
    pruned: NDArray[np.bool_],
    last_step: NDArray[np.int64],
    value: NDArray[np.float64],
    number: NDArray[np.int64],
    direction: StudyDirection,
) -> NDArray[np.intp]:
    """Return the indices of trials from best to worst (see the module docstring).

    Args:
        pruned: Whether each trial was pruned (else it completed).
        last_step: The last reported step of pruned trials, -1 when none.
        value: Objective value of complete trials, last reported value of pruned ones.
        number: Trial numbers, the final tie-breaker.
        direction: The study's direction.
    """
    signed = value if direction == StudyDirection.MINIMIZE else -value
    signed = np.where(np.isnan(signed), np.inf, signed)
    # np.lexsort sorts by the last key first.
    if not pruned.any():
        # The usual case, and the same order: no steps to compare.
        return np.lexsort((number, signed))
    # Completed trials share one step so that only their value orders them.
    steps = np.where(pruned, last_step, 0)
    return np.lexsort((number, signed, -steps, pruned))


def hold_to_checkpoints(
    pruned: NDArray[np.bool_],
    last_step: NDArray[np.int64],
    value: NDArray[np.float64],
    values_at: Callable[[int], NDArray[np.float64]],
    direction: StudyDirection,
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64]]:
    """Return rank keys in which trials that went on unearned count as stopped (rule 3).

    A checkpoint is a step at which some PRUNED trial was stopped. At each checkpoint, in
    increasing order, a trial that got further (COMPLETE, or PRUNED later) and reported a
    value there that does not beat a share :data:`EARNED_QUANTILE` (three quarters) of the
    trials stopped there, in the study's direction, is treated as stopped there with that
    value. The inputs are not modified.

    Args:
        pruned: Whether each trial was pruned (else it completed).
        last_step: The last reported step of pruned trials, -1 when none.
        value: Objective value of complete trials, last reported value of pruned ones.
        values_at: ``values_at(step)``: each trial's value reported at ``step``, NaN where
            it reported none there.
        direction: The study's direction.

    Returns:
        The ``pruned``, ``last_step`` and ``value`` keys to rank by.

    Example:
        >>> pruned = np.array([True, True, False])
        >>> step = np.array([1, 1, 0])
        >>> value = np.array([0.5, 0.7, 0.9])  # the third trial completed with 0.9 ...
        >>> at_1 = np.array([0.5, 0.7, 0.2])  # ... after 0.2 at step 1, under 0.65
        >>> up = StudyDirection.MAXIMIZE
        >>> keys = hold_to_checkpoints(pruned, step, value, lambda s: at_1, up)
        >>> keys[0].tolist(), keys[1].tolist(), keys[2].tolist()
        ([True, True, True], [1, 1, 1], [0.5, 0.7, 0.2])
    """
    if not pruned.any():
        return pruned, last_step, value
    pruned, last_step, value = pruned.copy(), last_step.copy(), value.copy()
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    for step in np.unique(last_step[pruned]):  # increasing
        if step < 0:
            continue
        stopped = sign * value[pruned & (last_step == step)]
        stopped = stopped[~np.isnan(stopped)]
        if len(stopped) == 0:
            continue
        at_step = values_at(int(step))
        # Signed values are minimized: the bar is the low (good) quantile of the stopped ones.
        bar = np.quantile(stopped, 1.0 - EARNED_QUANTILE)
        with np.errstate(invalid="ignore"):  # NaN (no report there) compares False
            short = (~pruned | (last_step > step)) & (sign * at_step > bar)
        pruned[short] = True
        last_step[short] = step
        value[short] = at_step[short]
    return pruned, last_step, value


def good_mask(order: NDArray[np.intp], count: int) -> NDArray[np.bool_]:
    """Return a mask, in the original trial order, of the ``count`` best trials."""
    mask = np.zeros(len(order), dtype=bool)
    mask[order[:count]] = True
    return mask


def split_trials(
    trials: Sequence[FrozenTrial],
    direction: StudyDirection,
    gamma: Callable[[int], int] | float = default_gamma,
) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
    """Split COMPLETE and PRUNED trials into good and bad ones, each best first.

    Trials in other states are ignored (the sampler adds RUNNING ones to the bad side
    itself when ``constant_liar`` is on).

    Example:
        >>> good, bad = split_trials(study.trials, study.direction)  # doctest: +SKIP
    """
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    if not finished:
        return [], []
    keys = [rank_key(t) for t in finished]

    def values_at(step: int) -> NDArray[np.float64]:
        return np.array([t.intermediate_values.get(step, math.nan) for t in finished])

    pruned, last_step, value = hold_to_checkpoints(
        np.array([k[0] for k in keys], dtype=bool),
        np.array([k[1] for k in keys], dtype=np.int64),
        np.array([k[2] for k in keys], dtype=np.float64),
        values_at,
        direction,
    )
    order = rank_order(
        pruned,
        last_step,
        value,
        np.array([t.number for t in finished], dtype=np.int64),
        direction,
    )
    count = n_good(gamma, len(finished))
    ranked = [finished[i] for i in order]
    return ranked[:count], ranked[count:]
