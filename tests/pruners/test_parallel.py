"""Pruning with worker processes on a shared SQLite or PostgreSQL study."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.exceptions import StudyNotFoundError
from hyperdial.pruners import HyperbandPruner
from hyperdial.samplers import RandomSampler
from hyperdial.storage import Storage

POSTGRES_URL = os.environ.get(
    "HYPERDIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
N_STEPS = 10  # steps 0..9: rungs at 1 and 3, full length 9


def loss(x: float, step: int) -> float:
    # Every curve falls the same way, so trials rank by x at every step.
    return (x - 0.3) ** 2 + 1.0 / (step + 1)


def objective(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(N_STEPS):
        trial.report(loss(x, step), step)
        if trial.should_prune():
            raise hyperdial.TrialPruned()
    return loss(x, N_STEPS - 1)


def run_and_check(url: str, study_name: str, n_trials: int) -> None:
    storage = hyperdial.storage.get_storage(url)
    try:
        check(storage, study_name, n_trials)
    finally:
        storage.remove_session()


def check(storage: Storage, study_name: str, n_trials: int) -> None:
    study = hyperdial.create_study(
        storage=storage,
        study_name=study_name,
        sampler=RandomSampler(seed=7),
        pruner=HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
    )
    study.optimize(objective, n_trials=n_trials, n_jobs=2, show_progress_bar=False)
    trials = study.trials
    assert len(trials) == n_trials
    states = [t.state for t in trials]
    assert set(states) <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert states.count(TrialState.PRUNED) >= 0.3 * n_trials
    # The best configuration ranks first in its bracket at every rung: never stopped.
    best = min(trials, key=lambda t: abs(t.params["x"] - 0.3))
    assert best.state == TrialState.COMPLETE
    assert study.best_trial.number == best.number
    # Pruned trials stopped at a rung of their own bracket, never at the full length.
    pruner = HyperbandPruner(min_resource=1, max_resource=9)
    for trial in trials:
        if trial.state == TrialState.PRUNED:
            bracket = pruner.bracket_of(trial.number, 9)
            assert bracket < 2
            assert trial.last_step is not None and 3**bracket <= trial.last_step < 9


def test_hyperband_with_two_processes_on_sqlite(tmp_path: Path) -> None:
    run_and_check(f"sqlite:///{tmp_path}/x.db", "hyperband", n_trials=24)


@pytest.fixture()
def postgres_study() -> Iterator[str]:
    name = f"pruners-{uuid.uuid4().hex[:12]}"
    yield name
    storage = hyperdial.storage.get_storage(POSTGRES_URL)
    try:
        hyperdial.delete_study(study_name=name, storage=storage)
    except StudyNotFoundError:
        pass
    finally:
        storage.remove_session()


@pytest.mark.postgres
def test_hyperband_with_two_processes_on_postgresql(postgres_study: str) -> None:
    run_and_check(POSTGRES_URL, postgres_study, n_trials=20)
