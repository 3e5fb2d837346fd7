"""Tree-structured Parzen Estimator (TPE) sampling.

* :class:`TPESampler`: the sampler.
* :func:`default_gamma`: its default rule for how many trials count as good.
"""

from __future__ import annotations

from hyperdial.samplers._tpe._sampler import TPESampler
from hyperdial.samplers._tpe._split import default_gamma

__all__ = ["TPESampler", "default_gamma"]
