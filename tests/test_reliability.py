"""Reliability: many workers, killed workers and writers, a restarted server, bad results.

Worker processes here are real OS processes: forked by ``optimize(n_jobs=...)``, or started
with ``reliability_objectives.py`` or ``hyperdial optimize`` and killed with SIGKILL. Leases
are short (a 0.2 s heartbeat, a 1 s grace period) so that lost trials are noticed quickly.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import math
import multiprocessing
import os
import pwd
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.exceptions import StaleTrialError, StudyNotFoundError
from hyperdial.samplers import QMCSampler, RandomSampler, Sampler, TPESampler, default_sampler

POSTGRES_URL = os.environ.get(
    "HYPERDIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SKIP_POSTGRES = os.environ.get("HYPERDIAL_SKIP_POSTGRES") == "1"

HEARTBEAT = 0.2
GRACE = 1.0
LEASES = {"heartbeat_interval": HEARTBEAT, "grace_period": GRACE}
# Bounds waits for processes on a loaded machine; never reached when all goes well.
PATIENCE_S = 120.0

TESTS_DIR = Path(__file__).resolve().parent
OBJECTIVES_PATH = TESTS_DIR / "reliability_objectives.py"
CLI_MAIN = "from hyperdial.cli import main; main(prog_name='hyperdial')"


def _load_objectives() -> ModuleType:
    # pytest imports test modules without putting tests/ on sys.path; forked workers inherit
    # this module object, so it needs no import path of its own.
    spec = importlib.util.spec_from_file_location("reliability_objectives", OBJECTIVES_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


objectives = _load_objectives()


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def _delete_study(url: str, name: str) -> None:
    storage = hyperdial.storage.get_storage(url)
    with contextlib.suppress(StudyNotFoundError):
        hyperdial.delete_study(study_name=name, storage=storage)
    storage.remove_session()


@pytest.fixture
def postgres_study() -> Iterator[str]:
    """A fresh study name in the test PostgreSQL database, deleted afterwards."""
    if SKIP_POSTGRES:
        pytest.skip("HYPERDIAL_SKIP_POSTGRES=1")
    name = f"reliability-{uuid.uuid4().hex[:10]}"
    yield name
    _delete_study(POSTGRES_URL, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(storage URL, study name)`` on each SQL backend."""
    name = f"reliability-{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}", name
        return
    if SKIP_POSTGRES:
        pytest.skip("HYPERDIAL_SKIP_POSTGRES=1")
    yield POSTGRES_URL, name
    _delete_study(POSTGRES_URL, name)


def _start_script(*args: str) -> subprocess.Popen[str]:
    """Run ``reliability_objectives.py`` in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, str(OBJECTIVES_PATH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _start_cli(*args: str) -> subprocess.Popen[str]:
    """Run ``hyperdial ARGS`` in a process group of its own; objectives import from tests/."""
    path = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.Popen(
        [sys.executable, "-c", CLI_MAIN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def _read_line(process: subprocess.Popen[str], timeout: float = PATIENCE_S) -> str:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    if not readable:
        raise AssertionError(f"no output from process {process.pid} after {timeout} s")
    line = process.stdout.readline()
    if not line:
        _, stderr = process.communicate(timeout=PATIENCE_S)
        raise AssertionError(f"process {process.pid} exited early:\n{stderr}")
    return line.strip()


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL a process and everything it started (its lease keeper, its workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.returncode is None:
        process.communicate(timeout=PATIENCE_S)


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _trials(url: str, name: str) -> list[hyperdial.FrozenTrial]:
    """The study's trials, read through a storage opened afresh."""
    study = hyperdial.load_study(study_name=name, storage=url)
    try:
        return study.trials
    finally:
        study.storage.remove_session()


Record = tuple[int, TrialState, dict[str, Any], list[float] | None]


def _record(trial: hyperdial.FrozenTrial) -> Record:
    return trial.number, trial.state, trial.params, trial.values


def _kill_keeper(study: hyperdial.Study) -> None:
    """Kill the process that renews the leases of ``study``'s trials in this process."""
    assert study._keeper is not None, "the study has started no trial with a lease"
    os.kill(study._keeper.pid, signal.SIGKILL)
    os.waitpid(study._keeper.pid, 0)


