"""Quick (``make bench``) and full (``make bench-full``) run lengths, and the trial order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """How long and how often each benchmark runs."""

    name: str
    #: ingestion: consoles registered, seconds per wrk trial, trials, connections
    ingest_consoles: int
    ingest_seconds: float
    ingest_trials: int
    ingest_connections: int
    #: Pushgateway groups held during its ingestion baseline
    pushgateway_groups: int
    #: time budget for pushing groups into a Pushgateway (each benchmark that fills one)
    pushgateway_fill_seconds: float
    #: fleet /metrics: console counts, scrapes per count, Pushgateway group cap
    scrape_counts: tuple[int, ...]
    scrape_repeats: int
    scrape_pushgateway_max: int
    #: worker: cambiar_estado() calls timed, calls under tracemalloc, seconds of heartbeats
    worker_calls: int
    worker_alloc_calls: int
    worker_heartbeat_seconds: float
    #: detection: consoles killed (trials)
    detection_trials: int
    #: database layer: operations per batch size
    db_ops: int


QUICK = Mode(
    name="quick",
    ingest_consoles=100_000,
    ingest_seconds=6.0,
    ingest_trials=3,
    ingest_connections=64,
    pushgateway_groups=1_000,
    pushgateway_fill_seconds=40.0,
    scrape_counts=(1_000, 10_000, 100_000),
    scrape_repeats=5,
    scrape_pushgateway_max=1_000,
    worker_calls=200_000,
    worker_alloc_calls=1_000_000,
    worker_heartbeat_seconds=10.0,
    detection_trials=2,
    db_ops=10_000,
)

FULL = Mode(
    name="full",
    ingest_consoles=100_000,
    ingest_seconds=20.0,
    ingest_trials=5,
    ingest_connections=64,
    pushgateway_groups=10_000,
    pushgateway_fill_seconds=600.0,
    scrape_counts=(1_000, 10_000, 100_000),
    scrape_repeats=15,
    scrape_pushgateway_max=10_000,
    worker_calls=1_000_000,
    worker_alloc_calls=1_000_000,
    worker_heartbeat_seconds=30.0,
    detection_trials=5,
    db_ops=100_000,
)


def interleaved(names: Sequence[str], round_index: int) -> list[str]:
    """``names`` rotated by ``round_index``: each round starts with the next one, so load from
    other processes falls on every system and its baselines alike."""
    k = round_index % len(names)
    return [*names[k:], *names[:k]]
