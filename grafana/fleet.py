"""The fleet overview dashboard (uid ``heartbeat-fleet``): which consoles are silent, and why."""

from __future__ import annotations

from consola_wire import ALL_STATES
from grafana.model import (
    Json,
    color_overrides,
    dashboard,
    datasource_variable,
    panel,
    query_variable,
    stat,
    state_mappings,
    state_timeline,
    target,
    thresholds,
    timeseries,
    value_mappings,
)
from grafana.promql import STATE_COLORS, rate, selector, state_code

UID = "heartbeat-fleet"
CONSOLE_UID = "heartbeat-console"
CONSOLE_LINK = (
    f"/d/{CONSOLE_UID}/heartbeat-console?${{__url_time_range}}&${{datasource:queryparam}}"
    "&var-console_id=${__data.fields.console_id}"
)

LAST_SEEN = "heartbeat_fleet_last_seen_timestamp_seconds"
THRESHOLD = "heartbeat_fleet_inactive_after_seconds"
#: ``time() - last_seen`` divided by the console's own silence threshold: ≥ 1 means silent.
SILENCE_RATIO = f"(time() - {selector(LAST_SEEN)}) / {selector(THRESHOLD)}"


def variables() -> list[Json]:
    """datasource, then job and instance of the exporter's fleet ``/metrics``."""
    return [
        datasource_variable(),
        query_variable("job", "Job", "label_values(heartbeat_fleet_consoles, job)"),
        query_variable(
            "instance", "Instance", 'label_values(heartbeat_fleet_consoles{job=~"$job"}, instance)'
        ),
    ]


def state_stats() -> list[Json]:
    """One stat per state: how many consoles are in it now."""
    return [
        stat(
            f"Consoles {state}",
            f"Consoles whose current state is `{state}` (heartbeat_fleet_consoles; the maximum "
            "over exporter instances, which share one database).",
            "short",
            f"max({selector('heartbeat_fleet_consoles', state=state)})",
            (3 * index, 0, 3, 4),
            steps=((None, "text"), (1, STATE_COLORS[state])),
            mappings=value_mappings({0: ("0", "text")}),
        )
        for index, state in enumerate(ALL_STATES)
    ]


def health_stats() -> list[Json]:
    """Silent consoles now, the database check and the time since the last accepted report."""
    return [
        stat(
            "Silent consoles",
            "Consoles not heard from for longer than their own silence threshold "
            "(time() - heartbeat_fleet_last_seen_timestamp_seconds > "
            "heartbeat_fleet_inactive_after_seconds), whatever state they last reported.",
            "short",
            f"count(max by (console_id) ({SILENCE_RATIO} >= 1)) or vector(0)",
            (15, 0, 3, 4),
            steps=((None, "green"), (1, "red")),
            mappings=value_mappings({0: ("none", "green")}),
        ),
        stat(
            "Database",
            "Whether the exporter's database answered its last check (heartbeat_fleet_database_up; "
            "the worst of the selected exporter instances).",
            "none",
            f"min({selector('heartbeat_fleet_database_up')})",
            (18, 0, 3, 4),
            steps=((None, "red"), (1, "green")),
            mappings=value_mappings({0: ("down", "red"), 1: ("up", "green")}),
        ),
        stat(
            "Last report received",
            "Time since the exporter last accepted a heartbeat or a registration from any console "
            "(heartbeat_fleet_last_ingest_timestamp_seconds).",
            "s",
            f"time() - max({selector('heartbeat_fleet_last_ingest_timestamp_seconds')})",
            (21, 0, 3, 4),
            steps=((None, "green"), (600, "orange"), (1800, "red")),
        ),
    ]


def console_table() -> Json:
    """Every console, one row each, merged from instant queries by ``console_id``; silent first."""
    queries = {
        "A": "max by (console_id, name, hostname, version) "
        f"({selector('heartbeat_fleet_console_info')})",
        "B": state_code("heartbeat_fleet_console_state", "console_id"),
        "C": f"max by (console_id, video) ({selector('heartbeat_fleet_console_video_info')})",
        "D": f"time() - max by (console_id) ({selector(LAST_SEEN)})",
        "E": "max by (console_id) "
        f"({selector('heartbeat_fleet_client_timestamp_seconds')} - {selector(LAST_SEEN)})",
        "F": f"max by (console_id) ({SILENCE_RATIO})",
    }
    columns = {
        "name": "Name",
        "console_id": "console_id",
        "Value #B": "State",
        "video": "Current video",
        "Value #D": "Last seen",
        "Value #F": "Silence / threshold",
        "Value #E": "Clock skew",
        "hostname": "Host",
        "version": "Version",
    }
    overrides = [
        _column(
            "State",
            [
                {"id": "mappings", "value": state_mappings()},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ],
        ),
        _column("Last seen", [{"id": "unit", "value": "s"}]),
        _column(
            "Clock skew",
            [
                {"id": "unit", "value": "s"},
                {
                    "id": "thresholds",
                    "value": thresholds((None, "red"), (-60, "green"), (60, "red")),
                },
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ],
        ),
        _column(
            "Silence / threshold",
            [
                {"id": "unit", "value": "percentunit"},
                {"id": "thresholds", "value": thresholds((None, "transparent"), (1, "red"))},
                {
                    "id": "custom.cellOptions",
                    "value": {"applyToRow": True, "mode": "basic", "type": "color-background"},
                },
            ],
        ),
        _column("Name", [{"id": "links", "value": [_console_link()]}]),
        _column("console_id", [{"id": "links", "value": [_console_link()]}]),
    ]
    return panel(
        "table",
        "Consoles",
        "One row per console known to the exporter: name, state, current video, seconds since "
        "the server last heard from it, its silence measured against its own threshold (100% = "
        "silent, row in red) and clock skew (client ultimaActividad − server receive time). "
        "Silent consoles first. Click a name for the console dashboard.",
        "none",
        [target(expr, ref_id=ref, instant=True, table=True) for ref, expr in queries.items()],
        grid=(0, 4, 24, 10),
        defaults={
            "color": {"mode": "thresholds"},
            "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
            "mappings": [],
            "thresholds": thresholds((None, "text")),
        },
        overrides=overrides,
        options={"cellHeight": "sm", "footer": {"show": False}, "showHeader": True},
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"sort": [{"desc": True, "field": "Value #F"}]}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value #A": True, "Value #C": True},
                    "indexByName": {name: index for index, name in enumerate(columns)},
                    "renameByName": columns,
                },
            },
        ],
    )


