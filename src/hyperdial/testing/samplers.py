"""A conformance suite for :class:`~hyperdial.samplers.Sampler` implementations.

Every sampler, built in or third party, should keep the promises this suite checks: values
stay inside the distribution asked for (with the right Python type), the same seed gives the
same trials, copies of one seeded sampler in parallel workers never propose the same point,
define-by-run spaces (branches, loops, ranges that change between trials) work, enqueued
parameters win, a history of failed and pruned trials does no harm, ``repr`` shows the
constructor arguments, and ``optimize(n_jobs=2)`` on SQLite works.

Subclass :class:`SamplerConformance` and provide a ``sampler_factory`` fixture. The factory
is called as ``factory(seed, search_space)`` and returns a fresh sampler; ``search_space``
holds every parameter the test's objective may suggest, for samplers that must be told the
space in advance (a grid, see :func:`finite_grid`). Samplers that learn the space from the
trials ignore it::

    # test_my_sampler.py
    import pytest
    from hyperdial.testing.samplers import SamplerConformance

    from my_package import MySampler


    class TestMySampler(SamplerConformance):
        @pytest.fixture
        def sampler_factory(self):
            return lambda seed, search_space: MySampler(seed=seed)

A sampler that cannot have one of the properties by design declares it, with the reason, in
the class attribute ``unsupported`` (or in the ``unsupported`` attribute of the factory,
see :class:`SamplerCase`); those tests are then skipped with that reason. The property
names are the keys of :data:`PROPERTIES`.

For pytest's detailed assertion messages, register the module for assertion rewriting
before it is imported, in a ``conftest.py``::

    pytest.register_assert_rewrite("hyperdial.testing.samplers")
"""

from __future__ import annotations

import copy
import inspect
import math
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

import hyperdial
from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial.exceptions import TrialPruned
from hyperdial.samplers import Sampler
from hyperdial.space import Categorical, Distribution, Float, Int
from hyperdial.storage import InMemoryStorage
from hyperdial.study import Study
from hyperdial.trial import Trial

__all__ = [
    "CONDITIONAL_SPACE",
    "DISTRIBUTIONS",
    "PROPERTIES",
    "SMALL_SPACE",
    "SamplerCase",
    "SamplerConformance",
    "SamplerFactory",
    "finite_grid",
]

#: Builds a fresh sampler from a seed and the space the test's objective suggests from.
SamplerFactory = Callable[[int | None, Mapping[str, Distribution]], Sampler]

#: Property name -> what the suite checks. Keys are what ``unsupported`` may name.
PROPERTIES: dict[str, str] = {
    "values_in_distribution": "every value lies in its distribution, with the right type",
    "single_value": "single-value distributions give their one value",
    "reproducible": "the same seed gives the same parameters in two studies",
    "seeds_differ": "different seeds give different parameters",
    "copies_differ": "copies of one seeded sampler in several workers never repeat a point",
    "conditional_space": "branches and loops (n_units_l{i}) of a define-by-run space work",
    "changing_space": "a range widened or a choice added between trials works",
    "explores_changed_space": "values only the widened range or the new choice allows appear",
    "enqueued_trials": "parameters of an enqueued trial are used as given",
    "partially_enqueued_trials": "parameters missing from an enqueued trial are sampled",
    "failed_and_pruned_history": "FAIL and PRUNED trials in the history do no harm",
    "repr": "repr shows every constructor argument",
    "parallel_sqlite": "optimize(n_jobs=2) on a SQLite storage works",
}

#: One parameter of each kind the suite checks values of, by a readable id.
DISTRIBUTIONS: dict[str, Distribution] = {
    "float": Float(-3.5, 2.0),
    "float_log": Float(1e-5, 10.0, log=True),
    "float_step": Float(-1.0, 1.0, step=0.25),
    "float_step_inexact": Float(0.0, 1.0, step=0.1),
    "int": Int(-5, 7),
    "int_log": Int(1, 1024, log=True),
    "int_step": Int(0, 30, step=3),
    "categorical_str": Categorical(["a", "b", "c"]),
    "categorical_bool": Categorical([True, False]),
    "categorical_mixed": Categorical([None, True, False, 0, 1, 1.5, "x"]),
    # Equal under ==, distinct as choices: a sampler must return True, not 1.
    "categorical_equal_values": Categorical([1, 1.0, True]),
}

#: A small space of four parameters used by most tests.
SMALL_SPACE: dict[str, Distribution] = {
    "x": Float(-1.0, 1.0),
    "lr": Float(1e-4, 1e-1, log=True),
    "n": Int(1, 9),
    "kind": Categorical(["a", "b", "c"]),
}

