"""The :class:`Pruner` contract."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from hyperdial._frozen import FrozenTrial
from hyperdial._repr import constructor_repr
from hyperdial._view import StudyView

__all__ = ["Pruner"]


class Pruner(abc.ABC):
    """Decides whether a running trial should stop early.

    The study calls :meth:`prune` when the objective calls ``trial.should_prune()``; the
    trial passed in holds every value reported so far. A pruner reads other trials only
    through the :class:`~hyperdial.StudyView`, which reads the shared storage, so its
    decisions are the same with one worker or many machines.

    :meth:`trials_for_sampler` is an optional hook every pruner has: it lets a pruner that
    runs trials in separate groups (Hyperband's brackets) tell samplers which finished
    trials a given trial should learn from. The default is all of them.

    Example:
        >>> class StopAfterFive(Pruner):
        ...     def prune(self, study, trial):
        ...         return (trial.last_step or 0) >= 5
    """

    @abc.abstractmethod
    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should stop now."""

    def trials_for_sampler(
        self, study: StudyView, trial: FrozenTrial, trials: Sequence[FrozenTrial]
    ) -> list[FrozenTrial]:
        """Return the trials a sampler should learn from when proposing for ``trial``."""
        return list(trials)

    def __repr__(self) -> str:
        return constructor_repr(self)
