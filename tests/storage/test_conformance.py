"""Every storage hyperdial ships passes the conformance suite."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import hyperdial.storage
from hyperdial.storage import InMemoryStorage, SQLStorage, Storage
from hyperdial.testing.storages import StorageConformance


class TestInMemoryStorage(StorageConformance):
    storage_class = InMemoryStorage

    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        yield InMemoryStorage()


class TestSQLiteStorage(StorageConformance):
    storage_class = SQLStorage

    @pytest.fixture
    def storage(self, migrated_sqlite_db: Any) -> Iterator[Storage]:
        storage = migrated_sqlite_db.open()
        yield storage
        storage.remove_session()


@pytest.mark.postgres
class TestPostgresStorage(StorageConformance):
    storage_class = SQLStorage

    @pytest.fixture
    def storage(self, migrated_postgres_db: Any) -> Iterator[Storage]:
        storage = migrated_postgres_db.open()
        yield storage
        storage.remove_session()


def test_every_exported_storage_runs_the_conformance_suite() -> None:
    covered = {
        cls.storage_class
        for cls in vars(sys.modules[__name__]).values()
        if inspect.isclass(cls)
        and issubclass(cls, StorageConformance)
        and cls is not StorageConformance
    }
    exported = {
        obj
        for name in hyperdial.storage.__all__
        if inspect.isclass(obj := getattr(hyperdial.storage, name))
        and issubclass(obj, Storage)
        and not inspect.isabstract(obj)
    }
    assert exported, "hyperdial.storage exports no storage at all"
    missing = sorted(cls.__name__ for cls in exported - covered)
    assert not missing, (
        f"{missing} are exported by hyperdial.storage but not run through the conformance "
        "suite; add a StorageConformance subclass for each to this module."
    )
