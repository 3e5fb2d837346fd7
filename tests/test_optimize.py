"""optimize with worker processes on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.samplers import RandomSampler

POSTGRES_URL = os.environ.get(
    "HYPERDIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def trivial(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_int("y", 0, 10)
    return x * x + y


def brief(trial: hyperdial.Trial) -> float:
    """``trivial`` lasting 2 ms: long enough that every worker gets some of the trials."""
    time.sleep(0.002)
    return trivial(trial)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/study.db"
    else:
        yield POSTGRES_URL


@pytest.fixture()
def study_name(storage_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    storage = hyperdial.storage.get_storage(storage_url)
    with contextlib.suppress(hyperdial.exceptions.StudyNotFoundError):
        hyperdial.delete_study(study_name=name, storage=storage)
    storage.remove_session()


def test_four_processes_give_contiguous_complete_trials(storage_url: str, study_name: str) -> None:
    study = hyperdial.create_study(
        storage=storage_url, study_name=study_name, sampler=RandomSampler(seed=0)
    )
    study.optimize(brief, n_trials=200, n_jobs=4, show_progress_bar=False)
    trials = study.trials
    assert len(trials) == 200
    assert sorted(t.number for t in trials) == list(range(200))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    workers = {t.system_attrs["worker"] for t in trials}
    assert len(workers) >= 2, "trials should come from several processes"
    # One seeded sampler copied into every worker still proposes distinct points.
    assert len({(t.params["x"], t.params["y"]) for t in trials}) == 200


def test_worker_exception_is_raised_in_parent(tmp_path: Path) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number == 3:
            raise ValueError("bad batch size")
        time.sleep(0.01)
        return 1.0

    study = hyperdial.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ValueError, match="bad batch size"):
        study.optimize(objective, n_trials=100, n_jobs=2, show_progress_bar=False)
    states = {t.number: t.state for t in study.trials}
    assert states[3] == TrialState.FAIL
    assert TrialState.RUNNING not in states.values()
    assert len(states) < 100


def test_killed_worker_trial_is_failed_not_left_running(tmp_path: Path) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    study = hyperdial.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    study.optimize(objective, n_trials=12, n_jobs=2, show_progress_bar=False)
    trials = study.trials
    assert TrialState.RUNNING not in {t.state for t in trials}
    dead = trials[2]
    assert dead.state == TrialState.FAIL
    assert "died (exit code -9)" in (dead.fail_reason or "")
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 11
    # The parent failed it at once, not after the lease ran out, and queued a retry; it
    # runs if a worker asks for a trial after that, else it waits for the next run.
    retry = trials[dead.system_attrs["retried_as"]]
    assert retry.system_attrs["retry_of"] == 2
    assert retry.state in (TrialState.COMPLETE, TrialState.WAITING)


def test_stop_from_a_worker_callback_stops_all_workers(tmp_path: Path) -> None:
    def callback(study: hyperdial.Study, trial: hyperdial.FrozenTrial) -> None:
        if trial.number >= 5:
            study.stop()

    study = hyperdial.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    study.optimize(trivial, n_trials=500, n_jobs=2, callbacks=[callback], show_progress_bar=False)
    assert 6 <= len(study.trials) < 50


def test_grid_with_processes_runs_each_point_once(tmp_path: Path) -> None:
    grid = {"x": [-2.0, -1.0, 0.0, 1.0, 2.0], "y": [0, 5, 10]}
    study = hyperdial.create_study(
        storage=f"sqlite:///{tmp_path}/s.db", sampler=hyperdial.samplers.GridSampler(grid)
    )
    study.optimize(trivial, n_jobs=3, show_progress_bar=False)
    points = sorted((t.params["x"], t.params["y"]) for t in study.trials)
    assert points == sorted((x, y) for x in grid["x"] for y in grid["y"])
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_ctrl_c_stops_workers_and_leaves_nothing_running(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import time, hyperdial

            def objective(trial):
                trial.suggest_float("x", 0, 1)
                time.sleep(0.2)
                return 1.0

            study = hyperdial.create_study(storage="sqlite:///{db}", study_name="s")
            print("started", flush=True)
            study.optimize(objective, n_trials=1000, n_jobs=2, show_progress_bar=False)
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"started"
    time.sleep(2.0)
    # A terminal's Ctrl-C reaches every process of the foreground group.
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert b"KeyboardInterrupt" in stderr
    study = hyperdial.load_study(study_name="s", storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    assert states.count(TrialState.COMPLETE) >= 2
    interrupted = [t for t in study.trials if t.state == TrialState.FAIL]
    assert all("interrupted" in (t.fail_reason or "") for t in interrupted)
