"""Write operations for storage tests: console ids, a start time, registrations, heartbeats."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consola_wire import Heartbeat, Registration
from exporter.storage import Storage, open_storage
from exporter.storage.records import HeartbeatOp, RegisterOp, WriteOp
from tests.support.exporters import database_for

T0 = 1_764_756_000.0


IDS = [f"00000000-0000-4000-8000-{i:012x}" for i in range(6)]


def sistema(i: int) -> dict[str, Any]:
    return {"hostname": f"host-{i}", "platform": "linux", "arch": "x64", "pythonVersion": "3.11"}


def register(i: int, now: float, estado: str = "esperando") -> RegisterOp:
    reg = Registration(
        console_id=IDS[i],
        nombre=f"Consola {i}",
        estado=estado,
        sistema=sistema(i),
        ultima_actividad=datetime.fromtimestamp(now, UTC),
        interval_seconds=60.0,
    )
    return RegisterOp(reg, now, 600.0)


def beat(
    console_id: str,
    now: float,
    estado: str,
    *,
    video: str | None = None,
    error: Any = None,
    sistema: dict[str, Any] | None = None,
    interval: float | None = 60.0,
) -> HeartbeatOp:
    hb = Heartbeat(
        estado=estado,
        sistema=sistema,
        ultima_actividad=datetime.fromtimestamp(now - 0.5, UTC),
        ultimo_error=error,
        video_en_proceso=video,
        interval_seconds=interval,
    )
    return HeartbeatOp(console_id, hb, now, 600.0)


def filled_storage(backend: str, directory: Path, ops: Sequence[WriteOp]) -> Iterator[Storage]:
    """A fresh database of ``backend`` in ``directory`` (created) holding ``ops``, closed after."""
    directory.mkdir()
    storage = open_storage(database_for(backend, directory))
    try:
        storage.write_batch(list(ops))
        yield storage
    finally:
        storage.close()
