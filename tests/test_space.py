from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import hyperdial
from hyperdial.exceptions import InvalidSpaceError
from hyperdial.space import (
    Categorical,
    Distribution,
    Float,
    Int,
    check_space,
    distribution_from_json,
    space_from_json,
    space_to_json,
)

# -- validation, through the objective's API so that messages name the parameter -----------


@pytest.fixture
def trial() -> hyperdial.Trial:
    return hyperdial.create_study().ask()


Suggest = Callable[[hyperdial.Trial], Any]

INVALID: list[tuple[str, Suggest, str]] = [
    ("float low>high", lambda t: t.suggest_float("lr", 1.0, 0.1), r"low must be <= high"),
    ("int low>high", lambda t: t.suggest_int("n", 5, 1), r"low must be <= high"),
    ("float log low=0", lambda t: t.suggest_float("lr", 0.0, 1.0, log=True), r"low > 0"),
    ("float log low<0", lambda t: t.suggest_float("lr", -1.0, 1.0, log=True), r"low > 0"),
    ("int log low=0", lambda t: t.suggest_int("n", 0, 10, log=True), r"low > 0"),
    ("empty choices", lambda t: t.suggest_categorical("opt", []), r"must not be empty"),
    ("float step", lambda t: t.suggest_float("x", 0.0, 1.0, step=0.3), r"step must divide"),
    ("int step", lambda t: t.suggest_int("n", 0, 10, step=3), r"step must divide"),
    ("float step<=0", lambda t: t.suggest_float("x", 0.0, 1.0, step=0.0), r"step must be > 0"),
    ("int step<=0", lambda t: t.suggest_int("n", 0, 10, step=-1), r"step must be > 0"),
    (
        "float step+log",
        lambda t: t.suggest_float("x", 1.0, 10.0, step=1.0, log=True),
        r"cannot be combined",
    ),
    ("int step+log", lambda t: t.suggest_int("n", 1, 9, step=2, log=True), r"cannot be combined"),
    (
        "object choice",
        lambda t: t.suggest_categorical("act", [object()]),
        r"None, bool, int, float or str",
    ),
    ("list choice", lambda t: t.suggest_categorical("act", [[1, 2]]), r"None, bool, int, float"),
    ("duplicate", lambda t: t.suggest_categorical("opt", ["a", "b", "a"]), r"distinct"),
    ("string choices", lambda t: t.suggest_categorical("opt", "abc"), r"list or tuple"),
    ("str bound", lambda t: t.suggest_float("x", "0", 1.0), r"low must be a number"),
    ("bool bound", lambda t: t.suggest_float("x", 0.0, True), r"high must be a number"),
    ("inf bound", lambda t: t.suggest_float("x", 0.0, math.inf), r"high must be finite"),
    ("nan bound", lambda t: t.suggest_float("x", math.nan, 1.0), r"low must be finite"),
    ("int fraction", lambda t: t.suggest_int("n", 0.5, 3), r"low must be an integer"),
    ("int str", lambda t: t.suggest_int("n", 0, "3"), r"high must be an integer"),
]


