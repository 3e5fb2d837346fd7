"""Parallel throughput: hyperdial against Optuna 5 on the same databases, in the same run.

Four measurements; the first three use a trivial objective (one float) and the random
sampler, so that what is timed is the tuner, its storage and its parallel machinery:

1. Processes: 1, 2, 4, 8, 16 and 32 independent processes share one study on SQLite and on
   PostgreSQL. Each opens the storage by URL, loads the study and waits at a barrier; then
   all run ``optimize(n_trials=per_proc)`` together. Both libraries get this same harness
   (:func:`benchmarks.storage.run_workers`); hyperdial keeps its default lease settings.
2. hyperdial's ``optimize(n_jobs=n)``: one call, n worker processes, the parent renewing
   their leases. Optuna's ``n_jobs`` runs threads, so its figure from (1) is shown beside.
3. Dask: a ``distributed.LocalCluster`` of k single-threaded worker processes. hyperdial runs
   ``optimize(executor=client)`` (one task per trial); Optuna runs ``study.optimize`` in k
   Dask tasks against the same kind of database, the way Optuna 5 distributes over a shared
   RDB storage (its ``DaskStorage`` moved to the separate optuna-integration package).
4. The cost of ``reproducible=True``: an objective whose duration varies by +-50% around
   50 ms (drawn from its parameters, so each trial takes the same time in every run), a
   seeded TPE sampler, ``n_jobs=4``, SQLite; median wall time of normal and reproducible runs,
   and whether the reproducible runs gave identical trials.

Throughput is COMPLETE trials per second of wall time. Lost trials are those that did not end
COMPLETE plus those missing against the number asked for; the report lists them by state.

Usage, from the repository root:
    python -m benchmarks.throughput                  # full run, writes results/throughput.md
    python -m benchmarks.throughput --quick          # smoke test, writes throughput-quick.md
    python -m benchmarks.throughput --kinds sqlite --sections processes,njobs --procs 8,32
"""

from __future__ import annotations

import os

# Set before NumPy loads: many processes share few cores, so each BLAS pool gets one thread
# (otherwise TPE's linear algebra oversubscribes the cores and the contention is timed).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import storage as bench  # noqa: E402
from benchmarks.storage import (  # noqa: E402
    POSTGRES,
    RESULTS,
    Backend,
    _quiet,
    _table,
    _timed,
    create,
    hyperdial_objective,
    make_backend,
    run_workers,
)

import hyperdial  # noqa: E402

# `optimize` imports its loop (and the progress bar's library) on first use. The processes of
# sections 1 and 2 are forked from this one, so import it here, before the clock starts, as
# `import optuna` already did for Optuna: what is timed is trials, not imports.
import hyperdial._optimize  # noqa: E402

KINDS = ("sqlite", "postgresql")
LIBRARIES = ("hyperdial", "optuna")
SECTIONS = ("processes", "njobs", "dask", "reproducible")
TARGET_RATIO = 10.0  # hyperdial / Optuna trials per second, at 8 and 32 processes
TARGET_PROCS = (8, 32)
TARGET_REPRO = 1.2  # reproducible wall time / normal wall time
MEAN_S = 0.05  # mean duration of the varying objective


# -- counting ------------------------------------------------------------------------------


@dataclass
class Run:
    """One measurement: a number of trials asked for, run in `elapsed` seconds."""

    elapsed: float
    complete: int
    lost: int
    detail: str  # what the lost trials were, e.g. "2 FAIL, 1 missing"

    @property
    def rate(self) -> float:
        return self.complete / self.elapsed if self.elapsed > 0 else 0.0

    def lost_cell(self) -> str:
        return f"{self.lost} ({self.detail})" if self.lost else "0"


def _dispose(storage: Any) -> None:
    # Close pooled connections now: a full run opens a hundred storages, and PostgreSQL's
    # connection limit is shared with the worker processes being measured.
    storage = getattr(storage, "_backend", storage)  # Optuna wraps RDBStorage in a cache
    storage.remove_session()
    engine = getattr(storage, "engine", None)  # Optuna's RDBStorage
    if engine is not None:
        engine.dispose()