def _column(name: str, properties: list[Json]) -> Json:
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


def _console_link() -> Json:
    return {
        "targetBlank": False,
        "title": "Console ${__data.fields.console_id}",
        "url": CONSOLE_LINK,
    }


def history_panels() -> list[Json]:
    """State timeline per console and consoles per state over time."""
    names = f"max by (console_id, name) ({selector('heartbeat_fleet_console_info')})"
    return [
        state_timeline(
            "State per console",
            "Each console's state over time (heartbeat_fleet_console_state), labelled by name.",
            [
                target(
                    f"{state_code('heartbeat_fleet_console_state', 'console_id')}"
                    f" * on(console_id) group_left(name) {names}",
                    "{{name}}",
                )
            ],
            (0, 14, 24, 8),
        ),
        timeseries(
            "Consoles per state",
            "How many consoles were in each state (heartbeat_fleet_consoles), stacked.",
            "short",
            [target(f"max by (state) ({selector('heartbeat_fleet_consoles')})", "{{state}}")],
            (0, 22, 12, 8),
            stacked=True,
            overrides=color_overrides(STATE_COLORS),
        ),
        timeseries(
            "Reports received",
            "Heartbeats and registrations the exporter accepted per second, and consoles it "
            "marked inactiva for silence.",
            "reqps",
            [
                target(f"sum({rate('heartbeat_fleet_heartbeats_received_total')})", "heartbeats"),
                target(
                    f"sum({rate('heartbeat_fleet_registrations_total')})",
                    "registrations",
                    ref_id="B",
                ),
                target(
                    f"sum({rate('heartbeat_fleet_marked_inactive_total')})",
                    "marked inactiva",
                    ref_id="C",
                ),
            ],
            (12, 22, 12, 8),
        ),
    ]


def api_panels() -> list[Json]:
    """The API's request rate and error rate by route."""
    return [
        timeseries(
            "API requests",
            "Requests the exporter's API handled per second, by route "
            "(heartbeat_fleet_http_requests_total).",
            "reqps",
            [
                target(
                    f"sum by (route) ({rate('heartbeat_fleet_http_requests_total')})", "{{route}}"
                )
            ],
            (0, 30, 12, 8),
        ),
        timeseries(
            "API errors",
            "Requests answered 4xx/5xx per second, by route and code "
            "(heartbeat_fleet_http_request_errors_total).",
            "reqps",
            [
                target(
                    f"sum by (route, code) ({rate('heartbeat_fleet_http_request_errors_total')})",
                    "{{route}} {{code}}",
                )
            ],
            (12, 30, 12, 8),
        ),
    ]


def alerts_panel() -> Json:
    """Heartbeat* alerts firing now; alerts without job/instance labels are kept."""
    expr = (
        'ALERTS{alertname=~"Heartbeat.*", alertstate="firing", '
        'job=~"$job|", instance=~"$instance|"}'
    )
    return panel(
        "table",
        "Alerts firing",
        "Alerts of the shipped rules (names starting with Heartbeat) firing now, from Prometheus's "
        "ALERTS series. Alerts that carry no job or instance label are always shown.",
        "none",
        [target(expr, instant=True, table=True)],
        grid=(0, 38, 24, 6),
        defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}}, "mappings": []},
        options={"cellHeight": "sm", "footer": {"show": False}, "showHeader": True},
        transformations=[
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value": True, "__name__": True},
                    "indexByName": {"alertname": 0, "severity": 1, "console_id": 2},
                    "renameByName": {},
                },
            }
        ],
    )


def build() -> Json:
    """The whole fleet dashboard."""
    return dashboard(
        UID,
        "Heartbeat / Fleet",
        "Every console of the fleet as the exporter sees it: states, silent consoles, reports "
        "received, the API and the Heartbeat alerts.",
        variables(),
        [
            *state_stats(),
            *health_stats(),
            console_table(),
            *history_panels(),
            *api_panels(),
            alerts_panel(),
        ],
    )
