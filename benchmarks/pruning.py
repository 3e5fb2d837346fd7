"""Early stopping: best validation accuracy against epochs trained, pruners side by side.

The task is the flagship demo's (``examples/mlp_digits.py``): a PyTorch multilayer perceptron
on scikit-learn's digits, trained up to MAX_EPOCHS epochs per trial, validation accuracy
reported every epoch. Its data, search space and objective are imported from the example,
unchanged. Compared, each on the same epoch budget per run and the same seeds:

* hyperdial's default sampler with NopPruner (every trial trained to the end), MedianPruner,
  SuccessiveHalvingPruner (ASHA) and HyperbandPruner;
* Optuna 5 with its default TPESampler and its HyperbandPruner.

A run stops once its trials have trained ``--budget`` epochs in total (pruned trials count
the epochs they ran). What is tracked is the best accuracy of a COMPLETE trial so far against
the epochs consumed so far; a trial counts from the moment it finishes. Each run is one study
in memory with ``n_jobs=1`` and one torch thread; two runs go at a time, one per core. Epochs,
not seconds, are the measure, so the figures do not depend on the machine's load.

Each finished run is appended to ``results/raw/pruning.jsonl`` (kept in the repository) with
the code that made it: a rerun skips the stored runs of unchanged code, so after a change to
hyperdial only hyperdial's runs are redone.

Usage:
    python benchmarks/pruning.py            # full run: benchmarks/results/pruning.{md,png}
    python benchmarks/pruning.py --quick    # a smoke test: pruning-quick.{md,png}
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
import multiprocessing
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hyperdial

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script
from benchmarks._code import digest, hyperdial_source, machine, machines_line, release

import mlp_digits as demo  # the example is a script, not a package

RESULTS = Path(__file__).parent / "results"
MAX_EPOCHS = demo.MAX_EPOCHS

METHODS = [
    "hyperdial no pruning",
    "hyperdial Median",
    "hyperdial ASHA",
    "hyperdial Hyperband",
    "Optuna Hyperband",
]
NO_PRUNING, OURS, OPTUNA = METHODS[0], METHODS[3], METHODS[4]
# Target 2's margin: within 0.3 points (accuracies are fractions here) of no pruning's final.
NEAR = 0.003
# The speed-ups' intervals: resamples of the seeds, and the central share of them reported.
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_LEVEL = 0.9


def default_sampler(seed: int) -> hyperdial.samplers.Sampler:
    """hyperdial's default sampler, seeded so that every run can be repeated."""
    make = hyperdial.samplers.default_sampler
    if "seed" in inspect.signature(make).parameters:
        return make(seed=seed)  # type: ignore[call-arg]
    return type(make())(seed=seed)  # type: ignore[call-arg]


def make_study(method: str, seed: int) -> Any:
    if method == OPTUNA:
        import optuna

        # Optuna's Hyperband hashes the study name to assign brackets; an unnamed study gets
        # a random name, so its runs would differ from one benchmark run to the next.
        return optuna.create_study(
            study_name=f"pruning-benchmark-seed-{seed}",
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=MAX_EPOCHS, reduction_factor=3
            ),
        )
    pruners = hyperdial.pruners
    pruner = {
        NO_PRUNING: pruners.NopPruner(),
        "hyperdial Median": pruners.MedianPruner(),
        "hyperdial ASHA": pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        OURS: pruners.HyperbandPruner(min_resource=1, max_resource=MAX_EPOCHS, reduction_factor=3),
    }[method]
    return hyperdial.create_study(
        direction="maximize", sampler=default_sampler(seed), pruner=pruner
    )


@dataclass
class Run:
    method: str
    seed: int
    epochs: list[int] = field(default_factory=list)  # cumulative epochs after each trial
    best: list[float] = field(default_factory=list)  # best COMPLETE accuracy by then
    n_trials: int = 0
    n_pruned: int = 0
    seconds: float = 0.0
    machine: str = ""  # where the run was made (see benchmarks._code.machine)

    def best_at(self, grid: np.ndarray) -> np.ndarray:
        """Best accuracy so far at each epoch count of ``grid`` (NaN before the first)."""
        index = np.searchsorted(np.asarray(self.epochs), grid, side="right") - 1
        best = np.asarray([*self.best, math.nan])  # index -1 reads the NaN
        return best[index]


