"""Percentile and median stopping rules."""

from __future__ import annotations

import math

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners._base import Pruner
from hyperdial.pruners._common import (
    ViewMemo,
    best_score_until,
    check_int,
    check_number,
    is_checkpoint,
    percentile,
    sign_of,
)

__all__ = ["MedianPruner", "PercentilePruner"]


class PercentilePruner(Pruner):
    """Stops a trial whose best value so far is worse than a percentile of finished trials.

    A generalisation of the median stopping rule of Google Vizier (Golovin et al., 2017,
    "Google Vizier: A Service for Black-Box Optimization", KDD): at step ``s`` a trial is
    stopped when the best value it reported up to ``s`` is strictly worse than the
    ``percentile``-th best of the same measure over COMPLETE trials. ``percentile=25``
    keeps only trials in the best quarter; ``50`` is the median rule.

    Comparing "best so far up to ``s``" on both sides means trials that reported sparsely
    (every few steps, on different grids) still compare fairly: a finished trial counts at
    step ``s`` if it reported anything at or before ``s``. A NaN report ranks worst; a trial
    whose latest report is NaN is stopped at the next check.

    Args:
        percentile: Which percentile of finished trials a trial must match, in [0, 100].
            Lower is stricter.
        n_startup_trials: No pruning until this many trials have completed.
        n_warmup_steps: No pruning of a trial before it reports this step.
        interval_steps: Past the warm-up, decide once per window of this many steps (at the
            first step a trial reports in each window).
        n_min_trials: No pruning at a step unless at least this many COMPLETE trials have
            reported at or before it.

    Raises:
        InvalidValueError: if an argument is out of range.

    Example:
        >>> import hyperdial
        >>> pruner = hyperdial.pruners.PercentilePruner(25.0, n_warmup_steps=5)
        >>> study = hyperdial.create_study(pruner=pruner)
    """

    def __init__(
        self,
        percentile: float,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        owner = type(self).__name__
        number = check_number(owner, "percentile", percentile)
        if not 0.0 <= number <= 100.0:
            raise InvalidValueError(f"{owner}: percentile must be in [0, 100]. Got {percentile!r}.")
        self.percentile = percentile
        self.n_startup_trials = check_int(owner, "n_startup_trials", n_startup_trials, 0)
        self.n_warmup_steps = check_int(owner, "n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = check_int(owner, "interval_steps", interval_steps, 1)
        self.n_min_trials = check_int(owner, "n_min_trials", n_min_trials, 1)
        self._memo = ViewMemo()

    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        reported = trial.intermediate_values
        if not is_checkpoint(reported, step, self.n_warmup_steps, self.interval_steps):
            return False
        completed = [
            t for t in study.get_trials(states=(TrialState.COMPLETE,)) if t.number != trial.number
        ]
        if len(completed) < self.n_startup_trials:
            return False
        if math.isnan(reported[step]):
            return True  # diverged: worse than any percentile
        sign = sign_of(study, type(self).__name__)
        mine = best_score_until(trial, step, sign)
        assert mine is not None  # the trial reported ``step``
        scores = (best_score_until(t, step, sign, self._memo, study) for t in completed)
        others = sorted(s for s in scores if s is not None)
        if len(others) < self.n_min_trials:
            return False
        # Scores are lower-is-better in both directions, so the q-th percentile of scores is
        # the bar that the best q percent of finished trials had reached by this step.
        return mine > percentile(others, float(self.percentile))


class MedianPruner(PercentilePruner):
    """Stops a trial whose best value so far is worse than the median of finished trials.

    The median stopping rule of Google Vizier (Golovin et al., 2017): the
    :class:`PercentilePruner` with ``percentile=50``. A robust default that needs no
    knowledge of the learning curves' shape.

    Args:
        n_startup_trials: No pruning until this many trials have completed.
        n_warmup_steps: No pruning of a trial before it reports this step.
        interval_steps: Past the warm-up, decide once per window of this many steps.
        n_min_trials: No pruning at a step unless at least this many COMPLETE trials have
            reported at or before it.

    Example:
        >>> import hyperdial
        >>> pruner = hyperdial.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
        >>> study = hyperdial.create_study(direction="maximize", pruner=pruner)
    """

    def __init__(
        self,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(
            50.0,
            n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps,
            interval_steps=interval_steps,
            n_min_trials=n_min_trials,
        )
