"""Many processes against one SQL storage: numbering, claiming, races, migrations, caching.

Workers are forked and use the storage object they inherit from the parent, which also
checks that a forked worker opens its own connections instead of sharing the parent's.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from hyperdial._frozen import StudyDirection, TrialState
from hyperdial.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from hyperdial.space import Float
from hyperdial.storage import SQLStorage, TrialTemplate
from hyperdial.storage._sql._migrate import current_revision
from hyperdial.storage._sql._models import HEAD_REVISION, VERSION_TABLE

FORK = mp.get_context("fork")
WORKER_TIMEOUT_S = 60


def _worker_main(
    target: Callable[..., Any], barrier: Any, queue: Any, index: int, args: tuple[Any, ...]
) -> None:
    try:
        # Start together so that the workers really race.
        barrier.wait(timeout=WORKER_TIMEOUT_S)
        queue.put((index, True, target(index, *args)))
    except BaseException:
        queue.put((index, False, traceback.format_exc()))


def run_workers(n: int, target: Callable[..., Any], *args: Any) -> list[Any]:
    """Run ``target(index, *args)`` in ``n`` forked processes; return their results."""
    queue = FORK.Queue()
    barrier = FORK.Barrier(n)
    processes = [
        FORK.Process(target=_worker_main, args=(target, barrier, queue, i, args)) for i in range(n)
    ]
    for process in processes:
        process.start()
    results: dict[int, Any] = {}
    failures = []
    try:
        for _ in processes:
            index, ok, payload = queue.get(timeout=WORKER_TIMEOUT_S)
            if ok:
                results[index] = payload
            else:
                failures.append(f"worker {index}:\n{payload}")
    finally:
        for process in processes:
            process.join(timeout=WORKER_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join()
        queue.close()
    assert not failures, "\n".join(failures)
    assert [p.exitcode for p in processes] == [0] * n
    return [results[i] for i in range(n)]


@pytest.fixture
def storage(any_db: Any) -> Any:
    storage = any_db.open()
    yield storage
    storage.remove_session()


# -- trial numbers ------------------------------------------------------------------------


def _create_and_finish(index: int, storage: SQLStorage, study_id: int, n: int) -> list[int]:
    numbers = []
    for i in range(n):
        trial = storage.create_trial(study_id)
        storage.update_trial(
            trial.trial_id,
            params={"x": (float(i), Float(0.0, 100.0))},
            state=TrialState.COMPLETE,
            values=[float(index * 1000 + i)],
        )
        numbers.append(trial.number)
    storage.remove_session()
    return numbers


def test_trial_numbers_unique_and_contiguous(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "numbers")
    storage.get_all_trials(study_id)  # the parent's pool now holds a connection
    results = run_workers(4, _create_and_finish, storage, study_id, 50)
    numbers = sorted(n for worker in results for n in worker)
    assert numbers == list(range(200))
    trials = storage.get_all_trials(study_id)
    assert [t.number for t in trials] == list(range(200))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    values = sorted(t.values[0] for t in trials if t.values)
    assert values == sorted(float(w * 1000 + i) for w in range(4) for i in range(50))
    assert storage.get_n_trials(study_id, states=[TrialState.COMPLETE]) == 200


# -- claiming -----------------------------------------------------------------------------


def _claim_all(index: int, storage: SQLStorage, study_id: int) -> list[int]:
    claimed = []
    while (trial := storage.claim_waiting_trial(study_id)) is not None:
        claimed.append(trial.trial_id)
    storage.remove_session()
    return claimed


def test_waiting_trials_claimed_exactly_once(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "claims")
    enqueued = [
        storage.create_trial(
            study_id, TrialTemplate(state=TrialState.WAITING, params={"i": i})
        ).trial_id
        for i in range(40)
    ]
    results = run_workers(8, _claim_all, storage, study_id)
    claimed = [trial_id for worker in results for trial_id in worker]
    assert sorted(claimed) == sorted(enqueued)  # each once: no duplicates, none missed
    assert storage.get_n_trials(study_id, states=[TrialState.RUNNING]) == 40
    assert storage.claim_waiting_trial(study_id) is None


# -- atomic attrs and finishing -------------------------------------------------------------


def _race_attrs(index: int, storage: SQLStorage, study_id: int, keys: list[str]) -> list[str]:
    won = [key for key in keys if storage.set_study_system_attr_if_absent(study_id, key, index)]
    storage.remove_session()
    return won


def test_set_study_system_attr_if_absent_has_one_winner(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "attrs")
    keys = [f"key-{i}" for i in range(10)]
    results = run_workers(8, _race_attrs, storage, study_id, keys)
    winners = {key: [w for w, won in enumerate(results) if key in won] for key in keys}
    assert all(len(w) == 1 for w in winners.values()), winners
    stored = storage.get_study_system_attrs(study_id)
    assert stored == {key: w[0] for key, w in winners.items()}


def _race_finish(index: int, storage: SQLStorage, trial_ids: list[int]) -> list[int]:
    won = []
    for trial_id in trial_ids:
        try:
            storage.update_trial(trial_id, state=TrialState.COMPLETE, values=[float(index)])
        except UpdateFinishedTrialError:
            continue
        won.append(trial_id)
    storage.remove_session()
    return won


def test_racing_finishers_have_one_winner(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "finish")
    trial_ids = [storage.create_trial(study_id).trial_id for _ in range(10)]
    results = run_workers(6, _race_finish, storage, trial_ids)
    for trial_id in trial_ids:
        winners = [w for w, won in enumerate(results) if trial_id in won]
        assert len(winners) == 1
        assert storage.get_trial(trial_id).values == [float(winners[0])]


# -- migrations ---------------------------------------------------------------------------


def _revision(storage: SQLStorage) -> str | None:
    return current_revision(storage._engine)


def test_fresh_database_is_migrated_to_head(any_db: Any) -> None:
    storage = any_db.open()
    try:
        assert _revision(storage) == HEAD_REVISION
        with storage._engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        assert rows == [(HEAD_REVISION,)]
        study_id = storage.create_study([StudyDirection.MAXIMIZE], "kept")
        storage.create_trial(study_id)
    finally:
        storage.remove_session()
    reopened = any_db.open()  # idempotent: nothing is recreated or lost
    try:
        assert _revision(reopened) == HEAD_REVISION
        assert reopened.get_n_trials(reopened.get_study_id("kept")) == 1
    finally:
        reopened.remove_session()


def test_up_to_date_database_skips_alembic(any_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    any_db.open().remove_session()
    from alembic import command

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("alembic ran on an up-to-date database")

    monkeypatch.setattr(command, "upgrade", fail)
    started = time.perf_counter()
    any_db.open().remove_session()
    assert time.perf_counter() - started < 2.0


def _open(index: int, database: Any) -> str | None:
    storage = database.open()
    try:
        try:
            study_id = storage.create_study([StudyDirection.MINIMIZE], "shared")
        except DuplicatedStudyError:
            study_id = storage.get_study_id("shared")
        storage.create_trial(study_id)
        return _revision(storage)
    finally:
        storage.remove_session()


def test_processes_opening_a_fresh_database_at_once(any_db: Any) -> None:
    revisions = run_workers(4, _open, any_db)
    assert revisions == [HEAD_REVISION] * 4
    storage = any_db.open()
    try:
        assert [s.study_name for s in storage.list_studies()] == ["shared"]
        assert storage.get_n_trials(storage.get_study_id("shared")) == 4
    finally:
        storage.remove_session()


def test_models_match_migrations(any_db: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hyperdial.storage._sql._models import metadata

    storage = any_db.open()
    try:
        with storage._engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
    finally:
        storage.remove_session()


# -- caching ------------------------------------------------------------------------------


def _seed_trials(storage: SQLStorage, study_id: int, n: int, running_every: int) -> None:
    """Insert ``n`` trials in one transaction: the API would take one per trial."""
    from hyperdial.storage._sql import _models as m

    dist = json.dumps(Float(0.0, 1.0).to_json())
    now = datetime.datetime(2024, 1, 1)
    with storage._engine.begin() as conn:
        conn.execute(
            sa.update(m.studies).where(m.studies.c.study_id == study_id).values(next_trial_number=n)
        )
        trial_rows = [
            {
                "study_id": study_id,
                "number": i,
                "state": "RUNNING" if i % running_every == 0 else "COMPLETE",
                "datetime_start": now,
                "datetime_complete": None if i % running_every == 0 else now,
            }
            for i in range(n)
        ]
        conn.execute(sa.insert(m.trials), trial_rows)
        ids = (
            conn.execute(
                sa.select(m.trials.c.trial_id)
                .where(m.trials.c.study_id == study_id)
                .order_by(m.trials.c.number)
            )
            .scalars()
            .all()
        )
        conn.execute(
            sa.insert(m.trial_params),
            [
                {"trial_id": t, "param_name": "x", "param_value": i / n, "distribution_json": dist}
                for i, t in enumerate(ids)
            ],
        )
        conn.execute(
            sa.insert(m.trial_values),
            [
                {"trial_id": t, "objective": 0, "value": float(i), "value_type": "FINITE"}
                for i, t in enumerate(ids)
                if i % running_every
            ],
        )
        conn.execute(
            sa.insert(m.trial_intermediate_values),
            [
                {"trial_id": t, "step": 0, "value": float(i), "value_type": "FINITE"}
                for i, t in enumerate(ids)
            ],
        )
        conn.execute(
            sa.insert(m.trial_user_attrs),
            [{"trial_id": t, "key": "i", "value_json": str(i)} for i, t in enumerate(ids)],
        )


def test_second_read_fetches_only_unfinished_trials(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "big")
    _seed_trials(storage, study_id, 2000, running_every=400)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(storage._engine, "before_cursor_execute", count)

    started = time.perf_counter()
    first = storage.get_all_trials(study_id, deepcopy=False)
    first_s = time.perf_counter() - started
    assert len(first) == 2000
    assert storage._last_refresh_rows == 2000

    statements.clear()
    started = time.perf_counter()
    second = storage.get_all_trials(study_id, deepcopy=False)
    second_s = time.perf_counter() - started
    assert storage._last_refresh_rows == 5  # only the RUNNING trials were read again
    assert len(statements) <= 8  # a constant number of set-based queries, not N+1
    assert second_s < first_s / 3, (first_s, second_s)
    # Finished trials are the very same cached objects; deepcopy=True copies them.
    assert all(a is b for a, b in zip(first, second, strict=True) if a.state.is_finished())
    copied = storage.get_all_trials(study_id)
    assert copied == second and copied[1] is not second[1]

    # A trial finished elsewhere, and a new one, are picked up on the next read.
    storage.update_trial(first[400].trial_id, state=TrialState.COMPLETE, values=[-1.0])
    storage.create_trial(study_id)
    third = storage.get_all_trials(study_id, deepcopy=False)
    assert storage._last_refresh_rows == 6
    assert third[400].values == [-1.0] and len(third) == 2001
    storage.get_all_trials(study_id, deepcopy=False)
    assert storage._last_refresh_rows == 5
    sa.event.remove(storage._engine, "before_cursor_execute", count)
