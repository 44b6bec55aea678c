"""SQLite backend: one file in WAL mode, one writer connection, pooled readers."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consola_wire import STATE_INACTIVA
from exporter.storage.backend_support import (
    TARGETS_SQL,
    console_record,
    endpoint_values,
    group_heartbeats,
    picked_rows,
    sistema_identity,
    threshold_for,
)
from exporter.storage.base import Storage
from exporter.storage.pool import ConnectionPool
from exporter.storage.records import (
    REASON_GOODBYE,
    REASON_HEARTBEAT,
    REASON_MAINTENANCE,
    REASON_MAINTENANCE_END,
    REASON_REGISTRATION,
    ConsoleRecord,
    Credential,
    DeleteOp,
    FleetChanges,
    FleetPick,
    FoundResult,
    HeartbeatOp,
    HistoryEntry,
    MaintenanceOp,
    PruneResult,
    RegisterOp,
    RegisterResult,
    ResetSecretOp,
    StateStatistics,
    StorageUnavailableError,
    SweepOp,
    TargetRow,
    WriteOp,
    WriteResult,
)
from exporter.storage.sqlite_checkpoint import WRITER_AUTOCHECKPOINT_PAGES, Checkpointer
from exporter.storage.sqlite_heartbeats import apply_same_state, dumps_json, heartbeat_params
from exporter.storage.sqlite_schema import migrate
from exporter.storage.sqlite_sweep import sweep, sweep_candidates

CONSOLE_COLUMNS = (
    "id, nombre, estado, sistema, ultima_actividad, ultimo_error, video_en_proceso, created_at,"
    " updated_at, last_seen, intervalo_segundos, inactive_after_seconds, state_since,"
    " stopped_cleanly, maintenance_until, maintenance_reason, metrics_port, metrics_path,"
    " metrics_address"
)
#: What every heartbeat sets (named parameters; ``:now`` is the server's receive time).
_HEARTBEAT_SET = """
  estado_previo = estado,
  sistema = COALESCE(:sistema, sistema),
  ultima_actividad = :actividad,
  ultimo_error = :error,
  video_en_proceso = :video,
  updated_at = :now,
  last_seen = :now,
  intervalo_segundos = COALESCE(:intervalo, intervalo_segundos),
  inactive_after_seconds = COALESCE(2 * COALESCE(:intervalo, intervalo_segundos), :dflt),
  silent_deadline = :now + COALESCE(2 * COALESCE(:intervalo, intervalo_segundos), :dflt),
  stopped_cleanly = :stopped,
  hostname = COALESCE(:hostname, hostname),
  platform = COALESCE(:platform, platform),
  arch = COALESCE(:arch, arch),
  runtime_version = COALESCE(:version, runtime_version),
  metrics_port = COALESCE(:mport, metrics_port), metrics_path = COALESCE(:mpath, metrics_path),
  metrics_address = COALESCE(:maddr, metrics_address)
