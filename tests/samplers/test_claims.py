"""Claims on points of finite spaces (``hyperdial.samplers._claims``)."""

from __future__ import annotations

from typing import Any

import hyperdial
from hyperdial import FrozenTrial, TrialState
from hyperdial.samplers._claims import claim_point, is_finite
from hyperdial.space import Categorical, Float, Int


def _running(study: hyperdial.Study) -> FrozenTrial:
    number = study.ask().number
    return next(t for t in study.trials if t.number == number)


def test_one_trial_takes_a_point_the_next_proposes_again() -> None:
    study = hyperdial.create_study()
    first, second = _running(study), _running(study)
    asked: list[list[dict[str, Any]]] = []

    def propose_again(lost: list[dict[str, Any]]) -> dict[str, Any] | None:
        asked.append(list(lost))
        return {"x": 2}

    assert claim_point(study.view, first, "S", {"x": 1}, propose_again) == {"x": 1}
    assert asked == []
    assert claim_point(study.view, second, "S", {"x": 1}, propose_again) == {"x": 2}
    assert asked == [[{"x": 1}]]
    # The winner asking again keeps its point; other namespaces keep their own claims.
    assert claim_point(study.view, first, "S", {"x": 1}, propose_again) == {"x": 1}
    assert claim_point(study.view, second, "T", {"x": 1}, propose_again) == {"x": 1}


def test_a_repeat_is_taken_when_nothing_else_is_left() -> None:
    study = hyperdial.create_study()
    first, second = _running(study), _running(study)
    claim_point(study.view, first, "S", {"x": 1}, lambda lost: None)
    assert claim_point(study.view, second, "S", {"x": 1}, lambda lost: None) == {"x": 1}
    # A proposer that keeps answering with lost points stops the loop too.
    third = _running(study)
    assert claim_point(study.view, third, "S", {"x": 1}, lambda lost: lost[0]) == {"x": 1}


def test_a_failed_trials_point_is_taken_over_by_exactly_one_trial() -> None:
    study = hyperdial.create_study()
    crashed = _running(study)
    claim_point(study.view, crashed, "S", {"x": 1}, lambda lost: None)
    study.tell(crashed.number, state=TrialState.FAIL)
    second, third = _running(study), _running(study)
    assert claim_point(study.view, second, "S", {"x": 1}, lambda lost: {"x": 5}) == {"x": 1}
    assert claim_point(study.view, third, "S", {"x": 1}, lambda lost: {"x": 5}) == {"x": 5}


def test_finite_spaces() -> None:
    assert is_finite({"n": Int(1, 8), "c": Categorical(["a", "b"]), "f": Float(0, 1, step=0.1)})
    assert not is_finite({"n": Int(1, 8), "x": Float(0, 1)})
