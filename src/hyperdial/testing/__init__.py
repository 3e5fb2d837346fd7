"""Conformance suites for code built on hyperdial, such as third-party plug-ins.

Nothing here is imported by ``import hyperdial``; these modules need pytest.

* :mod:`hyperdial.testing.storages`: what every :class:`~hyperdial.storage.Storage` must do.
* :mod:`hyperdial.testing.samplers`: what every sampler must do.
* :mod:`hyperdial.testing.pruners`: what every pruner must do.
"""
