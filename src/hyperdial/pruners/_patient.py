"""Tolerating trials while they still improve."""

from __future__ import annotations

from collections.abc import Sequence

from hyperdial._frozen import FrozenTrial
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners._base import Pruner
from hyperdial.pruners._common import check_int, check_number, score, sign_of

__all__ = ["PatientPruner"]


class PatientPruner(Pruner):
    """Lets a trial run while it keeps improving; stops it once it has stalled.

    Patience-based early stopping as in Prechelt (1998, "Early Stopping - But When?",
    Neural Networks: Tricks of the Trade): a trial has *stalled* when none of its last
    ``patience`` reports beats the best of its earlier reports by more than ``min_delta``.
    A stalled trial is then handed to ``wrapped_pruner``, which decides (with None it is
    stopped). So a trial that ranks badly but still improves is given time, and a trial
    that stalled is stopped only if the wrapped rule also finds it hopeless.

    Patience counts reports, not step numbers: with a report every fifth epoch,
    ``patience=3`` means fifteen epochs. A NaN report counts as no improvement.

    Args:
        wrapped_pruner: The pruner asked once a trial has stalled, or None to stop every
            stalled trial.
        patience: How many reports in a row may bring no improvement; an integer >= 1.
        min_delta: How much a report must beat the earlier best by to count as an
            improvement; a number >= 0.

    Raises:
        InvalidValueError: if an argument is out of range.

    Example:
        >>> import hyperdial
        >>> from hyperdial.pruners import MedianPruner, PatientPruner
        >>> pruner = PatientPruner(MedianPruner(), patience=3, min_delta=1e-3)
        >>> study = hyperdial.create_study(pruner=pruner)
    """

    def __init__(
        self, wrapped_pruner: Pruner | None, *, patience: int, min_delta: float = 0.0
    ) -> None:
        owner = type(self).__name__
        if wrapped_pruner is not None and not isinstance(wrapped_pruner, Pruner):
            raise InvalidValueError(
                f"{owner}: wrapped_pruner must be a Pruner or None. Got {wrapped_pruner!r}."
            )
        self.wrapped_pruner = wrapped_pruner
        self.patience = check_int(owner, "patience", patience, 1)
        delta = check_number(owner, "min_delta", min_delta)
        if delta < 0:
            raise InvalidValueError(f"{owner}: min_delta must be >= 0. Got {min_delta!r}.")
        self.min_delta = min_delta

    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        reported = trial.intermediate_values
        if len(reported) <= self.patience:
            return False  # not enough history to tell a stall
        sign = sign_of(study, type(self).__name__)
        scores = [score(reported[step], sign) for step in sorted(reported)]
        earlier_best = min(scores[: -self.patience])
        recent_best = min(scores[-self.patience :])
        # Lower scores are better; NaN scores +inf, so all-NaN windows never "improve".
        if recent_best < earlier_best - float(self.min_delta):
            return False
        if self.wrapped_pruner is None:
            return True
        return self.wrapped_pruner.prune(study, trial)

    def trials_for_sampler(
        self, study: StudyView, trial: FrozenTrial, trials: Sequence[FrozenTrial]
    ) -> list[FrozenTrial]:
        if self.wrapped_pruner is None:
            return list(trials)
        return self.wrapped_pruner.trials_for_sampler(study, trial, trials)