def _assert_contiguous(trials: list[hyperdial.FrozenTrial]) -> None:
    assert [t.number for t in trials] == list(range(len(trials)))


def _assert_kept(before: list[hyperdial.FrozenTrial], after: list[hyperdial.FrozenTrial]) -> None:
    """Every trial finished in ``before`` is in ``after`` unchanged."""
    now = {t.number: t for t in after}
    for trial in before:
        if trial.state.is_finished():
            assert trial.number in now, f"finished trial {trial.number} was lost"
            assert _record(now[trial.number]) == _record(trial)


def _assert_stale_and_retried(
    lost: hyperdial.FrozenTrial, trials: list[hyperdial.FrozenTrial]
) -> hyperdial.FrozenTrial:
    """``lost`` was failed as stale and its retry completed with its parameters."""
    failed = trials[lost.number]
    assert failed.state == TrialState.FAIL
    assert (failed.fail_reason or "").startswith("stale")
    assert failed.system_attrs["stale"] is True
    assert failed.values is None
    retry = trials[failed.system_attrs["retried_as"]]
    assert retry.number > lost.number
    assert retry.system_attrs["retry_of"] == lost.number
    assert retry.system_attrs["retry_count"] == 1
    assert retry.state == TrialState.COMPLETE
    for name, value in lost.params.items():
        assert retry.params[name] == value
    return retry


# -- 1. many processes ------------------------------------------------------------------------


@pytest.mark.slow
def test_32_processes_give_800_contiguous_complete_trials(backend: tuple[str, str]) -> None:
    url, name = backend
    study = hyperdial.create_study(storage=url, study_name=name, sampler=RandomSampler(seed=0))
    # Trials of 5-30 ms: long enough that every process gets its share of the 800 (with an
    # instant objective the first processes would run them all before the last started),
    # and uneven, so that they finish out of order.
    study.optimize(objectives.jittery, n_trials=800, n_jobs=32, show_progress_bar=False)
    trials = _trials(url, name)
    _assert_contiguous(trials)
    assert len(trials) == 800
    for trial in trials:
        assert trial.state == TrialState.COMPLETE, (trial.number, trial.fail_reason)
        x, y, kind = trial.params["x"], trial.params["y"], trial.params["kind"]
        assert trial.value == (x - 1.0) ** 2 + abs(y - 3) + (0.5 if kind == "b" else 0.0)
    workers = {t.system_attrs["worker"] for t in trials}
    assert len(workers) >= 16, f"only {len(workers)} of 32 processes ran trials"


# -- 2. enqueued trials -----------------------------------------------------------------------


def test_each_enqueued_trial_is_run_once_by_competing_workers(
    backend: tuple[str, str], tmp_path: Path
) -> None:
    url, name = backend
    study = hyperdial.create_study(storage=url, study_name=name, sampler=RandomSampler(seed=0))
    points = [{"x": -5.0 + i / 4, "y": i % 11} for i in range(40)]
    for point in points:
        study.enqueue_trial(point)
    log = tmp_path / "evaluated.log"

    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_int("y", 0, 10)
        # One append per evaluation, atomic between processes.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{trial.number} {x!r} {y} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        time.sleep(0.01)
        return x + y

    study.optimize(objective, n_trials=40, n_jobs=8, show_progress_bar=False)
    evaluations = [line.split() for line in log.read_text().splitlines()]
    assert len(evaluations) == 40, "some enqueued point was evaluated twice or not at all"
    # Enqueued trials are numbered in order; each number ran once, with its own point.
    assert sorted(int(number) for number, *_ in evaluations) == list(range(40))
    for number, x, y, _ in evaluations:
        assert {"x": float(x), "y": int(y)} == points[int(number)]
    assert len({pid for *_, pid in evaluations}) >= 2, "the workers did not compete"
    trials = _trials(url, name)
    assert len(trials) == 40
    for trial in trials:
        assert trial.state == TrialState.COMPLETE
        assert trial.params == points[trial.number]


# -- 3. killed workers, lapsed leases, late results ----------------------------------------