def _storage_of(study: Any) -> Any:
    return study.storage if isinstance(study, hyperdial.Study) else study._storage


def _tally(backend: Backend, name: str, expected: int, elapsed: float) -> Run:
    storage = backend.open()
    trials: list[Any]
    try:
        if backend.library == "hyperdial":
            trials = hyperdial.load_study(study_name=name, storage=storage).trials
        else:
            import optuna

            trials = optuna.load_study(study_name=name, storage=storage).trials
    finally:
        _dispose(storage)
    states = Counter(t.state.name for t in trials)
    complete = states.pop("COMPLETE", 0)
    missing = max(0, expected - len(trials))
    parts = [f"{count} {state}" for state, count in sorted(states.items())]
    if missing:
        parts.append(f"{missing} missing")
    return Run(elapsed, complete, sum(states.values()) + missing, ", ".join(parts))


def _new_study(backend: Backend, prefix: str) -> tuple[str, Any]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return name, create(backend, name)


def _measure(label: str, fn: Callable[[], Run]) -> Run | str:
    """Run one measurement; an error is a result to report (as text), not a crash."""
    try:
        run: Run = _timed(label, fn)
    except Exception as error:
        text = f"error: {type(error).__name__}: {error}".splitlines()[0][:200]
        print(f"    {text}", flush=True)
        return text
    lost = f", lost {run.lost} ({run.detail})" if run.lost else ", 0 lost"
    print(f"    {run.rate:.1f} trials/s, {run.complete} complete{lost}", flush=True)
    return run


def _rate(result: Run | str | None) -> str:
    if result is None:
        return "-"
    return result if isinstance(result, str) else f"{result.rate:.1f}"


def _ratio(a: Run | str | None, b: Run | str | None) -> float | None:
    if isinstance(a, Run) and isinstance(b, Run) and b.rate > 0:
        return a.rate / b.rate
    return None


# -- 1. independent processes ------------------------------------------------------------------


def processes(backend: Backend, n_procs: int, per_proc: int) -> Run:
    name, study = _new_study(backend, "procs")
    # The workers open their own storage; the parent's connections would only idle.
    _dispose(_storage_of(study))
    elapsed = run_workers(backend, name, n_procs, per_proc)
    return _tally(backend, name, n_procs * per_proc, elapsed)


# -- 2. hyperdial's optimize(n_jobs=n) ------------------------------------------------------


def njobs(backend: Backend, n_jobs: int, per_proc: int) -> Run:
    name, study = _new_study(backend, "njobs")
    try:
        # Timed from the call: starting the worker processes is part of what n_jobs costs.
        start = time.perf_counter()
        study.optimize(
            hyperdial_objective,
            n_trials=n_jobs * per_proc,
            n_jobs=n_jobs,
            show_progress_bar=False,
        )
        elapsed = time.perf_counter() - start
    finally:
        _dispose(study.storage)
    return _tally(backend, name, n_jobs * per_proc, elapsed)


# -- 3. Dask -------------------------------------------------------------------------------


def _warm() -> None:
    """Import both libraries on a Dask worker before timing, as the processes of (1) do."""
    import optuna  # noqa: F401
    import sqlalchemy  # noqa: F401

    import hyperdial.integrations.dask  # noqa: F401

    _quiet()


def _optuna_task(backend: Backend, name: str, n_trials: int) -> None:
    import optuna

    _quiet()
    storage = backend.open()
    try:
        study = optuna.load_study(
            study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler()
        )
        study.optimize(hyperdial_objective, n_trials=n_trials)
    finally:
        _dispose(storage)


def dask_run(client: Any, backend: Backend, n_workers: int, per_proc: int) -> Run:
    import distributed

    name, study = _new_study(backend, "dask")
    total = n_workers * per_proc
    try:
        start = time.perf_counter()
        if backend.library == "hyperdial":
            study.optimize(
                hyperdial_objective, n_trials=total, executor=client, show_progress_bar=False
            )
        else:
            futures = [
                client.submit(_optuna_task, backend, name, per_proc, pure=False)
                for _ in range(n_workers)
            ]
            distributed.wait(futures)
            for future in futures:
                if future.status == "error":  # its trials are counted as lost below
                    print(f"    optuna task failed: {future.exception()!r:.160}", flush=True)
        elapsed = time.perf_counter() - start
    finally:
        _dispose(_storage_of(study))
    return _tally(backend, name, total, elapsed)


