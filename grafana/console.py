"""The console detail dashboard (uid ``heartbeat-console``), chosen by the ``console_id`` variable.

Fleet-side series (exporter job) carry ``console_id`` and are filtered by it directly. A console's
own ``/metrics`` (job ``heartbeat-console``) carry no ``console_id`` on their series: only
``heartbeat_console_info{console_id=...}`` names the console. Those series are therefore kept with
``and on(job, instance) heartbeat_console_info{console_id="$console_id"}``: a set filter that leaves
values untouched, cannot fail on duplicate matches and works whatever target labels Prometheus adds.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from grafana.panels import (
    PanelBuilder,
    Variable,
    alerts_table,
    dashboard,
    datasource_variable,
    query_variable,
    stat,
    state_mappings,
    state_timeline,
    target,
    timeseries,
)
from grafana.promql import rate, seconds_since, selector, state_code

UID = "heartbeat-console"
CONSOLE = '"$console_id"'
#: Both sides of the picture: the exporter's fleet series and the consoles' own.
SERIES_WITH_JOBS = '{__name__=~"heartbeat_fleet_console_info|heartbeat_console_info"}'


def fleet(metric: str, **matchers: str) -> str:
    """A fleet-side selector for the chosen console."""
    return selector(metric, console_id="$console_id", **matchers)


def own(expr: str) -> str:
    """Keep only the series of ``expr`` scraped from the chosen console's own ``/metrics``."""
    info = selector("heartbeat_console_info", console_id="$console_id")
    return f"({expr}) and on(job, instance) {info}"


def variables() -> list[Variable]:
    """datasource, job and instance (exporter and consoles), then the console."""
    return [
        datasource_variable(),
        query_variable("job", "Job", f"label_values({SERIES_WITH_JOBS}, job)"),
        query_variable(
            "instance",
            "Instance",
            f'label_values({SERIES_WITH_JOBS[:-1]}, job=~"$job"}}, instance)',
        ),
        query_variable(
            "console_id",
            "Console",
            'label_values(heartbeat_fleet_console_info{job=~"$job", instance=~"$instance"}, '
            "console_id)",
            multi=False,
            include_all=False,
        ),
    ]


def _while_in(state: str) -> str:
    return f"on() (max({fleet('heartbeat_fleet_console_state', state=state)}) == 1)"


def now_stats() -> list[PanelBuilder]:
    """State, silence, current video and how long it has run, error since when."""
    silence, in_state = (
        seconds_since(metric, by=None, console_id="$console_id")
        for metric in (
            "heartbeat_fleet_last_seen_timestamp_seconds",
            "heartbeat_fleet_state_since_timestamp_seconds",
        )
    )
    return [
        stat(
            "State",
            "The console's current state as the exporter holds it (heartbeat_fleet_console_state).",
            "none",
            state_code("heartbeat_fleet_console_state", "console_id", console_id="$console_id"),
            (0, 0, 4, 4),
            steps=((None, "text"),),
            mappings=state_mappings(),
        ),
        stat(
            "Last seen",
            "Time since the exporter last received a registration or heartbeat from this console "
            "(its own receive time, never the console's clock), on the exporter's clock "
            "(heartbeat_fleet_time_seconds).",
            "s",
            silence,
            (4, 0, 4, 4),
            steps=((None, "text"),),
        ),
        stat(
            "Silence / threshold",
            "Time since last seen divided by this console's silence threshold "
            "(heartbeat_fleet_inactive_after_seconds): 100% or more means silent.",
            "percentunit",
            f"{silence} / max({fleet('heartbeat_fleet_inactive_after_seconds')})",
            (8, 0, 4, 4),
            steps=((None, "green"), (0.5, "orange"), (1, "red")),
        ),
        stat(
            "Current video",
            "The video in progress (heartbeat_fleet_console_video_info; only while ocupada).",
            "string",
            f"max by (video) ({fleet('heartbeat_fleet_console_video_info')})",
            (12, 0, 4, 4),
            steps=((None, "blue"),),
            legend="{{video}}",
            text_mode=common.BigValueTextMode.NAME,
            no_value="none",
        ),
        stat(
            "Video running for",
            "How long the current video has been running (server time since the console "
            "started it, on the exporter's clock; heartbeat_fleet_state_since_timestamp_seconds "
            "while ocupada).",
            "s",
            f"{in_state} and {_while_in('ocupada')}",
            (16, 0, 4, 4),
            steps=((None, "blue"),),
            no_value="no video",
        ),
        stat(
            "In error since",
            "When the console entered the error state, if it is in it now (measured on the "
            "exporter's clock, shown on Prometheus's). The error text (ultimoError) is not a "
            "metric: read it from the exporter's API or `heartbeat status`.",
            "dateTimeFromNow",
            f"(time() - {in_state}) and {_while_in('error')}",
            (20, 0, 4, 4),
            steps=((None, "red"),),
            no_value="not in error",
        ),
    ]