@pytest.mark.parametrize(("case", "suggest", "match"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_distribution_is_rejected_naming_the_parameter(
    trial: hyperdial.Trial, case: str, suggest: Suggest, match: str
) -> None:
    with pytest.raises(InvalidSpaceError, match=match) as info:
        suggest(trial)
    name = {"lr", "n", "opt", "x", "act"} & set(str(info.value).replace("'", " ").split())
    assert str(info.value).startswith("Parameter '"), str(info.value)
    assert name, f"{info.value} does not name the parameter"
    assert "Got" in str(info.value), "the message should show what was given"
    assert trial.params == {}  # nothing was recorded


def test_numpy_numbers_are_accepted_as_bounds(trial: hyperdial.Trial) -> None:
    x = trial.suggest_float("x", np.float32(0.5), np.float64(2.0))
    n = trial.suggest_int("n", np.int64(1), np.int32(8), step=np.int64(1))
    m = trial.suggest_int("m", 1.0, 4.0)  # floats with integer values are fine
    assert 0.5 <= x <= 2.0 and type(x) is float
    assert 1 <= n <= 8 and type(n) is int
    assert 1 <= m <= 4 and type(m) is int
    assert Int(np.int64(1), 9).low == 1 and type(Int(np.int64(1), 9).low) is int
    assert Int(1, 9).contains_value(np.int64(3))
    assert not Int(1, 9).contains_value(np.bool_(True))
    assert not Float(0.0, 1.0).contains_value(np.bool_(True))


def test_same_name_with_another_type_across_trials_is_rejected() -> None:
    storage = hyperdial.storage.InMemoryStorage()
    study = hyperdial.create_study(storage=storage, study_name="s")
    first = study.ask()
    first.suggest_float("x", 0.0, 1.0)
    study.tell(first, 0.0)
    with pytest.raises(InvalidSpaceError, match=r"Parameter 'x' is a float parameter"):
        study.ask().suggest_categorical("x", ["a", "b"])
    # Another worker (another Study object on the same storage) is held to the same rule.
    other = hyperdial.load_study(study_name="s", storage=storage)
    with pytest.raises(InvalidSpaceError, match=r"Parameter 'x' is a float parameter"):
        other.ask().suggest_int("x", 0, 3)
    # A changed range of the same type is fine.
    assert 0.0 <= other.ask().suggest_float("x", 0.0, 5.0) <= 5.0


def test_same_name_with_another_type_within_a_trial_is_rejected(
    trial: hyperdial.Trial,
) -> None:
    value = trial.suggest_float("x", 0.0, 1.0)
    with pytest.raises(InvalidSpaceError, match=r"Parameter 'x' was suggested as Float"):
        trial.suggest_categorical("x", ["a"])
    assert trial.suggest_float("x", 0.0, 1.0) == value  # asking again repeats the value
    assert trial.suggest_float("x", -1.0, 2.0) == value  # a wider range still holds it


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({"lr": {"type": "float", "low": 1.0, "high": 0.1}}, r"Parameter 'lr': .*low must be"),
        ({"opt": []}, r"Parameter 'opt': .*must not be empty"),
        ({"opt": ["a", "a"]}, r"Parameter 'opt': .*distinct"),
        ({"x": 5}, r"Parameter 'x': expected Float, Int, Categorical"),
        ({"x": {"type": "normal"}}, r"Parameter 'x': Unknown distribution type 'normal'"),
        ({"": [1]}, r"non-empty strings"),
        ({3: [1]}, r"non-empty strings"),
        ([("x", [1])], r"must be a dict"),
    ],
)
def test_check_space_rejects_invalid_spaces(space: Any, match: str) -> None:
    with pytest.raises(InvalidSpaceError, match=match):
        check_space(space)


def test_check_space_accepts_distributions_json_dicts_lists_and_tuples() -> None:
    lr = Float(1e-4, 1e-1, log=True)
    checked = check_space(
        {
            "lr": lr,
            "n": {"type": "int", "low": 1, "high": 9, "step": 2},
            "opt": ["sgd", "adam"],
            "flag": (True, False, None),
        }
    )
    assert checked == {
        "lr": lr,
        "n": Int(1, 9, step=2),
        "opt": Categorical(["sgd", "adam"]),
        "flag": Categorical([True, False, None]),
    }
    assert checked["lr"] is lr


# -- unit cube ------------------------------------------------------------------------------


