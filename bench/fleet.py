"""Filling the stores before a run: consoles through the storage batch API, Pushgateway groups."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable

from bench.ids import console_id, register_ops
from exporter.storage import open_storage

REGISTER_BATCH = 5_000


def register_consoles(database: str, count: int, first: int = 0) -> float:
    """Register consoles ``first`` .. ``first + count - 1`` directly in ``database``; seconds."""
    storage = open_storage(database, "normal")
    started = time.perf_counter()
    try:
        for start in range(first, first + count, REGISTER_BATCH):
            storage.write_batch(register_ops(start, min(first + count, start + REGISTER_BATCH)))
    finally:
        storage.close()
    return time.perf_counter() - started


def pushgateway_body(i: int) -> bytes:
    """What bench/wrk/pushgateway.lua pushes for console ``i``."""
    states = ("activa", "ocupada", "esperando", "error", "inactiva")
    current = states[i % 4]
    lines = [
        "# TYPE heartbeat_last_seen_timestamp_seconds gauge",
        f"heartbeat_last_seen_timestamp_seconds {int(time.time())}",
        "# TYPE heartbeat_console_state gauge",
        *(f'heartbeat_console_state{{state="{s}"}} {int(s == current)}' for s in states),
        "# TYPE heartbeat_console_info gauge",
        f'heartbeat_console_info{{name="Consola consola-{i}",hostname="consola-{i}",'
        f'platform="linux",arch="x64",version="3.11.7"}} 1',
    ]
    return ("\n".join(lines) + "\n").encode()


def fill_pushgateway(
    port: int,
    count: int,
    deadline_seconds: float,
    threads: int = 4,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, float]:
    """Push groups 0 .. ``count - 1`` (one per console) until done or out of time.

    Returns how many groups were pushed and the seconds it took.
    """
    lock = threading.Lock()
    next_index = [0]
    pushed = [0]
    stop_at = time.monotonic() + deadline_seconds
    started = time.perf_counter()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while time.monotonic() < stop_at:
                with lock:
                    i = next_index[0]
                    if i >= count:
                        return
                    next_index[0] += 1
                path = f"/metrics/job/consola/console_id/{console_id(i)}"
                conn.request("PUT", path, pushgateway_body(i), {"Content-Type": "text/plain"})
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    raise RuntimeError(f"Pushgateway answered {response.status} to {path}")
                with lock:
                    pushed[0] += 1
        finally:
            conn.close()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if progress:
        progress(pushed[0])
    return pushed[0], time.perf_counter() - started