@pytest.mark.slow
def test_killed_workers_trial_goes_stale_and_is_retried_with_its_params(sqlite_url: str) -> None:
    study = hyperdial.create_study(
        storage=sqlite_url, study_name="s", sampler=RandomSampler(seed=0), retries=1, **LEASES
    )
    worker = _start_script("long-trial", sqlite_url, "s")
    try:
        x = float(_read_line(worker))
        # While the worker lives its lease is renewed: a trial started well past the
        # grace period does not fail it.
        time.sleep(2.5 * GRACE)
        probe = study.ask()
        study.tell(probe, 0.0)
        assert study.trials[0].state == TrialState.RUNNING
        os.kill(worker.pid, signal.SIGKILL)  # the worker only: its keeper must notice
        worker.communicate(timeout=PATIENCE_S)
    finally:
        _kill_group(worker)
    time.sleep(GRACE + 0.5)

    def objective(trial: hyperdial.Trial) -> float:
        return trial.suggest_float("x", -10.0, 10.0)

    study.optimize(objective, n_trials=2, show_progress_bar=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL] + [TrialState.COMPLETE] * 3
    lost = trials[0]
    assert lost.params == {"x": x}
    retry = _assert_stale_and_retried(lost, trials)
    assert retry.number == 2
    assert retry.value == x
    assert retry.user_attrs == {"pid": worker.pid}


def test_late_report_and_tell_after_the_lease_lapsed_are_rejected(sqlite_url: str) -> None:
    study = hyperdial.create_study(
        storage=sqlite_url, study_name="s", sampler=RandomSampler(seed=0), **LEASES
    )
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.report(x, 0)
    _kill_keeper(study)  # nobody renews the lease any more
    time.sleep(GRACE + 0.5)

    other = hyperdial.load_study(study_name="s", storage=sqlite_url, sampler=RandomSampler(seed=1))
    retry = other.ask()  # fails trial 0 as stale and claims its retry
    assert retry.number == 1
    assert retry.suggest_float("x", 0.0, 1.0) == x
    other.tell(retry, x)

    with pytest.raises(StaleTrialError):
        trial.report(0.5, 1)
    with pytest.raises(StaleTrialError):
        study.tell(trial, 0.5)
    trials = other.trials
    lost = trials[0]
    assert lost.state == TrialState.FAIL
    assert lost.values is None
    assert lost.intermediate_values == {0: x}
    _assert_stale_and_retried(lost, trials)
    assert trials[1].value == x
    assert len(trials) == 2


def test_optimize_carries_on_after_its_trial_went_stale(sqlite_url: str) -> None:
    study = hyperdial.create_study(
        storage=sqlite_url, study_name="s", sampler=RandomSampler(seed=0), **LEASES
    )
    other = hyperdial.load_study(study_name="s", storage=sqlite_url, sampler=RandomSampler(seed=1))

    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 0:
            trial.report(x, 0)
            # This worker stalls past its grace period (its keeper is gone, as if it were
            # cut off from the storage); another worker fails the trial and runs its retry.
            _kill_keeper(trial.study)
            time.sleep(GRACE + 0.5)
            retry = other.ask()
            other.tell(retry, retry.suggest_float("x", 0.0, 1.0))
        return x

    seen: list[tuple[int, TrialState]] = []
    study.optimize(
        objective,
        n_trials=3,
        callbacks=[lambda _, frozen: seen.append((frozen.number, frozen.state))],
        show_progress_bar=False,
    )
    trials = study.trials
    assert seen == [(0, TrialState.FAIL), (2, TrialState.COMPLETE), (3, TrialState.COMPLETE)]
    retry = _assert_stale_and_retried(trials[0], trials)
    assert retry.number == 1
    assert retry.value == trials[0].params["x"]
    assert [t.state for t in trials[2:]] == [TrialState.COMPLETE] * 2


def _sleeping(trial: hyperdial.Trial) -> float:
    time.sleep(1.5 * GRACE)
    return 0.0


def _loop_size(seconds: float) -> int:
    """How long a ``range`` must be for ``sum`` over it to take about ``seconds``.

    The fastest of several timings counts: another process starting meanwhile (the reaper,
    the lease keeper) slows some of them, which would make the loop too short.
    """
    n = 2_000_000
    best = math.inf
    for _ in range(7):
        start = time.perf_counter()
        sum(range(n))
        best = min(best, time.perf_counter() - start)
    return int(n * seconds / best)


