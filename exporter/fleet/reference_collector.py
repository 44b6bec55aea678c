"""The per-console fleet families defined with ``prometheus_client``: the reference.

:mod:`exporter.fleet.console_families` renders the same families by hand, because
``prometheus_client`` took seconds for them at 100,000 consoles (bench/); the tests prove the two
identical with the official parser and promtool, against this collector.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from consola_wire import ALL_STATES
from exporter.fleet.names import PREFIX
from exporter.storage.records import FleetRow


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
        maintenance = GaugeMetricFamily(
            PREFIX + "console_maintenance_until_timestamp_seconds",
            "End of the console's maintenance window, Unix seconds; present only while it lasts.",
            labels=["console_id"],
        )
        video = InfoMetricFamily(
            PREFIX + "console_video",
            "The video the console is processing, present only while it is ocupada.",
            labels=["console_id", "video"],
        )
        for row in rows:
            (cid, nombre, estado, seen, threshold, state_since, actividad, clean, video_name,
             hostname, platform, arch, version, maintenance_until) = row  # fmt: skip
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
            if maintenance_until is not None:
                maintenance.add_metric([cid], maintenance_until)
            if self._video_info and estado == "ocupada" and video_name:
                video.add_metric([cid], {"video": video_name})
        yield from (last_seen, inactive_after, state, info, since, client, stopped, maintenance)
        if self._video_info:
            yield video
