"""The ``optimize`` command: run an objective from a module for N trials or S seconds.

Options are declared in ``_OPTIONS`` and collected into :class:`OptimizeOptions`; to add
one, append a ``click.option`` and a field of the same name.
"""

from __future__ import annotations

import datetime
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import click

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial.cli._common import (
    CliError,
    CliUsageError,
    Settings,
    common_options,
    describe_storage,
    format_counts,
    format_duration,
    format_params,
    format_value,
    open_storage,
    plural,
    state_counts,
)
from hyperdial.cli._write import (
    direction_option,
    get_or_create_study,
    make_sampler,
    read_search_space,
    seed_option,
)
from hyperdial.samplers import GridSampler, Sampler
from hyperdial.study import Study

__all__ = ["OptimizeOptions", "load_objective", "optimize"]


@dataclass(frozen=True)
class OptimizeOptions:
    """Everything ``hyperdial optimize`` was given, besides the storage."""

    objective: str
    study_name: str
    n_trials: int | None
    n_jobs: int
    timeout: float | None
    direction: str | None
    sampler: str
    search_space: str | None
    seed: int | None
    max_trials: int | None
    heartbeat_interval: float | None
    grace_period: float | None
    retries: int | None
    reproducible: bool
    workers_total: int | None
    dask_scheduler: str | None


_OPTIONS: list[Callable[[Any], Any]] = [
    click.argument("objective", metavar="MODULE:FUNCTION"),
    click.option("--study", "study_name", required=True, metavar="NAME", help="Study name."),
    click.option("--n-trials", type=click.IntRange(min=1), help="How many trials to run."),
    click.option(
        "--n-jobs",
        type=click.IntRange(min=-1),
        default=1,
        show_default=True,
        help="Worker processes; -1 for one per core.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Stop starting trials after this long.",
    ),
    direction_option,
    click.option(
        "--sampler",
        type=click.Choice(["auto", "tpe", "gp", "random", "qmc", "grid"], case_sensitive=False),
        default="auto",
        show_default=True,
        help="grid needs --search-space; qmc may use it.",
    ),
    click.option(
        "--search-space",
        metavar="JSON|@FILE",
        help="Search space for the grid or QMC sampler, as for 'hyperdial ask'.",
    ),
    seed_option,
    click.option(
        "--max-trials",
        type=click.IntRange(min=0),
        help="Start no trial once the study holds this many, counting every worker on "
        "every machine (trials queued for retry still run).",
    ),
    click.option(
        "--heartbeat-interval",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Renew a running trial's lease this often [study's setting, else 10].",
    ),
    click.option(
        "--grace-period",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Fail a trial as stale once its lease has not been renewed for this long "
        "[study's setting, else 60].",
    ),
    click.option(
        "--retries",
        type=click.IntRange(min=0),
        help="Queue a stale trial again with the same parameters up to this many times "
        "[study's setting, else 1].",
    ),
    click.option(
        "--reproducible",
        is_flag=True,
        help="Same trials in every run (needs --seed): trial k learns only from trials "
        "below k - W, W being --workers-total.",
    ),
    click.option(
        "--workers-total",
        type=click.IntRange(min=1),
        help="With --reproducible: how many processes share the study, on all machines "
        "[--n-jobs]. Give every process the same number.",
    ),
    click.option(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="Run the trials on a Dask cluster, e.g. tcp://host:8786 "
        "(pip install 'hyperdial[dask]').",
    ),
]


def _with_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(_OPTIONS):
        command = decorator(command)
    return command


@contextmanager
def _cwd_on_path() -> Iterator[None]:
    """Put the working directory first on ``sys.path``, as ``python -m`` does."""
    cwd = os.getcwd()
    saved = list(sys.path)
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        sys.path[:] = saved


