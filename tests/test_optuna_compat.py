"""Objectives written for Optuna run unchanged with hyperdial: only the import differs.

Each objective below uses the Optuna trial API only. The one library-specific name an
objective needs, ``TrialPruned``, comes from the module passed in (``optuna`` or
``hyperdial``), as ``import optuna`` versus ``import hyperdial as optuna`` would give it.
"""

# ruff: noqa: N806 - X, X_train: the names scikit-learn users write

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hyperdial

with warnings.catch_warnings():
    # Importing optuna may warn about optional dependencies; nothing in hyperdial does.
    warnings.simplefilter("ignore")
    import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

N_TRIALS = 6
PRUNE_BELOW = 0.9

# -- the objectives, as a user wrote them for Optuna ----------------------------------------


def objective_ranges(trial: Any, lib: ModuleType) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    n_estimators = trial.suggest_int("n_estimators", 10, 200, step=10)
    batch_size = trial.suggest_int("batch_size", 16, 512, log=True)
    trial.set_user_attr("effective_lr", lr * batch_size / 256)
    return (x - 1.0) ** 2 + math.log10(lr) ** 2 + dropout + n_estimators / 1000 + batch_size / 1e4


def objective_model_family(trial: Any, lib: ModuleType) -> float:
    X, y = load_iris(return_X_y=True)
    classifier = trial.suggest_categorical("classifier", ["svc", "forest", "logreg"])
    if classifier == "svc":
        c = trial.suggest_float("svc_c", 1e-2, 1e2, log=True)
        kernel = trial.suggest_categorical("svc_kernel", ["linear", "rbf"])
        model: Any = make_pipeline(StandardScaler(), SVC(C=c, kernel=kernel))
    elif classifier == "forest":
        depth = trial.suggest_int("forest_max_depth", 2, 16, log=True)
        model = RandomForestClassifier(max_depth=depth, n_estimators=10, random_state=0)
    else:
        c = trial.suggest_float("logreg_c", 1e-3, 1e2, log=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
    score = cross_val_score(model, X, y, cv=3).mean()
    trial.set_user_attr("n_samples", len(y))
    return float(score)


def objective_layers(trial: Any, lib: ModuleType) -> float:
    n_layers = trial.suggest_int("n_layers", 1, 4)
    units = [trial.suggest_int(f"n_units_l{i}", 4, 128, log=True) for i in range(n_layers)]
    activation = trial.suggest_categorical("activation", ["relu", "tanh"])
    lr = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    # A stand-in for a network's validation loss: small, well-shaped networks win.
    size = sum(a * b for a, b in zip([30, *units], [*units, 2], strict=False))
    penalty = 0.0 if activation == "relu" else 0.05
    return abs(math.log10(size) - 3.0) + abs(math.log10(lr) + 2.5) + penalty


def objective_pruned_sgd(trial: Any, lib: ModuleType) -> float:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_valid = scaler.transform(X_train), scaler.transform(X_valid)
    alpha = trial.suggest_float("alpha", 1e-5, 1e1, log=True)
    loss = trial.suggest_categorical("loss", ["hinge", "log_loss", "modified_huber"])
    model = SGDClassifier(alpha=alpha, loss=loss, random_state=0)
    classes = np.unique(y)
    accuracy = 0.0
    for epoch in range(5):
        model.partial_fit(X_train, y_train, classes=classes)
        accuracy = float(model.score(X_valid, y_valid))
        trial.report(accuracy, epoch)
        if trial.should_prune():
            raise lib.TrialPruned()
    return accuracy


def objective_mixed_choices(trial: Any, lib: ModuleType) -> float:
    X, y = load_breast_cancer(return_X_y=True)
    c = trial.suggest_float("C", 1e-3, 1e1, log=True)
    class_weight = trial.suggest_categorical("class_weight", [None, "balanced"])
    fit_intercept = trial.suggest_categorical("fit_intercept", [True, False])
    tol_exponent = trial.suggest_int("tol_exponent", -6, -2)
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=c,
            class_weight=class_weight,
            fit_intercept=fit_intercept,
            tol=10.0**tol_exponent,
            max_iter=2000,
        ),
    )
    score = float(cross_val_score(model, X, y, cv=3).mean())
    trial.set_user_attr("class_weight", class_weight)
    return score


# -- what each objective declares ---------------------------------------------------------

