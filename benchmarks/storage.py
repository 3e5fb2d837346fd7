"""Storage overhead and parallel throughput: hyperdial against Optuna, in the same run.

Two measurements, each with a trivial objective (one float) and the random sampler, so that
what is timed is the tuner and its storage, not the model:

1. Overhead per trial (ask + tell through ``optimize``) while a study grows to N trials, on
   the in-memory storage, SQLite and PostgreSQL. Reported for the trials around 1,000 and
   around N (10,000 by default): a storage that re-reads history slows down as N grows.
2. Throughput (finished trials per second) with 1, 2, 4, 8 and 32 worker processes on one
   study, on SQLite and PostgreSQL. Every process runs the same number of trials; trials
   that did not end COMPLETE (for example lost to "database is locked") are counted as lost.

Both libraries get the same harness: plain processes (fork), each opening the storage by URL.

Usage:
    python benchmarks/storage.py                 # full run, writes benchmarks/results/storage.md
    python benchmarks/storage.py --quick         # smaller sizes, for a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import platform
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hyperdial
from hyperdial.samplers import RandomSampler
from hyperdial.storage import SQLStorage

POSTGRES = os.environ.get(
    "HYPERDIAL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
RESULTS = Path(__file__).parent / "results"


def hyperdial_objective(trial: Any) -> float:
    x = trial.suggest_float("x", -10, 10)
    return x * x


optuna_objective = hyperdial_objective  # the same code runs on both: only the trial differs


# -- storages -----------------------------------------------------------------------------------


_SCHEMAS: list[str] = []


def _pg_schema(name: str) -> dict[str, Any]:
    """Engine options that put a library's tables in their own PostgreSQL schema."""
    import psycopg

    with psycopg.connect(POSTGRES) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    _SCHEMAS.append(name)
    return {"connect_args": {"options": f"-csearch_path={name}"}}


def _drop_schemas() -> None:
    import psycopg

    with psycopg.connect(POSTGRES) as conn:
        for name in _SCHEMAS:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@dataclass
class Backend:
    library: str  # "hyperdial" or "optuna"
    kind: str  # "memory", "sqlite" or "postgresql"
    url: str | None
    engine_kwargs: dict[str, Any] | None

    def open(self) -> Any:
        if self.library == "hyperdial":
            if self.url is None:
                return hyperdial.storage.InMemoryStorage()
            return SQLStorage(self.url, engine_kwargs=self.engine_kwargs)
        import optuna

        if self.url is None:
            return optuna.storages.InMemoryStorage()
        return optuna.storages.RDBStorage(self.url, engine_kwargs=self.engine_kwargs or {})


def make_backend(library: str, kind: str, workdir: Path) -> Backend:
    if kind == "memory":
        return Backend(library, kind, None, None)
    if kind == "sqlite":
        path = workdir / f"{library}-{uuid.uuid4().hex[:8]}.db"
        return Backend(library, kind, f"sqlite:///{path}", None)
    schema = f"bench_{library}_{uuid.uuid4().hex[:6]}"
    return Backend(library, kind, POSTGRES, _pg_schema(schema))


def create(backend: Backend, name: str) -> Any:
    storage = backend.open()
    if backend.library == "hyperdial":
        return hyperdial.create_study(
            study_name=name, storage=storage, sampler=RandomSampler(seed=0), load_if_exists=True
        )
    import optuna

    return optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.RandomSampler(seed=0),
        load_if_exists=True,
    )


def _quiet() -> None:
    with contextlib.suppress(ImportError):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("hyperdial").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


# -- 1. overhead per trial as the study grows ------------------------------------------------


def overhead(backend: Backend, n_trials: int, window: int) -> tuple[float, float]:
    """Return mean ms per trial for the `window` trials before 1,000 and before `n_trials`."""
    study = create(backend, f"overhead-{uuid.uuid4().hex[:8]}")
    stamps: list[float] = []

    def callback(*_: Any) -> None:
        stamps.append(time.perf_counter())

    objective = hyperdial_objective
    kwargs: dict[str, Any] = {"callbacks": [callback]}
    if backend.library == "hyperdial":
        kwargs["show_progress_bar"] = False
    start = time.perf_counter()
    stamps.append(start)
    study.optimize(objective, n_trials=n_trials, **kwargs)

    def per_trial(end: int) -> float:
        return (stamps[end] - stamps[end - window]) / window * 1000

    return per_trial(min(1000, n_trials)), per_trial(n_trials)


# -- 2. throughput with several processes --------------------------------------------------------


def _worker(backend: Backend, name: str, n_trials: int, barrier: Any) -> None:
    _quiet()
    study = None
    try:
        storage = backend.open()
        if backend.library == "hyperdial":
            study = hyperdial.load_study(
                study_name=name, storage=storage, sampler=RandomSampler(seed=0)
            )
            barrier.wait()
            study.optimize(hyperdial_objective, n_trials=n_trials, show_progress_bar=False)
        else:
            import optuna

            study = optuna.load_study(
                study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
            )
            barrier.wait()
            study.optimize(optuna_objective, n_trials=n_trials)
    except Exception as error:  # a lost worker is a result to report, not a crash
        print(f"    {backend.library}/{backend.kind} worker {os.getpid()} died: {error!r:.120}")


