"""What every command shares: storage resolution, error reporting and output helpers."""

from __future__ import annotations

import datetime
import enum
import json
import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial.exceptions import HyperdialError, StorageError, StudyNotFoundError
from hyperdial.storage import Storage, get_storage
from hyperdial.study import Study, load_study

__all__ = [
    "DEFAULT_STORAGE",
    "STORAGE_ENV",
    "CliError",
    "CliInterruptedError",
    "CliUsageError",
    "Settings",
    "common_options",
    "count_states",
    "describe_storage",
    "echo_json",
    "format_counts",
    "format_duration",
    "format_params",
    "format_time",
    "format_value",
    "install_log_handler",
    "jsonable",
    "open_storage",
    "open_study",
    "plural",
    "quiet_library",
    "report_errors",
    "shorten",
    "state_counts",
    "stdout_console",
]

STORAGE_ENV = "HYPERDIAL_STORAGE"
DEFAULT_STORAGE = "sqlite:///hyperdial.db"

# Rich wraps at 80 columns when it cannot ask a terminal; tables of params then fold into
# unreadable towers in CI logs. Wider lines read fine in a log viewer.
_NON_TTY_WIDTH = 120

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """An error shown as one red line on standard error; exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        # Messages from the library may span lines (a worker's traceback text); the CLI
        # promises one line, so keep the first and point at --verbose for the rest.
        lines = [line for line in self.format_message().splitlines() if line.strip()]
        text = lines[0] if lines else "unknown error"
        if len(lines) > 1:
            text += " (--verbose shows more)"
        click.secho(f"Error: {text}", fg="red", err=True, file=file)


class CliUsageError(CliError):
    """A malformed argument, reported in one line like other errors; exit code 2."""

    exit_code = 2


class CliInterruptedError(CliError):
    """Ctrl-C; exit code 130 as shells report for SIGINT."""

    exit_code = 130


@dataclass
class Settings:
    """Options given to the group, possibly overridden after the subcommand name."""

    storage: str | None = None
    verbose: bool = False

    @property
    def storage_url(self) -> str:
        """The storage URL: ``--storage``, else ``$HYPERDIAL_STORAGE``, else the default."""
        return self.storage or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _set_storage(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        _settings(ctx).storage = value


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _settings(ctx).verbose = True


storage_option = click.option(
    "--storage",
    metavar="URL",
    expose_value=False,
    callback=_set_storage,
    help=f"Storage URL, e.g. sqlite:///hyperdial.db or postgresql://user@host/db "
    f"[default: ${STORAGE_ENV}, else {DEFAULT_STORAGE}].",
)
verbose_option = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    expose_value=False,
    callback=_set_verbose,
    help="Show tracebacks and informational messages.",
)


def common_options(command: F) -> F:
    """Accept ``--storage`` and ``--verbose`` after the subcommand name too."""
    return storage_option(verbose_option(command))


# -- storages and studies ---------------------------------------------------------------------


def describe_storage(url: str) -> str:
    """Return a storage URL with any password masked, for messages."""
    try:
        import sqlalchemy

        return sqlalchemy.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _missing_sqlite_file(url: str) -> Path | None:
    """Return the file of a ``sqlite:///`` URL if it does not exist, else None."""
    if not url.lower().startswith("sqlite"):
        return None
    try:
        import sqlalchemy

        database = sqlalchemy.make_url(url).database
    except Exception:
        return None  # get_storage explains malformed URLs
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return None if path.exists() else path


def open_storage(settings: Settings, *, must_exist: bool = True) -> Storage:
    """Open the storage the user chose.

    Args:
        settings: The resolved command-line settings.
        must_exist: Refuse to create a new SQLite file. Reading commands pass True so a
            typo or the wrong directory does not leave an empty database behind.
    """
    url = settings.storage_url
    missing = _missing_sqlite_file(url) if must_exist else None
    if missing is not None:
        raise CliError(
            f"no storage at {missing} (file not found; storage {url!r}). Run in the "
            f"directory that holds it, or pass --storage / set {STORAGE_ENV}."
        )
    try:
        return get_storage(url)
    except StorageError as error:
        # The storage wraps the driver's connection error in a longer message; the driver's
        # own first line (refused, unknown host, bad password) is what the user needs.
        cause = error.__cause__
        if cause is None or _database_error(cause, settings) is None:
            raise
        raise CliError(_database_error(cause, settings) or str(error)) from error


def open_study(settings: Settings, name: str, **kwargs: Any) -> Study:
    """Load an existing study, listing the existing ones if the name is unknown."""
    storage = open_storage(settings)
    try:
        return load_study(study_name=name, storage=storage, **kwargs)
    except StudyNotFoundError:
        names = [s.study_name for s in storage.list_studies()]
        known = ", ".join(names) if names else "none"
        raise CliError(
            f"no study named {name!r} in {describe_storage(settings.storage_url)}; "
            f"studies there: {known}."
        ) from None


