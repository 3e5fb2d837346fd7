"""The SQL storage: SQLite for one machine, PostgreSQL for many."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import gc
import json
import os
import weakref
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hyperdial._best import is_better
from hyperdial._checks import utcnow
from hyperdial._frozen import FrozenTrial, StudyDirection, StudySummary, TrialState
from hyperdial.exceptions import (
    DuplicatedStudyError,
    MaxTrialsReached,
    StaleTrialError,
    StorageError,
    StudyNotFoundError,
    TrialNotFoundError,
    UpdateFinishedTrialError,
)
from hyperdial.space import Distribution, distribution_from_json
from hyperdial.storage._base import Storage, TrialTemplate
from hyperdial.storage._copy import copy_attrs, copy_trial, trial_from_template
from hyperdial.storage._sql import _models as m
from hyperdial.storage._sql._cache import MAX_LISTED_UNFINISHED, TrialCache
from hyperdial.storage._sql._engine import (
    WRITE_OPTION,
    create_engine,
    describe_url,
    parse_url,
    run_transaction,
)
from hyperdial.storage._sql._migrate import ensure_schema
from hyperdial.storage._sql._trial_writes import (
    PostgresTrialWrites,
    SQLiteTrialWrites,
    TrialWrites,
)

__all__ = ["SQLStorage"]

T = TypeVar("T")


def _to_json(kind: str, key: str, value: Any) -> str:
    # The same rule and message as InMemoryStorage, so code moving between the two behaves
    # alike.
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"The {kind} {key!r} must be JSON-serialisable (numbers, strings, lists, dicts, "
            f"None). Got {value!r}: {error}."
        ) from None


# Every live storage, so that one fork hook serves them all without keeping them alive.
_LIVE_STORAGES: weakref.WeakSet[SQLStorage] = weakref.WeakSet()

# Connection pools a forked child inherited from its parent. They are referenced here for
# the child's whole life, never closed nor garbage-collected: closing an inherited SQLite
# connection in the child can checkpoint and delete the write-ahead log under the parent's
# feet (SQLite's locks do not survive fork), which corrupts what the parent reads.
_INHERITED_POOLS: list[Any] = []


def _after_fork_in_child() -> None:
    for storage in list(_LIVE_STORAGES):
        storage._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
    # Cyclic garbage that holds a SQLite connection must not be collected in a child: its
    # close would run there, without the parent's locks, and may checkpoint the
    # write-ahead log the parent is reading. Frozen objects are never collected in the
    # child; the parent unfreezes them at once.
    os.register_at_fork(before=gc.freeze, after_in_parent=gc.unfreeze)


class SQLStorage(Storage):
    """Studies in a SQLite file or a PostgreSQL database, shared by any number of workers.

    The schema is created (or upgraded) on first connect. Finished trials are cached in
    this process, so re-reading a large study only fetches new and running trials.

    Args:
        url: ``sqlite:///path.db`` for a local file, or
            ``postgresql://user:password@host:5432/dbname``.
        engine_kwargs: Extra arguments for :func:`sqlalchemy.create_engine`, e.g.
            ``{"pool_size": 10}``; ``connect_args`` are merged with hyperdial's.

    Raises:
        InvalidValueError: if the URL is not a SQLite file or PostgreSQL database.
        StorageError: if the database cannot be reached.

    Example:
        >>> from hyperdial.storage import SQLStorage
        >>> storage = SQLStorage("sqlite:///hyperdial.db")  # doctest: +SKIP
        >>> study_id = storage.create_study([StudyDirection.MINIMIZE], "demo")  # doctest: +SKIP
    """

    multiprocess_safe: ClassVar[bool] = True

    def __init__(self, url: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> None:
        self._url = url
        self._engine_kwargs = dict(engine_kwargs or {})
        self._cache = TrialCache()
        self._distributions: dict[str, Distribution] = {}
        self._statements: dict[str, Any] = {}
        #: Rows of ``trials`` read by the last ``get_all_trials`` refresh (for tests).
        self._last_refresh_rows = 0
        self._engine = self._connect()
        _LIVE_STORAGES.add(self)
        # Close pooled connections when the storage is dropped without remove_session(),
        # as studies opened from a URL usually are; drivers warn about connections left
        # open. The callback holds the engine, not the storage.
        weakref.finalize(self, self._engine.dispose)

    def _connect(self) -> Engine:
        parsed = parse_url(self._url)
        engine = create_engine(parsed, self._engine_kwargs)
        try:
            ensure_schema(engine)
        except exc.OperationalError as error:
            engine.dispose()
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            hint = (
                "check that the file is readable and writable"
                if parsed.get_backend_name() == "sqlite"
                else "check that the server is running and that the host, port, user, "
                "password and database name are right"
            )
            raise StorageError(
                f"Cannot open the storage {describe_url(self._url)!r}: {reason}; {hint}."
            ) from error
        except BaseException:
            engine.dispose()
            raise
        self._is_postgres = engine.dialect.name == "postgresql"
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        # PostgreSQL reads run at READ COMMITTED, where every statement takes its own
        # snapshot anyway; autocommit spares a BEGIN and a COMMIT round trip per read.
        # SQLite keeps its BEGIN: there a transaction is what gives reads one snapshot.
        self._read_engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self._is_postgres else engine
        )
        self._trial_writes: TrialWrites = (
            PostgresTrialWrites(engine) if self._is_postgres else SQLiteTrialWrites(engine)
        )
        return engine

    def __repr__(self) -> str:
        return f"SQLStorage({describe_url(self._url)!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Engines and caches do not cross processes; a spawned worker reconnects.
        return {"url": self._url, "engine_kwargs": self._engine_kwargs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], engine_kwargs=state["engine_kwargs"])  # type: ignore[misc]

    def _after_fork_in_child(self) -> None:
        # The parent's pooled connections must not be used (nor closed) by the child: give
        # the engine a new pool so that the child opens its own.
        _INHERITED_POOLS.append(self._engine.pool)
        self._engine.dispose(close=False)
        self._cache.reset_lock()

    def remove_session(self) -> None:
        self._engine.dispose()

    # -- plumbing --------------------------------------------------------------------------

    def _read(self, work: Callable[[Connection], T]) -> T:
        return run_transaction(self._read_engine, work)

    def _write(self, work: Callable[[Connection], T]) -> T:
        return run_transaction(self._write_engine, work)

    def _now_value(self) -> Any:
        """The current time as a value for INSERT/UPDATE: the database clock on PostgreSQL.

        On SQLite it is a ``now`` parameter that :meth:`_params` fills in at execution, so
        that statements using it can still be built once and cached.
        """
        if self._is_postgres:
            return sa.func.timezone("utc", sa.func.now())
        return sa.bindparam("now", type_=sa.DateTime())

    def _lease_end_value(self) -> Any:
        """When a lease of ``lease_s`` seconds (a parameter) started now ends.

        Like :meth:`_now_value`: the database clock on PostgreSQL, a parameter that
        :meth:`_params` fills in on SQLite.
        """
        if self._is_postgres:
            seconds = sa.bindparam("lease_s", type_=sa.Float())
            return sa.func.timezone("utc", sa.func.now()) + sa.func.make_interval(
                0, 0, 0, 0, 0, 0, seconds
            )
        return sa.bindparam("lease_until", type_=sa.DateTime())

    def _params(self, **params: Any) -> dict[str, Any]:
        """Execution parameters, with the clock for SQLite statements that read ``now``."""
        if not self._is_postgres:
            now = params["now"] = utcnow()
            if params.get("lease_s") is not None:
                params["lease_until"] = now + datetime.timedelta(seconds=params["lease_s"])
        return params

    def now(self) -> datetime.datetime:
        if not self._is_postgres:
            return utcnow()
        value = self._read(
            lambda conn: conn.execute(
                sa.select(sa.func.timezone("utc", sa.func.now()))
            ).scalar_one()
        )
        assert isinstance(value, datetime.datetime)
        return value

    def _insert(self) -> Callable[[sa.Table], Any]:
        return postgresql.insert if self._is_postgres else sqlite.insert

    def _statement(self, key: str, build: Callable[[], Any]) -> Any:
        """Return the statement cached under ``key``, building it on first use.

        Building a SQLAlchemy statement costs several times what executing a prepared one
        does; the statements of ask and tell are built once per storage.
        """
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self._statements[key] = build()
        return stmt

    def _upsert(
        self, conn: Connection, table: sa.Table, keys: Sequence[str], rows: list[dict[str, Any]]
    ) -> None:
        if not rows:
            return

        def build() -> Any:
            stmt = self._insert()(table)
            updates = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys}
            return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)

        conn.execute(self._statement(f"upsert:{table.name}", build), rows)

    @staticmethod
    def _study_exists(conn: Connection, study_id: int) -> bool:
        query = sa.select(m.studies.c.study_id).where(m.studies.c.study_id == study_id)
        return conn.execute(query).first() is not None

    @classmethod
    def _check_study(cls, conn: Connection, study_id: int) -> None:
        if not cls._study_exists(conn, study_id):
            raise StudyNotFoundError(f"No study with id {study_id}.")

    def _distribution(self, text: str) -> Distribution:
        # Thousands of trials share a handful of distributions: parse each JSON text once.
        dist = self._distributions.get(text)
        if dist is None:
            dist = self._distributions[text] = distribution_from_json(text)
        return dist

    # -- studies ---------------------------------------------------------------------------

    def create_study(self, directions: Sequence[StudyDirection], study_name: str) -> int:
        directions = list(directions)

        def work(conn: Connection) -> int:
            taken = conn.execute(
                sa.select(m.studies.c.study_id).where(m.studies.c.study_name == study_name)
            ).first()
            if taken is not None:
                raise DuplicatedStudyError(f"A study named {study_name!r} already exists.")
            study_id = conn.execute(
                sa.insert(m.studies)
                .values(study_name=study_name, next_trial_number=0, datetime_create=utcnow())
                .returning(m.studies.c.study_id)
            ).scalar_one()
            if directions:
                conn.execute(
                    sa.insert(m.study_directions),
                    [
                        {"study_id": study_id, "objective": i, "direction": d.value}
                        for i, d in enumerate(directions)
                    ],
                )
            return int(study_id)

        try:
            return self._write(work)
        except exc.IntegrityError:
            # Another process created the same name between our check and our insert.
            raise DuplicatedStudyError(f"A study named {study_name!r} already exists.") from None

    def delete_study(self, study_id: int) -> None:
        def work(conn: Connection) -> None:
            self._check_study(conn, study_id)
            # Children are deleted explicitly rather than by ON DELETE CASCADE, which SQLite
            # only honours with PRAGMA foreign_keys on every connection.
            trial_ids = sa.select(m.trials.c.trial_id).where(m.trials.c.study_id == study_id)
            for table in (
                m.trial_values,
                m.trial_params,
                m.trial_intermediate_values,
                m.trial_user_attrs,
                m.trial_system_attrs,
            ):
                conn.execute(sa.delete(table).where(table.c.trial_id.in_(trial_ids)))
            for table in (m.trials, m.study_directions, m.study_user_attrs, m.study_system_attrs):
                conn.execute(sa.delete(table).where(table.c.study_id == study_id))
            conn.execute(sa.delete(m.studies).where(m.studies.c.study_id == study_id))

        self._write(work)
        with self._cache.lock:
            self._cache.forget_study(study_id)

    def get_study_id(self, study_name: str) -> int:
        query = sa.select(m.studies.c.study_id).where(m.studies.c.study_name == study_name)
        study_id = self._read(lambda conn: conn.execute(query).scalar_one_or_none())
        if study_id is None:
            raise StudyNotFoundError(f"No study named {study_name!r}.")
        return int(study_id)

    def get_study_name(self, study_id: int) -> str:
        query = sa.select(m.studies.c.study_name).where(m.studies.c.study_id == study_id)
        name = self._read(lambda conn: conn.execute(query).scalar_one_or_none())
        if name is None:
            raise StudyNotFoundError(f"No study with id {study_id}.")
        return str(name)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        def work(conn: Connection) -> list[StudyDirection]:
            self._check_study(conn, study_id)
            rows = conn.execute(
                sa.select(m.study_directions.c.direction)
                .where(m.study_directions.c.study_id == study_id)
                .order_by(m.study_directions.c.objective)
            ).scalars()
            return [StudyDirection(d) for d in rows]

        return self._read(work)

    def list_studies(self) -> list[StudySummary]:
        t, v = m.trials, m.trial_values

        def work(conn: Connection) -> list[StudySummary]:
            studies = conn.execute(
                sa.select(m.studies.c.study_id, m.studies.c.study_name).order_by(
                    m.studies.c.study_id
                )
            ).all()
            directions: dict[int, list[StudyDirection]] = defaultdict(list)
            for row in conn.execute(
                sa.select(m.study_directions).order_by(
                    m.study_directions.c.study_id, m.study_directions.c.objective
                )
            ):
                directions[row.study_id].append(StudyDirection(row.direction))
            user_attrs: dict[int, dict[str, Any]] = defaultdict(dict)
            for row in conn.execute(sa.select(m.study_user_attrs)):
                user_attrs[row.study_id][row.key] = json.loads(row.value_json)
            counts = {
                row.study_id: (int(row.n), row.start)
                for row in conn.execute(
                    sa.select(
                        t.c.study_id,
                        sa.func.count().label("n"),
                        sa.func.min(t.c.datetime_start).label("start"),
                    ).group_by(t.c.study_id)
                )
            }
            # The best trial by the rule of best_trial_of (first value, lowest number on
            # ties), computed from one narrow query instead of loading every trial.
            best: dict[int, tuple[int, float]] = {}
            for row in conn.execute(
                sa.select(t.c.study_id, t.c.trial_id, v.c.value, v.c.value_type)
                .join(v, v.c.trial_id == t.c.trial_id)
                .where(t.c.state == TrialState.COMPLETE.value, v.c.objective == 0)
                .order_by(t.c.study_id, t.c.number)
            ):
                dirs = directions[row.study_id]
                if len(dirs) != 1:
                    continue
                value = m.decode_float(row.value, row.value_type)
                current = best.get(row.study_id)
                if current is None or is_better(value, current[1], dirs[0]):
                    best[row.study_id] = (row.trial_id, value)
            best_trials = {
                study_id: self._load_trials(conn, t.c.trial_id == trial_id)[0]
                for study_id, (trial_id, _) in best.items()
            }
            return [
                StudySummary(
                    study_name=row.study_name,
                    study_id=row.study_id,
                    directions=list(directions[row.study_id]),
                    n_trials=counts.get(row.study_id, (0, None))[0],
                    best_trial=best_trials.get(row.study_id),
                    datetime_start=counts.get(row.study_id, (0, None))[1],
                    user_attrs=user_attrs[row.study_id],
                )
                for row in studies
            ]

        return self._read(work)

    def _set_study_attr(self, table: sa.Table, study_id: int, key: str, text: str) -> None:
        def work(conn: Connection) -> None:
            self._check_study(conn, study_id)
            self._upsert(
                conn,
                table,
                ("study_id", "key"),
                [{"study_id": study_id, "key": key, "value_json": text}],
            )

        self._write(work)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        text = _to_json("study user attribute", key, value)
        self._set_study_attr(m.study_user_attrs, study_id, key, text)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        text = _to_json("study system attribute", key, value)
        self._set_study_attr(m.study_system_attrs, study_id, key, text)

    def set_study_system_attr_if_absent(self, study_id: int, key: str, value: Any) -> bool:
        text = _to_json("study system attribute", key, value)

        def work(conn: Connection) -> bool:
            self._check_study(conn, study_id)
            # The primary key decides the race: exactly one INSERT gets a row in.
            stmt = self._insert()(m.study_system_attrs).values(
                study_id=study_id, key=key, value_json=text
            )
            # RETURNING rather than rowcount, which drivers report unreliably for upserts.
            inserted = conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["study_id", "key"]).returning(
                    m.study_system_attrs.c.key
                )
            ).first()
            return inserted is not None

        return self._write(work)

    def _get_study_attrs(self, table: sa.Table, study_id: int) -> dict[str, Any]:
        def work(conn: Connection) -> dict[str, Any]:
            self._check_study(conn, study_id)
            rows = conn.execute(
                sa.select(table.c.key, table.c.value_json).where(table.c.study_id == study_id)
            )
            return {row.key: json.loads(row.value_json) for row in rows}

        return self._read(work)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._get_study_attrs(m.study_user_attrs, study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._get_study_attrs(m.study_system_attrs, study_id)

    # -- writing trials --------------------------------------------------------------------

    @staticmethod
    def _attr_rows(trial_id: int, kind: str, attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {"trial_id": trial_id, "key": key, "value_json": _to_json(kind, key, value)}
            for key, value in attrs.items()
        ]

    @staticmethod
    def _value_rows(trial_id: int, values: Sequence[float]) -> list[dict[str, Any]]:
        rows = []
        for objective, value in enumerate(values):
            stored, value_type = m.encode_float(value)
            rows.append(
                {
                    "trial_id": trial_id,
                    "objective": objective,
                    "value": stored,
                    "value_type": value_type,
                }
            )
        return rows

    @staticmethod
    def _intermediate_rows(trial_id: int, values: Mapping[int, float]) -> list[dict[str, Any]]:
        rows = []
        for step, value in values.items():
            stored, value_type = m.encode_float(value)
            rows.append(
                {
                    "trial_id": trial_id,
                    "step": int(step),
                    "value": stored,
                    "value_type": value_type,
                }
            )
        return rows

    @staticmethod
    def _template_param_rows(trial_id: int, template: TrialTemplate) -> list[dict[str, Any]]:
        # Template params are external values, kept verbatim as JSON so that an enqueued
        # value reads back exactly as given, with or without a distribution.
        rows = []
        for name in {**template.params, **template.distributions}:
            dist = template.distributions.get(name)
            row: dict[str, Any] = {
                "trial_id": trial_id,
                "param_name": name,
                "param_value": None,
                "distribution_json": None if dist is None else json.dumps(dist.to_json()),
                "external_json": None,
            }
            if name in template.params:
                value = template.params[name]
                row["external_json"] = _to_json("parameter", name, value)
                if dist is not None:
                    # A value outside the distribution still stands as the external value.
                    with contextlib.suppress(TypeError, ValueError):
                        row["param_value"] = dist.to_internal(value)
            rows.append(row)
        return rows

    def _insert_trial(
        self,
        conn: Connection,
        study_id: int,
        template: TrialTemplate,
        rows: _TemplateRows,
        max_trials: int | None = None,
    ) -> FrozenTrial:
        """Insert a trial with the study's next number, inside the caller's transaction.

        Raises:
            MaxTrialsReached: inserting nothing, if the number would reach ``max_trials``.
        """
        state = template.state
        # Taking the number and inserting the trial in one transaction, with the counter
        # row locked by the UPDATE, keeps numbers unique and contiguous; the budget check is
        # part of the same UPDATE, so concurrent workers cannot overshoot it.
        studies = m.studies
        limited = max_trials is not None

        def build_bump() -> Any:
            stmt = sa.update(studies).where(studies.c.study_id == sa.bindparam("sid"))
            if limited:
                stmt = stmt.where(studies.c.next_trial_number < sa.bindparam("limit"))
            return stmt.values(next_trial_number=studies.c.next_trial_number + 1).returning(
                studies.c.next_trial_number
            )

        bump = self._statement(f"bump-number:{limited}", build_bump)
        counter = conn.execute(
            bump, {"sid": study_id, "limit": max_trials} if limited else {"sid": study_id}
        ).scalar_one_or_none()
        if counter is None:
            self._check_study(conn, study_id)
            raise MaxTrialsReached(f"The study already holds max_trials={max_trials} trials.")
        started = state != TrialState.WAITING
        finished = state.is_finished()
        leased = state == TrialState.RUNNING and template.lease is not None
        trials = m.trials

        def build_insert() -> Any:
            now = self._now_value()
            return (
                sa.insert(trials)
                .values(
                    study_id=sa.bindparam("sid"),
                    number=sa.bindparam("number"),
                    state=sa.bindparam("state"),
                    datetime_start=now if started else None,
                    datetime_complete=now if finished else None,
                    lease_expires=self._lease_end_value() if leased else None,
                )
                .returning(trials.c.trial_id, trials.c.datetime_start, trials.c.datetime_complete)
            )

        stmt = self._statement(f"insert-trial:{started}:{finished}:{leased}", build_insert)
        params: dict[str, Any] = {"sid": study_id, "number": counter - 1, "state": state.value}
        if leased:
            params["lease_s"] = template.lease
        row = conn.execute(stmt, self._params(**params) if started else params).one()
        trial_id = int(row.trial_id)
        for table, table_rows in (
            (m.trial_user_attrs, rows.user),
            (m.trial_system_attrs, rows.system),
            (m.trial_params, rows.params),
            (m.trial_values, rows.values),
            (m.trial_intermediate_values, rows.reports),
        ):
            if table_rows:
                conn.execute(
                    self._statement(f"insert:{table.name}", functools.partial(sa.insert, table)),
                    [{**r, "trial_id": trial_id} for r in table_rows],
                )
        return trial_from_template(
            template,
            number=int(counter) - 1,
            trial_id=trial_id,
            state=state,
            datetime_start=row.datetime_start,
            datetime_complete=row.datetime_complete,
        )

    def create_trial(self, study_id: int, template: TrialTemplate | None = None) -> FrozenTrial:
        template = template or TrialTemplate()
        # Serialise everything first: a bad value raises before anything is written.
        rows = _TemplateRows(self, template)

        def work(conn: Connection) -> FrozenTrial:
            if self._is_postgres and not template.state.is_finished():
                _skip_commit_flush(conn)
            return self._insert_trial(conn, study_id, template, rows)

        return self._write(work)

    def start_trial(
        self,
        study_id: int,
        template: TrialTemplate | None = None,
        *,
        max_trials: int | None = None,
    ) -> FrozenTrial:
        # Claim-or-create in one transaction: the common ask costs one write, not a read for
        # the queue and then a write.
        template = template or TrialTemplate()
        rows = _TemplateRows(self, template)
        if rows.only_system_attrs(template):
            return self._start_trial_fast(study_id, template, rows, max_trials)

        def work(conn: Connection) -> FrozenTrial:
            if self._is_postgres:
                _skip_commit_flush(conn)
            claimed = self._claim(conn, study_id, template.lease, rows.system)
            if claimed is not None:
                return claimed
            return self._insert_trial(conn, study_id, template, rows, max_trials)

        return self._write(work)

    def _start_trial_fast(
        self,
        study_id: int,
        template: TrialTemplate,
        rows: _TemplateRows,
        max_trials: int | None,
    ) -> FrozenTrial:
        """Claim or create a RUNNING trial for ask, on the driver (see ``_trial_writes``)."""
        started = self._trial_writes.start(study_id, rows.system, template.lease, max_trials)
        if started is None:
            self._read(lambda conn: self._check_study(conn, study_id))
            raise MaxTrialsReached(f"The study already holds max_trials={max_trials} trials.")
        if started.claimed:
            # An enqueued trial carries its own parameters and attributes: read it whole.
            t = m.trials
            return self._read(
                lambda conn: self._load_trials(conn, t.c.trial_id == started.trial_id)[0]
            )
        return FrozenTrial(
            number=started.number,
            trial_id=started.trial_id,
            state=TrialState.RUNNING,
            system_attrs=copy_attrs(template.system_attrs),
            datetime_start=started.datetime_start,
        )

    def _claim(
        self,
        conn: Connection,
        study_id: int,
        lease: float | None,
        system_rows: Sequence[dict[str, Any]] = (),
    ) -> FrozenTrial | None:
        """Turn the oldest WAITING trial RUNNING inside the caller's transaction.

        ``system_rows`` (a start template's system attributes, such as the worker) are
        added to the claimed trial.
        """
        t = m.trials
        leased = lease is not None

        def build() -> Any:
            oldest = (
                sa.select(t.c.trial_id)
                .where(t.c.study_id == sa.bindparam("sid"), t.c.state == TrialState.WAITING.value)
                .order_by(t.c.number)
                .limit(1)
            )
            if self._is_postgres:
                # Concurrent claimers skip each other's locked row instead of queueing on
                # it; SQLite needs nothing since BEGIN IMMEDIATE serialises writers.
                oldest = oldest.with_for_update(skip_locked=True)
            return (
                sa.update(t)
                .where(t.c.trial_id == oldest.scalar_subquery())
                .where(t.c.state == TrialState.WAITING.value)
                .values(
                    state=TrialState.RUNNING.value,
                    datetime_start=sa.func.coalesce(t.c.datetime_start, self._now_value()),
                    lease_expires=self._lease_end_value() if leased else None,
                )
                .returning(t.c.trial_id)
            )

        bound = self._params(sid=study_id, lease_s=lease) if leased else self._params(sid=study_id)
        trial_id = conn.execute(
            self._statement(f"claim:{leased}", build), bound
        ).scalar_one_or_none()
        if trial_id is None:
            return None
        if system_rows:
            rows = [{**row, "trial_id": trial_id} for row in system_rows]
            self._upsert(conn, m.trial_system_attrs, ("trial_id", "key"), rows)
        return self._load_trials(conn, t.c.trial_id == trial_id)[0]

    def claim_waiting_trial(
        self, study_id: int, *, lease: float | None = None
    ) -> FrozenTrial | None:
        t = m.trials

        def anything_waiting(conn: Connection) -> bool:
            waiting = sa.select(t.c.trial_id).where(
                t.c.study_id == study_id, t.c.state == TrialState.WAITING.value
            )
            if conn.execute(waiting.limit(1)).first() is not None:
                return True
            self._check_study(conn, study_id)
            return False

        # Most calls find nothing queued: a read (no write lock, no commit to flush) answers
        # that, and only a likely claim pays for a write transaction.
        if not self._read(anything_waiting):
            return None

        def work(conn: Connection) -> FrozenTrial | None:
            if self._is_postgres:
                _skip_commit_flush(conn)
            claimed = self._claim(conn, study_id, lease)
            if claimed is None:
                self._check_study(conn, study_id)
            return claimed

        return self._write(work)

    def _reject_update(self, conn: Connection, trial_id: int) -> None:
        row = conn.execute(
            sa.select(m.trials.c.number, m.trials.c.state).where(m.trials.c.trial_id == trial_id)
        ).first()
        if row is None:
            raise TrialNotFoundError(f"No trial with id {trial_id}.")
        attrs = dict(
            conn.execute(
                sa.select(m.trial_system_attrs.c.key, m.trial_system_attrs.c.value_json).where(
                    m.trial_system_attrs.c.trial_id == trial_id,
                    m.trial_system_attrs.c.key.in_(["stale", "fail_reason"]),
                )
            ).all()
        )
        if "stale" in attrs:
            reason = json.loads(attrs.get("fail_reason", "null"))
            raise StaleTrialError(
                f"Trial {row.number} was failed as stale ({reason}); this late write is "
                "rejected and nothing was changed."
            )
        raise UpdateFinishedTrialError(
            f"Trial {row.number} is already {row.state}; finished trials cannot change."
        )

    def update_trial(
        self,
        trial_id: int,
        *,
        params: Mapping[str, tuple[float, Distribution]] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        state: TrialState | None = None,
        values: Sequence[float] | None = None,
    ) -> None:
        user_rows = self._attr_rows(trial_id, "trial user attribute", user_attrs or {})
        system_rows = self._attr_rows(trial_id, "trial system attribute", system_attrs or {})
        param_rows = [
            {
                "trial_id": trial_id,
                "param_name": name,
                "param_value": float(internal),
                "distribution_json": json.dumps(dist.to_json()),
                "external_json": None,
            }
            for name, (internal, dist) in (params or {}).items()
        ]
        report_rows = self._intermediate_rows(trial_id, intermediate_values or {})
        value_rows = None if values is None else self._value_rows(trial_id, values)
        children = {
            "params": param_rows,
            "reports": report_rows,
            "user": user_rows,
            "system": system_rows,
            "values": value_rows or [],
        }
        # The state check and the state change are one UPDATE: of two workers finishing
        # the same trial, the second finds no unfinished row and writes nothing.
        if not self._trial_writes.finish(trial_id, state, children):
            self._read(lambda conn: self._reject_update(conn, trial_id))

    # -- leases ----------------------------------------------------------------------------

    def renew_leases(self, trial_ids: Sequence[int], seconds: float) -> list[int]:
        wanted = [int(t) for t in trial_ids]
        if not wanted:
            return []
        t = m.trials

        def build() -> Any:
            return (
                sa.update(t)
                .where(
                    t.c.trial_id.in_(sa.bindparam("ids", expanding=True)),
                    t.c.state == TrialState.RUNNING.value,
                )
                .values(lease_expires=self._lease_end_value())
                .returning(t.c.trial_id)
            )

        def work(conn: Connection) -> set[int]:
            if self._is_postgres:
                # A renewal forgotten by a server crash only shortens one lease.
                _skip_commit_flush(conn)
            stmt = self._statement("renew-leases", build)
            rows = conn.execute(stmt, self._params(ids=wanted, lease_s=float(seconds)))
            return {int(row.trial_id) for row in rows}

        renewed = self._write(work)
        return [trial_id for trial_id in wanted if trial_id not in renewed]

    def fail_stale_trials(
        self,
        study_id: int,
        *,
        reason: str,
        trial_ids: Sequence[int] | None = None,
        retry: Callable[[FrozenTrial], TrialTemplate | None] | None = None,
    ) -> list[tuple[FrozenTrial, FrozenTrial | None]]:
        t = m.trials
        running = sa.and_(t.c.study_id == study_id, t.c.state == TrialState.RUNNING.value)
        if trial_ids is None:
            lost: sa.ColumnElement[bool] = t.c.lease_expires < self._now_value()
        else:
            lost = t.c.trial_id.in_([int(i) for i in trial_ids])

        # Most calls find nothing: a read answers that without taking the write lock.
        def find(conn: Connection) -> list[int]:
            query = sa.select(t.c.trial_id).where(running, lost).order_by(t.c.number)
            return [int(row.trial_id) for row in conn.execute(query, self._params())]

        candidates = self._read(find)
        if not candidates:
            return []

        def work(conn: Connection) -> list[tuple[FrozenTrial, FrozenTrial | None]]:
            results: list[tuple[FrozenTrial, FrozenTrial | None]] = []
            for trial_id in candidates:
                # Judged again under the write lock: of several reapers, one wins each trial.
                claim = (
                    sa.update(t)
                    .where(t.c.trial_id == trial_id, running, lost)
                    .values(state=TrialState.FAIL.value, datetime_complete=self._now_value())
                )
                if conn.execute(claim, self._params()).rowcount != 1:
                    continue
                failed = self._load_trials(conn, t.c.trial_id == trial_id)[0]
                template = None if retry is None else retry(failed)
                retried = None
                if template is not None:
                    rows = _TemplateRows(self, template)
                    retried = self._insert_trial(conn, study_id, template, rows)
                attrs: dict[str, Any] = {"fail_reason": reason, "stale": True}
                if retried is not None:
                    attrs["retried_as"] = retried.number
                self._upsert(
                    conn,
                    m.trial_system_attrs,
                    ("trial_id", "key"),
                    self._attr_rows(trial_id, "trial system attribute", attrs),
                )
                failed = dataclasses.replace(failed, system_attrs={**failed.system_attrs, **attrs})
                results.append((failed, retried))
            return results

        return self._write(work)

    # -- reading trials --------------------------------------------------------------------

    def _load_trials(
        self,
        conn: Connection,
        where: sa.ColumnElement[bool],
        study_ids: dict[int, int] | None = None,
    ) -> list[FrozenTrial]:
        """Read the trials matching ``where`` (on ``trials``), in number order.

        If ``study_ids`` is given, it is filled with each trial's study id.

        One query for the trials and one per child table, each joined to ``trials`` with the
        same condition: a constant number of round trips however many trials match.
        """
        t = m.trials
        rows = conn.execute(
            sa.select(
                t.c.trial_id,
                t.c.study_id,
                t.c.number,
                t.c.state,
                t.c.datetime_start,
                t.c.datetime_complete,
            )
            .where(where)
            .order_by(t.c.number)
        ).all()
        if not rows:
            return []
        if study_ids is not None:
            study_ids.update((row.trial_id, row.study_id) for row in rows)

        def children(table: sa.Table, *columns: str) -> Iterable[Any]:
            query = (
                sa.select(table.c.trial_id, *(table.c[c] for c in columns))
                .join(t, t.c.trial_id == table.c.trial_id)
                .where(where)
            )
            return conn.execute(query)

        # Rows for trials created after the first query (READ COMMITTED) are skipped by the
        # ``in wanted`` checks below.
        wanted = {row.trial_id for row in rows}
        params: dict[int, dict[str, Any]] = defaultdict(dict)
        dists: dict[int, dict[str, Distribution]] = defaultdict(dict)
        for row in children(
            m.trial_params, "param_name", "param_value", "distribution_json", "external_json"
        ):
            if row.trial_id not in wanted:
                continue
            dist = None
            if row.distribution_json is not None:
                dist = dists[row.trial_id][row.param_name] = self._distribution(
                    row.distribution_json
                )
            if row.external_json is not None:
                params[row.trial_id][row.param_name] = json.loads(row.external_json)
            elif dist is not None and row.param_value is not None:
                params[row.trial_id][row.param_name] = dist.to_external(row.param_value)
        values: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for row in children(m.trial_values, "objective", "value", "value_type"):
            if row.trial_id in wanted:
                values[row.trial_id].append(
                    (row.objective, m.decode_float(row.value, row.value_type))
                )
        reports: dict[int, dict[int, float]] = defaultdict(dict)
        for row in children(m.trial_intermediate_values, "step", "value", "value_type"):
            if row.trial_id in wanted:
                reports[row.trial_id][row.step] = m.decode_float(row.value, row.value_type)
        attrs: list[dict[int, dict[str, Any]]] = []
        for table in (m.trial_user_attrs, m.trial_system_attrs):
            by_trial: dict[int, dict[str, Any]] = defaultdict(dict)
            for row in children(table, "key", "value_json"):
                if row.trial_id in wanted:
                    by_trial[row.trial_id][row.key] = json.loads(row.value_json)
            attrs.append(by_trial)

        trials = []
        for row in rows:
            tid = row.trial_id
            trial_values = values.get(tid)
            trials.append(
                FrozenTrial(
                    number=row.number,
                    trial_id=tid,
                    state=TrialState(row.state),
                    values=None if trial_values is None else [v for _, v in sorted(trial_values)],
                    params=params.get(tid, {}),
                    distributions=dists.get(tid, {}),
                    user_attrs=attrs[0].get(tid, {}),
                    system_attrs=attrs[1].get(tid, {}),
                    intermediate_values=dict(sorted(reports.get(tid, {}).items())),
                    datetime_start=row.datetime_start,
                    datetime_complete=row.datetime_complete,
                )
            )
        return trials

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._cache.lock:
            cached = self._cache.finished.get(trial_id)
        if cached is not None:
            return copy_trial(cached)
        study_ids: dict[int, int] = {}
        found = self._read(
            lambda conn: self._load_trials(conn, m.trials.c.trial_id == trial_id, study_ids)
        )
        if not found:
            raise TrialNotFoundError(f"No trial with id {trial_id}.")
        trial = found[0]
        if trial.state.is_finished():
            with self._cache.lock:
                self._cache.add_finished(study_ids[trial_id], trial)
            return copy_trial(trial)
        return trial

    def get_trial_id(self, study_id: int, number: int) -> int:
        with self._cache.lock:
            cached = self._cache.studies.get(study_id)
            if cached is not None and 0 <= number < cached.watermark:
                return cached.trials[number].trial_id

        def work(conn: Connection) -> int:
            trial_id = conn.execute(
                sa.select(m.trials.c.trial_id).where(
                    m.trials.c.study_id == study_id, m.trials.c.number == number
                )
            ).scalar_one_or_none()
            if trial_id is None:
                name = conn.execute(
                    sa.select(m.studies.c.study_name).where(m.studies.c.study_id == study_id)
                ).scalar_one_or_none()
                if name is None:
                    raise StudyNotFoundError(f"No study with id {study_id}.")
                raise TrialNotFoundError(f"Study {name!r} has no trial number {number}.")
            return int(trial_id)

        return self._read(work)

    def _refresh(self, study_id: int) -> list[FrozenTrial]:
        """Bring a study's cache up to date and return all its trials, in number order."""
        t = m.trials
        with self._cache.lock:
            cached = self._cache.study(study_id)
            if len(cached.unfinished) > MAX_LISTED_UNFINISHED:
                since = min(cached.unfinished.values())
                stale: sa.ColumnElement[bool] = t.c.number >= since
            elif cached.unfinished:
                stale = sa.or_(
                    t.c.number >= cached.watermark, t.c.trial_id.in_(list(cached.unfinished))
                )
            else:
                stale = t.c.number >= cached.watermark
            where = sa.and_(t.c.study_id == study_id, stale)

            def work(conn: Connection) -> list[FrozenTrial]:
                # Checked in the same transaction: a study deleted by another process must
                # not be served from this process's cache.
                self._check_study(conn, study_id)
                return self._load_trials(conn, where)

            try:
                fetched = self._read(work)
            except StudyNotFoundError:
                self._cache.forget_study(study_id)
                raise
            self._last_refresh_rows = len(fetched)
            cached.merge(fetched)
            for trial in fetched:
                if trial.state.is_finished():
                    self._cache.add_finished(study_id, trial)
            return list(cached.trials)

    def get_all_trials(
        self,
        study_id: int,
        *,
        states: Container[TrialState] | None = None,
        deepcopy: bool = True,
    ) -> list[FrozenTrial]:
        trials = self._refresh(study_id)
        if states is not None:
            trials = [trial for trial in trials if trial.state in states]
        return [copy_trial(trial) for trial in trials] if deepcopy else trials

    def get_n_trials(self, study_id: int, states: Container[TrialState] | None = None) -> int:
        t = m.trials
        query = sa.select(sa.func.count()).select_from(t).where(t.c.study_id == study_id)
        if states is not None:
            query = query.where(t.c.state.in_([s.value for s in TrialState if s in states]))

        def work(conn: Connection) -> int:
            count = int(conn.execute(query).scalar_one())
            if count == 0:
                self._check_study(conn, study_id)
            return count

        return self._read(work)


class _TemplateRows:
    """A template's rows for the child tables, serialised before any transaction starts."""

    def __init__(self, storage: SQLStorage, template: TrialTemplate) -> None:
        self.user = storage._attr_rows(0, "trial user attribute", template.user_attrs)
        self.system = storage._attr_rows(0, "trial system attribute", template.system_attrs)
        self.params = storage._template_param_rows(0, template)
        self.values = storage._value_rows(0, template.values or [])
        self.reports = storage._intermediate_rows(0, template.intermediate_values)

    def only_system_attrs(self, template: TrialTemplate) -> bool:
        """Whether a RUNNING template carries nothing but system attributes (as ask's)."""
        return template.state == TrialState.RUNNING and not (
            self.user or self.params or self.values or self.reports
        )


def _skip_commit_flush(conn: Connection) -> None:
    """Let this PostgreSQL transaction commit without waiting for its WAL flush.

    Used only where a trial starts (created or claimed RUNNING). A crash of the server
    itself within a fraction of a second could forget such a start, never a finished trial:
    WAL is flushed in order, so the commit that finishes a trial flushes every start before
    it. It halves the fsync waits per trial.
    """
    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