@pytest.mark.slow
def test_leases_are_renewed_while_the_objective_holds_the_gil(
    sqlite_url: str, tmp_path: Path
) -> None:
    study = hyperdial.create_study(
        storage=sqlite_url, study_name="s", sampler=RandomSampler(seed=0), retries=0, **LEASES
    )
    stop = tmp_path / "stop"
    reaper = _start_script("reaper", sqlite_url, "s", str(stop))
    try:
        # The keeper starts with this process's first trial, and its first renewal waits
        # for its interpreter to start: on a busy machine, longer than this short grace
        # period. Start it with a trial that does not hold the GIL.
        study.optimize(_sleeping, n_trials=1, show_progress_bar=False)
        assert _read_line(reaper) == "started"
        # Twice the 2 * GRACE the trial must outlast, so that a timing taken while the
        # machine was busier than during the loop still leaves it long enough.
        n = _loop_size(4 * GRACE)

        def objective(trial: hyperdial.Trial) -> float:
            x = trial.suggest_float("x", 0.0, 1.0)
            trial.set_user_attr("holds_gil", True)
            sum(range(n))  # one C call: no other thread of this process runs meanwhile
            return x

        study.optimize(objective, n_trials=1, show_progress_bar=False)
        stop.touch()
        _, stderr = reaper.communicate(timeout=PATIENCE_S)
        assert reaper.returncode == 0, stderr
    finally:
        _kill_group(reaper)
    trials = study.trials
    (hog,) = [t for t in trials if t.user_attrs.get("holds_gil")]
    assert hog.state == TrialState.COMPLETE, hog.fail_reason
    assert hog.datetime_start is not None and hog.datetime_complete is not None
    assert hog.datetime_complete - hog.datetime_start > datetime.timedelta(seconds=2 * GRACE)
    # The other process kept looking for stale trials all along.
    during = [
        t
        for t in trials
        if "r" in t.params
        and t.datetime_start is not None
        and hog.datetime_start < t.datetime_start < hog.datetime_complete
    ]
    assert len(during) >= 3


# -- 4. killed writers --------------------------------------------------------------------


def _write_until_killed(url: str) -> None:
    os.setsid()  # a process group with the lease keeper it starts: killed together
    study = hyperdial.load_study(study_name="s", storage=url, sampler=RandomSampler())
    study.optimize(objectives.trivial, n_trials=1_000_000, show_progress_bar=False)


@pytest.mark.slow
def test_sqlite_survives_writers_killed_mid_write(sqlite_url: str, tmp_path: Path) -> None:
    hyperdial.create_study(storage=sqlite_url, study_name="s", retries=0, **LEASES)
    fork = multiprocessing.get_context("fork")  # starts in milliseconds: no imports
    rng = random.Random()
    completed = []
    for _ in range(5):
        n_before = len(_trials(sqlite_url, "s"))
        writers = [fork.Process(target=_write_until_killed, args=(sqlite_url,)) for _ in range(4)]
        for writer in writers:
            writer.start()
        try:
            _wait_until(lambda: len(_trials(sqlite_url, "s")) > n_before, "the first write")  # noqa: B023
            time.sleep(rng.uniform(0.2, 1.0))
            snapshot = _trials(sqlite_url, "s")
        finally:
            for writer in writers:  # all at once, then reap them
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(writer.pid, signal.SIGKILL)
                writer.kill()
            for writer in writers:
                writer.join()
        assert all(writer.exitcode == -signal.SIGKILL for writer in writers)
        with contextlib.closing(sqlite3.connect(tmp_path / "study.db")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        trials = _trials(sqlite_url, "s")
        _assert_contiguous(trials)
        _assert_kept(snapshot, trials)
        completed.append(sum(t.state == TrialState.COMPLETE for t in snapshot))
    assert completed[-1] > completed[0], "the writers should have completed trials"
    # The trials the writers left RUNNING go stale; the next worker fails them.
    time.sleep(GRACE + 0.5)
    study = hyperdial.load_study(study_name="s", storage=sqlite_url, sampler=RandomSampler())
    study.optimize(objectives.trivial, n_trials=1, show_progress_bar=False)
    trials = study.trials
    _assert_contiguous(trials)
    for trial in trials:
        assert trial.state in (TrialState.COMPLETE, TrialState.FAIL)
        if trial.state == TrialState.FAIL:
            assert (trial.fail_reason or "").startswith("stale")


# -- 5. PostgreSQL restarted ----------------------------------------------------------------


def _postgres_address() -> tuple[str, int]:
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    return parts.hostname or "localhost", parts.port or 5432


def _postgres_cluster() -> list[str]:
    """Return ``[version, name]`` of the local cluster serving the tests, or skip."""
    host, port = _postgres_address()
    if host not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"PostgreSQL at {host} is not on this machine; it cannot be restarted")
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster (Debian's postgresql-common)")
    user = pwd.getpwuid(os.geteuid()).pw_name
    if user not in ("root", "postgres"):
        pytest.skip(f"restarting PostgreSQL needs root or postgres; this is {user!r}")
    listed = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    )
    for line in listed.stdout.splitlines():
        version, name, cluster_port, status, *_ = line.split()
        if int(cluster_port) == port and status.startswith("online"):
            return [version, name]
    pytest.skip(f"no online cluster listens on port {port}:\n{listed.stdout}")


