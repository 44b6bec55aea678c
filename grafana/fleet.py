"""The fleet overview dashboard (uid ``heartbeat-fleet``): which consoles are silent, and why."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import table as table_builders
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from consola_wire import ALL_STATES
from grafana.panels import (
    PanelBuilder,
    Variable,
    alerts_table,
    dashboard,
    datasource_variable,
    organize,
    query_variable,
    stat,
    state_mappings,
    state_timeline,
    table,
    target,
    thresholds,
    timeseries,
    value_mappings,
)
from grafana.promql import (
    STATE_COLORS,
    maintenance_seconds_left,
    rate,
    seconds_since,
    selector,
    state_code,
)

UID = "heartbeat-fleet"
CONSOLE_UID = "heartbeat-console"
CONSOLE_LINK = (
    f"/d/{CONSOLE_UID}/heartbeat-console?${{__url_time_range}}&${{datasource:queryparam}}"
    "&var-console_id=${__data.fields.console_id}"
)

LAST_SEEN = "heartbeat_fleet_last_seen_timestamp_seconds"
THRESHOLD = "heartbeat_fleet_inactive_after_seconds"
#: Seconds since each console was last seen, on the exporter's clock (as the alert rules).
SILENCE = seconds_since(LAST_SEEN)
#: The silence divided by the console's own threshold: ≥ 1 means silent.
SILENCE_RATIO = f"{SILENCE} / max by (console_id) ({selector(THRESHOLD)})"


def variables() -> list[Variable]:
    """datasource, then job and instance of the exporter's fleet ``/metrics``."""
    return [
        datasource_variable(),
        query_variable("job", "Job", "label_values(heartbeat_fleet_consoles, job)"),
        query_variable(
            "instance", "Instance", 'label_values(heartbeat_fleet_consoles{job=~"$job"}, instance)'
        ),
    ]


def state_stats() -> list[PanelBuilder]:
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


def health_stats() -> list[PanelBuilder]:
    """Silent consoles now, the database check and the time since the last accepted report."""
    return [
        stat(
            "Silent consoles",
            "Consoles not heard from for longer than their own silence threshold, on the "
            "exporter's clock (heartbeat_fleet_time_seconds - "
            "heartbeat_fleet_last_seen_timestamp_seconds > heartbeat_fleet_inactive_after_seconds),"
            " whatever state they last reported; consoles in maintenance are left out, as the "
            "alert rules do.",
            "short",
            f"count(({SILENCE_RATIO} >= 1) unless on (console_id) "
            f"({maintenance_seconds_left()})) or vector(0)",
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
            "(heartbeat_fleet_last_ingest_timestamp_seconds), on its own clock "
            "(heartbeat_fleet_time_seconds).",
            "s",
            seconds_since("heartbeat_fleet_last_ingest_timestamp_seconds", by=None),
            (21, 0, 3, 4),
            steps=((None, "green"), (600, "orange"), (1800, "red")),
        ),
    ]


