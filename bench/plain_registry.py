"""Baseline: a plain prometheus_client registry of labelled gauges holding the fleet's series.

The same families and series as the exporter's fleet ``/metrics`` (per console: last seen,
threshold, five state series, info, state since, client time, stopped cleanly), set once with
``Gauge(...).labels(...).set()`` and served by prometheus_client's own HTTP server.
``python -m bench.plain_registry PORT CONSOLES``.
"""

from __future__ import annotations

import sys
import threading
import time

from prometheus_client import CollectorRegistry, Gauge, Info, start_http_server

from bench.ids import console_id
from consola_wire import ALL_STATES

P = "heartbeat_fleet_"


def build(consoles: int) -> CollectorRegistry:
    """A registry with every console's series."""
    registry = CollectorRegistry(auto_describe=False)
    cid = ["console_id"]
    last_seen = Gauge(P + "last_seen_timestamp_seconds", "Last seen.", cid, registry=registry)
    threshold = Gauge(P + "inactive_after_seconds", "Threshold.", cid, registry=registry)
    state = Gauge(P + "console_state", "State.", ["console_id", "state"], registry=registry)
    info = Info(
        P + "console",
        "Identity.",
        ["console_id", "name", "hostname", "platform", "arch", "version"],
        registry=registry,
    )
    since = Gauge(P + "state_since_timestamp_seconds", "State since.", cid, registry=registry)
    client = Gauge(P + "client_timestamp_seconds", "Client time.", cid, registry=registry)
    stopped = Gauge(P + "console_stopped_cleanly", "Stopped cleanly.", cid, registry=registry)
    now = time.time()
    for i in range(consoles):
        c = console_id(i)
        last_seen.labels(c).set(now)
        threshold.labels(c).set(600.0)
        current = ALL_STATES[i % 4]
        for s in ALL_STATES:
            state.labels(c, s).set(1.0 if s == current else 0.0)
        info.labels(c, f"Consola consola-{i}", f"consola-{i}", "linux", "x64", "3.11.7").info({})
        since.labels(c).set(now)
        client.labels(c).set(now)
        stopped.labels(c).set(0.0)
    return registry


def main(argv: list[str]) -> int:
    """Build the registry, serve it on 127.0.0.1:PORT until killed."""
    port, consoles = int(argv[0]), int(argv[1])
    registry = build(consoles)
    start_http_server(port, addr="127.0.0.1", registry=registry)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
