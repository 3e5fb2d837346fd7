"""Gaussian-process Bayesian optimization.

Layout, one concern per module:

* :mod:`._kernel`: Matern-5/2 ARD kernel with a Hamming term for categoricals;
* :mod:`._model`: GP regression, MAP hyperparameters, the posterior;
* :mod:`._warping`: output standardization and warping;
* :mod:`._acquisition`: numerically stable log expected improvement;
* :mod:`._search_space`: parameters <-> model inputs, discrete moves;
* :mod:`._optimize_acqf`: maximizing the acquisition over a mixed space;
* :mod:`._sampler`: :class:`GPSampler`, which ties them to a study.
"""

from __future__ import annotations

from hyperdial.samplers._gp._sampler import GPSampler

__all__ = ["GPSampler"]
