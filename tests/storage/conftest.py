"""Fixtures for storage tests: SQLite files and isolated PostgreSQL schemas."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The conformance suite lives in the package; have pytest rewrite its asserts so failures
# show the values compared.
pytest.register_assert_rewrite("hyperdial.testing.storages")

POSTGRES_URL = os.environ.get(
    "HYPERDIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SKIP_POSTGRES = os.environ.get("HYPERDIAL_SKIP_POSTGRES") == "1"


@dataclass
class Database:
    """Where a test's storage lives: pass both to ``SQLStorage``."""

    url: str
    engine_kwargs: dict[str, Any] = field(default_factory=dict)

    def open(self) -> Any:
        from hyperdial.storage import SQLStorage

        return SQLStorage(self.url, engine_kwargs=self.engine_kwargs)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    """A path for a new SQLite file; the storage creates it."""
    return Database(f"sqlite:///{tmp_path / 'hyperdial.db'}")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hyperdial.db"
    Database(f"sqlite:///{path}").open().remove_session()
    return path


@pytest.fixture
def migrated_sqlite_db(tmp_path: Path, _sqlite_template: Path) -> Database:
    """An empty SQLite file with the schema in place (copied, as migrating costs time)."""
    path = tmp_path / "hyperdial.db"
    shutil.copyfile(_sqlite_template, path)
    return Database(f"sqlite:///{path}")


def _libpq_url(url: str) -> str:
    # psycopg.connect takes libpq URLs, without SQLAlchemy's driver suffix.
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


@contextlib.contextmanager
def _postgres_schema() -> Iterator[Database]:
    """Create a schema in the test PostgreSQL database, and drop it afterwards."""
    if SKIP_POSTGRES:
        pytest.skip("HYPERDIAL_SKIP_POSTGRES=1")
    import psycopg

    schema = f"hyperdial_test_{uuid.uuid4().hex[:16]}"
    conninfo = _libpq_url(POSTGRES_URL)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL!r} is unreachable ({reason}); start it, "
            "point HYPERDIAL_TEST_POSTGRES_URL at one, or set HYPERDIAL_SKIP_POSTGRES=1.",
            pytrace=False,
        )
    try:
        yield Database(POSTGRES_URL, {"connect_args": {"options": f"-csearch_path={schema}"}})
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_db() -> Iterator[Database]:
    """A new, empty schema in the test PostgreSQL database; the storage creates tables."""
    with _postgres_schema() as database:
        yield database


@pytest.fixture(scope="session")
def _postgres_shared() -> Iterator[Database]:
    with _postgres_schema() as database:
        database.open().remove_session()
        yield database


@pytest.fixture
def migrated_postgres_db(_postgres_shared: Database) -> Database:
    """A PostgreSQL schema with the tables in place and no rows.

    The tables are emptied rather than recreated for each test, as migrating costs time.
    """
    import sqlalchemy as sa

    from hyperdial.storage._sql._models import metadata

    url = "postgresql+psycopg://" + _postgres_shared.url.split("://", 1)[1]
    engine = sa.create_engine(url, **_postgres_shared.engine_kwargs)
    try:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()
    return _postgres_shared


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> Database:
    """Each SQL backend in turn."""
    fixture: Callable[..., Database] = request.getfixturevalue
    return fixture(f"{request.param}_db")