def code_version(method: str) -> str:
    """Return what a run of ``method`` depends on; a stored run of other code is redone.

    The tuner (hyperdial's code without its docs, or Optuna's release), torch, and the demo's task.
    """
    tuner = release("optuna") if method == OPTUNA else hyperdial_source()
    return f"{tuner}; {release('torch')}; example {digest([Path(demo.__file__)])}"


def load_runs(path: Path, budget: int) -> dict[tuple[str, int], Run]:
    """Return the stored runs of ``budget`` epochs made by the current code, by (method, seed)."""
    runs: dict[tuple[str, int], Run] = {}
    if not path.exists():
        return runs
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted write
        if record.pop("budget") != budget or record.pop("code") != code_version(record["method"]):
            continue
        if record["method"] in METHODS:
            runs.setdefault((record["method"], record["seed"]), Run(**record))
    return runs


def save_run(path: Path, done: Run, budget: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**asdict(done), "budget": budget, "code": code_version(done.method)}
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def run(task: tuple[str, int, int]) -> Run:
    method, seed, budget = task
    torch.set_num_threads(1)
    quiet()
    data = demo.load_data()
    study = make_study(method, seed)
    result = Run(method, seed, machine=machine())
    best = -math.inf

    def callback(study: Any, trial: Any) -> None:
        nonlocal best
        result.n_trials += 1
        result.n_pruned += trial.state.name == "PRUNED"
        if trial.state.name == "COMPLETE":
            best = max(best, trial.value)
        consumed = (result.epochs[-1] if result.epochs else 0) + max(
            trial.intermediate_values, default=0
        )
        result.epochs.append(consumed)
        result.best.append(best if best > -math.inf else math.nan)
        if consumed >= budget:
            study.stop()

    objective = partial(demo.objective, data=data, max_epochs=MAX_EPOCHS)
    start = time.perf_counter()
    if method == OPTUNA:
        import optuna

        def optuna_objective(trial: optuna.Trial) -> float:
            try:
                return objective(trial)
            except hyperdial.TrialPruned:
                raise optuna.TrialPruned() from None

        study.optimize(optuna_objective, callbacks=[callback])
    else:
        study.optimize(objective, callbacks=[callback], show_progress_bar=False)
    result.seconds = time.perf_counter() - start
    return result


def quiet() -> None:
    logging.getLogger("hyperdial").setLevel(logging.ERROR)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:
        pass
    warnings.simplefilter("ignore")


# -- summary ------------------------------------------------------------------------------------


@dataclass
class Curve:
    grid: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    finals: np.ndarray  # each seed's best accuracy at the budget

    def epochs_to(self, target: float) -> int | None:
        """First epoch count at which the mean curve reaches ``target`` (None: never)."""
        index = _first_at(self.mean, target)
        return None if index is None else int(self.grid[index])


def _seed_curves(runs: list[Run], method: str, grid: np.ndarray) -> np.ndarray:
    """Each seed's best accuracy so far at each epoch count of ``grid`` (seeds x grid)."""
    return np.array([r.best_at(grid) for r in runs if r.method == method])


