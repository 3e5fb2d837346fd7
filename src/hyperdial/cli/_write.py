"""Commands that change studies: ``create``, ``delete``, ``ask`` and ``tell``."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from hyperdial._frozen import TrialState
from hyperdial.cli._common import (
    CliError,
    Settings,
    common_options,
    count_states,
    describe_storage,
    echo_json,
    format_counts,
    format_value,
    open_storage,
    open_study,
    quiet_library,
)
from hyperdial.exceptions import DuplicatedStudyError, InvalidSpaceError, StudyNotFoundError
from hyperdial.samplers import (
    GPSampler,
    QMCSampler,
    RandomSampler,
    Sampler,
    TPESampler,
    default_sampler,
)
from hyperdial.space import Distribution, space_from_json
from hyperdial.storage import Storage
from hyperdial.study import Study, create_study, delete_study, load_study

__all__ = [
    "ask",
    "create",
    "delete",
    "direction_option",
    "get_or_create_study",
    "make_sampler",
    "read_search_space",
    "seed_option",
    "shared_seed",
    "tell",
]

# Where the CLI keeps a study's shared sampler seed, so QMC points asked for by separate
# processes come from one scrambled sequence.
_PLUGIN_NAMESPACE = "cli"

direction_option = click.option(
    "--direction",
    type=click.Choice(["minimize", "maximize"], case_sensitive=False),
    help="Direction of a new study [default: minimize]; must match an existing one.",
)
seed_option = click.option("--seed", type=int, help="Sampler seed, for reproducible runs.")


def stdin_is_tty() -> bool:
    """Whether a person can answer a prompt (a function so tests can pretend)."""
    return sys.stdin.isatty()


def read_search_space(text: str) -> dict[str, Distribution]:
    """Read a search space given inline as JSON, or as ``@FILE`` (``@-`` for stdin).

    Raises:
        CliError: naming the option and what is wrong with it.
    """
    source = "--search-space"
    if text.startswith("@"):
        path = text[1:]
        source = f"--search-space {text}"
        if path == "-":
            text = sys.stdin.read()
        else:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as error:
                raise CliError(f"cannot read {source}: {error.strerror or error}") from None
    try:
        return space_from_json(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{source} is not valid JSON: {error}") from None
    except InvalidSpaceError as error:
        raise CliError(f"{source}: {error}") from None


def get_or_create_study(
    storage: Storage,
    name: str,
    direction: str | None,
    sampler: Sampler | None = None,
    **lease_options: Any,
) -> tuple[Study, bool]:
    """Open study ``name``, creating it if missing; return it and whether it was created.

    Without ``direction`` an existing study keeps its own, so callers need not repeat it.
    ``lease_options`` (``heartbeat_interval``, ``grace_period``, ``retries``) go to
    :func:`~hyperdial.create_study` or :func:`~hyperdial.load_study`.
    """
    if direction is None:
        try:
            study = load_study(study_name=name, storage=storage, sampler=sampler, **lease_options)
            return study, False
        except StudyNotFoundError:
            direction = "minimize"
    before = {s.study_name for s in storage.list_studies()}
    study = create_study(
        study_name=name,
        storage=storage,
        direction=direction,
        sampler=sampler,
        load_if_exists=True,
        **lease_options,
    )
    return study, name not in before


def shared_seed(study: Study, seed: int | None) -> int:
    """Return ``seed``, or a seed stored once in the study and shared by every process."""
    if seed is not None:
        return seed
    state = study.view.state(_PLUGIN_NAMESPACE)
    state.set_if_absent("sampler_seed", secrets.randbits(31))
    return int(state.get("sampler_seed"))


def make_sampler(
    study: Study, kind: str, seed: int | None, space: dict[str, Distribution] | None
) -> Sampler:
    """Build the sampler ``--sampler kind`` names, for ``study``."""
    kind = kind.lower()
    if kind == "auto":
        return default_sampler(seed=seed)
    if kind == "tpe":
        return TPESampler(seed=seed)
    if kind == "gp":
        return GPSampler(seed=seed)
    if kind == "qmc":
        return QMCSampler(space, seed=shared_seed(study, seed))
    if kind == "random":
        return RandomSampler(seed=seed)
    raise CliError(f"unknown sampler {kind!r}")  # the Choice type prevents this


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--direction",
    type=click.Choice(["minimize", "maximize"], case_sensitive=False),
    default="minimize",
    show_default=True,
)
@click.option("--exists-ok", is_flag=True, help="Succeed if the study exists (same direction).")
@common_options
@click.pass_obj
def create(settings: Settings, study_name: str, direction: str, exists_ok: bool) -> None:
    """Create an empty study named STUDY."""
    storage = open_storage(settings, must_exist=False)
    where = describe_storage(settings.storage_url)
    try:
        create_study(
            study_name=study_name, storage=storage, direction=direction, load_if_exists=exists_ok
        )
    except DuplicatedStudyError:
        raise CliError(
            f"a study named {study_name!r} already exists in {where}; pass --exists-ok to "
            "accept it, or choose another name."
        ) from None
    click.echo(f"study {study_name!r} ({direction.lower()}) is in {where}")


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common_options
@click.pass_obj
def delete(settings: Settings, study_name: str, yes: bool) -> None:
    """Delete STUDY and all its trials."""
    study = open_study(settings, study_name)
    storage = study.storage
    counts = format_counts(count_states(storage, storage.get_study_id(study_name)))
    where = describe_storage(settings.storage_url)
    if not yes:
        if not stdin_is_tty():
            raise CliError(
                f"refusing to delete {study_name!r} without confirmation: standard input is "
                "not a terminal; pass --yes."
            )
        click.confirm(f"Delete study {study_name!r} ({counts}) from {where}?", abort=True, err=True)
    delete_study(study_name=study_name, storage=storage)
    click.echo(f"deleted study {study_name!r} ({counts}) from {where}")


@click.command(short_help="Start a trial; print its number and params as JSON.")
@click.option("--study", "study_name", required=True, metavar="NAME", help="Study name.")
@click.option(
    "--search-space",
    "search_space",
    required=True,
    metavar="JSON|@FILE",
    help='Parameters as JSON, e.g. \'{"x": {"type": "float", "low": -5, "high": 5}}\', '
    "or @file.json (@- reads standard input).",
)
@direction_option
@click.option(
    "--sampler",
    type=click.Choice(["random", "qmc"], case_sensitive=False),
    default="random",
    show_default=True,
)
@seed_option
@common_options
@click.pass_obj
def ask(
    settings: Settings,
    study_name: str,
    search_space: str,
    direction: str | None,
    sampler: str,
    seed: int | None,
) -> None:
    """Start a trial and print it as JSON: {"number": N, "params": {...}}.

    The study is created if missing. Finish the trial with 'hyperdial tell'.
    """
    space = read_search_space(search_space)
    storage = open_storage(settings, must_exist=False)
    study, _ = get_or_create_study(storage, study_name, direction)
    study.sampler = make_sampler(study, sampler, seed, space)
    # This process exits now and 'hyperdial tell' finishes the trial later: no process
    # would renew a lease, so the trial has none and never goes stale.
    trial = study.ask(space, lease=False)
    echo_json({"number": trial.number, "params": trial.params}, compact=True)


@click.command(short_help="Finish a trial with its value, or as pruned or failed.")
@click.option("--study", "study_name", required=True, metavar="NAME", help="Study name.")
@click.option("--trial-number", "number", required=True, type=click.IntRange(min=0))
@click.option("--value", type=float, help="The objective value; the trial becomes COMPLETE.")
@click.option(
    "--state",
    type=click.Choice(["complete", "pruned", "fail"], case_sensitive=False),
    help="Finish without a value: pruned or fail (complete needs --value).",
)
@click.option("--reason", help="Why the trial failed (with --state fail).")
@common_options
@click.pass_obj
def tell(
    settings: Settings,
    study_name: str,
    number: int,
    value: float | None,
    state: str | None,
    reason: str | None,
) -> None:
    """Finish trial N of a study with its value or a pruned/fail state."""
    chosen = TrialState[state.upper()] if state else None
    if value is None and chosen in (None, TrialState.COMPLETE):
        raise click.UsageError("give --value V, or --state pruned|fail.")
    if value is not None and chosen not in (None, TrialState.COMPLETE):
        raise click.UsageError(f"--value and --state {state} cannot be combined.")
    if reason is not None and chosen != TrialState.FAIL:
        raise click.UsageError("--reason goes with --state fail.")
    study = open_study(settings, study_name)
    values: Any = value
    with quiet_library():  # the line below says the same as the library's FAIL warning
        frozen = study.tell(number, values, state=chosen, fail_reason=reason)
    summary = f"trial {frozen.number} of {study_name!r}: {frozen.state.name.lower()}"
    if frozen.value is not None:
        summary += f", value {format_value(frozen.value)}"
    if frozen.fail_reason:
        summary += f" ({frozen.fail_reason})"
    click.echo(summary)
