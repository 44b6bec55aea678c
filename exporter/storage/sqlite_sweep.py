"""The SQLite silence sweep: the read that finds what a sweep may change (without the writer),
and the write that marks silent consoles, ends maintenances and retires, under the writer."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from exporter.storage.records import REASON_MAINTENANCE_END, REASON_SILENCE, SweepOp, SweepResult

#: The consoles a sweep may change, in one scan: a maintenance whose time is up, a console
#: silent past its threshold and its grace (not in maintenance), one to retire. ``{silent}`` is
#: :func:`_silent`'s condition.
CANDIDATES_SQL = (
    "SELECT id FROM consolas WHERE maintenance_until <= :now"
    " OR (estado != 'inactiva' AND {silent} AND :start + inactive_after_seconds <= :now"
    " AND maintenance_until IS NULL)"
    " OR (estado = 'inactiva' AND state_since < :retire AND maintenance_until IS NULL)"
)
HISTORY_SQL = (
    "INSERT INTO consolas_historial (console_id, at, estado_anterior, estado, motivo)"
    " VALUES (?, ?, ?, ?, ?)"
)


def _silent(op: SweepOp) -> str:
    silent = "silent_deadline < :now"
    if op.stale_after is not None:  # rare: only after the wall clock stepped back
        silent = f"({silent} OR last_seen > :stale)"
    return silent


def _params(op: SweepOp) -> dict[str, Any]:
    consoles = None if op.consoles is None else json.dumps(op.consoles)
    return {
        "now": op.now,
        "start": op.started_at,
        "stale": op.stale_after,
        "retire": op.retire_before,
        "consoles": consoles,
    }


def sweep_candidates(conn: sqlite3.Connection, op: SweepOp) -> SweepOp | None:
    """``op`` narrowed to the consoles a read on ``conn`` found it may change; None if none."""
    sql = CANDIDATES_SQL.format(silent=_silent(op))
    ids = tuple(row[0] for row in conn.execute(sql, _params(op)))
    if not ids:
        return None
    return dataclasses.replace(op, consoles=ids)


def sweep(conn: sqlite3.Connection, op: SweepOp) -> SweepResult:
    """Apply ``op`` in the writer's transaction: maintenances first (a console still silent
    then is marked in the same sweep), then retirement, then the silent consoles."""
    params = _params(op)
    scope = "" if op.consoles is None else " AND id IN (SELECT value FROM json_each(:consoles))"
    rows = conn.execute(
        "UPDATE consolas SET maintenance_until = NULL, maintenance_reason = NULL,"
        f" updated_at = :now WHERE maintenance_until <= :now{scope} RETURNING id, estado",
        params,
    ).fetchall()
    conn.executemany(
        HISTORY_SQL, [(r[0], op.now, r[1], r[1], REASON_MAINTENANCE_END) for r in rows]
    )
    ended = tuple(row[0] for row in rows)
    retired: tuple[str, ...] = ()
    if op.retire_before is not None:
        rows = conn.execute(
            "DELETE FROM consolas WHERE estado = 'inactiva' AND state_since < :retire"
            f" AND maintenance_until IS NULL{scope} RETURNING id",
            params,
        ).fetchall()
        conn.executemany(
            "DELETE FROM consolas_historial WHERE console_id = ?", [(row[0],) for row in rows]
        )
        retired = tuple(row[0] for row in rows)
    rows = conn.execute(
        "SELECT id, estado FROM consolas WHERE estado != 'inactiva'"
        f" AND {_silent(op)} AND :start + inactive_after_seconds <= :now"
        f" AND maintenance_until IS NULL{scope}",
        params,
    ).fetchall()
    if rows:
        conn.executemany(
            "UPDATE consolas SET estado = 'inactiva', state_since = :now, updated_at = :now,"
            " stopped_cleanly = 0 WHERE id = :id",
            [{"id": row[0], "now": op.now} for row in rows],
        )
        conn.executemany(
            HISTORY_SQL, [(row[0], op.now, row[1], "inactiva", REASON_SILENCE) for row in rows]
        )
    marked = tuple(row[0] for row in rows)
    return SweepResult(marked=marked, maintenance_ended=ended, retired=retired)
