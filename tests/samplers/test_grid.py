from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import hyperdial
from hyperdial import Study, TrialState
from hyperdial.exceptions import InvalidSpaceError
from hyperdial.samplers import GridSampler
from hyperdial.space import Categorical, Float, Int

GRID = {"a": [1, 2, 3], "b": ["x", "y"], "c": [True, False]}
PRODUCT = {tuple(p) for p in itertools.product(*GRID.values())}
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _objective(trial: hyperdial.Trial) -> float:
    a = trial.suggest_int("a", 1, 3)
    b = trial.suggest_categorical("b", ["x", "y"])
    c = trial.suggest_categorical("c", [True, False])
    return a + (b == "y") + 10 * c


def _points(study: Study) -> list[tuple[object, ...]]:
    return [tuple(t.params[k] for k in GRID) for t in study.get_trials(states=FINISHED)]


def _assert_grid_done_once(study: Study) -> None:
    trials = study.get_trials()
    assert len(trials) == len(PRODUCT)  # nothing left waiting, nothing queued twice
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
    points = _points(study)
    assert len(points) == len(set(points)) == len(PRODUCT)
    assert set(points) == PRODUCT


@pytest.mark.parametrize("seed", [None, 0])
def test_every_point_once_and_the_run_ends_by_itself(seed: int | None) -> None:
    sampler = GridSampler(GRID, seed=seed)
    assert sampler.grid_size == len(PRODUCT)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_objective, show_progress_bar=False)  # no n_trials: ends with the grid
    _assert_grid_done_once(study)
    assert sampler.is_exhausted(study.view)
    study.optimize(_objective, show_progress_bar=False)  # nothing left: runs nothing
    assert len(study.trials) == len(PRODUCT)


def test_seed_orders_points_and_none_keeps_declared_order() -> None:
    def order(seed: int | None) -> list[tuple[object, ...]]:
        study = hyperdial.create_study(sampler=GridSampler(GRID, seed=seed))
        study.optimize(_objective, show_progress_bar=False)
        return _points(study)

    assert order(None) == [tuple(p) for p in itertools.product(*GRID.values())]
    assert order(3) == order(3)
    assert order(3) != order(4)
    assert set(order(3)) == PRODUCT


@pytest.mark.parametrize("n_jobs", [2, 4])
def test_parallel_workers_on_sqlite_run_every_point_once(tmp_path: Path, n_jobs: int) -> None:
    study = hyperdial.create_study(
        storage=f"sqlite:///{tmp_path}/grid.db", sampler=GridSampler(GRID, seed=1)
    )
    try:
        study.optimize(_objective, n_jobs=n_jobs, show_progress_bar=False)
        _assert_grid_done_once(study)
    finally:
        study.storage.remove_session()


def test_float_step_and_int_grids() -> None:
    space = {
        "x": Float(0.0, 1.0, step=0.25),
        "n": Int(1, 7, step=2),
        "k": Int(1, 4, log=True),
        "inexact": Float(0.0, 0.3, step=0.1),
        "c": Categorical(["p", "q"]),
    }
    sampler = GridSampler(space)
    assert sampler.grid_size == 5 * 4 * 4 * 4 * 2
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(
        lambda t: sum(float(t.suggest(name, dist) != "p") for name, dist in space.items()),
        show_progress_bar=False,
    )
    trials = study.trials
    assert len(trials) == sampler.grid_size
    assert {t.params["x"] for t in trials} == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert {t.params["n"] for t in trials} == {1, 3, 5, 7}
    assert {t.params["k"] for t in trials} == {1, 2, 3, 4}
    inexact = sorted({t.params["inexact"] for t in trials})
    assert inexact == pytest.approx([0.0, 0.1, 0.2, 0.3])
    for trial in trials:
        assert trial.state == TrialState.COMPLETE
        for name, dist in space.items():
            assert dist.contains_value(trial.params[name])
    assert len({tuple(sorted(t.params.items())) for t in trials}) == sampler.grid_size


