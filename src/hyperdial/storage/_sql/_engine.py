"""Engines tuned for many worker processes: URL checks, SQLite locking, retries."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from hyperdial.exceptions import InvalidValueError, StorageError

__all__ = [
    "WRITE_OPTION",
    "create_engine",
    "describe_url",
    "is_retryable",
    "parse_url",
    "run_on_driver",
    "run_transaction",
]

T = TypeVar("T")

#: Execution option marking a connection whose transactions write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "hyperdial_write"

# SQLite waits this long for another writer's lock before giving up; trials are short
# transactions, so only a badly overloaded disk gets near it.
_SQLITE_BUSY_TIMEOUT_S = 60.0

# Bounded retry of a whole transaction on transient errors, with jittered backoff. The
# time bound matters for SQLite, where each failed attempt may already have waited out the
# busy timeout.
_MAX_ATTEMPTS = 8
_MAX_RETRY_S = 2 * _SQLITE_BUSY_TIMEOUT_S
_BACKOFF_BASE_S = 0.05
_BACKOFF_MAX_S = 2.0

_MEMORY_HINT = (
    "an in-memory SQLite database lives in one connection of one process and cannot be "
    "shared by workers; use hyperdial.storage.InMemoryStorage() (storage=None) instead, "
    "or a file such as 'sqlite:///hyperdial.db'."
)


def describe_url(url: str) -> str:
    """Return ``url`` with any password masked, for messages and ``repr``."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return url


def parse_url(url: str) -> URL:
    """Check a storage URL and return it with the driver hyperdial uses.

    Raises:
        InvalidValueError: for anything but a SQLite file or a PostgreSQL database.
    """
    if not isinstance(url, str):
        raise InvalidValueError(
            f"SQLStorage needs a database URL string. Got {url!r}; for a local file use "
            "'sqlite:///hyperdial.db'."
        )
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError:
        raise InvalidValueError(
            f"Cannot parse the storage URL {describe_url(url)!r}; write it as "
            "'sqlite:///path/to/file.db' or 'postgresql://user:password@host:5432/dbname'."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend == "sqlite":
        database = parsed.database or ""
        if (
            database in ("", ":memory:")
            or "mode=memory" in url
            or database.startswith("file::memory:")
        ):
            raise InvalidValueError(f"SQLStorage({describe_url(url)!r}): {_MEMORY_HINT}")
        if parsed.get_driver_name() != "pysqlite":
            raise InvalidValueError(
                f"SQLStorage supports SQLite through Python's sqlite3 module only. Got "
                f"{describe_url(url)!r}; write it as 'sqlite:///{database}'."
            )
        if not database.startswith("file:"):
            directory = os.path.dirname(os.path.abspath(database))
            if not os.path.isdir(directory):
                raise InvalidValueError(
                    f"Cannot create the SQLite file {database!r}: the directory {directory!r} "
                    "does not exist. Create it first or choose another path."
                )
        return parsed
    if backend == "postgresql":
        # psycopg 3 is the supported driver; plain postgresql:// would pick psycopg2.
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidValueError(
        f"SQLStorage supports SQLite and PostgreSQL. Got {describe_url(url)!r}; use "
        "'sqlite:///hyperdial.db' or 'postgresql://user:password@host:5432/dbname'."
    )


def _install_sqlite_hooks(engine: Engine) -> None:
    # pysqlite opens transactions lazily and never with BEGIN IMMEDIATE; a deferred
    # transaction that reads and then writes can fail with "database is locked" at once,
    # whatever the busy timeout. So pysqlite's own handling is switched off and hyperdial
    # issues BEGIN itself: IMMEDIATE for writes, so writers queue on the lock up front.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(_SQLITE_BUSY_TIMEOUT_S * 1000)}")
            # WAL lets readers run alongside the single writer; NORMAL sync is durable
            # across process crashes, which is what workers need.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def create_engine(url: URL, engine_kwargs: Mapping[str, Any] | None) -> Engine:
    """Create an engine for a URL from :func:`parse_url`, with hyperdial's settings."""
    kwargs = dict(engine_kwargs or {})
    connect_args = dict(kwargs.pop("connect_args", None) or {})
    if url.get_backend_name() == "sqlite":
        connect_args.setdefault("timeout", _SQLITE_BUSY_TIMEOUT_S)
    else:
        connect_args.setdefault("connect_timeout", 10)
        # No pool_pre_ping: it costs a round trip per transaction. A connection that died
        # with a server restart fails its first statement, SQLAlchemy invalidates it, and
        # run_transaction retries the whole transaction on a fresh one.
    try:
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"SQLStorage({url.render_as_string(hide_password=True)!r}) needs the "
            f"{error.name!r} driver; install it with: pip install 'hyperdial[postgresql]'."
        ) from error
    except TypeError as error:
        raise InvalidValueError(f"Invalid engine_kwargs for SQLStorage: {error}.") from None
    if url.get_backend_name() == "sqlite":
        _install_sqlite_hooks(engine)
    return engine


