"""Silence detection: thresholds, the sweeper, goodbye versus silence, the grace period."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from exporter.config import ExporterConfig
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter, exporter_config
from tests.support.tools import free_port, wait_until

INACTIVE_AFTER = 600.0


#: A sweeper that runs every 20 ms, so silence is judged as soon as the clock moves.
SETTINGS: dict[str, Any] = {"sweep_interval": 0.02, "inactive_after": INACTIVE_AFTER}


@pytest.fixture
def exporter_settings() -> dict[str, Any]:
    return SETTINGS


def start(database: str, clock: ManualClock) -> EmbeddedExporter:
    return EmbeddedExporter(exporter_config(database, **SETTINGS), clock=clock).start()


def register(client: httpx.Client, **extra: Any) -> str:
    console = str(uuid.uuid4())
    body = {"id": console, "nombre": "c", "estado": "activa", **extra}
    assert client.post("/api/consolas/registrar", json=body).status_code == 201
    return console


def console(client: httpx.Client, console_id: str) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"/api/consolas/{console_id}").json()
    return data


def history(client: httpx.Client, console_id: str) -> list[tuple[str | None, str, str]]:
    entries = client.get(f"/api/consolas/{console_id}/historial").json()["historial"]
    return [(e["estadoAnterior"], e["estado"], e["motivo"]) for e in entries]


def let_sweeper_run(exporter: EmbeddedExporter, sweeps: int = 2) -> None:
    target = exporter.service.sweeps + sweeps
    wait_until(lambda: exporter.service.sweeps >= target)


def test_silent_console_is_marked_inactiva_after_threshold_with_history(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    silent = register(client)
    clock.advance(INACTIVE_AFTER - 1)
    let_sweeper_run(exporter)
    assert console(client, silent)["estado"] == "activa"
    clock.advance(2)
    wait_until(lambda: console(client, silent)["estado"] == "inactiva")
    assert history(client, silent)[0] == ("activa", "inactiva", "silencio")
    assert console(client, silent)["detenidaLimpiamente"] is False
    assert "heartbeat_fleet_marked_inactive_total 1.0" in client.get("/metrics").text


def test_console_reporting_its_interval_gets_twice_that_as_threshold(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    fast = register(client, intervaloSegundos=30)
    assert console(client, fast)["umbralInactividadSegundos"] == 60
    metric = f'heartbeat_fleet_inactive_after_seconds{{console_id="{fast}"}} 60.0'
    assert metric in client.get("/metrics").text
    clock.advance(INACTIVE_AFTER + 1)  # past the start grace, and long past 60 s
    wait_until(lambda: console(client, fast)["estado"] == "inactiva")


def test_heartbeats_keep_a_console_alive(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    alive = register(client)
    for _ in range(4):
        clock.advance(INACTIVE_AFTER * 0.75)
        beat = client.post(f"/api/consolas/{alive}/heartbeat", json={"estado": "activa"})
        assert beat.status_code == 200
        let_sweeper_run(exporter)
    assert console(client, alive)["estado"] == "activa"


def test_goodbye_is_distinguishable_from_silence(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    polite = register(client)
    silent = register(client)
    bye = client.post(f"/api/consolas/{polite}/heartbeat", json={"estado": "inactiva"})
    assert bye.status_code == 200
    clock.advance(INACTIVE_AFTER + 1)
    wait_until(lambda: console(client, silent)["estado"] == "inactiva")
    assert console(client, polite)["detenidaLimpiamente"] is True
    assert console(client, silent)["detenidaLimpiamente"] is False
    assert history(client, polite)[0] == ("activa", "inactiva", "despedida")
    assert history(client, silent)[0] == ("activa", "inactiva", "silencio")
    text = client.get("/metrics").text
    assert f'heartbeat_fleet_console_stopped_cleanly{{console_id="{polite}"}} 1.0' in text
    assert f'heartbeat_fleet_console_stopped_cleanly{{console_id="{silent}"}} 0.0' in text


def test_inactivas_lists_consoles_marked_for_silence_but_not_those_that_said_goodbye(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    polite = register(client)
    silent = register(client)
    alive = register(client)
    assert client.post(f"/api/consolas/{polite}/heartbeat", json={"estado": "inactiva"}).is_success
    clock.advance(INACTIVE_AFTER + 1)
    assert client.post(f"/api/consolas/{alive}/heartbeat", json={"estado": "activa"}).is_success
    wait_until(lambda: console(client, silent)["estado"] == "inactiva")
    listed = client.get("/api/consolas/inactivas", params={"minutos": 5}).json()
    assert [c["id"] for c in listed["consolas"]] == [silent]
    assert listed["consolas"][0]["estado"] == "inactiva"


def test_console_marked_silent_comes_back_with_its_next_heartbeat(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    flaky = register(client)
    clock.advance(INACTIVE_AFTER + 1)
    wait_until(lambda: console(client, flaky)["estado"] == "inactiva")
    client.post(f"/api/consolas/{flaky}/heartbeat", json={"estado": "ocupada"})
    assert console(client, flaky)["estado"] == "ocupada"
    assert history(client, flaky)[0] == ("inactiva", "ocupada", "heartbeat")


def test_no_console_is_marked_silent_before_threshold_after_exporter_start(
    database: str, clock: ManualClock
) -> None:
    first = start(database, clock)
    with httpx.Client(base_url=first.url, timeout=10) as client:
        survivor = register(client)
    first.stop()
    clock.advance(3 * INACTIVE_AFTER)  # the exporter was down far longer than the threshold
    second = start(database, clock)
    try:
        with httpx.Client(base_url=second.url, timeout=10) as client:
            let_sweeper_run(second)
            assert console(client, survivor)["estado"] == "activa"
            clock.advance(INACTIVE_AFTER - 1)
            let_sweeper_run(second)
            assert console(client, survivor)["estado"] == "activa"
            clock.advance(2)
            wait_until(lambda: console(client, survivor)["estado"] == "inactiva")
    finally:
        second.stop()


def test_old_history_is_pruned_by_retention(database: str, clock: ManualClock) -> None:
    config = ExporterConfig(
        database=database, port=free_port(), sweep_interval=0.02, history_retention=3600
    )
    with (
        EmbeddedExporter(config, clock=clock) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        old = register(client, intervaloSegundos=3600)  # not silent at +3601 s: 7200 s threshold
        clock.advance(3601)
        client.post(f"/api/consolas/{old}/heartbeat", json={"estado": "error"})
        let_sweeper_run(running)
        assert history(client, old) == [("activa", "error", "heartbeat")]
