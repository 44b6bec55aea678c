"""Prometheus finds every console by itself: a real Prometheus with the shipped console job
(http_sd_configs against a real exporter process, its relabeling) and the shipped rules scrapes
real library consoles; a console that stops cleanly leaves its targets within a refresh without
paging, a killed one stays and its ``up == 0`` brings HeartbeatConsoleDown."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heartbeat import HeartbeatService
from tests.support.consoles import (
    agent_console_id,
    fast_console,
    kill_without_goodbye,
    start_agent,
)
from tests.support.exporters import ExporterProcess, database_for, run_exporter
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
REFRESH_SECONDS = 1.0
CONSOLES = 3


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[ExporterProcess]:
    database = database_for("sqlite", tmp_path)
    with run_exporter(database, ["--sweep-interval", "0.5"], log_path=tmp_path / "exp.log") as e:
        yield e


@pytest.fixture
def consoles(exporter: ExporterProcess, tmp_path: Path) -> Iterator[list[HeartbeatService]]:
    started = []
    for i in range(CONSOLES):
        service = fast_console(
            f"{exporter.url}/api", tmp_path / f"c{i}", f"Consola {i}", metrics_port=free_port()
        )
        service.iniciar()
        started.append(service)
    yield started
    for service in started:
        service.detener()


def console_targets(prometheus: RunningPrometheus) -> dict[str, dict[str, Any]]:
    """Prometheus's active console targets by their console_id label."""
    active = _api_get(prometheus.url, "/api/v1/targets", {})["activeTargets"]
    return {t["labels"]["console_id"]: t for t in active if t["labels"]["job"] == CONSOLE_JOB}


def post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def up_by_console(prometheus: RunningPrometheus) -> dict[str, str]:
    result = prometheus.query(f'up{{job="{CONSOLE_JOB}"}}')
    return {r["metric"]["console_id"]: r["value"][1] for r in result}


def test_prometheus_discovers_and_scrapes_every_console_and_drops_one_that_stops(
    exporter: ExporterProcess, consoles: list[HeartbeatService], tmp_path: Path
) -> None:
    ids = {service.obtener_console_id() for service in consoles}
    with run_prometheus(
        tmp_path / "prom",
        [ScrapeJob("heartbeat-exporter", [exporter.url.removeprefix("http://")])],
        rule_files=[RULES],
        scrape_configs=[shipped_console_job(exporter.url, REFRESH_SECONDS)],
    ) as prometheus:
        wait_until(lambda: up_by_console(prometheus) == dict.fromkeys(ids, "1"), timeout=30)
        # Each target's scraped identity is its own, with the target's console_id label only.
        info = prometheus.query(f'heartbeat_console_info{{job="{CONSOLE_JOB}"}}')
        assert {r["metric"]["console_id"] for r in info} == ids
        assert all("exported_console_id" not in r["metric"] for r in info)
        assert all(not k.startswith("__meta") for r in info for k in r["metric"])
        # The shipped rules see the discovered targets.
        wait_until(
            lambda: len(prometheus.query("instance:heartbeat_console_info:last")) == CONSOLES,
            timeout=15,
        )

        leaving = consoles[0]
        gone_id = leaving.obtener_console_id()
        stopped_at = time.monotonic()
        leaving.detener()
        wait_until(lambda: gone_id not in console_targets(prometheus), timeout=15)
        left_after = time.monotonic() - stopped_at
        # One refresh, plus Prometheus applying it (target updates are batched every 5 s).
        assert left_after < REFRESH_SECONDS + 8, left_after

        # Its up series ends (stale), so no up == 0 is left behind to page.
        wait_until(lambda: gone_id not in up_by_console(prometheus), timeout=10)
        assert up_by_console(prometheus) == dict.fromkeys(ids - {gone_id}, "1")
        time.sleep(3)  # a few evaluations of the rules after it left
        alerts = prometheus.alerts()
        assert not [a for a in alerts if a["labels"]["alertname"] == "HeartbeatConsoleDown"]
        # What is said of it is information only (HeartbeatConsoleStoppedCleanly), no page.
        about_it = [a["labels"] for a in alerts if a["labels"].get("console_id") == gone_id]
        assert about_it and {labels["severity"] for labels in about_it} == {"info"}, about_it

        # A console killed without a goodbye stays listed: its up == 0 is what pages.
        agent = start_agent(f"{exporter.url}/api", tmp_path / "agent", "Agente", free_port())
        try:
            killed = wait_until(lambda: agent_console_id(tmp_path / "agent"), timeout=15)
            wait_until(lambda: up_by_console(prometheus).get(str(killed)) == "1", timeout=20)
        finally:
            kill_without_goodbye(agent)
        wait_until(lambda: up_by_console(prometheus).get(str(killed)) == "0", timeout=15)

        def down() -> list[str]:
            return [
                a["state"]
                for a in prometheus.alerts()
                if a["labels"]["alertname"] == "HeartbeatConsoleDown"
                and a["labels"].get("console_id") == killed
            ]

        wait_until(down, timeout=15)
        assert down() == ["pending"]  # for: 5m
        assert killed in console_targets(prometheus)

        # A console announcing another path is scraped there (relabeled __metrics_path__).
        other = str(uuid.uuid4())
        metricas = {"puerto": free_port(), "ruta": "/otra/ruta", "direccion": "127.0.0.1"}
        body = {"id": other, "nombre": "Consola", "estado": "activa", "metricas": metricas}
        post_json(f"{exporter.url}/api/consolas/registrar", body)
        wait_until(lambda: other in console_targets(prometheus), timeout=15)
        assert (
            console_targets(prometheus)[other]["scrapeUrl"]
            == f"http://127.0.0.1:{metricas['puerto']}/otra/ruta"
        )
