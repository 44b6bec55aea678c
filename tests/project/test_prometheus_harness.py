"""The test harness itself: a real Prometheus scrapes a real target and answers queries."""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.support.prometheus import ScrapeJob, run_prometheus
from tests.support.tools import free_port, wait_until


def test_prometheus_harness_scrapes_a_loopback_target(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Gauge("harness_probe_value", "A value the harness test exposes.", registry=registry).set(42)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        job = ScrapeJob("harness", [f"127.0.0.1:{port}"])
        with run_prometheus(tmp_path, [job]) as prom:
            result = wait_until(lambda: prom.query("harness_probe_value"), timeout=20)
            assert isinstance(result, list)
            assert result[0]["value"][1] == "42"
    finally:
        server.shutdown()
        assert isinstance(thread, threading.Thread)
