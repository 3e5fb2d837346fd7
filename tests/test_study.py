"""Study and trial behaviour through the public API, on the in-memory storage."""

from __future__ import annotations

import math

import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.exceptions import (
    DuplicatedStudyError,
    HyperdialWarning,
    InvalidSpaceError,
    InvalidValueError,
    StudyNotFoundError,
    UpdateFinishedTrialError,
)
from hyperdial.samplers import RandomSampler
from hyperdial.space import Categorical, Float, Int
from hyperdial.storage import InMemoryStorage


def quadratic(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


@pytest.fixture()
def study() -> hyperdial.Study:
    return hyperdial.create_study(sampler=RandomSampler(seed=1))


def test_optimize_finds_minimum_and_best_accessors(study: hyperdial.Study) -> None:
    study.optimize(quadratic, n_trials=60, show_progress_bar=False)
    assert len(study.trials) == 60
    assert [t.number for t in study.trials] == list(range(60))
    best = min(study.trials, key=lambda t: t.value if t.value is not None else math.inf)
    assert study.best_trial.number == best.number
    assert study.best_value == best.value
    assert study.best_params == best.params
    assert abs(study.best_params["x"] - 2) < 1.0


def test_maximize_direction() -> None:
    study = hyperdial.create_study(direction="maximize", sampler=RandomSampler(seed=0))
    study.optimize(lambda t: -quadratic(t), n_trials=30, show_progress_bar=False)
    assert study.best_value == max(t.value for t in study.trials if t.value is not None)


def test_best_trial_without_complete_trials_says_why(study: hyperdial.Study) -> None:
    with pytest.raises(ValueError, match="no COMPLETE trial yet"):
        _ = study.best_trial


def test_direction_validation() -> None:
    with pytest.raises(InvalidValueError, match="'minimize' or 'maximize'"):
        hyperdial.create_study(direction="down")
    with pytest.raises(InvalidValueError, match="one objective"):
        hyperdial.create_study(directions=["minimize", "maximize"])


def test_create_load_delete_list() -> None:
    storage = InMemoryStorage()
    hyperdial.create_study(storage=storage, study_name="a")
    with pytest.raises(DuplicatedStudyError, match="load_if_exists=True"):
        hyperdial.create_study(storage=storage, study_name="a")
    again = hyperdial.create_study(storage=storage, study_name="a", load_if_exists=True)
    again.optimize(quadratic, n_trials=3, show_progress_bar=False)
    loaded = hyperdial.load_study(study_name="a", storage=storage)
    assert len(loaded.trials) == 3
    hyperdial.create_study(storage=storage, study_name="b", direction="maximize")
    summaries = hyperdial.list_studies(storage)
    assert [s.study_name for s in summaries] == ["a", "b"]
    assert summaries[0].n_trials == 3
    assert summaries[0].best_trial is not None
    with pytest.raises(StudyNotFoundError, match="'a', 'b'"):
        hyperdial.load_study(study_name="c", storage=storage)
    with pytest.raises(InvalidValueError, match="directions"):
        hyperdial.create_study(
            storage=storage, study_name="b", direction="minimize", load_if_exists=True
        )
    hyperdial.delete_study(study_name="a", storage=storage)
    assert [s.study_name for s in hyperdial.list_studies(storage)] == ["b"]


def test_ask_tell(study: hyperdial.Study) -> None:
    trial = study.ask()
    x = trial.suggest_float("x", 0, 1)
    frozen = study.tell(trial, x * 2)
    assert frozen.state == TrialState.COMPLETE
    assert frozen.values == [x * 2]
    stored = study.trials[0]
    assert stored.params == {"x": x}
    assert stored.distributions == {"x": Float(0, 1)}
    with pytest.raises(UpdateFinishedTrialError):
        study.tell(trial, 1.0)
    assert study.tell(trial, 1.0, skip_if_finished=True).values == [x * 2]


def test_ask_with_fixed_distributions_and_tell_by_number(study: hyperdial.Study) -> None:
    trial = study.ask({"lr": Float(1e-4, 1e-1, log=True), "opt": Categorical(["sgd", "adam"])})
    # Params asked for up front are stored at once, so another process can tell.
    stored = study.get_trials()[0]
    assert set(stored.params) == {"lr", "opt"}
    study.tell(trial.number, 0.5)
    assert study.trials[0].state == TrialState.COMPLETE
    assert study.trials[0].params == trial.params


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "None"),
        (float("nan"), "NaN"),
        (float("inf"), "inf"),
        (-float("inf"), "-inf"),
        ("0.3", "str"),
        ([1.0, 2.0], "2 values"),
    ],
)
def test_invalid_results_fail_the_trial_with_reason(
    study: hyperdial.Study, value: object, reason: str
) -> None:
    def objective(trial: hyperdial.Trial) -> object:
        trial.suggest_float("x", 0, 1)
        return value

    study.optimize(objective, n_trials=2, show_progress_bar=False)
    study.optimize(quadratic, n_trials=1, show_progress_bar=False)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert reason in (study.trials[0].fail_reason or "")
    assert study.trials[0].params.keys() == {"x"}


