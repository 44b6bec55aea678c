"""The console's Prometheus metrics: a collector that reads the live state at each scrape.

Names and labels are the contract in ``docs/contracts.md`` ("Console /metrics"). Each scrape
copies the state and counters under their locks (no I/O there) and reads the cached system and
process-tree snapshots, which are refreshed at most every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consola_wire import ALL_STATES
from heartbeat.process_tree import ProcessTreeSampler
from heartbeat.state import ENDPOINTS, FAILURE_REASONS, ConsoleState, Telemetry
from heartbeat.system import SystemSampler
from heartbeat.version import __version__


@dataclass(frozen=True, slots=True)
class Identity:
    """The labels of ``heartbeat_console_info``."""

    console_id: str
    name: str


class ConsoleCollector(Collector):
    """Builds fresh metric families from one console's live state."""

    def __init__(
        self,
        *,
        identity: Callable[[], Identity],
        state: ConsoleState,
        telemetry: Telemetry,
        system: SystemSampler,
        tree: ProcessTreeSampler,
        interval_seconds: float,
    ) -> None:
        self._identity = identity
        self._state = state
        self._telemetry = telemetry
        self._system = system
        self._tree = tree
        self._interval = interval_seconds

    def collect(self) -> Iterator[Metric]:
        ident = self._identity()
        state = self._state.snapshot()
        tel = self._telemetry.snapshot()
        sysnap = self._system.get()
        tree = self._tree.get()

        info = GaugeMetricFamily(
            "heartbeat_console_info",
            "Identity of this console; always 1 (version is the heartbeat library version).",
            labels=["console_id", "name", "hostname", "platform", "arch", "version"],
        )
        info.add_metric(
            [
                ident.console_id,
                ident.name,
                sysnap.hostname,
                sysnap.platform,
                sysnap.arch,
                __version__,
            ],
            1.0,
        )
        yield info

        states = GaugeMetricFamily(
            "heartbeat_console_state",
            "Current state of this console: 1 for the current state, 0 for the others.",
            labels=["state"],
        )
        for name in ALL_STATES:
            states.add_metric([name], 1.0 if name == state.estado else 0.0)
        yield states

        yield GaugeMetricFamily(
            "heartbeat_state_since_timestamp_seconds",
            "Unix time at which the worker last changed the state.",
            value=state.changed_at,
        )
        yield GaugeMetricFamily(
            "heartbeat_last_success_timestamp_seconds",
            "Unix time of the last request the consoles API acknowledged (0 = never).",
            value=tel.last_success,
        )
        yield GaugeMetricFamily(
            "heartbeat_interval_seconds",
            "Configured interval between periodic heartbeats, in seconds.",
            value=self._interval,
        )
        yield GaugeMetricFamily(
            "heartbeat_registered",
            "1 while the consoles API knows this console (registered and not forgotten), else 0.",
            value=1.0 if tel.registered else 0.0,
        )
        yield GaugeMetricFamily(
            "heartbeat_consecutive_failures",
            "Requests to the consoles API that failed in a row since the last success.",
            value=float(tel.consecutive_failures),
        )

        requests = CounterMetricFamily(
            "heartbeat_requests",
            "Requests attempted to the consoles API, by endpoint.",
            labels=["endpoint"],
        )
        for endpoint in ENDPOINTS:
            requests.add_metric([endpoint], float(tel.requests[endpoint]))
        yield requests

        failures = CounterMetricFamily(
            "heartbeat_request_failures",
            "Requests to the consoles API that failed, by endpoint and reason.",
            labels=["endpoint", "reason"],
        )
        for endpoint in ENDPOINTS:
            for reason in FAILURE_REASONS:
                failures.add_metric([endpoint, reason], float(tel.failures[(endpoint, reason)]))
        yield failures

        yield from _system_families(
            cpus=sysnap.cpus,
            total=sysnap.memory_total_bytes,
            available=sysnap.memory_available_bytes,
            uptime=sysnap.uptime_seconds,
            load1=sysnap.load1,
            ratio=sysnap.cpu_usage_ratio,
        )

        yield GaugeMetricFamily(
            "heartbeat_worker_processes",
            "Processes in the worker's tree (the worker itself and its children).",
            value=float(tree.processes),
        )
        yield CounterMetricFamily(
            "heartbeat_worker_cpu_seconds",
            "CPU time used by the worker's process tree, children included, in seconds.",
            value=tree.cpu_seconds,
        )
        yield GaugeMetricFamily(
            "heartbeat_worker_resident_memory_bytes",
            "Resident memory of the worker's process tree, in bytes.",
            value=float(tree.resident_bytes),
        )

        yield CounterMetricFamily(
            "heartbeat_videos_started",
            "Videos that entered procesando().",
            value=float(state.videos_started),
        )
        yield CounterMetricFamily(
            "heartbeat_videos_finished",
            "Videos that left procesando() successfully.",
            value=float(state.videos_finished),
        )
        yield CounterMetricFamily(
            "heartbeat_videos_failed",
            "Videos that left procesando() with an exception.",
            value=float(state.videos_failed),
        )
        if state.current_video_start is not None:
            yield GaugeMetricFamily(
                "heartbeat_current_video_start_timestamp_seconds",
                "Unix time at which the video in progress entered procesando().",
                value=state.current_video_start,
            )


def _system_families(
    *, cpus: int, total: int, available: int, uptime: float, load1: float, ratio: float
) -> Iterator[Metric]:
    yield GaugeMetricFamily("heartbeat_system_cpus", "Logical CPUs of the machine.", value=cpus)
    yield GaugeMetricFamily(
        "heartbeat_system_memory_total_bytes",
        "Total memory of the machine, in bytes.",
        value=float(total),
    )
    yield GaugeMetricFamily(
        "heartbeat_system_memory_available_bytes",
        "Memory available for new work on the machine, in bytes.",
        value=float(available),
    )
    yield GaugeMetricFamily(
        "heartbeat_system_uptime_seconds",
        "Time since the machine booted, in seconds.",
        value=uptime,
    )
    yield GaugeMetricFamily(
        "heartbeat_system_load1", "1-minute load average of the machine.", value=load1
    )
    yield GaugeMetricFamily(
        "heartbeat_system_cpu_usage_ratio",
        "Fraction of the machine's CPU time spent busy since the previous sample (0 to 1).",
        value=ratio,
    )


def build_registry(collector: ConsoleCollector) -> CollectorRegistry:
    """A private registry holding the console collector and the standard process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry
