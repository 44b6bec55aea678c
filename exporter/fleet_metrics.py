"""The fleet ``/metrics``, built at scrape time from one database snapshot.

Names follow docs/contracts.md "Fleet /metrics". The per-console families (about twelve samples
per console, so over a million at 100,000 consoles) are written by the hand renderer in
:mod:`exporter.fleet_exposition`, because ``prometheus_client`` took seconds for them (bench/).
:class:`ConsoleFamiliesCollector` is the ``prometheus_client`` definition of the same families:
the tests prove the two identical with the official parser and promtool. The small families
(counts per state, this process's counters, ``process_*``) go through ``prometheus_client``.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from consola_wire import ALL_STATES
from exporter.fleet_exposition import ConsoleFamiliesRenderer
from exporter.process_metrics import ProcessMetrics
from exporter.storage.base import FleetRow

PREFIX = "heartbeat_fleet_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ConsoleFamiliesCollector(Collector):
    """The per-console families with ``prometheus_client`` (the reference for the renderer)."""

    def __init__(self, rows: list[FleetRow], video_info: bool = True) -> None:
        self._rows = rows
        self._video_info = video_info

    def collect(self) -> Iterator[Metric]:
        rows = self._rows
        last_seen = GaugeMetricFamily(
            PREFIX + "last_seen_timestamp_seconds",
            "Server receive time of the console's last registration or heartbeat, Unix seconds.",
            labels=["console_id"],
        )
        inactive_after = GaugeMetricFamily(
            PREFIX + "inactive_after_seconds",
            "Silence threshold that applies to the console, in seconds.",
            labels=["console_id"],
        )
        state = GaugeMetricFamily(
            PREFIX + "console_state",
            "Current state of the console: 1 for its state, 0 for the other four.",
            labels=["console_id", "state"],
        )
        info = InfoMetricFamily(
            PREFIX + "console",
            "Identity of the console (version is the runtime version it reports).",
            labels=["console_id", "name", "hostname", "platform", "arch", "version"],
        )
        since = GaugeMetricFamily(
            PREFIX + "state_since_timestamp_seconds",
            "Server time the console entered its current state or started its video, Unix seconds.",
            labels=["console_id"],
        )
        client = GaugeMetricFamily(
            PREFIX + "client_timestamp_seconds",
            "The console's own ultimaActividad from its last report, Unix seconds.",
            labels=["console_id"],
        )
        stopped = GaugeMetricFamily(
            PREFIX + "console_stopped_cleanly",
            "1 when the console's current inactiva state came from its own goodbye, else 0.",
            labels=["console_id"],
        )
        video = InfoMetricFamily(
            PREFIX + "console_video",
            "The video the console is processing, present only while it is ocupada.",
            labels=["console_id", "video"],
        )
        for row in rows:
            (cid, nombre, estado, seen, threshold, state_since, actividad, clean, video_name,
             hostname, platform, arch, version) = row  # fmt: skip
            last_seen.add_metric([cid], seen)
            inactive_after.add_metric([cid], threshold)
            for name in ALL_STATES:
                state.add_metric([cid, name], 1.0 if name == estado else 0.0)
            info.add_metric(
                [cid],
                {
                    "name": nombre,
                    "hostname": hostname,
                    "platform": platform,
                    "arch": arch,
                    "version": version,
                },
            )
            since.add_metric([cid], state_since)
            if actividad is not None:
                client.add_metric([cid], actividad)
            stopped.add_metric([cid], 1.0 if clean else 0.0)
            if self._video_info and estado == "ocupada" and video_name:
                video.add_metric([cid], {"video": video_name})
        yield from (last_seen, inactive_after, state, info, since, client, stopped)
        if self._video_info:
            yield video


class FleetSummaryCollector(Collector):
    """Counts per state (from the snapshot) and this process's own counters.

    ``rows`` is None when the database could not be read: the scrape still succeeds, with
    ``heartbeat_fleet_database_up 0`` and without the per-console series.
    """

    def __init__(self, rows: list[FleetRow] | None, metrics: ProcessMetrics) -> None:
        self._rows = rows
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        if self._rows is not None:
            counts: Counter[str] = Counter(dict.fromkeys(ALL_STATES, 0))
            counts.update(row[2] for row in self._rows)
            consoles = GaugeMetricFamily(
                PREFIX + "consoles", "Number of known consoles in each state.", labels=["state"]
            )
            for name in ALL_STATES:
                consoles.add_metric([name], counts[name])
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
        yield GaugeMetricFamily(
            PREFIX + "database_up",
            "1 when the database answered this process's last access, else 0.",
            value=1.0 if m.database_up else 0.0,
        )
        if m.last_ingest is not None:
            yield GaugeMetricFamily(
                PREFIX + "last_ingest_timestamp_seconds",
                "Server time of the last heartbeat or registration this process accepted.",
                value=m.last_ingest,
            )


def summary_registry(rows: list[FleetRow] | None, metrics: ProcessMetrics) -> CollectorRegistry:
    """A private registry for one scrape: the summary collector and the process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetSummaryCollector(rows, metrics))
    ProcessCollector(registry=registry)
    return registry


class FleetRenderer:
    """Renders the whole fleet ``/metrics``; one per exporter (it caches per-console lines)."""

    def __init__(self, video_info: bool = True) -> None:
        self._consoles = ConsoleFamiliesRenderer(video_info)

    def render(
        self, rows: list[FleetRow] | None, metrics: ProcessMetrics, accept_gzip: bool
    ) -> tuple[bytes, dict[str, str]]:
        """The exposition text (gzip-compressed when the scraper accepts it) and its headers."""
        body = generate_latest(summary_registry(rows, metrics))
        if rows is not None:
            pieces = self._consoles.render_pieces(rows)
            pieces.append(body)
            body = b"".join(pieces)
        headers = {"Content-Type": CONTENT_TYPE}
        if accept_gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return body, headers


__all__ = [
    "CONTENT_TYPE",
    "ConsoleFamiliesCollector",
    "FleetRenderer",
    "FleetSummaryCollector",
    "summary_registry",
]