# -- errors -----------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _database_error(error: BaseException, settings: Settings) -> str | None:
    """Describe a database driver error, or return None if ``error`` is not one."""
    try:
        from sqlalchemy import exc
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return None
    where = describe_storage(settings.storage_url)
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        reason = _first_line(str(error.orig)) if error.orig is not None else _first_line(str(error))
        return f"cannot connect to {where}: {reason}"
    if isinstance(error, exc.SQLAlchemyError):
        return f"database error in {where}: {_first_line(str(error))}"
    if type(error).__module__.split(".")[0] == "psycopg":
        return f"cannot connect to {where}: {_first_line(str(error))}"
    return None


def error_message(error: Exception, settings: Settings) -> str:
    """Return the one line shown for an exception a command did not handle itself."""
    database = _database_error(error, settings)
    if database is not None:
        return database
    if isinstance(error, HyperdialError | ImportError):
        return str(error)
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error}"
    if isinstance(error, ValueError):
        return str(error)
    return f"{type(error).__name__}: {error} (unexpected; run with --verbose for the traceback)"


@contextmanager
def report_errors(ctx: click.Context) -> Iterator[None]:
    """Turn any exception of a command into one red line and an exit code.

    Click's own errors (usage errors exit with 2) pass through unchanged. With
    ``--verbose`` the traceback is printed first.
    """
    settings = _settings(ctx)
    try:
        yield
    except click.ClickException as error:
        if settings.verbose and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        raise
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        if settings.verbose:
            traceback.print_exc()
        raise CliInterruptedError(
            f"interrupted; finished trials are kept in {describe_storage(settings.storage_url)}"
        ) from None
    except Exception as error:
        if settings.verbose:
            traceback.print_exc()
        raise CliError(error_message(error, settings)) from error


class _EchoHandler(logging.Handler):
    """Prints the library's log records as short lines on standard error."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and not self._settings.verbose:
            return
        if record.getMessage().startswith("Interrupted: the running trial"):
            # It suggests Python calls to resume; the CLI's own closing line says it instead.
            return
        # click.echo strips the colour when standard error is not a terminal.
        colour = "yellow" if record.levelno >= logging.WARNING else None
        level = record.levelname.lower()
        click.secho(f"{level}: {record.getMessage()}", fg=colour, err=True)


def install_log_handler(ctx: click.Context) -> None:
    """Show the ``hyperdial`` logger's messages for the duration of the command."""
    logger = logging.getLogger("hyperdial")
    handler = _EchoHandler(_settings(ctx))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def remove() -> None:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    ctx.call_on_close(remove)


# -- output -----------------------------------------------------------------------------------


def stdout_console() -> Console:
    """Return a Rich console on standard output with a sane width outside a terminal."""
    width: int | None = None
    if not sys.stdout.isatty():
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else _NON_TTY_WIDTH
    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False)


def jsonable(value: Any) -> Any:
    """Return ``value`` made of JSON types only: NaN and infinities become null.

    Datetimes become ISO 8601 strings in UTC (storage keeps naive UTC times), durations
    become seconds, enums their names; anything else unknown becomes its ``str``.
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def echo_json(data: Any, *, compact: bool = False) -> None:
    """Print ``data`` as strictly valid JSON on standard output.

    Args:
        data: What to print; see :func:`jsonable`.
        compact: One line, for shell loops that ``read`` a line at a time.
    """
    text = json.dumps(
        jsonable(data), indent=None if compact else 2, allow_nan=False, ensure_ascii=False
    )
    click.echo(text)


def format_value(value: float | None) -> str:
    """Return an objective value for a table."""
    if value is None:
        return "-"
    return f"{value:.6g}"


def _format_param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_params(params: Mapping[str, Any], limit: int | None = None) -> str:
    """Return ``name=value`` pairs, floats to four significant digits."""
    text = ", ".join(f"{k}={_format_param(v)}" for k, v in params.items())
    return shorten(text, limit) if limit else text


def shorten(text: str, limit: int) -> str:
    """Return the first line of ``text``, cut to ``limit`` characters with an ellipsis."""
    line = _first_line(text)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def format_duration(duration: datetime.timedelta | None) -> str:
    """Return a duration as ``0.52s``, ``4m05s`` or ``2h03m``."""
    if duration is None:
        return "-"
    seconds = duration.total_seconds()
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_time(moment: datetime.datetime | None) -> str:
    """Return a stored (naive UTC) time in the local time zone, to the minute."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def state_counts(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Return how many trials are in each state, in life-cycle order, zeros left out."""
    counts = {state.name: 0 for state in TrialState}
    for trial in trials:
        counts[trial.state.name] += 1
    return {name: n for name, n in counts.items() if n}


def count_states(storage: Storage, study_id: int) -> dict[str, int]:
    """Like :func:`state_counts`, with one count query per state instead of every trial."""
    counts = {state.name: storage.get_n_trials(study_id, (state,)) for state in TrialState}
    return {name: n for name, n in counts.items() if n}


def plural(n: int, word: str) -> str:
    """Return ``1 trial`` or ``3 trials``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@contextmanager
def quiet_library() -> Iterator[None]:
    """Hide the library's warnings while the command reports the same event itself."""
    logger = logging.getLogger("hyperdial")
    old_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old_level)


def format_counts(counts: Mapping[str, int]) -> str:
    """Return ``3 complete, 1 fail`` for a :func:`state_counts` result."""
    return ", ".join(f"{n} {name.lower()}" for name, n in counts.items()) or "none"
