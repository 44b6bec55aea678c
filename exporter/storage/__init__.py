"""Storage backends behind one interface; :func:`open_storage` picks one from a URL."""

from __future__ import annotations

from exporter.storage.base import Storage
from exporter.storage.records import StorageUnavailableError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(database: str) -> bool:
    """True when ``database`` selects the PostgreSQL backend."""
    return database.startswith(POSTGRES_SCHEMES)


def sqlite_path(database: str) -> str:
    """The file path of a SQLite ``database`` setting (path or ``sqlite:///PATH``)."""
    prefix = "sqlite:///"
    return database[len(prefix) :] if database.startswith(prefix) else database


def open_storage(
    database: str, sqlite_synchronous: str = "full", sqlite_checkpoints: bool = True
) -> Storage:
    """Open (creating and migrating) the database named by ``database``; ``sqlite_checkpoints``
    False leaves the WAL checkpoints to another process's storage (the exporter's)."""
    if is_postgres_url(database):
        from exporter.storage.postgres import PostgresStorage

        return PostgresStorage(database)
    from exporter.storage.sqlite import SQLiteStorage

    return SQLiteStorage(
        sqlite_path(database), synchronous=sqlite_synchronous, checkpoints=sqlite_checkpoints
    )


__all__ = ["Storage", "StorageUnavailableError", "is_postgres_url", "open_storage", "sqlite_path"]