def _mean(values: np.ndarray) -> np.ndarray:
    """The mean over seeds: NaN until every seed has a COMPLETE trial."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no result yet
        mean: np.ndarray = values.mean(axis=0)
    return mean


def _first_at(mean: np.ndarray, target: float) -> int | None:
    """First index at which ``mean`` reaches ``target`` (None: never)."""
    hit = np.nonzero(mean >= target - 1e-12)[0]
    return int(hit[0]) if len(hit) else None


def curves(runs: list[Run], budget: int) -> dict[str, Curve]:
    grid = np.arange(0, budget + 1)
    result = {}
    for method in METHODS:
        values = _seed_curves(runs, method, grid)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # as in _mean
            sem = values.std(axis=0, ddof=1) / math.sqrt(len(values))
        result[method] = Curve(grid, _mean(values), sem, values[:, -1])
    return result


def speedup_intervals(
    runs: list[Run],
    budget: int,
    draws: int = BOOTSTRAP_DRAWS,
    level: float = BOOTSTRAP_LEVEL,
) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals over seeds for the three speed-ups the targets name.

    Each draw resamples every method's seeds with replacement and recomputes the mean
    curves, the reference levels (which move with the resampled curves too) and the epochs
    to them. A draw in which hyperdial Hyperband never reaches a level counts as speed-up 0.
    Returns the central ``level`` interval of each speed-up: "optuna" (target 1),
    "no pruning" and "no pruning, strict" (target 2).
    """
    grid = np.arange(0, budget + 1)
    values = {m: _seed_curves(runs, m, grid) for m in (OURS, OPTUNA, NO_PRUNING)}
    rng = np.random.default_rng(0)  # the same intervals from the same runs
    found: dict[str, list[float]] = {"optuna": [], "no pruning": [], "no pruning, strict": []}

    def resampled(method: str) -> np.ndarray:
        rows = values[method]
        return _mean(rows[rng.integers(0, len(rows), len(rows))])

    def speedup(reference: int | None, ours: int | None) -> float:
        return 0.0 if reference is None or ours is None else reference / max(ours, 1)

    for _ in range(draws):
        ours, optuna, nop = resampled(OURS), resampled(OPTUNA), resampled(NO_PRUNING)
        near_nop = nop[-1] - NEAR
        found["optuna"].append(speedup(_first_at(optuna, optuna[-1]), _first_at(ours, optuna[-1])))
        to_near = _first_at(ours, near_nop)
        found["no pruning"].append(speedup(_first_at(nop, nop[-1]), to_near))
        found["no pruning, strict"].append(speedup(_first_at(nop, near_nop), to_near))
    tail = 100 * (1 - level) / 2
    return {
        name: (float(np.percentile(x, tail)), float(np.percentile(x, 100 - tail)))
        for name, x in found.items()
    }


def pct(value: float) -> str:
    return f"{100 * value:.2f}"


def ratio(reference: int | None, epochs: int | None) -> str:
    if reference is None or epochs is None:
        return "-"
    return f"{reference / epochs:.1f}x"


