"""SuccessiveHalvingPruner (ASHA)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners import SuccessiveHalvingPruner
from hyperdial.testing.pruners import add_curve, frozen_of, prune_advice

KEY = "SuccessiveHalvingPruner:promoted_rung"


def flat(value: float, last_step: int) -> dict[int, float]:
    return {s: value for s in range(last_step + 1)}


@pytest.mark.parametrize("eta", [2, 3, 4])
@pytest.mark.parametrize("rung", [0, 1])
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_promotes_exactly_the_top_fraction_at_a_rung(eta: int, rung: int, direction: str) -> None:
    # 3 * eta - 1 trials are at the rung; a newcomer makes 3 * eta, so the top 3 go on.
    sign = 1.0 if direction == "minimize" else -1.0
    resource = eta**rung
    values = [float(v) for v in range(1, 3 * eta)]
    promoted = []
    for candidate in np.arange(0.5, 3 * eta, 1.0):  # every rank among the others
        pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
        study = hyperdial.create_study(direction=direction, pruner=pruner)
        for v in values:
            # The others passed the earlier rungs with the same ranking.
            add_curve(study, flat(sign * v, resource), state=TrialState.PRUNED)
        trial = study.ask()
        for step in range(resource + 1):
            trial.report(sign * float(candidate), step)
        if not trial.should_prune():
            promoted.append(float(candidate))
    assert promoted == [0.5, 1.5, 2.5]


def test_decisions_follow_the_asha_rule_in_a_long_run() -> None:
    # Reference: a trial reaching rung k goes on iff fewer than max(1, n // eta) of the n
    # trials that reached rung k so far (itself included) are better.
    eta, n_steps = 3, 28
    rng = np.random.default_rng(3)
    quality = rng.permutation(40)
    study = hyperdial.create_study(
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
    )
    rungs: dict[int, list[float]] = {1: [], 3: [], 9: [], 27: []}
    for q in quality:
        curve = {s: float(q) + 10.0 / (s + 1) for s in range(n_steps)}
        expected_stop = None
        for resource, seen in rungs.items():
            value = curve[resource]
            n = len(seen) + 1
            better = sum(1 for v in seen if v < value)
            seen.append(value)
            if better >= max(1, n // eta):
                expected_stop = resource
                break
        trial = study.ask()
        stopped = None
        for step, value in curve.items():
            trial.report(value, step)
            if trial.should_prune():
                stopped = step
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            study.tell(trial, curve[n_steps - 1])
        assert stopped == expected_stop, f"trial of quality {q}"
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert len(pruned) >= 25


def test_a_promotion_is_final_and_stored_for_other_workers() -> None:
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = hyperdial.create_study(pruner=pruner)
    trial = study.ask()
    trial.report(5.0, 0)
    trial.report(5.0, 1)
    assert not trial.should_prune()  # first at rung 0: promoted
    assert frozen_of(study, trial.number).system_attrs[KEY] == 0
    for _ in range(9):
        add_curve(study, flat(1.0, 3))
    trial.report(5.0, 2)
    assert not trial.should_prune()  # rung 0 is not judged again
    trial.report(5.0, 3)
    assert trial.should_prune()  # rung 1: 9 better trials are there
    # Another worker's copy of the pruner reads the same stored promotion.
    other = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    assert other.prune(study.view, frozen_of(study, trial.number))


def test_min_early_stopping_rate_skips_rungs() -> None:
    pruner = SuccessiveHalvingPruner(min_resource=2, reduction_factor=2, min_early_stopping_rate=2)
    study = hyperdial.create_study(pruner=pruner)
    for _ in range(6):
        add_curve(study, flat(0.0, 20))
    # Rungs at 2 * 2 ** (2 + k) = 8, 16, ...
    assert prune_advice(study, flat(1.0, 20)) == list(range(8, 21))


def test_auto_min_resource_comes_from_the_first_completed_trial() -> None:
    study = hyperdial.create_study(pruner=SuccessiveHalvingPruner())
    add_curve(study, {0: 9.0}, state=TrialState.PRUNED)
    assert prune_advice(study, flat(9.0, 60), finish=False) == []  # nothing completed yet
    add_curve(study, flat(1.0, 80))  # the first complete trial: 81 steps (0..80)
    add_curve(study, flat(1.0, 200))  # a later, longer one does not change the estimate
    for _ in range(3):
        add_curve(study, flat(1.0, 80))
    # Rungs at 80 // 27 = 2, 6, 18, 54: a worse trial is stopped at the first one.
    assert prune_advice(study, flat(2.0, 80))[:1] == [2]
    assert study.view.state("pruners").get("max_step") == 80  # shared with every worker
    assert SuccessiveHalvingPruner().resolved_min_resource(study.view) == 2
    assert SuccessiveHalvingPruner(reduction_factor=5).resolved_min_resource(study.view) == 1


def test_auto_min_resource_is_at_least_one() -> None:
    study = hyperdial.create_study(pruner=SuccessiveHalvingPruner())
    add_curve(study, flat(1.0, 5))
    assert SuccessiveHalvingPruner().resolved_min_resource(study.view) == 1


def test_bootstrap_count_waits_for_enough_trials_at_a_rung() -> None:
    study = hyperdial.create_study(
        pruner=SuccessiveHalvingPruner(min_resource=1, bootstrap_count=3)
    )
    assert prune_advice(study, flat(1.0, 1), finish=True) == [1]  # 1 of 3 at the rung
    assert prune_advice(study, flat(0.5, 1), finish=True) == [1]  # 2 of 3
    assert prune_advice(study, flat(0.1, 1), finish=True) == []  # 3 of 3, the best


def test_nan_at_a_rung_stops_even_the_only_trial() -> None:
    study = hyperdial.create_study(pruner=SuccessiveHalvingPruner(min_resource=1))
    assert prune_advice(study, {0: 1.0, 1: math.nan, 2: 1.0}) == [1, 2]
    study = hyperdial.create_study(pruner=SuccessiveHalvingPruner(min_resource=1))
    add_curve(study, {0: math.nan, 1: math.nan}, state=TrialState.PRUNED)
    assert prune_advice(study, flat(100.0, 1)) == []  # better than the NaN there


def test_sparse_reports_use_the_first_report_at_or_past_a_rung() -> None:
    study = hyperdial.create_study(
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    )
    add_curve(study, {1: 3.0, 2: 1.5, 4: 1.0})
    add_curve(study, {1: 4.0, 2: 4.0, 4: 4.0})
    # Reports at 0 and 3: the rungs at 1 and 2 are both judged at step 3 with its value
    # there, 2.0: the best of three at the first; second of three at the next, quota 1.
    assert prune_advice(study, {0: 9.0, 3: 2.0}) == [3]
    # Reports at 0 and 5: rung 4 as well, where 1.0 is better.
    assert prune_advice(study, {0: 9.0, 5: 0.5}) == []


def test_failed_and_waiting_trials_do_not_count_at_a_rung() -> None:
    study = hyperdial.create_study(pruner=SuccessiveHalvingPruner(min_resource=1))
    for _ in range(5):
        add_curve(study, flat(0.0, 3), state=TrialState.FAIL)
    assert prune_advice(study, flat(1.0, 3)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_resource": 0}, "min_resource must be 'auto' or an integer >= 1. Got 0"),
        ({"min_resource": "max"}, "min_resource must be 'auto' or an integer >= 1. Got 'max'"),
        ({"min_resource": 2.0}, "min_resource must be 'auto' or an integer >= 1. Got 2.0"),
        ({"reduction_factor": 1}, "reduction_factor must be an integer >= 2. Got 1"),
        ({"min_early_stopping_rate": -1}, "min_early_stopping_rate must be an integer >= 0"),
        ({"bootstrap_count": -2}, "bootstrap_count must be an integer >= 0. Got -2"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        SuccessiveHalvingPruner(**kwargs)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(SuccessiveHalvingPruner(min_resource=4)) == (
        "SuccessiveHalvingPruner(min_resource=4, reduction_factor=3, "
        "min_early_stopping_rate=0, bootstrap_count=0)"
    )
