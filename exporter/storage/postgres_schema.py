"""PostgreSQL schema (the seed's ``consolas`` table and indexes, plus ours) and migrations."""

from __future__ import annotations

import psycopg

from exporter.storage.migrations import migration_steps

#: Any constant shared by every exporter process: serialises concurrent migrations.
MIGRATION_LOCK_ID = 0x636F6E73

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS consolas (
  id UUID PRIMARY KEY,
  nombre VARCHAR(255) NOT NULL,
  estado VARCHAR(50) NOT NULL,
  estado_previo VARCHAR(50),
  sistema JSONB,
  ultima_actividad TIMESTAMP WITH TIME ZONE,
  ultimo_error JSONB,
  video_en_proceso VARCHAR(500),
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  last_seen TIMESTAMP WITH TIME ZONE NOT NULL,
  intervalo_segundos DOUBLE PRECISION,
  inactive_after_seconds DOUBLE PRECISION NOT NULL,
  silent_deadline TIMESTAMP WITH TIME ZONE NOT NULL,
  state_since TIMESTAMP WITH TIME ZONE NOT NULL,
  stopped_cleanly BOOLEAN NOT NULL DEFAULT FALSE,
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
  id BIGSERIAL PRIMARY KEY,
  console_id UUID NOT NULL,
  at TIMESTAMP WITH TIME ZONE NOT NULL,
  estado_anterior VARCHAR(50),
  estado VARCHAR(50) NOT NULL,
  motivo VARCHAR(50) NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_historial_console ON consolas_historial(console_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_historial_at ON consolas_historial(at);
"""

#: Version 2: the hash of each console's secret (issued at registration when tokens are on).
SCHEMA_V2 = "ALTER TABLE consolas ADD COLUMN IF NOT EXISTS secret_hash TEXT"

#: Version 3: drop the indexes on columns every heartbeat changes (see sqlite_schema.SCHEMA_V3).
SCHEMA_V3 = """
DROP INDEX IF EXISTS idx_consolas_last_seen;
DROP INDEX IF EXISTS idx_consolas_silent_deadline
"""

#: Version 4: a maintenance window per console (see sqlite_schema.SCHEMA_V4).
SCHEMA_V4 = """
ALTER TABLE consolas ADD COLUMN IF NOT EXISTS maintenance_until TIMESTAMP WITH TIME ZONE;
ALTER TABLE consolas ADD COLUMN IF NOT EXISTS maintenance_reason VARCHAR(500)
"""

#: Version 5: the console's /metrics endpoint (see sqlite_schema.SCHEMA_V5).
SCHEMA_V5 = """
ALTER TABLE consolas ADD COLUMN IF NOT EXISTS metrics_port INTEGER;
ALTER TABLE consolas ADD COLUMN IF NOT EXISTS metrics_path VARCHAR(255);
ALTER TABLE consolas ADD COLUMN IF NOT EXISTS metrics_address VARCHAR(253)
"""

MIGRATIONS: dict[int, str] = {
    1: SCHEMA_V1, 2: SCHEMA_V2, 3: SCHEMA_V3, 4: SCHEMA_V4, 5: SCHEMA_V5,
}  # fmt: skip


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create or upgrade the schema to the current version, one process at a time."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(str(row[0])) if row and row[0] is not None else 0
        for version, statements in migration_steps(current, MIGRATIONS):
            for statement in statements:
                conn.execute(statement.encode())
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