Spec = tuple[Any, ...]  # ("float", low, high, step, log) | ("int", ...) | ("cat", choices)

SPACES: dict[str, dict[str, Spec]] = {
    "ranges": {
        "x": ("float", -5.0, 5.0, None, False),
        "lr": ("float", 1e-5, 1e-1, None, True),
        "dropout": ("float", 0.0, 0.5, 0.1, False),
        "n_estimators": ("int", 10, 200, 10, False),
        "batch_size": ("int", 16, 512, 1, True),
    },
    "model_family": {
        "classifier": ("cat", ["svc", "forest", "logreg"]),
        "svc_c": ("float", 1e-2, 1e2, None, True),
        "svc_kernel": ("cat", ["linear", "rbf"]),
        "forest_max_depth": ("int", 2, 16, 1, True),
        "logreg_c": ("float", 1e-3, 1e2, None, True),
    },
    "layers": {
        "n_layers": ("int", 1, 4, 1, False),
        **{f"n_units_l{i}": ("int", 4, 128, 1, True) for i in range(4)},
        "activation": ("cat", ["relu", "tanh"]),
        "learning_rate": ("float", 1e-4, 1e-1, None, True),
    },
    "pruned_sgd": {
        "alpha": ("float", 1e-5, 1e1, None, True),
        "loss": ("cat", ["hinge", "log_loss", "modified_huber"]),
    },
    "mixed_choices": {
        "C": ("float", 1e-3, 1e1, None, True),
        "class_weight": ("cat", [None, "balanced"]),
        "fit_intercept": ("cat", [True, False]),
        "tol_exponent": ("int", -6, -2, 1, False),
    },
}

OBJECTIVES: dict[str, tuple[Callable[[Any, ModuleType], float], str]] = {
    "ranges": (objective_ranges, "minimize"),
    "model_family": (objective_model_family, "maximize"),
    "layers": (objective_layers, "minimize"),
    "pruned_sgd": (objective_pruned_sgd, "maximize"),
    "mixed_choices": (objective_mixed_choices, "maximize"),
}
USER_ATTRS = {
    "ranges": {"effective_lr"},
    "model_family": {"n_samples"},
    "mixed_choices": {"class_weight"},
}
CONDITIONAL = {"model_family", "layers"}


class _PruneBelow(hyperdial.pruners.Pruner):
    """The rule of Optuna's ThresholdPruner(lower=...), through hyperdial's pruner API."""

    def __init__(self, lower: float) -> None:
        self.lower = lower

    def prune(self, study: hyperdial.StudyView, trial: hyperdial.FrozenTrial) -> bool:
        step = trial.last_step
        return step is not None and trial.intermediate_values[step] < self.lower


def _create_study(lib: ModuleType, direction: str, prune: bool) -> Any:
    if lib is optuna:
        pruner = optuna.pruners.ThresholdPruner(lower=PRUNE_BELOW) if prune else None
        return optuna.create_study(
            direction=direction, sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner
        )
    return hyperdial.create_study(
        direction=direction,
        sampler=hyperdial.samplers.RandomSampler(seed=0),
        pruner=_PruneBelow(PRUNE_BELOW) if prune else None,
    )


def _check_value(name: str, value: Any, spec: Spec) -> None:
    kind = spec[0]
    if kind == "cat":
        assert any(value is c or (type(value) is type(c) and value == c) for c in spec[1]), (
            f"{name}={value!r} is not one of {spec[1]}"
        )
        return
    _, low, high, step, _log = spec
    assert low <= value <= high, f"{name}={value!r} outside [{low}, {high}]"
    if kind == "int":
        assert isinstance(value, int) and not isinstance(value, bool), f"{name}={value!r}"
    else:
        assert isinstance(value, float), f"{name}={value!r}"
    if step is not None:
        k = (value - low) / step
        assert abs(k - round(k)) < 1e-8, f"{name}={value!r} is off the step {step}"


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], Any]:
    """Every objective run with both libraries, once for the whole module."""
    results = {}
    for key, (objective, direction) in OBJECTIVES.items():
        for lib in (optuna, hyperdial):
            study = _create_study(lib, direction, prune=key == "pruned_sgd")
            study.optimize(functools.partial(objective, lib=lib), n_trials=N_TRIALS)
            results[(key, lib.__name__)] = study
    return results


