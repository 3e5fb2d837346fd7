"""Create or upgrade the schema on first connect, once, whatever the number of workers."""

from __future__ import annotations

import os
import random
import time

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from hyperdial.exceptions import StorageError
from hyperdial.storage._sql._engine import WRITE_OPTION, is_retryable
from hyperdial.storage._sql._models import HEAD_REVISION, VERSION_TABLE

__all__ = ["MIGRATIONS_DIR", "current_revision", "ensure_schema"]

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

# Any fixed 64-bit number: PostgreSQL advisory locks are per database, so every hyperdial
# process migrating the same database queues on this one.
_PG_ADVISORY_LOCK_KEY = 0x68797065_72646961  # "hyperdia"

_UNDEFINED_TABLE = "42P01"

_SCHEMA_ATTEMPTS = 8


def _read_revision(conn: Connection) -> str | None:
    rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return str(rows[0][0]) if rows else None


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision of the database, or None if hyperdial never ran there."""
    with engine.connect() as conn:
        try:
            return _read_revision(conn)
        except (exc.OperationalError, exc.ProgrammingError) as error:
            missing = "no such table" in str(error.orig) or (
                getattr(error.orig, "sqlstate", None) == _UNDEFINED_TABLE
            )
            if missing:
                return None
            raise


def _upgrade(conn: Connection) -> None:
    # Alembic is only imported when the schema is missing or old, which keeps opening an
    # up-to-date database to one cheap query.
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["connection"] = conn
    inspector = sa.inspect(conn)
    revision = _read_revision(conn) if inspector.has_table(VERSION_TABLE) else None
    if revision == HEAD_REVISION:
        return  # another process migrated while this one waited for the lock
    if revision is None and inspector.has_table("studies"):
        # Migrations run in one transaction, so this is not a half-made hyperdial schema
        # but another application's (Optuna uses the same table names).
        raise StorageError(
            "The database already has a 'studies' table that hyperdial did not create (no "
            f"{VERSION_TABLE} table); it may belong to another tool such as Optuna. Use "
            "a separate SQLite file or PostgreSQL database for hyperdial."
        )
    if revision is not None:
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if revision not in known:
            raise StorageError(
                f"The database schema is at revision {revision!r}, which this version of "
                "hyperdial does not know (a newer hyperdial wrote it). Upgrade hyperdial: "
                "pip install -U hyperdial."
            )
    command.upgrade(config, "head")


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database or upgrade an old one to the head revision.

    Safe when many processes start at once: the upgrade runs inside one write transaction
    that SQLite serialises (BEGIN IMMEDIATE) and PostgreSQL guards with an advisory lock,
    and each process checks the revision again once it holds the lock.
    """
    # Several processes opening a new SQLite file at once may find it locked while one of
    # them switches it to WAL, without waiting out the busy timeout: try again shortly.
    for attempt in range(_SCHEMA_ATTEMPTS):
        try:
            _ensure_schema_once(engine)
            return
        except exc.OperationalError as error:
            if attempt + 1 == _SCHEMA_ATTEMPTS or not is_retryable(error):
                raise
            time.sleep(0.05 * (attempt + 1) * (0.5 + random.random()))


def _ensure_schema_once(engine: Engine) -> None:
    if current_revision(engine) == HEAD_REVISION:
        return
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ADVISORY_LOCK_KEY}
                )
            _upgrade(conn)
