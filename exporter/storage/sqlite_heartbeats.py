"""A run of SQLite heartbeats that keep their state, applied in one statement.

Nearly every heartbeat repeats its console's state. One ``UPDATE ... FROM (VALUES ...)`` per run
of distinct consoles replaces one statement per heartbeat: one statement looked up, bound and
run by the writer per run, the rows changed inside SQLite without the GIL. Its SET is
what every heartbeat sets (``_HEARTBEAT_SET`` in sqlite.py) with each parameter read from the
heartbeat's row of ``b``; the values are bound, never spliced, so every number and string is
stored exactly as one at a time would be. ``estado`` is not assigned, so
SQLite leaves its ``idx_consolas_estado`` entry alone (assigning it, even unchanged, rewrites an
index page: a third more pages written per heartbeat, bench/README.md).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from exporter.storage.backend_support import heartbeat_values
from exporter.storage.records import HeartbeatOp

#: The parameters of a heartbeat row, in the order of ``b``'s columns.
COLUMNS = (
    "id", "estado", "sistema", "actividad", "error", "video", "now", "intervalo", "dflt",
    "stopped", "hostname", "platform", "arch", "version", "mport", "mpath", "maddr",
)  # fmt: skip
#: Rows per statement (bound parameters stay far below SQLite's 32,766).
MAX_ROWS = 256
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps_json(value: Any) -> str | None:
    """JSON text as stored in the JSON columns (None stays NULL)."""
    return None if value is None else _ENCODER.encode(value)


def heartbeat_params(op: HeartbeatOp) -> dict[str, Any]:
    """The named parameters of the heartbeat statements (JSON as text, times as Unix seconds)."""
    params = heartbeat_values(op)
    actividad = params["actividad"]
    params["sistema"] = dumps_json(params["sistema"])
    params["error"] = dumps_json(params["error"])
    params["actividad"] = actividad.timestamp() if actividad is not None else None
    return params


@functools.cache
def same_state_sql(rows: int) -> str:
    """The statement for ``rows`` heartbeats (``rows`` a power of two: few distinct texts for
    SQLite's statement cache; rows of NULLs fill a shorter run and match nothing)."""
    row = "(" + ",".join("?" * len(COLUMNS)) + ")"
    return f"""
WITH b({", ".join(COLUMNS)}) AS (VALUES {",".join([row] * rows)})
UPDATE consolas SET
  estado_previo = consolas.estado,
  sistema = COALESCE(b.sistema, consolas.sistema),
  ultima_actividad = b.actividad,
  ultimo_error = b.error,
  video_en_proceso = b.video,
  updated_at = b.now,
  last_seen = b.now,
  intervalo_segundos = COALESCE(b.intervalo, consolas.intervalo_segundos),
  inactive_after_seconds
    = COALESCE(2 * COALESCE(b.intervalo, consolas.intervalo_segundos), b.dflt),
  silent_deadline
    = b.now + COALESCE(2 * COALESCE(b.intervalo, consolas.intervalo_segundos), b.dflt),
  stopped_cleanly = b.stopped,
  hostname = COALESCE(b.hostname, consolas.hostname),
  platform = COALESCE(b.platform, consolas.platform),
  arch = COALESCE(b.arch, consolas.arch),
  runtime_version = COALESCE(b.version, consolas.runtime_version),
  metrics_port = COALESCE(b.mport, consolas.metrics_port),
  metrics_path = COALESCE(b.mpath, consolas.metrics_path),
  metrics_address = COALESCE(b.maddr, consolas.metrics_address),
  state_since = CASE WHEN consolas.video_en_proceso IS NOT b.video THEN b.now
                     ELSE consolas.state_since END
FROM b
WHERE consolas.id = b.id AND consolas.estado = b.estado
"""


def apply_same_state(conn: sqlite3.Connection, params: Sequence[dict[str, Any]]) -> set[str]:
    """Apply the heartbeats (``heartbeat_params`` of distinct consoles) whose console is in the
    state they report; the ids applied. The others changed nothing.

    Each statement's count comes from ``total_changes`` (no RETURNING rows: each is one
    ``sqlite3_step``, one GIL hand-off); only a chunk with a heartbeat not applied reads its
    consoles' states back. The statement leaves ``estado`` alone, so "applied" (the console
    exists in the reported state) reads the same after it as before."""
    applied: set[str] = set()
    for start in range(0, len(params), MAX_ROWS):
        chunk = params[start : start + MAX_ROWS]
        rows = 1 << (len(chunk) - 1).bit_length()
        values: list[Any] = [p[name] for p in chunk for name in COLUMNS]
        values.extend([None] * (len(COLUMNS) * (rows - len(chunk))))
        before = conn.total_changes
        conn.execute(same_state_sql(rows), values)
        if conn.total_changes - before == len(chunk):
            applied.update(p["id"] for p in chunk)
        else:
            applied.update(_in_reported_state(conn, chunk))
    return applied


def _in_reported_state(conn: sqlite3.Connection, chunk: Sequence[dict[str, Any]]) -> set[str]:
    """The ids of ``chunk`` whose console exists in the state its heartbeat reports."""
    reported = {p["id"]: p["estado"] for p in chunk}
    marks = ",".join("?" * len(reported))
    rows = conn.execute(f"SELECT id, estado FROM consolas WHERE id IN ({marks})", list(reported))
    return {row[0] for row in rows if reported[row[0]] == row[1]}
