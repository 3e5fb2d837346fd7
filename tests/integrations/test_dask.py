"""optimize(executor=...): trials as tasks of a Dask cluster of worker processes."""

from __future__ import annotations

import concurrent.futures
import functools
import importlib.util
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.exceptions import InvalidValueError, ObjectiveError
from hyperdial.samplers import RandomSampler

distributed = pytest.importorskip("distributed")


# -- objectives: module level, so that worker processes import them ------------------------


def quadratic(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    trial.set_user_attr("pid", os.getpid())
    time.sleep(0.05)  # long enough that both workers get trials
    return (x - 2) ** 2


def killed_once(marker: str, trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    trial.set_user_attr("pid", os.getpid())  # also stores x: a re-run continues with it
    if trial.number == 0 and not os.path.exists(marker):
        Path(marker).write_text(f"{os.getpid()} {x!r}")
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-trial
    time.sleep(0.05)
    return (x - 2) ** 2


class BadBatchError(ValueError):
    pass


def fails_on_two(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    if trial.number == 2:
        raise BadBatchError("bad batch size")
    time.sleep(0.05)
    return x


def stops_at_two(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    if trial.number == 2:
        trial.study.stop()  # on the worker: the client's study stops
    time.sleep(0.05)
    return x


def slow(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    time.sleep(0.05 if trial.number == 0 else 1.5)
    return x


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    # Worker processes are spawned with this process's sys.path; pytest imports this module
    # as ``integrations.test_dask`` without putting tests/ there, so add it for the workers
    # to import the objectives above.
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as dask_client,
        ):
            yield dask_client


@pytest.fixture()
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def _study(storage_url: str) -> hyperdial.Study:
    return hyperdial.create_study(storage=storage_url, sampler=RandomSampler(seed=0))


def _assert_recorded_once(study: hyperdial.Study, n_trials: int) -> None:
    trials = study.trials
    assert [t.number for t in trials] == list(range(n_trials))
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]


# -- tests ------------------------------------------------------------------------------------


def test_trials_run_on_the_workers(client: object, storage_url: str) -> None:
    study = _study(storage_url)
    study.optimize(quadratic, n_trials=8, executor=client, show_progress_bar=False)
    _assert_recorded_once(study, 8)
    trials = study.trials
    for trial in trials:
        assert trial.value == pytest.approx((trial.params["x"] - 2) ** 2)
    assert study.best_value == min(t.value for t in trials if t.value is not None)
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids
    assert len(pids) == 2, "both workers should have run trials"
    # A second call continues the same study, from its storage.
    study.optimize(quadratic, n_trials=3, executor=client, show_progress_bar=False)
    _assert_recorded_once(study, 11)


def test_objective_error_fails_the_trial_and_is_raised(client: object, storage_url: str) -> None:
    study = _study(storage_url)
    with pytest.raises(BadBatchError, match="bad batch size"):
        study.optimize(fails_on_two, n_trials=20, executor=client, show_progress_bar=False)
    trials = {t.number: t for t in study.trials}
    assert trials[2].state == TrialState.FAIL
    assert trials[2].fail_reason == "BadBatchError: bad batch size"
    assert "fails_on_two" in trials[2].system_attrs["fail_traceback"]
    assert all(t.state.is_finished() for t in trials.values())
    # No trial starts once the client has the error, but some may start between the
    # worker's tell and the result reaching the client (a cold worker may even take
    # seconds over trial 2 while the other runs many trials).
    failed_at = trials[2].datetime_complete
    assert failed_at is not None
    later = [t for t in trials.values() if t.datetime_start and t.datetime_start > failed_at]
    assert len(later) <= 2, "trials went on starting after the error"


def test_caught_error_fails_the_trial_and_the_study_goes_on(
    client: object, storage_url: str
) -> None:
    study = _study(storage_url)
    study.optimize(
        fails_on_two, n_trials=5, executor=client, catch=(ValueError,), show_progress_bar=False
    )
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] * 2 + [TrialState.FAIL] + [TrialState.COMPLETE] * 2


def test_callbacks_run_on_the_client_once_per_trial(client: object, storage_url: str) -> None:
    seen: list[tuple[int, int, TrialState]] = []

    def callback(study: hyperdial.Study, trial: hyperdial.FrozenTrial) -> None:
        seen.append((os.getpid(), trial.number, trial.state))

    study = _study(storage_url)
    study.optimize(
        quadratic, n_trials=6, executor=client, callbacks=[callback], show_progress_bar=False
    )
    assert sorted(number for _, number, _ in seen) == list(range(6))
    assert {pid for pid, _, _ in seen} == {os.getpid()}
    assert {state for _, _, state in seen} == {TrialState.COMPLETE}


def test_stop_from_a_callback_starts_no_more_trials(client: object, storage_url: str) -> None:
    def stop_from_trial_two(study: hyperdial.Study, trial: hyperdial.FrozenTrial) -> None:
        if trial.number >= 2:
            study.stop()

    study = _study(storage_url)
    study.optimize(
        quadratic,
        n_trials=20,
        executor=client,
        callbacks=[stop_from_trial_two],
        show_progress_bar=False,
    )
    trials = study.trials
    assert 3 <= len(trials) <= 5  # the trials in flight when it stopped finish
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_stop_from_the_objective_stops_the_client(client: object, storage_url: str) -> None:
    study = _study(storage_url)
    study.optimize(stops_at_two, n_trials=20, executor=client, show_progress_bar=False)
    trials = study.trials
    assert 3 <= len(trials) <= 5
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_interrupt_on_the_client_fails_the_trials_in_flight(
    client: object, storage_url: str
) -> None:
    def interrupt(study: hyperdial.Study, trial: hyperdial.FrozenTrial) -> None:
        raise KeyboardInterrupt

    study = _study(storage_url)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(
            slow, n_trials=10, executor=client, callbacks=[interrupt], show_progress_bar=False
        )
    # The first trial to finish interrupts; the other one in flight is failed as
    # interrupted (unless it finished before the client had looked: a loaded machine).
    trials = study.trials
    assert len(trials) == 2
    assert TrialState.COMPLETE in {t.state for t in trials}
    failed = [t for t in trials if t.state != TrialState.COMPLETE]
    for trial in failed:
        assert trial.state == TrialState.FAIL
        assert trial.fail_reason == "interrupted (KeyboardInterrupt)"
    if failed:
        # Dask cannot stop the cancelled task; when it tells, it finds the trial finished.
        time.sleep(1.7)
        assert study.trials[failed[0].number].state == TrialState.FAIL


def test_objective_the_workers_cannot_import_fails_clearly(
    client: object, storage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module loaded here from a file the workers cannot import.
    path = tmp_path / "client_only_objectives.py"
    path.write_text("def objective(trial):\n    return trial.suggest_float('x', 0, 1)\n")
    spec = importlib.util.spec_from_file_location("client_only_objectives", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "client_only_objectives", module)
    study = _study(storage_url)
    with pytest.raises(ObjectiveError, match="No module named 'client_only_objectives'"):
        study.optimize(
            module.objective,
            n_trials=4,
            executor=client,
            show_progress_bar=False,
        )
    trials = study.trials
    assert trials[0].state == TrialState.FAIL
    assert "could not load the objective" in (trials[0].fail_reason or "")
    assert all(t.state == TrialState.FAIL for t in trials)


# Last of the tests on the cluster: the killed worker restarts slowly.
def test_killed_worker_trial_is_recorded_once(
    client: object, storage_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    study = _study(storage_url)
    objective = functools.partial(killed_once, str(marker))
    study.optimize(objective, n_trials=6, executor=client, show_progress_bar=False)
    killed_pid, killed_x = marker.read_text().split()
    _assert_recorded_once(study, 6)
    first = study.trials[0]
    # Dask ran the task again on another worker, which finished the same trial with the
    # parameters the killed attempt had stored.
    assert first.user_attrs["pid"] != int(killed_pid)
    assert first.params["x"] == float(killed_x)
    assert first.value == pytest.approx((float(killed_x) - 2) ** 2)


def test_process_pool_executor(storage_url: str) -> None:
    study = _study(storage_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
            study.optimize(quadratic, n_trials=4, executor=pool, show_progress_bar=False)
    _assert_recorded_once(study, 4)
    assert os.getpid() not in {t.user_attrs["pid"] for t in study.trials}


def test_thread_pool_executor_with_progress_bar(storage_url: str) -> None:
    study = _study(storage_url)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        study.optimize(quadratic, n_trials=6, executor=pool, show_progress_bar=True)
    _assert_recorded_once(study, 6)
    assert {t.user_attrs["pid"] for t in study.trials} == {os.getpid()}


def test_bad_executor_is_refused(storage_url: str) -> None:
    study = _study(storage_url)
    with pytest.raises(InvalidValueError, match=r"distributed\.Client or a concurrent"):
        study.optimize(quadratic, n_trials=1, executor=object(), show_progress_bar=False)
    assert study.trials == []


def test_in_memory_storage_is_refused(client: object) -> None:
    study = hyperdial.create_study()
    with pytest.raises(InvalidValueError, match=r"sqlite:///.*PostgreSQL"):
        study.optimize(quadratic, n_trials=1, executor=client, show_progress_bar=False)
    assert study.trials == []


def test_module_imports_without_dask() -> None:
    script = """
import concurrent.futures, sys
sys.modules["distributed"] = None  # as if Dask were not installed
import hyperdial.integrations.dask as module
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    module._pool_for(pool)  # needs no Dask
try:
    module._pool_for(object())
except ImportError as error:
    print(error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'hyperdial[dask]'" in result.stdout
