"""Flat records of trials, for dataframes, CSV and JSON export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hyperdial._frozen import FrozenTrial

__all__ = ["trial_records"]


def trial_records(trials: Iterable[FrozenTrial]) -> list[dict[str, Any]]:
    """Return one flat dict per trial: number, state, value(s), times, params, attrs.

    Columns follow the names pandas users know from other tuners: ``params_<name>``,
    ``user_attrs_<key>``.
    """
    records = []
    for trial in trials:
        record: dict[str, Any] = {
            "number": trial.number,
            "state": trial.state.name,
        }
        if trial.values is not None and len(trial.values) > 1:
            for i, v in enumerate(trial.values):
                record[f"values_{i}"] = v
        else:
            record["value"] = trial.values[0] if trial.values else None
        record["datetime_start"] = trial.datetime_start
        record["datetime_complete"] = trial.datetime_complete
        record["duration"] = trial.duration
        for name, value in sorted(trial.params.items()):
            record[f"params_{name}"] = value
        for key, value in sorted(trial.user_attrs.items()):
            record[f"user_attrs_{key}"] = value
        if trial.fail_reason is not None:
            record["fail_reason"] = trial.fail_reason
        records.append(record)
    return records