def throughput(backend: Backend, n_procs: int, per_proc: int) -> tuple[float, int, int]:
    """Return (finished trials per second, COMPLETE count, lost count)."""
    name = f"throughput-{uuid.uuid4().hex[:8]}"
    study = create(backend, name)
    elapsed = run_workers(backend, name, n_procs, per_proc)
    complete = _count_complete(backend, study)
    expected = n_procs * per_proc
    return complete / elapsed, complete, expected - complete


def run_workers(backend: Backend, name: str, n_procs: int, per_proc: int) -> float:
    """Run `per_proc` trials in each of `n_procs` processes on study `name`; return seconds.

    The processes open the storage and load the study first, then start together (barrier):
    what is timed is the trials, not the imports and connections.
    """
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(n_procs + 1)
    procs = [
        ctx.Process(target=_worker, args=(backend, name, per_proc, barrier)) for _ in range(n_procs)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    start = time.perf_counter()
    for p in procs:
        p.join()
    return time.perf_counter() - start


def _count_complete(backend: Backend, study: Any) -> int:
    if backend.library == "hyperdial":
        fresh = hyperdial.load_study(study_name=study.study_name, storage=backend.open())
        return len(fresh.get_trials(states=(hyperdial.TrialState.COMPLETE,)))
    import optuna

    fresh = optuna.load_study(study_name=study.study_name, storage=backend.open())
    return len(fresh.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


# -- report --------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    print(f"  {label} ...", flush=True)
    return fn()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--trials", type=int, default=10_000, help="history size for overhead")
    parser.add_argument(
        "--competitor-trials",
        type=int,
        default=None,
        help="history size for the competitor (default: --trials); Optuna's SQL storages take "
        "tens of minutes to reach 10,000 trials",
    )
    parser.add_argument("--procs", default="1,2,4,8,32", help="process counts for throughput")
    parser.add_argument("--per-proc", type=int, default=50, help="trials per process")
    parser.add_argument("--kinds", default="memory,sqlite,postgresql")
    parser.add_argument("--libraries", default="hyperdial,optuna")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.procs, args.per_proc = 1_500, "1,4", 20
    _quiet()
    kinds = args.kinds.split(",")
    libraries = args.libraries.split(",")
    procs = [int(p) for p in args.procs.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="hyperdial-bench-"))
    window = 200 if args.trials >= 1200 else max(10, args.trials // 5)

    import optuna

    print(
        f"hyperdial {hyperdial.__version__}, optuna {optuna.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores"
    )
    overhead_rows = []
    print(f"Overhead per trial, history up to {args.trials} trials:")
    for kind in kinds:
        for library in libraries:
            backend = make_backend(library, kind, workdir)
            n = args.trials
            if library != "hyperdial" and args.competitor_trials is not None:
                n = min(n, args.competitor_trials)
            at_1k, at_n = _timed(f"{library} {kind}", lambda b=backend, n=n: overhead(b, n, window))
            growth = f"{at_n / at_1k:.2f}x"
            overhead_rows.append([kind, library, f"{at_1k:.2f}", f"{at_n:.2f} (at {n:,})", growth])
            print(f"    {at_1k:.2f} ms/trial at 1,000; {at_n:.2f} at {n}")

    throughput_rows = []
    print(f"Throughput, {args.per_proc} trials per process:")
    for kind in [k for k in kinds if k != "memory"]:
        for n in procs:
            figures = {}
            for library in libraries:
                backend = make_backend(library, kind, workdir)
                rate, complete, lost = _timed(
                    f"{library} {kind} x{n}",
                    lambda b=backend, n=n: throughput(b, n, args.per_proc),
                )
                figures[library] = rate
                print(f"    {rate:.1f} trials/s, {complete} complete, {lost} lost")
                throughput_rows.append(
                    [kind, str(n), library, f"{rate:.1f}", str(complete), str(lost)]
                )
            if len(figures) == 2:
                ratio = figures["hyperdial"] / figures["optuna"]
                throughput_rows.append([kind, str(n), "**ratio**", f"**{ratio:.1f}x**", "", ""])

    report = "\n\n".join(
        [
            "# Storage benchmark",
            f"hyperdial {hyperdial.__version__} vs optuna {optuna.__version__}; "
            f"{os.cpu_count()} cores; trivial objective, random sampler.",
            f"## Overhead per trial (ms), mean of {window} trials ending at that history size",
            _table(
                ["storage", "library", "at 1,000", "at the largest history", "growth"],
                overhead_rows,
            ),
            f"## Throughput, {args.per_proc} trials per process",
            _table(
                ["storage", "processes", "library", "trials/s", "complete", "lost"],
                throughput_rows,
            ),
        ]
    )
    if _SCHEMAS:
        _drop_schemas()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("storage-quick.md" if args.quick else "storage.md")
    out.write_text(report + "\n")
    print(f"\nWrote {out}")


if __name__ == "__main__":
    main()
