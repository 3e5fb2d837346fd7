"""Pruners: stop hopeless trials early.

* :class:`NopPruner`: never prunes.
"""

from __future__ import annotations

from hyperdial.pruners._base import Pruner
from hyperdial.pruners._nop import NopPruner

__all__ = ["NopPruner", "Pruner"]
