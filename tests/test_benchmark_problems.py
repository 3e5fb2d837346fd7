"""The sampler benchmark's problems and the bookkeeping its reports rest on.

Each objective is a deterministic function of its input: the benchmark compares tuners by
the best value each finds; a loss that changes from one evaluation of a configuration to the
next would reward luck, and the issue asks for deterministic cross-validation losses. The
reports name the machines their runs come from, count each ask-time case's fastest round, and
say how far noise could move the figures the targets are judged on.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The scikit-learn models warn (convergence, say) on parts of their search spaces.
pytestmark = pytest.mark.filterwarnings("ignore")


def _benchmark_module(name: str) -> Any:
    """Import ``benchmarks.<name>`` from the repository (it is not installed)."""
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"benchmarks.{name}")
    finally:
        sys.path.remove(str(ROOT))


@pytest.fixture(scope="module")
def problems() -> Any:
    return _benchmark_module("samplers.problems").PROBLEMS


def _points(space: Any, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        params: dict[str, Any] = {}
        for param in space:
            if param.active(params):
                params[param.name] = param.from_unit(float(rng.random()))
        points.append(params)
    return points


@pytest.mark.parametrize(
    "name",
    ["branin", "hartmann6", "ackley10", "svc", "mlp", "forest", "elasticnet", "model_choice"],
)
def test_objective_repeats_its_value(problems: Any, name: str) -> None:
    problem = problems[name]
    for params in _points(problem.space, 6, seed=sum(map(ord, name))):
        first = problem.objective(params)
        assert math.isfinite(first), (name, params)
        assert problem.objective(params) == first, (name, params)


def test_model_choice_logistic_l1_is_deterministic(problems: Any) -> None:
    # liblinear's L1 solver visits coordinates in random order; the problem must seed it.
    objective = problems["model_choice"].objective
    params = {"model": "logreg", "lr_C": 81.76, "lr_penalty": "l1"}
    values = {objective(params) for _ in range(4)}
    assert len(values) == 1, values


@pytest.fixture(scope="module")
def problem_code() -> Any:
    return _benchmark_module("samplers.runners").problem_code


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    source = (ROOT / "benchmarks" / "samplers" / "problems.py").read_text()
    assert source.count(old) == 1, old
    path = tmp_path / f"problems_{len(list(tmp_path.iterdir()))}.py"
    path.write_text(source.replace(old, new))
    return path


def test_a_problem_s_records_survive_an_edit_of_another_problem(
    problem_code: Any, tmp_path: Path
) -> None:
    # Stored benchmark runs are keyed by the code of their own problem: changing the SVC
    # problem redoes its runs (and the conditional problem's, which shares its loss) only.
    original = ROOT / "benchmarks" / "samplers" / "problems.py"
    edited = _edited(tmp_path, 'SVC(C=p["C"], gamma=p["gamma"])', 'SVC(C=p["C"], gamma=1.0)')
    assert problem_code("svc", edited) != problem_code("svc", original)
    for name in ("branin", "mlp", "elasticnet", "model_choice"):
        assert problem_code(name, edited) == problem_code(name, original), name
    shared = _edited(
        tmp_path,
        "def _auc_loss(",
        "def _auc_loss(*_: Any) -> float:\n    return 0.0\n\n\ndef _old_auc_loss(",
    )
    for name in ("svc", "model_choice"):
        assert problem_code(name, shared) != problem_code(name, original), name
    assert problem_code("branin", shared) == problem_code("branin", original)


def test_a_problem_s_key_ignores_docstrings(problem_code: Any, tmp_path: Path) -> None:
    original = ROOT / "benchmarks" / "samplers" / "problems.py"
    edited = _edited(
        tmp_path,
        "def make_svc() -> Callable[[Params], float]:\n",
        'def make_svc() -> Callable[[Params], float]:\n    """Reworded."""\n',
    )
    assert problem_code("svc", edited) == problem_code("svc", original)


def test_reports_say_when_runs_come_from_several_machines() -> None:
    # The same code can give other floating-point results (and times) on another CPU.
    code = _benchmark_module("_code")
    one = code.machines_line([{"machine": "x86_64, A, 2 cores"}] * 3)
    assert one == "Runs made on one machine: x86_64, A, 2 cores."
    mixed = code.machines_line([{"machine": "A"}, {"machine": "A"}, {"machine": "B"}])
    assert "2 machines" in mixed and "A (2 runs); B (1 run)" in mixed
    assert "an unrecorded machine" in code.machines_line([{"machine": "A"}, {}])


def test_machine_names_the_first_cpus_numbers(tmp_path: Path) -> None:
    # Virtual machines often say only "AMD EPYC"; the family and model numbers tell hosts
    # with different instruction sets (and so different BLAS kernels) apart.
    code = _benchmark_module("_code")
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n\n"
        "processor\t: 1\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: Other\n"
    )
    name = code.machine(info)
    assert "AMD EPYC (family 25, model 17)" in name
    assert "Other" not in name and "family 23" not in name
    bare = tmp_path / "bare"
    bare.write_text("model name\t: Some CPU\n")
    assert ", Some CPU, " in code.machine(bare)


def test_the_round_with_the_lowest_median_counts(tmp_path: Path) -> None:
    report = _benchmark_module("samplers.report")
    runners = _benchmark_module("samplers.runners")

    def record(sampler: str, cpu: list[float], *, code: str | None = None) -> dict[str, Any]:
        return {
            "sampler": sampler,
            "n_history": 100,
            "space": "mixed",
            "asks": len(cpu),
            "ask_s": cpu,
            "ask_cpu_s": cpu,
            "family": "TPE",
            "code": code or runners.code_version(sampler),
        }

    rounds = [
        record("hyperdial-tpe", [0.001, 0.009, 0.009]),  # median 9 ms: a loaded round
        record("hyperdial-tpe", [0.004, 0.002, 0.003]),  # median 3 ms
        record("hyperdial-tpe", [0.001, 0.001, 0.001], code="other code"),  # not counted
        record("optuna-tpe", [0.020, 0.030, 0.025]),
    ]
    path = tmp_path / "asktime.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rounds))
    times = report.load_asktime(path)
    assert sorted(times) == [("hyperdial-tpe", 100, "mixed"), ("optuna-tpe", 100, "mixed")]
    assert times[("hyperdial-tpe", 100, "mixed")]["ask_cpu_s"] == [0.004, 0.002, 0.003]
    assert report._ask_ms(times, "hyperdial-tpe", 100, "mixed") == 3.0


def test_a_score_difference_comes_with_its_standard_error() -> None:
    report = _benchmark_module("samplers.report")
    # Two problems with optimum 0 and random search's median best 10, so a best value v
    # scores 100 * (1 - v / 10); three seeds per sampler, a budget of one trial.
    random_runs = np.full((3, 1), 10.0)
    res = report.Results(
        budget=1,
        budgets=[1],
        curves={
            "branin": {
                "random": random_runs,
                "hyperdial-tpe": np.array([[1.0], [2.0], [3.0]]),
                "optuna-tpe": np.full((3, 1), 5.0),
            },
            "svc": {
                "random": random_runs,
                "hyperdial-tpe": np.array([[0.0], [0.0], [6.0]]),
                "optuna-tpe": np.full((3, 1), 5.0),
            },
        },
        overhead_ms={},
        ask_cpu_ms={},
        optimum={"branin": 0.0, "svc": 0.0},
        optimum_known={"branin": True, "svc": True},
        process_s=0.0,
    )
    # hyperdial-tpe scores 90, 80, 70 on one problem (mean 80, standard error 10 / sqrt(3))
    # and 100, 100, 40 on the other (mean 80, standard error 20); Optuna's scores
    # 50 every time (standard error 0).
    expected_se = math.sqrt(100 / 3 + 400) / 2
    assert res.mean_score("hyperdial-tpe", 1) == pytest.approx(80.0)
    assert res.mean_score_se("hyperdial-tpe", 1) == pytest.approx(expected_se)
    assert res.mean_score_se("optuna-tpe", 1) == 0.0
    assert report._versus(res, "hyperdial-tpe", "optuna-tpe", 1) == (
        f"80.0 vs 50.0, difference +30.0 ± {expected_se:.1f}"
    )


def test_speedup_intervals_follow_the_seeds() -> None:
    pruning = _benchmark_module("pruning")

    def runs(method: str, epochs: list[list[int]], best: list[list[float]]) -> list[Any]:
        return [
            pruning.Run(method, seed, epochs=e, best=b)
            for seed, (e, b) in enumerate(zip(epochs * 10, best * 10, strict=True))
        ]

    # Optuna's Hyperband ends at 0.98 after 400 epochs; no pruning ends at 0.983 after 600
    # and is within 0.3 points (0.980) after 300. Every seed alike: no spread at all.
    others = runs(pruning.OPTUNA, [[400]], [[0.98]]) + runs(
        pruning.NO_PRUNING, [[300, 600]], [[0.981, 0.983]]
    )
    same = runs(pruning.OURS, [[100, 200]], [[0.90, 0.98]])
    intervals = pruning.speedup_intervals(same + others, budget=600, draws=200)
    assert intervals["optuna"] == pytest.approx((2.0, 2.0))  # 400 / 200
    assert intervals["no pruning"] == pytest.approx((3.0, 3.0))  # 600 / 200
    assert intervals["no pruning, strict"] == pytest.approx((1.5, 1.5))  # 300 / 200

    # Optuna now ends at 0.975 after 400 epochs. Half of our seeds are at 0.98 after 100
    # epochs, half at 0.97 until 400: the mean curve reaches 0.975 after 100 epochs in a draw
    # holding at least as many fast seeds as slow ones (4x), and after 400 otherwise (1x).
    optuna = runs(pruning.OPTUNA, [[400]], [[0.975]])
    mixed = runs(pruning.OURS, [[100], [100, 400]], [[0.98], [0.97, 0.99]])
    nop = [r for r in others if r.method == pruning.NO_PRUNING]
    low, high = pruning.speedup_intervals(mixed + optuna + nop, budget=600, draws=200)["optuna"]
    assert (low, high) == (1.0, 4.0)