def _postgres_ready() -> bool:
    host, port = _postgres_address()
    ready = subprocess.run(["pg_isready", "-h", host, "-p", str(port)], capture_output=True)
    return ready.returncode == 0


def _ensure_postgres_up(cluster: list[str]) -> None:
    """Wait for PostgreSQL, starting it if it stayed down, so later tests find it."""
    with contextlib.suppress(AssertionError):
        _wait_until(_postgres_ready, "PostgreSQL to accept connections", timeout=30)
        return
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "start"]
    subprocess.run(command, capture_output=True, timeout=PATIENCE_S)
    _wait_until(_postgres_ready, "PostgreSQL to accept connections")


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restart_mid_run_loses_nothing(postgres_study: str) -> None:
    import psycopg

    cluster = _postgres_cluster()
    n_trials = 120
    study = hyperdial.create_study(
        storage=POSTGRES_URL, study_name=postgres_study, sampler=RandomSampler(seed=0)
    )
    # The last trials wait for the restart to end, so the run outlasts it.
    restarted = multiprocessing.get_context("fork").Event()

    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(0.05)
        if trial.number >= n_trials - 10:
            restarted.wait(timeout=PATIENCE_S)
        return x

    watched: dict[str, Any] = {}

    def restart() -> None:
        try:
            _wait_until(
                lambda: (
                    sum(t.state.is_finished() for t in _trials(POSTGRES_URL, postgres_study)) >= 10
                ),
                "10 finished trials",
            )
            watched["before"] = _trials(POSTGRES_URL, postgres_study)
            command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"]
            subprocess.run(command, capture_output=True, check=True, timeout=PATIENCE_S)
            _wait_until(_postgres_ready, "PostgreSQL to accept connections")
        except BaseException as error:
            watched["error"] = error
        finally:
            restarted.set()

    thread = threading.Thread(target=restart)
    thread.start()
    try:
        study.optimize(objective, n_trials=n_trials, n_jobs=2, show_progress_bar=False)
    finally:
        thread.join(timeout=2 * PATIENCE_S)
        _ensure_postgres_up(cluster)
    assert "error" not in watched, watched.get("error")
    libpq_url = "postgresql://" + POSTGRES_URL.split("://", 1)[1]
    with psycopg.connect(libpq_url, connect_timeout=10) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    server_start = row[0].astimezone(datetime.timezone.utc).replace(tzinfo=None)
    trials = _trials(POSTGRES_URL, postgres_study)
    _assert_contiguous(trials)
    assert len(trials) == n_trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    _assert_kept(watched["before"], trials)
    # Trials finished on both sides of the restart.
    finished = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    assert min(finished) < server_start < max(finished)


# -- 6. objectives that fail ----------------------------------------------------------------