def history_panels() -> list[PanelBuilder]:
    """State history and time spent in error."""
    return [
        state_timeline(
            "State history",
            "The console's state over time (heartbeat_fleet_console_state).",
            [
                target(
                    state_code(
                        "heartbeat_fleet_console_state", "console_id", console_id="$console_id"
                    ),
                    "state",
                )
            ],
            (0, 4, 24, 5),
        ),
    ]


def system_panels() -> list[PanelBuilder]:
    """Machine and worker gauges from the console's own /metrics."""
    info = "heartbeat_system_cpus"
    return [
        timeseries(
            "CPU",
            "Machine CPU busy (heartbeat_system_cpu_usage_ratio) and the worker tree's share of "
            "the machine (rate of heartbeat_worker_cpu_seconds_total / logical CPUs).",
            "percentunit",
            [
                target(own(selector("heartbeat_system_cpu_usage_ratio")), "machine"),
                target(
                    own(
                        f"{rate('heartbeat_worker_cpu_seconds_total')} / on(job, instance) "
                        f"{selector(info)}"
                    ),
                    "worker tree",
                    ref_id="B",
                ),
            ],
            (0, 9, 8, 8),
        ),
        timeseries(
            "Memory",
            "Machine memory total and in use (total − available) and the worker tree's resident "
            "memory (heartbeat_system_memory_*, heartbeat_worker_resident_memory_bytes).",
            "bytes",
            [
                target(own(selector("heartbeat_system_memory_total_bytes")), "machine total"),
                target(
                    own(
                        f"{selector('heartbeat_system_memory_total_bytes')} - "
                        f"{selector('heartbeat_system_memory_available_bytes')}"
                    ),
                    "machine used",
                    ref_id="B",
                ),
                target(
                    own(selector("heartbeat_worker_resident_memory_bytes")),
                    "worker tree RSS",
                    ref_id="C",
                ),
            ],
            (8, 9, 8, 8),
        ),
        timeseries(
            "Load",
            "1-minute load average (heartbeat_system_load1) against the logical CPUs "
            "(heartbeat_system_cpus).",
            "short",
            [
                target(own(selector("heartbeat_system_load1")), "load1"),
                target(own(selector(info)), "CPUs", ref_id="B"),
            ],
            (16, 9, 8, 8),
        ),
    ]


def activity_panels() -> list[PanelBuilder]:
    """Worker processes, heartbeat successes and failures, videos, last acknowledged report."""
    requests = f"sum by (endpoint) ({own(rate('heartbeat_requests_total'))})"
    failures = f"sum by (endpoint) ({own(rate('heartbeat_request_failures_total'))})"
    return [
        timeseries(
            "Worker processes",
            "Processes in the worker's tree, itself and its children (heartbeat_worker_processes).",
            "short",
            [target(own(selector("heartbeat_worker_processes")), "processes")],
            (0, 17, 8, 8),
        ),
        timeseries(
            "Reports acknowledged",
            "Requests to the API that succeeded per second, by endpoint "
            "(heartbeat_requests_total − heartbeat_request_failures_total).",
            "reqps",
            [target(f"{requests} - {failures}", "{{endpoint}}")],
            (8, 17, 8, 8),
        ),
        timeseries(
            "Reports failed",
            "Requests to the API that failed per second, by endpoint and reason "
            "(heartbeat_request_failures_total).",
            "reqps",
            [
                target(
                    f"sum by (endpoint, reason) ({own(rate('heartbeat_request_failures_total'))})",
                    "{{endpoint}} {{reason}}",
                )
            ],
            (16, 17, 8, 8),
        ),
        timeseries(
            "Videos",
            "Videos started, finished and failed per second (heartbeat_videos_*_total).",
            "ops",
            [
                target(own(rate(f"heartbeat_videos_{what}_total")), what, ref_id=ref)
                for ref, what in (("A", "started"), ("B", "finished"), ("C", "failed"))
            ],
            (0, 25, 8, 8),
        ),
        timeseries(
            "Since last acknowledged report",
            "Time since the API last acknowledged a request from this console, as the console "
            "sees it (heartbeat_last_success_timestamp_seconds), against its interval.",
            "s",
            [
                target(
                    own(f"time() - {selector('heartbeat_last_success_timestamp_seconds')}"),
                    "since last success",
                ),
                target(own(selector("heartbeat_interval_seconds")), "interval", ref_id="B"),
            ],
            (8, 25, 8, 8),
        ),
        alerts_table(
            "Alerts firing",
            "Heartbeat alerts firing now for this console (ALERTS with its console_id).",
            'ALERTS{alertname=~"Heartbeat.*", alertstate="firing", '
            f'job=~"$job|", instance=~"$instance|", console_id={CONSOLE}}}',
            (16, 25, 8, 8),
            ["alertname", "severity"],
        ),
    ]


def build() -> model.Dashboard:
    """The whole console dashboard."""
    return dashboard(
        UID,
        "Heartbeat / Console",
        "One console in detail: state history, current video, machine and worker gauges from "
        "its own /metrics, its reports to the API and its alerts.",
        variables(),
        [*now_stats(), *history_panels(), *system_panels(), *activity_panels()],
    )