def test_numpy_scalar_result_is_accepted(study: hyperdial.Study) -> None:
    import numpy as np

    study.optimize(lambda t: np.float32(t.suggest_float("x", 0, 1)), n_trials=2,
                   show_progress_bar=False)  # fmt: skip
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_exception_fails_trial_then_propagates(study: hyperdial.Study) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        trial.suggest_int("n", 1, 3)
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        study.optimize(objective, n_trials=5, show_progress_bar=False)
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL
    assert trial.fail_reason == "RuntimeError: out of memory"
    assert "Traceback" in trial.system_attrs["fail_traceback"]
    assert "n" in trial.params


def test_catch_lets_the_study_go_on(study: hyperdial.Study) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 2:
            raise ValueError("diverged")
        return x

    study.optimize(objective, n_trials=6, catch=(ValueError,), show_progress_bar=False)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 3 and states.count(TrialState.COMPLETE) == 3


def test_keyboard_interrupt_leaves_trial_failed_not_running(study: hyperdial.Study) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number == 2:
            raise KeyboardInterrupt
        return 1.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10, show_progress_bar=False)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert "interrupted" in (study.trials[2].fail_reason or "")


def test_pruned_trial_keeps_last_reported_value(study: hyperdial.Study) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        for step in range(3):
            trial.report(10.0 - step, step)
        raise hyperdial.TrialPruned()

    study.optimize(objective, n_trials=1, show_progress_bar=False)
    (trial,) = study.trials
    assert trial.state == TrialState.PRUNED
    assert trial.values == [8.0]
    assert trial.intermediate_values == {0: 10.0, 1: 9.0, 2: 8.0}


def test_report_rules(study: hyperdial.Study) -> None:
    trial = study.ask()
    trial.report(1.0, 0)
    with pytest.warns(HyperdialWarning, match="already reported step 0"):
        trial.report(2.0, 0)
    with pytest.raises(InvalidValueError, match="integer >= 0"):
        trial.report(1.0, -1)
    with pytest.raises(InvalidValueError, match="must be a number"):
        trial.report("high", 1)  # type: ignore[arg-type]
    trial.report(float("nan"), 1)
    trial.report(5.0, 4)
    with pytest.warns(HyperdialWarning, match="reported step 2 after step 4"):
        trial.report(3.0, 2)
    study.tell(trial, 0.0)
    stored = study.trials[0].intermediate_values
    assert stored[0] == 1.0 and math.isnan(stored[1])
    assert stored[2] == 3.0 and stored[4] == 5.0


def test_enqueue_trial_runs_first_and_partial_params_are_sampled(
    study: hyperdial.Study,
) -> None:
    study.enqueue_trial({"x": 2.0})
    study.enqueue_trial({"x": 3.0}, user_attrs={"source": "expert"})

    def objective(trial: hyperdial.Trial) -> float:
        x = trial.suggest_float("x", -10, 10)
        y = trial.suggest_int("y", 0, 5)
        return (x - 2) ** 2 + y

    study.optimize(objective, n_trials=3, show_progress_bar=False)
    trials = study.trials
    assert [t.params["x"] for t in trials[:2]] == [2.0, 3.0]
    assert trials[1].user_attrs == {"source": "expert"}
    assert all(0 <= t.params["y"] <= 5 for t in trials)
    assert trials[2].params["x"] not in (2.0, 3.0)
    study.enqueue_trial({"x": 2.0}, skip_if_exists=True)
    assert len(study.trials) == 3


def test_enqueued_value_outside_range_is_a_clear_error(study: hyperdial.Study) -> None:
    study.enqueue_trial({"x": 50.0})
    with pytest.raises(InvalidSpaceError, match=r"enqueued value 50\.0"):
        study.optimize(quadratic, n_trials=1, show_progress_bar=False)
    assert study.trials[0].state == TrialState.FAIL


def test_conditional_and_loop_spaces(study: hyperdial.Study) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        family = trial.suggest_categorical("family", ["svm", "mlp"])
        if family == "svm":
            return trial.suggest_float("C", 1e-3, 1e3, log=True)
        n_layers = trial.suggest_int("n_layers", 1, 4)
        return float(sum(trial.suggest_int(f"n_units_l{i}", 4, 128, log=True)
                         for i in range(n_layers)))  # fmt: skip

    study.optimize(objective, n_trials=40, show_progress_bar=False)
    for trial in study.trials:
        if trial.params["family"] == "svm":
            assert set(trial.params) == {"family", "C"}
        else:
            n = trial.params["n_layers"]
            assert set(trial.params) == {"family", "n_layers"} | {f"n_units_l{i}" for i in range(n)}


