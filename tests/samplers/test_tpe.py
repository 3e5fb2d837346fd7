from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
import pytest

import hyperdial
from hyperdial import FrozenTrial, TrialState
from hyperdial._frozen import StudyDirection
from hyperdial.exceptions import InvalidValueError
from hyperdial.samplers import RandomSampler
from hyperdial.samplers._tpe import TPESampler, default_gamma
from hyperdial.samplers._tpe._groups import GroupDecomposition, decompose
from hyperdial.samplers._tpe._observations import dim_of, snap
from hyperdial.samplers._tpe._parzen import (
    Dim,
    Kind,
    ParzenEstimator,
    equal_height_weights,
    local_factors,
    minimum_bandwidth,
)
from hyperdial.samplers._tpe._sampler import RECENT_FULL_WEIGHT, recency_weights
from hyperdial.samplers._tpe._split import split_trials
from hyperdial.space import Categorical, Distribution, Float, Int
from hyperdial.testing.pruners import add_curve
from hyperdial.testing.samplers import DISTRIBUTIONS, SamplerCase, SamplerConformance

# -- the conformance suite ---------------------------------------------------------------------

CASES = [
    SamplerCase("default", lambda seed, space: TPESampler(seed=seed)),
    SamplerCase("short-startup", lambda seed, space: TPESampler(n_startup_trials=3, seed=seed)),
    SamplerCase(
        "univariate",
        lambda seed, space: TPESampler(multivariate=False, n_startup_trials=3, seed=seed),
    ),
    SamplerCase(
        "one-joint-model",
        lambda seed, space: TPESampler(group=False, n_startup_trials=3, seed=seed),
    ),
    SamplerCase(
        "hyperopt-bandwidth",
        lambda seed, space: TPESampler(bandwidth="hyperopt", n_startup_trials=3, seed=seed),
    ),
]


class TestConformance(SamplerConformance):
    @pytest.fixture(params=CASES, ids=[case.name for case in CASES])
    def sampler_factory(self, request: pytest.FixtureRequest) -> SamplerCase:
        return request.param  # type: ignore[no-any-return]


# -- options --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": 0.0}, "gamma must be a callable"),
        ({"gamma": 1.5}, "gamma must be a callable"),
        ({"gamma": True}, "gamma must be a callable"),
        ({"gamma": "0.1"}, "gamma must be a callable"),
        ({"prior_weight": 0.0}, "prior_weight must be a finite number > 0"),
        ({"prior_weight": -1.0}, "prior_weight must be a finite number > 0"),
        ({"prior_weight": math.inf}, "prior_weight must be a finite number > 0"),
        ({"prior_weight": "1"}, "prior_weight must be a finite number > 0"),
        ({"n_ei_candidates": 0}, "n_ei_candidates must be an integer >= 1"),
        ({"n_ei_candidates": 2.5}, "n_ei_candidates must be an integer >= 1"),
        ({"n_startup_trials": -1}, "n_startup_trials must be an integer >= 0"),
        ({"n_startup_trials": True}, "n_startup_trials must be an integer >= 0"),
        ({"multivariate": 1}, "multivariate must be True or False"),
        ({"group": None}, "group must be True or False"),
        ({"constant_liar": "yes"}, "constant_liar must be True or False"),
        ({"bandwidth": "silverman"}, "bandwidth must be 'scott', 'hyperopt' or a number > 0"),
        ({"bandwidth": 0.0}, "bandwidth must be 'scott', 'hyperopt' or a number > 0"),
        ({"bandwidth": math.nan}, "bandwidth must be 'scott', 'hyperopt' or a number > 0"),
        ({"seed": -3}, "seed must be a non-negative integer"),
    ],
)
def test_invalid_options_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        TPESampler(**kwargs)


def test_options_are_stored_under_their_names_and_shown_in_repr() -> None:
    sampler = TPESampler(
        gamma=0.2,
        prior_weight=2.0,
        n_ei_candidates=8,
        n_startup_trials=4,
        multivariate=False,
        group=False,
        constant_liar=False,
        bandwidth=0.3,
        seed=5,
    )
    assert sampler.gamma == 0.2
    assert sampler.prior_weight == 2.0
    assert sampler.n_ei_candidates == 8
    assert sampler.n_startup_trials == 4
    assert sampler.multivariate is False
    assert sampler.group is False
    assert sampler.constant_liar is False
    assert sampler.bandwidth == 0.3
    assert sampler.seed == 5
    text = repr(sampler)
    assert text.startswith("TPESampler(")
    for part in ("gamma=0.2", "n_startup_trials=4", "bandwidth=0.3", "seed=5"):
        assert part in text


def test_gamma_callable_must_return_an_integer() -> None:
    study = hyperdial.create_study(
        sampler=TPESampler(gamma=lambda n: 0.5, n_startup_trials=2, seed=0)  # type: ignore[arg-type,return-value]
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, show_progress_bar=False)
    with pytest.raises(InvalidValueError, match="must return an integer"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, show_progress_bar=False)


def test_default_gamma() -> None:
    assert [default_gamma(n) for n in (0, 1, 10, 11, 100, 249, 250, 10_000)] == [
        0, 1, 1, 2, 10, 25, 25, 25
    ]  # fmt: skip


# -- behaviour on a study -------------------------------------------------------------------------


def _branin(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 10.0)
    y = trial.suggest_float("y", 0.0, 15.0)
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def _conditional(trial: hyperdial.Trial) -> float:
    family = trial.suggest_categorical("family", ["linear", "tree", "mlp"])
    if family == "linear":
        c = trial.suggest_float("c", 1e-3, 1e3, log=True)
        return 1.5 + abs(math.log10(c) - 1.0)
    if family == "tree":
        depth = trial.suggest_int("depth", 1, 30)
        return 1.0 + abs(depth - 17) / 10
    n_layers = trial.suggest_int("n_layers", 1, 3)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    units = [trial.suggest_int(f"units_{i}", 4, 256, log=True) for i in range(n_layers)]
    return (
        abs(math.log10(lr) + 2.5) / 2
        + sum(abs(math.log2(u) - 6) for u in units) / 4
        + abs(n_layers - 2) / 4
    )


