"""ThresholdPruner."""

from __future__ import annotations

import math

import pytest

import hyperdial
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners import ThresholdPruner
from hyperdial.testing.pruners import prune_advice


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_bounds_are_absolute_in_both_directions(direction: str) -> None:
    study = hyperdial.create_study(
        direction=direction, pruner=ThresholdPruner(lower=0.0, upper=1.0)
    )
    reports = {0: 0.5, 1: 1.0, 2: 0.0, 3: 1.01, 4: -0.01, 5: 0.3, 6: math.inf}
    assert prune_advice(study, reports) == [3, 4, 6]


def test_one_sided_bounds() -> None:
    upper = hyperdial.create_study(pruner=ThresholdPruner(upper=2.0))
    assert prune_advice(upper, {0: -1e9, 1: 2.5}) == [1]
    lower = hyperdial.create_study(direction="maximize", pruner=ThresholdPruner(lower=0.2))
    assert prune_advice(lower, {0: 0.1, 1: 1e9}) == [0]


def test_nan_is_out_of_bounds() -> None:
    study = hyperdial.create_study(pruner=ThresholdPruner(upper=10.0))
    assert prune_advice(study, {0: 1.0, 1: math.nan, 2: 1.0}) == [1]


def test_prunes_from_the_first_trial_after_warmup_on_interval() -> None:
    study = hyperdial.create_study(
        pruner=ThresholdPruner(upper=1.0, n_warmup_steps=2, interval_steps=2)
    )
    assert prune_advice(study, {s: 5.0 for s in range(8)}) == [2, 4, 6]
    assert prune_advice(study, {s: 5.0 for s in (0, 1, 3, 7)}) == [3, 7]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give lower, upper or both"),
        ({"lower": 2.0, "upper": 1.0}, "lower must be <= upper. Got lower=2.0, upper=1.0"),
        ({"upper": math.nan}, "upper must be a number, not NaN. Got nan"),
        ({"lower": "0"}, "lower must be a number. Got '0'"),
        ({"upper": 1.0, "n_warmup_steps": -1}, "n_warmup_steps must be an integer >= 0"),
        ({"upper": 1.0, "interval_steps": 0}, "interval_steps must be an integer >= 1"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        ThresholdPruner(**kwargs)  # type: ignore[arg-type]


def test_repr_shows_the_arguments() -> None:
    assert repr(ThresholdPruner(upper=3)) == (
        "ThresholdPruner(lower=None, upper=3, n_warmup_steps=0, interval_steps=1)"
    )
