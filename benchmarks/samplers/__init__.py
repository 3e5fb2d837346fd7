"""Sampler benchmark: hyperdial's samplers against Optuna, Hyperopt and random search.

Run it with ``python -m benchmarks.samplers.run`` from the repository root; see
:mod:`benchmarks.samplers.run`.
"""
