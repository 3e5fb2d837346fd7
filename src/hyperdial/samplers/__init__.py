"""Samplers: how the next trial's parameters are chosen.

* :class:`RandomSampler`: uniform random search.
* :class:`GridSampler`: every point of a declared grid, once, even across workers.
* :class:`QMCSampler`: scrambled Sobol points, spread more evenly than random ones.
* :class:`TPESampler`: tree-structured Parzen estimators, Bayesian optimization that handles
  conditional, integer and categorical spaces and thousands of trials.
* :class:`GPSampler`: Gaussian-process Bayesian optimization, the most out of few trials on
  fixed, mostly numeric spaces.
* :class:`AutoSampler`: the default; QMC first, then GP or TPE depending on the space and
  the history.

Write your own by subclassing :class:`Sampler`; every built-in reads the study only
through the public :class:`~hyperdial.StudyView`.
"""

from __future__ import annotations

from hyperdial.samplers._auto import AutoSampler
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._gp import GPSampler
from hyperdial.samplers._grid import GridSampler
from hyperdial.samplers._qmc import QMCSampler
from hyperdial.samplers._random import RandomSampler
from hyperdial.samplers._rng import trial_rng
from hyperdial.samplers._tpe import TPESampler

__all__ = [
    "AutoSampler",
    "GPSampler",
    "GridSampler",
    "QMCSampler",
    "RandomSampler",
    "Sampler",
    "TPESampler",
    "default_sampler",
    "trial_rng",
]


def default_sampler(*, seed: int | None = None) -> Sampler:
    """Return the sampler ``create_study`` uses when none is given: :class:`AutoSampler`."""
    return AutoSampler(seed=seed)
