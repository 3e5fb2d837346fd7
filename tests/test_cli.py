"""The ``hyperdial`` command line, run in-process with Click's CliRunner on SQLite files."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import hyperdial
from hyperdial import FrozenTrial, TrialState
from hyperdial.cli import _write as cli_write
from hyperdial.cli import main
from hyperdial.space import Float

# -- helpers and fixtures ---------------------------------------------------------------------


def _strict_json(text: str) -> Any:
    """Parse JSON, rejecting the NaN/Infinity extensions Python would otherwise accept."""

    def reject(constant: str) -> Any:
        raise AssertionError(f"invalid JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def words(line: str) -> list[str]:
    """Split a command line as a shell would."""
    return shlex.split(line)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def assert_one_line_error(result: Result, *fragments: str, code: int = 1) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, lines
    assert lines[-1] == errors[0], lines
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HYPERDIAL_STORAGE", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.chdir(tmp_path)
    # The objectives `hyperdial optimize` imports live beside this file.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def _build_demo(url: str) -> None:
    storage = hyperdial.storage.get_storage(url)
    demo = hyperdial.create_study(study_name="demo", storage=storage, direction="minimize")
    for i, value in enumerate([3.0, 1.5, 2.25]):
        trial = demo.ask({"x": Float(-5, 5)})
        trial.set_user_attr("fold", i)
        demo.tell(trial, value)
    trial = demo.ask({"x": Float(-5, 5)})
    trial.report(0.75, step=1)
    demo.tell(trial, state=TrialState.PRUNED)
    trial = demo.ask({"x": Float(-5, 5)})
    demo.tell(trial, state=TrialState.FAIL, fail_reason="CUDA out of memory\nmore detail")
    # A retried, stale trial as a fault-tolerance layer would record it.
    demo.add_trial(
        FrozenTrial(
            number=-1,
            trial_id=-1,
            state=TrialState.FAIL,
            params={"x": 0.5},
            distributions={"x": Float(-5, 5)},
            system_attrs={
                "fail_reason": "lease expired",
                "retry_of": 4,
                "stale": True,
                "sampler": "RandomSampler",
            },
        )
    )
    demo.ask({"x": Float(-5, 5)})  # left RUNNING
    other = hyperdial.create_study(study_name="other", storage=storage, direction="maximize")
    other.tell(other.ask({"y": Float(0, 1)}), 0.5)
    hyperdial.create_study(study_name="empty", storage=storage)


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "demo.db"
    _build_demo(f"sqlite:///{path}")
    return path


@pytest.fixture
def demo_url(_demo_template: Path, tmp_path: Path) -> str:
    """A fresh copy of a storage holding 'demo' (7 trials), 'other' and 'empty'."""
    path = tmp_path / "demo.db"
    # The backup API reads through SQLite's write-ahead log, which a file copy would miss.
    with sqlite3.connect(_demo_template) as source, sqlite3.connect(path) as target:
        source.backup(target)
    return f"sqlite:///{path}"


def _api_study(url: str, name: str = "demo") -> hyperdial.Study:
    return hyperdial.load_study(study_name=name, storage=url)


# -- basics -----------------------------------------------------------------------------------


def test_version_and_help() -> None:
    assert hyperdial.__version__ in ok("--version").stdout
    help_text = ok("--help").stdout
    for command in ("studies", "trials", "best", "export", "create", "delete", "ask", "tell"):
        assert command in help_text
    assert "optimize" in help_text


# -- studies ----------------------------------------------------------------------------------


def test_studies_table(demo_url: str) -> None:
    out = ok("studies", "--storage", demo_url).stdout
    for fragment in ("demo", "other", "empty", "minimize", "maximize", "1.5", "3 complete"):
        assert fragment in out


def test_studies_json_matches_api(demo_url: str) -> None:
    rows = _strict_json(ok("studies", "--json", "--storage", demo_url).stdout)
    summaries = hyperdial.list_studies(demo_url)
    assert [r["name"] for r in rows] == [s.study_name for s in summaries]
    demo = next(r for r in rows if r["name"] == "demo")
    study = _api_study(demo_url)
    assert demo["n_trials"] == len(study.trials)
    assert demo["best_value"] == study.best_value
    assert demo["best_trial"] == study.best_trial.number
    assert demo["states"] == {"RUNNING": 1, "COMPLETE": 3, "PRUNED": 1, "FAIL": 2}
    assert demo["direction"] == "minimize"
    assert demo["datetime_start"].endswith("+00:00")
    empty = next(r for r in rows if r["name"] == "empty")
    assert empty["best_value"] is None and empty["n_trials"] == 0


def test_studies_in_an_empty_storage() -> None:
    ok("create", "x")
    ok("delete", "x", "--yes")
    assert "No studies" in ok("studies").stdout
    assert _strict_json(ok("studies", "--json").stdout) == []


# -- trials -----------------------------------------------------------------------------------


def test_trials_table_shows_notes_and_sampler(demo_url: str) -> None:
    out = ok("trials", "demo", "--storage", demo_url).stdout
    assert "CUDA out of memory" in out and "more detail" not in out
    assert "retry of #4" in out and "stale" in out
    assert "RandomSampler" in out
    assert "pruned" in out and "running" in out
    assert "7 trials" in out


def test_trials_json_matches_api(demo_url: str) -> None:
    rows = _strict_json(ok("trials", "demo", "--json", "--storage", demo_url).stdout)
    trials = _api_study(demo_url).trials
    assert [r["number"] for r in rows] == [t.number for t in trials]
    assert [r["state"] for r in rows] == [t.state.name for t in trials]
    assert [r["value"] for r in rows] == [t.value for t in trials]
    assert [r["params"] for r in rows] == [t.params for t in trials]
    assert rows[0]["user_attrs"] == {"fold": 0}
    assert rows[3]["intermediate_values"] == {"1": 0.75}
    assert rows[4]["fail_reason"].startswith("CUDA out of memory")
    assert rows[5]["system_attrs"]["retry_of"] == 4
    assert rows[0]["duration"] >= 0 and rows[6]["duration"] is None


def test_trials_state_filter_and_limit(demo_url: str) -> None:
    rows = _strict_json(
        ok(
            "trials",
            "demo",
            "--state",
            "fail",
            "--state",
            "PRUNED",
            "--json",
            "--storage",
            demo_url,
        ).stdout
    )
    assert [(r["number"], r["state"]) for r in rows] == [(3, "PRUNED"), (4, "FAIL"), (5, "FAIL")]
    rows = _strict_json(
        ok("trials", "demo", "--limit", "2", "--json", "--storage", demo_url).stdout
    )
    assert [r["number"] for r in rows] == [5, 6]
    out = ok("trials", "demo", "--limit", "2", "--storage", demo_url).stdout
    assert "last 2 of 7" in out
    assert "No trials" in ok("trials", "demo", "--state", "waiting", "--storage", demo_url).stdout
    result = run("trials", "demo", "--state", "bogus", "--storage", demo_url)
    assert result.exit_code == 2


def test_tables_are_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wide.db'}"
    study = hyperdial.create_study(study_name="wide", storage=url)
    space = {f"parameter_{i}": Float(0, 1) for i in range(6)}
    study.tell(study.ask(space), 1.0)
    lines = ok("trials", "wide", "--storage", url).stdout.splitlines()
    assert max(len(line) for line in lines) > 80
    assert max(len(line) for line in lines) <= 120


# -- best -------------------------------------------------------------------------------------


def test_best_table_and_json(demo_url: str) -> None:
    study = _api_study(demo_url)
    out = ok("best", "demo", "--storage", demo_url).stdout
    assert f"{study.best_trial.number}" in out and "1.5" in out and "user_attrs.fold" in out
    data = _strict_json(ok("best", "demo", "--json", "--storage", demo_url).stdout)
    assert data["number"] == study.best_trial.number
    assert data["value"] == study.best_value
    assert data["params"] == study.best_params
    assert data["user_attrs"] == {"fold": 1}
    maximize = _strict_json(ok("best", "other", "--json", "--storage", demo_url).stdout)
    assert maximize["value"] == 0.5 and maximize["direction"] == "maximize"


def test_best_without_complete_trials(demo_url: str) -> None:
    assert_one_line_error(run("best", "empty", "--storage", demo_url), "no COMPLETE trial")


def test_json_output_has_no_nan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nan.db'}"
    study = hyperdial.create_study(study_name="nan", storage=url)
    trial = study.ask({"x": Float(0, 1)})
    trial.report(float("nan"), step=0)
    trial.report(float("inf"), step=1)
    study.tell(trial, 1.0)
    study.tell(study.ask(), float("nan"))  # stored as FAIL
    rows = _strict_json(ok("trials", "nan", "--json", "--storage", url).stdout)
    assert rows[0]["intermediate_values"] == {"0": None, "1": None}
    assert rows[1]["state"] == "FAIL" and rows[1]["value"] is None
    _strict_json(ok("export", "nan", "--format", "json", "--storage", url).stdout)


# -- export -----------------------------------------------------------------------------------


def test_export_csv_round_trips_through_pandas_and_csv(demo_url: str) -> None:
    text = ok("export", "demo", "--storage", demo_url).stdout
    frame = pd.read_csv(io.StringIO(text))
    expected = _api_study(demo_url).trials_dataframe()
    assert list(frame["number"]) == list(expected["number"])
    assert list(frame["state"]) == list(expected["state"])
    assert list(frame.columns[:3]) == ["number", "state", "value"]
    for column in ("value", "params_x", "user_attrs_fold"):
        got, want = list(frame[column]), list(expected[column])
        assert all(
            (pd.isna(g) and pd.isna(w)) or math.isclose(g, w)
            for g, w in zip(got, want, strict=True)
        ), column
    assert frame["duration"].dropna().ge(0).all()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 7 and rows[4]["fail_reason"].startswith("CUDA out of memory")


def test_export_json_to_file(demo_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = ok("export", "demo", "--format", "json", "-o", str(target), "--storage", demo_url)
    assert result.stdout == "" and "wrote 7 trials" in result.stderr
    records = _strict_json(target.read_text())
    assert [r["number"] for r in records] == list(range(7))
    assert records[1]["params_x"] == _api_study(demo_url).trials[1].params["x"]
    assert records[0]["datetime_start"].endswith("+00:00")


# -- create and delete ------------------------------------------------------------------------


def test_create(tmp_path: Path) -> None:
    assert "'s'" in ok("create", "s", "--direction", "maximize").stdout
    assert (tmp_path / "hyperdial.db").exists()
    assert _api_study("sqlite:///hyperdial.db", "s").direction.name == "MAXIMIZE"
    assert_one_line_error(run("create", "s"), "already exists", "--exists-ok")
    ok("create", "s", "--direction", "maximize", "--exists-ok")
    assert_one_line_error(run("create", "s", "--exists-ok"), "MAXIMIZE")


def test_delete_needs_yes_without_a_terminal(demo_url: str) -> None:
    assert_one_line_error(run("delete", "demo", "--storage", demo_url), "--yes", "terminal")
    assert "demo" in [s.study_name for s in hyperdial.list_studies(demo_url)]
    assert "deleted study 'demo'" in ok("delete", "demo", "--yes", "--storage", demo_url).stdout
    assert "demo" not in [s.study_name for s in hyperdial.list_studies(demo_url)]
    assert_one_line_error(run("delete", "demo", "-y", "--storage", demo_url), "no study named")


def test_delete_asks_in_a_terminal(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_write, "stdin_is_tty", lambda: True)
    result = run("delete", "other", "--storage", demo_url, input="n\n")
    assert result.exit_code == 1
    assert "other" in [s.study_name for s in hyperdial.list_studies(demo_url)]
    ok("delete", "other", "--storage", demo_url, input="y\n")
    assert "other" not in [s.study_name for s in hyperdial.list_studies(demo_url)]


# -- storage resolution -----------------------------------------------------------------------


def test_storage_flag_beats_env_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, env = tmp_path / "flag.db", tmp_path / "env.db"
    ok("create", "in-default")
    assert (tmp_path / "hyperdial.db").exists()
    monkeypatch.setenv("HYPERDIAL_STORAGE", f"sqlite:///{env}")
    ok("create", "in-env")
    ok("--storage", f"sqlite:///{flag}", "create", "in-flag-before")
    ok("create", "in-flag-after", "--storage", f"sqlite:///{flag}")

    def names(path: Path) -> list[str]:
        return [s.study_name for s in hyperdial.list_studies(f"sqlite:///{path}")]

    assert names(tmp_path / "hyperdial.db") == ["in-default"]
    assert names(env) == ["in-env"]
    assert names(flag) == ["in-flag-before", "in-flag-after"]
    # After the subcommand beats before it.
    other = tmp_path / "other.db"
    ok("--storage", f"sqlite:///{flag}", "create", "last-wins", "--storage", f"sqlite:///{other}")
    assert names(other) == ["last-wins"]
    listed = _strict_json(ok("studies", "--json").stdout)
    assert [r["name"] for r in listed] == ["in-env"]


# -- errors -----------------------------------------------------------------------------------


def test_unknown_study_lists_existing_ones(demo_url: str) -> None:
    for command in ("trials", "best", "export", "delete"):
        assert_one_line_error(
            run(command, "nope", "--storage", demo_url), "'nope'", "demo, other, empty"
        )


def test_reading_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    assert_one_line_error(run("studies"), "no storage at hyperdial.db", "HYPERDIAL_STORAGE")
    assert not (tmp_path / "hyperdial.db").exists()


def test_storage_errors_are_one_line() -> None:
    assert_one_line_error(run("studies", "--storage", "mysql://x/y"), "sqlite:///")
    refused = run("studies", "--storage", "postgresql://user:secret@127.0.0.1:1/db")
    message = assert_one_line_error(refused, "cannot connect to postgresql://user:***@127.0.0.1:1")
    assert "secret" not in message
    assert_one_line_error(
        run("create", "x", "--storage", "sqlite:///no/such/dir/x.db"), "no/such/dir"
    )


def test_verbose_shows_the_traceback(demo_url: str) -> None:
    result = run("--verbose", "best", "empty", "--storage", demo_url)
    assert result.exit_code == 1 and "Traceback" in result.stderr
    result = run("best", "empty", "--storage", demo_url, "-v")
    assert result.exit_code == 1 and "Traceback" in result.stderr


# -- ask and tell -----------------------------------------------------------------------------

SPACE = json.dumps(
    {"x": {"type": "float", "low": -5, "high": 5}, "k": {"type": "int", "low": 1, "high": 3}}
)


def test_ask_tell_shell_loop() -> None:
    """What ``for i in $(seq 5); do ... hyperdial ask ... | ... hyperdial tell ...; done`` does."""
    told = []
    for _ in range(5):
        out = ok("ask", "--study", "loop", "--search-space", SPACE, "--direction", "maximize")
        assert len(out.stdout.splitlines()) == 1  # one line, for `read` in a shell loop
        asked = _strict_json(out.stdout)
        value = -((asked["params"]["x"] - 1) ** 2) + asked["params"]["k"]
        out = ok(
            "tell",
            "--study",
            "loop",
            "--trial-number",
            str(asked["number"]),
            "--value",
            repr(value),
        ).stdout
        assert "complete" in out
        told.append((asked["number"], asked["params"], value))
    study = _api_study("sqlite:///hyperdial.db", "loop")
    assert study.direction.name == "MAXIMIZE"
    assert [(t.number, t.params, t.value) for t in study.trials] == told
    assert study.best_value == max(v for _, _, v in told)
    # Without --direction the existing study keeps its own.
    ok("ask", "--study", "loop", "--search-space", SPACE)


def test_ask_search_space_from_file_and_qmc(tmp_path: Path) -> None:
    (tmp_path / "space.json").write_text(SPACE)
    numbers = []
    for _ in range(3):
        asked = _strict_json(
            ok("ask", "--study", "q", "--search-space", "@space.json", "--sampler", "qmc").stdout
        )
        assert set(asked["params"]) == {"x", "k"}
        numbers.append(asked["number"])
    assert numbers == [0, 1, 2]
    asked = _strict_json(ok("ask", "--study", "q", "--search-space", "@-", input=SPACE).stdout)
    assert asked["number"] == 3


def test_tell_states_and_errors() -> None:
    def ask() -> int:
        return int(
            _strict_json(ok("ask", "--study", "t", "--search-space", SPACE).stdout)["number"]
        )

    n = ask()
    out = ok("tell", "--study", "t", "--trial-number", str(n), "--state", "fail", "--reason", "OOM")
    assert "fail (OOM)" in out.stdout and "warning" not in out.stderr
    n = ask()
    ok("tell", "--study", "t", "--trial-number", str(n), "--state", "pruned")
    n = ask()
    assert "fail" in ok("tell", "--study", "t", "--trial-number", str(n), "--value", "nan").stdout
    states = [t.state for t in _api_study("sqlite:///hyperdial.db", "t").trials]
    assert states == [TrialState.FAIL, TrialState.PRUNED, TrialState.FAIL]
    assert _api_study("sqlite:///hyperdial.db", "t").trials[0].fail_reason == "OOM"

    assert_one_line_error(
        run("tell", "--study", "t", "--trial-number", "0", "--value", "1"), "already"
    )
    assert_one_line_error(run("tell", "--study", "t", "--trial-number", "99", "--value", "1"), "99")
    assert run("tell", "--study", "t", "--trial-number", "0").exit_code == 2
    assert (
        run(
            "tell", "--study", "t", "--trial-number", "0", "--value", "1", "--state", "fail"
        ).exit_code
        == 2
    )
    assert (
        run(
            "tell", "--study", "t", "--trial-number", "0", "--reason", "x", "--value", "1"
        ).exit_code
        == 2
    )


@pytest.mark.parametrize(
    ("space", "fragment"),
    [
        ('{"x": ', "not valid JSON"),
        ('{"x": {"type": "float", "low": 5, "high": -5}}', "low must be <= high"),
        ('{"x": {"type": "normal"}}', "Unknown distribution"),
        ("@missing.json", "cannot read"),
    ],
)
def test_ask_bad_search_space(space: str, fragment: str) -> None:
    assert_one_line_error(run("ask", "--study", "bad", "--search-space", space), fragment)


# -- optimize ---------------------------------------------------------------------------------


def test_optimize_with_two_jobs() -> None:
    result = ok(*words("optimize cli_objectives:quadratic --study opt --n-trials 8 --n-jobs 2"))
    assert "8 trials finished" in result.stdout and "best trial #" in result.stdout
    study = _api_study("sqlite:///hyperdial.db", "opt")
    assert len(study.trials) == 8
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # The trials ran in worker processes, not in this one.
    assert all(not t.system_attrs["worker"].endswith(f":{os.getpid()}") for t in study.trials)
    best = _strict_json(ok("best", "opt", "--json").stdout)
    assert best["value"] == study.best_value and best["params"] == study.best_params
    assert best["user_attrs"] == {"kind_upper": study.best_params["kind"].upper()}
    # Running again continues the study.
    result = ok("optimize", "cli_objectives:quadratic", "--study", "opt", "--n-trials", "2")
    assert "continuing" in result.stderr and "has 10 trials" in result.stdout


def test_optimize_imports_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "cwd_objective_mod.py").write_text(
        "def objective(trial):\n    return trial.suggest_float('x', 0, 1)\n"
    )
    ok(
        *words("optimize cwd_objective_mod:objective --study cwd --n-trials 3 --seed 1"),
        *words("--direction maximize --sampler qmc"),
    )
    study = _api_study("sqlite:///hyperdial.db", "cwd")
    assert len(study.trials) == 3 and study.direction.name == "MAXIMIZE"


def test_optimize_grid(tmp_path: Path) -> None:
    space = {"a": {"type": "int", "low": 1, "high": 3}, "b": ["u", "v"]}
    (tmp_path / "grid.json").write_text(json.dumps(space))
    result = ok(
        *words("optimize cli_objectives:grid --study g --sampler grid"),
        "--search-space",
        "@grid.json",
    )
    assert "6 trials finished" in result.stdout
    params = {
        (t.params["a"], t.params["b"]) for t in _api_study("sqlite:///hyperdial.db", "g").trials
    }
    assert params == {(a, b) for a in (1, 2, 3) for b in "uv"}


@pytest.mark.parametrize(
    ("target", "fragments", "code"),
    [
        ("cli_objectives", ["module:function"], 2),
        ("no_such_module_xyz:f", ["cannot import 'no_such_module_xyz'"], 1),
        ("cli_objectives:missing", ["no attribute 'missing'", "quadratic"], 1),
        ("cli_objectives:NOT_CALLABLE", ["not callable"], 1),
    ],
)
def test_optimize_bad_objective(target: str, fragments: list[str], code: int) -> None:
    result = run("optimize", target, "--study", "o", "--n-trials", "1")
    assert_one_line_error(result, *fragments, code=code)


def test_optimize_import_error_in_the_module(tmp_path: Path) -> None:
    (tmp_path / "broken_objective_mod.py").write_text("import no_such_dependency_xyz\n")
    result = run("optimize", "broken_objective_mod:f", "--study", "o", "--n-trials", "1")
    assert_one_line_error(result, "no_such_dependency_xyz")


def test_optimize_objective_error_is_one_line() -> None:
    result = run("optimize", "cli_objectives:raises", "--study", "boom", "--n-trials", "3")
    assert_one_line_error(result, "trial 0 raised RuntimeError: objective exploded")
    trial = _api_study("sqlite:///hyperdial.db", "boom").trials[0]
    assert trial.state == TrialState.FAIL and "Traceback" in trial.system_attrs["fail_traceback"]


def test_optimize_interrupted_keeps_finished_trials() -> None:
    result = run("optimize", "cli_objectives:interrupted", "--study", "int", "--n-trials", "5")
    line = assert_one_line_error(result, "interrupted; finished trials are kept in", code=130)
    assert "sqlite:///hyperdial.db" in line
    states = [t.state for t in _api_study("sqlite:///hyperdial.db", "int").trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]


def test_optimize_usage_errors() -> None:
    assert run("optimize", "cli_objectives:quadratic", "--study", "u").exit_code == 2
    result = run("optimize", "cli_objectives:grid", "--study", "u", "--sampler", "grid")
    assert result.exit_code == 2 and "--search-space" in result.stderr
    assert run("optimize", "cli_objectives:quadratic", "--n-trials", "1").exit_code == 2