def test_space_may_widen_but_not_change_type(study: hyperdial.Study) -> None:
    trial = study.ask()
    trial.suggest_float("lr", 1e-3, 1e-2, log=True)
    trial.suggest_categorical("opt", ["sgd", "adam"])
    study.tell(trial, 1.0)
    trial = study.ask()
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_categorical("opt", ["sgd", "adam", "rmsprop"])
    study.tell(trial, 1.0)
    first, second = study.trials
    assert first.distributions["opt"] == Categorical(["sgd", "adam"])
    assert second.distributions["opt"] == Categorical(["sgd", "adam", "rmsprop"])
    assert second.distributions["lr"] == Float(1e-4, 1e-1, log=True)
    trial = study.ask()
    with pytest.raises(InvalidSpaceError, match="'lr' is a float parameter"):
        trial.suggest_int("lr", 1, 10)
    with pytest.raises(InvalidSpaceError, match="earlier in this trial"):
        trial.suggest_float("x", 0, 1)
        trial.suggest_categorical("x", [1, 2])


def test_same_name_twice_in_a_trial_returns_same_value(study: hyperdial.Study) -> None:
    trial = study.ask()
    a = trial.suggest_int("n", 1, 100)
    assert trial.suggest_int("n", 1, 100) == a


def test_single_value_distributions(study: hyperdial.Study) -> None:
    trial = study.ask()
    assert trial.suggest_float("a", 1.5, 1.5) == 1.5
    assert trial.suggest_int("b", 3, 3) == 3
    assert trial.suggest_categorical("c", ["only"]) == "only"


def test_user_attrs_and_callbacks_and_stop(study: hyperdial.Study) -> None:
    seen: list[int] = []

    def callback(s: hyperdial.Study, trial: hyperdial.FrozenTrial) -> None:
        seen.append(trial.number)
        if trial.number == 4:
            s.stop()

    def objective(trial: hyperdial.Trial) -> float:
        trial.set_user_attr("epochs", 3)
        return quadratic(trial)

    study.set_user_attr("owner", "ml-team")
    study.optimize(objective, n_trials=100, callbacks=[callback], show_progress_bar=False)
    assert seen == [0, 1, 2, 3, 4]
    assert study.trials[0].user_attrs == {"epochs": 3}
    assert study.user_attrs == {"owner": "ml-team"}
    with pytest.raises(TypeError, match="JSON-serialisable"):
        study.set_user_attr("model", object())


def test_timeout_stops_starting_trials(study: hyperdial.Study) -> None:
    import time

    def slow(trial: hyperdial.Trial) -> float:
        time.sleep(0.05)
        return quadratic(trial)

    start = time.monotonic()
    study.optimize(slow, timeout=0.3, show_progress_bar=False)
    assert time.monotonic() - start < 2.0
    assert 2 <= len(study.trials) <= 10


def test_optimize_argument_validation(study: hyperdial.Study) -> None:
    with pytest.raises(InvalidValueError, match="n_trials"):
        study.optimize(quadratic, n_trials=-1)
    with pytest.raises(InvalidValueError, match="timeout"):
        study.optimize(quadratic, timeout=0)
    with pytest.raises(InvalidValueError, match="n_jobs"):
        study.optimize(quadratic, n_trials=1, n_jobs=0)
    with pytest.raises(InvalidValueError, match="callable"):
        study.optimize("objective", n_trials=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="sqlite:///"):
        study.optimize(quadratic, n_trials=4, n_jobs=2)
    assert study.trials == []


def test_trials_dataframe(study: hyperdial.Study) -> None:
    def objective(trial: hyperdial.Trial) -> float:
        trial.set_user_attr("note", "ok")
        return quadratic(trial) + trial.suggest_int("n", 1, 2)

    study.optimize(objective, n_trials=4, show_progress_bar=False)
    frame = study.trials_dataframe()
    assert list(frame["number"]) == [0, 1, 2, 3]
    assert {"value", "state", "params_x", "params_n", "user_attrs_note", "duration"} <= set(
        frame.columns
    )
    assert (frame["state"] == "COMPLETE").all()


def test_add_trial_records_outside_evaluation(study: hyperdial.Study) -> None:
    frozen = hyperdial.FrozenTrial(
        number=0,
        trial_id=0,
        state=TrialState.COMPLETE,
        values=[0.25],
        params={"x": 2.5},
        distributions={"x": Float(-10, 10)},
    )
    study.add_trial(frozen)
    assert study.best_params == {"x": 2.5}
    bad = hyperdial.FrozenTrial(
        number=0, trial_id=0, state=TrialState.COMPLETE, values=[1.0], params={"n": 20},
        distributions={"n": Int(0, 5)},
    )  # fmt: skip
    with pytest.raises(InvalidSpaceError, match="'n'"):
        study.add_trial(bad)


def test_tell_validation(study: hyperdial.Study) -> None:
    trial = study.ask()
    with pytest.raises(InvalidValueError, match="needs values or a state"):
        study.tell(trial)
    with pytest.raises(InvalidValueError, match="COMPLETE, PRUNED or FAIL"):
        study.tell(trial, state=TrialState.RUNNING)
    other = hyperdial.create_study()
    with pytest.raises(InvalidValueError, match="belongs to study"):
        other.tell(trial, 1.0)
    frozen = study.tell(trial, state=TrialState.FAIL, fail_reason="bad data")
    assert frozen.fail_reason == "bad data"
