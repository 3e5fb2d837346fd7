"""Integrations with other tools; each module imports its tool only when used.

* :mod:`hyperdial.integrations.dask`: run a study's trials on a Dask cluster.
"""

__all__: list[str] = []
