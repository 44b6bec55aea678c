"""Schema version 5 (the consoles' /metrics endpoints): a version 4 database of either backend is
upgraded in place, keeps its consoles, and its consoles start without a known endpoint."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import psycopg

from consola_wire import MetricsEndpoint
from exporter.storage import open_storage
from exporter.storage import postgres_schema as pg
from exporter.storage import sqlite_schema as lite
from exporter.storage.migrations import SCHEMA_VERSION
from tests.support.exporters import database_for
from tests.support.storage_ops import IDS, T0, beat, register

V4_CONSOLE = (
    "INSERT INTO consolas (id, nombre, estado, created_at, updated_at, last_seen,"
    " inactive_after_seconds, silent_deadline, state_since)"
    " VALUES ('{id}', 'Consola v4', 'esperando', {t}, {t}, {t}, 600, {t}, {t})"
)


def _upgrade_and_use(database: str) -> None:
    """Open ``database`` with this exporter: migrated, old console kept, endpoints work."""
    storage = open_storage(database)
    try:
        old = storage.get_console(IDS[0])
        assert old is not None and old.nombre == "Consola v4"
        assert storage.metrics_targets(None) == []
        storage.write_batch([beat(IDS[0], T0 + 1, "ocupada")])  # no metricas: still unknown
        assert storage.metrics_targets(None) == []
        op = register(1, T0 + 2)
        endpoint = MetricsEndpoint(29100, "/metrics", "10.0.0.8")
        storage.write_batch([replace(op, registration=replace(op.registration, metricas=endpoint))])
        rows = storage.metrics_targets(None)
        assert [row[0] for row in rows] == [IDS[1]]
        assert rows[0][4:] == ("10.0.0.8", 29100, "/metrics")
    finally:
        storage.close()


def test_a_version_4_sqlite_database_is_upgraded_to_version_5(tmp_path: Path) -> None:
    database = str(tmp_path / "v4.db")
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version in range(1, 5):
            conn.executescript(lite.MIGRATIONS[version])
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute(V4_CONSOLE.format(id=IDS[0], t=T0))
    _upgrade_and_use(database)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 5
        columns = {row[1] for row in conn.execute("PRAGMA table_info(consolas)")}
    assert {"metrics_port", "metrics_path", "metrics_address"} <= columns
    assert SCHEMA_VERSION == 5


def test_a_version_4_postgresql_database_is_upgraded_to_version_5(tmp_path: Path) -> None:
    database = database_for("postgresql", tmp_path)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version in range(1, 5):
            for statement in pg.MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement.encode())
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        ts = f"to_timestamp({T0})"
        conn.execute(V4_CONSOLE.format(id=IDS[0], t=ts).encode())
    _upgrade_and_use(database)
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        assert row is not None and row[0] == 5
        names = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'consolas'"
        ).fetchall()
    assert {"metrics_port", "metrics_path", "metrics_address"} <= {n[0] for n in names}