def is_retryable(error: exc.DBAPIError) -> bool:
    """Whether a failed transaction may simply be run again."""
    if error.connection_invalidated:
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    message = str(error.orig).lower()
    if "sqlite" in type(error.orig).__module__:
        return "locked" in message or "busy" in message
    # PostgreSQL (psycopg): serialization failures, deadlocks, dropped connections and
    # server restarts are all OperationalError subclasses.
    return True


def _backoff(attempt: int) -> float:
    return float(min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2**attempt) * (0.5 + random.random()))


def _give_up(engine: Engine, attempt: int, reason: str, error: BaseException) -> StorageError:
    url = engine.url.render_as_string(hide_password=True)
    return StorageError(
        f"The database {url!r} kept failing after {attempt} attempts ({reason}); check "
        "that it is running and not overloaded."
    )


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error) else ""


def run_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one transaction on ``engine``, retrying it on transient errors.

    ``work`` must only touch the database through the connection it is given, so that a
    retry starts from scratch. Errors it raises on purpose roll the transaction back.
    """
    attempt = 0
    started = time.monotonic()
    while True:
        try:
            with engine.connect() as conn, conn.begin():
                return work(conn)
        except exc.DBAPIError as error:
            attempt += 1
            if not is_retryable(error):
                raise
            if attempt >= _MAX_ATTEMPTS or time.monotonic() - started > _MAX_RETRY_S:
                raise _give_up(engine, attempt, _first_line(error.orig), error) from error
            time.sleep(_backoff(attempt))


def run_on_driver(engine: Engine, work: Callable[[Any], T]) -> T:
    """Run ``work`` on a pooled connection's driver (psycopg or sqlite3) with retries.

    For the few statements every trial runs, where SQLAlchemy's own overhead would cost
    more than the database's work. ``work`` gets the bare DBAPI connection, must leave it
    outside any transaction, and must be safe to run again from scratch. Transient errors
    are retried as :func:`run_transaction` does: on PostgreSQL any operational error (a
    server restart) on a fresh connection, on SQLite a locked or busy database.
    """
    attempt = 0
    started = time.monotonic()
    while True:
        try:
            return _run_once_on_driver(engine, work)
        except Exception as error:
            if isinstance(error, exc.DBAPIError):
                # Connecting failed: SQLAlchemy wraps the driver's error.
                retry, cause = is_retryable(error), error.orig
            else:
                retry, cause = _driver_error_is_transient(engine, error), error
            if not retry:
                raise
            attempt += 1
            if attempt >= _MAX_ATTEMPTS or time.monotonic() - started > _MAX_RETRY_S:
                raise _give_up(engine, attempt, _first_line(cause), error) from error
            time.sleep(_backoff(attempt))


def _driver_error_is_transient(engine: Engine, error: Exception) -> bool:
    if engine.dialect.name == "sqlite":
        import sqlite3

        message = str(error).lower()
        return isinstance(error, sqlite3.OperationalError) and (
            "locked" in message or "busy" in message
        )
    import psycopg

    return isinstance(error, psycopg.OperationalError)


def _run_once_on_driver(engine: Engine, work: Callable[[Any], T]) -> T:
    pooled = engine.raw_connection()
    driver = pooled.driver_connection
    try:
        return work(driver)
    except Exception as error:
        if engine.dialect.name == "postgresql" and _driver_error_is_transient(engine, error):
            # A broken connection goes; a live one that failed (a server shutting down) is
            # discarded as well rather than reused in an unknown state.
            pooled.invalidate(error)
        raise
    finally:
        # ``work`` closes a connection it could not leave in a known state (psycopg's, cut
        # short by Ctrl-C mid-statement): the pool must not hand it out again.
        if getattr(driver, "closed", False) and pooled.is_valid:
            pooled.invalidate()
        pooled.close()
