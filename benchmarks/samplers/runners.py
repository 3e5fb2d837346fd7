"""One ask/tell adapter per tuner, and the harness that runs a (problem, sampler, seed) job.

Every tuner is driven the same way: ``ask`` returns a handle and the parameters of the
problem's declared space (conditional parameters only where active), ``tell`` reports the
loss. The harness times ``ask`` and ``tell`` apart from the objective, so that a tuner's
overhead is measured without the model it tunes.

Tuners (``SAMPLERS``):

* ``hyperdial-random``, ``hyperdial-qmc``, ``hyperdial-tpe``, ``hyperdial-gp``,
  ``hyperdial-auto``: hyperdial's samplers with their defaults, in-memory storage.
* ``optuna-tpe``: Optuna's default TPESampler (multivariate in Optuna 5), in-memory storage.
* ``optuna-gp``: Optuna's GPSampler.
* ``hyperopt-tpe``: Hyperopt's TPE, driven trial by trial through a shared ``Trials`` object
  (the same steps ``fmin`` takes); its ask is the ``tpe.suggest`` call.
* ``random``: plain uniform random search (NumPy), the reference of the normalized score.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from benchmarks._code import definition_digest, digest, hyperdial_source, machine, release
from benchmarks.samplers.problems import PROBLEMS, Param

SAMPLERS = [
    "hyperdial-random",
    "hyperdial-qmc",
    "hyperdial-tpe",
    "hyperdial-gp",
    "hyperdial-auto",
    "optuna-tpe",
    "optuna-gp",
    "hyperopt-tpe",
    "random",
]
REFERENCE = "random"  # the normalized score's baseline


class Tuner(Protocol):
    def ask(self) -> tuple[Any, dict[str, Any]]:
        """Start a trial: return a handle for ``tell`` and the trial's parameters."""

    def tell(self, handle: Any, value: float) -> None:
        """Report the loss of the trial ``handle``."""


def quiet() -> None:
    """Silence per-trial logging and warnings of the tuners (and keep BLAS single-threaded)."""
    warnings.simplefilter("ignore")
    logging.getLogger("hyperdial").setLevel(logging.ERROR)
    logging.getLogger("hyperopt").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)


def _single_thread_torch() -> None:
    # Two benchmark processes share two cores; torch's own pool would oversubscribe them.
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(1)


# -- hyperdial -------------------------------------------------------------------------------


def _hyperdial_sampler(name: str, seed: int) -> Any:
    from hyperdial import samplers

    try:
        from hyperdial.samplers import GPSampler  # type: ignore[attr-defined]
    except ImportError:
        from hyperdial.samplers._gp import GPSampler
    try:
        from hyperdial.samplers import AutoSampler  # type: ignore[attr-defined]
    except ImportError:
        from hyperdial.samplers._auto import AutoSampler

    factories: dict[str, Callable[[], Any]] = {
        "random": lambda: samplers.RandomSampler(seed=seed),
        "qmc": lambda: samplers.QMCSampler(seed=seed),
        "tpe": lambda: samplers.TPESampler(seed=seed),
        "gp": lambda: GPSampler(seed=seed),
        "auto": lambda: AutoSampler(seed=seed),
    }
    return factories[name]()


def hyperdial_distribution(param: Param) -> Any:
    from hyperdial import space

    if param.kind == "float":
        return space.Float(param.low, param.high, log=param.log)
    if param.kind == "int":
        return space.Int(int(param.low), int(param.high), step=param.step, log=param.log)
    return space.Categorical(list(param.choices))


class HyperdialTuner:
    def __init__(self, sampler: str, space: Sequence[Param], seed: int) -> None:
        import hyperdial

        self.space = space
        self.distributions = {p.name: hyperdial_distribution(p) for p in space}
        self.study = hyperdial.create_study(
            storage=hyperdial.storage.InMemoryStorage(),
            sampler=_hyperdial_sampler(sampler, seed),
        )

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for p in self.space:
            if p.active(params):
                params[p.name] = trial.suggest(p.name, self.distributions[p.name])
        return trial, params

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)


# -- Optuna ------------------------------------------------------------------------------------


def optuna_distribution(param: Param) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if param.kind == "float":
        return FloatDistribution(param.low, param.high, log=param.log)
    if param.kind == "int":
        step = None if param.log else param.step
        return IntDistribution(int(param.low), int(param.high), step=step or 1, log=param.log)
    return CategoricalDistribution(list(param.choices))


