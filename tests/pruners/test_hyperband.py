"""HyperbandPruner."""

from __future__ import annotations

import copy
import pickle
from collections import Counter
from typing import Any

import pytest

import hyperdial
from hyperdial import FrozenTrial, StudyView, TrialState
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners import HyperbandPruner
from hyperdial.samplers import Sampler
from hyperdial.space import Distribution
from hyperdial.testing.pruners import add_curve, frozen_of, prune_advice


def flat(value: float, last_step: int) -> dict[int, float]:
    return {s: value for s in range(last_step + 1)}


def test_brackets_and_weights_follow_the_paper() -> None:
    pruner = HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3)
    assert pruner.n_brackets(81) == 5
    # Li et al. (2018), Table 1 (R = 81, eta = 3): n = 81, 34, 15, 8, 5.
    assert pruner.bracket_weights(81) == [81, 34, 15, 8, 5]
    assert pruner.n_brackets(80) == 4  # 81 steps are not available: one bracket fewer
    assert HyperbandPruner(min_resource=2, max_resource=3).n_brackets(3) == 1


def test_bracket_assignment_is_deterministic_and_proportional() -> None:
    pruner = HyperbandPruner(max_resource=81)
    copies = [HyperbandPruner(max_resource=81), pickle.loads(pickle.dumps(pruner))]
    brackets = [pruner.bracket_of(n, 81) for n in range(2000)]
    for other in copies:
        assert [other.bracket_of(n, 81) for n in range(2000)] == brackets
    weights = pruner.bracket_weights(81)
    total = sum(weights)
    for start in (0, total, 7 * total):
        one_round = brackets[start : start + total]
        # Each round starts every bracket's share of configurations ...
        assert Counter(one_round) == dict(enumerate(weights))
        # ... most aggressive bracket first, as the paper's outer loop runs them.
        assert one_round == sorted(one_round)
    assert brackets[: weights[0]] == [0] * weights[0]


def make_study(pruner: HyperbandPruner, n_trials: int, value: float = 1.0) -> hyperdial.Study:
    study = hyperdial.create_study(pruner=pruner)
    for _ in range(n_trials):
        add_curve(study, flat(value, 9))
    return study


def test_trials_for_sampler_keeps_every_trial_by_default() -> None:
    pruner = HyperbandPruner(max_resource=9)
    study = make_study(pruner, 40)
    trials = study.view.get_trials()
    for trial in trials[:12]:
        assert pruner.trials_for_sampler(study.view, trial, trials) == trials


def test_trials_for_sampler_keeps_the_trials_bracket_when_not_shared() -> None:
    pruner = HyperbandPruner(max_resource=9, share_trials=False)
    study = make_study(pruner, 40)
    trials = study.view.get_trials()
    seen: set[int] = set()
    for trial in trials:
        bracket = pruner.bracket_of(trial.number, 9)
        chosen = pruner.trials_for_sampler(study.view, trial, trials)
        assert [t.number for t in chosen] == [
            t.number for t in trials if pruner.bracket_of(t.number, 9) == bracket
        ]
        assert trial in chosen
        assert len(chosen) < len(trials)
        seen.update(t.number for t in chosen)
    assert seen == set(range(40))


class RecordingSampler(Sampler):
    """Samples the middle of each range and records which trials it was shown."""

    def __init__(self) -> None:
        self.shown: dict[int, list[int]] = {}

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        self.shown[trial.number] = [t.number for t in study.get_trials()]
        return distribution.to_external(distribution.from_unit(0.5))


def run_recorded(pruner: HyperbandPruner) -> dict[int, list[int]]:
    sampler = RecordingSampler()
    study = make_study(pruner, 30)
    study.sampler = sampler

    def objective(trial: hyperdial.Trial) -> float:
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=10, show_progress_bar=False)
    assert sorted(sampler.shown) == list(range(30, 40))
    return sampler.shown


def test_samplers_learn_from_every_bracket() -> None:
    for number, shown in run_recorded(HyperbandPruner(max_resource=9)).items():
        assert shown == list(range(number + 1)), "every earlier trial, and itself"


def test_samplers_learn_only_from_the_bracket_when_not_shared() -> None:
    pruner = HyperbandPruner(max_resource=9, share_trials=False)
    for number, shown in run_recorded(pruner).items():
        bracket = pruner.bracket_of(number, 9)
        assert shown, "a bracket with finished trials showed none"
        assert all(pruner.bracket_of(n, 9) == bracket for n in shown)


