"""Storages: where studies and trials live.

* :class:`InMemoryStorage`: one process, nothing kept after it ends.
* :class:`SQLStorage`: SQLite (a file, the default for the CLI) or PostgreSQL, shared by
  any number of worker processes and machines.

:func:`get_storage` turns a URL into a storage: ``None`` or ``":memory:"`` for memory,
``sqlite:///path.db`` or ``postgresql://user@host/db`` for SQL.
"""

from __future__ import annotations

from hyperdial.storage._base import Storage, TrialTemplate
from hyperdial.storage._memory import InMemoryStorage
from hyperdial.storage._sql import SQLStorage
from hyperdial.storage._url import get_storage

__all__ = ["InMemoryStorage", "SQLStorage", "Storage", "TrialTemplate", "get_storage"]
