"""The example scripts run end to end, in tiny configurations."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import hyperdial
from hyperdial import TrialState

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mlp_digits() -> ModuleType:
    return load_example("mlp_digits")


def test_mlp_digits_tunes_resumes_and_starts_over(
    mlp_digits: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'demo.db'}"
    tiny = ["--max-epochs", "3", "--storage", storage]

    mlp_digits.main(["--trials", "3", "--jobs", "1", *tiny])
    out = capsys.readouterr().out
    assert "Created study 'mlp-digits'." in out
    assert re.search(r"Best trial #\d+: validation accuracy 0\.\d{4} at epoch [123]\n", out)
    assert "  optimizer " in out and "  n_layers " in out
    assert re.search(r"for [123] epochs: test accuracy 0\.\d{4}\n", out)
    assert re.search(r"Pruning stopped \d of 3 trials early\.\n", out)
    assert re.search(
        r"Epochs trained: \d+ instead of 9 without pruning: \d+ epochs saved \(\d+%\)", out
    )
    assert f"hyperdial trials mlp-digits --storage {storage}" in out
    assert f"hyperdial best mlp-digits --storage {storage}" in out

    trials = hyperdial.load_study(study_name="mlp-digits", storage=storage).trials
    assert len(trials) == 3
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    for trial in trials:
        steps = sorted(trial.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))  # one report per epoch, from epoch 1
        assert all(0.0 <= v <= 1.0 for v in trial.intermediate_values.values())
        if trial.state == TrialState.COMPLETE:
            assert steps[-1] == 3
            assert trial.value == max(trial.intermediate_values.values())
            assert trial.user_attrs["best_epoch"] in steps

    # Running again continues the study, here with two worker processes.
    mlp_digits.main(["--trials", "2", "--jobs", "2", *tiny])
    out = capsys.readouterr().out
    assert "Resumed study 'mlp-digits': 3 trials already run." in out
    assert re.search(r"of 5 trials early", out)
    trials = hyperdial.load_study(study_name="mlp-digits", storage=storage).trials
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}

    mlp_digits.main(["--trials", "2", "--jobs", "1", "--fresh", *tiny])
    out = capsys.readouterr().out
    assert "Deleted study 'mlp-digits'; starting fresh." in out
    assert "Created study 'mlp-digits'." in out
    assert len(hyperdial.load_study(study_name="mlp-digits", storage=storage).trials) == 2


def test_mlp_digits_trains_the_same_way_for_the_same_trial_number(
    mlp_digits: ModuleType,
) -> None:
    data = mlp_digits.load_data()
    assert [len(data[s][0]) for s in ("train", "valid", "test")] == [1077, 360, 360]
    params = {"n_layers": 1, "n_units_l0": 32, "dropout": 0.1, "weight_decay": 1e-4}
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(direction="maximize")
        study.enqueue_trial({**params, "lr": 0.01, "batch_size": 64, "optimizer": "adam"})
        study.optimize(lambda trial: mlp_digits.objective(trial, data, max_epochs=2), n_trials=1)
        runs.append(study.trials[0].intermediate_values)
    assert runs[0] == runs[1]


def test_sklearn_digits_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes hyperdial.db in the working directory
    monkeypatch.setattr(sys, "argv", ["sklearn_digits.py", "--trials", "2", "--jobs", "1"])
    load_example("sklearn_digits").main()
    out = capsys.readouterr().out
    assert re.search(r"Best trial #\d: validation error 0\.\d{4}", out)
    assert "hyperdial trials digits-sklearn" in out
    assert (tmp_path / "hyperdial.db").exists()
    study = hyperdial.load_study(study_name="digits-sklearn", storage="sqlite:///hyperdial.db")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
