"""Copies of stored trials and attributes that callers may change without changing storage.

``copy.deepcopy`` is generic and slow: it dominated the per-trial cost of the in-memory
storage and made reading a study of thousands of trials expensive. Stored values are JSON
(attributes are checked to serialise), parameters are scalars and distributions are
immutable, so copying the containers is enough. The same copies make a new trial from a
template, so that neither the caller's template nor the trial handed back shares anything
mutable with what the storage keeps.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from typing import Any

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial.storage._base import TrialTemplate

__all__ = ["copy_attrs", "copy_json", "copy_trial", "trial_from_template"]


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
    return trial_from_template(
        trial,
        number=trial.number,
        trial_id=trial.trial_id,
        state=trial.state,
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
    )


def trial_from_template(
    template: TrialTemplate | FrozenTrial,
    *,
    number: int,
    trial_id: int,
    state: TrialState,
    datetime_start: datetime.datetime | None,
    datetime_complete: datetime.datetime | None,
) -> FrozenTrial:
    """Return a trial with the contents of ``template``, sharing nothing mutable with it.

    The caller (a storage making a new trial) decides the trial's identity, state and
    times; the values, parameters, attributes and reports are copied from the template,
    which may also be a stored trial (see :func:`copy_trial`).
    """
    return FrozenTrial(
        number=number,
        trial_id=trial_id,
        state=state,
        values=None if template.values is None else list(template.values),
        params=copy_attrs(template.params),
        distributions=dict(template.distributions),
        user_attrs=copy_attrs(template.user_attrs),
        system_attrs=copy_attrs(template.system_attrs),
        intermediate_values=dict(template.intermediate_values),
        datetime_start=datetime_start,
        datetime_complete=datetime_complete,
    )
