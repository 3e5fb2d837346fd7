"""The optimize loop: one process, or several worker processes sharing one storage."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._progress import ProgressBar
from hyperdial.exceptions import (
    InvalidValueError,
    MaxTrialsReached,
    ObjectiveError,
    SearchSpaceExhausted,
    StaleTrialError,
    TrialPruned,
    UpdateFinishedTrialError,
)
from hyperdial.trial import check_values

if TYPE_CHECKING:
    from hyperdial.study import Callback, ObjectiveFunc, Study
    from hyperdial.trial import Trial

__all__ = [
    "Plan",
    "after_trial",
    "best_value",
    "fail_running_trials_of",
    "pack_error",
    "run_objective",
    "run_optimize",
    "run_trial",
    "should_start",
]

_logger = logging.getLogger("hyperdial")

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def run_trial(
    study: Study, func: ObjectiveFunc, catch: tuple[type[BaseException], ...]
) -> FrozenTrial:
    """Ask, run the objective, tell; return the finished trial.

    An exception in ``catch`` fails the trial and is swallowed; any other (Ctrl-C included)
    fails the trial, which is stored first, and is then raised again. A trial that lost its
    lease meanwhile (see :mod:`hyperdial._lease`) is returned as stored, FAIL.
    """
    trial = study.ask()  # SearchSpaceExhausted and MaxTrialsReached end the caller's loop
    try:
        return run_objective(study, trial, func, catch)
    except StaleTrialError as error:
        # Another worker failed this trial as stale while it ran (this worker was cut off
        # from the storage, or paused, past the grace period); the retry owns it now.
        _logger.warning(
            "Trial %d lost its lease and was failed as stale by another worker; its result "
            "is discarded (%s).",
            trial.number,
            error,
        )
        return study.storage.get_trial(trial.trial_id)


def run_objective(
    study: Study, trial: Trial, func: ObjectiveFunc, catch: tuple[type[BaseException], ...]
) -> FrozenTrial:
    from hyperdial.study import format_exception

    try:
        result = func(trial)
    except TrialPruned:
        return study.tell(trial, state=TrialState.PRUNED)
    except StaleTrialError:
        raise  # a report to a trial failed as stale: nothing of it can be stored
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}".rstrip(": ")
        if isinstance(error, KeyboardInterrupt):
            reason = "interrupted (KeyboardInterrupt)"
        frozen = study.tell(
            trial,
            state=TrialState.FAIL,
            fail_reason=reason,
            skip_if_finished=True,
            _system_attrs={"fail_traceback": format_exception(error)},
        )
        if isinstance(error, catch) and not isinstance(error, KeyboardInterrupt):
            return frozen
        raise
    values, invalid = check_values(result, len(study.directions))
    if invalid is not None:
        return study.tell(trial, state=TrialState.FAIL, fail_reason=invalid)
    return study.tell(trial, values)


@dataclass
class Plan:
    """What one ``optimize`` call was asked to do, checked."""

    n_trials: int | None
    deadline: float | None
    catch: tuple[type[BaseException], ...]
    callbacks: list[Callback]
    gc_after_trial: bool


def _check_args(
    n_trials: int | None, timeout: float | None, n_jobs: int, catch: Any
) -> tuple[int, tuple[type[BaseException], ...]]:
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0
    ):
        raise InvalidValueError(f"n_trials must be an integer >= 0 or None. Got {n_trials!r}.")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        raise InvalidValueError(
            f"timeout must be a number of seconds > 0 or None. Got {timeout!r}."
        )
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise InvalidValueError(
            f"n_jobs must be a positive integer, or -1 for one per core. Got {n_jobs!r}."
        )
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    catches = (catch,) if isinstance(catch, type) else tuple(catch)
    for item in catches:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise InvalidValueError(f"catch must hold exception classes. Got {item!r}.")
    return n_jobs, catches


def _check_options(
    study: Study,
    n_jobs: int,
    retries: int | None,
    max_trials: int | None,
    reproducible: bool | int,
) -> tuple[int | None, int | None]:
    """Check the lease and budget options; return ``(max_trials, reproducible lag)``."""
    if retries is not None:
        study._leases = study._leases.replace(retries=retries)  # validates
    if max_trials is not None and (
        isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 0
    ):
        raise InvalidValueError(
            f"max_trials must be an integer >= 0 (the study's total across all workers) or "
            f"None. Got {max_trials!r}."
        )
    if reproducible is False or reproducible is None:
        return max_trials, None
    lag = n_jobs if reproducible is True else reproducible
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
        raise InvalidValueError(
            f"reproducible must be True, False or the number of workers (an integer >= 1) "
            f"that share the study. Got {reproducible!r}."
        )
    from hyperdial._view import StudyView

    state = StudyView(study.storage, study._study_id, study.study_name).state("hyperdial")
    if not state.set_if_absent("reproducible_lag", lag):
        stored = state.get("reproducible_lag")
        if stored != lag:
            raise InvalidValueError(
                f"Study {study.study_name!r} runs reproducibly for {stored} workers; this call "
                f"asked for {lag}. Trials must see the same history in every run: pass "
                f"reproducible={stored} (whatever the number of processes), or use a new study."
            )
    return max_trials, lag


def run_optimize(
    study: Study,
    func: ObjectiveFunc,
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
    catch: Iterable[type[Exception]] | type[Exception],
    callbacks: Iterable[Callback] | None,
    gc_after_trial: bool,
    show_progress_bar: bool | None,
    retries: int | None = None,
    max_trials: int | None = None,
    reproducible: bool | int = False,
    executor: Any = None,
) -> None:
    """Run trials until ``n_trials`` or ``timeout``, the sampler is done, or ``stop()``."""
    if not callable(func):
        raise InvalidValueError(f"The objective must be callable. Got {func!r}.")
    n_jobs, catches = _check_args(n_trials, timeout, n_jobs, catch)
    plan = Plan(
        n_trials=n_trials,
        deadline=None if timeout is None else time.monotonic() + timeout,
        catch=catches,
        callbacks=list(callbacks or ()),
        gc_after_trial=gc_after_trial,
    )
    saved = (study._leases, study._max_trials, study._reproducible_lag)
    study._max_trials, study._reproducible_lag = _check_options(
        study, n_jobs, retries, max_trials, reproducible
    )
    study._stop_requested = False
    try:
        with ProgressBar(n_trials, timeout, show_progress_bar) as progress:
            if executor is not None:
                if study._reproducible_lag is not None:
                    raise InvalidValueError(
                        "reproducible=True runs worker processes of its own; it cannot be "
                        "combined with executor=. Use n_jobs with reproducible=True, or drop "
                        "reproducible."
                    )
                from hyperdial.integrations.dask import run_with_executor

                run_with_executor(study, func, plan, executor, progress)
            elif n_jobs == 1:
                _run_sequential(study, func, plan, progress)
            else:
                if not study.storage.multiprocess_safe:
                    raise InvalidValueError(
                        f"n_jobs={n_jobs} runs worker processes, which cannot share "
                        f"{study.storage!r}. Pass storage='sqlite:///hyperdial.db' (or a "
                        "PostgreSQL URL) to create_study, or use n_jobs=1."
                    )
                _run_processes(study, func, plan, n_jobs, progress)
    finally:
        study._leases, study._max_trials, study._reproducible_lag = saved


def should_start(study: Study, plan: Plan, started: int) -> bool:
    if study._stop_requested:
        return False
    if plan.n_trials is not None and started >= plan.n_trials:
        return False
    if plan.deadline is not None and time.monotonic() >= plan.deadline:
        return False
    return not study.sampler.is_exhausted(study.view)


def after_trial(study: Study, plan: Plan, frozen: FrozenTrial) -> None:
    for callback in plan.callbacks:
        callback(study, frozen)
    if plan.gc_after_trial:
        gc.collect()


def best_value(study: Study) -> float | None:
    best = study.view.best_trial
    return None if best is None else best.value


def _run_sequential(study: Study, func: ObjectiveFunc, plan: Plan, progress: ProgressBar) -> None:
    started = 0
    while should_start(study, plan, started):
        started += 1
        try:
            frozen = run_trial(study, func, plan.catch)
        except (SearchSpaceExhausted, MaxTrialsReached):
            break
        except KeyboardInterrupt:
            # Ctrl-C between a trial's start and its objective leaves it to this sweep.
            from hyperdial.study import worker_id

            fail_running_trials_of(
                study, {worker_id(): "interrupted (KeyboardInterrupt)"}, retry=False
            )
            _logger.warning(
                "Interrupted: the running trial was stored as FAIL; every finished trial is "
                "kept. Continue with load_study(...) or create_study(load_if_exists=True)."
            )
            raise
        after_trial(study, plan, frozen)
        if progress.enabled:
            progress.update(started, best_value(study))


# -- worker processes -------------------------------------------------------------------------


class _Shared:
    """What the parent and its worker processes share."""

    def __init__(self, ctx: Any) -> None:
        self.stop = ctx.Event()
        self.started = ctx.Value("q", 0)
        self.errors = ctx.SimpleQueue()
        # (worker index, held, trial id): the parent renews the leases of its workers'
        # trials, so that a worker busy in its objective needs no keeper process of its own.
        self.leases = ctx.SimpleQueue()

    def take_slot(self, n_trials: int | None) -> bool:
        with self.started.get_lock():
            if n_trials is not None and self.started.value >= n_trials:
                return False
            self.started.value += 1
            return True


class _ParentHolder:
    """A worker's lease holder: tells the parent process which trials to renew."""

    def __init__(self, queue: Any, index: int) -> None:
        self._queue = queue
        self._index = index

    def hold(self, trial_id: int) -> None:
        self._queue.put((self._index, True, trial_id))

    def release(self, trial_id: int) -> None:
        self._queue.put((self._index, False, trial_id))


