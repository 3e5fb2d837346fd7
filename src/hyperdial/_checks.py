"""Argument checks and the clock shared by samplers, pruners and storages.

Messages follow one template: who checks, what must hold, what was given.
"""

from __future__ import annotations

import datetime
import math
import numbers
from typing import Any

from hyperdial.exceptions import InvalidValueError

__all__ = ["check_int", "check_number", "utcnow"]


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """Return ``value`` if it is an integer >= ``minimum``, else raise a clear error.

    Example:
        >>> check_int("TPESampler", "n_startup_trials", 10, 0)
        10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidValueError(f"{owner}: {name} must be an integer >= {minimum}. Got {value!r}.")
    return int(value)


def check_number(owner: str, name: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a float if it is a real number (finite unless told), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(f"{owner}: {name} must be a number. Got {value!r}.")
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        kind = "a finite number" if finite else "a number, not NaN"
        raise InvalidValueError(f"{owner}: {name} must be {kind}. Got {value!r}.")
    return number


def utcnow() -> datetime.datetime:
    """Return the current time as naive UTC, the form every storage keeps."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
