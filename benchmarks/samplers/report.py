"""Tables and figures from the raw results: whatever runs ``raw/`` holds, complete or not.

Per problem: mean and standard error over seeds of the best value after 25, 50 and 100
trials, the normalized score, and the tuner's own time per trial (ask + tell).

The normalized score is the NeurIPS 2020 black-box optimization challenge's:
``100 * (1 - (best - optimum) / (random_median - optimum))``, where ``optimum`` is the known
optimum (synthetic functions) or the best value any run of the report found, and
``random_median`` is the median over seeds of plain random search's best at that budget.
Random search thus scores about 0 and the optimum 100; scores are not clipped.

The summary averages the scores over problems, and ranks the samplers on each problem by
their mean best value (rank 1 is best, ties share the mean rank).
"""

from __future__ import annotations

import json
import math
import platform
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from benchmarks._code import machines_line
from benchmarks.samplers.problems import PROBLEMS
from benchmarks.samplers.runners import REFERENCE, SAMPLERS, code_version

BUDGETS = (25, 50, 100)
FULL_SEEDS = 10  # what the full benchmark runs; fewer is flagged as partial
TARGET_BUDGETS = (50, 100)


def load_records(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping a line cut short by an interrupted write."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted write
    return records


def current_records(path: Path) -> list[dict[str, Any]]:
    """Return the records made by the code now installed (see ``code_version``)."""
    return [
        r
        for r in load_records(path)
        if r.get("code") == code_version(r["sampler"], r.get("problem"))
    ]


def report_budgets(budget: int) -> list[int]:
    budgets = [b for b in BUDGETS if b <= budget]
    return budgets if budget in budgets else [*budgets, budget]


def _mean_se(x: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(x, dtype=float)
    if len(a) == 0:
        return math.nan, math.nan
    se = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else math.nan
    return float(a.mean()), se


@dataclass
class Results:
    """Best-so-far curves by problem and sampler (one row per seed), and the optima used."""

    budget: int
    budgets: list[int]
    curves: dict[str, dict[str, np.ndarray]]  # problem -> sampler -> (seeds, budget)
    overhead_ms: dict[str, dict[str, float]]  # mean ask + tell per trial, wall clock
    ask_cpu_ms: dict[str, dict[str, float]]  # mean ask per trial, CPU time
    optimum: dict[str, float]
    optimum_known: dict[str, bool]
    process_s: float
    machines: str = ""  # the report line naming the machines the runs were made on

    @property
    def problems(self) -> list[str]:
        return [p for p in PROBLEMS if p in self.curves]

    def samplers(self, problem: str | None = None) -> list[str]:
        present = (
            {s for p in self.curves.values() for s in p}
            if problem is None
            else set(self.curves[problem])
        )
        return [s for s in SAMPLERS if s in present]

    def best_at(self, problem: str, sampler: str, b: int) -> np.ndarray:
        return self.curves[problem][sampler][:, b - 1]

    def scores(self, problem: str, sampler: str, b: int) -> np.ndarray | None:
        """Per-seed normalized scores; None without random-search runs to scale by, or when
        random search's median already reached the optimum (the score is then undefined)."""
        reference = self.curves[problem].get(REFERENCE)
        if reference is None:
            return None
        opt = self.optimum[problem]
        scale = float(np.median(reference[:, b - 1])) - opt
        if scale <= 1e-12 * max(1.0, abs(opt)):
            return None
        return 100.0 * (1.0 - (self.best_at(problem, sampler, b) - opt) / scale)

    def problem_scores(self, sampler: str, b: int) -> list[np.ndarray]:
        """Per-seed scores on each problem that has them (see :meth:`scores`)."""
        found = []
        for problem in self.problems:
            if sampler in self.curves[problem]:
                s = self.scores(problem, sampler, b)
                if s is not None:
                    found.append(s)
        return found

    def mean_score(self, sampler: str, b: int) -> float:
        per_problem = [float(s.mean()) for s in self.problem_scores(sampler, b)]
        return float(np.mean(per_problem)) if per_problem else math.nan

    def mean_score_se(self, sampler: str, b: int) -> float:
        """Standard error of :meth:`mean_score`: the problems' standard errors combined.

        Each problem's mean score over seeds has its own standard error; the mean over ``k``
        problems has ``sqrt(sum se_p ** 2) / k``, the problems being independent.
        """
        variances = [_mean_se(s)[1] ** 2 for s in self.problem_scores(sampler, b)]
        return math.sqrt(sum(variances)) / len(variances) if variances else math.nan

    def mean_rank(self, sampler: str, b: int) -> float:
        from scipy.stats import rankdata

        ranks = []
        for problem in self.problems:
            names = self.samplers(problem)
            if sampler not in names:
                continue
            means = [float(self.best_at(problem, s, b).mean()) for s in names]
            ranks.append(float(rankdata(means)[names.index(sampler)]))
        return float(np.mean(ranks)) if ranks else math.nan


def load_results(
    raw_path: Path,
    budget: int,
    problems: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> Results:
    curves: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    overhead: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ask_cpu: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seen: set[tuple[str, str, int]] = set()
    process_s = 0.0
    used: list[dict[str, Any]] = []
    for r in current_records(raw_path):
        key = (r["problem"], r["sampler"], r["seed"])
        if r["budget"] != budget or key in seen or r["problem"] not in PROBLEMS:
            continue
        if problems is not None and r["problem"] not in problems:
            continue
        if seeds is not None and r["seed"] not in seeds:
            continue
        seen.add(key)
        used.append(r)
        curves[r["problem"]][r["sampler"]].append(np.minimum.accumulate(r["values"]))
        overhead[r["problem"]][r["sampler"]].append(
            1000 * (sum(r["ask_s"]) + sum(r["tell_s"])) / len(r["values"])
        )
        ask_cpu[r["problem"]][r["sampler"]].append(1000 * r["ask_cpu_s"] / len(r["values"]))
        process_s += r["wall_s"]
    optimum, known = {}, {}
    stacked: dict[str, dict[str, np.ndarray]] = {}
    for problem, by_sampler in curves.items():
        stacked[problem] = {s: np.vstack(rows) for s, rows in by_sampler.items()}
        given = PROBLEMS[problem].optimum
        seen_best = min(float(c.min()) for c in stacked[problem].values())
        known[problem] = given is not None
        optimum[problem] = min(given, seen_best) if given is not None else seen_best
    return Results(
        budget=budget,
        budgets=report_budgets(budget),
        curves=stacked,
        overhead_ms={p: {s: float(np.mean(v)) for s, v in d.items()} for p, d in overhead.items()},
        ask_cpu_ms={p: {s: float(np.mean(v)) for s, v in d.items()} for p, d in ask_cpu.items()},
        optimum=optimum,
        optimum_known=known,
        process_s=process_s,
        machines=machines_line(used),
    )


# -- ask time -----------------------------------------------------------------------------------


AskTimes = dict[tuple[str, int, str], dict[str, Any]]  # (sampler, history, space) -> record


def load_asktime(path: Path) -> AskTimes:
    """Return, for each case, the round with the lowest median CPU time (see asktime.ROUNDS).

    As ``timeit`` advises: rounds slower than the fastest measure what else the machine was
    doing, not the code; every sampler gets the same rounds and the same rule.
    """
    best: AskTimes = {}
    for r in current_records(path):
        key = (r["sampler"], r["n_history"], r["space"])
        if key not in best or np.median(r["ask_cpu_s"]) < np.median(best[key]["ask_cpu_s"]):
            best[key] = r
    return best


def asktime_table(asktime: AskTimes, space: str) -> list[str]:
    records = {k: r for k, r in asktime.items() if k[2] == space}
    if not records:
        return [f"No ask-time measurements on the {space} space yet."]
    families: dict[str, list[str]] = defaultdict(list)
    sizes = sorted({n for _, n, _ in records})
    for (sampler, _, _), record in records.items():
        if sampler not in families[record["family"]]:
            families[record["family"]].append(sampler)
    lines = [
        "| family | sampler | " + " | ".join(f"{n:,} trials" for n in sizes) + " |",
        "|---|---|" + "---:|" * len(sizes),
    ]
    for family, samplers in families.items():
        for sampler in samplers:
            cells = []
            for n in sizes:
                r = records.get((sampler, n, space))
                cells.append(
                    f"{_ask_ms(asktime, sampler, n, space):.1f} "
                    f"({_ask_ms(asktime, sampler, n, space, 'wall'):.0f})"
                    if r
                    else ""
                )
            lines.append(f"| {family} | {sampler} | " + " | ".join(cells) + " |")
    return lines


def _ask_ms(asktime: AskTimes, sampler: str, n: int, space: str, clock: str = "cpu") -> float:
    """Median ms of one ask: CPU time of the asking process (default), or wall-clock time.

    CPU time is the primary figure: on a shared machine the wall clock also counts the time
    spent waiting for a core, which grows with the length of the call, not with its cost.
    """
    r = asktime.get((sampler, n, space))
    if r is None:
        return math.nan
    return 1000 * float(np.median(r["ask_cpu_s" if clock == "cpu" else "ask_s"]))


# -- Markdown ---------------------------------------------------------------------------------


def _fmt(mean: float, se: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return ""
    if math.isnan(se):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {se:.2g}"


def _fmt_score(mean: float, se: float) -> str:
    mean = round(mean, 1) + 0.0  # no "-0.0"
    return f"{mean:.1f}" if math.isnan(se) else f"{mean:.1f} ± {se:.1f}"


def problem_table(res: Results, problem: str) -> list[str]:
    budgets = res.budgets
    header = (
        "| sampler | seeds | "
        + " | ".join(f"best @{b}" for b in budgets)
        + " | "
        + " | ".join(f"score @{b}" for b in budgets)
        + " | ask CPU ms/trial | ask+tell wall ms/trial |"
    )
    lines = [header, "|---|---:|" + "---:|" * (2 * len(budgets) + 2)]
    for sampler in res.samplers(problem):
        n_seeds = res.curves[problem][sampler].shape[0]
        bests = [_fmt(*_mean_se(res.best_at(problem, sampler, b))) for b in budgets]
        scores = []
        for b in budgets:
            s = res.scores(problem, sampler, b)
            scores.append("n/a" if s is None else _fmt_score(*_mean_se(s)))
        lines.append(
            f"| {sampler} | {n_seeds} | "
            + " | ".join(bests)
            + " | "
            + " | ".join(scores)
            + f" | {res.ask_cpu_ms[problem][sampler]:.1f}"
            + f" | {res.overhead_ms[problem][sampler]:.1f} |"
        )
    return lines


def identical_runs(res: Results, problem: str) -> list[str]:
    """Groups of samplers whose best-so-far curves coincide in every seed (one hides the
    other in the figure)."""
    groups: list[list[str]] = []
    for sampler in res.samplers(problem):
        curve = res.curves[problem][sampler]
        for group in groups:
            other = res.curves[problem][group[0]]
            if other.shape == curve.shape and np.array_equal(other, curve):
                group.append(sampler)
                break
        else:
            groups.append([sampler])
    return [" = ".join(g) for g in groups if len(g) > 1]


def summary_table(res: Results) -> list[str]:
    budgets = res.budgets
    lines = [
        "| sampler | "
        + " | ".join(f"score @{b}" for b in budgets)
        + " | "
        + " | ".join(f"rank @{b}" for b in budgets)
        + " |",
        "|---|" + "---:|" * (2 * len(budgets)),
    ]
    for sampler in res.samplers():
        scores = [f"{round(res.mean_score(sampler, b), 1) + 0.0:.1f}" for b in budgets]
        ranks = [f"{res.mean_rank(sampler, b):.2f}" for b in budgets]
        lines.append(f"| {sampler} | " + " | ".join(scores) + " | " + " | ".join(ranks) + " |")
    return lines


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _versus(res: Results, ours: str, theirs: str, b: int) -> str:
    """Two mean scores and their difference with its standard error.

    The runs of two samplers share seed numbers but nothing else, so the difference's
    standard error combines the two means' (see :meth:`Results.mean_score_se`).
    """
    mine, other = res.mean_score(ours, b), res.mean_score(theirs, b)
    se = math.hypot(res.mean_score_se(ours, b), res.mean_score_se(theirs, b))
    return f"{mine:.1f} vs {other:.1f}, difference {mine - other:+.1f} ± {se:.1f}"


def targets(res: Results, asktime: AskTimes) -> list[str]:
    """The three targets, each with the figures it is judged on."""
    # Judged at 50 and 100 trials; a shorter run (--quick) is judged at its own budget.
    budgets = [b for b in TARGET_BUDGETS if b in res.budgets] or [res.budget]
    names = res.samplers()
    lines = []

    def have(*samplers: str) -> bool:
        return bool(budgets) and all(s in names for s in samplers)

    # (a) auto has the highest mean normalized score at 50 and 100.
    if have("hyperdial-auto"):
        details, ok = [], True
        for b in budgets:
            auto = res.mean_score("hyperdial-auto", b)
            best_other = max(
                (s for s in names if s != "hyperdial-auto"), key=lambda s: res.mean_score(s, b)
            )
            ok &= auto >= res.mean_score(best_other, b)  # a tie for the top counts
            details.append(
                f"@{b}: auto {auto:.1f}, best other {best_other} "
                f"{res.mean_score(best_other, b):.1f}"
            )
        lines.append(
            "* (a) hyperdial-auto has the highest mean normalized score at "
            f"{' and '.join(map(str, budgets))} trials: {_verdict(ok)} ({'; '.join(details)})."
        )
    else:
        lines.append("* (a) auto highest score: not measured.")

    def pair(label: str, ours: str, theirs: str, n_ask: int, factor: int) -> None:
        if not have(ours, theirs):
            lines.append(f"* {label}: not measured.")
            return
        score_ok = all(res.mean_score(ours, b) >= res.mean_score(theirs, b) for b in budgets)
        scores = "; ".join(f"@{b}: {_versus(res, ours, theirs, b)}" for b in res.budgets)
        checks, figures = [], []
        for space in ("mixed", "continuous"):
            ours_ms = _ask_ms(asktime, ours, n_ask, space)
            theirs_ms = _ask_ms(asktime, theirs, n_ask, space)
            if math.isnan(ours_ms + theirs_ms):
                continue
            checks.append(ours_ms <= theirs_ms / factor)
            figures.append(
                f"{space} space {ours_ms:.1f} ms vs {theirs_ms:.1f} ms, 1/{theirs_ms / ours_ms:.1f}"
            )
        time_ok = all(checks) if checks else None
        detail = f" ({'; '.join(figures)})" if figures else ""
        lines.append(
            f"* {label}, score >= at {' and '.join(map(str, budgets))} trials: "
            f"{_verdict(score_ok)} ({scores}); ask time at {n_ask:,} trials <= 1/{factor} "
            f"of Optuna's: {_verdict(time_ok)}{detail}."
        )

    pair("(b) hyperdial-tpe vs optuna-tpe", "hyperdial-tpe", "optuna-tpe", 1000, 5)
    pair("(c) hyperdial-gp vs optuna-gp", "hyperdial-gp", "optuna-gp", 100, 3)
    return lines


def _versions() -> str:
    import importlib.metadata as md

    parts = [f"Python {platform.python_version()}"]
    for name in ("hyperdial", "optuna", "hyperopt", "scikit-learn", "numpy", "scipy", "torch"):
        try:
            parts.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            continue
    return ", ".join(parts)


def markdown(
    res: Results, asktime: AskTimes, figure: str, asktime_md: str, elapsed_s: float
) -> str:
    n_seeds = max((c.shape[0] for p in res.curves.values() for c in p.values()), default=0)
    complete = all(c.shape[0] == n_seeds for p in res.curves.values() for c in p.values()) and all(
        len(p) == len(res.samplers()) for p in res.curves.values()
    )
    out = [
        "# Sampler benchmark",
        "",
        "Generated by `python -m benchmarks.samplers.run` (see `benchmarks/samplers/`); do not "
        "edit by hand. Every tuner gets the same problems, budget, seeds and ask/tell harness; "
        "the objective is timed apart from the tuner. Lower values are better.",
        "",
        f"* {_versions()}.",
        f"* {res.machines}",
        f"* {len(res.problems)} problems, {len(res.samplers())} samplers, "
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''} (from 0), {res.budget} trials per run"
        + (
            "."
            if complete
            else "; **partial results**: some runs are missing (see the seeds column of "
            "each problem)."
        ),
        *(
            [
                f"* **Partial**: {n_seeds} of the {FULL_SEEDS} seeds of the full benchmark. "
                "Running `python -m benchmarks.samplers.run --jobs 2` again resumes from "
                "`raw/`; standard errors from so few seeds are rough."
            ]
            if n_seeds < FULL_SEEDS and res.budget >= max(BUDGETS)
            else []
        ),
        f"* Run time: {res.process_s / 60:.0f} process-minutes over all runs"
        + (f"; {elapsed_s / 60:.0f} minutes of wall clock." if elapsed_s else "."),
        "* Score: `100 * (1 - (best - optimum) / (random_median - optimum))` (NeurIPS 2020 "
        "black-box optimization challenge), `random_median` the median over seeds of plain "
        "random search's best at the same budget, `optimum` the known optimum or the best value "
        "any run found (marked *seen*). Random search scores about 0, the optimum 100; "
        "scores are not clipped, so one bad run can weigh heavily. Where random search's "
        "median already reached the optimum the score is undefined and left out of the "
        "means. Mean ± standard error over seeds.",
        "* Rank: samplers ordered on each problem by mean best value (1 = best), averaged over "
        "problems.",
        "",
        "## Summary",
        "",
        *summary_table(res),
        "",
        "### Targets",
        "",
        *targets(res, asktime),
        "",
        "Scores must be at least Optuna's at each budget named; each difference comes with "
        "its standard error (the problems' standard errors over seeds, combined), which "
        "says how far noise alone could move it. Ask times are median CPU "
        "times of one ask on a study holding that many trials, on the mixed and the "
        f"continuous space (both must pass); see `{asktime_md}`.",
        "",
        f"![Convergence curves]({figure})",
        "",
        "## Problems",
        "",
    ]
    for problem in res.problems:
        p = PROBLEMS[problem]
        opt = res.optimum[problem]
        source = "known" if res.optimum_known[problem] else "seen"
        out += [
            f"### {problem}",
            "",
            f"{p.description}. Optimum used for the score: {opt:.6g} ({source}).",
            "",
            *problem_table(res, problem),
            "",
        ]
        same = identical_runs(res, problem)
        if same:
            out += [
                "Identical best-so-far curves in every seed (the figure shows one): "
                f"{'; '.join(same)}.",
                "",
            ]
    out += ["## Ask time against history size (median CPU ms per ask, wall ms in parentheses)", ""]
    for space in ("mixed", "continuous"):
        out += [f"{space.capitalize()} space:", "", *asktime_table(asktime, space), ""]
    return "\n".join(out) + "\n"


def asktime_markdown(asktime: AskTimes) -> str:
    from benchmarks.samplers.asktime import ROUNDS, SPACES

    rows = []
    pairs = [
        ("hyperdial-tpe", "optuna-tpe"),
        ("hyperdial-tpe", "hyperopt-tpe"),
        ("hyperdial-random", "optuna-random"),
        ("hyperdial-gp", "optuna-gp"),
    ]
    for space in SPACES:
        for ours, theirs in pairs:
            for n in sorted({n for s, n, sp in asktime if s == ours and sp == space}):
                a, b = _ask_ms(asktime, ours, n, space), _ask_ms(asktime, theirs, n, space)
                if not math.isnan(a + b):
                    rows.append(f"| {space} | {ours} vs {theirs} | {n:,} | {b / a:.1f}x |")
    asks = sorted({r["asks"] for r in asktime.values()})
    out = [
        "# Sampler ask time against history size",
        "",
        "Generated by `python -m benchmarks.samplers.run` (see "
        "`benchmarks/samplers/asktime.py`); do not edit by hand.",
        "",
        f"* {_versions()}.",
        f"* {machines_line(asktime.values())}",
        "* For each size, a study is given that many completed trials at random points with a "
        "synthetic value, added directly (no objective runs); then "
        f"{' or '.join(map(str, asks))} trials are asked (parameters suggested) and told, one "
        f"at a time; every case is measured in {ROUNDS} rounds, each round going through all "
        "the cases, and the round with the lowest median counts (slower rounds measure the "
        "machine's other load). The tables give the median CPU time of one ask in "
        "milliseconds, and in parentheses its median wall-clock time. CPU time is the figure "
        "compared: the machine "
        "was shared, and the wall clock also counts waiting for a core, which penalizes long "
        "calls more than short ones. The first ask after the history was added (cache "
        "building) is among the samples but, being one of 20, hardly moves the median. "
        "Hyperopt's times are its `suggest` call alone. BLAS and torch use one thread. "
        "In-memory storages throughout.",
        f"* Spaces: mixed = the `{SPACES['mixed']}` problem's (an integer on a log scale, two "
        "log-scale floats, two categoricals); continuous = the "
        f"`{SPACES['continuous']}` problem's (six floats).",
        "* The GP is measured up to 300 trials; hyperdial-auto runs its GP up to 200 trials "
        "and TPE beyond.",
        "",
    ]
    for space in SPACES:
        out += [f"## {space.capitalize()} space", "", *asktime_table(asktime, space), ""]
    out += [
        "## Speed-up of hyperdial (their median CPU time / hyperdial's)",
        "",
        "| space | comparison | trials | speed-up |",
        "|---|---|---:|---:|",
        *rows,
    ]
    return "\n".join(out) + "\n"


# -- figure ------------------------------------------------------------------------------------


def plot(res: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = res.problems
    ncols = min(4, max(1, len(problems)))
    nrows = math.ceil(len(problems) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    colors = {s: plt.get_cmap("tab10")(i) for i, s in enumerate(SAMPLERS)}
    for ax, problem in zip(axes.flat, problems, strict=False):
        # Known optimum: the gap to it, on a log scale when it spans decades. Otherwise the
        # loss itself, cut at the mean after 10 trials so that the end of the curves shows.
        opt, gap = res.optimum[problem], res.optimum_known[problem]
        trials = np.arange(1, res.budget + 1)
        means = []
        for sampler in res.samplers(problem):
            c = res.curves[problem][sampler]
            y = c - opt if gap else c
            mean = y.mean(axis=0)
            se = y.std(axis=0, ddof=1) / math.sqrt(len(y)) if len(y) > 1 else 0 * mean
            style = "-" if sampler.startswith("hyperdial") else "--"
            ax.plot(trials, mean, style, color=colors[sampler], label=sampler, linewidth=1.4)
            ax.fill_between(trials, mean - se, mean + se, color=colors[sampler], alpha=0.15)
            means.append(mean)
        low = min(float(m.min()) for m in means)
        early = max(float(m[min(9, len(m) - 1)]) for m in means)
        title = f"{problem}: {PROBLEMS[problem].description.split(',')[0]}"
        ax.set_title(title if len(title) <= 48 else title[:47] + "…", fontsize=9)
        ax.set_xlabel("trials", fontsize=8)
        if gap:
            ax.set_ylabel("best value - optimum", fontsize=8)
            if low > 0 and early / low > 10:
                ax.set_yscale("log")
                ax.set_ylim(low / 2, early * 2)
            else:
                ax.set_ylim(max(0.0, low - 0.05 * (early - low)), early + 0.02 * (early - low))
        else:
            ax.set_ylabel("best value (loss)", fontsize=8)
            ax.set_ylim(opt - 0.05 * (early - opt), early)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    per_row = max(1, min(len(labels), int(4.2 * ncols / 1.9)))
    fig.legend(handles, labels, loc="lower center", ncol=per_row, fontsize=8)
    fig.suptitle("Best value so far: mean ± standard error over seeds", fontsize=11)
    legend_rows = math.ceil(len(labels) / per_row)
    fig.tight_layout(rect=(0, (0.22 * legend_rows + 0.1) / (3.4 * nrows), 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    raw_path: Path,
    asktime_path: Path,
    out: Path,
    *,
    stem: str,
    budget: int,
    problems: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    elapsed_s: float = 0.0,
) -> list[Path]:
    """Write ``<stem>.md``, ``<stem>.png`` and ``<stem>-asktime.md`` into ``out``."""
    res = load_results(raw_path, budget, problems, seeds)
    asktime = load_asktime(asktime_path)
    written = []
    if res.curves:
        figure = out / f"{stem}.png"
        plot(res, figure)
        md = out / f"{stem}.md"
        md.write_text(markdown(res, asktime, figure.name, f"{stem}-asktime.md", elapsed_s))
        written += [figure, md]
    if asktime:
        md = out / f"{stem}-asktime.md"
        md.write_text(asktime_markdown(asktime))
        written.append(md)
    return written