def _optuna_sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "gp":
        _single_thread_torch()
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)  # the defaults: multivariate in Optuna 5


class OptunaTuner:
    def __init__(self, sampler: str, space: Sequence[Param], seed: int) -> None:
        import optuna

        self.space = space
        self.distributions = {p.name: optuna_distribution(p) for p in space}
        self.study = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(), sampler=_optuna_sampler(sampler, seed)
        )

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for p in self.space:
            if not p.active(params):
                continue
            dist = self.distributions[p.name]
            if p.kind == "float":
                params[p.name] = trial.suggest_float(p.name, dist.low, dist.high, log=dist.log)
            elif p.kind == "int":
                params[p.name] = trial.suggest_int(
                    p.name, dist.low, dist.high, step=dist.step, log=dist.log
                )
            else:
                params[p.name] = trial.suggest_categorical(p.name, dist.choices)
        return trial, params

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)


# -- Hyperopt ----------------------------------------------------------------------------------


def _hyperopt_node(param: Param, space: Sequence[Param]) -> Any:
    """The ``hp`` expression of one parameter (a choice carries its conditional children)."""
    from hyperopt import hp

    if param.kind == "float":
        if param.log:
            return hp.loguniform(param.name, math.log(param.low), math.log(param.high))
        return hp.uniform(param.name, param.low, param.high)
    if param.kind == "int":
        if param.log:
            return hp.qloguniform(param.name, math.log(param.low), math.log(param.high), 1)
        # Offset so that the grid is low + k * step, whatever low is.
        return hp.quniform(param.name, 0, param.high - param.low, param.step)
    children = [p for p in space if p.when is not None and p.when[0] == param.name]
    if not children:
        return hp.choice(param.name, list(param.choices))
    return hp.choice(
        param.name,
        [
            {param.name: choice}
            | {c.name: _hyperopt_node(c, space) for c in children if c.when == (param.name, choice)}
            for choice in param.choices
        ],
    )


def hyperopt_space(space: Sequence[Param]) -> dict[str, Any]:
    return {p.name: _hyperopt_node(p, space) for p in space if p.when is None}