def test_bad_results_fail_their_trial_and_the_workers_go_on(sqlite_url: str) -> None:
    outcomes: list[tuple[object, str]] = [
        (ValueError("diverged"), "ValueError: diverged"),
        (float("nan"), "returned NaN"),
        (float("inf"), "returned inf"),
        (-float("inf"), "returned -inf"),
        (None, "returned None"),
        ("0.5", "returned '0.5' of type str"),
    ]

    def objective(trial: hyperdial.Trial) -> object:
        x = trial.suggest_float("x", 0.0, 1.0)
        kind = trial.number % (len(outcomes) + 1)
        if kind == len(outcomes):
            return x
        result = outcomes[kind][0]
        if isinstance(result, Exception):
            raise result
        return result

    study = hyperdial.create_study(storage=sqlite_url, sampler=RandomSampler(seed=0))
    n_trials = 3 * (len(outcomes) + 1)
    study.optimize(
        objective, n_trials=n_trials, n_jobs=2, catch=(ValueError,), show_progress_bar=False
    )
    trials = study.trials
    _assert_contiguous(trials)
    assert len(trials) == n_trials
    for trial in trials:
        kind = trial.number % (len(outcomes) + 1)
        assert "x" in trial.params
        if kind == len(outcomes):
            assert trial.state == TrialState.COMPLETE
            assert trial.value == trial.params["x"]
            continue
        assert trial.state == TrialState.FAIL
        assert trial.values is None
        assert outcomes[kind][1] in (trial.fail_reason or ""), trial.fail_reason
        if kind == 0:
            assert "Traceback" in trial.system_attrs["fail_traceback"]


