"""Sampler benchmark: hyperdial against Optuna, Hyperopt and random search, side by side.

Every tuner gets the same problems, budgets and seeds through one ask/tell harness
(:mod:`benchmarks.samplers.runners`); the time a tuner spends in ``ask`` and ``tell`` is
measured apart from the objective. A second measurement times ``ask`` against the size of
the history (:mod:`benchmarks.samplers.asktime`). :mod:`benchmarks.samplers.report` turns
the raw results into Markdown tables and a figure of convergence curves.

Each finished (problem, sampler, seed) run is appended to a JSON-lines file under
``<out>/raw/`` as soon as it ends: an interrupted run resumes where it stopped, and the
report can be rebuilt from whatever is there (``--report-only``). Each record names the code
that made it (:func:`benchmarks.samplers.runners.code_version`); records of other code are
run again and left out of the report. ``results/raw/samplers.jsonl`` is kept in the
repository, so that after a change to hyperdial only hyperdial's samplers need running
again: the competitors' records stay valid until their version or their problem's code changes.

Usage, from the repository root:
    python -m benchmarks.samplers.run --jobs 2          # full run, writes results/samplers*.md
    python -m benchmarks.samplers.run --quick           # 2 seeds, 30 trials, synthetic problems
    python -m benchmarks.samplers.run --report-only     # rebuild the report from raw/
    python -m benchmarks.samplers.run --problems branin,svc --samplers hyperdial-tpe,random
"""

from __future__ import annotations

import os

# Set before NumPy, SciPy and torch load: two processes share two cores, so each BLAS and
# OpenMP pool gets one thread (otherwise they oversubscribe the cores and time the contention).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.samplers import asktime, report  # noqa: E402
from benchmarks.samplers.problems import PROBLEMS, SYNTHETIC  # noqa: E402
from benchmarks.samplers.runners import SAMPLERS, run_job  # noqa: E402

RESULTS = Path(__file__).resolve().parent.parent / "results"
# The GP-based samplers are the slow jobs: start them first so the pool ends together.
_SLOW_FIRST = {"optuna-gp": 0, "hyperdial-gp": 1, "hyperdial-auto": 2}

Key = tuple[str, str, int, int]


def _key(record: dict[str, Any]) -> Key:
    return (record["problem"], record["sampler"], int(record["seed"]), int(record["budget"]))


def append_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()


def _split(text: str | None, known: list[str], what: str) -> list[str]:
    if not text:
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"Unknown {what}: {', '.join(unknown)}. Choose from {', '.join(known)}.")
    return names


def _run(args: tuple[str, str, int, int]) -> dict[str, Any]:
    return run_job(*args)


def run_benchmark(
    problems: list[str],
    samplers: list[str],
    seeds: list[int],
    budget: int,
    jobs: int,
    raw_path: Path,
) -> int:
    """Run the missing (problem, sampler, seed) jobs; return how many ran."""
    done = {_key(r) for r in report.current_records(raw_path)}
    todo = [
        (problem, sampler, seed, budget)
        for seed in seeds
        for problem in problems
        for sampler in sorted(samplers, key=lambda s: _SLOW_FIRST.get(s, 9))
        if (problem, sampler, seed, budget) not in done
    ]
    skipped = len(problems) * len(samplers) * len(seeds) - len(todo)
    print(f"{len(todo)} runs to do ({skipped} already in {raw_path.name}), {jobs} process(es).")
    start = time.perf_counter()

    def progress(i: int, record: dict[str, Any]) -> None:
        ask_ms = 1000 * sum(record["ask_s"]) / len(record["ask_s"])
        print(
            f"[{i}/{len(todo)} {time.perf_counter() - start:6.0f}s] {record['problem']:12s} "
            f"{record['sampler']:16s} seed {record['seed']:2d}: best {min(record['values']):.5g}"
            f", ask {ask_ms:6.1f} ms, run {record['wall_s']:5.1f} s",
            flush=True,
        )

    if jobs <= 1:
        for i, job in enumerate(todo, 1):
            record = _run(job)
            append_record(raw_path, record)
            progress(i, record)
        return len(todo)
    # fork: the workers inherit the thread limits and the imported modules.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_run, job) for job in todo]
        for i, future in enumerate(as_completed(futures), 1):
            record = future.result()
            append_record(raw_path, record)
            progress(i, record)
    return len(todo)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", help=f"comma-separated, from: {', '.join(PROBLEMS)}")
    parser.add_argument("--samplers", help=f"comma-separated, from: {', '.join(SAMPLERS)}")
    # 20 seeds: at 10, one problem's score still has a standard error of up to 12 points.
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--budget", type=int, default=100, help="trials per run (default 100)")
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds, 30 trials, synthetic problems only"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--report-only", action="store_true", help="only rebuild the report from raw/"
    )
    parser.add_argument("--no-asktime", action="store_true", help="skip the ask-time benchmark")
    parser.add_argument(
        "--asktime-only", action="store_true", help="only the ask-time benchmark and report"
    )
    args = parser.parse_args(argv)

    if args.quick:
        args.seeds, args.budget = 2, 30
        args.problems = args.problems or ",".join(SYNTHETIC)
    problems = _split(args.problems, list(PROBLEMS), "problems")
    samplers = _split(args.samplers, SAMPLERS, "samplers")
    stem = "samplers-quick" if args.quick else "samplers"
    raw_dir = args.out / "raw"
    raw_path = raw_dir / f"{stem}.jsonl"
    asktime_path = raw_dir / f"{stem}-asktime.jsonl"
    sessions_path = raw_dir / f"{stem}-sessions.jsonl"
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores; results in {args.out}",
        flush=True,
    )

    started = time.perf_counter()
    if not (args.report_only or args.asktime_only):
        n_runs = run_benchmark(
            problems, samplers, list(range(args.seeds)), args.budget, args.jobs, raw_path
        )
        elapsed = time.perf_counter() - started
        if n_runs:
            append_record(sessions_path, {"elapsed_s": elapsed, "runs": n_runs, "jobs": args.jobs})
        print(f"Convergence runs: {elapsed:.0f} s", flush=True)
    if not (args.report_only or args.no_asktime):
        t0 = time.perf_counter()
        asktime.run(asktime_path, quick=args.quick)
        print(f"Ask-time runs: {time.perf_counter() - t0:.0f} s", flush=True)

    written = report.write_report(
        raw_path,
        asktime_path,
        args.out,
        stem=stem,
        budget=args.budget,
        problems=problems,
        seeds=range(args.seeds),
        elapsed_s=sum(r["elapsed_s"] for r in report.load_records(sessions_path)),
    )
    for path in written:
        print(f"Wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