def _random_distributions(seed: int, n: int) -> list[Distribution]:
    """Many valid distributions of every kind, with awkward bounds (property-style)."""
    rng = np.random.default_rng(seed)
    dists: list[Distribution] = []
    for _ in range(n):
        kind = rng.integers(6)
        if kind == 0:
            low = float(rng.uniform(-1e6, 1e6))
            dists.append(Float(low, low + float(rng.exponential(10.0 ** rng.integers(-6, 6)))))
        elif kind == 1:
            low = float(10.0 ** rng.uniform(-10, 5))
            dists.append(Float(low, low * float(10.0 ** rng.uniform(0, 10)), log=True))
        elif kind == 2:
            step = float(rng.choice([0.1, 0.25, 0.5, 1.0, 3.0, 1e-3]))
            low = float(rng.integers(-50, 50)) * step
            dists.append(Float(low, low + int(rng.integers(0, 40)) * step, step=step))
        elif kind == 3:
            step = int(rng.integers(1, 7))
            low = int(rng.integers(-1000, 1000))
            dists.append(Int(low, low + step * int(rng.integers(0, 30)), step=step))
        elif kind == 4:
            low = int(rng.integers(1, 1000))
            dists.append(Int(low, low + int(rng.integers(0, 10**6)), log=True))
        else:
            n_choices = int(rng.integers(1, 9))
            pool = [None, True, False, 0, 1, 1.0, -2.5, "a", "b", "", "None", 7]
            dists.append(Categorical([pool[i] for i in rng.permutation(len(pool))[:n_choices]]))
    return dists


DISTS = _random_distributions(seed=0, n=150)


def _grid_values(dist: Distribution) -> list[float]:
    """Every internal value of a discrete distribution."""
    if isinstance(dist, Categorical):
        return [float(i) for i in range(len(dist.choices))]
    assert isinstance(dist, (Float, Int)) and dist.step is not None
    n = round((dist.high - dist.low) / dist.step)
    return [dist.from_unit(dist.to_unit(dist.low + k * dist.step)) for k in range(n + 1)]


def test_from_unit_lands_inside_and_is_monotonic() -> None:
    units = np.concatenate([[0.0, 1.0, 1e-12, 1 - 1e-12], np.linspace(0, 1, 257)])
    units.sort()
    for dist in DISTS:
        values = [dist.from_unit(float(u)) for u in units]
        assert all(dist.contains(v) for v in values), dist
        if not isinstance(dist, Categorical):
            assert values == sorted(values), dist
        assert dist.from_unit(-0.5) == dist.from_unit(0.0)
        assert dist.from_unit(1.5) == dist.from_unit(1.0)


def test_ends_of_the_unit_interval_are_the_ends_of_the_range() -> None:
    for dist in DISTS:
        if isinstance(dist, (Float, Int)):
            assert dist.from_unit(0.0) == pytest.approx(dist.low, rel=1e-12), dist
            assert dist.from_unit(1.0) == pytest.approx(dist.high, rel=1e-12), dist
        else:
            assert dist.from_unit(0.0) == 0.0
            assert dist.from_unit(1.0) == len(dist.choices) - 1


def test_round_trip_through_the_unit_cube() -> None:
    rng = np.random.default_rng(1)
    for dist in DISTS:
        if isinstance(dist, Float) and dist.step is None:
            for u in rng.random(20):
                value = dist.from_unit(float(u))
                unit = dist.to_unit(value)
                assert 0.0 <= unit <= 1.0
                assert dist.from_unit(unit) == pytest.approx(value, rel=1e-9, abs=1e-12)
            continue
        if isinstance(dist, Int) and dist.log:
            values = [dist.from_unit(float(u)) for u in rng.random(20)]
        else:
            values = _grid_values(dist)
        for value in values:
            unit = dist.to_unit(value)
            assert 0.0 <= unit <= 1.0, (dist, value, unit)
            assert dist.from_unit(unit) == value, (dist, value)


@pytest.mark.parametrize(
    "dist",
    [Int(0, 4), Int(-6, 6, step=3), Float(0.0, 1.0, step=0.25), Categorical(["a", "b", "c"])],
    ids=repr,
)
def test_discrete_values_own_equal_cells_of_the_unit_interval(dist: Distribution) -> None:
    n = 30_000
    values = [dist.from_unit((i + 0.5) / n) for i in range(n)]
    counts = [values.count(v) for v in sorted(set(values))]
    assert len(counts) == len(_grid_values(dist))
    assert max(counts) - min(counts) <= 1, counts  # the end values are not halved