def load_objective(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` (``function`` may be dotted, e.g. ``Class.method``).

    Raises:
        CliError: saying what could not be found or imported.
    """
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise CliUsageError(
            f"the objective must be given as module:function (e.g. train:objective); got {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise CliError(
                f"cannot import {module_name!r}: no such module in the current directory "
                "or on sys.path"
            ) from error
        raise CliError(f"cannot import {module_name!r}: {error}") from error
    except Exception as error:
        raise CliError(f"cannot import {module_name!r}: {type(error).__name__}: {error}") from error
    target: Any = module
    for part in attr_path.split("."):
        if not hasattr(target, part):
            names = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            )
            raise CliError(
                f"{module_name!r} has no attribute {attr_path!r}; callables there: "
                f"{', '.join(names) or 'none'}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise CliError(f"{spec!r} is not callable (it is a {type(target).__name__})")
    return target  # type: ignore[no-any-return]


def _build_sampler(study: Study, opts: OptimizeOptions) -> Sampler:
    space = read_search_space(opts.search_space) if opts.search_space else None
    if opts.sampler.lower() == "grid":
        if space is None:
            raise click.UsageError("--sampler grid needs --search-space.")
        return GridSampler(space, seed=opts.seed)
    return make_sampler(study, opts.sampler, opts.seed, space)


def _stopped_by(error: Exception, trials: list[FrozenTrial]) -> CliError | None:
    """Explain an exception of the objective that ended ``optimize``.

    Returns None if no failed trial records ``error``: it came from elsewhere (the storage,
    a bad argument) and the general error report describes it better.
    """
    message = f"{type(error).__name__}: {error}".rstrip(": ")
    for trial in reversed(trials):
        if trial.state == TrialState.FAIL and trial.fail_reason == message:
            return CliError(
                f"optimize stopped: trial {trial.number} raised {message} (stored as FAIL "
                "with its traceback)"
            )
    return None


def _finished_numbers(study: Study) -> set[int]:
    return {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}


def _summary(study: Study, finished_before: set[int], elapsed: float) -> None:
    """Print what this run did and the study's best trial."""
    trials = study.get_trials(deepcopy=False)
    # Numbers alone do not tell this run's trials apart: a grid queues its points (with low
    # numbers) in one run and finishes them in the next.
    ours = [t for t in trials if t.state.is_finished() and t.number not in finished_before]
    took = format_duration(datetime.timedelta(seconds=elapsed))
    click.echo(
        f"{plural(len(ours), 'trial')} finished in {took} ({format_counts(state_counts(ours))}); "
        f"study {study.study_name!r} has {plural(len(trials), 'trial')}"
    )
    best = study.view.best_trial
    if best is None:
        click.secho("no trial has completed yet", fg="yellow", err=True)
        return
    click.echo(
        f"best trial #{best.number}: value {format_value(best.value)}  {format_params(best.params)}"
    )


@contextmanager
def _executor(address: str | None) -> Iterator[Any]:
    """Connect to the Dask scheduler at ``address``, or yield None to run trials here."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise CliError(
            "--dask-scheduler needs Dask's distributed package: pip install 'hyperdial[dask]'"
        ) from None
    try:
        client = Client(address, timeout=30)  # type: ignore[no-untyped-call]
    except OSError as error:
        raise CliError(f"cannot reach the Dask scheduler at {address!r}: {error}") from error
    with client:
        yield client


@click.command(short_help="Run an objective MODULE:FUNCTION in a study.")
@_with_options
@common_options
@click.pass_obj
def optimize(settings: Settings, /, **kwargs: Any) -> None:
    """Run the objective MODULE:FUNCTION in study NAME.

    The module is imported with the current directory first on sys.path, as with
    'python -m'. The study is created if missing and continued otherwise. Start it on as
    many machines as you like with the same PostgreSQL --storage: they share the study,
    and --max-trials bounds their total.
    """
    opts = OptimizeOptions(**{f.name: kwargs[f.name] for f in fields(OptimizeOptions)})
    bounded = (opts.n_trials, opts.timeout, opts.max_trials)
    if all(b is None for b in bounded) and opts.sampler.lower() != "grid":
        raise click.UsageError("give --n-trials, --max-trials or --timeout.")
    if opts.workers_total is not None and not opts.reproducible:
        raise click.UsageError("--workers-total goes with --reproducible.")
    if opts.reproducible and opts.seed is None:
        raise click.UsageError("--reproducible needs --seed, so that every run samples alike.")
    if opts.dask_scheduler is not None and (opts.reproducible or opts.n_jobs != 1):
        raise click.UsageError(
            "--dask-scheduler runs the trials on the cluster's workers; drop --n-jobs and "
            "--reproducible."
        )
    with _cwd_on_path():
        func = load_objective(opts.objective)
        storage = open_storage(settings, must_exist=False)
        study, created = get_or_create_study(
            storage,
            opts.study_name,
            opts.direction,
            heartbeat_interval=opts.heartbeat_interval,
            grace_period=opts.grace_period,
            retries=opts.retries,
        )
        study.sampler = _build_sampler(study, opts)
        finished_before = _finished_numbers(study)
        click.echo(
            f"{'created' if created else 'continuing'} study {opts.study_name!r} "
            f"({study.direction.name.lower()}, {plural(len(finished_before), 'trial')} so far) in "
            f"{describe_storage(settings.storage_url)}",
            err=True,
        )
        start = time.monotonic()
        try:
            with _executor(opts.dask_scheduler) as executor:
                study.optimize(
                    func,
                    n_trials=opts.n_trials,
                    timeout=opts.timeout,
                    n_jobs=opts.n_jobs,
                    show_progress_bar=sys.stderr.isatty(),
                    max_trials=opts.max_trials,
                    reproducible=(opts.workers_total or True) if opts.reproducible else False,
                    executor=executor,
                )
        except (KeyboardInterrupt, click.ClickException):
            raise
        except Exception as error:
            stopped = _stopped_by(error, study.get_trials(deepcopy=False))
            if stopped is None:
                raise
            raise stopped from error
    _summary(study, finished_before, time.monotonic() - start)