def _mixed(trial: hyperdial.Trial) -> float:
    n = trial.suggest_int("n", 0, 100)
    m = trial.suggest_int("m", 1, 1024, log=True)
    k = trial.suggest_int("k", 0, 60, step=5)
    q = trial.suggest_float("q", 0.0, 1.0, step=0.05)
    kind = trial.suggest_categorical("kind", ["a", "b", "c", "d", "e"])
    flag = trial.suggest_categorical("flag", [True, False])
    return (
        ((n - 63) / 20) ** 2
        + (math.log2(m) - 7) ** 2 / 4
        + ((k - 35) / 20) ** 2
        + (q - 0.3) ** 2 * 4
        + (0.0 if kind == "d" else 1.5)
        + (0.0 if flag else 0.5)
    )


_BRANIN_MIN = 0.397887


def _mean_regret(sampler_factory: Any, objective: Any, optimum: float) -> float:
    regrets = []
    for seed in range(5):
        study = hyperdial.create_study(sampler=sampler_factory(seed))
        study.optimize(objective, n_trials=60, show_progress_bar=False)
        regrets.append(study.best_value - optimum)
    return float(np.mean(regrets))


@pytest.mark.parametrize(
    ("objective", "optimum", "margin"),
    [(_branin, _BRANIN_MIN, 0.6), (_conditional, 0.0, 0.7), (_mixed, 0.0, 0.4)],
    ids=["branin", "conditional", "mixed-int-categorical"],
)
def test_beats_random_search(objective: Any, optimum: float, margin: float) -> None:
    tpe = _mean_regret(lambda s: TPESampler(seed=s), objective, optimum)
    rand = _mean_regret(lambda s: RandomSampler(seed=s), objective, optimum)
    # Clearly better: on average a fraction of random search's distance to the optimum.
    assert tpe < margin * rand, (tpe, rand)


@pytest.mark.parametrize("multivariate", [True, False])
def test_model_from_the_first_trial_with_every_trial_good(multivariate: bool) -> None:
    # gamma=1.0 leaves g(x) with no observation: the prior alone.
    sampler = TPESampler(n_startup_trials=0, gamma=1.0, multivariate=multivariate, seed=0)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_mixed, n_trials=6, show_progress_bar=False)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert [t.system_attrs["sampler"] for t in study.trials] == ["TPE-startup"] + ["TPE"] * 5


def _grid(trial: hyperdial.Trial) -> float:
    # 60 configurations; TPE used to propose the best one found again and again.
    n = trial.suggest_int("n", 2, 20, step=2)
    depth = trial.suggest_int("depth", 1, 3)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return (20 - n) / 10 + abs(depth - 2) + (0.0 if kind == "a" else 0.5)


@pytest.mark.parametrize("constant_liar", [True, False])
def test_finite_space_proposals_do_not_repeat_evaluated_configurations(
    constant_liar: bool,
) -> None:
    sampler = TPESampler(n_startup_trials=5, constant_liar=constant_liar, seed=0)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_grid, n_trials=40, show_progress_bar=False)
    configurations = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(configurations)) == len(configurations)
    assert study.best_value == 0.0


def test_finite_space_proposals_may_repeat_once_every_configuration_was_evaluated() -> None:
    def objective(trial: hyperdial.Trial) -> float:
        return float(trial.suggest_int("n", 0, 3))

    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=2, seed=0))
    study.optimize(objective, n_trials=12, show_progress_bar=False)
    assert {t.params["n"] for t in study.trials} == {0, 1, 2, 3}


def test_same_seed_same_trials_and_records_which_algorithm_proposed_them() -> None:
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=5, seed=3))
        study.optimize(_conditional, n_trials=20, show_progress_bar=False)
        runs.append([(t.params, t.value) for t in study.trials])
    assert runs[0] == runs[1]
    labels = [t.system_attrs.get("sampler") for t in study.trials]
    assert labels == ["TPE-startup"] * 5 + ["TPE"] * 15


def test_startup_trials_follow_a_sobol_design() -> None:
    from scipy.stats import qmc

    space = {f"u{i}": Float(0.0, 1.0) for i in range(3)}

    def objective(trial: hyperdial.Trial) -> float:
        return sum(trial.suggest(name, dist) for name, dist in space.items())

    def points(sampler: Any) -> np.ndarray:
        study = hyperdial.create_study(sampler=sampler)
        study.optimize(objective, n_trials=32, show_progress_bar=False)
        return np.array([[t.params[n] for n in space] for t in study.trials])

    sobol = qmc.discrepancy(points(TPESampler(n_startup_trials=100, seed=0)))
    random = min(qmc.discrepancy(points(RandomSampler(seed=s))) for s in range(3))
    assert sobol < random


@pytest.mark.parametrize("dist_id", list(DISTRIBUTIONS))
def test_model_based_values_stay_in_their_distribution(dist_id: str) -> None:
    dist = DISTRIBUTIONS[dist_id]

    def objective(trial: hyperdial.Trial) -> float:
        value = trial.suggest("p", dist)
        other = trial.suggest_float("x", 0.0, 1.0)
        return dist.to_unit(dist.to_internal(value)) + other

    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=3, seed=1))
    study.optimize(objective, n_trials=25, show_progress_bar=False)
    for trial in study.trials:
        value = trial.params["p"]
        assert dist.contains_value(value), (dist, value)
        if isinstance(dist, Categorical):
            index = dist.index_of(value)
            assert index is not None and type(value) is type(dist.choices[index])
        else:
            assert type(value) is (int if isinstance(dist, Int) else float)


