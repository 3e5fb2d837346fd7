"""Objectives and worker scripts for ``test_reliability.py``.

The objectives are imported by ``hyperdial optimize`` as ``reliability_objectives:<name>``.
Run as a script, the module is a worker process the tests start, kill and watch::

    python reliability_objectives.py long-trial URL STUDY      # one trial that never ends
    python reliability_objectives.py reaper URL STUDY STOP     # short trials until STOP exists

Each prints a line on stdout once it is working, so a test knows when to act.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import hyperdial
from hyperdial.samplers import RandomSampler


def trivial(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", 0, 10)
    return x * x + y


def jittery(trial: hyperdial.Trial) -> float:
    """A deterministic value after a random 5-30 ms, so that workers finish out of order."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", 0, 10)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    time.sleep(0.005 + 0.025 * int.from_bytes(os.urandom(2), "big") / 65535)
    return (x - 1.0) ** 2 + abs(y - 3) + (0.5 if kind == "b" else 0.0)


def reporting_slow(trial: hyperdial.Trial) -> float:
    """Stores its parameters at once (with a report), then works for 0.2 s."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", 0, 10)
    trial.report(x * x, 0)
    time.sleep(0.2)
    return x * x + y


def _long_trial(url: str, study_name: str) -> None:
    study = hyperdial.load_study(study_name=study_name, storage=url, sampler=RandomSampler())
    trial = study.ask()
    x = trial.suggest_float("x", -10.0, 10.0)
    trial.set_user_attr("pid", os.getpid())  # stores x with it
    print(repr(x), flush=True)
    time.sleep(600)


def _reaper(url: str, study_name: str, stop_file: str) -> None:
    """Start and finish short trials: each ask also fails the study's stale trials."""
    study = hyperdial.load_study(study_name=study_name, storage=url, sampler=RandomSampler())
    print("started", flush=True)
    while not Path(stop_file).exists():
        trial = study.ask()
        study.tell(trial, trial.suggest_float("r", 0.0, 1.0))
        time.sleep(0.05)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"long-trial": _long_trial, "reaper": _reaper}[command](*arguments)
