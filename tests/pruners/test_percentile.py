"""MedianPruner and PercentilePruner on synthetic learning curves."""

from __future__ import annotations

import math

import pytest

import hyperdial
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners import MedianPruner, PercentilePruner
from hyperdial.testing.pruners import add_curve, prune_advice


def accuracy(ceiling: float, n_steps: int = 10) -> dict[int, float]:
    """A rising accuracy curve that approaches ``ceiling``."""
    return {s: ceiling * (1 - math.exp(-(s + 1) / 3)) for s in range(n_steps)}


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_median_prunes_the_curve_below_the_median_after_warmup(direction: str) -> None:
    sign = 1.0 if direction == "maximize" else -1.0  # minimize the negated accuracy
    study = hyperdial.create_study(
        direction=direction, pruner=MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    )
    for ceiling in (0.6, 0.7, 0.8, 0.9, 1.0):
        add_curve(study, {s: sign * v for s, v in accuracy(ceiling).items()})
    bad = {s: sign * v for s, v in accuracy(0.65).items()}
    good = {s: sign * v for s, v in accuracy(0.85).items()}
    assert prune_advice(study, bad) == list(range(3, 10))  # every step past the warm-up
    assert prune_advice(study, good) == []


def test_no_pruning_before_the_startup_trials_complete() -> None:
    study = hyperdial.create_study(direction="maximize", pruner=MedianPruner(n_startup_trials=5))
    for ceiling in (0.7, 0.8, 0.9, 1.0):
        add_curve(study, accuracy(ceiling))
    # A running trial is not a startup trial, whatever it reported.
    prune_advice(study, accuracy(0.95))
    assert prune_advice(study, accuracy(0.1)) == []
    add_curve(study, accuracy(0.6))
    assert prune_advice(study, accuracy(0.1)) == list(range(10))


@pytest.mark.parametrize(
    ("percentile", "direction", "kept", "pruned"),
    [
        # Finished trials hold 1..10; the 25th percentile is 3.25 (linear interpolation).
        (25.0, "minimize", 3.25, 3.26),
        (75.0, "minimize", 7.75, 7.76),
        # Maximizing, percentile 25 keeps the best quarter: at least 7.75.
        (25.0, "maximize", 7.75, 7.74),
        (75.0, "maximize", 3.25, 3.24),
        (0.0, "minimize", 1.0, 1.01),
        (100.0, "minimize", 10.0, 10.01),
    ],
)
def test_percentile_threshold(
    percentile: float, direction: str, kept: float, pruned: float
) -> None:
    study = hyperdial.create_study(
        direction=direction, pruner=PercentilePruner(percentile, n_startup_trials=0)
    )
    for level in range(1, 11):
        add_curve(study, {s: float(level) for s in range(3)})
    assert prune_advice(study, {s: kept for s in range(3)}) == []
    assert prune_advice(study, {s: pruned for s in range(3)}) == [0, 1, 2]


def test_best_value_so_far_is_compared() -> None:
    study = hyperdial.create_study(pruner=MedianPruner(n_startup_trials=1))
    for _ in range(3):
        add_curve(study, {0: 5.0, 1: 5.0, 2: 5.0})
    # It was once better than every finished trial at that point: not pruned later.
    assert prune_advice(study, {0: 1.0, 1: 9.0, 2: 9.0}) == []
    assert prune_advice(study, {0: 6.0, 1: 1.0, 2: 9.0}) == [0]


def test_sparse_reports_are_compared_with_what_others_had_by_then() -> None:
    study = hyperdial.create_study(pruner=MedianPruner(n_startup_trials=3))
    for level in (1.0, 2.0, 3.0):
        add_curve(study, {s: level for s in range(0, 20, 4)})  # steps 0, 4, 8, ...
    # Reports at odd steps only: each is compared with the finished trials' values so far.
    assert prune_advice(study, {s: 2.5 for s in range(1, 20, 3)}) == list(range(1, 20, 3))
    assert prune_advice(study, {s: 1.5 for s in range(1, 20, 3)}) == []


