"""The :class:`Sampler` contract."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from hyperdial._frozen import FrozenTrial
from hyperdial._repr import constructor_repr
from hyperdial._view import StudyView
from hyperdial.space import Distribution

__all__ = ["Sampler"]


class Sampler(abc.ABC):
    """Proposes parameter values for trials.

    Lifecycle of one trial, as the study drives it:

    1. :meth:`sample_relative` once, when the trial starts: propose values for any
       parameters the sampler can model jointly (for example those every finished trial
       had). Return ``{}`` to propose nothing jointly.
    2. :meth:`sample_independent` for each parameter the objective asks for that step 1 did
       not cover, or whose distribution changed since.
    3. :meth:`after_trial` once the trial has finished and been stored.

    Between trials :meth:`is_exhausted` tells the optimize loop whether anything is left to
    try (a grid that is done). A sampler reads the study only through the
    :class:`~hyperdial.StudyView` it is handed; its shared state goes in
    ``study.state(<its name>)``. One sampler object serves many trials and, copied, many
    worker processes: draw randomness per trial (see :func:`~hyperdial.samplers.trial_rng`)
    so that copies given the same seed still propose different points, and the same seed
    gives the same trials run after run.

    Example:
        >>> class CenterSampler(Sampler):
        ...     def sample_independent(self, study, trial, name, distribution):
        ...         return distribution.to_external(distribution.from_unit(0.5))
    """

    #: True when every trial the sampler runs is one it queued in advance (a grid): ``ask``
    #: then claims a queued trial or reports the search exhausted, and never creates one.
    queued_trials_only: ClassVar[bool] = False

    def sample_relative(self, study: StudyView, trial: FrozenTrial) -> dict[str, Any]:
        """Propose external values for several parameters jointly; ``{}`` by default."""
        return {}

    @abc.abstractmethod
    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        """Return an external value for one parameter drawn from ``distribution``."""

    def after_trial(self, study: StudyView, trial: FrozenTrial) -> None:  # noqa: B027
        """Learn from a trial that has just finished (it is already stored)."""

    def is_exhausted(self, study: StudyView) -> bool:
        """Whether nothing is left to propose; the optimize loop stops then."""
        return False

    def __repr__(self) -> str:
        return constructor_repr(self)