def test_continuous_float_is_rejected_naming_the_parameter() -> None:
    with pytest.raises(InvalidSpaceError, match=r"Parameter 'lr'.*continuous.*step"):
        GridSampler({"n": [1, 2], "lr": Float(1e-4, 1e-1, log=True)})


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({}, "non-empty dict"),
        ([("a", [1])], "non-empty dict"),
        ({"a": []}, r"Parameter 'a'.*no values"),
        ({"a": "abc"}, r"Parameter 'a'.*must be a list"),
        ({"a": [1, 1]}, r"Parameter 'a'.*distinct"),
        ({"a": [object()]}, r"Parameter 'a'.*None, bool, int, float or str"),
    ],
)
def test_invalid_grids_are_rejected(space: object, match: str) -> None:
    with pytest.raises(InvalidSpaceError, match=match):
        GridSampler(space)  # type: ignore[arg-type]


def test_parameter_outside_the_grid_raises_naming_it() -> None:
    study = hyperdial.create_study(sampler=GridSampler({"a": [1, 2]}))

    def objective(trial: hyperdial.Trial) -> float:
        return trial.suggest_int("a", 1, 2) + trial.suggest_float("z", 0.0, 1.0)

    with pytest.raises(InvalidSpaceError, match=r"Parameter 'z' is not in the GridSampler"):
        study.optimize(objective, show_progress_bar=False)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 1
    assert "'z'" in (failed[0].fail_reason or "")


def test_enqueued_value_outside_the_objectives_range_fails_clearly() -> None:
    study = hyperdial.create_study(sampler=GridSampler({"a": [1, 5]}))
    with pytest.raises(InvalidSpaceError, match=r"Parameter 'a'.*enqueued value 5"):
        study.optimize(lambda t: t.suggest_int("a", 1, 3), show_progress_bar=False)


@pytest.mark.parametrize("resume_seed", [2, None])
def test_resuming_continues_the_grid(tmp_path: Path, resume_seed: int | None) -> None:
    url = f"sqlite:///{tmp_path}/resume.db"
    first = hyperdial.create_study(storage=url, study_name="g", sampler=GridSampler(GRID, seed=1))
    first.optimize(_objective, n_trials=5, show_progress_bar=False)
    assert len(first.get_trials(states=FINISHED)) == 5
    first.storage.remove_session()

    # A new process: a new storage object and a new sampler, with any seed.
    resumed = hyperdial.load_study(
        study_name="g", storage=url, sampler=GridSampler(GRID, seed=resume_seed)
    )
    try:
        resumed.optimize(_objective, show_progress_bar=False)
        _assert_grid_done_once(resumed)
    finally:
        resumed.storage.remove_session()


def test_another_grid_in_the_same_study_is_queued_separately() -> None:
    study = hyperdial.create_study(sampler=GridSampler({"a": [1, 2]}))
    study.optimize(lambda t: t.suggest_int("a", 1, 3), show_progress_bar=False)
    study.sampler = GridSampler({"a": [3]})
    study.optimize(lambda t: t.suggest_int("a", 1, 3), show_progress_bar=False)
    assert [t.params["a"] for t in study.trials] == [1, 2, 3]


def test_ask_and_tell_alone_walks_the_grid() -> None:
    study = hyperdial.create_study(sampler=GridSampler(GRID))
    for _ in range(len(PRODUCT)):
        trial = study.ask()
        study.tell(trial, _objective(trial))
    _assert_grid_done_once(study)


def test_repr_and_stored_arguments() -> None:
    sampler = GridSampler({"a": [1, 2]}, seed=4)
    assert sampler.search_space == {"a": [1, 2]}
    assert sampler.seed == 4
    assert repr(sampler) == "GridSampler(search_space={'a': [1, 2]}, seed=4)"
