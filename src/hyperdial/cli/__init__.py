"""The ``hyperdial`` command line.

Commands:

* ``hyperdial studies``: the studies in the storage, their trial counts and best values.
* ``hyperdial trials STUDY``: the trials of a study (``--state``, ``--limit``).
* ``hyperdial best STUDY``: the best trial's number, value, params and user attributes.
* ``hyperdial export STUDY --format csv|json [--output FILE]``: every trial, flat records.
* ``hyperdial create STUDY [--direction maximize] [--exists-ok]``: an empty study.
* ``hyperdial delete STUDY [--yes]``: a study and all its trials.
* ``hyperdial ask --study NAME --search-space JSON|@FILE``: start a trial, print its params
  as JSON.
* ``hyperdial tell --study NAME --trial-number N --value V``: finish it (or ``--state
  pruned|fail [--reason TEXT]``).
* ``hyperdial optimize MODULE:FUNCTION --study NAME --n-trials N [--n-jobs K]``: run an
  objective.

The storage is ``--storage URL`` (before or after the command name), else the
``HYPERDIAL_STORAGE`` environment variable, else ``sqlite:///hyperdial.db`` in the current
directory. Reading commands take ``--json`` for machine-readable output. Errors are one
line on standard error with exit code 1 (2 for usage errors, 130 when interrupted);
``--verbose`` adds the traceback.

Example:
    .. code-block:: bash

        hyperdial optimize train:objective --study demo --n-trials 50 --n-jobs 4
        hyperdial best demo --json
"""

from __future__ import annotations

from typing import Any

import click

from hyperdial import __version__
from hyperdial.cli._common import (
    Settings,
    install_log_handler,
    report_errors,
    storage_option,
    verbose_option,
)
from hyperdial.cli._optimize import optimize
from hyperdial.cli._read import best, export, studies, trials
from hyperdial.cli._write import ask, create, delete, tell

__all__ = ["main"]


class _Group(click.Group):
    """A group that reports every error of its commands as one line."""

    def invoke(self, ctx: click.Context) -> Any:
        with report_errors(ctx):
            return super().invoke(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hyperdial")
@storage_option
@verbose_option
@click.pass_context
def main(ctx: click.Context) -> None:
    """Inspect and run hyperdial studies."""
    ctx.ensure_object(Settings)
    install_log_handler(ctx)


for _command in (studies, trials, best, export, create, delete, ask, tell, optimize):
    main.add_command(_command)