# -- 4. reproducible mode ------------------------------------------------------------------


def varying_objective(trial: Any) -> float:
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_float("y", -10, 10)
    # The duration comes from the parameters, not from a clock or a global RNG: a trial
    # takes the same time in every run, and durations still differ from trial to trial,
    # which is what makes reproducible workers wait for each other.
    digest = hashlib.blake2b(f"{x!r},{y!r}".encode(), digest_size=8).digest()
    time.sleep(MEAN_S * (0.5 + int.from_bytes(digest, "big") / 2**64))
    return float((x - 2) ** 2 + (y + 1) ** 2)


def reproducible_run(
    backend: Backend, n_trials: int, n_jobs: int, mode: bool | int
) -> tuple[float, list[tuple[Any, ...]]]:
    """Return the wall time and the trials (number, state, params, value) of one run."""
    from hyperdial.samplers import TPESampler

    storage = backend.open()
    try:
        study = hyperdial.create_study(
            study_name=f"repro-{uuid.uuid4().hex[:8]}", storage=storage, sampler=TPESampler(seed=0)
        )
        start = time.perf_counter()
        study.optimize(
            varying_objective,
            n_trials=n_trials,
            n_jobs=n_jobs,
            reproducible=mode,
            show_progress_bar=False,
        )
        elapsed = time.perf_counter() - start
        trials = [
            (t.number, t.state.name, tuple(sorted(t.params.items())), t.value) for t in study.trials
        ]
    finally:
        _dispose(storage)
    return elapsed, trials


@dataclass
class ReproResult:
    label: str
    times: list[float]
    identical: bool  # every repetition gave the same trials

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# -- report ------------------------------------------------------------------------------


