"""The PostgreSQL backend's statements: the console columns the reads return, the batched
heartbeat statement, registration, the silence sweep, maintenance and history rows."""

from __future__ import annotations

CONSOLE_COLUMNS = (
    "id::text, nombre, estado, sistema, extract(epoch FROM ultima_actividad)::float8,"
    " ultimo_error, video_en_proceso, extract(epoch FROM created_at)::float8,"
    " extract(epoch FROM updated_at)::float8, extract(epoch FROM last_seen)::float8,"
    " intervalo_segundos, inactive_after_seconds, extract(epoch FROM state_since)::float8,"
    " stopped_cleanly, extract(epoch FROM maintenance_until)::float8, maintenance_reason,"
    " metrics_port, metrics_path, metrics_address"
)

#: A run of heartbeats of distinct consoles in one round trip: ``%(batch)s`` is a JSON array of
#: objects (see :func:`_heartbeat_element`). Rows are locked in id order (no deadlock with another
#: exporter), the history gets one row per changed state, and the ids found come back.
HEARTBEATS_SQL = """
WITH b AS (
  SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb) AS b(
    id uuid, estado text, sistema jsonb, actividad timestamptz, error jsonb, video text,
    now timestamptz, intervalo float8, dflt float8, stopped boolean, hostname text,
    platform text, arch text, version text, mport int, mpath text, maddr text)
), old AS (
  SELECT c.id, c.estado, c.video_en_proceso, c.intervalo_segundos
  FROM consolas c JOIN b ON c.id = b.id ORDER BY c.id FOR UPDATE OF c
), upd AS (
  UPDATE consolas c SET
    estado_previo = old.estado,
    estado = b.estado,
    sistema = COALESCE(b.sistema, c.sistema),
    ultima_actividad = b.actividad,
    ultimo_error = b.error,
    video_en_proceso = b.video,
    updated_at = b.now,
    last_seen = b.now,
    intervalo_segundos = COALESCE(b.intervalo, old.intervalo_segundos),
    inactive_after_seconds = COALESCE(2 * COALESCE(b.intervalo, old.intervalo_segundos), b.dflt),
    silent_deadline = b.now + make_interval(secs => COALESCE(
        2 * COALESCE(b.intervalo, old.intervalo_segundos), b.dflt)),
    state_since = CASE WHEN old.estado IS DISTINCT FROM b.estado
                         OR old.video_en_proceso IS DISTINCT FROM b.video
                       THEN b.now ELSE c.state_since END,
    stopped_cleanly = b.stopped,
    hostname = COALESCE(b.hostname, c.hostname),
    platform = COALESCE(b.platform, c.platform),
    arch = COALESCE(b.arch, c.arch),
    runtime_version = COALESCE(b.version, c.runtime_version),
    metrics_port = COALESCE(b.mport, c.metrics_port),
    metrics_path = COALESCE(b.mpath, c.metrics_path),
    metrics_address = COALESCE(b.maddr, c.metrics_address)
  FROM b, old
  WHERE c.id = b.id AND old.id = b.id
  RETURNING c.id, old.estado AS previo, b.estado, b.now
), history AS (
  INSERT INTO consolas_historial (console_id, at, estado_anterior, estado, motivo)
  SELECT id, now, previo, estado,
         CASE WHEN estado = %(inactiva)s THEN %(goodbye)s ELSE %(heartbeat)s END
  FROM upd WHERE previo IS DISTINCT FROM estado ORDER BY id
)
SELECT id::text FROM upd
"""

#: The row a registration updates, locked; the secret tells whether the id is enrolled.
SELECT_FOR_REGISTRATION = (
    "SELECT estado, video_en_proceso, secret_hash FROM consolas WHERE id = %s FOR UPDATE"
)

