"""Turning what a user passes as ``storage=`` into a :class:`Storage`."""

from __future__ import annotations

from hyperdial.exceptions import InvalidValueError
from hyperdial.storage._base import Storage
from hyperdial.storage._memory import InMemoryStorage

__all__ = ["get_storage"]


def get_storage(storage: str | Storage | None) -> Storage:
    """Return a storage for a URL, an existing storage, or None (in memory).

    Example:
        >>> get_storage("sqlite:///hyperdial.db")  # doctest: +SKIP
        SQLStorage('sqlite:///hyperdial.db')
    """
    if storage is None or storage == ":memory:":
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if isinstance(storage, str):
        scheme = storage.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme in ("sqlite", "postgresql", "postgres"):
            from hyperdial.storage._sql import SQLStorage

            return SQLStorage(storage)
    raise InvalidValueError(
        "storage must be None (in memory), a Storage, or a URL starting with 'sqlite:///' or "
        f"'postgresql://'. Got {storage!r}; for a local file use 'sqlite:///hyperdial.db'."
    )
