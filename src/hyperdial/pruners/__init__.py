"""Pruners: stop hopeless trials early.

* :class:`NopPruner`: never prunes.
* :class:`MedianPruner`: stops a trial worse than the median of finished trials at the
  same step (the median stopping rule).
* :class:`PercentilePruner`: the same with any percentile.
* :class:`ThresholdPruner`: stops a trial whose reported value leaves fixed bounds.
* :class:`PatientPruner`: lets a trial run while it improves; asks a wrapped pruner once it
  stalls.
* :class:`SuccessiveHalvingPruner`: asynchronous successive halving (ASHA): keeps the top
  ``1/reduction_factor`` of trials at each rung.
* :class:`HyperbandPruner`: Hyperband: ASHA brackets of different aggressiveness.

Every pruner reads other trials only through the study's storage, so it decides the same
way with one worker, ``n_jobs > 1`` or many machines on one database. The conformance
suite in :mod:`hyperdial.testing.pruners` checks a pruner against this contract.
"""

from __future__ import annotations

from hyperdial.pruners._base import Pruner
from hyperdial.pruners._hyperband import HyperbandPruner
from hyperdial.pruners._nop import NopPruner
from hyperdial.pruners._patient import PatientPruner
from hyperdial.pruners._percentile import MedianPruner, PercentilePruner
from hyperdial.pruners._successive_halving import SuccessiveHalvingPruner
from hyperdial.pruners._threshold import ThresholdPruner

__all__ = [
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatientPruner",
    "PercentilePruner",
    "Pruner",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
]