def test_n_min_trials_counts_trials_that_reported_by_then() -> None:
    study = hyperdial.create_study(pruner=MedianPruner(n_startup_trials=0, n_min_trials=3))
    add_curve(study, {s: 1.0 for s in range(10)})
    add_curve(study, {s: 1.0 for s in range(10)})
    add_curve(study, {s: 1.0 for s in range(5, 10)})  # first report at step 5
    assert prune_advice(study, {s: 2.0 for s in range(10)}) == [5, 6, 7, 8, 9]


@pytest.mark.parametrize(
    ("steps", "checked"),
    [
        (range(12), [2, 5, 8, 11]),  # windows [2, 5), [5, 8), ... checked at their start
        (range(0, 12, 2), [2, 6, 8]),  # sparse: first report in each window
        (range(0, 12, 7), [7]),
    ],
)
def test_warmup_and_interval(steps: range, checked: list[int]) -> None:
    study = hyperdial.create_study(
        pruner=MedianPruner(n_startup_trials=1, n_warmup_steps=2, interval_steps=3)
    )
    add_curve(study, {s: 0.0 for s in range(12)})
    assert prune_advice(study, {s: 1.0 for s in steps}) == checked


def test_nan_report_is_pruned_after_warmup_only() -> None:
    study = hyperdial.create_study(pruner=MedianPruner(n_startup_trials=1, n_warmup_steps=2))
    add_curve(study, {s: 1.0 for s in range(5)})
    assert prune_advice(study, {0: math.nan, 1: 0.5, 2: math.nan, 3: 0.5}) == [2]
    # A finished trial's NaN ranks worst: a finite report beats it.
    study = hyperdial.create_study(pruner=MedianPruner(n_startup_trials=1))
    add_curve(study, {0: math.nan, 1: math.nan}, value=1.0)
    assert prune_advice(study, {0: 100.0, 1: 100.0}) == []


def test_no_comparison_without_finished_trials_reporting() -> None:
    study = hyperdial.create_study(pruner=MedianPruner(n_startup_trials=1))
    add_curve(study, {})  # completed without reports
    assert prune_advice(study, {0: 5.0, 1: 5.0}) == []


def test_median_is_the_50th_percentile() -> None:
    pruner = MedianPruner(n_startup_trials=2, n_warmup_steps=1, interval_steps=2, n_min_trials=3)
    assert isinstance(pruner, PercentilePruner)
    assert pruner.percentile == 50.0
    assert repr(pruner) == (
        "MedianPruner(n_startup_trials=2, n_warmup_steps=1, interval_steps=2, n_min_trials=3)"
    )
    assert repr(PercentilePruner(10)) == (
        "PercentilePruner(percentile=10, n_startup_trials=5, n_warmup_steps=0, "
        "interval_steps=1, n_min_trials=1)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percentile": -1.0}, r"percentile must be in \[0, 100\]. Got -1.0"),
        ({"percentile": 100.5}, r"percentile must be in \[0, 100\]. Got 100.5"),
        ({"percentile": math.nan}, "percentile must be a finite number. Got nan"),
        ({"percentile": "50"}, "percentile must be a number. Got '50'"),
        ({"percentile": 50, "n_startup_trials": -1}, "n_startup_trials must be an integer >= 0"),
        ({"percentile": 50, "n_warmup_steps": 1.5}, "n_warmup_steps must be an integer >= 0"),
        ({"percentile": 50, "interval_steps": 0}, "interval_steps must be an integer >= 1. Got 0"),
        ({"percentile": 50, "n_min_trials": 0}, "n_min_trials must be an integer >= 1. Got 0"),
        ({"percentile": 50, "n_min_trials": True}, "n_min_trials must be an integer >= 1"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        PercentilePruner(**kwargs)  # type: ignore[arg-type]
