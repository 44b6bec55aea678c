"""Deterministic console ids and seed-shaped bodies, the same ones bench/wrk/*.lua generates."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from consola_wire import Registration
from exporter.storage.records import RegisterOp

#: The state console ``i`` reports is ``WRK_STATES[i % 4]`` (bench/wrk/heartbeat.lua).
WRK_STATES = ("ocupada", "esperando", "activa", "ocupada")

#: The interval the benchmark consoles report (the seed's 5 minutes), in seconds.
BENCH_INTERVAL_SECONDS = 300.0


def console_id(i: int) -> str:
    """The ``i``-th benchmark console id (``%08x-0000-4000-8000-%012x``, a valid UUID v4)."""
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def sistema(i: int) -> dict[str, Any]:
    """The ``sistema`` object of console ``i``."""
    return {
        "hostname": f"consola-{i}",
        "platform": "linux",
        "arch": "x64",
        "cpus": 8,
        "totalMemory": 16,
        "freeMemory": 8,
        "uptime": 1440,
        "pythonVersion": "3.11.7",
    }


def registration(i: int) -> Registration:
    """A validated registration of console ``i``, in the state its heartbeats report
    (``WRK_STATES``): a trial then measures a running fleet's heartbeats, not each console's
    first change of state (that is ``run_wrk(..., changes=True)``)."""
    return Registration(
        console_id=console_id(i),
        nombre=f"Consola consola-{i}",
        estado=WRK_STATES[i % len(WRK_STATES)],
        sistema=sistema(i),
        ultima_actividad=datetime.now(UTC),
        interval_seconds=BENCH_INTERVAL_SECONDS,
    )


def register_ops(start: int, stop: int, default_inactive_after: float = 600.0) -> list[RegisterOp]:
    """Registration operations for consoles ``start`` .. ``stop - 1``."""
    now = time.time()
    return [RegisterOp(registration(i), now, default_inactive_after) for i in range(start, stop)]
