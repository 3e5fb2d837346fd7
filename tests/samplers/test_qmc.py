from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
from scipy.stats import qmc

import hyperdial
from hyperdial import FrozenTrial, StudyView, TrialState
from hyperdial.samplers import QMCSampler, RandomSampler, Sampler
from hyperdial.space import Categorical, Distribution, Float, Int
from hyperdial.storage import InMemoryStorage

CUBE: dict[str, Distribution] = {f"u{i}": Float(0.0, 1.0) for i in range(3)}
MIXED: dict[str, Distribution] = {
    "x": Float(-5.0, 5.0),
    "lr": Float(1e-5, 1e-1, log=True),
    "n": Int(1, 64, log=True),
    "kind": Categorical(["a", "b", "c"]),
}


def _objective(trial: hyperdial.Trial) -> float:
    return sum(trial.suggest(name, dist) for name, dist in CUBE.items())


def _units(sampler: Sampler, n: int) -> np.ndarray:
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=n, show_progress_bar=False)
    return np.array([[t.params[name] for name in CUBE] for t in study.trials])


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit", "inferred"])
def test_first_64_points_have_lower_discrepancy_than_random(explicit: bool) -> None:
    space = CUBE if explicit else None
    sobol = qmc.discrepancy(_units(QMCSampler(space, seed=0), 64))
    random = [qmc.discrepancy(_units(RandomSampler(seed=s), 64)) for s in range(3)]
    assert sobol < min(random), (sobol, random)


class _Spy(QMCSampler):
    """Records which parameters fell back to independent sampling."""

    def __init__(
        self, search_space: Any = None, *, scramble: bool = True, seed: int | None = None
    ) -> None:
        super().__init__(search_space, scramble=scramble, seed=seed)
        self.independent: list[tuple[int, str]] = []

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        self.independent.append((trial.number, name))
        return super().sample_independent(study, trial, name, distribution)


def test_explicit_space_is_used_from_the_first_trial() -> None:
    sampler = _Spy(MIXED, seed=1)
    study = hyperdial.create_study(sampler=sampler)

    def objective(trial: hyperdial.Trial) -> float:
        for name, dist in MIXED.items():
            trial.suggest(name, dist)
        return trial.suggest_float("extra", 0.0, 1.0)

    study.optimize(objective, n_trials=5, show_progress_bar=False)
    # Only the parameter outside the declared space is drawn independently.
    assert sampler.independent == [(n, "extra") for n in range(5)]
    for trial in study.trials:
        for name, dist in MIXED.items():
            assert dist.contains_value(trial.params[name])


def test_inferred_space_starts_after_the_first_complete_trial() -> None:
    sampler = _Spy(seed=1)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(
        lambda t: sum(hash(repr(t.suggest(n, d))) % 3 for n, d in MIXED.items()),
        n_trials=4,
        show_progress_bar=False,
    )
    assert {name for number, name in sampler.independent} == set(MIXED)
    assert {number for number, name in sampler.independent} == {0}


def _relative(sampler: QMCSampler, view: StudyView, number: int) -> dict[str, Any]:
    trial = FrozenTrial(number=number, trial_id=number, state=TrialState.RUNNING)
    return sampler.sample_relative(view, trial)


def test_point_of_trial_n_depends_on_seed_and_n_only() -> None:
    view = hyperdial.create_study().view
    first, second = QMCSampler(MIXED, seed=3), QMCSampler(MIXED, seed=3)
    order = [9, 2, 5, 0, 31]
    a = {n: _relative(first, view, n) for n in order}
    b = {n: _relative(second, view, n) for n in reversed(order)}
    assert a == b
    assert len({repr(p) for p in a.values()}) == len(order)
    other = QMCSampler(MIXED, seed=4)
    assert _relative(other, view, 9) != a[9]


def test_unscrambled_points_do_not_depend_on_the_seed() -> None:
    view = hyperdial.create_study().view
    a = [_relative(QMCSampler(CUBE, scramble=False, seed=1), view, n) for n in range(4)]
    b = [_relative(QMCSampler(CUBE, scramble=False, seed=2), view, n) for n in range(4)]
    assert a == b
    assert a[0] == {name: 0.0 for name in CUBE}  # the first Sobol point is the origin


def test_copies_propose_the_same_point_for_the_same_trial() -> None:
    view = hyperdial.create_study().view
    sampler = QMCSampler(MIXED, seed=5)
    expected = [_relative(sampler, view, n) for n in range(6)]
    for clone in (copy.deepcopy(sampler), pickle.loads(pickle.dumps(sampler))):
        assert [_relative(clone, view, n) for n in range(6)] == expected


def test_inferred_space_is_agreed_through_study_state() -> None:
    storage = InMemoryStorage()
    study = hyperdial.create_study(storage=storage, study_name="qmc", sampler=QMCSampler(seed=0))
    slow = study.ask()  # trial 0: still running when trial 1 completes
    slow.suggest_float("x", 0.0, 1.0)
    slow.suggest_int("n", 1, 5)
    fast = study.ask()
    fast.suggest_float("x", 0.0, 1.0)
    fast.suggest_categorical("c", ["a", "b"])
    study.tell(fast, 1.0)
    third = study.ask()
    third.suggest_float("x", 0.0, 1.0)  # the first worker infers {c, x} from trial 1
    study.tell(slow, 2.0)
    study.tell(third, 3.0)

    # A worker starting now sees trial 0 as the first complete trial, but must use the
    # space the study agreed on.
    late = hyperdial.load_study(study_name="qmc", storage=storage, sampler=QMCSampler(seed=0))
    assert set(_relative(late.sampler, late.view, 3)) == {"c", "x"}  # type: ignore[arg-type]


def test_one_sampler_serving_two_studies_infers_each_space() -> None:
    sampler = QMCSampler(seed=0)
    first = hyperdial.create_study(sampler=sampler)
    first.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=3, show_progress_bar=False)
    second = hyperdial.create_study(sampler=sampler)
    second.optimize(
        lambda t: t.suggest_float("y", 0.0, 1.0) + t.suggest_int("z", 0, 3),
        n_trials=3,
        show_progress_bar=False,
    )
    assert set(_relative(sampler, second.view, 3)) == {"y", "z"}
    assert set(_relative(sampler, first.view, 3)) == {"x"}


def test_single_value_parameters_are_left_out_of_the_inferred_space() -> None:
    study = hyperdial.create_study(sampler=QMCSampler(seed=0))
    study.optimize(
        lambda t: t.suggest_float("x", 0.0, 1.0) + t.suggest_int("fixed", 3, 3),
        n_trials=3,
        show_progress_bar=False,
    )
    assert set(_relative(study.sampler, study.view, 3)) == {"x"}  # type: ignore[arg-type]
    assert all(t.params["fixed"] == 3 for t in study.trials)


def test_repr_shows_arguments() -> None:
    text = repr(QMCSampler({"x": Float(0.0, 1.0)}, scramble=False, seed=2))
    assert text == "QMCSampler(search_space={'x': Float(0.0, 1.0)}, scramble=False, seed=2)"