def test_copies_for_parallel_workers_propose_different_points() -> None:
    sampler = TPESampler(n_startup_trials=4, seed=0)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_branin, n_trials=12, show_progress_bar=False)
    copies = [copy.deepcopy(sampler), pickle.loads(pickle.dumps(sampler))]
    views = [hyperdial.load_study(study_name=study.study_name, storage=study.storage, sampler=c)
             for c in copies]  # fmt: skip
    trials = [view.ask() for view in views]
    points = [(t.suggest_float("x", -5.0, 10.0), t.suggest_float("y", 0.0, 15.0)) for t in trials]
    assert points[0] != points[1]


class _FilteringPruner(hyperdial.pruners.Pruner):
    """Lets samplers learn from a subset of the trials: odd numbers, or the first ten."""

    def __init__(self) -> None:
        self.calls = 0

    def prune(self, study: Any, trial: FrozenTrial) -> bool:
        return False

    def trials_for_sampler(self, study: Any, trial: FrozenTrial, trials: Any) -> list[FrozenTrial]:
        self.calls += 1
        if self.calls % 3 == 0:
            return [t for t in trials if t.number < 10]
        if self.calls % 3 == 1:
            return [t for t in trials if t.number % 2]
        return list(trials)


def test_trials_filtered_for_the_sampler_are_respected() -> None:
    pruner = _FilteringPruner()
    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=4, seed=0), pruner=pruner)
    study.optimize(_branin, n_trials=40, show_progress_bar=False)
    assert pruner.calls > 0
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert study.best_value < 5.0


# -- constant liar --------------------------------------------------------------------------------


def _spread_of_new_proposals(constant_liar: bool, seed: int) -> float:
    """Mean distance of proposals from the running trials sitting on the incumbent."""
    sampler = TPESampler(n_startup_trials=5, constant_liar=constant_liar, seed=seed)
    study = hyperdial.create_study(sampler=sampler)
    space = {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}

    def objective(trial: hyperdial.Trial) -> float:
        x, y = trial.suggest("x", space["x"]), trial.suggest("y", space["y"])
        return (x - 0.3) ** 2 + (y - 0.6) ** 2

    study.optimize(objective, n_trials=30, show_progress_bar=False)
    best = study.best_params
    # Workers busy at the incumbent: RUNNING trials whose parameters are stored.
    for _ in range(6):
        study.enqueue_trial(best)
        study.ask(space)
    distances = []
    for _ in range(8):
        trial = study.ask(space)  # stays RUNNING, so later asks see it too
        distances.append(math.dist((trial.params["x"], trial.params["y"]), (best["x"], best["y"])))
    return float(np.mean(distances))


def test_constant_liar_spreads_proposals_around_running_trials() -> None:
    with_liar = np.mean([_spread_of_new_proposals(True, s) for s in range(3)])
    without = np.mean([_spread_of_new_proposals(False, s) for s in range(3)])
    assert with_liar > 1.5 * without, (with_liar, without)


def _spread_of_simultaneous_asks(constant_liar: bool, seed: int) -> float:
    """Mean pairwise distance of trials asked before any of them stored its parameters."""
    sampler = TPESampler(n_startup_trials=5, constant_liar=constant_liar, seed=seed)
    study = hyperdial.create_study(sampler=sampler)

    def objective(trial: hyperdial.Trial) -> float:
        x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        return (x - 0.3) ** 2 + (y - 0.6) ** 2

    study.optimize(objective, n_trials=30, show_progress_bar=False)
    # Eight workers start at once; each chooses its point before any stores parameters.
    asked = [study.ask() for _ in range(8)]
    points = [(t.suggest_float("x", 0.0, 1.0), t.suggest_float("y", 0.0, 1.0)) for t in asked]
    return float(np.mean([math.dist(a, b) for i, a in enumerate(points) for b in points[:i]]))


def test_proposals_are_seen_before_parameters_are_stored() -> None:
    with_liar = np.mean([_spread_of_simultaneous_asks(True, s) for s in range(3)])
    without = np.mean([_spread_of_simultaneous_asks(False, s) for s in range(3)])
    assert with_liar > 1.2 * without, (with_liar, without)


def _flat_discrete(trial: hyperdial.Trial) -> float:
    n = trial.suggest_int("n", 0, 30)
    return float(n % 3) + (trial.suggest_categorical("c", ["a", "b"]) == "a")


def test_workers_on_a_discrete_space_never_take_the_same_point(tmp_path: Any) -> None:
    study = hyperdial.create_study(
        storage=f"sqlite:///{tmp_path}/s.db", sampler=TPESampler(n_startup_trials=4, seed=0)
    )
    # A near-instant objective: workers often choose at the same moment.
    study.optimize(_flat_discrete, n_trials=40, n_jobs=3, show_progress_bar=False)
    assert len(study.trials) == 40
    # The model's proposals are claimed; the start-up design's Sobol points are not.
    points = [(t.params["n"], t.params["c"]) for t in study.trials]
    modelled = [
        p for t, p in zip(study.trials, points, strict=True) if t.system_attrs["sampler"] == "TPE"
    ]
    assert len(modelled) > 30
    assert len(set(modelled)) == len(modelled)


# -- splitting ------------------------------------------------------------------------------------


def _finished(
    number: int, state: TrialState, value: float | None, steps: dict[int, float] | None = None
) -> FrozenTrial:
    return FrozenTrial(
        number=number,
        trial_id=number,
        state=state,
        values=None if value is None else [value],
        intermediate_values=steps or {},
    )


