"""Run a study's trials on a Dask cluster (``pip install 'hyperdial[dask]'``).

Pass a :class:`distributed.Client` as ``executor`` to :meth:`hyperdial.Study.optimize`::

    from distributed import Client

    import hyperdial

    client = Client("tcp://scheduler:8786")  # or Client() for a local cluster
    study = hyperdial.create_study(
        study_name="mlp",
        storage="postgresql://user:password@db-host/hyperdial",
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=200, executor=client)

Each trial runs as one Dask task on a worker; the study stays in its storage, which the
client and every worker must reach: PostgreSQL for a cluster of machines, or a SQLite file
(by an absolute path) when every worker runs on one machine. The objective is sent to the
workers by pickling, so it must be importable there (a module-level function in a module
the workers have) or picklable by cloudpickle.

The client process starts each trial (``study.ask``), holds its lease while the task runs,
and runs the callbacks and the progress bar; a worker only runs the objective and tells the
result. When a worker dies mid-trial, Dask runs the task again elsewhere and the re-run
finishes the same trial with the parameters already stored, so each trial is recorded once.

Any :class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor``, say) works the same
way; it runs as many trials at once as it has workers.
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import os
import pickle
import time
import uuid
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from hyperdial._frozen import TrialState
from hyperdial._optimize import (
    after_trial,
    best_value,
    fail_running_trials_of,
    pack_error,
    run_objective,
    should_start,
)
from hyperdial.exceptions import (
    InvalidValueError,
    MaxTrialsReached,
    ObjectiveError,
    SearchSpaceExhausted,
    StaleTrialError,
    UpdateFinishedTrialError,
)

if TYPE_CHECKING:
    from hyperdial._frozen import FrozenTrial
    from hyperdial._optimize import Plan
    from hyperdial._progress import ProgressBar
    from hyperdial.pruners import Pruner
    from hyperdial.samplers import Sampler
    from hyperdial.storage import Storage
    from hyperdial.study import ObjectiveFunc, Study
    from hyperdial.trial import Trial

__all__ = ["run_with_executor"]

_logger = logging.getLogger("hyperdial")

_INTERRUPTED = "interrupted (KeyboardInterrupt)"


class _Outcome(NamedTuple):
    """What a task sends back: small, so that results cost the scheduler nothing."""

    number: int
    #: The objective's exception (pickled) when it is not in ``catch``; the client raises it.
    error: bytes | None = None
    #: Whether the objective called ``trial.study.stop()``: the client's study stops then.
    stop: bool = False


class _Job(NamedTuple):
    """What every task of one ``optimize`` call needs, but the trial number."""

    #: The storage, or the storage pickled (see :func:`_worker_storage`).
    storage: Storage | bytes
    study_name: str
    func: ObjectiveFunc
    sampler: Sampler
    pruner: Pruner
    catch: tuple[type[BaseException], ...]
    gc_after_trial: bool
    #: ``host:pid`` of the client, to tell a task run by a thread of the client itself.
    client: str


def _run_trial_task(job: _Job | bytes, number: int, trial_id: int) -> _Outcome:
    """Run trial ``number`` of the study on a worker; safe to run again for the same trial.

    The client has already started the trial, so a task finds it by its id. Dask runs
    a task again when the worker running it dies (and may even run two attempts at once,
    if it only lost contact with a worker). Each attempt works on the same trial: one that
    finds the trial finished leaves it alone, and one that finds it RUNNING continues it
    with the parameters and reports already stored (a trial stores the parameters it has
    drawn about a second after drawing them, or at its first report; any drawn after that
    are drawn again). So the study records each trial once.

    Args:
        job: The job, or the job pickled (see :meth:`_DaskPool.prepare`).
        number: The trial's number.
        trial_id: The trial's id in the storage.
    """
    from hyperdial.study import Study, worker_id
    from hyperdial.trial import Trial

    if isinstance(job, bytes):
        # A Dask worker process: every task of one optimize call shares one study object,
        # as the trials of a worker process of optimize(n_jobs=) do.
        job, study = _worker_study(job)
        own_copies, shared_storage = True, True
    else:
        own_copies = worker_id() != job.client
        sampler, pruner = job.sampler, job.pruner
        if not own_copies:
            # A thread of the client: samplers and pruners are not made to be shared by
            # threads, so each trial gets its own copies, as a worker process does.
            sampler, pruner = pickle.loads(pickle.dumps((sampler, pruner)))
        shared_storage = isinstance(job.storage, bytes)
        storage = _worker_storage(job.storage) if isinstance(job.storage, bytes) else job.storage
        study = Study(job.study_name, storage, sampler=sampler, pruner=pruner)
    storage = study.storage
    try:
        frozen = storage.get_trial(trial_id)
        if frozen.state.is_finished():
            # An earlier attempt told the trial, and its worker died before Dask had the
            # result; or the client failed the trial meanwhile (Ctrl-C). The record stands.
            return _Outcome(number)
        try:
            # The client holds the lease; "leased" makes the trial store its parameters
            # about a second after drawing them, so that a re-run repeats them.
            leased = storage.multiprocess_safe
            run_objective(study, Trial(study, frozen, leased=leased), job.func, job.catch)
        except StaleTrialError as error:
            # The client stopped renewing the lease (it died, or lost the storage) and a
            # worker failed the trial as stale; its retry owns the parameters now.
            _logger.warning(
                "Trial %d lost its lease and was failed as stale; its result is discarded (%s).",
                number,
                error,
            )
        except UpdateFinishedTrialError:
            # Another attempt of this task finished the trial first, or the client failed
            # it (Ctrl-C): the trial is recorded once, by whoever finished it first.
            _logger.info("Trial %d was finished elsewhere; this run's result is discarded.", number)
        except Exception as error:
            # Not in ``catch``: the trial is stored as FAIL with the reason and traceback;
            # the client raises the error and stops the study.
            return _Outcome(number, pack_error(error), study._stop_requested)
        return _Outcome(number, stop=study._stop_requested)
    finally:
        if job.gc_after_trial:
            gc.collect()
        if own_copies and not shared_storage:
            # This task unpickled its own copy of the storage: close its connections now
            # rather than whenever the garbage collector gets to it.
            storage.remove_session()


# Storages opened by this worker process, by their pickled form. Opening one costs a
# connection, a schema check and compiling its statements (tens of milliseconds on
# PostgreSQL); a worker runs many trials of the same storage.
_WORKER_STORAGES: dict[bytes, Storage] = {}


def _worker_storage(data: bytes) -> Storage:
    storage = _WORKER_STORAGES.get(data)
    if storage is None:
        storage = _WORKER_STORAGES[data] = pickle.loads(data)
    return storage


# The study objects of this worker process, by their job's pickled form (one per optimize
# call), most recent last. Building one reads the study (its id, directions and lease
# options), and it learns its parameters' kinds as trials run: both once per worker and
# call rather than once per task.
_WORKER_STUDIES: dict[bytes, tuple[_Job, Study]] = {}
_MAX_WORKER_STUDIES = 4


def _worker_study(data: bytes) -> tuple[_Job, Study]:
    from hyperdial.study import Study

    cached = _WORKER_STUDIES.pop(data, None)
    if cached is None:
        job = _load_job(data)
        assert isinstance(job.storage, bytes)  # see _DaskPool.prepare
        storage = _worker_storage(job.storage)
        study = Study(job.study_name, storage, sampler=job.sampler, pruner=job.pruner)
        cached = (job, study)
        while len(_WORKER_STUDIES) >= _MAX_WORKER_STUDIES:
            del _WORKER_STUDIES[next(iter(_WORKER_STUDIES))]
    _WORKER_STUDIES[data] = cached
    # A stop asked by an earlier trial was reported with that trial: it ends the client's
    # loop, not this worker's next task.
    cached[1]._stop_requested = False
    return cached


def _load_job(data: bytes) -> _Job:
    try:
        job: _Job = pickle.loads(data)
    except Exception as error:
        raise ObjectiveError(
            f"A worker could not load the objective, sampler, pruner or storage of the study "
            f"({type(error).__name__}: {error}). Every worker must be able to import the "
            "modules that define them: install them there, or send them by value with "
            "cloudpickle.register_pickle_by_value(module) on the client."
        ) from error
    return job


# -- executors ----------------------------------------------------------------------------


class _Pool(Protocol):
    """The little the client loop needs from an executor."""

    def capacity(self) -> int:
        """How many trials to keep in flight."""

    def prepare(self, job: _Job) -> _Job | bytes:
        """Return the job as the tasks of this call get it."""

    def submit(self, key: str, job: _Job | bytes, number: int, trial_id: int) -> Any:
        """Run ``_run_trial_task(job, number, trial_id)``; return its future."""

    def wait(self, futures: Collection[Any]) -> Iterable[Any]:
        """Block until at least one of ``futures`` is done; return the done ones."""

    def cancel(self, futures: Collection[Any]) -> None:
        """Cancel ``futures`` (running ones may go on running)."""


class _DaskPool:
    def __init__(self, client: Any) -> None:
        import cloudpickle  # type: ignore[import-untyped]  # a dependency of distributed
        import distributed

        self._client = client
        self._distributed = distributed
        self._cloudpickle = cloudpickle
        self._capacity = 1
        self._capacity_due = 0.0

    def capacity(self) -> int:
        # Read again every second, so workers that join an adaptive cluster get trials too;
        # asking the scheduler at every refill would cost a round trip per trial.
        now = time.monotonic()
        if now >= self._capacity_due:
            nthreads: dict[str, int] = self._client.nthreads()
            self._capacity = max(1, sum(nthreads.values()))
            self._capacity_due = now + 1.0
        return self._capacity

    def prepare(self, job: _Job) -> _Job | bytes:
        # Pickled here, and unpickled by the task: a worker that cannot import the
        # objective (or the sampler, pruner or storage) fails the task, which the client
        # reports. Given as they are, Dask would unpickle them with the message that
        # carries the task, and the failure would break the worker's connection to the
        # scheduler, which then waits for ever. Once per call, too, not once per trial.
        storage = pickle.dumps(job.storage)  # opened once per worker process, not per task
        data: bytes = self._cloudpickle.dumps(job._replace(storage=storage))
        return data

    def submit(self, key: str, job: _Job | bytes, number: int, trial_id: int) -> Any:
        # pure=False: two tasks with equal arguments are still two trials.
        return self._client.submit(_run_trial_task, job, number, trial_id, key=key, pure=False)

    def wait(self, futures: Collection[Any]) -> Iterable[Any]:
        wait: Any = self._distributed.wait  # untyped in distributed
        done: Iterable[Any] = wait(futures, return_when="FIRST_COMPLETED").done
        return done

    def cancel(self, futures: Collection[Any]) -> None:
        if futures:
            self._client.cancel(list(futures))


class _ExecutorPool:
    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self._executor = executor

    def capacity(self) -> int:
        # Thread and process pools keep their size there; other executors get one trial per
        # core of this machine.
        workers = getattr(self._executor, "_max_workers", None)
        if isinstance(workers, int) and workers > 0:
            return workers
        return os.cpu_count() or 1

    def prepare(self, job: _Job) -> _Job | bytes:
        # A process pool pickles the job itself and reports a failure through the future;
        # a thread pool shares the client's objects (the task copies sampler and pruner).
        return job

    def submit(self, key: str, job: _Job | bytes, number: int, trial_id: int) -> Any:
        return self._executor.submit(_run_trial_task, job, number, trial_id)

    def wait(self, futures: Collection[Any]) -> Iterable[Any]:
        return concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED).done

    def cancel(self, futures: Collection[Any]) -> None:
        for future in futures:
            future.cancel()


def _pool_for(executor: Any) -> _Pool:
    if isinstance(executor, concurrent.futures.Executor):
        return _ExecutorPool(executor)
    try:
        import distributed
    except ImportError:
        raise ImportError(
            f"executor= takes a Dask distributed.Client, which needs Dask: pip install "
            f"'hyperdial[dask]'. (A concurrent.futures.Executor works without it.) Got "
            f"{executor!r}."
        ) from None
    if isinstance(executor, distributed.Client):
        return _DaskPool(executor)
    raise InvalidValueError(
        f"executor must be a Dask distributed.Client or a concurrent.futures.Executor (such "
        f"as ProcessPoolExecutor). Got {executor!r} of type {type(executor).__name__}."
    )


# -- the client loop ------------------------------------------------------------------------


def run_with_executor(
    study: Study, func: ObjectiveFunc, plan: Plan, executor: Any, progress: ProgressBar
) -> None:
    """Run the trials of ``plan`` as tasks of ``executor``; what ``optimize(executor=)`` does.

    The client keeps as many trials in flight as the executor has worker threads. It starts
    each one with ``study.ask()``, so that the client, whose life is the study's, renews
    the trial's lease: Dask worker processes are daemons that may be killed at any time,
    and a task re-run after its worker died must find its trial still leased. A task only
    runs the objective and tells the result (:func:`_run_trial_task`); once its future is
    done the client releases the lease and runs the callbacks on the stored trial.

    Args:
        study: The study; its storage must be shared by processes (SQLite, PostgreSQL).
        func: The objective; it must pickle (the workers import it).
        plan: Budgets, ``catch``, callbacks and ``gc_after_trial`` of the ``optimize`` call.
        executor: A :class:`distributed.Client` or a :class:`concurrent.futures.Executor`.
        progress: The progress bar to update after each trial.

    Raises:
        InvalidValueError: for an in-memory storage or an executor of another kind.
        ImportError: if ``executor`` is not a ``concurrent.futures.Executor`` and Dask is not
            installed.
        Exception: the first error of an objective that is not in ``plan.catch``, once the
            trials in flight have finished.
    """
    from hyperdial.study import worker_id

    if not study.storage.multiprocess_safe:
        raise InvalidValueError(
            f"executor= runs trials in other processes, which cannot share {study.storage!r}. "
            "Pass storage='sqlite:////absolute/path/hyperdial.db' (every worker on one "
            "machine) or a PostgreSQL URL such as 'postgresql://user:password@host/db' to "
            "create_study."
        )
    pool = _pool_for(executor)
    in_flight: dict[Any, Trial] = {}
    started = done = 0
    error: BaseException | None = None
    starting = True
    job = pool.prepare(
        _Job(
            storage=study.storage,
            study_name=study.study_name,
            func=func,
            sampler=study.sampler,
            pruner=study.pruner,
            catch=plan.catch,
            gc_after_trial=plan.gc_after_trial,
            client=worker_id(),
        )
    )
    key_prefix = f"hyperdial-{study.study_name}-{uuid.uuid4().hex[:8]}-trial"
    try:
        while True:
            capacity = pool.capacity() if starting else 0
            while starting and len(in_flight) < capacity:
                if not should_start(study, plan, started):
                    starting = False
                    break
                try:
                    trial = study.ask()
                except (SearchSpaceExhausted, MaxTrialsReached):
                    starting = False
                    break
                started += 1
                future = pool.submit(
                    f"{key_prefix}-{trial.number}", job, trial.number, trial.trial_id
                )
                in_flight[future] = trial
            if not in_flight:
                break
            for future in pool.wait(list(in_flight)):
                trial = in_flight.pop(future)
                frozen, raised = _collect(study, future, trial, bool(plan.callbacks))
                done += 1
                if raised is None and frozen is not None:
                    try:
                        after_trial(study, plan, frozen)
                    except Exception as callback_error:
                        raised = callback_error
                if raised is not None:
                    # Stop starting trials; those in flight finish and are recorded first.
                    starting = False
                    if error is None:
                        error = raised
                    else:
                        _logger.error(
                            "After trial %d: %r (the first error is raised).", trial.number, raised
                        )
                if progress.enabled:
                    progress.update(done, best_value(study))
    except BaseException as stop:
        _abandon(study, pool, in_flight, stop)
        raise
    if error is not None:
        raise error


def _collect(
    study: Study, future: Any, trial: Trial, want_trial: bool
) -> tuple[FrozenTrial | None, BaseException | None]:
    """Return a done task's trial as stored, and the error to raise for it (if any).

    The trial is read back only when ``want_trial`` (callbacks take it) or for an error's
    message: otherwise None, sparing the client a read per trial.
    """
    study._release(trial.trial_id)  # finished or not, no task runs it any more
    try:
        outcome: _Outcome = future.result()
    except Exception as error:
        # The task itself failed, so the objective could not tell the trial: its workers
        # died more often than the scheduler allows (KilledWorker), the objective did not
        # unpickle on the worker, the task was cancelled... Fail the trial (without a retry:
        # the same parameters may kill the next worker too) and raise on the client.
        reason = f"its task failed: {type(error).__name__}: {error}".rstrip(": ")
        frozen = study.tell(trial, state=TrialState.FAIL, fail_reason=reason, skip_if_finished=True)
        return frozen, error
    if outcome.stop:
        study.stop()
    if outcome.error is None:
        return (study.storage.get_trial(trial.trial_id) if want_trial else None), None
    frozen = study.storage.get_trial(trial.trial_id)
    try:
        raised: BaseException = pickle.loads(outcome.error)
    except Exception:
        # The exception's class exists on the worker only.
        raised = ObjectiveError(
            f"Trial {frozen.number} failed on a worker: {frozen.fail_reason}\n"
            f"{frozen.system_attrs.get('fail_traceback', '')}"
        )
    raised.add_note(
        f"Raised by the objective of trial {frozen.number} on a worker; its traceback is "
        "stored with the trial (system attribute 'fail_traceback')."
    )
    return frozen, raised


def _abandon(study: Study, pool: _Pool, in_flight: dict[Any, Trial], stop: BaseException) -> None:
    """Cancel the tasks in flight and fail their trials: the client stops (Ctrl-C) now."""
    from hyperdial.study import worker_id

    pool.cancel(list(in_flight))
    reason = (
        _INTERRUPTED
        if isinstance(stop, KeyboardInterrupt)
        else f"stopped: the client raised {type(stop).__name__}: {stop}".rstrip(": ")
    )
    # A task still running on a worker (Dask cannot stop it) finds its trial finished when
    # it tells, and its result is discarded.
    try:
        for trial in in_flight.values():
            study.tell(trial, state=TrialState.FAIL, fail_reason=reason, skip_if_finished=True)
        # And a trial caught between its ask and its submit: RUNNING, started here.
        fail_running_trials_of(study, {worker_id(): reason}, retry=False)
    except Exception as error:  # the storage may be what failed: let the leases run out
        _logger.warning("Could not fail the trials in flight (%s); their leases run out.", error)
    finally:
        for trial in in_flight.values():
            study._release(trial.trial_id)
    if isinstance(stop, KeyboardInterrupt):
        _logger.warning(
            "Interrupted: the trials in flight were stored as FAIL; every finished trial is "
            "kept. Continue with load_study(...) or create_study(load_if_exists=True)."
        )