def first_number_in(pruner: HyperbandPruner, bracket: int, start: int, max_resource: int) -> int:
    return next(n for n in range(start, 10_000) if pruner.bracket_of(n, max_resource) == bracket)


def test_trials_compete_only_within_their_bracket() -> None:
    pruner = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    study = hyperdial.create_study(pruner=pruner)
    target = first_number_in(pruner, 0, 20, 9)
    for number in range(target):
        # Trials of other brackets are far better; bracket 0 holds only poor ones.
        add_curve(study, flat(5.0 if pruner.bracket_of(number, 9) == 0 else 0.0, 9))
    assert prune_advice(study, flat(4.0, 9), finish=True) == []  # best of bracket 0
    target = first_number_in(pruner, 0, target + 1, 9)
    while len(study.trials) < target:
        add_curve(study, flat(0.0, 9), state=TrialState.FAIL)
    assert prune_advice(study, flat(6.0, 9))[:1] == [1]  # worst of bracket 0, at rung 1


def test_each_bracket_starts_judging_later_and_the_last_never_prunes() -> None:
    pruner = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    assert pruner.n_brackets(27) == 4
    for bracket, first_step in ((0, 1), (1, 3), (2, 9), (3, None)):
        study = hyperdial.create_study(pruner=pruner)
        # In the second round, so that a whole round of the bracket's trials came before.
        target = first_number_in(pruner, bracket, sum(pruner.bracket_weights(27)), 27)
        while len(study.trials) < target:
            add_curve(study, flat(0.0, 27))
        advised = prune_advice(study, flat(1.0, 27))
        if first_step is None:
            assert advised == []
        else:
            assert advised == list(range(first_step, 28))  # stopped at its first rung
        # Best at every rung below 27 and worst at 27, the full length: nobody is judged
        # there, so it completes.
        late_fall = {**flat(-1.0, 26), 27: 5.0}
        assert prune_advice(study, late_fall) == []


def test_auto_max_resource_from_the_first_completed_trial() -> None:
    pruner = HyperbandPruner(share_trials=False)
    study = hyperdial.create_study(pruner=pruner)
    for _ in range(11):
        add_curve(study, flat(0.0, 9), state=TrialState.PRUNED)
    trials = study.view.get_trials()
    assert prune_advice(study, flat(9.0, 26)) == []  # no completed trial: no brackets yet
    assert pruner.trials_for_sampler(study.view, trials[0], trials) == trials
    add_curve(study, flat(0.0, 26))
    add_curve(study, flat(0.0, 100))
    # Brackets of 9, 5 and 3 trials a round for 26 steps: trial 12 is in bracket 1.
    running = frozen_of(study, 12)
    assert pruner.resolved_max_resource(study.view) == 26
    assert HyperbandPruner().resolved_max_resource(study.view) == 26  # another worker
    assert pruner.n_brackets(26) == 3
    assert len(pruner.trials_for_sampler(study.view, running, trials)) < len(trials)


def test_copies_keep_deciding_the_same() -> None:
    pruner = HyperbandPruner(max_resource=27)
    study = make_study(pruner, 20)
    pruner.prune(study.view, frozen_of(study, 0))
    for clone in (copy.deepcopy(pruner), pickle.loads(pickle.dumps(pruner))):
        assert repr(clone) == repr(pruner)
        assert [clone.bracket_of(n, 27) for n in range(50)] == [
            pruner.bracket_of(n, 27) for n in range(50)
        ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_resource": 0}, "min_resource must be an integer >= 1. Got 0"),
        ({"max_resource": 1}, r"max_resource must be 'auto' or an integer > min_resource \(1\)"),
        ({"min_resource": 5, "max_resource": 4}, "integer > min_resource"),
        ({"max_resource": "full"}, "max_resource must be 'auto' or an integer"),
        ({"max_resource": 10.0}, "Got 10.0"),
        ({"reduction_factor": 1}, "reduction_factor must be an integer >= 2. Got 1"),
        ({"bootstrap_count": -1}, "bootstrap_count must be an integer >= 0. Got -1"),
        ({"share_trials": 1}, "share_trials must be True or False. Got 1"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        HyperbandPruner(**kwargs)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(HyperbandPruner(max_resource=81)) == (
        "HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3, bootstrap_count=0, "
        "share_trials=True)"
    )
