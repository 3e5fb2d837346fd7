"""Leases, stale trials and retries; budgets across workers; reproducible parallel runs."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hyperdial
from hyperdial import TrialState
from hyperdial._lease import LEASE_OPTIONS_ATTR, LeaseOptions
from hyperdial.cli import main
from hyperdial.exceptions import InvalidValueError, StaleTrialError
from hyperdial.samplers import RandomSampler, TPESampler

FAST = {"heartbeat_interval": 0.1, "grace_period": 0.6}


def _study(tmp_path: Path, **kwargs: Any) -> hyperdial.Study:
    return hyperdial.create_study(
        storage=f"sqlite:///{tmp_path}/s.db",
        study_name="s",
        load_if_exists=True,
        sampler=RandomSampler(seed=0),
        **kwargs,
    )


def _kill_keeper(study: hyperdial.Study) -> None:
    assert study._keeper is not None
    os.kill(study._keeper.pid, signal.SIGKILL)
    study._keeper.close()  # reaps it


def _wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"heartbeat_interval": 0}, "heartbeat_interval must be a number of seconds > 0"),
        ({"grace_period": -1}, "grace_period must be a number of seconds > 0"),
        ({"heartbeat_interval": 10, "grace_period": 5}, "longer than heartbeat_interval"),
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"retries": 1.5}, "retries must be an integer >= 0"),
    ],
)
def test_bad_lease_options_are_refused_before_anything_is_stored(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        _study(tmp_path, **kwargs)
    assert hyperdial.list_studies(f"sqlite:///{tmp_path}/s.db") == []


def test_lease_options_are_stored_with_the_study_and_can_be_overridden(tmp_path: Path) -> None:
    study = _study(tmp_path, heartbeat_interval=2, grace_period=20, retries=3)
    attrs = study.storage.get_study_system_attrs(study._study_id)
    assert LeaseOptions.from_json(attrs[LEASE_OPTIONS_ATTR]) == LeaseOptions(2, 20, 3)
    loaded = hyperdial.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/s.db")
    assert loaded._leases == LeaseOptions(2, 20, 3)
    overridden = hyperdial.load_study(
        study_name="s", storage=f"sqlite:///{tmp_path}/s.db", retries=0
    )
    assert overridden._leases == LeaseOptions(2, 20, 0)
    # An override applies to that process only.
    assert hyperdial.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/s.db")._leases == (
        LeaseOptions(2, 20, 3)
    )


def test_a_study_without_options_uses_the_defaults(tmp_path: Path) -> None:
    assert _study(tmp_path)._leases == LeaseOptions()


# -- renewal, expiry, retries -------------------------------------------------------------------


def test_keeper_renews_a_long_trial(tmp_path: Path) -> None:
    study = _study(tmp_path, **FAST)
    trial = study.ask()
    other = _study(tmp_path)
    time.sleep(1.5)  # more than twice the grace period
    other._reap_stale_trials(now=True)
    assert study.storage.get_trial(trial.trial_id).state == TrialState.RUNNING
    study.tell(trial, 1.0)
    assert other.trials[0].state == TrialState.COMPLETE


def test_dead_keeper_lets_the_lease_expire_and_the_trial_is_retried(tmp_path: Path) -> None:
    study = _study(tmp_path, **FAST)
    trial = study.ask()
    x = trial.suggest_float("x", 0, 1)
    # Parameters of a leased trial reach the storage shortly after they are suggested.
    _wait_until(lambda: study.storage.get_trial(trial.trial_id).params == {"x": x})
    _kill_keeper(study)  # as when the worker dies
    other = _study(tmp_path, **FAST)
    time.sleep(0.8)
    other._reap_stale_trials(now=True)
    failed = other.trials[0]
    assert failed.state == TrialState.FAIL
    assert failed.fail_reason is not None and failed.fail_reason.startswith("stale")
    retry = other.ask()
    assert retry.number == failed.system_attrs["retried_as"] == 1
    assert retry.suggest_float("x", 0, 1) == x
    other.tell(retry, 2.0)
    assert other.trials[1].system_attrs["retry_of"] == 0

    # The lost worker's late tell is refused with a typed error and changes nothing.
    with pytest.raises(StaleTrialError, match="stale"):
        study.tell(trial, 0.5)
    stored = study.storage.get_trial(trial.trial_id)
    assert stored.state == TrialState.FAIL and stored.values is None


def test_retries_are_bounded(tmp_path: Path) -> None:
    study = _study(tmp_path, retries=0, **FAST)
    study.ask(lease=True)
    _kill_keeper(study)
    time.sleep(0.8)
    study._reap_stale_trials(now=True)
    [failed] = study.trials
    assert failed.state == TrialState.FAIL and "retried_as" not in failed.system_attrs


def test_a_trial_asked_without_lease_never_goes_stale(tmp_path: Path) -> None:
    study = _study(tmp_path, **FAST)
    study.ask(lease=False)
    assert study._keeper is None
    time.sleep(0.8)
    study._reap_stale_trials(now=True)
    assert study.trials[0].state == TrialState.RUNNING


def test_in_memory_studies_start_no_keeper() -> None:
    study = hyperdial.create_study()
    study.tell(study.ask(), 1.0)
    assert study._keeper is None


def test_optimize_survives_losing_its_trial_to_another_worker(tmp_path: Path) -> None:
    """A worker cut off past the grace period gets StaleTrialError and carries on."""
    reaper = _study(tmp_path, **FAST)

    def objective(trial: hyperdial.Trial) -> float:
        if trial.number == 0:
            # Simulate a worker cut off from the storage: its lease lapses and another
            # worker fails the trial while the objective still runs.
            trial.study.storage.renew_leases([trial.trial_id], 0.0)
            time.sleep(0.05)
            reaper._reap_stale_trials(now=True)
        return 1.0

    study = _study(tmp_path, **FAST)
    study.optimize(objective, n_trials=3, show_progress_bar=False)
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.FAIL
    assert study.trials[0].fail_reason.startswith("stale")  # type: ignore[union-attr]
    assert states.count(TrialState.COMPLETE) == 2  # the retry and one more trial


# -- budgets --------------------------------------------------------------------------------


def test_max_trials_bounds_the_study_across_calls_and_processes(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress_bar=False)
    study.optimize(
        lambda t: t.suggest_float("x", 0, 1),
        n_trials=100,
        max_trials=10,
        n_jobs=2,
        show_progress_bar=False,
    )
    assert len(study.trials) == 10
    study.optimize(lambda t: 1.0, max_trials=10, n_trials=5, show_progress_bar=False)
    assert len(study.trials) == 10


def test_max_trials_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="max_trials must be an integer >= 0"):
        _study(tmp_path).optimize(lambda t: 1.0, max_trials=-1)


def test_cli_workers_share_max_trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "objective.py").write_text(
        "def f(trial):\n    return trial.suggest_float('x', 0, 1)\n"
    )
    for _ in range(2):
        result = CliRunner().invoke(
            main,
            ["optimize", "objective:f", "--study", "cap", "--max-trials", "4", "--seed", "1"],
        )
        assert result.exit_code == 0, result.output
    study = hyperdial.load_study(study_name="cap", storage="sqlite:///hyperdial.db")
    assert len(study.trials) == 4


# -- reproducible runs -------------------------------------------------------------------------


def _noisy(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_int("y", 0, 10)
    time.sleep(0.002 * (trial.number % 4))  # uneven durations reorder the finishing
    return (x - 1) ** 2 + y


def _run(path: Path, n_jobs: int, reproducible: bool | int) -> list[tuple[Any, ...]]:
    study = hyperdial.create_study(
        storage=f"sqlite:///{path}", sampler=TPESampler(seed=3, n_startup_trials=4)
    )
    study.optimize(
        _noisy, n_trials=16, n_jobs=n_jobs, reproducible=reproducible, show_progress_bar=False
    )
    return [(t.number, t.params, t.value) for t in study.trials]


def test_reproducible_runs_match_whatever_the_number_of_processes(tmp_path: Path) -> None:
    parallel = _run(tmp_path / "a.db", n_jobs=2, reproducible=True)
    again = _run(tmp_path / "b.db", n_jobs=2, reproducible=True)
    # One process with the same lag proposes exactly what two processes did.
    sequential = _run(tmp_path / "c.db", n_jobs=1, reproducible=2)
    assert parallel == again == sequential
    assert len({json.dumps(p, sort_keys=True) for _, p, _ in parallel}) == 16


def test_reproducible_lag_is_kept_by_the_study(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.optimize(lambda t: 1.0, n_trials=2, reproducible=3, show_progress_bar=False)
    with pytest.raises(InvalidValueError, match="reproducibly for 3 workers"):
        study.optimize(lambda t: 1.0, n_trials=2, reproducible=2, show_progress_bar=False)
    with pytest.raises(InvalidValueError, match="reproducible must be True, False or"):
        study.optimize(lambda t: 1.0, n_trials=2, reproducible=0)


# -- visibility -------------------------------------------------------------------------------


def test_cli_trials_shows_stale_and_retried_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    study = hyperdial.create_study(storage="sqlite:///hyperdial.db", study_name="v", **FAST)
    trial = study.ask()
    study.storage.renew_leases([trial.trial_id], 0.0)
    time.sleep(0.05)
    study._reap_stale_trials(now=True)
    result = CliRunner().invoke(main, ["trials", "v"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "stale" in result.output and "retried as #1" in result.output
    assert "retry of #0" in result.output
