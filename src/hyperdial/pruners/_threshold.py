"""Stopping trials whose reported value leaves fixed bounds."""

from __future__ import annotations

import math

from hyperdial._frozen import FrozenTrial
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners._base import Pruner
from hyperdial.pruners._common import check_int, check_number, is_checkpoint

__all__ = ["ThresholdPruner"]


class ThresholdPruner(Pruner):
    """Stops a trial as soon as its latest reported value falls outside ``[lower, upper]``.

    The bounds are absolute, so the rule reads the same whether the study minimizes or
    maximizes: use ``upper`` to stop a loss that blew up, ``lower`` to stop an accuracy
    stuck at chance. A NaN report is always out of bounds. It looks at no other trial, so
    it can stop a trial from the very first one.

    Args:
        lower: Stop when a reported value is below this; None for no lower bound.
        upper: Stop when a reported value is above this; None for no upper bound.
        n_warmup_steps: No pruning of a trial before it reports this step.
        interval_steps: Past the warm-up, decide once per window of this many steps (at the
            first step a trial reports in each window).

    Raises:
        InvalidValueError: if neither bound is given, a bound is not a number, or
            ``lower > upper``.

    Example:
        >>> import hyperdial
        >>> pruner = hyperdial.pruners.ThresholdPruner(upper=10.0, n_warmup_steps=2)
        >>> study = hyperdial.create_study(pruner=pruner)
    """

    def __init__(
        self,
        *,
        lower: float | None = None,
        upper: float | None = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
    ) -> None:
        owner = type(self).__name__
        if lower is None and upper is None:
            raise InvalidValueError(
                f"{owner}: give lower, upper or both; with neither it would never prune."
            )
        low = -math.inf if lower is None else check_number(owner, "lower", lower, finite=False)
        high = math.inf if upper is None else check_number(owner, "upper", upper, finite=False)
        if low > high:
            raise InvalidValueError(
                f"{owner}: lower must be <= upper. Got lower={lower!r}, upper={upper!r}."
            )
        self.lower = lower
        self.upper = upper
        self.n_warmup_steps = check_int(owner, "n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = check_int(owner, "interval_steps", interval_steps, 1)
        self._low = low
        self._high = high

    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        reported = trial.intermediate_values
        if not is_checkpoint(reported, step, self.n_warmup_steps, self.interval_steps):
            return False
        value = reported[step]
        # ``not (low <= value <= high)`` is also true for NaN, which is out of every bound.
        return not self._low <= value <= self._high