"""
#: A state change (or an unknown console: no row): returns the state it replaced.
HEARTBEAT_NEW_STATE_SQL = f"""
UPDATE consolas SET {_HEARTBEAT_SET}, estado = :estado, state_since = :now
WHERE id = :id
RETURNING estado_previo
"""
SYNCHRONOUS_MODES = ("full", "normal")
#: Page size of new database files. A heartbeat rewrites two or three pages at random places
#: (its row, the entry of ``idx_consolas_ultima_actividad``, the estado index on a change), and
#: each goes to the WAL and later to the file whole: 1 KiB pages write a quarter of the bytes of
#: SQLite's 4 KiB default, for 27% less CPU per heartbeat in the storage layer (bench/README.md).
PAGE_SIZE = 1024


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _record(row: Sequence[Any]) -> ConsoleRecord:
    return console_record(row, _loads)


class SQLiteStorage(Storage):
    """Storage in one SQLite file (WAL). Writes are serialised on one connection."""

    backend = "sqlite"

    def __init__(
        self, path: str | Path, synchronous: str = "full", *, checkpoints: bool = True
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = str(path)
        self._synchronous = synchronous.upper()
        self._write_lock = threading.Lock()
        try:
            self._writer = self._connect()
            migrate(self._writer)
            self._writer.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            raise StorageUnavailableError(
                f"cannot open SQLite database {self.path!r}: {exc}"
            ) from exc
        self._readers: ConnectionPool[sqlite3.Connection] = ConnectionPool(
            self._connect, lambda conn: conn.close()
        )
        #: The WAL's checkpoints, off the writer's path; None when another process runs them.
        self._checkpointer = Checkpointer(self._connect) if checkpoints else None
        if self._checkpointer is not None:
            self._checkpointer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # new files only: a no-op once created
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    # -- writes ------------------------------------------------------------------------------

    def write_batch(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageUnavailableError(f"SQLite: {exc}") from exc
            try:
                results: list[WriteResult] = []
                for item in group_heartbeats(ops):
                    if isinstance(item, list):
                        results.extend(self._heartbeats(conn, item))
                    else:
                        results.append(self._apply(conn, item))
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageUnavailableError(f"SQLite: {exc}") from exc
                raise
            return results

    def _apply(self, conn: sqlite3.Connection, op: WriteOp) -> WriteResult:
        if isinstance(op, HeartbeatOp):
            return self._heartbeats(conn, [op])[0]
        if isinstance(op, RegisterOp):
            return self._register(conn, op)
        if isinstance(op, SweepOp):
            return sweep(conn, op)
        if isinstance(op, MaintenanceOp):
            return self._maintenance(conn, op)
        if isinstance(op, DeleteOp | ResetSecretOp):  # the console, or only its secret
            retire = isinstance(op, DeleteOp)
            sql = "DELETE FROM consolas" if retire else "UPDATE consolas SET secret_hash = NULL"
            cur = conn.execute(sql + " WHERE id = ?", (op.console_id,))
            if retire:
                conn.execute("DELETE FROM consolas_historial WHERE console_id = ?", [op.console_id])
            return FoundResult(found=cur.rowcount > 0)
        cur = conn.execute("DELETE FROM consolas_historial WHERE at < ?", (op.before,))
        return PruneResult(deleted=cur.rowcount)

    @staticmethod
    def _history(conn: sqlite3.Connection, row: tuple[str, float, str | None, str, str]) -> None:
        """Insert ``(console_id, at, estado_anterior, estado, motivo)``."""
        conn.execute(
            "INSERT INTO consolas_historial (console_id, at, estado_anterior, estado, motivo)"
            " VALUES (?, ?, ?, ?, ?)",
            row,
        )

    def _register(self, conn: sqlite3.Connection, op: RegisterOp) -> RegisterResult:
        reg, now = op.registration, op.now
        threshold = threshold_for(reg.interval_seconds, op.default_inactive_after)
        actividad = reg.ultima_actividad.timestamp() if reg.ultima_actividad else None
        hostname, platform, arch, version = sistema_identity(reg.sistema)
        old = conn.execute(
            "SELECT estado, video_en_proceso, secret_hash FROM consolas WHERE id = ?",
            (reg.console_id,),
        ).fetchone()
        if old is not None and op.secret_hash is not None and old[2] is not None:
            return RegisterResult(created=False, already_enrolled=True)
        values = {
            "id": reg.console_id,
            "nombre": reg.nombre,
            "estado": reg.estado,
            "sistema": dumps_json(reg.sistema),
            "actividad": actividad,
            "now": now,
            "intervalo": reg.interval_seconds,
            "threshold": threshold,
            "deadline": now + threshold,
            "hostname": hostname,
            "platform": platform,
            "arch": arch,
            "version": version,
            "secret_hash": op.secret_hash,
            **endpoint_values(reg.metricas),
        }
        if old is None:
            conn.execute(
                "INSERT INTO consolas (id, nombre, estado, sistema, ultima_actividad, created_at,"
                " updated_at, last_seen, intervalo_segundos, inactive_after_seconds,"
                " silent_deadline, state_since, stopped_cleanly, hostname, platform, arch,"
                " runtime_version, secret_hash, metrics_port, metrics_path, metrics_address)"
                " VALUES (:id, :nombre, :estado, :sistema, :actividad, :now, :now, :now,"
                " :intervalo, :threshold, :deadline, :now, 0, :hostname, :platform, :arch,"
                " :version, :secret_hash, :mport, :mpath, :maddr)",
                values,
            )
            self._history(conn, (reg.console_id, now, None, reg.estado, REASON_REGISTRATION))
            return RegisterResult(created=True)
        changed = old[0] != reg.estado or old[1] is not None
        conn.execute(
            "UPDATE consolas SET nombre = :nombre, estado = :estado, sistema = :sistema,"
            " ultima_actividad = :actividad, ultimo_error = NULL, video_en_proceso = NULL,"
            " updated_at = :now, last_seen = :now, intervalo_segundos = :intervalo,"
            " inactive_after_seconds = :threshold, silent_deadline = :deadline,"
            " state_since = CASE WHEN :changed THEN :now ELSE state_since END,"
            " stopped_cleanly = 0, hostname = :hostname, platform = :platform, arch = :arch,"
            " runtime_version = :version, secret_hash = COALESCE(:secret_hash, secret_hash),"
            " metrics_port = :mport, metrics_path = :mpath, metrics_address = :maddr"
            " WHERE id = :id",
            {**values, "changed": changed},
        )
        if old[0] != reg.estado:
            self._history(conn, (reg.console_id, now, old[0], reg.estado, REASON_REGISTRATION))
        return RegisterResult(created=False)

    def _heartbeats(self, conn: sqlite3.Connection, run: list[HeartbeatOp]) -> list[FoundResult]:
        """Heartbeats of distinct consoles: those that keep their state in one statement (nearly
        all), then each that changes it (or names an unknown console) on its own."""
        params = [heartbeat_params(op) for op in run]
        applied = apply_same_state(conn, params)
        return [
            FoundResult(found=True) if op.console_id in applied else self._new_state(conn, op, p)
            for op, p in zip(run, params, strict=True)
        ]

    def _new_state(
        self, conn: sqlite3.Connection, op: HeartbeatOp, params: dict[str, Any]
    ) -> FoundResult:
        """A heartbeat that changes its console's state: the row and a history row."""
        row = conn.execute(HEARTBEAT_NEW_STATE_SQL, params).fetchone()
        if row is None:
            return FoundResult(found=False)
        estado = op.heartbeat.estado
        reason = REASON_GOODBYE if estado == STATE_INACTIVA else REASON_HEARTBEAT
        self._history(conn, (op.console_id, op.now, row[0], estado, reason))
        return FoundResult(found=True)

    def _maintenance(self, conn: sqlite3.Connection, op: MaintenanceOp) -> FoundResult:
        """Set or end a maintenance; history rows when one starts and when one ends."""
        old = conn.execute(
            "SELECT estado, maintenance_until FROM consolas WHERE id = ?", (op.console_id,)
        ).fetchone()
        if old is None:
            return FoundResult(found=False)
        if op.until is None and old[1] is None:
            return FoundResult(found=True)  # nothing to end
        conn.execute(
            "UPDATE consolas SET maintenance_until = ?, maintenance_reason = ?, updated_at = ?"
            " WHERE id = ?",
            (op.until, op.reason if op.until is not None else None, op.now, op.console_id),
        )
        if (old[1] is None) != (op.until is None):
            reason = REASON_MAINTENANCE if op.until is not None else REASON_MAINTENANCE_END
            self._history(conn, (op.console_id, op.now, old[0], old[0], reason))
        return FoundResult(found=True)

    # -- reads -------------------------------------------------------------------------------

    def sweep_candidates(self, op: SweepOp) -> SweepOp | None:
        try:
            with self._readers.connection() as conn:
                return sweep_candidates(conn, op)
        except sqlite3.Error as exc:
            raise StorageUnavailableError(f"SQLite: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        try:
            with self._readers.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageUnavailableError(f"SQLite: {exc}") from exc

    def list_consoles(
        self, estado: str | None, limit: int, offset: int
    ) -> tuple[list[ConsoleRecord], int]:
        where, params = ("WHERE estado = ?", [estado]) if estado else ("", [])
        rows = self._read(
            f"SELECT {CONSOLE_COLUMNS} FROM consolas {where} ORDER BY id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        total = self._read(f"SELECT COUNT(*) FROM consolas {where}", params)[0][0]
        return [_record(row) for row in rows], int(total)

    def get_console(self, console_id: str) -> ConsoleRecord | None:
        rows = self._read(f"SELECT {CONSOLE_COLUMNS} FROM consolas WHERE id = ?", [console_id])
        return _record(rows[0]) if rows else None

    def silent_since(self, cutoff: float) -> list[ConsoleRecord]:
        rows = self._read(
            f"SELECT {CONSOLE_COLUMNS} FROM consolas WHERE last_seen < ?"
            " AND stopped_cleanly = 0 ORDER BY last_seen",
            [cutoff],
        )
        return [_record(row) for row in rows]

    def statistics(self) -> list[StateStatistics]:
        rows = self._read(
            "SELECT estado, COUNT(*), MAX(ultima_actividad), MAX(last_seen) FROM consolas"
            " GROUP BY estado ORDER BY estado"
        )
        return [StateStatistics(r[0], int(r[1]), r[2], r[3]) for r in rows]

    def history(self, console_id: str, limit: int) -> list[HistoryEntry]:
        rows = self._read(
            "SELECT at, estado_anterior, estado, motivo FROM consolas_historial"
            " WHERE console_id = ? ORDER BY id DESC LIMIT ?",
            [console_id, limit],
        )
        return [HistoryEntry(r[0], r[1], r[2], r[3]) for r in rows]

    def fleet_changes(self, since: float | None, pick: FleetPick) -> FleetChanges:
        """One read transaction (one WAL snapshot); a few picked rows are looked up by id,
        many are kept from a scan."""
        select = (
            "SELECT id, nombre, estado, last_seen, inactive_after_seconds, state_since,"
            " ultima_actividad, stopped_cleanly, video_en_proceso, hostname, platform, arch,"
            " runtime_version, maintenance_until FROM consolas"
        )
        where, params = ("", []) if since is None else (" WHERE updated_at >= ?", [since])
        try:
            with self._readers.connection() as conn:
                conn.execute("BEGIN")
                try:
                    versions: dict[str, float] = dict(
                        conn.execute("SELECT id, updated_at FROM consolas" + where, params)
                    )
                    total = len(versions)
                    if since is not None:
                        total = conn.execute("SELECT COUNT(*) FROM consolas").fetchone()[0]
                    by_id = select + " WHERE id IN (SELECT value FROM json_each(?))"
                    rows = picked_rows(
                        versions,
                        pick,
                        lambda ids: conn.execute(by_id, [json.dumps(list(ids))]).fetchall(),
                        lambda: conn.execute(select + where, params).fetchall(),
                    )
                finally:
                    conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StorageUnavailableError(f"SQLite: {exc}") from exc
        return FleetChanges(versions, rows, int(total))

    def metrics_targets(self, estado: str | None) -> list[TargetRow]:
        where, params = (" AND estado = ?", [estado]) if estado else ("", [])
        return self._read(TARGETS_SQL.format(id="id", estado=where), params)

    def credential(self, console_id: str) -> Credential | None:
        rows = self._read("SELECT secret_hash FROM consolas WHERE id = ?", [console_id])
        return Credential(rows[0][0]) if rows else None

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._readers.close()
        with self._write_lock:
            self._writer.close()
