"""Benchmark 6: ``GET /api/prometheus/targets`` (Prometheus http_sd) at 10k and 100k consoles.

Baseline in the same run, on the same exporter process and database: the steady fleet
``/metrics`` (text), which Prometheus asks for every 15 s where it asks for the targets every
30 s. Every request is a real keep-alive HTTP GET over loopback, timed until the last byte; an
in-process split shows the database read against the JSON rendering.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.fleet import REGISTER_BATCH
from bench.ids import register_ops
from bench.mode import Mode
from bench.procs import exporter, wait_ready
from bench.report import Check, Section, median, ms, percentile, size
from bench.scrape import scrape
from consola_wire import MetricsEndpoint
from exporter.storage import open_storage
from exporter.storage.records import RegisterOp

PATH = "/api/prometheus/targets"
COUNTS = (10_000, 100_000)
#: At 100k consoles: the fleet /metrics's own target (bench/scrape.py), for a request Prometheus
#: makes half as often (every 30 s, deploy/prometheus.yml).
TARGET_SECONDS = {100_000: 0.5}


def discoverable(op: RegisterOp, i: int) -> RegisterOp:
    """``op`` with a ``metricas`` as a library console sends it, on a private address."""
    endpoint = MetricsEndpoint(29100, "/metrics", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    return replace(op, registration=replace(op.registration, metricas=endpoint))


def fill(database: str, start: int, stop: int) -> None:
    """Register consoles ``start`` .. ``stop - 1``, each with its /metrics endpoint."""
    storage = open_storage(database, "normal")
    try:
        for first in range(start, stop, REGISTER_BATCH):
            last = min(stop, first + REGISTER_BATCH)
            ops = register_ops(first, last)
            storage.write_batch([discoverable(op, first + k) for k, op in enumerate(ops)])
    finally:
        storage.close()


def split(database: str, repeats: int) -> dict[str, float]:
    """The same work in the benchmark's process: the query, then the JSON document; medians."""
    from exporter.web.prometheus_targets import targets_json

    storage = open_storage(database, "normal")
    reads: list[float] = []
    renders: list[float] = []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows = storage.metrics_targets(None)
            t1 = time.perf_counter()
            targets_json(rows)
            renders.append(time.perf_counter() - t1)
            reads.append(t1 - t0)
    finally:
        storage.close()
    return {"read": median(reads), "render": median(renders)}


def run(mode: Mode, log: Callable[[str], None]) -> Section:
    """Run the targets benchmark."""
    section = Section(
        key="targets",
        title="6. Prometheus discovery: GET /api/prometheus/targets",
        headers=[
            "Consoles",
            "targets (median, p99)",
            "size",
            "of which DB read / JSON",
            "baseline: fleet /metrics steady (median, p99)",
            "size",
            "targets ÷ /metrics",
        ],
    )
    repeats = max(5, mode.scrape_repeats)
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-targets-") as tmp:
        database = str(Path(tmp) / "consolas.db")
        filled = 0
        for count in COUNTS:
            fill(database, filled, count)
            filled = count
            with exporter(database) as ex:
                wait_ready(ex.url)
                targets = scrape(ex.port, PATH, repeats, False)
                metrics = scrape(ex.port, "/metrics", repeats, False)
                again = scrape(ex.port, PATH, repeats, False)  # interleaved: noise hits both
            times = targets["times"] + again["times"]
            entry: dict[str, Any] = {
                "targets": {**targets, "times": times},
                "targets_median": median(times),
                "targets_p99": percentile(times, 99),
                "metrics": metrics,
                "split": split(database, repeats),
            }
            results[count] = entry
            log(
                f"  {count:,} consoles: targets {entry['targets_median'] * 1000:.0f} ms "
                f"({targets['wire_bytes'] / 2**20:.1f} MiB), /metrics "
                f"{metrics['median'] * 1000:.0f} ms"
            )
    for count, entry in results.items():
        targets, metrics, parts = entry["targets"], entry["metrics"], entry["split"]
        section.rows.append(
            [
                f"{count:,}",
                f"{ms(entry['targets_median'])} (p99 {ms(entry['targets_p99'])})",
                size(targets["wire_bytes"]),
                f"{ms(parts['read'])} / {ms(parts['render'])}",
                f"{ms(metrics['median'])} (p99 {ms(metrics['p99'])})",
                size(metrics["wire_bytes"]),
                f"{entry['targets_median'] / metrics['median']:.2f}×",
            ]
        )
    for count, limit in TARGET_SECONDS.items():
        if count in results:
            value = results[count]["targets_median"]
            section.checks.append(
                Check(
                    f"GET /api/prometheus/targets at {count:,} consoles ≤ {limit * 1000:.0f} ms",
                    ms(value),
                    f"≤ {limit * 1000:.0f} ms",
                    value <= limit,
                )
            )
    section.raw = {str(k): v for k, v in results.items()}
    section.notes = [
        f"Median (and p99) of {2 * repeats} GETs of the targets in two runs of {repeats} around "
        f"{repeats} steady fleet /metrics scrapes of the same exporter process (SQLite, every "
        "console with a known endpoint), each after one warm-up request, keep-alive, read to "
        "the last byte. The targets are read and rendered afresh at each request (one query, "
        "no cache); the fleet /metrics reads only what changed since its previous scrape. "
        "The JSON is written from a template with json's own string encoder, byte-identical to "
        "json.dumps of the groups, which took 500 ms of a 1.0 s request at 100,000 consoles.",
        "DB read / JSON: the same request's two halves timed in the benchmark's process "
        "(Storage.metrics_targets, then exporter.web.prometheus_targets.targets_json).",
    ]
    return section