def test_pruned_trials_rank_below_every_trial_that_got_further() -> None:
    trials = [
        _finished(0, TrialState.COMPLETE, 5.0, {0: 4.0, 1: 5.0}),
        # Stopped early, however good its value next to the complete trials' (which were
        # better than it at step 0, so they earned going on: see the next test)
        _finished(1, TrialState.PRUNED, 4.5, {0: 4.5}),
        _finished(2, TrialState.PRUNED, 3.0, {0: 4.0, 1: 3.0, 2: 3.0}),
        _finished(3, TrialState.COMPLETE, 7.0),
        _finished(4, TrialState.PRUNED, 2.0, {0: 3.0, 1: 2.0, 2: 2.0}),
        _finished(5, TrialState.PRUNED, None),  # no report at all: last
        _finished(6, TrialState.FAIL, None),  # ignored
        _finished(7, TrialState.RUNNING, None),  # ignored (the sampler lies about it)
        _finished(8, TrialState.PRUNED, math.nan, {0: 1.0, 2: math.nan}),
    ]
    good, bad = split_trials(trials, StudyDirection.MINIMIZE, gamma=lambda n: 3)
    assert [t.number for t in good] == [0, 3, 4]
    # Step 2 (by the value reported there, NaN last), then step 0, then no report.
    assert [t.number for t in bad] == [2, 8, 1, 5]


def test_a_trial_that_went_on_unearned_ranks_as_stopped_where_it_fell_short() -> None:
    # Maximize. Four trials were stopped at step 1 (values 0.5-0.8: three quarters of them
    # lie below 0.725); the others went on, judged there or not (a conservative Hyperband
    # bracket does not judge at step 1).
    trials = [
        _finished(i, TrialState.PRUNED, v, {1: v}) for i, v in enumerate([0.5, 0.6, 0.7, 0.8])
    ]
    trials += [
        _finished(4, TrialState.COMPLETE, 0.75, {1: 0.76, 3: 0.75}),  # earned step 1
        _finished(5, TrialState.COMPLETE, 0.95, {1: 0.3, 3: 0.95}),  # fell short at step 1
        _finished(6, TrialState.PRUNED, 0.9, {1: 0.78, 2: 0.9}),  # earned 1, stopped at 2
        _finished(7, TrialState.PRUNED, 0.95, {1: 0.1, 2: 0.95}),  # fell short at step 1
        _finished(8, TrialState.COMPLETE, 0.7, {1: 0.9, 2: 0.5, 3: 0.7}),  # short at 2
        # Above the median of the trials stopped at step 1, but not above three quarters
        # of them: a mediocre trial that went on unjudged, held there too.
        _finished(9, TrialState.COMPLETE, 0.99, {1: 0.71, 3: 0.99}),
    ]
    good, bad = split_trials(trials, StudyDirection.MAXIMIZE, gamma=lambda n: 3)
    # Trials 5, 7 and 9 rank among the trials stopped at step 1, by their value there,
    # however well they did later. Trial 8 passed step 1 but fell below trial 6, the one
    # trial stopped at step 2 that earned step 1, so it ranks as stopped at step 2.
    assert [t.number for t in good] == [4, 6, 8]
    assert [t.number for t in bad] == [3, 9, 2, 1, 0, 5, 7]
    # Minimize: the same history with values negated ranks the same.
    flipped = [
        _finished(
            t.number,
            t.state,
            None if t.values is None else -t.values[0],
            {s: -v for s, v in t.intermediate_values.items()},
        )
        for t in trials
    ]
    good, bad = split_trials(flipped, StudyDirection.MINIMIZE, gamma=lambda n: 3)
    assert [t.number for t in good] == [4, 6, 8]
    assert [t.number for t in bad] == [3, 9, 2, 1, 0, 5, 7]


def test_sampler_models_an_unearned_trial_where_it_fell_short() -> None:
    # Maximize. At step 1 the trials near x = 0.2 led; three trials near x = 0.9 went on
    # unjudged, far behind at step 1, and completed with a middling value. Counted as
    # complete they would be three of the four good trials, and the model would follow
    # them; counted as stopped at step 1 they are the worst, and it follows x = 0.2.
    study = hyperdial.create_study(
        direction="maximize", sampler=TPESampler(seed=0, n_startup_trials=5, constant_liar=False)
    )
    x_dist = Float(0.0, 1.0)

    def add(x: float, state: TrialState, reports: dict[int, float]) -> None:
        add_curve(study, reports, state, params={"x": x}, distributions={"x": x_dist})

    for i in range(30):
        x = 0.02 + 0.96 * i / 29
        add(x, TrialState.PRUNED, {1: 1.0 - abs(x - 0.2)})
    for x in (0.85, 0.9, 0.95):
        add(x, TrialState.COMPLETE, {1: 0.1, 3: 0.5})
    proposals = [study.ask({"x": x_dist}).params["x"] for _ in range(10)]
    assert sum(abs(x - 0.2) < 0.2 for x in proposals) >= 7, proposals


def test_split_follows_the_direction() -> None:
    trials = [_finished(i, TrialState.COMPLETE, float(v)) for i, v in enumerate([3, 1, 2, 5])]
    good, _ = split_trials(trials, StudyDirection.MAXIMIZE, gamma=0.5)
    assert [t.number for t in good] == [3, 0]
    good, _ = split_trials(trials, StudyDirection.MINIMIZE, gamma=0.5)
    assert [t.number for t in good] == [1, 2]


# -- groups ---------------------------------------------------------------------------------------


def test_group_decomposition() -> None:
    sets = [
        {"family", "c"},
        {"family", "depth"},
        {"family", "n_layers", "lr", "units_0"},
        {"family", "n_layers", "lr", "units_0", "units_1"},
    ]
    groups = [sorted(g) for g in decompose(sets)]
    assert sorted(groups) == [
        ["c"], ["depth"], ["family"], ["lr", "n_layers", "units_0"], ["units_1"]
    ]  # fmt: skip
    # Every trial's set is a union of whole groups, whatever the order.
    reordered = [sorted(g) for g in decompose(reversed(sets))]
    assert sorted(reordered) == sorted(groups)
    for names in sets:
        assert all(set(g) <= names or not set(g) & names for g in groups)


def test_group_decomposition_keeps_parameters_that_always_occur_together() -> None:
    groups = GroupDecomposition()
    for _ in range(3):
        groups.add({"x", "y", "z"})
    groups.add(set())
    assert [sorted(g) for g in groups.groups] == [["x", "y", "z"]]


