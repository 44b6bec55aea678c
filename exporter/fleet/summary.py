"""The small fleet families, through ``prometheus_client``: consoles per state, this process's
own counters, and ``process_*``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from consola_wire import ALL_STATES
from exporter.fleet.names import PREFIX
from exporter.process_metrics import ProcessMetrics
from exporter.storage.records import FleetRow


class FleetSummaryCollector(Collector):
    """Counts per state (from the same snapshot as the per-console series) and this process's
    own counters.

    ``counts`` is None when the database could not be read: the scrape still succeeds, with
    ``heartbeat_fleet_database_up 0`` and without the per-console series. ``now`` is this
    process's wall clock at the scrape (``heartbeat_fleet_time_seconds``).
    """

    def __init__(
        self, counts: Mapping[str, int] | None, metrics: ProcessMetrics, now: float
    ) -> None:
        self._counts = counts
        self._metrics = metrics
        self._now = now

    def collect(self) -> Iterator[Metric]:
        if self._counts is not None:
            consoles = GaugeMetricFamily(
                PREFIX + "consoles", "Number of known consoles in each state.", labels=["state"]
            )
            for name in ALL_STATES:
                consoles.add_metric([name], self._counts.get(name, 0))
            yield consoles
        m = self._metrics
        requests, errors = m.snapshot()
        yield CounterMetricFamily(
            PREFIX + "heartbeats_received",
            "Heartbeats accepted (answered 2xx) by this process.",
            value=m.heartbeats,
        )
        yield CounterMetricFamily(
            PREFIX + "registrations",
            "Registrations accepted by this process.",
            value=m.registrations,
        )
        yield CounterMetricFamily(
            PREFIX + "marked_inactive",
            "Consoles this process marked inactiva for silence.",
            value=m.marked_inactive,
        )
        yield CounterMetricFamily(
            PREFIX + "retired",
            "Consoles this process retired after being inactiva longer than --retire-after.",
            value=m.retired_consoles,
        )
        by_route = CounterMetricFamily(
            PREFIX + "http_requests", "API requests handled by this process.", labels=["route"]
        )
        for route, count in sorted(requests.items()):
            by_route.add_metric([route], count)
        yield by_route
        failed = CounterMetricFamily(
            PREFIX + "http_request_errors",
            "API requests this process answered with a 4xx or 5xx status.",
            labels=["route", "code"],
        )
        for (route, code), count in sorted(errors.items()):
            failed.add_metric([route, code], count)
        yield failed
        anomalies = CounterMetricFamily(
            PREFIX + "clock_anomalies",
            "Times this process saw its wall clock step (kind step) or itself not run for"
            " seconds (kind stall); each gives every console a new grace period.",
            labels=["kind"],
        )
        for kind, count in sorted(m.anomalies().items()):
            anomalies.add_metric([kind], count)
        yield anomalies
        yield GaugeMetricFamily(
            PREFIX + "time_seconds",
            "This process's wall clock at the scrape, in Unix seconds: subtract its"
            " *_timestamp_seconds from it for durations free of clock skew with Prometheus.",
            value=self._now,
        )
        yield GaugeMetricFamily(
            PREFIX + "open_connections",
            "HTTP connections this process holds open now.",
            value=m.connections_open,
        )
        yield GaugeMetricFamily(
            PREFIX + "max_connections",
            "Most HTTP connections this process serves at once (--max-connections).",
            value=m.max_connections,
        )
        yield CounterMetricFamily(
            PREFIX + "connections_refused",
            "Connections this process answered 503 at once: --max-connections were open.",
            value=m.connections_refused,
        )
        yield CounterMetricFamily(
            PREFIX + "request_read_timeouts",
            "Connections this process closed because a request's headers and body did not"
            " arrive within --request-read-timeout.",
            value=m.request_read_timeouts,
        )
        yield GaugeMetricFamily(
            PREFIX + "database_up",
            "1 when the database answered this process's last access, else 0.",
            value=1.0 if m.database_up else 0.0,
        )
        if m.writer_process_up is not None:
            yield GaugeMetricFamily(
                PREFIX + "writer_process_up",
                "1 while the writer process (--writer process) runs and takes write batches;"
                " 0 while it is started again after it died (writes wait or get a 503).",
                value=1.0 if m.writer_process_up else 0.0,
            )
            yield CounterMetricFamily(
                PREFIX + "writer_process_restarts",
                "Times this process started its writer process again after it died.",
                value=m.writer_process_restarts,
            )
        if m.last_ingest is not None:
            yield GaugeMetricFamily(
                PREFIX + "last_ingest_timestamp_seconds",
                "Server time of the last heartbeat or registration this process accepted.",
                value=m.last_ingest,
            )


def summary_registry(
    counts: Mapping[str, int] | None, metrics: ProcessMetrics, now: float
) -> CollectorRegistry:
    """A private registry for one scrape: the summary collector and the process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetSummaryCollector(counts, metrics, now))
    ProcessCollector(registry=registry)
    return registry


def state_counts(rows: Iterable[FleetRow]) -> dict[str, int]:
    """Consoles per state (every state present, 0 when none)."""
    counts: Counter[str] = Counter(dict.fromkeys(ALL_STATES, 0))
    counts.update(row[2] for row in rows)
    return dict(counts)
