"""Measurements that must run in a fresh worker process; ``python -m bench.worker_probe WHAT``.

Prints one JSON object on stdout. The environment carries the library's settings
(API_BASE_URL, CONSOLE_ID, CONSOLE_ID_FILE, HEARTBEAT_METRICS_PORT, ...).

- ``bare``: RSS of this interpreter having imported nothing of ours.
- ``rss``: RSS after ``import heartbeat; heartbeat.iniciar()`` and registration.
- ``calls N``: ``cambiar_estado()`` latency over N calls (service running).
- ``alloc N``: traced memory growth over N ``cambiar_estado()`` calls (tracemalloc).
- ``cpu SECONDS SERVICES INTERVAL``: process CPU over SECONDS with SERVICES consoles beating
  every INTERVAL seconds (the caller counts the heartbeats at the exporter).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def rss() -> int:
    """Current resident set size of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _wait_registered(timeout: float = 15.0) -> None:
    import heartbeat

    service = heartbeat.servicio()
    address = service.metrics_address
    deadline = time.monotonic() + timeout
    if address is None:
        time.sleep(1.0)
        return
    import urllib.request

    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics") as r:
            text = r.read().decode()
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "heartbeat_last_success_timestamp_seconds" and float(value) > 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the console did not register")


def probe_rss() -> dict[str, Any]:
    before = rss()
    import heartbeat

    heartbeat.iniciar()
    _wait_registered()
    time.sleep(0.5)  # the first heartbeat settles, psutil samples once
    return {"rss_before_import": before, "rss": rss()}


def _states() -> list[str]:
    return ["ocupada", "esperando", "activa", "esperando"]


def probe_calls(n: int) -> dict[str, Any]:
    import heartbeat

    heartbeat.iniciar()
    _wait_registered()
    service = heartbeat.servicio()
    change = service.cambiar_estado
    states = _states()
    clock = time.perf_counter_ns
    samples = [0] * n
    for i in range(n):
        estado = states[i & 3]
        t0 = clock()
        change(estado, video_en_proceso="Video Historia 1 (2/5)" if estado == "ocupada" else None)
        samples[i] = clock() - t0
    samples.sort()
    heartbeat.detener()
    return {
        "calls": n,
        "median_ns": samples[n // 2],
        "p99_ns": samples[int(n * 0.99)],
        "mean_ns": sum(samples) / n,
    }


def probe_alloc(n: int) -> dict[str, Any]:
    import tracemalloc

    import heartbeat

    heartbeat.iniciar()
    _wait_registered()
    change = heartbeat.servicio().cambiar_estado
    states = _states()
    for i in range(20_000):  # warm caches (interned strings, logging, state objects)
        change(states[i & 3])
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    t0 = time.perf_counter()
    for i in range(n):
        change(states[i & 3])
    elapsed = time.perf_counter() - t0
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    heartbeat.detener()
    return {"calls": n, "growth_bytes": after - base, "peak_bytes": peak - base, "s": elapsed}


def probe_cpu(seconds: float, services: int, interval: float) -> dict[str, Any]:
    import uuid

    from heartbeat import HeartbeatConfig, HeartbeatService

    api = os.environ["API_BASE_URL"]
    tmp = Path(os.environ["BENCH_TMP"])
    consoles = []
    for i in range(services):
        config = HeartbeatConfig(
            api_base_url=api,
            console_id=str(uuid.UUID(int=0x42 << 96 | i, version=4)),
            console_id_file=tmp / f"cpu-{i}.console-id",
            interval_minutes=interval / 60,
            metrics_port=None,
        )
        consoles.append(HeartbeatService(config))
    for console in consoles:
        console.iniciar()
    time.sleep(2.0)  # registrations done, first beats scheduled
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    print(json.dumps({"phase": "start"}), flush=True)
    time.sleep(seconds)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    print(json.dumps({"phase": "stop", "cpu_s": cpu, "wall_s": wall}), flush=True)
    for console in consoles:
        console.detener()
    return {"cpu_s": cpu, "wall_s": wall, "services": services}


def main(argv: list[str]) -> int:
    """Run one probe and print its JSON."""
    what = argv[0]
    if what == "bare":
        result: dict[str, Any] = {"rss": rss()}
    elif what == "rss":
        result = probe_rss()
    elif what == "calls":
        result = probe_calls(int(argv[1]))
    elif what == "alloc":
        result = probe_alloc(int(argv[1]))
    elif what == "cpu":
        result = probe_cpu(float(argv[1]), int(argv[2]), float(argv[3]))
    else:
        raise SystemExit(f"unknown probe {what!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