def _versions(kinds: list[str]) -> str:
    import optuna

    parts = [
        f"hyperdial {hyperdial.__version__}",
        f"Optuna {optuna.__version__}",
        f"distributed {importlib.metadata.version('distributed')}",
        f"SQLAlchemy {importlib.metadata.version('sqlalchemy')}",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if "postgresql" in kinds:
        try:
            import psycopg

            with psycopg.connect(POSTGRES) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            parts.append(f"PostgreSQL {row[0] if row else '?'}")
        except Exception as error:
            parts.append(f"PostgreSQL unreachable ({type(error).__name__})")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    parts.append(f"{os.cpu_count()} cores, load average {load} at the start")
    return "; ".join(parts)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--procs", default="1,2,4,8,16,32", help="process counts, (1) and (2)")
    parser.add_argument("--per-proc", type=int, default=50, help="trials per process")
    parser.add_argument("--kinds", default=",".join(KINDS), help="sqlite,postgresql")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=",".join(SECTIONS))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--dask-workers", default="2,4,8", help="LocalCluster sizes for (3)")
    parser.add_argument("--repro-trials", type=int, default=80, help="trials per run in (4)")
    parser.add_argument("--repetitions", type=int, default=3, help="runs per mode in (4)")
    parser.add_argument(
        "--out", type=Path, default=None, help="report path (default: results/throughput.md)"
    )
    args = parser.parse_args()
    if args.quick:
        args.procs, args.per_proc, args.dask_workers, args.repro_trials = "1,4", 20, "2", 40
    kinds = [k for k in args.kinds.split(",") if k]
    sections = [s for s in args.sections.split(",") if s]
    libraries = [lib for lib in args.libraries.split(",") if lib]
    procs = [int(p) for p in args.procs.split(",")]
    dask_sizes = [int(k) for k in args.dask_workers.split(",")]
    for value, allowed in ((kinds, KINDS), (sections, SECTIONS), (libraries, LIBRARIES)):
        unknown = set(value) - set(allowed)
        if unknown:
            parser.error(f"unknown {sorted(unknown)}; choose from {', '.join(allowed)}")
    _quiet()
    workdir = Path(tempfile.mkdtemp(prefix="hyperdial-throughput-"))
    versions = _versions(kinds)
    print(versions, flush=True)
    parts: list[str] = []
    hyperdial_lost: list[str] = []  # "where: n lost (detail)" for every hyperdial measurement
    hyperdial_trials = 0
    proc_results: dict[tuple[str, int, str], Run | str] = {}
    repro: list[ReproResult] = []

    def note(where: str, result: Run | str, expected: int) -> None:
        nonlocal hyperdial_trials
        hyperdial_trials += expected
        if isinstance(result, str):
            hyperdial_lost.append(f"{where}: {result}")
        elif result.lost:
            hyperdial_lost.append(f"{where}: {result.lost} lost ({result.detail})")

    try:
        if "processes" in sections:
            print(f"1. Independent processes, {args.per_proc} trials each:", flush=True)
            rows = []
            for kind in kinds:
                for n in procs:
                    for library in libraries:
                        backend = make_backend(library, kind, workdir)
                        result = _measure(
                            f"{library} {kind} x{n}",
                            partial(processes, backend, n, args.per_proc),
                        )
                        proc_results[(kind, n, library)] = result
                        if library == "hyperdial":
                            note(f"processes {kind} x{n}", result, n * args.per_proc)
                    hd = proc_results.get((kind, n, "hyperdial"))
                    op = proc_results.get((kind, n, "optuna"))
                    ratio = _ratio(hd, op)
                    rows.append(
                        [
                            kind,
                            str(n),
                            _rate(hd),
                            hd.lost_cell() if isinstance(hd, Run) else "-",
                            _rate(op),
                            op.lost_cell() if isinstance(op, Run) else "-",
                            "-" if ratio is None else f"**{ratio:.1f}x**",
                        ]
                    )
            parts += [
                f"## 1. Independent processes on one study, {args.per_proc} trials each",
                "Trials per second (COMPLETE trials / wall time from the barrier to the last "
                "process's exit) and lost trials.",
                _table(
                    [
                        "storage",
                        "processes",
                        "hyperdial trials/s",
                        "hyperdial lost",
                        "Optuna trials/s",
                        "Optuna lost",
                        "ratio",
                    ],
                    rows,
                ),
            ]

        if "njobs" in sections and "hyperdial" in libraries:
            print(f"2. hyperdial optimize(n_jobs=n), {args.per_proc} trials per worker:")
            rows = []
            for kind in kinds:
                optuna_runs = [
                    r
                    for (k, _, lib), r in proc_results.items()
                    if k == kind and lib == "optuna" and isinstance(r, Run)
                ]
                best = max(optuna_runs, key=lambda r: r.rate, default=None)
                for n in procs:
                    backend = make_backend("hyperdial", kind, workdir)
                    result = _measure(
                        f"hyperdial {kind} n_jobs={n}",
                        partial(njobs, backend, n, args.per_proc),
                    )
                    note(f"n_jobs {kind} x{n}", result, n * args.per_proc)
                    same_n = proc_results.get((kind, n, "optuna"))
                    ratio = _ratio(result, same_n)
                    rows.append(
                        [
                            kind,
                            str(n),
                            _rate(result),
                            result.lost_cell() if isinstance(result, Run) else "-",
                            _rate(same_n),
                            _rate(best),
                            "-" if ratio is None else f"{ratio:.1f}x",
                        ]
                    )
            parts += [
                f"## 2. hyperdial `optimize(n_jobs=n)`, {args.per_proc} trials per worker",
                "One call; timed from the call, so starting the worker processes counts. "
                "Optuna's `n_jobs` runs threads, so its figures are those of section 1 "
                "(independent processes): at the same n, and its best at any n.",
                _table(
                    [
                        "storage",
                        "n_jobs",
                        "hyperdial trials/s",
                        "hyperdial lost",
                        "Optuna, n processes",
                        "Optuna, best",
                        "ratio (same n)",
                    ],
                    rows,
                ),
            ]

        if "dask" in sections:
            parts += dask_section(kinds, libraries, dask_sizes, args.per_proc, workdir, note)

        if "reproducible" in sections and "hyperdial" in libraries:
            repro = reproducible_section(args.repro_trials, args.repetitions, workdir)
            parts += _repro_report(repro, args.repro_trials, args.repetitions)
    finally:
        if bench._SCHEMAS:
            bench._drop_schemas()
            bench._SCHEMAS.clear()
        gc.collect()
        shutil.rmtree(workdir, ignore_errors=True)

    targets = _targets(kinds, proc_results, hyperdial_lost, hyperdial_trials, repro)
    print("\nTargets:\n" + targets)
    report = "\n\n".join(
        [
            "# Throughput benchmark",
            "Generated by `python -m benchmarks.throughput"
            + (" --quick" if args.quick else "")
            + "`; do not edit by hand.",
            versions + ".",
            "Trivial objective (one float) and random sampler in sections 1-3; every figure "
            "from the same run. Lost trials: those not COMPLETE plus those missing against "
            "the number asked for.",
            "## Targets",
            targets,
            *parts,
        ]
    )
    out = args.out or RESULTS / ("throughput-quick.md" if args.quick else "throughput.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    print(f"\nWrote {out}")


def dask_section(
    kinds: list[str],
    libraries: list[str],
    sizes: list[int],
    per_proc: int,
    workdir: Path,
    note: Callable[[str, Run | str, int], None],
) -> list[str]:
    print(f"3. Dask LocalCluster, {per_proc} trials per worker:", flush=True)
    heading = f"## 3. Dask `LocalCluster`, {per_proc} trials per worker"
    try:
        import distributed
    except ImportError as error:
        print(f"    not available: {error}")
        return [heading, f"Not available: {error}."]
    rows: list[list[str]] = []
    for k in sizes:
        print(f"  starting a LocalCluster of {k} workers", flush=True)
        try:
            with (
                distributed.LocalCluster(
                    n_workers=k,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                client.run(_warm)
                for kind in kinds:
                    rows.append(_dask_row(client, kind, libraries, k, per_proc, workdir, note))
        except Exception as error:  # a cluster that does not start is a result too
            text = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            print(f"    LocalCluster of {k} workers not available: {text}", flush=True)
            rows.append(["-", str(k), f"cluster not available ({text})", "-", "-", "-", "-"])
    return [
        heading,
        "`LocalCluster(n_workers=k, threads_per_worker=1, processes=True)`, started and "
        "warmed up (libraries imported) before timing. hyperdial: "
        "`study.optimize(objective, n_trials=k * per_worker, executor=client)`, one task per "
        "trial. Optuna: k tasks, each `load_study(...).optimize(objective, "
        "n_trials=per_worker)` on the shared database.",
        _table(
            [
                "storage",
                "workers",
                "hyperdial trials/s",
                "hyperdial lost",
                "Optuna trials/s",
                "Optuna lost",
                "ratio",
            ],
            rows,
        ),
    ]


def _dask_row(
    client: Any,
    kind: str,
    libraries: list[str],
    k: int,
    per_proc: int,
    workdir: Path,
    note: Callable[[str, Run | str, int], None],
) -> list[str]:
    results: dict[str, Run | str] = {}
    for library in libraries:
        backend = make_backend(library, kind, workdir)
        result = _measure(
            f"{library} {kind} dask x{k}", partial(dask_run, client, backend, k, per_proc)
        )
        if isinstance(result, str) and library == "hyperdial":
            # optimize(executor=) may not work yet: report it and go on with the run.
            result = f"not available ({result})"
            print(f"    hyperdial with Dask {result}", flush=True)
        results[library] = result
        if library == "hyperdial":
            note(f"dask {kind} x{k}", result, k * per_proc)
    hd, op = results.get("hyperdial"), results.get("optuna")
    ratio = _ratio(hd, op)
    return [
        kind,
        str(k),
        _rate(hd),
        hd.lost_cell() if isinstance(hd, Run) else "-",
        _rate(op),
        op.lost_cell() if isinstance(op, Run) else "-",
        "-" if ratio is None else f"{ratio:.1f}x",
    ]


def reproducible_section(n_trials: int, repetitions: int, workdir: Path) -> list[ReproResult]:
    n_jobs = 4
    modes: list[tuple[str, bool | int]] = [
        ("normal", False),
        (f"reproducible=True (lag {n_jobs})", True),
        (f"reproducible={2 * n_jobs}", 2 * n_jobs),
    ]
    print(
        f"4. Reproducible mode: {n_trials} trials, n_jobs={n_jobs}, TPE(seed=0), SQLite, "
        f"{repetitions} repetitions:",
        flush=True,
    )
    times: dict[str, list[float]] = {label: [] for label, _ in modes}
    trials: dict[str, list[list[tuple[Any, ...]]]] = {label: [] for label, _ in modes}
    # Modes alternate within each repetition, so that a change in the machine's load
    # (it may be shared) falls on all of them alike.
    for rep in range(repetitions):
        for label, mode in modes:
            backend = make_backend("hyperdial", "sqlite", workdir)
            print(f"  {label}, run {rep + 1} ...", flush=True)
            elapsed, got = reproducible_run(backend, n_trials, n_jobs, mode)
            print(f"    {elapsed:.2f} s", flush=True)
            times[label].append(elapsed)
            trials[label].append(got)
    results = [
        ReproResult(label, times[label], all(t == trials[label][0] for t in trials[label]))
        for label, _ in modes
    ]
    for r in results:
        print(f"  {r.label}: median {r.median:.2f} s, identical trials: {_yes(r.identical)}")
    return results


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _repro_report(results: list[ReproResult], n_trials: int, repetitions: int) -> list[str]:
    normal = results[0].median
    rows = [
        [
            r.label,
            ", ".join(f"{t:.2f}" for t in r.times),
            f"{r.median:.2f}",
            f"{r.median / normal:.2f}x",
            _yes(r.identical),
        ]
        for r in results
    ]
    return [
        "## 4. Cost of the reproducible mode",
        f"{n_trials} trials of an objective that sleeps {MEAN_S * 1000:.0f} ms +-50% "
        "(uniform, drawn from a hash of its parameters), `n_jobs=4`, `TPESampler(seed=0)`, "
        f"SQLite; {repetitions} runs of each mode, alternating, each on a new database. "
        "Wall time of the `optimize` call, worker start-up included.",
        _table(
            ["mode", "wall times (s)", "median (s)", "vs normal", "identical trials in every run"],
            rows,
        ),
    ]


def _targets(
    kinds: list[str],
    proc_results: dict[tuple[str, int, str], Run | str],
    hyperdial_lost: list[str],
    hyperdial_trials: int,
    repro: list[ReproResult],
) -> str:
    rows = []
    for kind in kinds:
        for n in TARGET_PROCS:
            hd = proc_results.get((kind, n, "hyperdial"))
            op = proc_results.get((kind, n, "optuna"))
            ratio = _ratio(hd, op)
            figures = "-" if ratio is None else f"{_rate(hd)} vs {_rate(op)} trials/s: {ratio:.1f}x"
            rows.append(
                [
                    f">= {TARGET_RATIO:.0f}x Optuna, {kind}, {n} processes",
                    _verdict(None if ratio is None else ratio >= TARGET_RATIO),
                    figures,
                ]
            )
    rows.append(
        [
            "zero lost trials (hyperdial, every section)",
            _verdict(None if hyperdial_trials == 0 else not hyperdial_lost),
            "; ".join(hyperdial_lost)
            or (f"0 lost of {hyperdial_trials} trials asked for" if hyperdial_trials else "-"),
        ]
    )
    if repro:
        normal, same = repro[0], repro[1]
        ratio = same.median / normal.median
        rows.append(
            [
                f"reproducible=True within {TARGET_REPRO - 1:.0%} of normal wall time",
                _verdict(ratio <= TARGET_REPRO),
                f"median {same.median:.2f} s vs {normal.median:.2f} s: {ratio:.2f}x",
            ]
        )
        rows.append(
            [
                "reproducible runs give identical trials",
                _verdict(all(r.identical for r in repro[1:])),
                "; ".join(f"{r.label}: {_yes(r.identical)}" for r in repro[1:]),
            ]
        )
    else:
        rows.append(
            [f"reproducible=True within {TARGET_REPRO - 1:.0%} of normal", "not measured", "-"]
        )
    return _table(["target", "result", "figures"], rows)


if __name__ == "__main__":
    main()
