"""Commands that read studies: ``studies``, ``trials``, ``best`` and ``export``."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import IO, Any

import click
from rich.table import Table

from hyperdial._export import trial_records
from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial.cli._common import (
    Settings,
    common_options,
    count_states,
    echo_json,
    format_counts,
    format_duration,
    format_params,
    format_time,
    format_value,
    jsonable,
    open_storage,
    open_study,
    plural,
    shorten,
    state_counts,
    stdout_console,
)

__all__ = ["best", "export", "studies", "trials"]

_STATES = ("complete", "pruned", "fail", "running", "waiting")
_NOTE_WIDTH = 60

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table."
)


@click.command()
@json_option
@common_options
@click.pass_obj
def studies(settings: Settings, as_json: bool) -> None:
    """List the studies in the storage."""
    storage = open_storage(settings)
    rows: list[dict[str, Any]] = []
    for summary in storage.list_studies():
        best = summary.best_trial
        rows.append(
            {
                "name": summary.study_name,
                "direction": summary.directions[0].name.lower(),
                "n_trials": summary.n_trials,
                "states": count_states(storage, summary.study_id),
                "best_value": best.value if best is not None else None,
                "best_trial": best.number if best is not None else None,
                "datetime_start": summary.datetime_start,
                "user_attrs": summary.user_attrs,
            }
        )
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"Studies in {settings.storage_url}", title_justify="left")
    table.add_column("Name", overflow="fold")
    table.add_column("Direction")
    table.add_column("Trials", justify="right")
    table.add_column("States")
    table.add_column("Best", justify="right")
    table.add_column("Started", no_wrap=True)
    for row in rows:
        table.add_row(
            row["name"],
            row["direction"],
            str(row["n_trials"]),
            format_counts(row["states"]),
            format_value(row["best_value"]),
            format_time(row["datetime_start"]),
        )
    console = stdout_console()
    if not rows:
        console.print(f"No studies in {settings.storage_url}.")
        return
    console.print(table)


def _note(trial: FrozenTrial) -> str:
    """Why a trial ended the way it did, in a few words."""
    attrs = trial.system_attrs
    parts = []
    if attrs.get("retry_of") is not None:
        parts.append(f"retry of #{attrs['retry_of']}")
    reason = trial.fail_reason or ""
    if attrs.get("stale") and not reason.startswith("stale"):
        parts.append("stale")
    if reason:
        parts.append(shorten(reason, _NOTE_WIDTH))
    if attrs.get("retried_as") is not None:
        parts.append(f"retried as #{attrs['retried_as']}")
    return "; ".join(parts)


def _trial_json(trial: FrozenTrial) -> dict[str, Any]:
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "params": trial.params,
        "user_attrs": trial.user_attrs,
        "datetime_start": trial.datetime_start,
        "datetime_complete": trial.datetime_complete,
        "duration": trial.duration,
        "fail_reason": trial.fail_reason,
        "intermediate_values": {str(k): v for k, v in trial.intermediate_values.items()},
        "system_attrs": trial.system_attrs,
    }


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--state",
    "states",
    type=click.Choice(_STATES, case_sensitive=False),
    multiple=True,
    help="Only trials in this state (repeat for several).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), help="Only the N most recent (highest-numbered)."
)
@json_option
@common_options
@click.pass_obj
def trials(
    settings: Settings,
    study_name: str,
    states: tuple[str, ...],
    limit: int | None,
    as_json: bool,
) -> None:
    """List the trials of STUDY."""
    study = open_study(settings, study_name)
    wanted = tuple(TrialState[s.upper()] for s in states) or None
    selected = study.get_trials(states=wanted, deepcopy=False)
    total = len(selected)
    if limit is not None:
        selected = selected[-limit:]
    if as_json:
        echo_json([_trial_json(t) for t in selected])
        return

    show_sampler = any("sampler" in t.system_attrs for t in selected)
    notes = [_note(t) for t in selected]
    table = Table(title=f"Trials of {study_name!r}", title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Params", overflow="fold", ratio=3)
    table.add_column("Duration", justify="right", no_wrap=True)
    if show_sampler:
        table.add_column("Sampler", no_wrap=True)
    if any(notes):
        table.add_column("Note", overflow="fold", ratio=2)
    for trial, note in zip(selected, notes, strict=True):
        cells = [
            str(trial.number),
            trial.state.name.lower(),
            format_value(trial.value),
            format_params(trial.params) or "-",
            format_duration(trial.duration),
        ]
        if show_sampler:
            cells.append(str(trial.system_attrs.get("sampler", "")))
        if any(notes):
            cells.append(note)
        table.add_row(*cells)
    console = stdout_console()
    if not selected:
        console.print(f"No trials in {study_name!r} match.")
        return
    console.print(table)
    shown = f"last {len(selected)} of {total}" if len(selected) < total else plural(total, "trial")
    console.print(f"{shown}: {format_counts(state_counts(selected))}")


@click.command(short_help="Show the best trial of STUDY.")
@click.argument("study_name", metavar="STUDY")
@json_option
@common_options
@click.pass_obj
def best(settings: Settings, study_name: str, as_json: bool) -> None:
    """Show the best trial of STUDY: number, value, params and user attributes."""
    study = open_study(settings, study_name)
    trial = study.best_trial  # raises with the state counts when nothing completed
    if as_json:
        echo_json(
            {
                "study": study_name,
                "direction": study.direction.name.lower(),
                **_trial_json(trial),
            }
        )
        return
    table = Table(
        title=f"Best trial of {study_name!r} ({study.direction.name.lower()})",
        title_justify="left",
        show_header=False,
    )
    table.add_column("Key", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    table.add_row("number", str(trial.number))
    table.add_row("value", format_value(trial.value))
    for name, value in trial.params.items():
        table.add_row(f"params.{name}", json.dumps(jsonable(value)))
    for key, value in trial.user_attrs.items():
        table.add_row(f"user_attrs.{key}", json.dumps(jsonable(value)))
    table.add_row("duration", format_duration(trial.duration))
    table.add_row("finished", format_time(trial.datetime_complete))
    stdout_console().print(table)


def _csv_cell(value: Any) -> Any:
    """Return what the CSV holds for one record value."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": pandas reads them back as floats
    if isinstance(value, dict | list | tuple):
        return json.dumps(jsonable(value))
    return jsonable(value)


def _write_csv(records: list[dict[str, Any]], out: IO[str]) -> None:
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})


@click.command(short_help="Export the trials of STUDY as CSV or JSON.")
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"], case_sensitive=False),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@common_options
@click.pass_obj
def export(settings: Settings, study_name: str, fmt: str, output: Path | None) -> None:
    """Export every trial of STUDY as CSV or JSON (one flat record per trial).

    Columns match Study.trials_dataframe(): number, state, value, datetime_start,
    datetime_complete, duration (seconds), params_<name>, user_attrs_<key>, fail_reason.
    Times are ISO 8601 in UTC.
    """
    study = open_study(settings, study_name)
    records = trial_records(study.get_trials(deepcopy=False))
    buffer = io.StringIO()
    if fmt.lower() == "json":
        buffer.write(json.dumps(jsonable(records), indent=2, allow_nan=False, ensure_ascii=False))
        buffer.write("\n")
    else:
        _write_csv(records, buffer)
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
        return
    output.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    click.echo(f"wrote {len(records)} trials of {study_name!r} to {output}", err=True)