def hyperopt_params(space: Sequence[Param], sampled: dict[str, Any]) -> dict[str, Any]:
    """Flatten a ``space_eval`` result and map values back onto the declared ranges."""
    flat: dict[str, Any] = {}

    def walk(node: dict[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value)
            else:
                flat[key] = value

    walk(sampled)
    params: dict[str, Any] = {}
    for p in space:
        if p.name not in flat:
            continue
        value = flat[p.name]
        if p.kind == "int":
            value = round(value) if p.log else round(p.low + value)
            value = int(min(p.high, max(p.low, value)))
        elif p.kind == "float":
            value = float(min(p.high, max(p.low, value)))
        params[p.name] = value
    return params


class HyperoptTuner:
    """Hyperopt step by step: the calls ``fmin`` makes per trial, with the objective outside.

    Its ask time is the ``suggest`` call alone (``last_suggest_s``, ``last_suggest_cpu_s``);
    the bookkeeping that
    ``fmin`` does around it (inserting the document, refreshing ``Trials``) is left out.
    """

    def __init__(self, sampler: str, space: Sequence[Param], seed: int) -> None:
        from hyperopt import Domain, Trials, rand, tpe

        self.space = space
        self.expr = hyperopt_space(space)
        self.domain = Domain(lambda _: 0.0, self.expr)
        self.trials = Trials()
        self.algo = tpe.suggest if sampler == "tpe" else rand.suggest
        self.rstate = np.random.default_rng(seed)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        from hyperopt import space_eval

        ids = self.trials.new_trial_ids(1)
        start, start_cpu = time.perf_counter(), time.process_time()
        docs = self.algo(ids, self.domain, self.trials, self.rstate.integers(2**31 - 1))
        self.last_suggest_s = time.perf_counter() - start
        self.last_suggest_cpu_s = time.process_time() - start_cpu
        self.trials.insert_trial_docs(docs)
        self.trials.refresh()
        doc = self.trials._dynamic_trials[-1]  # the stored copy, updated by tell
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        return doc, hyperopt_params(self.space, space_eval(self.expr, vals))

    def tell(self, handle: Any, value: float) -> None:
        from hyperopt import JOB_STATE_DONE, STATUS_OK

        handle["state"] = JOB_STATE_DONE
        handle["result"] = {"loss": value, "status": STATUS_OK}
        self.trials.refresh()


# -- plain random search ------------------------------------------------------------------------


class RandomTuner:
    """Uniform random search (log-uniform on log ranges): no library, no history."""

    def __init__(self, space: Sequence[Param], seed: int) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        params: dict[str, Any] = {}
        for p in self.space:
            if p.active(params):
                params[p.name] = p.from_unit(float(self.rng.random()))
        return None, params

    def tell(self, handle: Any, value: float) -> None:
        pass


def make_tuner(sampler: str, space: Sequence[Param], seed: int) -> Tuner:
    if sampler == "random":
        return RandomTuner(space, seed)
    library, _, algorithm = sampler.partition("-")
    if library == "hyperdial":
        return HyperdialTuner(algorithm, space, seed)
    if library == "optuna":
        return OptunaTuner(algorithm, space, seed)
    if library == "hyperopt":
        return HyperoptTuner(algorithm, space, seed)
    raise ValueError(f"Unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}.")


# -- the harness -------------------------------------------------------------------------------


_PROBLEMS_FILE = Path(__file__).with_name("problems.py")


@functools.cache
def code_version(sampler: str, problem: str | None = None) -> str:
    """Return what a run of ``sampler`` depends on: the tuner's code and the problem's.

    Stored with each record, so that a resumed run redoes (and the report ignores) a record
    made by other code: for hyperdial's samplers a digest of hyperdial's code (docs aside), for the
    competitors their package's version, and for all a digest of the problem's definition
    (:func:`problem_code`; the whole of ``problems.py`` when no problem is named, as for the
    ask-time records) with the scikit-learn version. Competitors' records therefore stay
    valid while hyperdial changes, and a change to one problem redoes only its runs.
    """
    problems = (
        problem_code(problem) if problem is not None else f"problems {digest([_PROBLEMS_FILE])}"
    )
    family = sampler.split("-")[0]
    if family == "hyperdial":
        tuner = hyperdial_source()
    elif family in ("optuna", "hyperopt"):
        tuner = release(family)
    else:  # plain random search, drawn here with NumPy
        tuner = f"numpy {np.__version__}"
    return f"{tuner}; {problems}, {release('scikit-learn')}"


def problem_code(name: str, path: Path = _PROBLEMS_FILE) -> str:
    """Return ``"problem <name> <digest>"`` over the code that defines one problem.

    The digest covers the problem's entry in ``PROBLEMS`` and every function, class and
    constant of ``problems.py`` it uses, directly or not (see
    :func:`benchmarks._code.definition_digest`), docstrings and comments aside.
    """

    def is_entry(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Problem"
            and bool(node.args)
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == name
        )

    return f"problem {name} {definition_digest(path, is_entry)}"


def run_job(problem_name: str, sampler: str, seed: int, budget: int) -> dict[str, Any]:
    """Run one tuner on one problem for ``budget`` trials; return the JSON-ready record.

    ``ask_s`` and ``tell_s`` are wall-clock seconds around the tuner's calls only (the ask
    includes the parameter suggestions); ``eval_s`` is the objective's.
    """
    quiet()
    problem = PROBLEMS[problem_name]
    objective = problem.objective  # data and folds are loaded here, outside the timings
    tuner = make_tuner(sampler, problem.space, seed)
    values: list[float] = []
    ask_s: list[float] = []
    tell_s: list[float] = []
    eval_s: list[float] = []
    ask_cpu = 0.0
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(budget):
        c0, t0 = time.process_time(), time.perf_counter()
        handle, params = tuner.ask()
        t1, c1 = time.perf_counter(), time.process_time()
        value = float(objective(params))
        t2 = time.perf_counter()
        tuner.tell(handle, value)
        t3 = time.perf_counter()
        values.append(value)
        # Hyperopt's adapter times its suggest call alone (see HyperoptTuner).
        ask_s.append(getattr(tuner, "last_suggest_s", None) or t1 - t0)
        eval_s.append(t2 - t1)
        tell_s.append(t3 - t2)
        ask_cpu += getattr(tuner, "last_suggest_cpu_s", None) or c1 - c0
    return {
        "problem": problem_name,
        "sampler": sampler,
        "seed": seed,
        "budget": budget,
        "values": values,
        "ask_s": ask_s,
        "tell_s": tell_s,
        "eval_s": eval_s,
        "ask_cpu_s": ask_cpu,
        "wall_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - start_cpu,
        "code": code_version(sampler, problem_name),
        "machine": machine(),
    }