def _interrupted_at_5(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    time.sleep(0.02)
    if trial.number == 5:
        raise KeyboardInterrupt
    return x


def test_keyboard_interrupt_in_a_worker_fails_its_trial_and_stops(sqlite_url: str) -> None:
    study = hyperdial.create_study(storage=sqlite_url, sampler=RandomSampler(seed=0))
    with contextlib.suppress(KeyboardInterrupt):
        study.optimize(_interrupted_at_5, n_trials=100, n_jobs=2, show_progress_bar=False)
    trials = study.trials
    _assert_contiguous(trials)
    assert len(trials) < 100, "the run went on after the interruption"
    for trial in trials:
        if trial.number == 5:
            assert trial.state == TrialState.FAIL
            assert "interrupted (KeyboardInterrupt)" in (trial.fail_reason or "")
        else:
            assert trial.state == TrialState.COMPLETE, (trial.number, trial.fail_reason)


def test_keyboard_interrupt_in_a_worker_reaches_the_caller(sqlite_url: str) -> None:
    study = hyperdial.create_study(storage=sqlite_url, sampler=RandomSampler(seed=0))
    with pytest.raises(KeyboardInterrupt):
        study.optimize(_interrupted_at_5, n_trials=100, n_jobs=2, show_progress_bar=False)


@pytest.mark.slow
def test_ctrl_c_on_the_cli_with_workers_leaves_nothing_running(sqlite_url: str) -> None:
    run = _start_cli(
        "optimize",
        "reliability_objectives:reporting_slow",
        "--study",
        "s",
        "--storage",
        sqlite_url,
        "--n-trials",
        "1000",
        "--n-jobs",
        "2",
    )
    try:
        _wait_until(
            lambda: _count_finished(sqlite_url, "s") >= 4 or run.poll() is not None,
            "4 finished trials",
        )
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, stderr = run.communicate(timeout=PATIENCE_S)
    finally:
        _kill_group(run)
    assert run.returncode == 130, stderr
    trials = _trials(sqlite_url, "s")
    _assert_contiguous(trials)
    states = [t.state for t in trials]
    assert TrialState.RUNNING not in states
    assert states.count(TrialState.COMPLETE) >= 4
    for trial in trials:
        if trial.state == TrialState.FAIL:
            assert "interrupted" in (trial.fail_reason or "")


def _count_finished(url: str, name: str) -> int:
    try:
        return sum(t.state.is_finished() for t in _trials(url, name))
    except StudyNotFoundError:
        return 0


# -- 7. seeded samplers in several workers ----------------------------------------------


SAMPLERS: dict[str, Callable[[], Sampler]] = {
    "tpe": lambda: TPESampler(seed=0),
    "random": lambda: RandomSampler(seed=0),
    "auto": lambda: default_sampler(seed=0),
    "qmc": lambda: QMCSampler(seed=0),
}


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_one_seeded_sampler_in_four_workers_never_repeats_a_point(
    kind: str, sqlite_url: str
) -> None:
    study = hyperdial.create_study(storage=sqlite_url, sampler=SAMPLERS[kind]())

    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_float("y", 0.0, 1.0)
        n = trial.suggest_int("n", 0, 1000)
        # Long enough that every worker takes part (an instant objective lets the first
        # worker run all 24 trials before the others start).
        time.sleep(0.02)
        return x * x + y + n / 1000

    n_trials = 24
    study.optimize(objective, n_trials=n_trials, n_jobs=4, show_progress_bar=False)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    points = {(t.params["x"], t.params["y"], t.params["n"]) for t in trials}
    assert len(points) == n_trials
    assert len({t.params["x"] for t in trials}) == n_trials
    assert len({t.system_attrs["worker"] for t in trials}) >= 2


# -- 8. everything killed, then resumed --------------------------------------------------


@pytest.mark.slow
def test_killed_cli_run_resumes_where_it_was(sqlite_url: str) -> None:
    def optimize(n_trials: int) -> subprocess.Popen[str]:
        return _start_cli(
            "optimize",
            "reliability_objectives:reporting_slow",
            "--study",
            "s",
            "--storage",
            sqlite_url,
            "--sampler",
            "random",
            "--seed",
            "0",
            "--n-jobs",
            "2",
            "--n-trials",
            str(n_trials),
            "--heartbeat-interval",
            str(HEARTBEAT),
            "--grace-period",
            str(GRACE),
        )

    first = optimize(1000)
    try:
        _wait_until(lambda: _count_finished(sqlite_url, "s") >= 6, "6 finished trials")
    finally:
        _kill_group(first)  # the parent and both workers, at once
    before = _trials(sqlite_url, "s")
    running = [t for t in before if t.state == TrialState.RUNNING]
    assert running, "the kill should catch trials mid-run"
    time.sleep(GRACE + 0.5)  # their leases run out

    second = optimize(6)
    _, stderr = second.communicate(timeout=PATIENCE_S)
    assert second.returncode == 0, stderr
    assert "continuing study 's'" in stderr
    after = _trials(sqlite_url, "s")
    _assert_contiguous(after)
    _assert_kept(before, after)
    # The retries of the lost trials come first, then new trials.
    assert len(after) == len(before) + 6
    for lost in running:
        _assert_stale_and_retried(lost, after)
    assert all(t.state == TrialState.COMPLETE for t in after[len(before) :])
    assert TrialState.RUNNING not in {t.state for t in after}


# -- 10. reproducible runs ---------------------------------------------------------------


def _run_reproducibly(url: str, name: str) -> list[Record]:
    study = hyperdial.create_study(
        storage=url, study_name=name, sampler=TPESampler(seed=0, n_startup_trials=4)
    )
    study.optimize(
        objectives.jittery, n_trials=24, n_jobs=4, reproducible=True, show_progress_bar=False
    )
    trials = study.trials
    assert sum(t.system_attrs.get("sampler") == "TPE" for t in trials) >= 16, "TPE's model"
    return [_record(t) for t in trials]


@pytest.mark.slow
def test_reproducible_runs_with_four_workers_give_the_same_trials(sqlite_url: str) -> None:
    first = _run_reproducibly(sqlite_url, "first")
    second = _run_reproducibly(sqlite_url, "second")
    assert [number for number, *_ in first] == list(range(24))
    assert all(state == TrialState.COMPLETE for _, state, *_ in first)
    assert first == second


@pytest.mark.slow
def test_reproducible_cli_processes_give_the_same_trials(sqlite_url: str) -> None:
    def run_pair(name: str) -> list[Record]:
        args = [
            "optimize",
            "reliability_objectives:jittery",
            "--study",
            name,
            "--storage",
            sqlite_url,
            "--sampler",
            "tpe",
            "--seed",
            "0",
            "--reproducible",
            "--workers-total",
            "2",
            "--n-trials",
            "10",
        ]
        pair = [_start_cli(*args) for _ in range(2)]
        try:
            for process in pair:
                _, stderr = process.communicate(timeout=PATIENCE_S)
                assert process.returncode == 0, stderr
        finally:
            for process in pair:
                _kill_group(process)
        trials = _trials(sqlite_url, name)
        assert len({t.system_attrs["worker"] for t in trials}) == 2
        assert any(t.system_attrs.get("sampler") == "TPE" for t in trials), "TPE's model"
        return [_record(t) for t in trials]

    first = run_pair("first")
    second = run_pair("second")
    assert [number for number, *_ in first] == list(range(20))
    assert first == second
