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

Ties are broken by trial number, so the split is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState
from hyperdial.exceptions import InvalidValueError

__all__ = ["default_gamma", "good_mask", "n_good", "rank_key", "rank_order", "split_trials"]


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
    order = rank_order(
        np.array([k[0] for k in keys], dtype=bool),
        np.array([k[1] for k in keys], dtype=np.int64),
        np.array([k[2] for k in keys], dtype=np.float64),
        np.array([t.number for t in finished], dtype=np.int64),
        direction,
    )
    count = n_good(gamma, len(finished))
    ranked = [finished[i] for i in order]
    return ranked[:count], ranked[count:]
