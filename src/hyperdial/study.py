"""Studies: a named search with its trials, sampler, pruner and storage."""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
import uuid
import weakref
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hyperdial._best import best_trial_of
from hyperdial._frozen import FrozenTrial, StudyDirection, StudySummary, TrialState
from hyperdial._lease import (
    LEASE_OPTIONS_ATTR,
    STALE_REASON,
    LeaseHolder,
    LeaseKeeper,
    LeaseOptions,
)
from hyperdial._view import FIXED_PARAMS_ATTR, StudyView
from hyperdial.exceptions import (
    InvalidSpaceError,
    InvalidValueError,
    SearchSpaceExhausted,
    StudyNotFoundError,
    UpdateFinishedTrialError,
)
from hyperdial.pruners import NopPruner, Pruner
from hyperdial.samplers import Sampler, default_sampler
from hyperdial.space import Distribution
from hyperdial.storage import Storage, TrialTemplate, get_storage
from hyperdial.trial import Trial, check_values

if TYPE_CHECKING:
    import pandas

__all__ = [
    "ObjectiveFunc",
    "Study",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
]

_logger = logging.getLogger("hyperdial")

ObjectiveFunc = Callable[[Trial], Any]
Callback = Callable[["Study", FrozenTrial], None]

#: Trial system attributes linking a retry to the stale trial it repeats.
RETRY_OF_ATTR = "retry_of"
RETRY_COUNT_ATTR = "retry_count"

# Study system attribute recording the kind of each parameter, so a parameter cannot be a
# float in one trial and a categorical in the next.
_PARAM_KIND_PREFIX = "hyperdial:param_kind:"


