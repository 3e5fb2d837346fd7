"""Conformance suite for :class:`~hyperdial.pruners.Pruner` implementations.

Subclass :class:`PrunerConformance` in a test module and provide a ``pruner_factory``
fixture returning a callable that builds a fresh pruner; pytest then runs every check of
the contract against it.

Example:
    >>> import pytest  # doctest: +SKIP
    >>> from hyperdial.pruners import MedianPruner  # doctest: +SKIP
    >>> from hyperdial.testing.pruners import PrunerConformance  # doctest: +SKIP
    >>> class TestMedian(PrunerConformance):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def pruner_factory(self):
    ...         return lambda: MedianPruner(n_warmup_steps=2)

What is checked:

* a trial that reported nothing is not pruned, and ``prune`` returns a plain bool without
  changing the trial it is given;
* the warm-up and start-up a pruner promises through its constructor arguments are kept:
  no pruning before step ``n_warmup_steps`` or (for an integer) ``min_resource``, nor while
  fewer than ``n_startup_trials`` trials have completed (also for a pruner it wraps as
  ``wrapped_pruner``);
* the same history gives the same decisions, trial by trial and step by step, whether
  trials run one after another or interleaved as parallel workers would run them, and
  asking twice at one step gives the same answer;
* it works for minimize and maximize studies; unless ``symmetric_in_direction`` is False,
  a maximize study with negated values gets exactly the same decisions;
* unless ``spares_leader`` is False, a trial that is best at every step and still
  improving clearly (by 0.1 a step) is never pruned, wherever it runs in the order;
* NaN reports, sparse and irregular steps, and a study holding only FAIL trials do not
  make it crash;
* ``trials_for_sampler`` returns a subset of the trials it is given, and a study using
  the pruner with a sampler runs;
* the pruner survives pickling and deep copies (worker processes get copies) and a copy
  decides like the original.
"""

from __future__ import annotations

import copy
import functools
import math
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

import hyperdial
from hyperdial import FrozenTrial, StudyDirection, TrialState
from hyperdial.pruners import Pruner
from hyperdial.samplers import RandomSampler
from hyperdial.space import Distribution
from hyperdial.study import Study

__all__ = [
    "Outcome",
    "PrunerConformance",
    "PrunerFactory",
    "add_curve",
    "frozen_of",
    "learning_curves",
    "prune_advice",
    "run_history",
    "with_leader",
]

#: Builds a fresh pruner; the fixture ``pruner_factory`` returns one.
PrunerFactory = Callable[[], Pruner]

#: One trial's outcome: (trial number, step it was pruned at or None, how many trials
#: were COMPLETE when it was pruned or None).
Outcome = tuple[int, int | None, int | None]

N_TRIALS = 12
N_STEPS = 27


def learning_curves(
    n_trials: int = N_TRIALS, n_steps: int = N_STEPS, seed: int = 0
) -> list[dict[int, float]]:
    """Return synthetic loss curves ``floor + scale * exp(-rate * step)``, one per trial.

    The floors are distinct and the scales and rates vary, so curves cross; every curve
    strictly decreases.
    """
    rng = np.random.default_rng(seed)
    floors = rng.permutation(n_trials) * 0.1 + 0.05
    scales = rng.uniform(0.5, 2.0, n_trials)
    rates = rng.uniform(0.05, 0.5, n_trials)
    return [
        {s: float(floors[i] + scales[i] * math.exp(-rates[i] * s)) for s in range(n_steps)}
        for i in range(n_trials)
    ]


def with_leader(curves: Sequence[Mapping[int, float]], position: int) -> list[dict[int, float]]:
    """Insert at ``position`` a curve below every other at every step, falling >= 0.1 a step."""
    steps = sorted(set().union(*(c.keys() for c in curves)))
    leader = {s: min(c[s] for c in curves if s in c) - 0.01 - 0.1 * s for s in steps}
    result = [dict(c) for c in curves]
    result.insert(position, leader)
    return result


