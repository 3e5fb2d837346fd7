"""The ask-time report: of a case's rounds, the one with the lowest median counts."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _benchmark_module(name: str) -> Any:
    """Import ``benchmarks.samplers.<name>`` from the repository (it is not installed)."""
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"benchmarks.samplers.{name}")
    finally:
        sys.path.remove(str(ROOT))


def test_the_round_with_the_lowest_median_counts(tmp_path: Path) -> None:
    report = _benchmark_module("report")
    runners = _benchmark_module("runners")

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