def test_conditional_groups_are_modelled_jointly() -> None:
    sampler = TPESampler(n_startup_trials=5, seed=0)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_conditional, n_trials=25, show_progress_bar=False)
    groups = {frozenset(g) for g in sampler._observations[study.study_name].groups.groups}
    assert frozenset({"c"}) in groups and frozenset({"depth"}) in groups
    assert frozenset({"family"}) in groups
    labels = {t.system_attrs["sampler"] for t in study.trials[5:]}
    assert labels == {"TPE"}


# -- changing spaces ------------------------------------------------------------------------------


def test_a_branch_worse_than_another_is_modelled_on_its_own_best_trials() -> None:
    # Branch "b" is always worse than branch "a", so none of its trials is among the best of
    # the study; its parameter is still modelled on the best of its own trials (y near
    # 0.8), not drawn uniformly.
    def objective(trial: hyperdial.Trial) -> float:
        branch = trial.suggest_categorical("branch", ["a", "b"])
        if branch == "a":
            return trial.suggest_float("x", 0.0, 1.0)
        return 10.0 + (trial.suggest_float("y", 0.0, 1.0) - 0.8) ** 2

    study = hyperdial.create_study(sampler=TPESampler(seed=0))
    for i in range(30):
        branch = "b" if i % 3 == 0 else "a"
        study.enqueue_trial({"branch": branch, "x": (i % 10) / 10, "y": (i % 10) / 10})
    study.optimize(objective, n_trials=30, show_progress_bar=False)
    proposals = []
    for _ in range(10):
        study.enqueue_trial({"branch": "b"})
        trial = study.ask()
        proposals.append(objective(trial) - 10.0)
        study.tell(trial, 20.0)  # worse than every trial: the branch's best stay the same
    # Uniform draws of y would put the median of (y - 0.8) ** 2 near 0.09.
    assert np.median(proposals) < 0.02, proposals


def test_search_space_changing_mid_study() -> None:
    def objective(trial: hyperdial.Trial) -> float:
        late = trial.number >= 12
        x = trial.suggest_float("x", 0.0, 10.0 if late else 1.0)
        n = trial.suggest_int("n", 1, 4 if late else 8)  # narrowed
        kind = trial.suggest_categorical("kind", ["a", "b", "new"] if late else ["a", "b"])
        return abs(x - 6.0) + n + (0.0 if kind == "new" else 3.0)

    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=5, seed=0))
    study.optimize(objective, n_trials=45, show_progress_bar=False)
    late = study.trials[12:]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for trial in late:
        for name, value in trial.params.items():
            assert trial.distributions[name].contains_value(value)
    assert any(t.params["x"] > 1.0 for t in late)
    assert any(t.params["kind"] == "new" for t in late)
    assert study.best_value < 4.0


# -- the Parzen estimator -------------------------------------------------------------------------


def test_parzen_density_holds_each_kernels_mass_inside_with_missing_values() -> None:
    # Continuous kernels are not renormalized to the unit cube: the density integrates to
    # the mixture weight of each kernel times its Gaussian's mass inside (1 for the prior
    # and in a dimension the observation misses).
    from scipy.special import ndtr

    rng = np.random.default_rng(0)
    observations = rng.random((9, 2))
    observations[0] = [0.02, 0.97]  # a kernel that loses mass beyond both bounds
    observations[3, 1] = np.nan
    for rule, adaptive in (("scott", False), ("scott", True), ("hyperopt", False), (0.3, True)):
        estimator = ParzenEstimator(
            observations,
            [Dim(Kind.CONTINUOUS)] * 2,
            prior_weight=1.0,
            bandwidth=rule,
            adaptive=adaptive,
        )
        mu, sigma = estimator._mu, estimator._sigma
        inside = np.where(
            estimator._missing, 1.0, ndtr((1.0 - mu) / sigma) - ndtr(-mu / sigma)
        ).prod(axis=1)
        weights = estimator._weights  # the mixture's, prior last (adaptive: not equal)
        expected = float(weights[:-1] @ inside + weights[-1])
        assert expected < 0.99  # the kernels do lose mass: the check below can tell
        grid = (np.arange(200) + 0.5) / 200
        points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
        integral = np.exp(estimator.log_pdf(points, points, points)).mean()
        assert integral == pytest.approx(expected, abs=1e-3), rule


def test_kernel_at_a_bound_is_no_taller_than_in_the_middle() -> None:
    # Renormalizing a kernel centred on a bound would double its height there, and
    # l(x) / g(x) would then favour the bounds whenever l's kernels are the narrower ones.
    dims = [Dim(Kind.CONTINUOUS)]
    at_bound = ParzenEstimator(np.array([[0.0]]), dims, prior_weight=1.0, bandwidth=0.1)
    middle = ParzenEstimator(np.array([[0.5]]), dims, prior_weight=1.0, bandwidth=0.1)
    assert at_bound._sigma[0, 0] == middle._sigma[0, 0]
    x = np.array([[0.0], [0.5]])
    peak_at_bound = at_bound.log_pdf(x[:1], x[:1], x[:1])[0]
    peak_in_middle = middle.log_pdf(x[1:], x[1:], x[1:])[0]
    assert peak_at_bound == pytest.approx(peak_in_middle, rel=1e-12)
    # Sampling still keeps every draw inside the space.
    drawn = at_bound.sample(np.random.default_rng(0), 1000)
    assert drawn.min() >= 0.0 and drawn.max() <= 1.0


def test_parzen_masses_sum_to_one_over_discrete_and_categorical_values() -> None:
    dists: list[Distribution] = [Int(1, 64, log=True), Categorical(["a", "b", "c", "d"])]
    observations = np.array([[0.3, 1.0], [0.35, 1.0], [0.9, 3.0], [np.nan, 0.0]])
    estimator = ParzenEstimator(
        observations,
        [Dim(Kind.DISCRETE, 64), Dim(Kind.CATEGORICAL, 4)],
        prior_weight=1.0,
        bandwidth="scott",
    )
    int_dist = dists[0]
    units = np.array([int_dist.to_unit(v) for v in range(1, 65)])
    points = np.array([[u, c] for u in units for c in range(4)])
    x, low, high = snap(dists, points)
    np.testing.assert_allclose(x[:, 0], points[:, 0])
    total = np.exp(estimator.log_pdf(x, low, high)).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("n", [4, 25])