def run_history(
    study: Study, curves: Sequence[Mapping[int, float]], *, concurrent: int = 1
) -> list[Outcome]:
    """Run one trial per curve, reporting it step by step and pruning when asked.

    Curves are losses: a maximize study is reported the negated values. ``concurrent``
    trials run interleaved, step by step, as parallel workers would. A trial that is not
    pruned completes with its last finite report (FAIL if it has none).

    Returns:
        One :data:`Outcome` per trial, in number order.
    """
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    outcomes: dict[int, Outcome] = {}
    queue = list(curves)
    while queue:
        batch, queue = queue[:concurrent], queue[concurrent:]
        live = {}
        for reports in batch:
            trial = study.ask()
            live[trial.number] = (trial, reports)
        steps = sorted(set().union(*(reports.keys() for reports in batch)))
        for step in steps:
            for number, (trial, reports) in list(live.items()):
                if step not in reports:
                    continue
                trial.report(sign * reports[step], step)
                decision = trial.should_prune()
                assert trial.should_prune() == decision, (
                    f"asking twice at step {step} of trial {number} gave different answers"
                )
                if decision:
                    complete = study.view.n_trials(states=(TrialState.COMPLETE,))
                    study.tell(trial, state=TrialState.PRUNED)
                    outcomes[number] = (number, step, complete)
                    del live[number]
        for number, (trial, reports) in live.items():
            finite = [v for _, v in sorted(reports.items()) if not math.isnan(v)]
            if finite:
                study.tell(trial, sign * finite[-1])
            else:
                study.tell(trial, state=TrialState.FAIL, fail_reason="only NaN reports")
            outcomes[number] = (number, None, None)
    return [outcomes[n] for n in sorted(outcomes)]


def _promises(pruner: Pruner) -> tuple[int, int]:
    """Return (first step it may prune at, trials that must complete first)."""
    min_step = min_complete = 0
    current: object = pruner
    while isinstance(current, Pruner):
        min_step = max(min_step, _int_attr(current, "n_warmup_steps"))
        min_step = max(min_step, _int_attr(current, "min_resource"))
        min_complete = max(min_complete, _int_attr(current, "n_startup_trials"))
        current = getattr(current, "wrapped_pruner", None)
    return min_step, min_complete