#: Every parameter the conditional objective may suggest (a model family, then its own
#: parameters; the MLP branch loops over layers).
CONDITIONAL_SPACE: dict[str, Distribution] = {
    "family": Categorical(["linear", "tree", "mlp"]),
    "linear_c": Float(1e-3, 1e3, log=True),
    "tree_depth": Int(1, 12),
    "n_layers": Int(1, 3),
    **{f"n_units_l{i}": Int(4, 128, log=True) for i in range(3)},
}

_SINGLE_SPACE: dict[str, Distribution] = {
    "x": Float(0.0, 1.0),
    "single_float": Float(2.5, 2.5),
    "single_int": Int(3, 3),
    "single_int_log": Int(7, 7, log=True),
    "single_categorical": Categorical(["only"]),
    "single_none": Categorical([None]),
}

_NARROW_SPACE: dict[str, Distribution] = {
    "x": Float(0.0, 1.0),
    "c": Categorical(["a", "b"]),
}
_WIDE_SPACE: dict[str, Distribution] = {
    "x": Float(0.0, 10.0),
    "c": Categorical(["a", "b", "c"]),
}
_N_NARROW = 3


@dataclass(frozen=True)
class SamplerCase:
    """One sampler configuration to run through the suite, with what it cannot do.

    A list of cases makes enrolling a sampler one line: parametrize the ``sampler_factory``
    fixture over it.

    Args:
        name: Test id.
        build: ``build(seed, search_space)`` returns a fresh sampler.
        unsupported: Property name (a key of :data:`PROPERTIES`) to the reason this
            sampler cannot have it.

    Example:
        >>> from hyperdial.samplers import RandomSampler
        >>> case = SamplerCase("random", lambda seed, space: RandomSampler(seed=seed))
        >>> case(0, {})
        RandomSampler(seed=0)
    """

    name: str
    build: SamplerFactory
    unsupported: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, seed: int | None, search_space: Mapping[str, Distribution]) -> Sampler:
        return self.build(seed, search_space)


def finite_grid(space: Mapping[str, Distribution], max_values: int = 3) -> dict[str, list[Any]]:
    """Return a grid of at most ``max_values`` values per parameter, all inside ``space``.

    Categorical parameters keep every choice; numeric ones take values at the centres of
    ``max_values`` equal slices of the unit interval (fewer if the range has fewer).

    Example:
        >>> finite_grid({"x": Float(0.0, 1.0), "c": Categorical(["a", "b"])}, max_values=2)
        {'x': [0.25, 0.75], 'c': ['a', 'b']}
    """
    grid: dict[str, list[Any]] = {}
    for name, dist in space.items():
        if isinstance(dist, Categorical):
            grid[name] = list(dist.choices)
            continue
        values: list[Any] = []
        for i in range(max_values):
            value = dist.to_external(dist.from_unit((i + 0.5) / max_values))
            if value not in values:
                values.append(value)
        grid[name] = values
    return grid


def _suggest(trial: Trial, name: str, dist: Distribution) -> Any:
    # Through the suggest_* methods objectives use, so that the whole path is exercised.
    if isinstance(dist, Float):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, Int):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, Categorical):
        return trial.suggest_categorical(name, list(dist.choices))
    return trial.suggest(name, dist)


def _score(trial: Trial | FrozenTrial) -> float:
    """A smooth function of the parameters, so model-based samplers have a signal."""
    total = 0.0
    for name, value in trial.params.items():
        dist = trial.distributions[name]
        total += (dist.to_unit(dist.to_internal(value)) - 0.3) ** 2
    return total


def _suggest_space(trial: Trial, space: Mapping[str, Distribution]) -> None:
    for name, dist in space.items():
        _suggest(trial, name, dist)


def _small_objective(trial: Trial) -> float:
    _suggest_space(trial, SMALL_SPACE)
    return _score(trial)


def _conditional_objective(trial: Trial) -> float:
    family = trial.suggest_categorical("family", ["linear", "tree", "mlp"])
    if family == "linear":
        trial.suggest_float("linear_c", 1e-3, 1e3, log=True)
    elif family == "tree":
        trial.suggest_int("tree_depth", 1, 12)
    else:
        n_layers = trial.suggest_int("n_layers", 1, 3)
        for i in range(n_layers):
            trial.suggest_int(f"n_units_l{i}", 4, 128, log=True)
    return _score(trial)


