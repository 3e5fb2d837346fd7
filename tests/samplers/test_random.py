from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import hyperdial
from hyperdial import FrozenTrial, TrialState
from hyperdial.exceptions import InvalidValueError
from hyperdial.samplers import RandomSampler
from hyperdial.space import Categorical, Distribution, Float, Int

N = 400
SPACE: dict[str, Distribution] = {
    "linear": Float(-2.0, 3.0),
    "log": Float(1e-4, 1e2, log=True),
    "int": Int(0, 9),
    "int_step": Int(-6, 6, step=3),
    "float_step": Float(0.0, 1.0, step=0.25),
    "cat": Categorical(["a", "b", "c", "d"]),
}


@pytest.fixture(scope="module")
def samples() -> dict[str, list[object]]:
    study = hyperdial.create_study(sampler=RandomSampler(seed=0))
    study.optimize(
        lambda t: sum(hash(repr(t.suggest(n, d))) % 7 for n, d in SPACE.items()),
        n_trials=N,
        show_progress_bar=False,
    )
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == N
    return {name: [t.params[name] for t in trials] for name in SPACE}


@pytest.mark.parametrize("name", ["linear", "log"])
def test_continuous_values_are_uniform_in_the_unit_cube(
    samples: dict[str, list[object]], name: str
) -> None:
    dist = SPACE[name]
    units = [dist.to_unit(dist.to_internal(v)) for v in samples[name]]
    assert stats.kstest(units, "uniform").pvalue > 0.01


def test_log_parameter_is_log_uniform_not_uniform(samples: dict[str, list[object]]) -> None:
    values = np.array(samples["log"], dtype=float)
    exponents = (np.log10(values) + 4.0) / 6.0  # log10 spans [-4, 2]
    assert stats.kstest(exponents, "uniform").pvalue > 0.01
    # Uniform in linear space would put almost every value above 1.
    assert stats.kstest(values / 100.0, "uniform").pvalue < 1e-6
    assert np.mean(values < 1.0) > 0.5


@pytest.mark.parametrize("name", ["int", "int_step", "float_step", "cat"])
def test_discrete_values_are_uniform_over_the_choices(
    samples: dict[str, list[object]], name: str
) -> None:
    dist = SPACE[name]
    counts = [sum(1 for v in samples[name] if v == value) for value in _values(dist)]
    assert sum(counts) == N, f"values outside {dist!r}"
    assert min(counts) > 0
    # The end values get as many draws as the others (not half as many).
    assert stats.chisquare(counts).pvalue > 0.01, counts


def _values(dist: Distribution) -> list[object]:
    if isinstance(dist, Categorical):
        return list(dist.choices)
    assert isinstance(dist, (Int, Float)) and dist.step is not None
    n = round((dist.high - dist.low) / dist.step)
    return [dist.to_external(dist.low + k * dist.step) for k in range(n + 1)]


def _frozen(number: int) -> FrozenTrial:
    return FrozenTrial(number=number, trial_id=number, state=TrialState.RUNNING)


def test_value_depends_on_seed_trial_number_and_name_only() -> None:
    view = hyperdial.create_study().view
    dist = Float(0.0, 1.0)
    forward, backward = RandomSampler(seed=3), RandomSampler(seed=3)
    numbers = [0, 5, 2, 9]
    a = {n: forward.sample_independent(view, _frozen(n), "x", dist) for n in numbers}
    b = {n: backward.sample_independent(view, _frozen(n), "x", dist) for n in reversed(numbers)}
    assert a == b
    assert len(set(a.values())) == len(numbers)
    other_name = forward.sample_independent(view, _frozen(0), "y", dist)
    assert other_name != a[0]
    other_seed = RandomSampler(seed=4).sample_independent(view, _frozen(0), "x", dist)
    assert other_seed != a[0]


def test_no_seed_gives_a_fresh_sequence_per_sampler() -> None:
    view = hyperdial.create_study().view
    dist = Float(0.0, 1.0)
    draws = [RandomSampler().sample_independent(view, _frozen(0), "x", dist) for _ in range(3)]
    assert len(set(draws)) == 3


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_invalid_seed_is_rejected(seed: object) -> None:
    with pytest.raises(InvalidValueError, match=r"seed must be a non-negative integer.*Got"):
        RandomSampler(seed=seed)  # type: ignore[arg-type]


def test_numpy_integer_seed_is_accepted() -> None:
    view = hyperdial.create_study().view
    a = RandomSampler(seed=np.int64(7)).sample_independent(view, _frozen(1), "x", Int(0, 10**6))
    b = RandomSampler(seed=7).sample_independent(view, _frozen(1), "x", Int(0, 10**6))
    assert a == b


def test_repr_and_stored_arguments() -> None:
    sampler = RandomSampler(seed=3)
    assert sampler.seed == 3
    assert repr(sampler) == "RandomSampler(seed=3)"
    assert repr(RandomSampler()) == "RandomSampler(seed=None)"
