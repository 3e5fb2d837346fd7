"""SQLStorage specifics: URLs, errors, SQLite settings, retries, threads, pickling."""

from __future__ import annotations

import gc
import os
import pickle
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hyperdial._frozen import StudyDirection, TrialState
from hyperdial.exceptions import InvalidValueError, StorageError
from hyperdial.storage import SQLStorage, get_storage
from hyperdial.storage._sql import _engine
from hyperdial.storage._sql._models import VERSION_TABLE


@pytest.fixture
def storage(any_db: Any) -> Any:
    storage = any_db.open()
    yield storage
    storage.remove_session()


# -- URLs and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?cache=shared&uri=true"]
)
def test_in_memory_sqlite_points_to_in_memory_storage(url: str) -> None:
    with pytest.raises(InvalidValueError, match="InMemoryStorage"):
        SQLStorage(url)


@pytest.mark.parametrize("url", ["mysql://user@host/db", "not a url", "sqlite+aiosqlite:///x.db"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(InvalidValueError, match="sqlite:///"):
        SQLStorage(url)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="does not exist"):
        SQLStorage(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")


@pytest.mark.postgres
def test_unreachable_server_is_one_clear_line() -> None:
    url = "postgresql://ada:s3cret@127.0.0.1:1/nothing"
    with pytest.raises(StorageError) as info:
        SQLStorage(url, engine_kwargs={"connect_args": {"connect_timeout": 2}})
    message = str(info.value)
    assert "\n" not in message
    assert "postgresql://ada:***@127.0.0.1:1/nothing" in message
    assert "s3cret" not in message
    assert "server is running" in message


def test_describe_url_hides_password() -> None:
    assert _engine.describe_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert _engine.describe_url("postgres://h/db") == "postgres://h/db"


def test_postgres_urls_use_psycopg() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert _engine.parse_url(url).drivername == "postgresql+psycopg"


def test_get_storage_and_repr(sqlite_db: Any) -> None:
    storage = get_storage(sqlite_db.url)
    try:
        assert isinstance(storage, SQLStorage)
        assert repr(storage) == f"SQLStorage({sqlite_db.url!r})"
    finally:
        storage.remove_session()


def test_newer_schema_is_refused(sqlite_db: Any) -> None:
    sqlite_db.open().remove_session()
    path = sqlite_db.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    conn.close()
    with pytest.raises(StorageError, match="Upgrade hyperdial"):
        sqlite_db.open()


def test_foreign_database_is_refused(sqlite_db: Any) -> None:
    with sqlite3.connect(sqlite_db.url.removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(StorageError, match="another tool"):
        sqlite_db.open()


# -- SQLite settings and locking ----------------------------------------------------------


def test_sqlite_pragmas(sqlite_db: Any) -> None:
    storage = sqlite_db.open()
    try:
        with storage._engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "busy_timeout": 60000,
            "foreign_keys": 1,
        }
    finally:
        storage.remove_session()


def test_sqlite_writer_waits_for_a_held_lock(sqlite_db: Any) -> None:
    storage = sqlite_db.open()
    try:
        study_id = storage.create_study([StudyDirection.MINIMIZE], "locked")
        blocker = sqlite3.connect(
            sqlite_db.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        blocker.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(0.5, blocker.execute, args=("COMMIT",))
        release.start()
        started = time.perf_counter()
        trial = storage.create_trial(study_id)
        release.join()
        blocker.close()
        assert time.perf_counter() - started >= 0.4
        assert trial.number == 0
    finally:
        storage.remove_session()


# The two runners of storage work: SQLAlchemy transactions, and a trial's start and finish
# on the bare driver, each with the error its work sees when SQLite is locked or broken.
_RUNNERS = {
    "transaction": (
        _engine.run_transaction,
        lambda message: sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError(message)),
        sa.exc.OperationalError,
    ),
    "driver": (_engine.run_on_driver, sqlite3.OperationalError, sqlite3.OperationalError),
}


@pytest.mark.parametrize("runner", list(_RUNNERS))
def test_work_retried_on_locked(
    sqlite_db: Any, monkeypatch: pytest.MonkeyPatch, runner: str
) -> None:
    run, error, raised = _RUNNERS[runner]
    monkeypatch.setattr(_engine, "_backoff", lambda attempt: 0.0)
    storage = sqlite_db.open()
    engine = storage._engine
    attempts = []

    def work(conn: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise error("database is locked")
        return "done"

    def never(conn: Any) -> None:
        raise error("database is locked")

    def broken(conn: Any) -> None:
        attempts.append(1)
        raise error("no such table: x")

    try:
        assert run(engine, work) == "done"
        assert len(attempts) == 3
        with pytest.raises(StorageError, match="attempts"):
            run(engine, never)
        attempts.clear()
        with pytest.raises(raised, match="no such table"):
            run(engine, broken)
        assert len(attempts) == 1  # not a transient error: no retry
    finally:
        storage.remove_session()


# -- threads, pickling, sessions, clock ---------------------------------------------------


def test_threads_share_one_storage(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "threads")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(20):
                trial = storage.create_trial(study_id)
                storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[1.0])
                storage.get_all_trials(study_id, deepcopy=False)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    trials = storage.get_all_trials(study_id)
    assert [t.number for t in trials] == list(range(80))
    assert {t.state for t in trials} == {TrialState.COMPLETE}


def test_pickle_reconnects(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "pickled")
    storage.create_trial(study_id)
    clone = pickle.loads(pickle.dumps(storage))
    try:
        assert repr(clone) == repr(storage)
        assert clone._engine is not storage._engine
        assert clone.get_n_trials(study_id) == 1
        assert clone.create_trial(study_id).number == 1
    finally:
        clone.remove_session()


def test_dropped_storage_closes_its_connections(any_db: Any) -> None:
    storage = any_db.open()
    storage.get_n_trials(storage.create_study([StudyDirection.MINIMIZE], "dropped"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del storage
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def _fork_and_use(storage: SQLStorage, study_id: int) -> int:
    pid = os.fork()
    if pid == 0:  # the child: must open its own connections, and leave the parent's alone
        code = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                storage.create_trial(study_id)
                storage.remove_session()
                gc.collect()
            code = 0
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def test_fork_child_uses_its_own_connections(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "forked")
    storage.create_trial(study_id)  # the parent's pool holds a live connection now
    assert _fork_and_use(storage, study_id) == 0
    # The parent's pooled connection still works after the child used and dropped its own.
    storage.create_trial(study_id)
    assert [t.number for t in storage.get_all_trials(study_id)] == [0, 1, 2]


def test_remove_session_then_reuse(storage: SQLStorage) -> None:
    study_id = storage.create_study([StudyDirection.MINIMIZE], "sessions")
    storage.remove_session()
    assert storage.get_study_name(study_id) == "sessions"


@pytest.mark.postgres
def test_postgres_now_reads_the_database_clock(postgres_db: Any) -> None:
    storage = postgres_db.open()
    statements: list[str] = []
    sa.event.listen(
        storage._engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    try:
        now = storage.now()
        assert now.tzinfo is None
        assert any("now()" in s for s in statements)
    finally:
        storage.remove_session()


# -- the driver path of a trial's start and finish ----------------------------------------


def test_sqlite_finish_of_a_finished_trial_writes_nothing(sqlite_db: Any) -> None:
    storage = sqlite_db.open()
    try:
        study_id = storage.create_study([StudyDirection.MINIMIZE], "late")
        trial = storage.start_trial(study_id)
        storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[1.0])
        late = {
            "values": [
                {"trial_id": trial.trial_id, "objective": 0, "value": 9.0, "value_type": "finite"}
            ]
        }
        assert storage._trial_writes.finish(trial.trial_id, TrialState.FAIL, late) is False
        stored = storage.get_trial(trial.trial_id)
        assert (stored.state, stored.values) == (TrialState.COMPLETE, [1.0])
    finally:
        storage.remove_session()


@pytest.mark.postgres
@pytest.mark.parametrize("leaves_it_busy", [False, True])
def test_postgres_interrupt_mid_statement_spares_the_pool(
    postgres_db: Any, monkeypatch: pytest.MonkeyPatch, leaves_it_busy: bool
) -> None:
    import psycopg

    storage = postgres_db.open()
    study_id = storage.create_study([StudyDirection.MINIMIZE], "interrupted")
    real_execute = psycopg.Connection.execute

    def interrupted(self: Any, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(psycopg.Connection, "execute", real_execute)
        if leaves_it_busy:
            # What Ctrl-C mid-statement can leave: a connection that refuses to change mode.
            monkeypatch.setattr(
                psycopg.Connection, "autocommit", property(lambda c: True, _refuse), raising=True
            )
        raise KeyboardInterrupt

    def _refuse(conn: Any, value: bool) -> None:
        monkeypatch.undo()
        raise psycopg.ProgrammingError("can't change 'autocommit' now")

    monkeypatch.setattr(psycopg.Connection, "execute", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            storage.start_trial(study_id)
        monkeypatch.undo()
        # Whatever connection the pool hands out next is in transaction mode again: a
        # SQLAlchemy write that fails half-way leaves nothing behind.
        with pytest.raises(RuntimeError):
            _engine.run_transaction(storage._write_engine, _insert_then_fail(study_id))
        assert storage.get_study_user_attrs(study_id) == {}
        trial = storage.start_trial(study_id)
        assert trial.number == 0
    finally:
        monkeypatch.undo()
        storage.remove_session()


def _insert_then_fail(study_id: int) -> Any:
    from hyperdial.storage._sql import _models as m

    def work(conn: Any) -> None:
        conn.execute(
            sa.insert(m.study_user_attrs).values(study_id=study_id, key="k", value_json="1")
        )
        raise RuntimeError("fails after a write")

    return work