LIBS = ["optuna", "hyperdial"]


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("key", list(OBJECTIVES))
def test_study_completes_with_params_inside_the_space(
    runs: dict[tuple[str, str], Any], key: str, lib: str
) -> None:
    study = runs[(key, lib)]
    trials = study.trials
    assert len(trials) == N_TRIALS
    states = {t.state.name for t in trials}
    assert states <= {"COMPLETE", "PRUNED"}, states
    assert "COMPLETE" in states
    space = SPACES[key]
    for trial in trials:
        assert set(trial.params) <= set(space)
        if key not in CONDITIONAL:
            assert set(trial.params) == set(space)
        for name, value in trial.params.items():
            _check_value(name, value, space[name])
        if key == "layers":
            n = trial.params["n_layers"]
            assert {p for p in trial.params if p.startswith("n_units_l")} == {
                f"n_units_l{i}" for i in range(n)
            }
        if key == "model_family":
            prefix = {"svc": "svc_", "forest": "forest_", "logreg": "logreg_"}
            chosen = trial.params["classifier"]
            assert all(p.startswith(prefix[chosen]) for p in trial.params if p != "classifier")
        assert USER_ATTRS.get(key, set()) <= set(trial.user_attrs)


@pytest.mark.parametrize("key", list(OBJECTIVES))
def test_both_libraries_run_the_same_number_of_trials(
    runs: dict[tuple[str, str], Any], key: str
) -> None:
    counts = [len(runs[(key, lib)].trials) for lib in LIBS]
    assert counts == [N_TRIALS, N_TRIALS]


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("key", list(OBJECTIVES))
def test_best_params_name_what_the_best_trial_suggested(
    runs: dict[tuple[str, str], Any], key: str, lib: str
) -> None:
    study = runs[(key, lib)]
    best = study.best_params
    assert set(best) == set(study.best_trial.params)
    assert set(best) <= set(SPACES[key])
    assert best  # every objective suggests something
    values = [t.value for t in study.trials if t.state.name == "COMPLETE"]
    pick = max if OBJECTIVES[key][1] == "maximize" else min
    assert study.best_value == pick(values)


@pytest.mark.parametrize("lib", LIBS)
def test_pruning_follows_the_same_rule(runs: dict[tuple[str, str], Any], lib: str) -> None:
    study = runs[("pruned_sgd", lib)]
    assert any(t.state.name == "PRUNED" for t in study.trials)
    for trial in study.trials:
        reported = trial.intermediate_values
        assert reported, "every trial reports after its first epoch"
        last = reported[max(reported)]
        if trial.state.name == "PRUNED":
            # Stopped at the first report under the bound: none before it was.
            assert last < PRUNE_BELOW
            assert all(reported[s] >= PRUNE_BELOW for s in reported if s != max(reported))
        else:
            assert len(reported) == 5
            assert all(v >= PRUNE_BELOW for v in reported.values())


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("key", list(OBJECTIVES))
def test_trials_dataframe_has_the_usual_columns(
    runs: dict[tuple[str, str], Any], key: str, lib: str
) -> None:
    study = runs[(key, lib)]
    frame = study.trials_dataframe()
    assert len(frame) == N_TRIALS
    suggested = {name for t in study.trials for name in t.params}
    expected = {"number", "value", "state"} | {f"params_{name}" for name in suggested}
    expected |= {f"user_attrs_{key}" for key in USER_ATTRS.get(key, set())}
    assert expected <= set(frame.columns), expected - set(frame.columns)
    assert list(frame["number"]) == list(range(N_TRIALS))
    assert set(frame["state"]) <= {"COMPLETE", "PRUNED"}


def test_hyperdial_and_optuna_dataframes_agree_on_columns(
    runs: dict[tuple[str, str], Any],
) -> None:
    for key in OBJECTIVES:
        if key in CONDITIONAL:
            continue  # different draws take different branches
        ours = {c for c in runs[(key, "hyperdial")].trials_dataframe().columns}
        theirs = {c for c in runs[(key, "optuna")].trials_dataframe().columns}
        shared = {"number", "value", "state"}
        assert {c for c in ours if c.startswith(("params_", "user_attrs_"))} | shared == {
            c for c in theirs if c.startswith(("params_", "user_attrs_"))
        } | shared, key


def test_optuna_logging_is_quiet() -> None:
    assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    assert logging.getLogger("optuna").getEffectiveLevel() >= logging.WARNING
