"""Exceptions raised by hyperdial.

Every error hyperdial raises on purpose derives from :class:`HyperdialError`, so one
``except hyperdial.exceptions.HyperdialError`` catches them all. Errors about bad input also
derive from :class:`ValueError` so code written for other tuners keeps working::

    HyperdialError
    ├── InvalidSpaceError (ValueError)      a search space that cannot hold
    ├── InvalidValueError (ValueError)      a bad argument to a public function
    ├── StorageError                        the storage could not do what was asked
    │   ├── DuplicatedStudyError            create_study with a name already taken
    │   ├── StudyNotFoundError              a study name or id that does not exist
    │   ├── TrialNotFoundError              a trial number or id that does not exist
    │   └── UpdateFinishedTrialError        a write to a trial that already finished
    │       └── StaleTrialError             a write from a worker whose lease expired
    ├── ObjectiveError                      a worker process's objective raised
    └── SearchSpaceExhausted                ask() on a sampler with nothing left (a done grid)

:class:`HyperdialWarning` (a ``UserWarning``) flags input that hyperdial accepted but
probably did not mean what was intended, such as reporting the same step twice.

:class:`TrialPruned` is not an error: the objective raises it to stop a trial early.
"""

from __future__ import annotations

__all__ = [
    "DuplicatedStudyError",
    "HyperdialError",
    "HyperdialWarning",
    "InvalidSpaceError",
    "InvalidValueError",
    "MaxTrialsReached",
    "ObjectiveError",
    "SearchSpaceExhausted",
    "StaleTrialError",
    "StorageError",
    "StudyNotFoundError",
    "TrialNotFoundError",
    "TrialPruned",
    "UpdateFinishedTrialError",
]


class HyperdialError(Exception):
    """Base class of every error hyperdial raises on purpose."""


class InvalidSpaceError(HyperdialError, ValueError):
    """A search space that cannot hold: low > high, empty choices, a step that does not fit."""


class InvalidValueError(HyperdialError, ValueError):
    """A bad argument to a public function."""


class StorageError(HyperdialError):
    """The storage could not do what was asked."""


class DuplicatedStudyError(StorageError):
    """A study with this name already exists."""


class StudyNotFoundError(StorageError, KeyError):
    """No study has this name or id."""

    def __str__(self) -> str:
        # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class TrialNotFoundError(StorageError, KeyError):
    """No trial has this number or id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UpdateFinishedTrialError(StorageError, RuntimeError):
    """A finished trial is immutable; this write tried to change one."""


class StaleTrialError(UpdateFinishedTrialError):
    """The trial's lease expired and it was failed as stale; this late write is rejected."""


class ObjectiveError(HyperdialError):
    """The objective raised in a worker process and the exception could not be sent back."""


class HyperdialWarning(UserWarning):
    """Input that was accepted, but probably not what was intended."""


class SearchSpaceExhausted(HyperdialError):  # noqa: N818 - a state, not a fault
    """The sampler has nothing left to propose: every grid point has been claimed."""


class MaxTrialsReached(HyperdialError):  # noqa: N818 - a state, not a fault
    """The study already holds as many trials as ``max_trials`` allows."""


class TrialPruned(Exception):  # noqa: N818 - the name users know from other tuners
    """Raised by an objective to stop the current trial early.

    Example:
        >>> def objective(trial):
        ...     for step in range(10):
        ...         trial.report(1.0 / (step + 1), step)
        ...         if trial.should_prune():
        ...             raise TrialPruned()
        ...     return 0.1
    """
