"""Every dashboard panel's query against a real Prometheus scraping a real exporter and real
consoles, found through the shipped console job's http_sd (Grafana itself cannot run here; its
queries can)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from grafana.queries import PanelQuery, builtins_for, shipped_queries
from heartbeat import EstadoConsola, HeartbeatService
from tests.support.consoles import (
    agent_console_id,
    fast_console,
    get_json,
    kill_without_goodbye,
    start_agent,
)
from tests.support.exporters import run_exporter
from tests.support.prometheus import (
    CONSOLE_JOB,
    RunningPrometheus,
    ScrapeJob,
    _api_get,
    run_prometheus,
    shipped_console_job,
)
from tests.support.tools import REPO_ROOT, free_port, wait_until

RULES = REPO_ROOT / "alerts" / "heartbeat-rules.yml"
SCRAPE_SECONDS = 1
BUILTINS = builtins_for(scrape_interval=SCRAPE_SECONDS, step=SCRAPE_SECONDS, range_seconds=300)
MAINTENANCE_MINUTES = 30


@dataclass
class LiveFleet:
    """A Prometheus scraping the exporter and the consoles, and the ids of the consoles."""

    prometheus: RunningPrometheus
    busy: str
    failing: str
    silent: str


def discovered(prometheus: RunningPrometheus) -> set[str]:
    """The console targets Prometheus found through discovery and scraped successfully."""
    active = _api_get(prometheus.url, "/api/v1/targets", {})["activeTargets"]
    return {
        t["labels"]["instance"]
        for t in active
        if t["labels"].get("job") == CONSOLE_JOB and t["health"] == "up"
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveFleet]:
    tmp = tmp_path_factory.mktemp("grafana-live")
    release_video = threading.Event()
    services: list[HeartbeatService] = []
    database = str(tmp / "consolas.db")
    with run_exporter(database, ["--sweep-interval", "0.5"], log_path=tmp / "x.log") as exporter:
        api = f"{exporter.url}/api"
        ports = [free_port(), free_port()]
        busy, failing = (
            fast_console(api, tmp / f"c{i}", f"Consola {i}", metrics_port=port)
            for i, port in enumerate(ports)
        )
        services += [busy, failing]
        for service in services:
            service.iniciar()

        def render() -> None:
            with busy.procesando("Video Historia 1 (2/5)"):
                release_video.wait(120)

        worker = threading.Thread(target=render, daemon=True)
        worker.start()
        failing.cambiar_estado(EstadoConsola.ERROR, error=RuntimeError("codec no soportado"))

        victim_dir = tmp / "victim"
        victim_port = free_port()
        victim = start_agent(api, victim_dir, "Consola silenciosa", metrics_port=victim_port)
        silent_id = wait_until(lambda: agent_console_id(victim_dir), timeout=15)
        assert isinstance(silent_id, str)
        wait_until(lambda: get_json(f"{api}/consolas/{silent_id}"), timeout=15)
        # A console the API forgot (retired, or a database restored from backup) gets a 404:
        # the API's error panels have something to show.
        forgotten = "00000000-0000-4000-8000-000000000000"
        assert get_json(f"{api}/consolas/{forgotten}") is None

        # The consoles are found as in production: the shipped job's http_sd against the
        # exporter, with its relabeling (so every console series carries console_id).
        jobs = [ScrapeJob("heartbeat-exporter", [f"127.0.0.1:{exporter.port}"])]
        consoles = {f"127.0.0.1:{p}" for p in (*ports, victim_port)}
        try:
            with run_prometheus(
                tmp / "prom",
                jobs,
                scrape_interval=f"{SCRAPE_SECONDS}s",
                evaluation_interval=f"{SCRAPE_SECONDS}s",
                rule_files=[RULES],
                scrape_configs=[shipped_console_job(exporter.url)],
            ) as prometheus:
                wait_until(
                    lambda: prometheus.targets_up() and discovered(prometheus) >= consoles,
                    timeout=20,
                )
                rate_window = BUILTINS["__rate_interval"]
                wait_until(
                    lambda: prometheus.query(
                        f"count(rate(heartbeat_requests_total[{rate_window}]) > 0) and count("
                        f"rate(heartbeat_fleet_heartbeats_received_total[{rate_window}]) > 0)"
                    ),
                    timeout=30,
                    interval=0.5,
                )
                # An operator puts the busy console in maintenance (it keeps reporting).
                answer = requests.post(
                    f"{api}/consolas/{busy.obtener_console_id()}/mantenimiento",
                    json={"minutos": MAINTENANCE_MINUTES, "motivo": "cambio de disco"},
                    timeout=5,
                )
                assert answer.status_code == 200, answer.text
                kill_without_goodbye(victim)
                wait_until(
                    lambda: prometheus.query(
                        f'heartbeat_fleet_console_state{{console_id="{silent_id}",'
                        'state="inactiva"} == 1'
                    ),
                    timeout=30,
                    interval=0.5,
                )
                wait_until(
                    lambda: prometheus.query(
                        'ALERTS{alertname="HeartbeatConsoleSilent",alertstate="firing"}'
                    ),
                    timeout=30,
                    interval=0.5,
                )
                yield LiveFleet(
                    prometheus,
                    busy.obtener_console_id(),
                    failing.obtener_console_id(),
                    silent_id,
                )
        finally:
            release_video.set()
            worker.join(10)
            for service in services:
                service.detener()
            if victim.poll() is None:
                # An operator puts the busy console in maintenance (it keeps reporting).
                answer = requests.post(
                    f"{api}/consolas/{busy.obtener_console_id()}/mantenimiento",
                    json={"minutos": MAINTENANCE_MINUTES, "motivo": "cambio de disco"},
                    timeout=5,
                )
                assert answer.status_code == 200, answer.text
                kill_without_goodbye(victim)


FLEET_QUERIES = [
    q
    for q in shipped_queries({"console_id": "x"}, BUILTINS)
    if q.dashboard_uid == "heartbeat-fleet"
]
CONSOLE_PANELS = sorted(
    {
        (q.panel_title, q.ref_id)
        for q in shipped_queries({"console_id": "x"}, BUILTINS)
        if q.dashboard_uid == "heartbeat-console"
    }
)


@pytest.mark.parametrize(
    "query", FLEET_QUERIES, ids=[f"{q.panel_title}-{q.ref_id}" for q in FLEET_QUERIES]
)
def test_fleet_dashboard_query_returns_series_from_the_live_fleet(
    live: LiveFleet, query: PanelQuery
) -> None:
    assert live.prometheus.query(query.expr), f"{query.panel_title}: {query.expr}"


@pytest.mark.parametrize("panel", CONSOLE_PANELS, ids=[f"{t}-{r}" for t, r in CONSOLE_PANELS])
def test_console_dashboard_query_returns_series_for_the_console_it_describes(
    live: LiveFleet, panel: tuple[str, str]
) -> None:
    """Each panel has data for the busy, the failing or the silent console (a video panel cannot
    have data for a console in error, nor an error panel for a busy one)."""
    answered = []
    for console_id in (live.busy, live.failing, live.silent):
        query = next(
            q
            for q in shipped_queries({"console_id": console_id}, BUILTINS)
            if q.dashboard_uid == "heartbeat-console" and (q.panel_title, q.ref_id) == panel
        )
        answered.append(bool(live.prometheus.query(query.expr)))
    assert any(answered), f"{panel} returned nothing for any console"


def fleet_query(title: str, ref_id: str = "A") -> PanelQuery:
    return next(q for q in FLEET_QUERIES if (q.panel_title, q.ref_id) == (title, ref_id))


def test_fleet_table_lists_the_silent_console_over_its_threshold(live: LiveFleet) -> None:
    ratio = live.prometheus.query(fleet_query("Consoles", "F").expr)
    over = {r["metric"]["console_id"] for r in ratio if float(r["value"][1]) >= 1}
    assert over == {live.silent}
    assert live.prometheus.query(fleet_query("Silent consoles").expr)[0]["value"][1] == "1"


def test_fleet_table_shows_the_maintenance_time_left_of_the_console_in_it(
    live: LiveFleet,
) -> None:
    left = {
        r["metric"]["console_id"]: float(r["value"][1])
        for r in live.prometheus.query(fleet_query("Consoles", "G").expr)
    }
    assert left.keys() == {live.busy}
    assert (MAINTENANCE_MINUTES - 2) * 60 < left[live.busy] <= MAINTENANCE_MINUTES * 60