def _changing_objective(trial: Trial) -> float:
    _suggest_space(trial, _NARROW_SPACE if trial.number < _N_NARROW else _WIDE_SPACE)
    return _score(trial)


def _flaky_objective(trial: Trial) -> float:
    # Trials 0-2 fail before any trial completes, then FAIL / PRUNED / COMPLETE alternate.
    # Failing trials stop half-way, so the history holds trials with part of the space.
    if trial.number < 3 or trial.number % 3 == 1:
        _suggest(trial, "x", SMALL_SPACE["x"])
        _suggest(trial, "kind", SMALL_SPACE["kind"])
        raise ValueError("simulated failure")
    _suggest_space(trial, SMALL_SPACE)
    if trial.number % 3 == 2:
        trial.report(_score(trial), 0)
        raise TrialPruned()
    return _score(trial)


def _flaky_expected_state(number: int) -> TrialState:
    if number < 3 or number % 3 == 1:
        return TrialState.FAIL
    return TrialState.PRUNED if number % 3 == 2 else TrialState.COMPLETE


def _point(trial: FrozenTrial) -> tuple[tuple[str, str], ...]:
    # repr keeps True, 1 and 1.0 apart.
    return tuple(sorted((name, repr(value)) for name, value in trial.params.items()))


class SamplerConformance:
    """Pytest base class: the checks every sampler should pass.

    Subclasses provide a ``sampler_factory`` fixture (see the module docstring) and may
    declare properties the sampler cannot have in :attr:`unsupported`.
    """

    #: Property name (a key of :data:`PROPERTIES`) to the reason the sampler lacks it.
    unsupported: ClassVar[Mapping[str, str]] = {}

    n_trials: ClassVar[int] = 24

    # -- helpers ---------------------------------------------------------------------------

    def _require(self, factory: SamplerFactory, prop: str) -> None:
        assert prop in PROPERTIES, f"unknown conformance property {prop!r}"
        declared = {**type(self).unsupported, **getattr(factory, "unsupported", {})}
        if prop in declared:
            pytest.skip(f"{prop} not supported: {declared[prop]}")

    def _study(
        self,
        factory: SamplerFactory,
        seed: int | None,
        space: Mapping[str, Distribution],
        storage: Any = None,
    ) -> Study:
        sampler = factory(seed, space)
        assert isinstance(sampler, Sampler), f"the factory returned {sampler!r}, not a Sampler"
        return hyperdial.create_study(storage=storage, sampler=sampler)

    def _optimize(self, study: Study, objective: Callable[[Trial], float], n: int) -> None:
        study.optimize(objective, n_trials=n, show_progress_bar=False)

    def _assert_trial_in_space(self, trial: FrozenTrial) -> None:
        assert set(trial.params) <= set(trial.distributions), trial
        for name, value in trial.params.items():
            dist = trial.distributions[name]
            assert dist.contains_value(value), (
                f"trial {trial.number}: {name}={value!r} is not in {dist!r}"
            )
            if isinstance(dist, Float):
                assert type(value) is float, f"{name}={value!r} should be a float"
            elif isinstance(dist, Int):
                assert type(value) is int, f"{name}={value!r} should be an int"
            elif isinstance(dist, Categorical):
                index = dist.index_of(value)
                assert index is not None, f"{name}={value!r} is not one of {dist.choices}"
                assert type(value) is type(dist.choices[index]), (
                    f"{name}={value!r} should be the choice {dist.choices[index]!r} itself"
                )

    def _finished(self, study: Study) -> list[FrozenTrial]:
        # Not study.trials: a sampler may queue WAITING trials of its own (a grid).
        finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        return study.get_trials(states=finished)

    def _expected_count(self, study: Study, n: int) -> int:
        # A sampler that runs out (a grid) ends the run early; others run every trial.
        if study.sampler.is_exhausted(study.view):
            return min(n, len(self._finished(study)))
        return n

    # -- the suite ---------------------------------------------------------------------------

    def test_declared_properties_are_known(self, sampler_factory: SamplerFactory) -> None:
        declared = {**type(self).unsupported, **getattr(sampler_factory, "unsupported", {})}
        unknown = sorted(set(declared) - set(PROPERTIES))
        assert not unknown, f"unknown properties declared unsupported: {unknown}"
        assert all(isinstance(r, str) and r for r in declared.values()), (
            "each unsupported property needs a reason"
        )

    @pytest.mark.parametrize("dist_id", list(DISTRIBUTIONS))
    def test_values_stay_in_distribution(
        self, sampler_factory: SamplerFactory, dist_id: str
    ) -> None:
        self._require(sampler_factory, "values_in_distribution")
        dist = DISTRIBUTIONS[dist_id]
        space = {"p": dist}
        study = self._study(sampler_factory, 0, space)
        self._optimize(study, lambda t: _score(_touch(t, space)), self.n_trials)
        trials = self._finished(study)
        assert len(trials) == self._expected_count(study, self.n_trials)
        assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
        for trial in trials:
            assert trial.distributions["p"] == dist
            self._assert_trial_in_space(trial)
        distinct = {repr(t.params["p"]) for t in trials}
        assert len(distinct) >= 2, f"{self.n_trials} trials gave only {distinct}"

    def test_single_value_distributions(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "single_value")
        study = self._study(sampler_factory, 1, _SINGLE_SPACE)
        self._optimize(study, lambda t: _score(_touch(t, _SINGLE_SPACE)), 6)
        trials = self._finished(study)
        assert len(trials) == self._expected_count(study, 6)
        for trial in trials:
            assert trial.state == TrialState.COMPLETE
            self._assert_trial_in_space(trial)
            assert trial.params["single_float"] == 2.5
            assert trial.params["single_int"] == 3
            assert trial.params["single_int_log"] == 7
            assert trial.params["single_categorical"] == "only"
            assert trial.params["single_none"] is None

    def test_same_seed_same_parameters(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "reproducible")
        runs = []
        for _ in range(2):
            study = self._study(sampler_factory, 7, SMALL_SPACE)
            self._optimize(study, _small_objective, 12)
            runs.append([_point(t) for t in self._finished(study)])
        assert len(runs[0]) == len(runs[1]) > 1
        assert runs[0] == runs[1]

    def test_different_seeds_differ(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "seeds_differ")
        runs = []
        for seed in (1, 2):
            study = self._study(sampler_factory, seed, SMALL_SPACE)
            self._optimize(study, _small_objective, 12)
            runs.append([_point(t) for t in self._finished(study)])
        assert runs[0] != runs[1]

    def test_copies_in_workers_do_not_repeat(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "copies_differ")
        # Worker processes get copies of one seeded sampler (fork, pickle or deepcopy) and
        # each propose for different trial numbers of one shared study. Simulated here by
        # several study objects over one storage, with every trial running at once.
        sampler = sampler_factory(5, SMALL_SPACE)
        copies = [
            copy.deepcopy(sampler),
            pickle.loads(pickle.dumps(sampler)),
            copy.deepcopy(sampler),
            pickle.loads(pickle.dumps(sampler)),
        ]
        storage = InMemoryStorage()
        hyperdial.create_study(storage=storage, study_name="workers")
        workers = [
            hyperdial.load_study(study_name="workers", storage=storage, sampler=c) for c in copies
        ]
        for _ in range(3):
            # As the optimize loop does: ask whether anything is left, then ask for a trial.
            assert not any(worker.sampler.is_exhausted(worker.view) for worker in workers)
            running = [(worker, worker.ask()) for worker in workers]
            for _worker, live in running:
                _suggest_space(live, SMALL_SPACE)
            for worker, live in running:
                worker.tell(live, _score(live))
        trials = self._finished(workers[0])
        assert len(trials) == 12
        for trial in trials:
            self._assert_trial_in_space(trial)
        points = [_point(t) for t in trials]
        repeated = {p for p in points if points.count(p) > 1}
        assert not repeated, f"copies proposed the same point twice: {repeated}"

    def test_conditional_space_and_loops(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "conditional_space")
        study = self._study(sampler_factory, 3, CONDITIONAL_SPACE)
        self._optimize(study, _conditional_objective, 30)
        trials = self._finished(study)
        assert len(trials) == self._expected_count(study, 30)
        families = set()
        for trial in trials:
            assert trial.state == TrialState.COMPLETE, trial
            self._assert_trial_in_space(trial)
            family = trial.params["family"]
            families.add(family)
            if family == "linear":
                expected = {"family", "linear_c"}
            elif family == "tree":
                expected = {"family", "tree_depth"}
            else:
                n_layers = trial.params["n_layers"]
                expected = {"family", "n_layers"} | {f"n_units_l{i}" for i in range(n_layers)}
            assert set(trial.params) == expected, trial.params
            for name in expected:
                assert trial.distributions[name] == CONDITIONAL_SPACE[name]
        assert families == {"linear", "tree", "mlp"}

    def test_changing_space(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "changing_space")
        study = self._study(sampler_factory, 4, _NARROW_SPACE)
        self._optimize(study, _changing_objective, 2 * _N_NARROW)
        trials = self._finished(study)
        assert len(trials) == self._expected_count(study, 2 * _N_NARROW)
        assert any(t.number >= _N_NARROW for t in trials), "no trial saw the changed space"
        for trial in trials:
            assert trial.state == TrialState.COMPLETE, trial
            own = _NARROW_SPACE if trial.number < _N_NARROW else _WIDE_SPACE
            assert trial.distributions == own, f"trial {trial.number} records {own}"
            self._assert_trial_in_space(trial)

    def test_changed_space_is_explored(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "explores_changed_space")
        study = self._study(sampler_factory, 4, _NARROW_SPACE)
        self._optimize(study, _changing_objective, _N_NARROW + 16)
        wide = [t for t in self._finished(study) if t.number >= _N_NARROW]
        assert len(wide) == 16
        assert any(t.params["x"] > 1.0 for t in wide), "the widened range was never tried"
        assert any(t.params["c"] == "c" for t in wide), "the new choice was never tried"

    def test_enqueued_trial_is_used(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "enqueued_trials")
        study = self._study(sampler_factory, 6, SMALL_SPACE)
        enqueued = {"x": 0.125, "lr": 0.003, "n": 4, "kind": "b"}
        study.enqueue_trial(enqueued, user_attrs={"source": "enqueued"})
        self._optimize(study, _small_objective, 4)
        trials = self._finished(study)
        assert trials[0].params == enqueued
        assert trials[0].user_attrs == {"source": "enqueued"}
        assert all(t.state == TrialState.COMPLETE for t in trials)
        for trial in trials:
            self._assert_trial_in_space(trial)
        assert len(trials) == self._expected_count(study, 4)

    def test_partially_enqueued_trial(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "partially_enqueued_trials")
        study = self._study(sampler_factory, 6, SMALL_SPACE)
        study.enqueue_trial({"x": -0.75})
        self._optimize(study, _small_objective, 3)
        trials = self._finished(study)
        assert len(trials) == 3
        first = trials[0]
        assert first.state == TrialState.COMPLETE
        assert first.params["x"] == -0.75
        assert set(first.params) == set(SMALL_SPACE)
        for trial in trials:
            self._assert_trial_in_space(trial)

    def test_failed_and_pruned_history(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "failed_and_pruned_history")
        study = self._study(sampler_factory, 8, SMALL_SPACE)
        study.optimize(_flaky_objective, n_trials=15, catch=ValueError, show_progress_bar=False)
        trials = self._finished(study)
        assert len(trials) == self._expected_count(study, 15)
        assert [t.state for t in trials] == [_flaky_expected_state(t.number) for t in trials]
        for trial in trials:
            self._assert_trial_in_space(trial)
            if trial.state != TrialState.FAIL:
                assert set(trial.params) == set(SMALL_SPACE)

    def test_repr_shows_constructor_arguments(self, sampler_factory: SamplerFactory) -> None:
        self._require(sampler_factory, "repr")
        sampler = sampler_factory(123, SMALL_SPACE)
        text = repr(sampler)
        assert text.startswith(type(sampler).__name__ + "("), text
        params = inspect.signature(type(sampler).__init__).parameters
        for name, param in params.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            assert f"{name}=" in text, f"{text} does not show the argument {name!r}"
        if "seed" in params:
            assert "seed=123" in text, text

    def test_parallel_workers_on_sqlite(
        self, sampler_factory: SamplerFactory, tmp_path: Path
    ) -> None:
        self._require(sampler_factory, "parallel_sqlite")
        from hyperdial.storage import SQLStorage  # a missing SQL storage fails, never skips

        storage = SQLStorage(f"sqlite:///{tmp_path / 'conformance.db'}")
        try:
            study = self._study(sampler_factory, 9, SMALL_SPACE, storage=storage)
            study.optimize(_small_objective, n_trials=8, n_jobs=2, show_progress_bar=False)
            trials = self._finished(study)
        finally:
            storage.remove_session()
        assert len(trials) == 8
        assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
        for trial in trials:
            self._assert_trial_in_space(trial)
            assert set(trial.params) == set(SMALL_SPACE)
            assert trial.value is not None and math.isclose(trial.value, _score(trial))
        points = [_point(t) for t in trials]
        assert len(set(points)) == len(points), "two workers proposed the same point"


def _touch(trial: Trial, space: Mapping[str, Distribution]) -> Trial:
    _suggest_space(trial, space)
    return trial
