"""Ask time against history size: how a sampler's cost per trial grows with the study.

For each sampler and history size N, a study is given N completed trials at random points
of a space (see ``SPACES``) with a cheap synthetic value, added directly (hyperdial
``study.add_trial``, Optuna ``create_trial`` + ``add_trials``, Hyperopt ``rand.suggest``
documents marked done), so no objective runs. Then ``ASKS`` trials are asked (with their
parameter suggestions) and told one after the other; each ask is timed. The median is
reported.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from benchmarks._code import machine
from benchmarks.samplers.problems import PROBLEMS, Param
from benchmarks.samplers.runners import (
    HyperdialTuner,
    HyperoptTuner,
    OptunaTuner,
    RandomTuner,
    code_version,
    make_tuner,
    quiet,
)

ASKS = 20
# Every case is measured in this many rounds, each round going through all the cases, and
# the round with the lowest median counts (see report.load_asktime): on a shared machine a
# slow round measures the neighbours' load, not the sampler, and a load spike then spoils
# one round of a case instead of its figure.
ROUNDS = 3
# The spaces the history lives in: a mixed one (the MLP problem's: an integer on a log scale,
# two log-scale floats, two categoricals) and a continuous one (Hartmann-6's six floats).
SPACES = {"mixed": "mlp", "continuous": "hartmann6"}
# (family, samplers compared, history sizes, space)
Case = tuple[str, list[str], list[int], str]
TPE = ["hyperdial-tpe", "optuna-tpe", "hyperopt-tpe"]
RANDOM = ["hyperdial-random", "optuna-random", "hyperopt-random"]
GP = ["hyperdial-gp", "optuna-gp"]
CASES: list[Case] = [
    ("TPE", TPE, [100, 1000, 5000], "mixed"),
    ("Random", RANDOM, [100, 1000, 5000], "mixed"),
    ("GP", GP, [100, 300], "mixed"),
    ("Auto", ["hyperdial-auto"], [100, 1000, 5000], "mixed"),
    ("TPE", TPE, [100, 1000, 5000], "continuous"),
    ("GP", GP, [100, 300], "continuous"),
]
QUICK_CASES: list[Case] = [
    ("TPE", TPE, [100, 1000], "mixed"),
    ("Random", RANDOM, [100], "mixed"),
    ("GP", GP, [100], "mixed"),
    ("GP", GP, [100], "continuous"),
]
QUICK_ASKS = 5


def _unit(param: Param, value: Any) -> float:
    if param.kind == "categorical":
        return param.choices.index(value) / max(1, len(param.choices) - 1)
    low, high, v = float(param.low), float(param.high), float(value)
    if param.log:
        low, high, v = math.log(low), math.log(high), math.log(v)
    return (v - low) / (high - low)


def synthetic_value(space: tuple[Param, ...], params: dict[str, Any]) -> float:
    """A smooth bowl in the unit cube: the history needs values, not a model fit."""
    return float(sum((_unit(p, params[p.name]) - 0.3) ** 2 for p in space if p.name in params))


def _fill_history(tuner: Any, space: tuple[Param, ...], n: int, seed: int) -> None:
    """Give ``tuner``'s study ``n`` completed trials without running any objective."""
    if isinstance(tuner, HyperoptTuner):
        from benchmarks.samplers.runners import hyperopt_params
        from hyperopt import JOB_STATE_DONE, STATUS_OK, rand, space_eval

        trials = tuner.trials
        docs = rand.suggest(trials.new_trial_ids(n), tuner.domain, trials, seed)
        for doc in docs:
            vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
            params = hyperopt_params(space, space_eval(tuner.expr, vals))
            doc["state"] = JOB_STATE_DONE
            doc["result"] = {"loss": synthetic_value(space, params), "status": STATUS_OK}
        trials.insert_trial_docs(docs)
        trials.refresh()
        return
    points = RandomTuner(space, seed)
    if isinstance(tuner, HyperdialTuner):
        from hyperdial import FrozenTrial, TrialState

        for i in range(n):
            _, params = points.ask()
            tuner.study.add_trial(
                FrozenTrial(
                    number=i,
                    trial_id=i,
                    state=TrialState.COMPLETE,
                    values=[synthetic_value(space, params)],
                    params=params,
                    distributions={k: tuner.distributions[k] for k in params},
                )
            )
        return
    assert isinstance(tuner, OptunaTuner)
    from optuna.trial import create_trial

    history = []
    for _ in range(n):
        _, params = points.ask()
        history.append(
            create_trial(
                params=params,
                distributions={k: tuner.distributions[k] for k in params},
                value=synthetic_value(space, params),
            )
        )
    tuner.study.add_trials(history)


def measure(
    sampler: str, n_history: int, asks: int, space_name: str = "mixed", seed: int = 0
) -> dict[str, Any]:
    """Time ``asks`` asks of ``sampler`` on a study that holds ``n_history`` trials."""
    quiet()
    space = PROBLEMS[SPACES[space_name]].space
    tuner = make_tuner(sampler, space, seed)
    t0 = time.perf_counter()
    _fill_history(tuner, space, n_history, seed)
    fill_s = time.perf_counter() - t0
    ask_s, ask_cpu_s = [], []
    for _ in range(asks):
        c0, t0 = time.process_time(), time.perf_counter()
        handle, params = tuner.ask()
        t1, c1 = time.perf_counter(), time.process_time()
        ask_s.append(getattr(tuner, "last_suggest_s", None) or t1 - t0)
        ask_cpu_s.append(getattr(tuner, "last_suggest_cpu_s", None) or c1 - c0)
        tuner.tell(handle, synthetic_value(space, params))
    return {
        "sampler": sampler,
        "n_history": n_history,
        "space": space_name,
        "asks": asks,
        "ask_s": ask_s,
        "ask_cpu_s": ask_cpu_s,
        "median_ms": 1000 * float(np.median(ask_s)),
        "fill_s": fill_s,
    }


def run(raw_path: Path, *, quick: bool = False) -> None:
    """Measure every case until ``raw_path`` holds ROUNDS of it; append each result."""
    from benchmarks.samplers.report import current_records
    from benchmarks.samplers.run import append_record

    cases = QUICK_CASES if quick else CASES
    asks = QUICK_ASKS if quick else ASKS
    done = Counter((r["sampler"], r["n_history"], r["space"]) for r in current_records(raw_path))
    rounds = 1 if quick else ROUNDS
    for round_ in range(rounds):
        for family, samplers, n, space_name in _each_case(cases):
            for sampler in samplers:
                if done[(sampler, n, space_name)] > round_:
                    continue
                record = measure(sampler, n, asks, space_name)
                record["family"] = family
                record["code"] = code_version(sampler)
                record["machine"] = machine()
                append_record(raw_path, record)
                print(
                    f"round {round_ + 1}/{rounds}: ask time {sampler:16s} at {n:5d} trials "
                    f"({space_name}): {record['median_ms']:8.1f} ms "
                    f"(history built in {record['fill_s']:.1f} s)",
                    flush=True,
                )


def _each_case(cases: list[Case]) -> list[tuple[str, list[str], int, str]]:
    return [
        (family, samplers, n, space_name)
        for family, samplers, sizes, space_name in cases
        for n in sizes
    ]
