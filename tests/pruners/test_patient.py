"""PatientPruner."""

from __future__ import annotations

import math

import pytest

import hyperdial
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners import HyperbandPruner, NopPruner, PatientPruner, ThresholdPruner
from hyperdial.testing.pruners import add_curve, frozen_of, prune_advice


def test_stops_after_patience_reports_without_improvement() -> None:
    study = hyperdial.create_study(pruner=PatientPruner(None, patience=2))
    reports = {0: 5.0, 1: 4.0, 2: 3.0, 3: 3.0, 4: 3.5, 5: 2.0}
    # Steps 3 and 4 bring nothing better than 3.0; step 5 improves again.
    assert prune_advice(study, reports) == [4]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_direction_decides_what_improves(direction: str) -> None:
    study = hyperdial.create_study(direction=direction, pruner=PatientPruner(None, patience=1))
    rising = {s: float(s) for s in range(5)}
    falling = {s: -float(s) for s in range(5)}
    worse, better = (rising, falling) if direction == "minimize" else (falling, rising)
    assert prune_advice(study, better) == []
    assert prune_advice(study, worse) == [1, 2, 3, 4]


def test_min_delta() -> None:
    study = hyperdial.create_study(pruner=PatientPruner(None, patience=2, min_delta=0.05))
    creeping = {s: 1.0 - 0.01 * s for s in range(6)}
    assert prune_advice(study, creeping) == [2, 3, 4, 5]
    steady = {s: 1.0 - 0.1 * s for s in range(6)}
    assert prune_advice(study, steady) == []


def test_patience_counts_reports_not_steps() -> None:
    study = hyperdial.create_study(pruner=PatientPruner(None, patience=2))
    assert prune_advice(study, {0: 1.0, 10: 1.0, 50: 1.0}) == [50]


def test_nan_never_improves() -> None:
    study = hyperdial.create_study(pruner=PatientPruner(None, patience=2))
    assert prune_advice(study, {0: 1.0, 1: math.nan, 2: math.nan}) == [2]
    assert prune_advice(study, {0: math.nan, 1: math.nan, 2: 1.0}) == []


def test_wrapped_pruner_decides_once_stalled() -> None:
    always = ThresholdPruner(lower=1e9)  # would stop every trial
    study = hyperdial.create_study(pruner=PatientPruner(always, patience=2))
    assert prune_advice(study, {s: 10.0 - s for s in range(6)}) == []  # improving: spared
    assert prune_advice(study, {0: 3.0, 1: 4.0, 2: 4.0, 3: 2.0}) == [2]
    never = hyperdial.create_study(pruner=PatientPruner(NopPruner(), patience=1))
    assert prune_advice(never, {s: float(s) for s in range(5)}) == []


def test_trials_for_sampler_comes_from_the_wrapped_pruner() -> None:
    hyperband = HyperbandPruner(max_resource=9, share_trials=False)
    pruner = PatientPruner(hyperband, patience=2)
    study = hyperdial.create_study(pruner=pruner)
    for _ in range(20):
        add_curve(study, {s: 1.0 for s in range(10)})
    trials = study.view.get_trials()
    for number in range(5):
        trial = frozen_of(study, number)
        chosen = pruner.trials_for_sampler(study.view, trial, trials)
        assert chosen == hyperband.trials_for_sampler(study.view, trial, trials)
        assert 0 < len(chosen) < len(trials)
    alone = PatientPruner(None, patience=1)
    assert alone.trials_for_sampler(study.view, trials[0], trials) == trials


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((None,), {"patience": 0}, "patience must be an integer >= 1. Got 0"),
        ((None,), {"patience": 2.0}, "patience must be an integer >= 1. Got 2.0"),
        ((None,), {"patience": 1, "min_delta": -0.1}, "min_delta must be >= 0. Got -0.1"),
        ((None,), {"patience": 1, "min_delta": math.inf}, "min_delta must be a finite number"),
        (("median",), {"patience": 1}, "wrapped_pruner must be a Pruner or None. Got 'median'"),
    ],
)
def test_invalid_arguments(args: tuple[object], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        PatientPruner(*args, **kwargs)  # type: ignore[arg-type]
