"""The progress bar of ``optimize``: trials done, best value, elapsed time and ETA."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["ProgressBar"]


class ProgressBar:
    """Shows progress against ``n_trials`` (or against ``timeout`` when only it is given).

    Shown by default only when standard error is a terminal, so logs and CI output stay
    clean; ``enabled=True`` or ``False`` overrides that.
    """

    def __init__(self, n_trials: int | None, timeout: float | None, enabled: bool | None) -> None:
        self._n_trials = n_trials
        self._timeout = timeout
        self._start = time.monotonic()
        shown = sys.stderr.isatty() if enabled is None else enabled
        self._enabled = shown and (n_trials is not None or timeout is not None)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @property
    def enabled(self) -> bool:
        """Whether the bar is shown (callers skip work that only feeds it)."""
        return self._enabled

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            # Rich takes a tenth of a second to import: only a visible bar pays for it.
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            by_time = self._n_trials is None
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[done]}") if by_time else MofNCompleteColumn(),
                TextColumn("best {task.fields[best]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.__enter__()
            total = self._timeout if by_time else self._n_trials
            self._task = self._progress.add_task("trials", total=total, done="0 trials", best="-")
        return self

    def update(self, done: int, best: float | None) -> None:
        """Show ``done`` finished trials and the best value so far."""
        if self._progress is None or self._task is None:
            return
        elapsed = time.monotonic() - self._start
        best_text = "-" if best is None else f"{best:.6g}"
        completed = min(elapsed, self._timeout or elapsed) if self._n_trials is None else done
        self._progress.update(
            self._task, completed=completed, done=f"{done} trials", best=best_text
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
