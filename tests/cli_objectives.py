"""Objectives for the ``hyperdial optimize`` tests, imported as ``cli_objectives:<name>``."""

from __future__ import annotations

import hyperdial


def quadratic(trial: hyperdial.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    n = trial.suggest_int("n", 0, 3)
    kind = str(trial.suggest_categorical("kind", ["a", "b"]))
    trial.set_user_attr("kind_upper", kind.upper())
    return (x - 1.0) ** 2 + n


def grid(trial: hyperdial.Trial) -> float:
    a = trial.suggest_int("a", 1, 3)
    b = trial.suggest_categorical("b", ["u", "v"])
    return a + (0.5 if b == "v" else 0.0)


def raises(trial: hyperdial.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    raise RuntimeError("objective exploded")


def interrupted(trial: hyperdial.Trial) -> float:
    """Stands in for Ctrl-C arriving during the third trial."""
    x = trial.suggest_float("x", 0.0, 1.0)
    if trial.number == 2:
        raise KeyboardInterrupt
    return x


NOT_CALLABLE = 42