def test_discrete_kernels_keep_mass_on_every_value(n: int) -> None:
    # Observations piled on one value of a small grid narrow the Gaussian to that cell; like
    # the Aitchison-Aitken kernel, each kernel still puts b / size on every value, with b
    # shrinking as observations accumulate.
    dist = Int(0, 9)
    observations = np.full((n, 1), dist.to_unit(0))
    estimator = ParzenEstimator(
        observations, [Dim(Kind.DISCRETE, 10)], prior_weight=1.0, bandwidth="scott"
    )
    x, low, high = snap([dist], np.array([[dist.to_unit(v)] for v in range(10)]))
    mass = np.exp(estimator.log_pdf(x, low, high))
    assert mass.sum() == pytest.approx(1.0, abs=1e-9)
    b = 1.0 / (1.0 + math.sqrt(n))
    # The kernels' uniform part and the prior (the Gaussians' tails add next to nothing).
    far = (n * b / 10 + 1.0 / 10) / (n + 1)
    assert far * (1 - 1e-9) <= mass[9] < far * 1.001
    drawn, _, _ = snap([dist], estimator.sample(np.random.default_rng(0), 20_000))
    share = np.mean(drawn[:, 0] == x[9, 0])
    assert share == pytest.approx(far, abs=4 * math.sqrt(far / 20_000))


