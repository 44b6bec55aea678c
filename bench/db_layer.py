"""Benchmark 5: the storage layer alone, heartbeat upserts/s by batch size, SQLite and PostgreSQL.

Heartbeat operations on random consoles among the registered fleet go straight to
``Storage.write_batch`` (one transaction and commit per batch), in the benchmark's own process:
no HTTP, no event loop. Batch size 1 is the no-group-commit baseline.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.fleet import register_consoles
from bench.ids import BENCH_INTERVAL_SECONDS, WRK_STATES, console_id, sistema
from bench.mode import Mode
from bench.report import Section, median, rate
from consola_wire import Heartbeat
from exporter.storage import open_storage
from exporter.storage.records import HeartbeatOp

FLEET = 100_000
BATCH_SIZES = (1, 16, 64, 256, 1024)


def heartbeat_op(i: int, now: float) -> HeartbeatOp:
    """What the API would build from bench/wrk/heartbeat.lua's body for console ``i``."""
    estado = WRK_STATES[i % 4]
    beat = Heartbeat(
        estado=estado,
        sistema=sistema(i),
        ultima_actividad=datetime.now(UTC),
        ultimo_error=None,
        video_en_proceso=f"Video Historia {i % 97} (2/5)" if estado == "ocupada" else None,
        interval_seconds=BENCH_INTERVAL_SECONDS,
    )
    return HeartbeatOp(console_id(i), beat, now, 600.0)


def measure(database: str, synchronous: str, batch: int, total: int, rng: random.Random) -> float:
    """Heartbeat upserts per second at ``batch`` operations per transaction."""
    storage = open_storage(database, synchronous)
    try:
        ops_total = max(batch, min(total, batch * 2000))
        if batch == 1:
            ops_total = min(ops_total, 3000)
        batches = [
            [heartbeat_op(rng.randrange(FLEET), time.time()) for _ in range(batch)]
            for _ in range(ops_total // batch)
        ]
        started = time.perf_counter()
        for ops in batches:
            results = storage.write_batch(ops)
            assert len(results) == len(ops)
        elapsed = time.perf_counter() - started
    finally:
        storage.close()
    return len(batches) * batch / elapsed


def run(mode: Mode, log: Callable[[str], None]) -> Section:
    """Run the database-layer benchmark."""
    from tests.support.postgres import start_postgres

    section = Section(
        key="db",
        title=f"5. Database layer alone: heartbeat upserts/s by batch size ({FLEET:,} consoles)",
        headers=["Backend", *[f"batch {b}" for b in BATCH_SIZES]],
    )
    rng = random.Random(8)
    with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
        sqlite_db = str(Path(tmp) / "consolas.db")
        register_consoles(sqlite_db, FLEET)
        server = start_postgres()
        try:
            pg = server.create_database()
            register_consoles(pg, FLEET)
            backends = {
                "SQLite, synchronous=FULL (default)": (sqlite_db, "full"),
                "SQLite, synchronous=NORMAL": (sqlite_db, "normal"),
                "PostgreSQL (server fsync=off, as in tests)": (pg, "full"),
            }
            trials = 3
            for label, (database, sync) in backends.items():
                cells = []
                for batch in BATCH_SIZES:
                    rates = [
                        measure(database, sync, batch, mode.db_ops, rng) for _ in range(trials)
                    ]
                    section.raw.setdefault(label, {})[batch] = rates
                    cells.append(rate(median(rates)))
                    log(f"  {label} batch {batch}: {median(rates):,.0f}/s")
                section.rows.append([label, *cells])
        finally:
            server.stop()
    section.notes = [
        f"Up to {mode.db_ops:,} operations per measurement (3,000 at batch 1), medians of 3; "
        "random consoles, so most updates touch a different row and index pages.",
        "PostgreSQL runs with fsync=off (tests/postgres_server.py), so its commits cost no disk "
        "flush: compare its batch-size curve, not its absolute durability cost, with SQLite's.",
    ]
    return section