REGISTER_INSERT_SQL = """
INSERT INTO consolas (id, nombre, estado, sistema, ultima_actividad, created_at, updated_at,
  last_seen, intervalo_segundos, inactive_after_seconds, silent_deadline, state_since,
  stopped_cleanly, hostname, platform, arch, runtime_version, secret_hash, metrics_port,
  metrics_path, metrics_address)
VALUES (%(id)s, %(nombre)s, %(estado)s, %(sistema)s::jsonb, %(actividad)s::timestamptz, %(now)s,
  %(now)s, %(now)s, %(intervalo)s::float8, %(threshold)s, %(deadline)s, %(now)s, FALSE,
  %(hostname)s, %(platform)s, %(arch)s, %(version)s, %(secret_hash)s::text, %(mport)s::int,
  %(mpath)s::text, %(maddr)s::text)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

REGISTER_UPDATE_SQL = """
UPDATE consolas SET nombre = %(nombre)s, estado = %(estado)s, sistema = %(sistema)s::jsonb,
  ultima_actividad = %(actividad)s::timestamptz, ultimo_error = NULL, video_en_proceso = NULL,
  updated_at = %(now)s, last_seen = %(now)s, intervalo_segundos = %(intervalo)s::float8,
  inactive_after_seconds = %(threshold)s, silent_deadline = %(deadline)s,
  state_since = CASE WHEN %(changed)s THEN %(now)s ELSE state_since END,
  stopped_cleanly = FALSE, hostname = %(hostname)s, platform = %(platform)s, arch = %(arch)s,
  runtime_version = %(version)s, secret_hash = COALESCE(%(secret_hash)s::text, secret_hash),
  metrics_port = %(mport)s::int, metrics_path = %(mpath)s::text, metrics_address = %(maddr)s::text
WHERE id = %(id)s
"""

#: The consoles a sweep may change, in one scan on a reader (see sqlite_sweep.CANDIDATES_SQL);
#: ``{silent}`` as in :data:`SWEEP_SQL`. The sweep's statements take ``{scope}``: nothing, or
#: :data:`SWEEP_SCOPE` to touch only those consoles (each condition still checked).
SWEEP_CANDIDATES_SQL = """
SELECT id::text FROM consolas WHERE maintenance_until <= %(now)s
   OR (estado != 'inactiva' AND ({silent}) AND maintenance_until IS NULL
       AND %(start)s + make_interval(secs => inactive_after_seconds) <= %(now)s)
   OR (estado = 'inactiva' AND state_since < %(before)s AND maintenance_until IS NULL)
"""
SWEEP_SCOPE = " AND id = ANY(%(consoles)s::uuid[])"

SWEEP_SQL = """
UPDATE consolas c SET estado = 'inactiva', state_since = %(now)s, updated_at = %(now)s,
  stopped_cleanly = FALSE
FROM (SELECT id, estado FROM consolas
      WHERE estado != 'inactiva' AND ({silent}) AND maintenance_until IS NULL
        AND %(start)s + make_interval(secs => inactive_after_seconds) <= %(now)s{scope}
      FOR UPDATE SKIP LOCKED) old
WHERE c.id = old.id
RETURNING c.id::text, old.estado
"""

HISTORY_SQL = (
    "INSERT INTO consolas_historial (console_id, at, estado_anterior, estado, motivo)"
    " VALUES (%s, %s, %s, %s, %s)"
)

#: Start or move a maintenance (``until`` set) or end it (``until`` NULL): the console's state
#: and whether it was in maintenance before, or no row for an unknown console.
MAINTENANCE_SQL = """
UPDATE consolas c SET maintenance_until = %(until)s, maintenance_reason = %(reason)s,
  updated_at = %(now)s
FROM (SELECT id, estado, maintenance_until IS NOT NULL AS was FROM consolas
      WHERE id = %(id)s FOR UPDATE) old
WHERE c.id = old.id
RETURNING old.estado, old.was
"""

#: End every maintenance whose time is up; the consoles and their states.
END_MAINTENANCES_SQL = """
UPDATE consolas SET maintenance_until = NULL, maintenance_reason = NULL, updated_at = %(now)s
WHERE maintenance_until <= %(now)s{scope}
RETURNING id::text, estado
"""

#: Retire consoles ``inactiva`` since before ``%(before)s`` (not in maintenance), with history.
RETIRE_SQL = """
WITH gone AS (
  DELETE FROM consolas WHERE estado = 'inactiva' AND state_since < %(before)s
    AND maintenance_until IS NULL{scope}
  RETURNING id
), history AS (
  DELETE FROM consolas_historial h USING gone WHERE h.console_id = gone.id
)
SELECT id::text FROM gone
"""