class _LeaseDesk:
    """The parent's side: the trials each worker holds, renewed every heartbeat interval."""

    def __init__(self, study: Study, queue: Any, n_workers: int) -> None:
        self._study = study
        self._queue = queue
        self.held: list[set[int]] = [set() for _ in range(n_workers)]
        self._interval = study._leases.heartbeat_interval
        self._grace = study._leases.grace_period
        self._next_renewal = time.monotonic() + self._interval

    def drain(self) -> None:
        while not self._queue.empty():
            index, held, trial_id = self._queue.get()
            if held:
                self.held[index].add(trial_id)
            else:
                self.held[index].discard(trial_id)

    def renew_if_due(self) -> None:
        if time.monotonic() < self._next_renewal:
            return
        self._next_renewal = time.monotonic() + self._interval
        trial_ids = sorted(set().union(*self.held))
        if not trial_ids:
            return
        try:
            lost = set(self._study.storage.renew_leases(trial_ids, self._grace))
        except Exception as error:  # the storage may be restarting: try again next time
            _logger.warning("Could not renew trial leases (%s); retrying.", error)
            return
        for held in self.held:
            held -= lost

    def fail_trials_of_dead(self, workers: list[Any], dead: list[int]) -> None:
        """Fail (and retry) the trials held by the ``dead`` workers, not waiting for leases."""
        for index in dead:
            if not self.held[index]:
                continue
            self._study._fail_lost_trials(_death_of(workers[index]), sorted(self.held[index]))
            self.held[index].clear()


