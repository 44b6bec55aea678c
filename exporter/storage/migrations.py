"""The schema version this exporter writes, and the walk from an older version to it."""

from __future__ import annotations

from collections.abc import Iterator

SCHEMA_VERSION = 5


def migration_steps(current: int, migrations: dict[int, str]) -> Iterator[tuple[int, list[str]]]:
    """The ``(version, statements)`` still to apply to a schema at version ``current``, in order.

    RuntimeError when the database is newer than this exporter.
    """
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this exporter ({SCHEMA_VERSION})"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        yield version, [sql for sql in migrations[version].split(";") if sql.strip()]
