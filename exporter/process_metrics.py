"""Counters kept by this process only (requests, ingest, sweeps); the fleet state is in the DB."""

from __future__ import annotations

import threading
from collections import Counter

from exporter.clock import KINDS

#: Route labels of ``heartbeat_fleet_http_requests_total``, initialised at 0.
ROUTES = (
    "registrar",
    "heartbeat",
    "consolas",
    "consola",
    "inactivas",
    "estadisticas",
    "historial",
    "mantenimiento",
    "eliminar",
    "prometheus_targets",
    "secreto",
    "metrics",
    "healthz",
    "readyz",
    "openapi",
    "index",
    "other",
)


class ProcessMetrics:
    """Per-process counters and the last known database health."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.heartbeats = 0
        self.registrations = 0
        self.marked_inactive = 0
        self.retired_consoles = 0
        self.last_ingest: float | None = None
        self.requests: Counter[str] = Counter(dict.fromkeys(ROUTES, 0))
        self.errors: Counter[tuple[str, str]] = Counter()
        self.clock_anomalies: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        self.database_up = True
        self.database_reason = ""
        #: Connections, kept on the event loop by exporter.web.connection_limits: open now, the
        #: most served at once, refused beyond it, cut off for reading too slowly.
        self.connections_open = 0
        self.max_connections = 0
        self.connections_refused = 0
        self.request_read_timeouts = 0
        #: The writer process (``--writer process``): running and connected, or not; None with
        #: the writer thread. Restarts: times it was started again after it died.
        self.writer_process_up: bool | None = None
        self.writer_process_restarts = 0

    def request(self, route: str, status: int | None) -> None:
        """Count one request; ``status`` None: its client went before its body arrived (no
        answer reached it, no error counted)."""
        with self._lock:
            self.requests[route] += 1
            if status is not None and status >= 400:
                self.errors[(route, str(status))] += 1

    def ingested(self, registration: bool, now: float) -> None:
        """Count one acknowledged heartbeat or registration."""
        with self._lock:
            if registration:
                self.registrations += 1
            else:
                self.heartbeats += 1
            self.last_ingest = now

    def swept(self, marked: int) -> None:
        """Count consoles this process marked inactiva."""
        with self._lock:
            self.marked_inactive += marked

    def retired(self, count: int) -> None:
        """Count consoles this process retired (``--retire-after``)."""
        with self._lock:
            self.retired_consoles += count

    def clock_anomaly(self, kind: str) -> None:
        """Count one wall-clock step or stall the sweeper noticed."""
        with self._lock:
            self.clock_anomalies[kind] += 1

    def anomalies(self) -> dict[str, int]:
        """A copy of the clock-anomaly counters, by kind."""
        with self._lock:
            return dict(self.clock_anomalies)

    def database(self, up: bool, reason: str = "") -> None:
        """Record the outcome of the latest database access."""
        self.database_up = up
        self.database_reason = reason

    def writer_process(self, up: bool) -> None:
        """Record that the writer process is connected (again) or has gone."""
        if up and self.writer_process_up is False:
            self.writer_process_restarts += 1
        self.writer_process_up = up

    def snapshot(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Copies of the request and error counters."""
        with self._lock:
            return dict(self.requests), dict(self.errors)
