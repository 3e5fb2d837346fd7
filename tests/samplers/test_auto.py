"""The AutoSampler's rule: which algorithm proposes each trial."""

from __future__ import annotations

import math

import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.exceptions import InvalidValueError
from hyperdial.samplers import AutoSampler, RandomSampler
from hyperdial.space import Float
from hyperdial.testing.pruners import add_curve


def branin(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -5, 10)
    y = trial.suggest_float("y", 0, 15)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


def labels(study: hyperdial.Study) -> list[str]:
    return [t.system_attrs["sampler"] for t in study.trials]


def test_qmc_then_gp_on_a_small_fixed_space() -> None:
    study = hyperdial.create_study(sampler=AutoSampler(seed=0, n_startup_trials=6))
    study.optimize(branin, n_trials=10, show_progress_bar=False)
    assert labels(study) == ["QMC"] * 6 + ["GP"] * 4


def test_gp_for_branches_a_categorical_explains() -> None:
    def objective(trial: hyperdial.Trial) -> float:
        if trial.suggest_categorical("family", ["a", "b"]) == "a":
            return trial.suggest_float("x", 0, 1)
        return trial.suggest_float("y", 0, 1) + 0.5

    study = hyperdial.create_study(sampler=AutoSampler(seed=0, n_startup_trials=6))
    study.optimize(objective, n_trials=14, show_progress_bar=False)
    families = {t.params["family"] for t in study.trials[:6]}
    assert families == {"a", "b"}, "the QMC phase should visit both branches"
    assert labels(study)[6:] == ["GP"] * 8


def test_tpe_for_branches_no_categorical_explains() -> None:
    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if x > 0.5:  # a branch that hangs on a float: the GP would draw ``z`` at random
            return x + trial.suggest_float("z", 0, 1)
        return x

    study = hyperdial.create_study(sampler=AutoSampler(seed=0, n_startup_trials=6))
    study.optimize(objective, n_trials=10, show_progress_bar=False)
    assert len({frozenset(t.params) for t in study.trials[:6]}) == 2
    assert labels(study)[6:] == ["TPE"] * 4


def test_tpe_for_branches_an_integer_explains() -> None:
    # The GP models layer widths under a number of layers, but the rule leaves such spaces
    # to TPE (see AutoSampler's docstring).
    def objective(trial: hyperdial.Trial) -> float:
        n = trial.suggest_int("n_layers", 1, 3)
        return sum(trial.suggest_int(f"w{i}", 16, 256, log=True) for i in range(n)) / 100

    study = hyperdial.create_study(sampler=AutoSampler(seed=0, n_startup_trials=6))
    study.optimize(objective, n_trials=10, show_progress_bar=False)
    assert len({t.params["n_layers"] for t in study.trials[:6]}) > 1
    assert labels(study)[6:] == ["TPE"] * 4


def test_tpe_for_large_categoricals_and_pruned_studies() -> None:
    def many_choices(trial: hyperdial.Trial) -> float:
        return float(trial.suggest_categorical("c", list(range(20))))

    study = hyperdial.create_study(sampler=AutoSampler(seed=0, n_startup_trials=4))
    study.optimize(many_choices, n_trials=6, show_progress_bar=False)
    assert labels(study)[4:] == ["TPE", "TPE"]

    def mostly_pruned(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        trial.report(x, 0)
        if trial.number % 2:
            raise hyperdial.TrialPruned()
        return x

    study = hyperdial.create_study(sampler=AutoSampler(seed=0, n_startup_trials=4))
    study.optimize(mostly_pruned, n_trials=6, show_progress_bar=False)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.PRUNED) == 3
    # Pruned trials count toward the start-up phase, and a pruned study goes to TPE.
    assert labels(study) == ["QMC"] * 4 + ["TPE"] * 2


def test_auto_beats_random_on_branin() -> None:
    def best(sampler: hyperdial.samplers.Sampler) -> float:
        study = hyperdial.create_study(sampler=sampler)
        study.optimize(branin, n_trials=25, show_progress_bar=False)
        return study.best_value

    auto = [best(AutoSampler(seed=s)) for s in range(3)]
    rand = [best(RandomSampler(seed=s)) for s in range(3)]
    assert sum(auto) < 0.5 * sum(rand), (auto, rand)


def test_is_the_default_and_validates() -> None:
    assert isinstance(hyperdial.create_study().sampler, AutoSampler)
    with pytest.raises(InvalidValueError, match="n_startup_trials must be an integer >= 1"):
        AutoSampler(n_startup_trials=0)
    assert repr(AutoSampler(seed=3)).startswith("AutoSampler(n_startup_trials=10")


X = Float(0.0, 1.0)


def add(study: hyperdial.Study, x: float, reports: dict[int, float], state: TrialState) -> None:
    """Record a finished trial at ``x`` that reported ``reports``."""
    add_curve(study, reports, state, params={"x": x}, distributions={"x": X})


def hyperband_like_history(study: hyperdial.Study) -> None:
    """Fourteen trials judged at step 3, two of which completed at step 9.

    At step 3 the trials near x = 0.8 lead; the two that completed sit near x = 0.2, behind
    at step 3 (though ahead of three quarters of the trials stopped there, so they earned
    going on) but best at the end (late bloomers, as when a small learning rate starts slow).
    """
    for i in range(12):
        x = 0.05 + 0.9 * i / 11
        add(study, x, {1: 0.0, 3: -((x - 0.8) ** 2)}, TrialState.PRUNED)
    for x in (0.18, 0.22):
        add(study, x, {1: 0.0, 3: -0.01, 9: 10.0}, TrialState.COMPLETE)


def test_pruned_study_judges_each_trial_at_the_furthest_step_it_reached() -> None:
    sampler = AutoSampler(seed=0, n_startup_trials=4)
    study = hyperdial.create_study(direction="maximize", sampler=sampler)
    hyperband_like_history(study)
    # Only two trials completed, but they count at the full length, above every trial
    # stopped at step 3: the model follows them, not the trials that led at step 3 (which
    # BOHB's rule, fitting at step 3 where most observations are, would follow).
    assert sampler.choose(study.view) == ("TPE", sampler._tpe)
    proposals = [study.ask({"x": X}).params["x"] for _ in range(8)]
    assert sum(abs(x - 0.2) < 0.2 for x in proposals) >= 6, proposals
    assert all(t.system_attrs["sampler"] == "TPE" for t in study.trials[-8:])
