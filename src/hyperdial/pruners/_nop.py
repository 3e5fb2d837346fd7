"""The pruner that never prunes."""

from __future__ import annotations

from hyperdial._frozen import FrozenTrial
from hyperdial._view import StudyView
from hyperdial.pruners._base import Pruner

__all__ = ["NopPruner"]


class NopPruner(Pruner):
    """Never stops a trial early.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(pruner=hyperdial.pruners.NopPruner())
    """

    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        return False