def worker_id() -> str:
    """Return ``host:pid``, recorded on each trial so a dead worker's trials can be found."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Study:
    """A named search: trials, their sampler and pruner, kept in a storage.

    Create one with :func:`create_study` or open one with :func:`load_study`.

    Example:
        >>> import hyperdial
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -10, 10)
        ...     return (x - 2) ** 2
        >>> study = hyperdial.create_study(sampler=hyperdial.samplers.RandomSampler(seed=0))
        >>> study.optimize(objective, n_trials=20, show_progress_bar=False)
        >>> round(study.best_params["x"])
        2
    """

    def __init__(
        self,
        study_name: str,
        storage: str | Storage | None,
        sampler: Sampler | None = None,
        pruner: Pruner | None = None,
        *,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        retries: int | None = None,
    ) -> None:
        self._storage = get_storage(storage)
        self._study_id = self._storage.get_study_id(study_name)
        self.study_name = study_name
        self._directions = self._storage.get_study_directions(self._study_id)
        self.sampler = sampler if sampler is not None else default_sampler()
        self.pruner = pruner if pruner is not None else NopPruner()
        self.view = StudyView(self._storage, self._study_id, study_name)
        self._param_kinds: dict[str, str] = {}
        self._stop_requested = False
        stored = self._storage.get_study_system_attrs(self._study_id).get(LEASE_OPTIONS_ATTR)
        self._leases = LeaseOptions.from_json(stored).replace(
            heartbeat_interval=heartbeat_interval, grace_period=grace_period, retries=retries
        )
        self._keeper: LeaseKeeper | None = None
        #: Set by the optimize loop in worker processes, whose parent renews their leases.
        self._lease_holder: LeaseHolder | None = None
        self._held: set[int] = set()
        self._next_reap = 0.0
        #: Set by ``optimize(reproducible=...)``: trial k sees only trials below k - lag.
        self._reproducible_lag: int | None = None
        #: Set by ``optimize(max_trials=...)``: ask creates no trial numbered this or above.
        self._max_trials: int | None = None

    def __repr__(self) -> str:
        return f"Study(study_name={self.study_name!r}, storage={self._storage!r})"

    # -- what the study holds -----------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        """The storage this study lives in."""
        return self._storage

    @property
    def direction(self) -> StudyDirection:
        """Whether the objective is minimized or maximized."""
        return self._directions[0]

    @property
    def directions(self) -> list[StudyDirection]:
        """One direction per objective."""
        return list(self._directions)

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial, in number order (copies that may be changed freely)."""
        return self.get_trials()

    def get_trials(
        self, *, states: Container[TrialState] | None = None, deepcopy: bool = True
    ) -> list[FrozenTrial]:
        """Return trials in number order, optionally only those in ``states``.

        Args:
            states: Keep only trials in these states.
            deepcopy: False returns the storage's cached snapshots: faster, read-only.
        """
        return self._storage.get_all_trials(self._study_id, states=states, deepcopy=deepcopy)

    @property
    def best_trial(self) -> FrozenTrial:
        """The COMPLETE trial with the best value.

        Raises:
            ValueError: if no trial has completed yet.
        """
        best = best_trial_of(self.get_trials(deepcopy=False), self._directions)
        if best is None:
            counts = self._state_counts()
            raise InvalidValueError(
                f"Study {self.study_name!r} has no COMPLETE trial yet ({counts}); run "
                "study.optimize or tell a result first."
            )
        return best

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of the best trial."""
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        """Value of the best trial."""
        value = self.best_trial.value
        assert value is not None  # COMPLETE trials always have values
        return value

    @property
    def user_attrs(self) -> dict[str, Any]:
        """User attributes of the study."""
        return self._storage.get_study_user_attrs(self._study_id)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serialisable value to the study."""
        self._storage.set_study_user_attr(self._study_id, key, value)

    def _state_counts(self) -> str:
        trials = self.get_trials(deepcopy=False)
        counts = {s.name: sum(1 for t in trials if t.state == s) for s in TrialState}
        return ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "no trials"

    # -- running trials ---------------------------------------------------------------------

    def ask(
        self,
        fixed_distributions: Mapping[str, Distribution] | None = None,
        *,
        lease: bool = True,
    ) -> Trial:
        """Start a trial and return it; finish it with :meth:`tell`.

        An enqueued trial is claimed first (each by exactly one worker); otherwise a new
        trial is created. Parameters in ``fixed_distributions`` are suggested at once and
        stored, so a trial asked for in one process can be told in another.

        On a shared storage (SQLite, PostgreSQL) the trial holds a lease that this process
        renews until :meth:`tell`; if the process dies, the lease runs out after the
        study's ``grace_period`` and another worker fails the trial as stale (and retries
        it, see ``retries`` in :func:`create_study`).

        Args:
            fixed_distributions: Parameters to suggest at once.
            lease: False for a trial this process hands on to another that tells it (as
                ``hyperdial ask`` does): no one renews its lease, so it has none and never
                goes stale.

        Example:
            >>> trial = study.ask({"x": hyperdial.space.Float(-10, 10)})  # doctest: +SKIP
            >>> study.tell(trial, (trial.params["x"] - 2) ** 2)  # doctest: +SKIP
        """
        shared = self._storage.multiprocess_safe
        if shared:
            self._reap_stale_trials()
        seconds = self._leases.grace_period if lease and shared else None
        frozen: FrozenTrial | None
        if not self.sampler.queued_trials_only:
            if self.sampler.is_exhausted(self.view):
                raise self._exhausted()
            # Recorded with the trial's creation at no extra write; a sampler that mixes
            # algorithms (TPE's start-up phase, the auto sampler) overwrites "sampler".
            attrs = {"worker": worker_id(), "sampler": type(self.sampler).__name__}
            frozen = self._storage.start_trial(
                self._study_id,
                TrialTemplate(system_attrs=attrs, lease=seconds),
                max_trials=self._max_trials,
            )
        else:
            # A sampler that works only through queued trials (the grid) is done when none
            # is left to claim, which no other worker can race. is_exhausted may queue the
            # points on first use, so it is asked before each new claim.
            frozen = self._storage.claim_waiting_trial(self._study_id, lease=seconds)
            while frozen is None:
                if self.sampler.is_exhausted(self.view):
                    raise self._exhausted()
                frozen = self._storage.claim_waiting_trial(self._study_id, lease=seconds)
        if seconds is not None:
            self._held.add(frozen.trial_id)
            self._holder().hold(frozen.trial_id)
        if self._reproducible_lag is not None:
            self._wait_for_history(frozen.number, self._reproducible_lag)
        trial = Trial(self, frozen, leased=seconds is not None)
        for name, distribution in (fixed_distributions or {}).items():
            trial.suggest(name, distribution)
        if fixed_distributions:
            trial._flush()
        return trial

    # -- leases ---------------------------------------------------------------------------

    def _holder(self) -> LeaseHolder:
        if self._lease_holder is not None:
            return self._lease_holder
        if self._keeper is None or self._keeper.owner_pid != os.getpid():
            # The first trial of this process (a forked copy of a study starts its own).
            self._keeper = LeaseKeeper(self._storage, self._leases)
            weakref.finalize(self, self._keeper.close)
        return self._keeper

    def _release(self, trial_id: int) -> None:
        if trial_id in self._held:
            self._held.discard(trial_id)
            self._holder().release(trial_id)

    def _reap_stale_trials(self, *, now: bool = False) -> None:
        """Fail trials whose lease ran out, at most once per heartbeat interval."""
        clock = time.monotonic()
        if not now and clock < self._next_reap:
            return
        self._next_reap = clock + self._leases.heartbeat_interval
        self._fail_lost_trials(STALE_REASON)

    def _fail_lost_trials(
        self, reason: str, trial_ids: Sequence[int] | None = None
    ) -> list[tuple[FrozenTrial, FrozenTrial | None]]:
        """Fail lost trials (stale ones, or ``trial_ids``) and queue their retries."""
        results = self._storage.fail_stale_trials(
            self._study_id, reason=reason, trial_ids=trial_ids, retry=self._retry_template
        )
        for failed, retried in results:
            if retried is None:
                _logger.warning(
                    "Trial %d failed: %s. Not retried: %d retries allowed "
                    "(set retries= on create_study or optimize).",
                    failed.number,
                    reason,
                    self._leases.retries,
                )
            else:
                _logger.warning(
                    "Trial %d failed: %s. Retrying its parameters as trial %d.",
                    failed.number,
                    reason,
                    retried.number,
                )
        return results

    def _retry_template(self, failed: FrozenTrial) -> TrialTemplate | None:
        count = int(failed.system_attrs.get(RETRY_COUNT_ATTR, 0))
        if count >= self._leases.retries:
            return None
        fixed = {**failed.system_attrs.get(FIXED_PARAMS_ATTR, {}), **failed.params}
        return TrialTemplate(
            state=TrialState.WAITING,
            user_attrs=failed.user_attrs,
            system_attrs={
                FIXED_PARAMS_ATTR: fixed,
                RETRY_OF_ATTR: failed.number,
                RETRY_COUNT_ATTR: count + 1,
            },
        )

    def _wait_for_history(self, number: int, lag: int) -> None:
        """Block until every trial numbered below ``number - lag`` has finished."""
        horizon = number - lag
        delay = 0.001
        while horizon > 0:
            trials = self.get_trials(deepcopy=False)[:horizon]
            if all(t.state.is_finished() for t in trials):
                return
            # A dead worker's trial must not hold everyone up for ever.
            self._reap_stale_trials()
            time.sleep(delay)
            delay = min(2 * delay, 0.005)

    def _exhausted(self) -> SearchSpaceExhausted:
        return SearchSpaceExhausted(
            f"{self.sampler!r} has nothing left to propose in study {self.study_name!r}: "
            "every point has been tried or is running."
        )

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        state: TrialState | None = None,
        *,
        skip_if_finished: bool = False,
        fail_reason: str | None = None,
        _system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        """Finish a trial with its result and return the stored record.

        Args:
            trial: The trial from :meth:`ask`, or its number.
            values: The objective value. An invalid one (None, NaN, inf, not a number)
                makes the trial FAIL with the reason recorded.
            state: COMPLETE (the default when values are given), PRUNED (keeps the last
                reported value) or FAIL.
            skip_if_finished: Return quietly if the trial has already finished.
            fail_reason: Why the trial failed, stored with a FAIL state.

        Raises:
            UpdateFinishedTrialError: if the trial finished already (unless skipped).
        """
        live = trial if isinstance(trial, Trial) else None
        if live is not None and live.study is not self and live.study.study_name != self.study_name:
            raise InvalidValueError(
                f"Trial {live.number} belongs to study {live.study.study_name!r}, not "
                f"{self.study_name!r}."
            )
        if live is not None:
            number, trial_id = live.number, live.trial_id
        elif isinstance(trial, int) and not isinstance(trial, bool):
            number = trial
            trial_id = self._storage.get_trial_id(self._study_id, number)
        else:
            raise InvalidValueError(
                f"tell takes a Trial from study.ask() or a trial number. Got {trial!r}."
            )

        if state is not None and not isinstance(state, TrialState):
            raise InvalidValueError(f"state must be a TrialState. Got {state!r}.")
        if state in (TrialState.WAITING, TrialState.RUNNING):
            raise InvalidValueError(
                f"tell finishes a trial: state must be COMPLETE, PRUNED or FAIL. Got {state!r}."
            )
        stored: list[float] | None = None
        system_attrs: dict[str, Any] = dict(_system_attrs or {})
        if state is None or state == TrialState.COMPLETE:
            if values is None and state is None:
                raise InvalidValueError(
                    f"tell needs values or a state for trial {number}; pass the objective "
                    "value, or state=TrialState.FAIL / PRUNED."
                )
            stored, reason = check_values(values, len(self._directions))
            state = TrialState.COMPLETE
            if reason is not None:
                state, fail_reason = TrialState.FAIL, reason
        elif state == TrialState.PRUNED:
            intermediate = (
                live._intermediate
                if live is not None
                else self._storage.get_trial(trial_id).intermediate_values
            )
            if intermediate:
                last = intermediate[max(intermediate)]
                stored = [last] if last == last else None  # a NaN report stores no value
        if state == TrialState.FAIL:
            system_attrs["fail_reason"] = fail_reason or "told as FAIL"

        pending: dict[str, Any] = {}
        if live is not None:
            pending, deferred = live._take_pending()
            system_attrs = {**deferred, **system_attrs}
        try:
            self._storage.update_trial(
                trial_id,
                params=pending or None,
                system_attrs=system_attrs or None,
                state=state,
                values=stored,
            )
        except UpdateFinishedTrialError:
            # Already finished, or failed as stale after this worker lost its lease
            # (StaleTrialError): either way this process no longer holds it.
            self._release(trial_id)
            if live is not None:
                live._finished = True
            if skip_if_finished:
                return self._storage.get_trial(trial_id)
            raise
        self._release(trial_id)
        if live is not None:
            live._finished = True
            frozen = live._snapshot(state, stored, system_attrs)
        else:
            frozen = self._storage.get_trial(trial_id)
        if state == TrialState.FAIL:
            _logger.warning("Trial %d failed: %s", number, system_attrs["fail_reason"])
        self.sampler.after_trial(self.view, frozen)
        return frozen

    def enqueue_trial(
        self,
        params: Mapping[str, Any],
        user_attrs: Mapping[str, Any] | None = None,
        *,
        skip_if_exists: bool = False,
    ) -> None:
        """Queue a trial with fixed parameters; the next ``ask`` runs it before sampling.

        Parameters the objective asks for but ``params`` lacks are sampled as usual.

        Args:
            params: External values by parameter name.
            user_attrs: User attributes for the queued trial.
            skip_if_exists: Do nothing if a trial with these params already exists.
        """
        if not isinstance(params, Mapping):
            raise InvalidValueError(f"enqueue_trial takes a dict of params. Got {params!r}.")
        if skip_if_exists:
            wanted = dict(params)
            for existing in self.get_trials(deepcopy=False):
                known = {**existing.system_attrs.get(FIXED_PARAMS_ATTR, {}), **existing.params}
                if {k: known.get(k) for k in wanted} == wanted:
                    return
        self._storage.create_trial(
            self._study_id,
            TrialTemplate(
                state=TrialState.WAITING,
                user_attrs=user_attrs,
                system_attrs={FIXED_PARAMS_ATTR: dict(params)},
            ),
        )

    def add_trial(self, trial: FrozenTrial) -> FrozenTrial:
        """Record a trial evaluated elsewhere (its state must be finished)."""
        if not trial.state.is_finished():
            raise InvalidValueError(
                f"add_trial records finished trials. Got state {trial.state!r}."
            )
        for name, dist in trial.distributions.items():
            if name in trial.params and not dist.contains_value(trial.params[name]):
                raise InvalidSpaceError(
                    f"Parameter {name!r}: {trial.params[name]!r} is not in {dist!r}."
                )
        return self._storage.create_trial(
            self._study_id,
            TrialTemplate(
                state=trial.state,
                params=trial.params,
                distributions=trial.distributions,
                values=trial.values,
                user_attrs=trial.user_attrs,
                system_attrs=trial.system_attrs,
                intermediate_values=trial.intermediate_values,
            ),
        )

    def optimize(
        self,
        func: ObjectiveFunc,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        catch: Iterable[type[Exception]] | type[Exception] = (),
        callbacks: Iterable[Callback] | None = None,
        gc_after_trial: bool = False,
        show_progress_bar: bool | None = None,
        *,
        retries: int | None = None,
        max_trials: int | None = None,
        reproducible: bool | int = False,
        executor: Any = None,
    ) -> None:
        """Run trials of ``func`` until ``n_trials`` or ``timeout`` (or the grid is done).

        Args:
            func: The objective: takes a :class:`Trial`, returns the value.
            n_trials: How many trials this call runs, across all its workers.
            timeout: Stop starting trials after this many seconds.
            n_jobs: Worker processes; -1 for one per core. Needs a storage that processes
                can share (SQLite or PostgreSQL).
            catch: Exception types that fail a trial but let the study go on. Others fail
                the trial and then stop the study, raising the exception.
            callbacks: Called as ``callback(study, frozen_trial)`` after each trial.
            gc_after_trial: Run the garbage collector after each trial.
            show_progress_bar: Show a progress bar; by default only in a terminal.
            retries: How many times a trial whose worker died is queued again with the same
                parameters, for trials this call finds lost; by default the study's.
            max_trials: Start no new trial once the study holds this many, counting every
                worker on every machine (``n_trials`` counts this call's trials only).
                Trials queued for retry still run.
            reproducible: With a seeded sampler, give the same trials (parameters, values,
                numbers) in every run whatever the timing: trial k is proposed from exactly
                the trials numbered below k - lag, and waits for them to finish. True sets
                the lag to ``n_jobs``; an integer sets it for several processes sharing the
                study. Costs idle time when trial durations vary.
            executor: A Dask ``distributed.Client`` or a ``concurrent.futures.Executor``
                to run the trials on; see :mod:`hyperdial.integrations.dask`.
        """
        from hyperdial._optimize import run_optimize

        run_optimize(
            self,
            func,
            n_trials=n_trials,
            timeout=timeout,
            n_jobs=n_jobs,
            catch=catch,
            callbacks=callbacks,
            gc_after_trial=gc_after_trial,
            show_progress_bar=show_progress_bar,
            retries=retries,
            max_trials=max_trials,
            reproducible=reproducible,
            executor=executor,
        )

    def stop(self) -> None:
        """Ask the running ``optimize`` loop to stop after the current trial."""
        self._stop_requested = True

    # -- export -------------------------------------------------------------------------------

    def trials_dataframe(self) -> pandas.DataFrame:
        """Return one row per trial: number, state, value, times, params and user attrs.

        Needs pandas (``pip install 'hyperdial[pandas]'``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "trials_dataframe needs pandas: pip install 'hyperdial[pandas]'"
            ) from None
        from hyperdial._export import trial_records

        return pd.DataFrame.from_records(trial_records(self.get_trials(deepcopy=False)))

    # -- hooks for Trial ---------------------------------------------------------------------

    def _history_view(self, trial: FrozenTrial) -> StudyView:
        """Return what a trial's sampler and pruner may see.

        That is the whole study, or in reproducible mode only the trials numbered below
        ``trial.number - lag``, which have all finished by the time the trial starts.
        """
        lag = self._reproducible_lag
        if lag is None:
            return self.view
        horizon = trial.number - lag
        return self.view.restricted(lambda trials: [t for t in trials if t.number < horizon])

    def _sampler_view(self, trial: FrozenTrial) -> StudyView:
        pruner, view = self.pruner, self._history_view(trial)
        if type(pruner).trials_for_sampler is Pruner.trials_for_sampler:
            return view  # the default hook keeps every trial: skip the extra pass
        return view.restricted(lambda trials: pruner.trials_for_sampler(view, trial, trials))

    def _learn_param_kinds(self) -> None:
        for key, value in self._storage.get_study_system_attrs(self._study_id).items():
            if key.startswith(_PARAM_KIND_PREFIX):
                self._param_kinds[key[len(_PARAM_KIND_PREFIX) :]] = value

    def _check_param_kind(self, name: str, distribution: Distribution) -> None:
        kind = self._param_kinds.get(name)
        if kind is None:
            # A read learns every parameter's kind at once; only a parameter new to the study
            # costs a write (each worker process would otherwise queue for the write lock
            # once per parameter).
            self._learn_param_kinds()
            kind = self._param_kinds.get(name)
        if kind is None:
            key = _PARAM_KIND_PREFIX + name
            if not self._storage.set_study_system_attr_if_absent(
                self._study_id, key, distribution.kind
            ):
                self._learn_param_kinds()  # another worker recorded it first
            self._param_kinds[name] = kind = self._param_kinds.get(name) or distribution.kind
        if kind != distribution.kind:
            raise InvalidSpaceError(
                f"Parameter {name!r} is a {kind} parameter in this study but was suggested as "
                f"{distribution!r}. A range or choice list may change between trials, its type "
                "may not: use a new parameter name."
            )


def _directions(
    direction: str | StudyDirection | None,
    directions: Sequence[str | StudyDirection] | None,
) -> list[StudyDirection]:
    if direction is not None and directions is not None:
        raise InvalidValueError("Give direction or directions, not both.")
    given: Sequence[str | StudyDirection] = (
        directions if directions is not None else [direction or StudyDirection.MINIMIZE]
    )
    result = []
    for d in given:
        if isinstance(d, StudyDirection):
            result.append(d)
        elif isinstance(d, str) and d.upper() in StudyDirection.__members__:
            result.append(StudyDirection[d.upper()])
        else:
            raise InvalidValueError(f"direction must be 'minimize' or 'maximize'. Got {d!r}.")
    if len(result) != 1:
        raise InvalidValueError(
            f"This version optimizes one objective; got {len(result)} directions. "
            "Pass a single direction."
        )
    return result


def create_study(
    *,
    storage: str | Storage | None = None,
    sampler: Sampler | None = None,
    pruner: Pruner | None = None,
    study_name: str | None = None,
    direction: str | StudyDirection | None = None,
    directions: Sequence[str | StudyDirection] | None = None,
    load_if_exists: bool = False,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    retries: int | None = None,
) -> Study:
    """Create a study (or open it, with ``load_if_exists``).

    Args:
        storage: None for in memory, a URL such as ``"sqlite:///hyperdial.db"`` or
            ``"postgresql://user@host/db"``, or a :class:`~hyperdial.storage.Storage`.
        sampler: How parameters are proposed; the default adapts to the space.
        pruner: How trials are stopped early; the default never prunes.
        study_name: A unique name; a random one if None.
        direction: ``"minimize"`` (default) or ``"maximize"``.
        directions: The same as a one-element list.
        load_if_exists: Open the study if the name is taken instead of raising.
        heartbeat_interval: Seconds between renewals of a running trial's lease (default
            10). Stored with a new study; given for an existing one, it applies to this
            process.
        grace_period: Seconds without renewal after which a running trial is failed as
            stale (default 60); must exceed ``heartbeat_interval``.
        retries: How many times a stale trial is queued again with the same parameters
            (default 1; 0 never retries).

    Raises:
        DuplicatedStudyError: if the name is taken and ``load_if_exists`` is False.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(direction="maximize")
    """
    resolved = _directions(direction, directions)
    # Checked before anything is written: bad options must not leave a study behind.
    leases = LeaseOptions().replace(
        heartbeat_interval=heartbeat_interval, grace_period=grace_period, retries=retries
    )
    backend = get_storage(storage)
    name = study_name if study_name is not None else f"study-{uuid.uuid4().hex[:12]}"
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"study_name must be a non-empty string. Got {study_name!r}.")
    from hyperdial.exceptions import DuplicatedStudyError

    try:
        study_id = backend.create_study(resolved, name)
        if any(v is not None for v in (heartbeat_interval, grace_period, retries)):
            backend.set_study_system_attr(study_id, LEASE_OPTIONS_ATTR, leases.to_json())
    except DuplicatedStudyError:
        if not load_if_exists:
            raise DuplicatedStudyError(
                f"A study named {name!r} already exists in {backend!r}. Pass "
                "load_if_exists=True to continue it, or choose another study_name."
            ) from None
        existing = backend.get_study_directions(backend.get_study_id(name))
        if existing != resolved:
            raise InvalidValueError(
                f"Study {name!r} exists with directions {[d.name for d in existing]}, not "
                f"{[d.name for d in resolved]}; use the same direction or another name."
            ) from None
        _logger.info("Using the existing study %r.", name)
    return Study(
        name,
        backend,
        sampler=sampler,
        pruner=pruner,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        retries=retries,
    )


def load_study(
    *,
    study_name: str | None,
    storage: str | Storage,
    sampler: Sampler | None = None,
    pruner: Pruner | None = None,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    retries: int | None = None,
) -> Study:
    """Open an existing study (the only one in the storage if ``study_name`` is None).

    The lease options (``heartbeat_interval``, ``grace_period``, ``retries``) default to
    those the study was created with; see :func:`create_study`.

    Raises:
        StudyNotFoundError: naming the studies that do exist.
    """
    backend = get_storage(storage)
    if study_name is None:
        names = [s.study_name for s in backend.list_studies()]
        if len(names) != 1:
            raise InvalidValueError(
                f"study_name is needed: the storage holds {len(names)} studies ({names})."
            )
        study_name = names[0]
    try:
        return Study(
            study_name,
            backend,
            sampler=sampler,
            pruner=pruner,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            retries=retries,
        )
    except StudyNotFoundError:
        names = [s.study_name for s in backend.list_studies()]
        raise StudyNotFoundError(
            f"No study named {study_name!r} in {backend!r}. Studies there: "
            f"{', '.join(map(repr, names)) or 'none'}."
        ) from None


def delete_study(*, study_name: str, storage: str | Storage) -> None:
    """Delete a study and all its trials."""
    backend = get_storage(storage)
    try:
        study_id = backend.get_study_id(study_name)
    except StudyNotFoundError:
        raise StudyNotFoundError(f"No study named {study_name!r} in {backend!r}.") from None
    backend.delete_study(study_id)


def list_studies(storage: str | Storage) -> list[StudySummary]:
    """Return a summary of every study in a storage, in creation order."""
    return get_storage(storage).list_studies()


def format_exception(error: BaseException) -> str:
    """Return the traceback of ``error`` as text, for storing with a failed trial."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
