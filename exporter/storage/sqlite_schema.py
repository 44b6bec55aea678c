"""SQLite schema (the seed's ``consolas`` table and indexes, plus our columns) and migrations."""

from __future__ import annotations

import sqlite3

from exporter.storage.migrations import migration_steps

#: Times are Unix seconds (REAL); JSON columns hold JSON text.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS consolas (
  id TEXT PRIMARY KEY,
  nombre TEXT NOT NULL,
  estado TEXT NOT NULL,
  estado_previo TEXT,
  sistema TEXT,
  ultima_actividad REAL,
  ultimo_error TEXT,
  video_en_proceso TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  last_seen REAL NOT NULL,
  intervalo_segundos REAL,
  inactive_after_seconds REAL NOT NULL,
  silent_deadline REAL NOT NULL,
  state_since REAL NOT NULL,
  stopped_cleanly INTEGER NOT NULL DEFAULT 0,
  hostname TEXT NOT NULL DEFAULT '',
  platform TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '',
  runtime_version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS idx_consolas_estado ON consolas(estado);
CREATE INDEX IF NOT EXISTS idx_consolas_ultima_actividad ON consolas(ultima_actividad DESC);
CREATE INDEX IF NOT EXISTS idx_consolas_last_seen ON consolas(last_seen);
CREATE INDEX IF NOT EXISTS idx_consolas_silent_deadline ON consolas(silent_deadline)
  WHERE estado != 'inactiva';
CREATE TABLE IF NOT EXISTS consolas_historial (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  console_id TEXT NOT NULL,
  at REAL NOT NULL,
  estado_anterior TEXT,
  estado TEXT NOT NULL,
  motivo TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_historial_console ON consolas_historial(console_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_historial_at ON consolas_historial(at);
"""

#: Version 2: the hash of each console's secret (issued at registration when tokens are on).
SCHEMA_V2 = "ALTER TABLE consolas ADD COLUMN secret_hash TEXT"

#: Version 3: drop the indexes on columns every heartbeat changes (``last_seen``,
#: ``silent_deadline``). Each cost a page write per heartbeat: without them the storage layer
#: takes 2.6x the heartbeats/s (bench/). The sweeper and ``/inactivas`` scan the table instead,
#: a few milliseconds at 100,000 consoles, every few seconds.
SCHEMA_V3 = """
DROP INDEX IF EXISTS idx_consolas_last_seen;
DROP INDEX IF EXISTS idx_consolas_silent_deadline
"""

#: Version 4: a maintenance window per console (until when, Unix seconds, and why); NULL when
#: the console is not in maintenance.
SCHEMA_V4 = """
ALTER TABLE consolas ADD COLUMN maintenance_until REAL;
ALTER TABLE consolas ADD COLUMN maintenance_reason TEXT
"""

#: Version 5: where the console's own /metrics answers (its ``metricas``), for Prometheus's
#: discovery; NULL when it never said (a Node console). No index: the targets read scans.
SCHEMA_V5 = """
ALTER TABLE consolas ADD COLUMN metrics_port INTEGER;
ALTER TABLE consolas ADD COLUMN metrics_path TEXT;
ALTER TABLE consolas ADD COLUMN metrics_address TEXT
"""

#: Migrations by target version; each runs once, in order, inside one transaction.
MIGRATIONS: dict[int, str] = {
    1: SCHEMA_V1, 2: SCHEMA_V2, 3: SCHEMA_V3, 4: SCHEMA_V4, 5: SCHEMA_V5,
}  # fmt: skip


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema to the current version (idempotent, concurrency-safe)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        for version, statements in migration_steps(current, MIGRATIONS):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
