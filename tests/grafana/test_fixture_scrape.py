"""Every panel query returns series from a real Prometheus scraping contract-shaped /metrics.

Until the library and the exporter land, two small HTTP endpoints serve exposition text written
from docs/contracts.md (one fleet, one console); Prometheus scrapes them every second. This proves
the joins, filters and aggregations select data of the contracted shape (a query can parse and
still return nothing); the live test against the real exporter and consoles replaces the endpoints.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consola_wire import ALL_STATES
from grafana.dashboards import build_all
from grafana.queries import PanelQuery, builtins_for, shipped_queries, substitute
from tests.support.prometheus import RunningPrometheus, ScrapeJob, run_prometheus
from tests.support.tools import wait_until

BUSY = "0b6a5d3e-1111-4222-8333-444455556666"
FAILING = "1c7b6e4f-2222-4333-9444-555566667777"
SILENT = "2d8c7f50-3333-4444-a555-666677778888"
#: Silent too, but in maintenance: shown in the table, counted by no silence figure.
SERVICED = "3e9d8061-4444-4555-b666-77778888999a"
CONSOLE_STATES = {BUSY: "ocupada", FAILING: "error", SILENT: "inactiva", SERVICED: "inactiva"}
#: Seconds since each console was last seen (the silence threshold is 600 s).
SEEN_AGO = {BUSY: 5, FAILING: 5, SILENT: 900, SERVICED: 700}
MAINTENANCE_LEFT = 1800
#: The exporter's clock runs an hour behind Prometheus's: every duration a panel shows must be
#: taken on the exporter's clock (heartbeat_fleet_time_seconds), as the alert rules do.
EXPORTER_CLOCK_OFFSET = -3600.0
SCRAPE_SECONDS = 1
#: Panels empty by design for the chosen (busy, healthy) console and a rule-less Prometheus.
EMPTY_BY_DESIGN = {
    ("heartbeat-console", "In error since"): "the chosen console is ocupada, not in error",
    ("heartbeat-console", "Alerts firing"): "no alert rules are loaded",
    ("heartbeat-fleet", "Alerts firing"): "no alert rules are loaded",
}


def fleet_metrics(scrape: int, prometheus_now: float) -> str:
    """The exporter's fleet /metrics for four consoles, counters growing with each scrape; its
    timestamps are on its own clock, an hour behind."""
    now = prometheus_now + EXPORTER_CLOCK_OFFSET
    lines = [f"heartbeat_fleet_time_seconds {now}"]
    for console_id, state in CONSOLE_STATES.items():
        label = f'console_id="{console_id}"'
        seen = now - SEEN_AGO[console_id]
        lines += [
            f"heartbeat_fleet_last_seen_timestamp_seconds{{{label}}} {seen}",
            f"heartbeat_fleet_inactive_after_seconds{{{label}}} 600",
            f"heartbeat_fleet_state_since_timestamp_seconds{{{label}}} {now - 120}",
            f"heartbeat_fleet_client_timestamp_seconds{{{label}}} {seen + 2}",
            f"heartbeat_fleet_console_stopped_cleanly{{{label}}} 0",
            f'heartbeat_fleet_console_info{{{label},name="consola-{console_id[:4]}",'
            f'hostname="host-{console_id[:4]}",platform="linux",arch="x86_64",version="3.11.7"}} 1',
            *(
                f'heartbeat_fleet_console_state{{{label},state="{s}"}} {int(s == state)}'
                for s in ALL_STATES
            ),
        ]
        if state == "ocupada":
            lines.append(f'heartbeat_fleet_console_video_info{{{label},video="intro.mp4"}} 1')
        if console_id == SERVICED:
            until = now + MAINTENANCE_LEFT
            lines.append(
                f"heartbeat_fleet_console_maintenance_until_timestamp_seconds{{{label}}} {until}"
            )
    counts = {s: list(CONSOLE_STATES.values()).count(s) for s in ALL_STATES}
    lines += [f'heartbeat_fleet_consoles{{state="{s}"}} {n}' for s, n in counts.items()]
    lines += [
        f"heartbeat_fleet_heartbeats_received_total {3 * scrape}",
        f"heartbeat_fleet_registrations_total {scrape}",
        f"heartbeat_fleet_marked_inactive_total {scrape // 2}",
        f'heartbeat_fleet_http_requests_total{{route="heartbeat"}} {4 * scrape}',
        f'heartbeat_fleet_http_request_errors_total{{route="heartbeat",code="422"}} {scrape}',
        "heartbeat_fleet_database_up 1",
        "heartbeat_fleet_writer_process_up 1",
        f"heartbeat_fleet_writer_process_restarts_total {scrape // 5}",
        f"heartbeat_fleet_last_ingest_timestamp_seconds {now - 5}",
    ]
    return "\n".join(lines) + "\n"


def console_metrics(scrape: int, now: float) -> str:
    """The busy console's own /metrics."""
    lines = [
        f'heartbeat_console_info{{console_id="{BUSY}",name="consola-0b6a",hostname="host-0b6a",'
        'platform="linux",arch="x86_64",version="0.1.0"} 1',
        *(f'heartbeat_console_state{{state="{s}"}} {int(s == "ocupada")}' for s in ALL_STATES),
        f"heartbeat_last_success_timestamp_seconds {now - 5}",
        "heartbeat_interval_seconds 300",
        "heartbeat_system_cpus 8",
        "heartbeat_system_memory_total_bytes 16e9",
        "heartbeat_system_memory_available_bytes 9e9",
        "heartbeat_system_uptime_seconds 86400",
        "heartbeat_system_load1 2.5",
        "heartbeat_system_cpu_usage_ratio 0.4",
        "heartbeat_worker_processes 3",
        f"heartbeat_worker_cpu_seconds_total {0.5 * scrape}",
        "heartbeat_worker_resident_memory_bytes 5e8",
        f"heartbeat_videos_started_total {scrape}",
        f"heartbeat_videos_finished_total {scrape // 2}",
        f"heartbeat_videos_failed_total {scrape // 3}",
        f"heartbeat_current_video_start_timestamp_seconds {now - 120}",
    ]
    for endpoint in ("registrar", "heartbeat"):
        lines.append(f'heartbeat_requests_total{{endpoint="{endpoint}"}} {2 * scrape}')
        for reason in ("connection", "timeout", "http_4xx", "http_5xx", "other"):
            failed = scrape // 2 if reason == "timeout" else 0
            labels = f'endpoint="{endpoint}",reason="{reason}"'
            lines.append(f"heartbeat_request_failures_total{{{labels}}} {failed}")
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    scrapes: dict[str, int] = {}  # noqa: RUF012 - per-server counters, set on a subclass

    def do_GET(self) -> None:
        self.scrapes[self.path] = self.scrapes.get(self.path, 0) + 1
        render = {"/fleet": fleet_metrics, "/console": console_metrics}.get(self.path)
        if render is None:
            self.send_error(404)
            return
        body = render(self.scrapes[self.path], time.time()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    handler = type("Handler", (_Handler,), {"scrapes": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"127.0.0.1:{server.server_address[1]}"
    jobs = [
        ScrapeJob("heartbeat-exporter", [address], metrics_path="/fleet"),
        ScrapeJob("heartbeat-console", [address], metrics_path="/console"),
    ]
    try:
        workdir = tmp_path_factory.mktemp("grafana-fixture-prometheus")
        with run_prometheus(workdir, jobs, scrape_interval=f"{SCRAPE_SECONDS}s") as running:
            wait_until(running.targets_up, timeout=20)
            # Enough samples for every rate window, on both targets.
            both_rates = (
                f"count(rate(heartbeat_videos_started_total[{RATE_WINDOW}])) + "
                f"count(rate(heartbeat_fleet_registrations_total[{RATE_WINDOW}]))"
            )
            wait_until(lambda: running.query(both_rates), timeout=20, interval=0.2)
            yield running
    finally:
        server.shutdown()
        server.server_close()


BUILTINS = builtins_for(scrape_interval=SCRAPE_SECONDS, step=SCRAPE_SECONDS, range_seconds=300)
RATE_WINDOW = BUILTINS["__rate_interval"]
QUERIES = shipped_queries({"console_id": BUSY}, BUILTINS)


@pytest.mark.parametrize(
    "query", QUERIES, ids=[f"{q.dashboard_uid}-{q.panel_title}-{q.ref_id}" for q in QUERIES]
)
def test_panel_query_returns_series_from_contract_shaped_metrics(
    prometheus: RunningPrometheus, query: PanelQuery
) -> None:
    result = prometheus.query(query.expr)
    if (query.dashboard_uid, query.panel_title) in EMPTY_BY_DESIGN:
        assert result == []
    else:
        assert result, f"{query.panel_title} {query.ref_id} returned nothing: {query.expr}"


def test_fleet_table_puts_the_silent_console_first_with_silence_over_threshold(
    prometheus: RunningPrometheus,
) -> None:
    silence = next(q for q in QUERIES if q.panel_title == "Consoles" and "inactive_after" in q.expr)
    ratios = {
        r["metric"]["console_id"]: float(r["value"][1]) for r in prometheus.query(silence.expr)
    }
    assert max(ratios, key=ratios.__getitem__) == SILENT
    assert ratios[SILENT] >= 1 > ratios[BUSY]


def test_table_durations_are_taken_on_the_exporters_clock_not_prometheuss(
    prometheus: RunningPrometheus,
) -> None:
    queries = {q.ref_id: q for q in QUERIES if q.panel_title == "Consoles"}
    seen = {
        r["metric"]["console_id"]: float(r["value"][1]) for r in prometheus.query(queries["D"].expr)
    }
    assert seen.keys() == SEEN_AGO.keys()
    for console_id, ago in SEEN_AGO.items():
        assert ago <= seen[console_id] < ago + 5, (console_id, seen)
    last_report = next(q for q in QUERIES if q.panel_title == "Last report received")
    [received] = prometheus.query(last_report.expr)
    assert 5 <= float(received["value"][1]) < 10


def test_table_shows_maintenance_time_left_only_for_the_console_in_maintenance(
    prometheus: RunningPrometheus,
) -> None:
    query = next(q for q in QUERIES if q.panel_title == "Consoles" and q.ref_id == "G")
    left = {r["metric"]["console_id"]: float(r["value"][1]) for r in prometheus.query(query.expr)}
    assert left.keys() == {SERVICED}
    assert MAINTENANCE_LEFT - 5 < left[SERVICED] <= MAINTENANCE_LEFT


def test_state_code_query_maps_each_console_to_its_state(prometheus: RunningPrometheus) -> None:
    from grafana.promql import STATE_CODES

    state = next(q for q in QUERIES if q.panel_title == "Consoles" and q.ref_id == "B")
    codes = {r["metric"]["console_id"]: int(r["value"][1]) for r in prometheus.query(state.expr)}
    assert codes == {cid: STATE_CODES[s] for cid, s in CONSOLE_STATES.items()}


def test_silent_consoles_stat_counts_only_the_silent_one(prometheus: RunningPrometheus) -> None:
    """Not the busy and failing ones (silent by Prometheus's clock, an hour ahead), nor the one in
    maintenance."""
    stat = next(q for q in QUERIES if q.panel_title == "Silent consoles")
    assert [r["value"][1] for r in prometheus.query(stat.expr)] == ["1"]


def test_console_in_error_shows_since_when_and_no_video(prometheus: RunningPrometheus) -> None:
    queries = {q.panel_title: q for q in shipped_queries({"console_id": FAILING}, BUILTINS)}
    [since] = prometheus.query(queries["In error since"].expr)
    assert abs(float(since["value"][1]) - (time.time() - 120)) < 30
    assert prometheus.query(queries["Video running for"].expr) == []
    assert prometheus.query(queries["Current video"].expr) == []


def test_busy_console_shows_its_video_and_how_long_it_has_run(
    prometheus: RunningPrometheus,
) -> None:
    queries = {q.panel_title: q for q in QUERIES if q.dashboard_uid == "heartbeat-console"}
    [video] = prometheus.query(queries["Current video"].expr)
    assert video["metric"] == {"video": "intro.mp4"}
    [running] = prometheus.query(queries["Video running for"].expr)
    assert 100 < float(running["value"][1]) < 150


def label_values(prometheus: RunningPrometheus, definition: str, board: dict[str, Any]) -> set[str]:
    """What Grafana lists for a ``label_values(selector, label)`` variable (All elsewhere)."""
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition)
    assert match, definition
    selector = substitute(match.group(1), board, {}, BUILTINS)
    url = f"{prometheus.url}/api/v1/label/{match.group(2)}/values?" + urllib.parse.urlencode(
        {"match[]": selector}
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success"
    return set(body["data"])


def test_variables_list_the_jobs_instances_and_consoles_prometheus_knows(
    prometheus: RunningPrometheus,
) -> None:
    boards = {board["uid"]: board for board in build_all().values()}
    listed = {
        (uid, v["name"]): label_values(prometheus, v["query"]["query"], board)
        for uid, board in boards.items()
        for v in board["templating"]["list"]
        if v["type"] == "query"
    }
    address = next(iter(listed[("heartbeat-fleet", "instance")]))
    assert listed == {
        ("heartbeat-fleet", "job"): {"heartbeat-exporter"},
        ("heartbeat-fleet", "instance"): {address},
        ("heartbeat-console", "job"): {"heartbeat-exporter", "heartbeat-console"},
        ("heartbeat-console", "instance"): {address},
        ("heartbeat-console", "console_id"): set(CONSOLE_STATES),
    }
