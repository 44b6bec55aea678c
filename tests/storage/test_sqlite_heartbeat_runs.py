"""SQLite applies a run of heartbeats that keep their state in one statement (sqlite_heartbeats).

The statement must mean exactly what one heartbeat at a time means: across its 256-row chunks
and the padding of a short run, with unknown consoles, state changes and repeats in the batch,
and with every time stored as the very float it was.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consola_wire import Registration
from exporter.storage import open_storage
from exporter.storage.records import FoundResult, HeartbeatOp, RegisterOp, WriteOp
from exporter.storage.sqlite import SQLiteStorage
from exporter.storage.sqlite_heartbeats import MAX_ROWS
from tests.support.storage_ops import T0, beat

FLEET = 300
IDS = [f"00000000-0000-4000-9000-{i:012x}" for i in range(FLEET)]
UNKNOWN = "ffffffff-0000-4000-9000-000000000000"


def _storage(path: Path) -> SQLiteStorage:
    storage = open_storage(str(path))
    assert isinstance(storage, SQLiteStorage)
    ops: list[WriteOp] = []
    for i, console_id in enumerate(IDS):
        reg = Registration(console_id, f"Consola {i}", "esperando", {"hostname": f"h{i}"},
                           datetime.fromtimestamp(T0, UTC), 60.0)  # fmt: skip
        ops.append(RegisterOp(reg, T0, 600.0))
    storage.write_batch(ops)
    return storage


def _statements(storage: SQLiteStorage, ops: list[WriteOp]) -> list[str]:
    """The statements SQLite ran for ``ops`` written as one batch."""
    statements: list[str] = []
    storage._writer.set_trace_callback(statements.append)
    try:
        storage.write_batch(ops)
    finally:
        storage._writer.set_trace_callback(None)
    return statements


def _updates(storage: SQLiteStorage, ops: list[WriteOp]) -> int:
    """How many UPDATE statements SQLite ran for ``ops`` written as one batch."""
    statements = _statements(storage, ops)
    return sum(1 for sql in statements if sql.lstrip().upper().startswith(("UPDATE", "WITH")))


def test_a_run_of_heartbeats_takes_one_statement_per_chunk(tmp_path: Path) -> None:
    storage = _storage(tmp_path / "c.db")
    try:
        run: list[WriteOp] = [beat(i, T0 + 10, "esperando") for i in IDS]
        assert _updates(storage, run) == -(-FLEET // MAX_ROWS)  # 2 for 300
        assert _updates(storage, run[:5]) == 1
    finally:
        storage.close()


def test_a_run_is_counted_not_returned_and_read_back_only_when_one_was_not_applied(
    tmp_path: Path,
) -> None:
    storage = _storage(tmp_path / "c.db")
    try:
        kept = _statements(storage, [beat(i, T0 + 10, "esperando") for i in IDS[:8]])
        assert not any("RETURNING" in sql for sql in kept)
        assert not any(sql.lstrip().upper().startswith("SELECT") for sql in kept)
        ops: list[WriteOp] = [beat(IDS[0], T0 + 11, "esperando"), beat(UNKNOWN, T0 + 11, "activa"),
                              beat(IDS[1], T0 + 11, "ocupada")]  # fmt: skip
        mixed = _statements(storage, ops)
        assert sum(1 for sql in mixed if sql.lstrip().upper().startswith("SELECT ID, ESTADO")) == 1
        found, missing = FoundResult(found=True), FoundResult(found=False)
        assert storage.write_batch(ops) == [found, missing, found]
    finally:
        storage.close()


def mixed_batch() -> list[WriteOp]:
    rng = random.Random(17)
    ops: list[WriteOp] = []
    for n in range(700):
        console_id = UNKNOWN if n % 97 == 0 else rng.choice(IDS)
        estado = "esperando" if n % 5 else rng.choice(["activa", "ocupada", "error", "inactiva"])
        video = f"Video {n} (1/5)" if n % 3 == 0 else None
        op = beat(console_id, T0 + 20 + n * 0.001, estado, video=video,
                  sistema={"hostname": f"n{n}", "cpus": n} if n % 4 == 0 else None,
                  interval=None if n % 7 == 0 else 30.0 + n % 11)  # fmt: skip
        ops.append(op)
    return ops


def _state(storage: SQLiteStorage) -> tuple[list[Any], dict[str, list[Any]]]:
    consoles, _ = storage.list_consoles(None, 1000, 0)
    return consoles, {c.id: storage.history(c.id, 1000) for c in consoles}


def test_a_long_mixed_batch_equals_the_same_writes_one_at_a_time(tmp_path: Path) -> None:
    together, alone = _storage(tmp_path / "together.db"), _storage(tmp_path / "alone.db")
    try:
        ops = mixed_batch()
        assert together.write_batch(ops) == [alone.write_batch([op])[0] for op in ops]
        assert _state(together) == _state(alone)
    finally:
        together.close()
        alone.close()


def test_times_are_stored_as_the_exact_floats(tmp_path: Path) -> None:
    storage = _storage(tmp_path / "c.db")
    try:
        rng = random.Random(3)
        ops: list[HeartbeatOp] = []
        for console_id in IDS:
            op = beat(console_id, T0 + rng.random() * 1e5, "esperando")
            activity = datetime.fromtimestamp(T0 + rng.random() * 1e5, UTC)
            ops.append(replace(op, heartbeat=replace(op.heartbeat, ultima_actividad=activity)))
        storage.write_batch(list(ops))
        with sqlite3.connect(storage.path) as conn:
            stored = dict(conn.execute("SELECT id, last_seen FROM consolas"))
            activities = dict(conn.execute("SELECT id, ultima_actividad FROM consolas"))
        for op in ops:
            assert op.heartbeat.ultima_actividad is not None
            assert stored[op.console_id] == op.now
            assert activities[op.console_id] == op.heartbeat.ultima_actividad.timestamp()
    finally:
        storage.close()
