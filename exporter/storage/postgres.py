"""PostgreSQL backend (psycopg 3): one writer connection, pooled readers, safe across processes.

Every state change is decided under a row lock (``SELECT ... FOR UPDATE`` inside the UPDATE), so
several exporter processes on one database record each change exactly once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from consola_wire import STATE_INACTIVA
from exporter.storage.backend_support import (
    TARGETS_SQL,
    console_record,
    endpoint_values,
    group_heartbeats,
    heartbeat_values,
    picked_rows,
    sistema_identity,
    threshold_for,
)
from exporter.storage.base import Storage
from exporter.storage.pool import ConnectionPool
from exporter.storage.postgres_schema import migrate
from exporter.storage.postgres_sql import (
    CONSOLE_COLUMNS,
    END_MAINTENANCES_SQL,
    HEARTBEATS_SQL,
    HISTORY_SQL,
    MAINTENANCE_SQL,
    REGISTER_INSERT_SQL,
    REGISTER_UPDATE_SQL,
    RETIRE_SQL,
    SELECT_FOR_REGISTRATION,
    SWEEP_CANDIDATES_SQL,
    SWEEP_SCOPE,
    SWEEP_SQL,
)
from exporter.storage.records import (
    REASON_GOODBYE,
    REASON_HEARTBEAT,
    REASON_MAINTENANCE,
    REASON_MAINTENANCE_END,
    REASON_REGISTRATION,
    REASON_SILENCE,
    ConsoleRecord,
    Credential,
    DeleteOp,
    FleetChanges,
    FleetPick,
    FoundResult,
    HeartbeatOp,
    HistoryEntry,
    MaintenanceOp,
    PruneOp,
    PruneResult,
    RegisterOp,
    RegisterResult,
    ResetSecretOp,
    StateStatistics,
    StorageUnavailableError,
    SweepOp,
    SweepResult,
    TargetRow,
    WriteOp,
    WriteResult,
)

Conn = psycopg.Connection[TupleRow]

CONNECT_TIMEOUT_SECONDS = 5
DEADLOCK_RETRIES = 3


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _heartbeat_element(op: HeartbeatOp) -> dict[str, Any]:
    """One object of the JSON array :data:`HEARTBEATS_SQL` reads (times as ISO 8601)."""
    element = heartbeat_values(op)
    actividad = element["actividad"]
    element["actividad"] = actividad.isoformat() if actividad is not None else None
    element["now"] = _ts(op.now).isoformat()
    return element


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _record(row: Sequence[Any]) -> ConsoleRecord:
    return console_record(row, lambda value: value)  # psycopg decodes JSONB itself


def _sort_key(item: tuple[int, WriteOp]) -> tuple[int, str]:
    """Row-locking ops in console-id order (no deadlocks between processes), sweeps last."""
    op = item[1]
    if isinstance(op, RegisterOp):
        return (0, op.registration.console_id)
    if isinstance(op, HeartbeatOp | DeleteOp | MaintenanceOp | ResetSecretOp):
        return (0, op.console_id)
    return (1, "")


class PostgresStorage(Storage):
    """Storage in PostgreSQL; several exporter processes may share one database."""

    backend = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._write_lock = threading.Lock()
        self._writer: Conn | None = None
        with self._write_lock:
            migrate(self._writer_connection())
        self._readers: ConnectionPool[Conn] = ConnectionPool(
            lambda: self._connect(autocommit=True), lambda conn: conn.close()
        )

    def _connect(self, autocommit: bool) -> Conn:
        try:
            return psycopg.connect(
                self.url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.Error as exc:
            raise StorageUnavailableError(f"PostgreSQL: {exc}".strip()) from exc

    def _writer_connection(self) -> Conn:
        if self._writer is None or self._writer.closed:
            self._writer = self._connect(autocommit=False)
        return self._writer

    # -- writes ------------------------------------------------------------------------------

    def write_batch(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        ordered = sorted(enumerate(ops), key=_sort_key)
        positions = {id(op): index for index, op in enumerate(ops)}
        with self._write_lock:
            for attempt in range(DEADLOCK_RETRIES + 1):
                conn = self._writer_connection()
                try:
                    results: list[WriteResult | None] = [None] * len(ops)
                    with conn.transaction(), conn.cursor() as cur:
                        for item in group_heartbeats([op for _, op in ordered]):
                            if isinstance(item, list):
                                found = self._heartbeats(cur, item)
                                for op in item:
                                    results[positions[id(op)]] = FoundResult(
                                        found=op.console_id in found
                                    )
                            else:
                                results[positions[id(item)]] = self._apply(cur, item)
                    return [r for r in results if r is not None]
                except psycopg.errors.TransactionRollback:
                    if attempt == DEADLOCK_RETRIES:
                        raise StorageUnavailableError("PostgreSQL: repeated deadlocks") from None
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    self._drop_writer()
                    raise StorageUnavailableError(f"PostgreSQL: {exc}".strip()) from exc
        raise StorageUnavailableError("PostgreSQL: unreachable")  # pragma: no cover

    def _drop_writer(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(psycopg.Error):
                self._writer.close()
        self._writer = None

    def _apply(self, cur: psycopg.Cursor[TupleRow], op: WriteOp) -> WriteResult:
        if isinstance(op, HeartbeatOp):
            return FoundResult(found=op.console_id in self._heartbeats(cur, [op]))
        if isinstance(op, RegisterOp):
            return self._register(cur, op)
        if isinstance(op, SweepOp):
            return self._sweep(cur, op)
        if isinstance(op, MaintenanceOp):
            return self._maintenance(cur, op)
        if isinstance(op, DeleteOp | ResetSecretOp):  # the console, or only its secret
            retire = isinstance(op, DeleteOp)
            sql = "DELETE FROM consolas" if retire else "UPDATE consolas SET secret_hash = NULL"
            cur.execute(sql + " WHERE id = %s", (op.console_id,))
            found = cur.rowcount > 0
            if retire:
                cur.execute("DELETE FROM consolas_historial WHERE console_id = %s", [op.console_id])
            return FoundResult(found=found)
        assert isinstance(op, PruneOp)
        cur.execute("DELETE FROM consolas_historial WHERE at < %s", (_ts(op.before),))
        return PruneResult(deleted=cur.rowcount)

    def _heartbeats(self, cur: psycopg.Cursor[TupleRow], run: list[HeartbeatOp]) -> set[str]:
        """Apply heartbeats of distinct consoles in one statement; the ids that exist."""
        batch = json.dumps([_heartbeat_element(op) for op in run], separators=(",", ":"))
        cur.execute(
            HEARTBEATS_SQL,
            {
                "batch": batch,
                "inactiva": STATE_INACTIVA,
                "goodbye": REASON_GOODBYE,
                "heartbeat": REASON_HEARTBEAT,
            },
        )
        return {row[0] for row in cur.fetchall()}

    def _register(self, cur: psycopg.Cursor[TupleRow], op: RegisterOp) -> RegisterResult:
        reg = op.registration
        now = _ts(op.now)
        threshold = threshold_for(reg.interval_seconds, op.default_inactive_after)
        hostname, platform, arch, version = sistema_identity(reg.sistema)
        values: dict[str, Any] = {
            "id": reg.console_id,
            "nombre": reg.nombre,
            "estado": reg.estado,
            "sistema": _json(reg.sistema),
            "actividad": reg.ultima_actividad,
            "now": now,
            "intervalo": reg.interval_seconds,
            "threshold": threshold,
            "deadline": _ts(op.now + threshold),
            "hostname": hostname,
            "platform": platform,
            "arch": arch,
            "version": version,
            "secret_hash": op.secret_hash,
            **endpoint_values(reg.metricas),
        }
        cur.execute(
            SELECT_FOR_REGISTRATION,
            (reg.console_id,),
        )
        old = cur.fetchone()
        if old is None:
            cur.execute(REGISTER_INSERT_SQL, values)
            if cur.fetchone() is not None:
                cur.execute(
                    HISTORY_SQL, (reg.console_id, now, None, reg.estado, REASON_REGISTRATION)
                )
                return RegisterResult(created=True)
            # Another process inserted it meanwhile: lock it and update like a re-registration.
            cur.execute(
                SELECT_FOR_REGISTRATION,
                (reg.console_id,),
            )
            old = cur.fetchone()
            assert old is not None
        if op.secret_hash is not None and old[2] is not None:
            return RegisterResult(created=False, already_enrolled=True)
        cur.execute(
            REGISTER_UPDATE_SQL, {**values, "changed": old[0] != reg.estado or old[1] is not None}
        )
        if old[0] != reg.estado:
            cur.execute(HISTORY_SQL, (reg.console_id, now, old[0], reg.estado, REASON_REGISTRATION))
        return RegisterResult(created=False)

    def _maintenance(self, cur: psycopg.Cursor[TupleRow], op: MaintenanceOp) -> FoundResult:
        """Set or end a maintenance; history rows when one starts and when one ends."""
        now = _ts(op.now)
        until = None if op.until is None else _ts(op.until)
        reason = op.reason if op.until is not None else None
        params = {"id": op.console_id, "until": until, "reason": reason, "now": now}
        cur.execute(MAINTENANCE_SQL, params)
        old = cur.fetchone()
        if old is None:
            return FoundResult(found=False)
        estado, was = old
        if was != (op.until is not None):
            motivo = REASON_MAINTENANCE if op.until is not None else REASON_MAINTENANCE_END
            cur.execute(HISTORY_SQL, (op.console_id, now, estado, estado, motivo))
        return FoundResult(found=True)

    def _sweep(self, cur: psycopg.Cursor[TupleRow], op: SweepOp) -> SweepResult:
        now = _ts(op.now)
        scope = "" if op.consoles is None else SWEEP_SCOPE
        params = self._sweep_params(op)
        cur.execute(END_MAINTENANCES_SQL.format(scope=scope), params)
        ended = cur.fetchall()
        history = [(row[0], now, row[1], row[1], REASON_MAINTENANCE_END) for row in ended]
        retired: list[TupleRow] = []
        if op.retire_before is not None:
            cur.execute(RETIRE_SQL.format(scope=scope), params)
            retired = cur.fetchall()
        silent = self._silent(op)
        cur.execute(SWEEP_SQL.format(silent=silent, scope=scope), params)
        rows = cur.fetchall()
        history += [(row[0], now, row[1], STATE_INACTIVA, REASON_SILENCE) for row in rows]
        if history:
            cur.executemany(HISTORY_SQL, history)
        return SweepResult(
            marked=tuple(str(row[0]) for row in rows),
            maintenance_ended=tuple(str(row[0]) for row in ended),
            retired=tuple(str(row[0]) for row in retired),
        )

    @staticmethod
    def _silent(op: SweepOp) -> str:
        stale = " OR last_seen > %(stale)s" if op.stale_after is not None else ""
        return "silent_deadline < %(now)s" + stale

    @staticmethod
    def _sweep_params(op: SweepOp) -> dict[str, Any]:
        return {
            "now": _ts(op.now),
            "start": _ts(op.started_at),
            "stale": None if op.stale_after is None else _ts(op.stale_after),
            "before": None if op.retire_before is None else _ts(op.retire_before),
            "consoles": None if op.consoles is None else list(op.consoles),
        }

    # -- reads -------------------------------------------------------------------------------

    def sweep_candidates(self, op: SweepOp) -> SweepOp | None:
        sql = SWEEP_CANDIDATES_SQL.format(silent=self._silent(op))
        ids = tuple(row[0] for row in self._read(sql, self._sweep_params(op)))
        return dataclasses.replace(op, consoles=ids) if ids else None

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[TupleRow]:
        try:
            with self._readers.connection() as conn:
                return conn.execute(sql.encode(), params).fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._readers.clear()
            raise StorageUnavailableError(f"PostgreSQL: {exc}".strip()) from exc

    def list_consoles(
        self, estado: str | None, limit: int, offset: int
    ) -> tuple[list[ConsoleRecord], int]:
        where, params = ("WHERE estado = %s", [estado]) if estado else ("", [])
        rows = self._read(
            f"SELECT {CONSOLE_COLUMNS} FROM consolas {where} ORDER BY id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        total = self._read(f"SELECT COUNT(*) FROM consolas {where}", params)[0][0]
        return [_record(row) for row in rows], int(total)

    def get_console(self, console_id: str) -> ConsoleRecord | None:
        rows = self._read(
            f"SELECT {CONSOLE_COLUMNS} FROM consolas WHERE id = %s", [uuid.UUID(console_id)]
        )
        return _record(rows[0]) if rows else None

    def silent_since(self, cutoff: float) -> list[ConsoleRecord]:
        rows = self._read(
            f"SELECT {CONSOLE_COLUMNS} FROM consolas WHERE last_seen < %s"
            " AND NOT stopped_cleanly ORDER BY last_seen",
            [_ts(cutoff)],
        )
        return [_record(row) for row in rows]

    def statistics(self) -> list[StateStatistics]:
        rows = self._read(
            "SELECT estado, COUNT(*), extract(epoch FROM MAX(ultima_actividad))::float8,"
            " extract(epoch FROM MAX(last_seen))::float8 FROM consolas"
            " GROUP BY estado ORDER BY estado"
        )
        return [StateStatistics(r[0], int(r[1]), r[2], r[3]) for r in rows]

    def history(self, console_id: str, limit: int) -> list[HistoryEntry]:
        rows = self._read(
            "SELECT extract(epoch FROM at)::float8, estado_anterior, estado, motivo"
            " FROM consolas_historial WHERE console_id = %s ORDER BY id DESC LIMIT %s",
            [uuid.UUID(console_id), limit],
        )
        return [HistoryEntry(r[0], r[1], r[2], r[3]) for r in rows]

    def fleet_changes(self, since: float | None, pick: FleetPick) -> FleetChanges:
        """A REPEATABLE READ transaction (one snapshot); a few picked rows are looked up by id,
        many are kept from a scan."""
        select = (
            b"SELECT id::text, nombre, estado, extract(epoch FROM last_seen)::float8,"
            b" inactive_after_seconds, extract(epoch FROM state_since)::float8,"
            b" extract(epoch FROM ultima_actividad)::float8, stopped_cleanly, video_en_proceso,"
            b" hostname, platform, arch, runtime_version,"
            b" extract(epoch FROM maintenance_until)::float8 FROM consolas"
        )
        where, params = (b"", []) if since is None else (b" WHERE updated_at >= %s", [_ts(since)])
        try:
            with self._readers.connection() as conn:
                conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    pairs = b"SELECT id::text, extract(epoch FROM updated_at)::float8 FROM consolas"
                    versions: dict[str, float] = dict(conn.execute(pairs + where, params))
                    total = len(versions)
                    if since is not None:
                        count = conn.execute(b"SELECT COUNT(*) FROM consolas").fetchone()
                        total = int(count[0]) if count else 0
                    by_id = select + b" WHERE id = ANY(%s::uuid[])"
                    rows = picked_rows(
                        versions,
                        pick,
                        lambda ids: conn.execute(by_id, [list(ids)]).fetchall(),
                        lambda: conn.execute(select + where, params).fetchall(),
                    )
                finally:
                    conn.execute(b"ROLLBACK")
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._readers.clear()
            raise StorageUnavailableError(f"PostgreSQL: {exc}".strip()) from exc
        return FleetChanges(versions, rows, total)

    def metrics_targets(self, estado: str | None) -> list[TargetRow]:
        where, params = (" AND estado = %s", [estado]) if estado else ("", [])
        return self._read(TARGETS_SQL.format(id="id::text", estado=where), params)

    def credential(self, console_id: str) -> Credential | None:
        rows = self._read("SELECT secret_hash FROM consolas WHERE id = %s", [uuid.UUID(console_id)])
        return Credential(rows[0][0]) if rows else None

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._readers.close()
        with self._write_lock:
            self._drop_writer()