def _int_attr(obj: object, name: str) -> int:
    value = getattr(obj, name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class PrunerConformance:
    """Checks of the :class:`~hyperdial.pruners.Pruner` contract; subclass it in a test.

    The subclass provides a ``pruner_factory`` fixture. Class attributes switch off
    checks that do not apply to a pruner by design.
    """

    #: False for pruners with absolute bounds, whose decisions depend on the sign of values.
    symmetric_in_direction: ClassVar[bool] = True
    #: False for pruners that may stop even a leading, improving trial (bootstrap rules).
    spares_leader: ClassVar[bool] = True

    def create_study(self, pruner: Pruner, direction: str = "minimize") -> Study:
        """Return an empty study using ``pruner``; override to test on another storage."""
        return hyperdial.create_study(direction=direction, pruner=pruner)

    def run(
        self,
        pruner_factory: PrunerFactory,
        curves: Sequence[Mapping[int, float]] | None = None,
        *,
        direction: str = "minimize",
        concurrent: int = 1,
    ) -> list[Outcome]:
        """Run ``curves`` (by default :func:`learning_curves`) on a fresh study and pruner."""
        study = self.create_study(pruner_factory(), direction)
        return run_history(
            study, learning_curves() if curves is None else curves, concurrent=concurrent
        )

    # -- single decisions -------------------------------------------------------------------

    def test_no_reports_no_pruning(self, pruner_factory: PrunerFactory) -> None:
        study = self.create_study(pruner_factory())
        assert study.ask().should_prune() is False
        run_history(study, learning_curves())
        assert study.ask().should_prune() is False

    def test_prune_returns_bool_and_leaves_trial_alone(self, pruner_factory: PrunerFactory) -> None:
        pruner = pruner_factory()
        study = self.create_study(pruner)
        run_history(study, learning_curves())
        trial = study.ask()
        for step, value in learning_curves()[0].items():
            trial.report(value, step)
            frozen = frozen_of(study, trial.number)
            before = copy.deepcopy(frozen)
            decision = pruner.prune(study.view, frozen)
            assert type(decision) is bool, f"prune returned {decision!r}, not a bool"
            assert frozen == before, "prune changed the trial it was given"

    # -- promises ---------------------------------------------------------------------------

    def test_keeps_warmup_and_startup_promises(self, pruner_factory: PrunerFactory) -> None:
        min_step, min_complete = _promises(pruner_factory())
        for concurrent in (1, 3):
            for outcome in self.run(pruner_factory, concurrent=concurrent):
                number, step, complete = outcome
                if step is None:
                    continue
                assert step >= min_step, f"trial {number} pruned at step {step} < {min_step}"
                assert complete is not None and complete >= min_complete, (
                    f"trial {number} pruned with {complete} COMPLETE trials, before "
                    f"{min_complete} had completed"
                )

    def test_spares_the_leader(self, pruner_factory: PrunerFactory) -> None:
        if not self.spares_leader:
            pytest.skip("this pruner may stop a leading trial by design")
        base = learning_curves()
        cases = [("minimize", 0), ("minimize", len(base)), ("maximize", len(base) // 2)]
        for direction, position in cases:
            outcomes = self.run(pruner_factory, with_leader(base, position), direction=direction)
            assert outcomes[position][1] is None, (
                f"the leading trial {position} was pruned at step {outcomes[position][1]} "
                f"({direction})"
            )

    # -- determinism and directions ---------------------------------------------------------

    @pytest.mark.parametrize("concurrent", [1, 3])
    def test_deterministic(self, pruner_factory: PrunerFactory, concurrent: int) -> None:
        first = self.run(pruner_factory, concurrent=concurrent)
        assert self.run(pruner_factory, concurrent=concurrent) == first

    def test_minimize_and_maximize(self, pruner_factory: PrunerFactory) -> None:
        minimize = self.run(pruner_factory, direction="minimize")
        maximize = self.run(pruner_factory, direction="maximize")
        if self.symmetric_in_direction:
            assert maximize == minimize, "negating values in a maximize study changed decisions"

    # -- awkward histories ------------------------------------------------------------------

    def test_nan_reports(self, pruner_factory: PrunerFactory) -> None:
        curves = learning_curves()
        curves[1] = {s: math.nan for s in curves[1]}  # diverged from the start
        for i in (2, 5, 8):
            curves[i][6 + i] = math.nan  # a diverged step in the middle
        curves.append({s: math.nan if s % 4 == 3 else v for s, v in curves[0].items()})
        for direction, concurrent in (("minimize", 1), ("maximize", 2)):
            outcomes = self.run(pruner_factory, curves, direction=direction, concurrent=concurrent)
            assert len(outcomes) == len(curves)

    def test_sparse_steps(self, pruner_factory: PrunerFactory) -> None:
        curves = learning_curves()
        sparse: list[dict[int, float]] = []
        for i, curve in enumerate(curves):
            every = 1 + i % 4
            kept = {s: v for s, v in curve.items() if s % every == i % every}
            sparse.append(kept or curve)
        sparse.append({s: curves[0][s] for s in (0, 2, 7, 8, 20)})
        sparse.append({26: curves[3][26]})  # a single late report
        for concurrent in (1, 3):
            outcomes = self.run(pruner_factory, sparse, concurrent=concurrent)
            assert len(outcomes) == len(sparse)
            assert self.run(pruner_factory, sparse, concurrent=concurrent) == outcomes

    def test_only_failed_trials(self, pruner_factory: PrunerFactory) -> None:
        study = self.create_study(pruner_factory())
        curves = learning_curves()
        for i in range(4):
            trial = study.ask()
            for step in range(i * 5):
                trial.report(curves[i][step], step)
            study.tell(trial, state=TrialState.FAIL, fail_reason="synthetic failure")
        trial = study.ask()
        for step, value in curves[5].items():
            trial.report(value, step)
            assert isinstance(trial.should_prune(), bool)

    # -- samplers and copies ----------------------------------------------------------------

    def test_trials_for_sampler_returns_a_subset(self, pruner_factory: PrunerFactory) -> None:
        pruner = pruner_factory()
        study = self.create_study(pruner)
        run_history(study, learning_curves())
        view = study.view
        all_trials = view.get_trials()
        complete = view.get_trials(states=(TrialState.COMPLETE,))
        running = frozen_of(study, study.ask().number)
        for trial in [*all_trials[:3], running]:
            for given in (all_trials, complete, all_trials[::2], []):
                chosen = pruner.trials_for_sampler(view, trial, given)
                assert isinstance(chosen, list)
                ids = [id(t) for t in chosen]
                assert len(set(ids)) == len(ids), "trials_for_sampler repeated a trial"
                assert set(ids) <= {id(t) for t in given}, (
                    "trials_for_sampler returned a trial it was not given"
                )

    def test_runs_with_a_sampler(self, pruner_factory: PrunerFactory) -> None:
        curves = learning_curves()
        study = self.create_study(pruner_factory())
        study.sampler = RandomSampler(seed=1)

        def objective(trial: hyperdial.Trial) -> float:
            i = trial.suggest_int("curve", 0, len(curves) - 1)
            offset = trial.suggest_float("offset", 0.0, 0.1)
            for step, value in curves[i].items():
                trial.report(value + offset, step)
                if trial.should_prune():
                    raise hyperdial.TrialPruned()
            return curves[i][max(curves[i])] + offset

        study.optimize(objective, n_trials=15, show_progress_bar=False)
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        assert len(finished) == 15

    def test_pickle_and_deepcopy(self, pruner_factory: PrunerFactory) -> None:
        expected = self.run(pruner_factory)
        used = pruner_factory()
        run_history(self.create_study(used), learning_curves())
        fresh = pruner_factory()
        for original in (fresh, used):
            for clone in (pickle.loads(pickle.dumps(original)), copy.deepcopy(original)):
                assert type(clone) is type(original)
                assert repr(clone) == repr(original)
        # Copies of a used pruner (as workers get them mid-study) decide like a fresh one.
        for clone in (pickle.loads(pickle.dumps(used)), copy.deepcopy(fresh)):
            assert self.run(functools.partial(copy.deepcopy, clone)) == expected


def add_curve(
    study: Study,
    reports: Mapping[int, float],
    state: TrialState = TrialState.COMPLETE,
    value: float | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    distributions: Mapping[str, Distribution] | None = None,
) -> FrozenTrial:
    """Record a finished trial that reported ``reports``, as if run elsewhere.

    A COMPLETE trial's value is ``value``, by default its last finite report; a PRUNED
    trial keeps its last finite report, as ``tell`` would. ``params`` (with their
    ``distributions``) place the trial in a search space, for samplers to learn from.
    """
    finite = [v for _, v in sorted(reports.items()) if not math.isnan(v)]
    values: list[float] | None = None
    if value is not None:
        values = [value]
    elif state in (TrialState.COMPLETE, TrialState.PRUNED) and finite:
        values = [finite[-1]]
    if state == TrialState.COMPLETE and values is None:
        values = [0.0]
    template = FrozenTrial(
        number=0,
        trial_id=0,
        state=state,
        values=values,
        params=dict(params or {}),
        distributions=dict(distributions or {}),
        intermediate_values=dict(reports),
    )
    return study.add_trial(template)


def prune_advice(study: Study, reports: Mapping[int, float], *, finish: bool = False) -> list[int]:
    """Run one trial through ``reports`` without stopping; return the steps pruning was advised.

    The trial is left RUNNING unless ``finish``, which completes it with its last report.
    """
    trial = study.ask()
    advised = []
    for step, value in sorted(reports.items()):
        trial.report(value, step)
        if trial.should_prune():
            advised.append(step)
    if finish:
        study.tell(trial, reports[max(reports)])
    return advised


def frozen_of(study: Study, number: int) -> FrozenTrial:
    """Return trial ``number`` of ``study`` as stored (a deep copy)."""
    return study.get_trials(deepcopy=True)[number]