def test_step_snapping() -> None:
    dist = Float(0.0, 1.0, step=0.25)
    assert dist.from_unit(dist.to_unit(0.3)) == 0.25
    assert dist.from_unit(dist.to_unit(0.4)) == 0.5
    tenths = Float(0.0, 1.0, step=0.1)
    assert tenths.contains(0.1 * 3)  # 0.30000000000000004
    assert not tenths.contains(0.35)
    assert not tenths.contains(1.1)
    assert Int(0, 10, step=5).from_unit(0.45) == 5.0
    assert {Int(0, 10, step=5).from_unit(u) for u in np.linspace(0, 1, 101)} == {0.0, 5.0, 10.0}
    assert Int(0, 10).to_external(2.9999999) == 3
    assert not Int(0, 10).contains(2.5)
    assert not Int(0, 10, step=2).contains(3.0)


def test_single_value_distributions() -> None:
    for dist, value in [
        (Float(2.5, 2.5), 2.5),
        (Int(3, 3), 3.0),
        (Int(5, 5, log=True), 5.0),
        (Float(1.0, 1.0, step=0.5), 1.0),
    ]:
        assert dist.is_single()
        assert 0.0 <= dist.to_unit(value) <= 1.0
        assert all(dist.from_unit(u) == value for u in (0.0, 0.3, 1.0))
    assert Categorical([None]).is_single()
    assert not Int(0, 1).is_single()


def test_external_values_and_types() -> None:
    mixed = Categorical([None, True, 1, 1.0, "1"])
    assert [mixed.index_of(v) for v in (None, True, 1, 1.0, "1")] == [0, 1, 2, 3, 4]
    assert mixed.index_of(False) is None
    assert mixed.index_of([1]) is None  # unhashable: absent, not an error
    assert mixed.to_external(1.0) is True
    assert type(mixed.to_external(3.0)) is float
    assert not mixed.contains_value(0)
    with pytest.raises(InvalidSpaceError, match=r"0 is not one of the choices"):
        mixed.to_internal(0)
    assert type(Int(0, 9).to_external(4.0)) is int
    assert not Int(0, 9).contains_value(True)
    assert not Float(0.0, 1.0).contains_value("0.5")


# -- JSON -----------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    for dist in DISTS:
        data = dist.to_json()
        assert distribution_from_json(data) == dist
        text = json.dumps(data)
        again = distribution_from_json(text)
        assert again == dist
        assert again.to_json() == data
        if isinstance(dist, Categorical):
            # True, 1 and 1.0 keep their types through JSON text.
            assert [type(c) for c in again.choices] == [type(c) for c in dist.choices]  # type: ignore[attr-defined]


def test_space_json_round_trip() -> None:
    space = {"lr": Float(1e-4, 1.0, log=True), "n": Int(0, 8, step=2), "c": Categorical([None])}
    data = space_to_json(space)
    assert space_from_json(data) == space
    assert space_from_json(json.dumps(data)) == space


def test_distribution_from_json_rejects_unknown_types() -> None:
    with pytest.raises(InvalidSpaceError, match=r"Unknown distribution type 'beta'"):
        distribution_from_json({"type": "beta", "a": 1})


def test_equality_hash_and_repr() -> None:
    assert Float(0, 1) == Float(0.0, 1.0)
    assert Float(0.0, 1.0) != Float(0.0, 1.0, step=0.5)
    assert Int(0, 4) != Float(0.0, 4.0)
    assert Categorical([1]) != Categorical([True])
    assert len({Float(0, 1), Float(0.0, 1.0), Int(0, 1), Int(0, 1)}) == 2
    namespace = {"Float": Float, "Int": Int, "Categorical": Categorical}
    for dist in DISTS[:40]:
        assert eval(repr(dist), namespace) == dist