def _worker_main(
    study: Study, func: ObjectiveFunc, plan: Plan, shared: _Shared, index: int
) -> None:
    if study.storage.multiprocess_safe:
        study._lease_holder = _ParentHolder(shared.leases, index)
    try:
        while not shared.stop.is_set():
            if not should_start(study, plan, 0) or not shared.take_slot(plan.n_trials):
                break
            try:
                frozen = run_trial(study, func, plan.catch)
            except (SearchSpaceExhausted, MaxTrialsReached):
                shared.stop.set()
                break
            after_trial(study, plan, frozen)
            if study._stop_requested:
                shared.stop.set()
    except KeyboardInterrupt as error:
        # The trial was stored as FAIL in run_trial; the parent raises the interruption,
        # whether Ctrl-C reached every process or the objective raised it in this one.
        shared.stop.set()
        shared.errors.put(pack_error(error))
    except BaseException as error:
        shared.stop.set()
        shared.errors.put(pack_error(error))
    finally:
        study.storage.remove_session()


def pack_error(error: BaseException) -> bytes:
    from hyperdial.study import format_exception

    try:
        return pickle.dumps(error)
    except Exception:
        text = f"{type(error).__name__}: {error}\n{format_exception(error)}"
        return pickle.dumps(ObjectiveError(text))