def console_table() -> table_builders.Panel:
    """Every console, one row each, merged from instant queries by ``console_id``; silent first."""
    queries = {
        "A": "max by (console_id, name, hostname, version) "
        f"({selector('heartbeat_fleet_console_info')})",
        "B": state_code("heartbeat_fleet_console_state", "console_id"),
        "C": f"max by (console_id, video) ({selector('heartbeat_fleet_console_video_info')})",
        "D": SILENCE,
        "E": "max by (console_id) "
        f"({selector('heartbeat_fleet_client_timestamp_seconds')} - {selector(LAST_SEEN)})",
        "F": SILENCE_RATIO,
        "G": maintenance_seconds_left(),
    }
    columns = {
        "name": "Name",
        "console_id": "console_id",
        "Value #B": "State",
        "video": "Current video",
        "Value #D": "Last seen",
        "Value #F": "Silence / threshold",
        "Value #E": "Clock skew",
        "Value #G": "Maintenance left",
        "hostname": "Host",
        "version": "Version",
    }
    panel = (
        table(
            "Consoles",
            "One row per console known to the exporter: name, state, current video, seconds "
            "since the server last heard from it, its silence measured against its own threshold "
            "(100% = silent, row in red) and clock skew (client ultimaActividad − server receive "
            "time), and the time left of a maintenance window (silent on purpose: it pages "
            "nobody). Silent consoles first; durations on the exporter's clock. Click a name for "
            "the console dashboard.",
            [target(expr, ref_id=ref, instant=True, table=True) for ref, expr in queries.items()],
            (0, 4, 24, 10),
        )
        .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .mappings([])
        .thresholds(thresholds((None, "text")))
        .filterable(True)
        .override_by_name(
            "State",
            [
                _property("mappings", state_mappings()),
                _property("custom.cellOptions", common.TableColoredBackgroundCellOptions()),
            ],
        )
        .override_by_name("Last seen", [_property("unit", "s")])
        .override_by_name(
            "Maintenance left",
            [
                _property("unit", "s"),
                _property("thresholds", thresholds((None, "purple"))),
                _property("custom.cellOptions", common.TableColorTextCellOptions()),
            ],
        )
        .override_by_name(
            "Clock skew",
            [
                _property("unit", "s"),
                _property("thresholds", thresholds((None, "red"), (-60, "green"), (60, "red"))),
                _property("custom.cellOptions", common.TableColorTextCellOptions()),
            ],
        )
        .override_by_name(
            "Silence / threshold",
            [
                _property("unit", "percentunit"),
                _property("thresholds", thresholds((None, "transparent"), (1, "red"))),
                _property(
                    "custom.cellOptions",
                    common.TableColoredBackgroundCellOptions(
                        mode=common.TableCellBackgroundDisplayMode.BASIC, apply_to_row=True
                    ),
                ),
            ],
        )
    )
    for column in ("Name", "console_id"):
        panel.override_by_name(column, [_property("links", [_console_link()])])
    for transformation in (
        model.DataTransformerConfig(id_val="merge", options={}),
        model.DataTransformerConfig(
            id_val="sortBy", options={"sort": [{"desc": True, "field": "Value #F"}]}
        ),
        organize(["Time", "Value #A", "Value #C"], list(columns), columns),
    ):
        panel.with_transformation(transformation)
    return panel


def _property(name: str, value: object) -> model.DynamicConfigValue:
    """An override property; SDK models and builders in ``value`` are built first."""
    if isinstance(value, dashboard_builders.ThresholdsConfig):
        value = value.build()
    return model.DynamicConfigValue(id_val=name, value=value)


def _console_link() -> dict[str, object]:
    """A data link to the console dashboard (the SDK types only dashboard links, not these)."""
    return {
        "targetBlank": False,
        "title": "Console ${__data.fields.console_id}",
        "url": CONSOLE_LINK,
    }


def history_panels() -> list[PanelBuilder]:
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
            colors=STATE_COLORS,
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


def api_panels() -> list[PanelBuilder]:
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


def writer_panels() -> list[PanelBuilder]:
    """The exporter's writer process (``--writer process``): running or not, and its restarts."""
    return [
        stat(
            "Writer process",
            "Whether the exporter's writer process, which applies the write batches, is running "
            "(heartbeat_fleet_writer_process_up; the worst of the selected exporter instances). "
            "No data: the exporters run with --writer thread.",
            "none",
            f"min({selector('heartbeat_fleet_writer_process_up')})",
            (0, 38, 6, 6),
            steps=((None, "red"), (1, "green")),
            mappings=value_mappings({0: ("down", "red"), 1: ("up", "green")}),
            no_value="thread writer",
        ),
        timeseries(
            "Writer process restarts",
            "Times each exporter started its writer process again after it died "
            "(heartbeat_fleet_writer_process_restarts_total); every death fails the batch it "
            "held with a 503. HeartbeatExporterWriterRestarting warns at 3 within 15 minutes.",
            "short",
            [
                target(
                    "sum by (instance) (increase("
                    f"{selector('heartbeat_fleet_writer_process_restarts_total')}"
                    "[$__rate_interval]))",
                    "{{instance}}",
                )
            ],
            (6, 38, 18, 6),
        ),
    ]


def alerts_panel() -> table_builders.Panel:
    """Heartbeat* alerts firing now; alerts without job/instance labels are kept."""
    return alerts_table(
        "Alerts firing",
        "Alerts of the shipped rules (names starting with Heartbeat) firing now, from "
        "Prometheus's ALERTS series. Alerts that carry no job or instance label are always shown.",
        'ALERTS{alertname=~"Heartbeat.*", alertstate="firing", '
        'job=~"$job|", instance=~"$instance|"}',
        (0, 44, 24, 6),
        ["alertname", "severity", "console_id"],
    )


def build() -> model.Dashboard:
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
            *writer_panels(),
            alerts_panel(),
        ],
    )
