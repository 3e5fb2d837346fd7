"""Copies of stored trials and attributes that callers may change without changing storage.

``copy.deepcopy`` is generic and slow: it dominated the per-trial cost of the in-memory
storage and made reading a study of thousands of trials expensive. Stored values are JSON
(attributes are checked to serialise), parameters are scalars and distributions are
immutable, so copying the containers is enough.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hyperdial._frozen import FrozenTrial

__all__ = ["copy_attrs", "copy_json", "copy_trial"]


def copy_json(value: Any) -> Any:
    """Return a copy of a JSON value that shares nothing mutable with it.

    Only dicts and lists are copied by hand; scalars are immutable and shared, and anything
    else (a tuple, a subclass) falls back to ``copy.deepcopy``, which is rare and safe.
    """
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def copy_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of an attribute mapping as a dict (see :func:`copy_json`)."""
    return {key: copy_json(value) for key, value in attrs.items()}


def copy_trial(trial: FrozenTrial) -> FrozenTrial:
    """Return a copy of a stored trial that the caller may change freely.

    Distributions are shared: they are immutable values (hashable, compared by value), like
    the datetimes.
    """
    return FrozenTrial(
        number=trial.number,
        trial_id=trial.trial_id,
        state=trial.state,
        values=None if trial.values is None else list(trial.values),
        params=copy_attrs(trial.params),
        distributions=dict(trial.distributions),
        user_attrs=copy_attrs(trial.user_attrs),
        system_attrs=copy_attrs(trial.system_attrs),
        intermediate_values=dict(trial.intermediate_values),
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
    )