def _run_processes(
    study: Study, func: ObjectiveFunc, plan: Plan, n_jobs: int, progress: ProgressBar
) -> None:
    # fork keeps closures and lambdas working as objectives (as with threads); storages
    # re-open their connections in the child. Elsewhere, spawn needs a picklable objective.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx: Any = multiprocessing.get_context(method)
    shared = _Shared(ctx)
    storage = study.storage
    study_id = study._study_id
    done_before = storage.get_n_trials(study_id, _FINISHED)
    workers = [
        ctx.Process(target=_worker_main, args=(study, func, plan, shared, i), name=f"hyperdial-{i}")
        for i in range(n_jobs)
    ]
    for worker in workers:
        worker.start()
    desk = _LeaseDesk(study, shared.leases, n_jobs)
    interrupted = False
    try:
        while any(w.is_alive() for w in workers):
            for w in workers:
                w.join(timeout=0.25 / n_jobs)
            # Order matters: a dead worker's last messages are in the queue before the
            # drain, so it is judged on everything it sent.
            dead = [i for i, w in enumerate(workers) if not w.is_alive()]
            desk.drain()
            desk.fail_trials_of_dead(workers, dead)
            desk.renew_if_due()
            if progress.enabled:
                done = storage.get_n_trials(study_id, _FINISHED) - done_before
                progress.update(done, best_value(study))
    except KeyboardInterrupt:
        interrupted = True
        shared.stop.set()
        _logger.warning("Interrupted: waiting for workers to store their running trials.")
    finally:
        _stop_workers(workers)
        _fail_orphans(study, workers, interrupted)
    if progress.enabled:
        done = storage.get_n_trials(study_id, _FINISHED) - done_before
        progress.update(done, best_value(study))
    if not shared.errors.empty():
        raise pickle.loads(shared.errors.get())
    if interrupted:
        raise KeyboardInterrupt


def _stop_workers(workers: list[Any], grace: float = 10.0) -> None:
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
            worker.join(timeout=5)


def _death_of(worker: Any) -> str:
    return f"worker process {worker.pid} died (exit code {worker.exitcode}) during the trial"


def _fail_orphans(study: Study, workers: list[Any], interrupted: bool) -> None:
    """Fail trials left RUNNING by workers of this call that died mid-trial."""
    from hyperdial.study import worker_id

    host = worker_id().rsplit(":", 1)[0]
    reasons = {}
    for worker in workers:
        reason = _death_of(worker)
        if interrupted:
            # Ctrl-C can land between a trial's start and the objective, or during its tell.
            reason = f"interrupted (KeyboardInterrupt): {reason}"
        reasons[f"{host}:{worker.pid}"] = reason
    fail_running_trials_of(study, reasons, retry=not interrupted)


def fail_running_trials_of(study: Study, reasons: dict[str, str], *, retry: bool) -> None:
    """Fail the RUNNING trials whose worker is a key of ``reasons``, with that reason.

    With ``retry`` they count as lost (queued again within the study's retries); without,
    as stopped on purpose.
    """
    by_reason: dict[str, list[int]] = {}
    for trial in study.get_trials(states=(TrialState.RUNNING,), deepcopy=False):
        reason = reasons.get(trial.system_attrs.get("worker", ""))
        if reason is not None:
            by_reason.setdefault(reason, []).append(trial.trial_id)
    for reason, trial_ids in by_reason.items():
        if retry:
            study._fail_lost_trials(reason, trial_ids)
            continue
        for trial_id in trial_ids:
            try:
                study.storage.update_trial(
                    trial_id, state=TrialState.FAIL, system_attrs={"fail_reason": reason}
                )
            except UpdateFinishedTrialError:
                continue
            study._release(trial_id)
            _logger.warning("Trial %d failed: %s", study.storage.get_trial(trial_id).number, reason)