def _reference_log_pdf(
    estimator: ParzenEstimator,
    dims: list[Dim],
    x: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    prior_weight: float,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The mixture density written out kernel by kernel, from the estimator's parameters."""
    from scipy.special import logsumexp, ndtr
    from scipy.stats import norm

    mu, sigma, missing = estimator._mu, estimator._sigma, estimator._missing
    n = estimator.n_observations
    w_obs = np.ones(n) if weights is None else weights
    out = []
    for c in range(len(x)):
        uniform = 0.0
        for j, dim in enumerate(dims):
            if dim.kind == Kind.DISCRETE:
                uniform += math.log(high[c, j] - low[c, j])
            elif dim.kind == Kind.CATEGORICAL:
                uniform -= math.log(dim.size)
        components = [math.log(prior_weight) + uniform]
        for i in range(n):
            log_k = 0.0
            for j, dim in enumerate(dims):
                m, s = mu[i, j], sigma[i, j]
                inside = ndtr((1.0 - m) / s) - ndtr(-m / s)
                if missing[i, j]:
                    log_k += (
                        math.log(high[c, j] - low[c, j])
                        if dim.kind == Kind.DISCRETE
                        else -math.log(dim.size)
                        if dim.kind == Kind.CATEGORICAL
                        else 0.0
                    )
                elif dim.kind == Kind.CONTINUOUS:
                    # Not divided by ``inside``: the mass beyond a bound is dropped.
                    log_k += norm.logpdf(x[c, j], m, s)
                elif dim.kind == Kind.DISCRETE:
                    a, b = (low[c, j] - m) / s, (high[c, j] - m) / s
                    mass = ndtr(-a) - ndtr(-b) if a > 0 else ndtr(b) - ndtr(a)  # tail-accurate
                    # The Gaussian's mass on the cell, mixed with the uniform mass of the cell.
                    w = estimator._cat_bandwidth[j]
                    cell = high[c, j] - low[c, j]
                    log_k += math.log(max((1.0 - w) * mass / inside + w * cell, 1e-300))
                else:
                    b = estimator._cat_bandwidth[j]
                    same = x[c, j] == m
                    log_k += math.log(1.0 - b + b / dim.size if same else b / dim.size)
            components.append(math.log(w_obs[i]) + log_k)
        out.append(float(logsumexp(components)) - math.log(w_obs.sum() + prior_weight))
    return np.array(out)


@pytest.mark.parametrize(
    ("rule", "adaptive"), [("scott", False), ("scott", True), ("hyperopt", False), (0.3, True)]
)
def test_parzen_log_pdf_matches_the_mixture_written_out(rule: str | float, adaptive: bool) -> None:
    # Look-up tables for discrete and categorical kernels, the quadratic form for continuous
    # ones: the same numbers as evaluating each kernel on its own, missing values included.
    rng = np.random.default_rng(1)
    dists: list[Distribution] = [
        Float(0.0, 1.0),
        Int(0, 8),
        Categorical(["a", "b", "c"]),
        Float(0.0, 1.0),
        Int(1, 100, log=True),
    ]
    dims = [dim_of(d) for d in dists]
    n = 40
    columns = [
        rng.random(n),
        np.array([dists[1].to_unit(v) for v in rng.integers(0, 9, n)]),  # repeated values
        rng.integers(0, 3, n).astype(float),
        rng.random(n),
        rng.random(n),  # not snapped to the grid: kernels may sit anywhere
    ]
    observations = np.stack(columns, axis=1)
    observations[rng.random(observations.shape) < 0.15] = np.nan
    estimator = ParzenEstimator(
        observations, dims, prior_weight=1.5, bandwidth=rule, adaptive=adaptive
    )
    x, low, high = snap(dists, estimator.sample(rng, 30))
    # Adaptive kernels carry their own weights (equal heights; tested on their own below).
    weights = estimator._weights[:n] / estimator._weights[n] * 1.5 if adaptive else None
    expected = _reference_log_pdf(estimator, dims, x, low, high, 1.5, weights)
    np.testing.assert_allclose(estimator.log_pdf(x, low, high), expected, rtol=1e-10)


def test_parzen_log_pdf_weighs_each_observation_by_its_weight() -> None:
    rng = np.random.default_rng(2)
    dists: list[Distribution] = [Float(0.0, 1.0), Int(0, 8), Categorical(["a", "b", "c"])]
    dims = [dim_of(d) for d in dists]
    n = 30
    observations = np.stack(
        [
            rng.random(n),
            np.array([dists[1].to_unit(v) for v in rng.integers(0, 9, n)]),
            rng.integers(0, 3, n).astype(float),
        ],
        axis=1,
    )
    weights = recency_weights(rng.permutation(n).astype(float))
    estimator = ParzenEstimator(
        observations, dims, prior_weight=1.0, bandwidth="scott", weights=weights
    )
    x, low, high = snap(dists, estimator.sample(rng, 20))
    expected = _reference_log_pdf(estimator, dims, x, low, high, 1.0, weights)
    np.testing.assert_allclose(estimator.log_pdf(x, low, high), expected, rtol=1e-10)
    unweighted = ParzenEstimator(observations, dims, prior_weight=1.0, bandwidth="scott")
    assert not np.allclose(unweighted.log_pdf(x, low, high), expected)


def test_recency_weights_forget_old_observations_linearly() -> None:
    # Up to RECENT_FULL_WEIGHT observations weigh the same; beyond, the oldest weigh
    # 1 / m rising linearly, and running trials (number inf) count as the newest.
    np.testing.assert_array_equal(recency_weights(np.arange(25.0)), np.ones(25))
    numbers = np.concatenate((np.arange(40.0)[::-1], [np.inf]))
    weights = recency_weights(numbers)
    m = len(numbers)
    by_age = weights[np.argsort(numbers)]
    np.testing.assert_allclose(by_age[: m - RECENT_FULL_WEIGHT], np.linspace(1 / m, 1, 16))
    np.testing.assert_array_equal(by_age[m - RECENT_FULL_WEIGHT :], 1.0)
    assert weights[-1] == 1.0 and weights[39] == pytest.approx(1 / m)


def test_magic_clip_keeps_kernels_as_wide_as_the_spacing_of_the_observations() -> None:
    # A rule asking for far narrower kernels gets the narrowest allowed: 1 / (n + 1) with
    # the magic clip (in every dimension), MIN_BANDWIDTH without.
    observations = np.full((5, 2), 0.4)
    dims = [Dim(Kind.CONTINUOUS)] * 2
    clipped = ParzenEstimator(observations, dims, prior_weight=1.0, bandwidth=1e-3, magic_clip=True)
    np.testing.assert_allclose(clipped._sigma, 1.0 / 6.0)
    free = ParzenEstimator(observations, dims, prior_weight=1.0, bandwidth=1e-3)
    np.testing.assert_allclose(free._sigma, 0.01)
    # The "hyperopt" rule always clips; from 99 observations on, the clip is the floor.
    assert minimum_bandwidth(500, Dim(Kind.CONTINUOUS), True) == pytest.approx(0.01)
    assert minimum_bandwidth(5, Dim(Kind.DISCRETE, 4), True) == pytest.approx(1.0 / 6.0)
    assert minimum_bandwidth(5, Dim(Kind.DISCRETE, 4)) == pytest.approx(0.125)


def test_adaptive_kernels_narrow_where_observations_crowd() -> None:
    # A tight cluster and one observation far from it: with adaptive kernels the cluster's
    # kernels are narrower and the lone one wider than the shared width, whose level (the
    # geometric mean) is kept; discrete dimensions keep the shared width.
    cluster = np.array([[0.20, 0.30], [0.21, 0.31], [0.22, 0.29], [0.19, 0.30], [0.20, 0.28]])
    observations = np.vstack((cluster, [[0.85, 0.80]]))
    observations = np.hstack((observations, np.full((6, 1), Int(0, 9).to_unit(3))))
    dims = [Dim(Kind.CONTINUOUS), Dim(Kind.CONTINUOUS), Dim(Kind.DISCRETE, 10)]
    fixed = ParzenEstimator(observations, dims, prior_weight=1.0, bandwidth="scott")
    adaptive = ParzenEstimator(
        observations, dims, prior_weight=1.0, bandwidth="scott", adaptive=True
    )
    ratio = adaptive._sigma[:, :2] / fixed._sigma[:, :2]
    assert np.all(ratio[:5] < 1.0) and np.all(ratio[5] > 1.5)
    assert np.exp(np.mean(np.log(ratio[:, 0]))) == pytest.approx(1.0)
    np.testing.assert_array_equal(adaptive._sigma[:, 2], fixed._sigma[:, 2])


def test_adaptive_kernels_keep_equal_heights_so_a_crowd_does_not_outweigh_a_lone_trial() -> None:
    # Ten good observations crowded in one corner (where a search sampled again and again)
    # and one alone in the other: every kernel gets the same peak height in the continuous
    # dimensions (weight / volume), the observations keep their total weight, and the lone
    # observation's half of the square gets several times the draws it got with equal
    # weights, when the crowd took 10 of every 11 draws from the observations.
    rng = np.random.default_rng(0)
    crowd = 0.2 + 0.02 * rng.standard_normal((10, 2))
    observations = np.vstack((crowd, [[0.8, 0.8]]))
    dims = [Dim(Kind.CONTINUOUS)] * 2
    estimator = ParzenEstimator(
        observations, dims, prior_weight=1.0, bandwidth="scott", adaptive=True
    )
    weights, sigma = estimator._weights, estimator._sigma
    assert weights[:11].sum() / weights[11] == pytest.approx(11.0)  # prior's share kept
    heights = weights[:11] / np.prod(sigma, axis=1)
    np.testing.assert_allclose(heights, heights[0], rtol=1e-9)
    equal_mass = copy.copy(estimator)
    equal_mass._reweigh(np.ones(11))

    def lone_share(e: ParzenEstimator) -> float:
        return float(np.mean(e.sample(rng, 4000).sum(axis=1) > 1.0))

    assert lone_share(estimator) > 0.3
    assert lone_share(equal_mass) < 0.15


def test_equal_height_weights_scale_by_volume_and_keep_the_total() -> None:
    weights = np.array([1.0, 0.5, 2.0])
    w = equal_height_weights(weights, np.array([1.0, 2.0, 0.5]), 3)
    assert w.sum() == pytest.approx(3.5)
    np.testing.assert_allclose(w / (weights * np.array([1.0, 8.0, 0.125])), w[0])
    # Degenerate factors leave the weights alone rather than dividing by zero.
    np.testing.assert_array_equal(equal_height_weights(np.ones(2), np.zeros(2), 2), np.ones(2))


def test_local_factors_ignore_observations_missing_every_dimension() -> None:
    x = np.array([[0.1, 0.2], [0.12, np.nan], [np.nan, np.nan], [0.8, 0.9]])
    factors = local_factors(x, np.array([0.1, 0.1]), 2)
    assert factors[2] == 1.0
    assert np.all(np.isfinite(factors)) and factors[3] > factors[0]
    # Evenly spaced observations are equally crowded: every factor is 1.
    even = local_factors(np.linspace(0.0, 1.0, 300)[:, None], np.array([0.02]), 1)
    assert np.ptp(even[50:-50]) < 0.01


def test_parzen_samples_follow_its_density() -> None:
    # Sampling and the density agree: pair frequencies over a discrete x categorical space
    # match the masses, with missing values and the prior in play.
    dists: list[Distribution] = [Int(0, 4), Categorical(["a", "b", "c"])]
    dims = [dim_of(d) for d in dists]
    to_unit = dists[0].to_unit
    observations = np.array(
        [
            [to_unit(1), 0.0],
            [to_unit(1), 0.0],
            [to_unit(4), 2.0],
            [to_unit(3), np.nan],
            [np.nan, 1.0],
        ]
    )
    estimator = ParzenEstimator(observations, dims, prior_weight=1.0, bandwidth="scott")
    points = np.array([[to_unit(v), c] for v in range(5) for c in range(3)])
    x, low, high = snap(dists, points)
    mass = np.exp(estimator.log_pdf(x, low, high))
    draws, _, _ = snap(dists, estimator.sample(np.random.default_rng(0), 60_000))
    values = np.rint(np.array([dists[0].from_unit(u) for u in draws[:, 0]])).astype(int)
    counts = np.zeros((5, 3))
    np.add.at(counts, (values, draws[:, 1].astype(int)), 1)
    np.testing.assert_allclose(counts.ravel() / len(draws), mass, atol=0.006)


def test_parzen_estimator_without_observations_is_the_prior() -> None:
    dists: list[Distribution] = [Float(0.0, 1.0), Int(0, 3), Categorical(["a", "b"])]
    dims = [dim_of(d) for d in dists]
    estimator = ParzenEstimator(np.zeros((0, 3)), dims, prior_weight=1.0, bandwidth="scott")
    x, low, high = snap(dists, estimator.sample(np.random.default_rng(0), 50))
    assert set(x[:, 2]) <= {0.0, 1.0}
    np.testing.assert_allclose(estimator.log_pdf(x, low, high), math.log(1 / 4 * 1 / 2))


# -- the cached history ---------------------------------------------------------------------------


def _changing_history(trial: hyperdial.Trial) -> float:
    """Mixed space that widens at trial 20, with failed and pruned trials along the way."""
    wide = trial.number >= 20
    x = trial.suggest_float("x", 0.0, 2.0 if wide else 1.0)
    n = trial.suggest_int("n", 1, 64, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"] if wide else ["a", "b"])
    if trial.number % 9 == 4:
        raise ValueError("failed on purpose")
    value = (x - 0.7) ** 2 + abs(math.log2(n) - 3) / 6 + (0.0 if kind == "c" else 0.5)
    for step in range(3):
        trial.report(value + 1.0 / (step + 1), step)
        if trial.number % 7 == 5 and step == 1:
            raise hyperdial.TrialPruned()
    return value


def test_cached_history_proposes_what_a_fresh_sampler_would() -> None:
    sampler = TPESampler(n_startup_trials=5, seed=0)
    study = hyperdial.create_study(sampler=sampler)
    view = study.view
    states = set()
    for stop in (12, 26, 40):
        study.optimize(
            _changing_history,
            n_trials=stop - len(study.trials),
            catch=(ValueError,),
            show_progress_bar=False,
        )
        states |= {t.state for t in study.trials}
        # A trial left running without parameters holds the watermark back for later asks.
        study.ask()
        frozen = view.get_trials(deepcopy=False)[-1]
        fresh = copy.deepcopy(sampler)  # copies start with empty caches
        assert not fresh._observations
        proposal = sampler.sample_relative(view, frozen)
        assert proposal and proposal == fresh.sample_relative(view, frozen)
        for name, dist in (("x", Float(0.0, 3.0)), ("extra", Categorical([1, 2]))):
            assert sampler.sample_independent(view, frozen, name, dist) == (
                fresh.sample_independent(view, frozen, name, dist)
            )
    assert {TrialState.FAIL, TrialState.PRUNED, TrialState.COMPLETE} <= states
    observations = sampler._observations[study.study_name]
    assert 0 < observations.watermark < len(study.trials)
    finished = view.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(observations) == len(finished)
    # The widened space is modelled in the latest distributions.
    assert observations.latest["kind"][1] == Categorical(["a", "b", "c"])


def test_rank_order_without_pruned_trials_is_the_full_order() -> None:
    from hyperdial.samplers._tpe._split import rank_order

    rng = np.random.default_rng(0)
    values = rng.integers(0, 5, 50).astype(float)  # ties, broken by number
    values[[3, 17]] = np.nan
    numbers = rng.permutation(50)
    pruned = np.zeros(50, dtype=bool)
    steps = np.zeros(50, dtype=np.int64)
    for direction in (StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE):
        signed = values if direction == StudyDirection.MINIMIZE else -values
        expected = np.lexsort((numbers, np.where(np.isnan(signed), np.inf, signed)))
        np.testing.assert_array_equal(
            rank_order(pruned, steps, values, numbers, direction), expected
        )
