"""The :class:`Storage` contract every backend fulfils."""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any, ClassVar

from hyperdial._frozen import FrozenTrial, StudyDirection, StudySummary, TrialState
from hyperdial.exceptions import MaxTrialsReached
from hyperdial.space import Distribution

__all__ = ["Storage", "TrialTemplate"]


class TrialTemplate:
    """What a new trial starts with: enqueued parameters, attrs, or a whole finished trial.

    Args:
        state: WAITING for an enqueued trial, RUNNING for one a worker runs now, or a
            finished state to record a trial evaluated elsewhere.
        params: Parameter values fixed in advance (external), with ``distributions`` if
            known. Enqueued trials usually have params but no distributions yet.
        distributions: Distributions for ``params``.
        values: Objective values, for a finished template.
        user_attrs: User attributes to start with.
        system_attrs: System attributes to start with.
        intermediate_values: Reported values by step, for a finished template.
        lease: For a RUNNING template, seconds until the trial counts as abandoned unless
            its worker renews the lease (:meth:`Storage.renew_leases`); None for no lease.
    """

    def __init__(
        self,
        *,
        state: TrialState = TrialState.RUNNING,
        params: Mapping[str, Any] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        values: Sequence[float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        lease: float | None = None,
    ) -> None:
        self.state = state
        self.lease = lease
        self.params = dict(params or {})
        self.distributions = dict(distributions or {})
        self.values = None if values is None else list(values)
        self.user_attrs = dict(user_attrs or {})
        self.system_attrs = dict(system_attrs or {})
        self.intermediate_values = dict(intermediate_values or {})


class Storage(ABC):
    """Where studies and trials live; the one thing parallel workers share.

    Invariants every implementation keeps (checked by ``hyperdial.testing.storages``):

    * Study names are unique. Study and trial ids are unique within a storage.
    * Trial numbers are unique and contiguous per study: the n-th trial created in a study
      gets number n - 1, whatever the number of concurrent writers.
    * A WAITING trial is claimed (made RUNNING) by exactly one caller of
      :meth:`claim_waiting_trial`.
    * A RUNNING trial may hold a lease that ends at a time of the storage's clock. Its
      worker renews it; once it has ended, :meth:`fail_stale_trials` fails the trial, and
      exactly one caller does so (and queues its retry).
    * A finished trial (COMPLETE, PRUNED, FAIL) is immutable: any write to it raises
      :class:`~hyperdial.exceptions.UpdateFinishedTrialError` and changes nothing. Readers
      may therefore cache finished trials forever.
    * A write either happens completely or not at all; a crash loses no finished trial.
    * Values stored are JSON-serialisable or plain numbers; nothing is pickled.

    Methods may be called from several threads of one process and from many processes
    (unless :attr:`multiprocess_safe` is False). ``FrozenTrial`` objects returned with
    ``deepcopy=False`` may be shared caches: callers must not mutate them.

    Example:
        >>> from hyperdial.storage import InMemoryStorage
        >>> storage = InMemoryStorage()
        >>> study_id = storage.create_study([StudyDirection.MINIMIZE], "demo")
        >>> storage.create_trial(study_id).number
        0
    """

    #: Whether worker processes can share this storage (an in-memory one cannot).
    multiprocess_safe: ClassVar[bool] = True

    # -- studies -------------------------------------------------------------------------

    @abstractmethod
    def create_study(self, directions: Sequence[StudyDirection], study_name: str) -> int:
        """Create a study and return its id.

        Raises:
            DuplicatedStudyError: if ``study_name`` is taken.
        """

    @abstractmethod
    def delete_study(self, study_id: int) -> None:
        """Delete a study and all its trials."""

    @abstractmethod
    def get_study_id(self, study_name: str) -> int:
        """Return the id of the named study, or raise StudyNotFoundError."""

    @abstractmethod
    def get_study_name(self, study_id: int) -> str:
        """Return the name of a study, or raise StudyNotFoundError."""

    @abstractmethod
    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        """Return a study's directions, one per objective."""

    @abstractmethod
    def list_studies(self) -> list[StudySummary]:
        """Return one summary per study, in creation order."""

    @abstractmethod
    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set a JSON-serialisable user attribute on a study."""

    @abstractmethod
    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set a JSON-serialisable system attribute on a study."""

    @abstractmethod
    def set_study_system_attr_if_absent(self, study_id: int, key: str, value: Any) -> bool:
        """Set a system attribute only if the key is not set yet; atomic across workers.

        Returns:
            True if this call set it, False if some caller had set it before.
        """

    @abstractmethod
    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        """Return a study's user attributes."""

    @abstractmethod
    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        """Return a study's system attributes."""

    # -- trials --------------------------------------------------------------------------

    @abstractmethod
    def create_trial(self, study_id: int, template: TrialTemplate | None = None) -> FrozenTrial:
        """Create a trial with the next number and return it.

        Without a template the trial is RUNNING with nothing set. ``datetime_start`` is set
        for RUNNING and finished templates, and ``datetime_complete`` for finished ones.
        """

    @abstractmethod
    def claim_waiting_trial(
        self, study_id: int, *, lease: float | None = None
    ) -> FrozenTrial | None:
        """Atomically turn the lowest-numbered WAITING trial RUNNING and return it.

        Args:
            study_id: The study whose queue to claim from.
            lease: Seconds of lease the claimed trial starts with; None for no lease.

        Returns:
            The claimed trial, or None if no trial is waiting.
        """

    def start_trial(
        self,
        study_id: int,
        template: TrialTemplate | None = None,
        *,
        max_trials: int | None = None,
    ) -> FrozenTrial:
        """Claim the oldest WAITING trial, else create a RUNNING one from ``template``.

        What ``ask`` calls; either way the trial gets the template's lease and system
        attributes (a claimed trial keeps its own too). Backends may do both in one
        transaction; the default is :meth:`claim_waiting_trial` then :meth:`create_trial`.

        Args:
            study_id: The study to start a trial in.
            template: What a created trial starts with.
            max_trials: Create no trial numbered ``max_trials`` or above (claiming a
                queued one is still allowed). Built-in storages check it atomically with
                the creation, so workers sharing a budget never exceed it together; this
                default implementation does not.

        Raises:
            MaxTrialsReached: if nothing was queued and ``max_trials`` trials exist.
        """
        lease = None if template is None else template.lease
        claimed = self.claim_waiting_trial(study_id, lease=lease)
        if claimed is not None:
            if template is not None and template.system_attrs:
                self.update_trial(claimed.trial_id, system_attrs=template.system_attrs)
                claimed = self.get_trial(claimed.trial_id)
            return claimed
        if max_trials is not None and self.get_n_trials(study_id) >= max_trials:
            raise MaxTrialsReached(f"The study already holds max_trials={max_trials} trials.")
        return self.create_trial(study_id, template)

    @abstractmethod
    def update_trial(
        self,
        trial_id: int,
        *,
        params: Mapping[str, tuple[float, Distribution]] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        state: TrialState | None = None,
        values: Sequence[float] | None = None,
    ) -> None:
        """Write to an unfinished trial in one atomic step.

        Args:
            trial_id: The trial to change.
            params: Internal value and distribution by parameter name (added, never
                removed).
            intermediate_values: Reported values by step (overwrite the same step).
            user_attrs: User attributes to set.
            system_attrs: System attributes to set.
            state: A new state; a finished state also sets ``datetime_complete``.
            values: Objective values, given with a finished state.

        Raises:
            UpdateFinishedTrialError: if the trial already finished; nothing is written.
            TrialNotFoundError: if no trial has this id.
        """

    @abstractmethod
    def get_trial(self, trial_id: int) -> FrozenTrial:
        """Return one trial, or raise TrialNotFoundError."""

    @abstractmethod
    def get_trial_id(self, study_id: int, number: int) -> int:
        """Return the id of the trial with this number, or raise TrialNotFoundError."""

    @abstractmethod
    def get_all_trials(
        self,
        study_id: int,
        *,
        states: Container[TrialState] | None = None,
        deepcopy: bool = True,
    ) -> list[FrozenTrial]:
        """Return a study's trials in number order, optionally only those in ``states``."""

    def get_n_trials(self, study_id: int, states: Container[TrialState] | None = None) -> int:
        """Return how many trials a study has (in ``states`` if given)."""
        return len(self.get_all_trials(study_id, states=states, deepcopy=False))

    # -- leases ----------------------------------------------------------------------------

    @abstractmethod
    def renew_leases(self, trial_ids: Sequence[int], seconds: float) -> list[int]:
        """Make the leases of these trials end ``seconds`` from now, by the storage's clock.

        Only RUNNING trials are renewed; ``seconds=0`` ends a lease at once.

        Returns:
            The ids among ``trial_ids`` that are not RUNNING any more (finished, failed as
            stale by another worker, or deleted): whoever holds them has lost them.
        """

    @abstractmethod
    def fail_stale_trials(
        self,
        study_id: int,
        *,
        reason: str,
        trial_ids: Sequence[int] | None = None,
        retry: Callable[[FrozenTrial], TrialTemplate | None] | None = None,
    ) -> list[tuple[FrozenTrial, FrozenTrial | None]]:
        """Fail the RUNNING trials whose lease has ended, each by exactly one caller.

        A failed trial gets the system attributes ``fail_reason`` (``reason``) and
        ``stale`` (True); a later write to it raises
        :class:`~hyperdial.exceptions.StaleTrialError`.

        Args:
            study_id: The study to look in.
            reason: The failure reason to store.
            trial_ids: Fail these trials (if RUNNING) whatever their lease, for example
                those of a worker known to be dead.
            retry: Called with each failed trial; a template it returns becomes a new trial,
                created in the same transaction, whose number is stored on the failed trial
                as ``retried_as``.

        Returns:
            ``(failed trial, its retry or None)`` for each trial this call failed.
        """

    def now(self) -> datetime.datetime:
        """Return the storage's clock (UTC); leases are judged by it, not a worker's."""
        return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def remove_session(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release connections; called when a worker is done with the storage."""