def report(runs: list[Run], budget: int, seeds: int, stem: str = "pruning") -> str:
    table = curves(runs, budget)
    optuna_final = float(table[OPTUNA].mean[-1])
    nop_final = float(table[NO_PRUNING].mean[-1])
    near_nop = nop_final - NEAR
    optuna_epochs = table[OPTUNA].epochs_to(optuna_final)
    # Target 2 as worded: the epochs no pruning needed for its final accuracy ...
    nop_epochs = table[NO_PRUNING].epochs_to(nop_final)
    # ... and, stricter, the epochs no pruning needed to get within 0.3 points of it.
    nop_near_epochs = table[NO_PRUNING].epochs_to(near_nop)

    import optuna

    lines = [
        "# Pruning benchmark",
        "",
        f"hyperdial {hyperdial.__version__} (default sampler: "
        f"`{type(default_sampler(0)).__name__}`) vs Optuna {optuna.__version__} "
        f"(`TPESampler`), torch {torch.__version__.split('+')[0]}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.",
        "",
        machines_line(asdict(r) for r in runs),
        "",
        f"Task: `examples/mlp_digits.py` (MLP on digits, up to {MAX_EPOCHS} epochs a trial, "
        f"validation accuracy every epoch). Budget: {budget} epochs per run "
        f"({budget // MAX_EPOCHS} full trials); {seeds} seeds per method; "
        f"{sum(r.seconds for r in runs) / 60:.0f} process-minutes in all.",
        "",
        "Accuracy: the best validation accuracy (%) of a COMPLETE trial once the budget is "
        "spent, mean ± standard error over seeds. Epochs to reach a level: the first epoch "
        "count at which the mean over seeds of the best-so-far curves reaches it. Reference "
        f"levels: Optuna Hyperband's final accuracy ({pct(optuna_final)}, first reached at "
        f"{_epochs(optuna_epochs)} epochs) and no pruning's final accuracy less 0.3 points "
        f"({pct(near_nop)}). No pruning reached its final accuracy ({pct(nop_final)}) at "
        f"{_epochs(nop_epochs)} epochs and the level 0.3 below it at "
        f"{_epochs(nop_near_epochs)} epochs.",
        "",
        "| method | best accuracy | trials | pruned | epochs to Optuna-HB's final | speed-up "
        "vs Optuna-HB | epochs to within 0.3 of no pruning | speed-up vs no pruning | "
        "strict speed-up vs no pruning |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        curve = table[method]
        mine = [r for r in runs if r.method == method]
        to_optuna = curve.epochs_to(optuna_final)
        to_nop = curve.epochs_to(near_nop)
        finals = curve.finals
        sem = finals.std(ddof=1) / math.sqrt(len(finals))
        trials = np.mean([r.n_trials for r in mine])
        pruned = np.mean([r.n_pruned / r.n_trials for r in mine])
        lines.append(
            f"| {method} | {pct(finals.mean())} ± {pct(sem)} | {trials:.0f} | {pruned:.0%} | "
            f"{to_optuna if to_optuna is not None else 'not reached'} | "
            f"{ratio(optuna_epochs, to_optuna)} | "
            f"{to_nop if to_nop is not None else 'not reached'} | {ratio(nop_epochs, to_nop)} | "
            f"{ratio(nop_near_epochs, to_nop)} |"
        )
    ours_optuna = table[OURS].epochs_to(optuna_final)
    ours_nop = table[OURS].epochs_to(near_nop)
    spread = speedup_intervals(runs, budget)

    def interval(name: str) -> str:
        low, high = spread[name]
        return f"{BOOTSTRAP_LEVEL:.0%} bootstrap interval over seeds {low:.1f}-{high:.1f}x"

    lines += [
        "",
        "Targets (figures, not pass/fail):",
        "",
        f"- hyperdial Hyperband reaches Optuna Hyperband's final accuracy in at most half "
        f"Optuna's epochs: {_epochs(ours_optuna)} vs {_epochs(optuna_epochs)} "
        f"({_verdict(ours_optuna, optuna_epochs, 2)}; {interval('optuna')}).",
        f"- hyperdial Hyperband gets within 0.3 points of no pruning's final accuracy in at "
        f"most a third of the epochs no pruning needed to reach that final accuracy: "
        f"{_epochs(ours_nop)} vs {_epochs(nop_epochs)} ({_verdict(ours_nop, nop_epochs, 3)}; "
        f"{interval('no pruning')}). "
        f"Stricter reading, against the epochs no pruning needed to get within 0.3 points of "
        f"its own final accuracy: {_epochs(ours_nop)} vs {_epochs(nop_near_epochs)} "
        f"({_verdict(ours_nop, nop_near_epochs, 3)}; {interval('no pruning, strict')}).",
        "",
        "Two readings of the second target. As worded, a third of the epochs of no pruning: "
        "of the epochs no pruning took to reach its own final accuracy (column speed-up vs no "
        "pruning). Stricter: of the epochs no pruning took to come within 0.3 points of its "
        "final accuracy, the level hyperdial Hyperband must reach (last column).",
        "",
        "Optuna's HyperbandPruner assigns a trial's bracket from a hash of the study name "
        "(random for an unnamed study); each seed's Optuna study is named after the seed, so "
        "that Optuna's runs, like hyperdial's, repeat from one run of this benchmark to the "
        "next.",
        "",
        "The intervals say how much the speed-ups owe to which seeds ran: each of "
        f"{BOOTSTRAP_DRAWS:,} draws resamples every method's seeds with replacement and "
        "recomputes the curves, the reference levels and the epochs to them (speed-up 0 when "
        f"a level is not reached); the interval holds the middle {BOOTSTRAP_LEVEL:.0%} of the "
        "draws.",
        "",
        "Trials: mean per run; pruned: mean share of them. The plot "
        f"([{stem}.png]({stem}.png)) shows the mean curves with a shaded standard error band.",
    ]
    return "\n".join(lines) + "\n"


def _epochs(epochs: int | None) -> str:
    return "never" if epochs is None else str(epochs)


def _verdict(epochs: int | None, reference: int | None, factor: int) -> str:
    if epochs is None or reference is None:
        return "missed: level not reached"
    met = epochs * factor <= reference
    return f"{'met' if met else 'missed'}: {reference / epochs:.1f}x, target {factor}x"


def plot(runs: list[Run], budget: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = curves(runs, budget)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for method in METHODS:
        curve = table[method]
        line = ax.plot(curve.grid, 100 * curve.mean, label=method, linewidth=1.6)[0]
        ax.fill_between(
            curve.grid,
            100 * (curve.mean - curve.sem),
            100 * (curve.mean + curve.sem),
            color=line.get_color(),
            alpha=0.18,
            linewidth=0,
        )
    low = min(float(np.nanmin(c.mean)) for c in table.values())
    high = max(float(np.nanmax(c.mean)) for c in table.values())
    ax.set_ylim(max(100 * low - 0.5, 90.0), min(100 * high + 0.5, 100.0))
    ax.set_xlim(0, budget)
    ax.set_xlabel("epochs trained, all trials of the run")
    ax.set_ylabel("best validation accuracy so far (%)")
    n_seeds = len({r.seed for r in runs})
    ax.set_title(f"MLP on digits: mean of {n_seeds} seeds, shaded ± standard error")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budget, 2 seeds")
    parser.add_argument("--seeds", type=int, help="seeds per method (default 40; quick 2)")
    parser.add_argument("--budget", type=int, help="epochs per run (default 1080; quick 270)")
    parser.add_argument("--processes", type=int, default=2, help="runs at a time (default 2)")
    args = parser.parse_args()
    # 40 seeds: the same 10 seeds of the same code gave Hyperband 1.3x Optuna's speed on one
    # host and 0.9x on another (torch's rounding differs between CPUs), and two sets of 20
    # seeds on one host gave 1.5x and 1.6x, then 2.1x and 1.7x: 20 cannot settle it either.
    seeds = args.seeds or (2 if args.quick else 40)
    budget = args.budget or (10 if args.quick else 40) * MAX_EPOCHS
    stem = "pruning-quick" if args.quick else "pruning"
    # Finished runs are kept, so an interrupted benchmark resumes, and after a change to
    # hyperdial only hyperdial's runs are redone (``code_version``).
    raw_path = RESULTS / "raw" / f"{stem}.jsonl"
    stored = load_runs(raw_path, budget)
    tasks = [
        (method, seed, budget)
        for seed in range(seeds)
        for method in METHODS
        if (method, seed) not in stored
    ]
    runs = [r for (_, seed), r in stored.items() if seed < seeds]
    print(f"{len(tasks)} runs to do, {len(runs)} stored in {raw_path.name}.", flush=True)

    # The first optimizer a process builds imports torch._dynamo, which takes seconds: import it
    # once here, before the runs fork.
    import torch._dynamo  # noqa: F401

    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(args.processes) as pool:
        for done in pool.imap_unordered(run, tasks):
            runs.append(done)
            save_run(raw_path, done, budget)
            print(
                f"{len(runs):>3}/{seeds * len(METHODS)}  {done.method:<22} seed {done.seed}: "
                f"best {pct(done.best[-1])} after {done.epochs[-1]} epochs, "
                f"{done.n_trials} trials ({done.n_pruned} pruned), {done.seconds:.0f} s",
                flush=True,
            )

    RESULTS.mkdir(exist_ok=True)
    text = report(runs, budget, seeds, stem)
    (RESULTS / f"{stem}.md").write_text(text)
    plot(runs, budget, RESULTS / f"{stem}.png")
    print()
    print(text)
    print(f"Written to {RESULTS / stem}.md and .png")


if __name__ == "__main__":
    main()
