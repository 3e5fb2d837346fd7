"""SQL storage (SQLite, PostgreSQL) with its schema migrations."""

from __future__ import annotations

from hyperdial.storage._sql._storage import SQLStorage

__all__ = ["SQLStorage"]
