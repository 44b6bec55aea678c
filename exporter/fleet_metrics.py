"""The fleet ``/metrics``: at each scrape, the consoles changed since the previous one are read
(:mod:`exporter.fleet_snapshot`) and re-rendered into the texts kept between scrapes.

Names follow docs/contracts.md "Fleet /metrics". The per-console families (about twelve samples
per console, so over a million at 100,000 consoles) are written by the hand renderer in
:mod:`exporter.fleet_exposition`, because ``prometheus_client`` took seconds for them (bench/).
:class:`ConsoleFamiliesCollector` is the ``prometheus_client`` definition of the same families:
the tests prove the two identical with the official parser and promtool. The small families
(counts per state, this process's counters, ``process_*``) go through ``prometheus_client``.
"""

from __future__ import annotations

import gzip
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

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
from exporter.clock import Clock, system_clock
from exporter.config import DEFAULT_REQUEST_TIMEOUT_SECONDS
from exporter.fleet_exposition import ConsoleFamiliesRenderer, Piece
from exporter.fleet_snapshot import CLOCK_SKEW_SECONDS, FleetDelta, FleetSnapshot
from exporter.gzip_pieces import GzipPieces
from exporter.process_metrics import ProcessMetrics
from exporter.storage.base import FleetRow, Storage, StorageUnavailableError

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
    """Counts per state (from the same snapshot as the per-console series) and this process's
    own counters.

    ``counts`` is None when the database could not be read: the scrape still succeeds, with
    ``heartbeat_fleet_database_up 0`` and without the per-console series.
    """

    def __init__(self, counts: Mapping[str, int] | None, metrics: ProcessMetrics) -> None:
        self._counts = counts
        self._metrics = metrics

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


def summary_registry(
    counts: Mapping[str, int] | None, metrics: ProcessMetrics
) -> CollectorRegistry:
    """A private registry for one scrape: the summary collector and the process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetSummaryCollector(counts, metrics))
    ProcessCollector(registry=registry)
    return registry


def state_counts(rows: Iterable[FleetRow]) -> dict[str, int]:
    """Consoles per state (every state present, 0 when none)."""
    counts: Counter[str] = Counter(dict.fromkeys(ALL_STATES, 0))
    counts.update(row[2] for row in rows)
    return dict(counts)


@dataclass(frozen=True, slots=True)
class FleetView:
    """One consistent state of the fleet for one scrape: the per-console family texts (keyed,
    see :class:`exporter.gzip_pieces.GzipPieces`) and the consoles per state."""

    pieces: tuple[Piece, ...]
    counts: dict[str, int]


class FleetRenderer:
    """The whole fleet ``/metrics`` of one exporter, kept between scrapes.

    :meth:`refresh` reads what changed in the database (:class:`FleetSnapshot`), re-renders
    those consoles (:class:`ConsoleFamiliesRenderer`) and returns an immutable
    :class:`FleetView`; :meth:`render_view` adds this process's own families and compresses.
    Refreshes are serialised by a lock; views and the gzip cache are safe to share.
    """

    def __init__(
        self,
        video_info: bool = True,
        clock: Clock = system_clock,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        margin: float | None = None,
    ) -> None:
        """``request_timeout`` bounds the wait for another scrape's refresh and, with
        :data:`CLOCK_SKEW_SECONDS`, makes the re-read margin unless ``margin`` is given."""
        self.video_info = video_info
        if margin is None:
            margin = request_timeout + CLOCK_SKEW_SECONDS
        self._snapshot = FleetSnapshot(clock, margin)
        self._consoles = ConsoleFamiliesRenderer(video_info)
        self._lock = threading.Lock()
        self._lock_timeout = request_timeout
        self._gzip = GzipPieces(level=1)

    def refresh(self, storage: Storage) -> FleetView:
        """Bring the fleet up to date with ``storage``; StorageUnavailableError when it fails."""
        if not self._lock.acquire(timeout=self._lock_timeout):
            raise StorageUnavailableError("an earlier scrape is still reading the database")
        try:
            return self.update(self.read(storage))
        finally:
            self._lock.release()

    def read(self, storage: Storage) -> FleetDelta:
        """The database part of :meth:`refresh` (call under its lock, or from one thread)."""
        return self._snapshot.refresh(storage)

    def update(self, delta: FleetDelta) -> FleetView:
        """The rendering part of :meth:`refresh`: apply ``delta`` to the per-console texts."""
        try:
            self._consoles.update(delta.changed, delta.removed)
            pieces = self._consoles.pieces()
        except BaseException:  # start over rather than keep texts that disagree with the rows
            self._snapshot.reset()
            self._consoles = ConsoleFamiliesRenderer(self.video_info)
            raise
        return FleetView(tuple(pieces), dict(self._snapshot.counts))

    def render_view(
        self, view: FleetView | None, metrics: ProcessMetrics, accept_gzip: bool
    ) -> tuple[list[bytes], dict[str, str]]:
        """The exposition as pieces to send in order (one when gzipped), and its headers.

        ``view`` is None when the database could not be read.
        """
        summary = generate_latest(summary_registry(view.counts if view else None, metrics))
        pieces: list[Piece | tuple[None, bytes]] = [*(view.pieces if view else ()), (None, summary)]
        headers = {"Content-Type": CONTENT_TYPE}
        if accept_gzip:
            headers["Content-Encoding"] = "gzip"
            return [self._gzip.compress(pieces)], headers
        return [data for _, data in pieces], headers

    def render(
        self, rows: list[FleetRow] | None, metrics: ProcessMetrics, accept_gzip: bool
    ) -> tuple[bytes, dict[str, str]]:
        """The exposition for exactly ``rows`` (no database read): the from-scratch reference.

        Does not touch the state :meth:`refresh` keeps.
        """
        view = None
        if rows is not None:
            pieces = ConsoleFamiliesRenderer(self.video_info).render_pieces(rows)
            view = FleetView(tuple(pieces), state_counts(rows))
        body, headers = self.render_view(view, metrics, accept_gzip=False)
        data = b"".join(body)
        if accept_gzip:
            headers["Content-Encoding"] = "gzip"
            data = gzip.compress(data, compresslevel=1)
        return data, headers


__all__ = [
    "CONTENT_TYPE",
    "ConsoleFamiliesCollector",
    "FleetRenderer",
    "FleetSummaryCollector",
    "FleetView",
    "state_counts",
    "summary_registry",
]
