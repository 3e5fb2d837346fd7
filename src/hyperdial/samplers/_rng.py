"""Randomness drawn per trial, so that parallel copies of one sampler never repeat."""

from __future__ import annotations

import secrets
import zlib

import numpy as np

__all__ = ["resolve_seed", "trial_rng"]


def resolve_seed(seed: int | None) -> int:
    """Return ``seed`` checked, or a fresh random one when None."""
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        from hyperdial.exceptions import InvalidValueError

        raise InvalidValueError(f"seed must be a non-negative integer or None. Got {seed!r}.")
    return int(seed)


def trial_rng(seed: int, trial_number: int, *keys: str) -> np.random.Generator:
    """Return a generator determined by a seed, a trial number and optional string keys.

    Trial numbers are unique within a study, so copies of a sampler in several worker
    processes draw different values for different trials, while a re-run with the same seed
    draws the same values for the same trial number.

    Example:
        >>> a = trial_rng(0, 7, "lr").random()
        >>> a == trial_rng(0, 7, "lr").random()
        True
    """
    entropy = [seed, trial_number, *(zlib.crc32(key.encode()) for key in keys)]
    return np.random.default_rng(entropy)
