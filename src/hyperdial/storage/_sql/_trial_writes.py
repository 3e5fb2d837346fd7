"""The two writes every trial makes, its start and its finish, on the driver directly.

With dozens of workers on a few cores, per-statement overhead, not the database's work,
bounds how many trials a second a study runs. SQLAlchemy's Core costs several times what
the driver does for these small statements, and on PostgreSQL a transaction of separate
statements costs a round trip each. So the start and the finish of a trial bypass it:

* PostgreSQL: each is one statement (CTEs) run in autocommit, one round trip. Child rows
  travel as one JSON text per kind, expanded server-side (far cheaper to send than an
  array per column, which psycopg adapts element by element), so a statement's text
  depends only on which kinds of rows a call carries and psycopg prepares each variant
  once per connection.
* SQLite: a few plain statements in one ``BEGIN IMMEDIATE`` transaction on the sqlite3
  connection, datetimes formatted exactly as SQLAlchemy stores them.

Both read and write the tables of ``_models`` and nothing else; everything else the
storage does goes through SQLAlchemy.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

from hyperdial._checks import utcnow
from hyperdial._frozen import TrialState
from hyperdial.storage._sql import _models as m
from hyperdial.storage._sql._engine import run_on_driver

__all__ = ["CHILD_TABLES", "PostgresTrialWrites", "SQLiteTrialWrites", "Started", "TrialWrites"]

#: Tables of rows hanging off a trial, by the name :meth:`TrialWrites.finish` knows them.
CHILD_TABLES: dict[str, sa.Table] = {
    "params": m.trial_params,
    "reports": m.trial_intermediate_values,
    "user": m.trial_user_attrs,
    "system": m.trial_system_attrs,
    "values": m.trial_values,
}

T = TypeVar("T")

_RUNNING = TrialState.RUNNING.value
_WAITING = TrialState.WAITING.value
_UNFINISHED = f"('{_RUNNING}', '{_WAITING}')"


@dataclasses.dataclass(frozen=True)
class Started:
    """What :meth:`TrialWrites.start` returns about the trial it started."""

    trial_id: int
    number: int
    datetime_start: datetime.datetime
    #: Whether an enqueued (WAITING) trial was claimed rather than a new one created.
    claimed: bool


class TrialWrites(Protocol):
    """Start and finish trials; the storage's fast path for ask and tell."""

    def start(
        self,
        study_id: int,
        system_rows: Sequence[Mapping[str, Any]],
        lease_s: float | None,
        max_trials: int | None,
    ) -> Started | None:
        """Claim the oldest WAITING trial, or number and insert a new RUNNING one.

        ``system_rows`` (``key``, ``value_json``) are written on the started trial. Returns
        None, writing nothing, when the study is missing or holds ``max_trials`` trials.
        """

    def finish(
        self,
        trial_id: int,
        new_state: TrialState | None,
        children: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> bool:
        """Set an unfinished trial's state (None keeps it) and upsert its child rows.

        ``children`` holds row dicts per key of :data:`CHILD_TABLES`. Returns False, writing
        nothing, if the trial is missing or already finished.
        """


@functools.cache
def _key_and_columns(table: sa.Table) -> tuple[str, list[str]]:
    """A child table's key column (besides ``trial_id``) and its columns, key first."""
    (key,) = [c.name for c in table.primary_key.columns if c.name != "trial_id"]
    rest = [c.name for c in table.c if c.name not in ("trial_id", key)]
    return key, [key, *rest]


# -- PostgreSQL --------------------------------------------------------------------------

_PG_NOW = "timezone('utc', now())"


def _pg_type(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.Double):
        return "float8"
    if isinstance(column.type, sa.Integer):
        return "int4"
    return "text"


def _pg_upsert_cte(kind: str, source: str) -> str:
    """A CTE inserting the rows of JSON parameter ``%(kind)s`` for each trial of ``source``."""
    table = CHILD_TABLES[kind]
    key, columns = _key_and_columns(table)
    names = ", ".join(columns)
    record = ", ".join(f"{c} {_pg_type(table.c[c])}" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (
        f"new_{kind} AS (INSERT INTO {table.name} (trial_id, {names}) "
        f"SELECT s.trial_id, {names} FROM {source} s, "
        f"json_to_recordset(%({kind})s::json) AS x({record}) "
        f"ON CONFLICT (trial_id, {key}) DO UPDATE SET {updates})"
    )


def _pg_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    # Floats are written in their shortest exact form, which PostgreSQL's float8 input
    # reads back bit for bit; non-finite values never get here (see encode_float).
    return json.dumps(list(rows))


@functools.cache
def _pg_start_statement(leased: bool, limited: bool) -> str:
    lease = f"{_PG_NOW} + make_interval(secs => %(lease_s)s)" if leased else "NULL"
    limit = " AND next_trial_number < %(limit)s" if limited else ""
    # The start commits without waiting for its WAL flush (synchronous_commit off for this
    # transaction only): a crash of the server itself within a fraction of a second could
    # forget a start, never a finished trial, since WAL is flushed in order and the commit
    # that finishes a trial flushes every start before it.
    #
    # Concurrent claimers skip each other's locked WAITING row instead of queueing on it.
    # The study's counter row is bumped only when nothing was claimed; it stays locked
    # until the commit, which this single statement reaches in one round trip.
    return f"""
        WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS setting),
        claimed AS (
            UPDATE trials SET state = '{_RUNNING}',
                datetime_start = coalesce(datetime_start, {_PG_NOW}), lease_expires = {lease}
            WHERE trial_id = (
                SELECT trial_id FROM trials
                WHERE study_id = %(sid)s AND state = '{_WAITING}'
                ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED
            ) AND state = '{_WAITING}'
            RETURNING trial_id, number, datetime_start
        ), n AS (
            UPDATE studies SET next_trial_number = next_trial_number + 1
            WHERE study_id = %(sid)s{limit} AND NOT EXISTS (SELECT 1 FROM claimed)
            RETURNING next_trial_number - 1 AS number
        ), ins AS (
            INSERT INTO trials (study_id, number, state, datetime_start, lease_expires)
            SELECT %(sid)s, n.number, '{_RUNNING}', {_PG_NOW}, {lease} FROM n
            RETURNING trial_id, number, datetime_start
        ), started AS (
            SELECT trial_id, number, datetime_start, false AS claimed FROM ins
            UNION ALL
            SELECT trial_id, number, datetime_start, true FROM claimed
        ), {_pg_upsert_cte("system", "started")}
        SELECT s.trial_id, s.number, s.datetime_start, s.claimed
        FROM started s, cfg WHERE cfg.setting IS NOT NULL
    """


@functools.cache
def _state_update(new_state: TrialState | None, placeholder: str, now: str) -> str:
    """The UPDATE that sets an unfinished trial's state, in either dialect.

    ``placeholder`` formats a parameter's name (``"%({})s"`` or ``":{}"``); ``now`` is the
    SQL for the current time. ``new_state`` None keeps the state: the row is still
    checked, and locked, as unfinished. The state check and the state change are one
    UPDATE: of two workers finishing the same trial, the second finds no unfinished row,
    and writes nothing.
    """
    param = placeholder.format
    changes = ["state = state" if new_state is None else f"state = {param('new_state')}"]
    if new_state is not None and new_state.is_finished():
        changes.append(f"datetime_complete = {now}")
    if new_state == TrialState.RUNNING:
        changes.append(f"datetime_start = coalesce(datetime_start, {now})")
    return (
        f"UPDATE trials SET {', '.join(changes)} "
        f"WHERE trial_id = {param('tid')} AND state IN {_UNFINISHED}"
    )


@functools.cache
def _pg_finish_statement(new_state: TrialState | None, kinds: tuple[str, ...]) -> str:
    # Every insert joins on the updated row: nothing is written to a finished trial.
    ctes = [f"u AS ({_state_update(new_state, '%({})s', _PG_NOW)} RETURNING trial_id)"]
    ctes += [_pg_upsert_cte(kind, "u") for kind in kinds]
    return f"WITH {', '.join(ctes)} SELECT count(*) FROM u"


class PostgresTrialWrites:
    """:class:`TrialWrites` for PostgreSQL: one statement, one round trip, each."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(
        self,
        study_id: int,
        system_rows: Sequence[Mapping[str, Any]],
        lease_s: float | None,
        max_trials: int | None,
    ) -> Started | None:
        params: dict[str, Any] = {"sid": study_id, "system": _pg_rows(system_rows)}
        if lease_s is not None:
            params["lease_s"] = float(lease_s)
        if max_trials is not None:
            params["limit"] = max_trials
        query = _pg_start_statement(lease_s is not None, max_trials is not None)
        rows = run_on_driver(self._engine, lambda driver: _pg_fetch(driver, query, params))
        if not rows:
            return None
        trial_id, number, datetime_start, claimed = rows[0]
        return Started(int(trial_id), int(number), datetime_start, bool(claimed))

    def finish(
        self,
        trial_id: int,
        new_state: TrialState | None,
        children: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> bool:
        kinds = tuple(kind for kind, rows in children.items() if rows)
        params: dict[str, Any] = {"tid": trial_id}
        if new_state is not None:
            params["new_state"] = new_state.value
        for kind in kinds:
            params[kind] = _pg_rows(children[kind])
        query = _pg_finish_statement(new_state, kinds)
        rows = run_on_driver(self._engine, lambda driver: _pg_fetch(driver, query, params))
        return bool(rows[0][0] == 1)


def _pg_fetch(driver: Any, query: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    # Autocommit: the statement is its own transaction, committed with its one round trip.
    driver.autocommit = True
    try:
        return driver.execute(query, params).fetchall()  # type: ignore[no-any-return]
    finally:
        # Back to transactions, as SQLAlchemy expects of a pooled connection. If that fails
        # (the connection broke, or an interrupt left the statement running), close it:
        # run_on_driver then drops it from the pool, and the first error is the one raised.
        try:
            driver.autocommit = False
        except Exception:
            driver.close()


# -- SQLite ------------------------------------------------------------------------------

_SQLITE_DIALECT = sqlite.dialect()
#: SQLAlchemy's own text form of a DateTime on SQLite, so that it reads these back alike.
_sqlite_datetime: Callable[[datetime.datetime], str] = (
    sa.DateTime().dialect_impl(_SQLITE_DIALECT).bind_processor(_SQLITE_DIALECT)  # type: ignore[assignment]
)


@functools.cache
def _sqlite_upsert(kind: str) -> str:
    table = CHILD_TABLES[kind]
    key, columns = _key_and_columns(table)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table.name} (trial_id, {', '.join(columns)}) "
        f"VALUES (:trial_id, {', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT (trial_id, {key}) DO UPDATE SET {updates}"
    )


_SQLITE_CLAIM = f"""
    UPDATE trials SET state = '{_RUNNING}',
        datetime_start = coalesce(datetime_start, :now), lease_expires = :lease
    WHERE trial_id = (
        SELECT trial_id FROM trials WHERE study_id = :sid AND state = '{_WAITING}'
        ORDER BY number LIMIT 1
    ) AND state = '{_WAITING}'
    RETURNING trial_id, number
"""
_SQLITE_BUMP = """
    UPDATE studies SET next_trial_number = next_trial_number + 1
    WHERE study_id = :sid AND (:limit IS NULL OR next_trial_number < :limit)
    RETURNING next_trial_number - 1
"""
_SQLITE_INSERT = f"""
    INSERT INTO trials (study_id, number, state, datetime_start, lease_expires)
    VALUES (:sid, :number, '{_RUNNING}', :now, :lease) RETURNING trial_id
"""


class SQLiteTrialWrites:
    """:class:`TrialWrites` for SQLite: one ``BEGIN IMMEDIATE`` transaction each."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(
        self,
        study_id: int,
        system_rows: Sequence[Mapping[str, Any]],
        lease_s: float | None,
        max_trials: int | None,
    ) -> Started | None:
        now = utcnow()
        lease = None if lease_s is None else now + datetime.timedelta(seconds=lease_s)
        bound = {
            "sid": study_id,
            "now": _sqlite_datetime(now),
            "lease": None if lease is None else _sqlite_datetime(lease),
            "limit": max_trials,
        }

        def work(cur: Any) -> Started | None:
            row = cur.execute(_SQLITE_CLAIM, bound).fetchone()
            if row is not None:
                started = Started(int(row[0]), int(row[1]), now, claimed=True)
            else:
                bumped = cur.execute(_SQLITE_BUMP, bound).fetchone()
                if bumped is None:
                    return None
                number = int(bumped[0])
                (trial_id,) = cur.execute(_SQLITE_INSERT, {**bound, "number": number}).fetchone()
                started = Started(int(trial_id), number, now, claimed=False)
            if system_rows:
                rows = [{**r, "trial_id": started.trial_id} for r in system_rows]
                cur.executemany(_sqlite_upsert("system"), rows)
            return started

        return run_on_driver(self._engine, lambda driver: _sqlite_transaction(driver, work))

    def finish(
        self,
        trial_id: int,
        new_state: TrialState | None,
        children: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> bool:
        bound: dict[str, Any] = {"tid": trial_id}
        if new_state is not None:
            bound["new_state"] = new_state.value
            bound["now"] = _sqlite_datetime(utcnow())
        update = _state_update(new_state, ":{}", ":now")

        def work(cur: Any) -> bool:
            if cur.execute(update, bound).rowcount != 1:
                return False
            for kind, rows in children.items():
                if rows:
                    cur.executemany(_sqlite_upsert(kind), rows)
            return True

        return run_on_driver(self._engine, lambda driver: _sqlite_transaction(driver, work))


def _sqlite_transaction(driver: Any, work: Callable[[Any], T]) -> T:
    """Run ``work`` with a cursor in one write transaction; roll back what it did not want.

    The connection is in sqlite3's autocommit mode (hyperdial issues BEGIN itself), so a
    result of None or False, or an error, leaves nothing behind.
    """
    cur = driver.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE")
        try:
            result = work(cur)
            if result is None or result is False:
                driver.rollback()
            else:
                cur.execute("COMMIT")
        except BaseException:
            driver.rollback()
            raise
        return result
    finally:
        cur.close()
