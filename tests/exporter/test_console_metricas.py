"""The console JSON's ``metricas``: where Prometheus scrapes the console, as the exporter stored
it (the address resolved, as ``GET /api/prometheus/targets`` lists it), on both backends over
real HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from heartbeat import status
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter

REGISTRAR = "/api/consolas/registrar"


def register(client: httpx.Client, metricas: dict[str, Any] | None = None) -> str:
    console_id = str(uuid.uuid4())
    body: dict[str, Any] = {"id": console_id, "nombre": "Consola m", "estado": "esperando"}
    if metricas is not None:
        body["metricas"] = metricas
    response = client.post(REGISTRAR, json=body)
    assert response.status_code == 201, response.text
    return console_id


def shown(client: httpx.Client, console_id: str) -> Any:
    response = client.get(f"/api/consolas/{console_id}")
    assert response.status_code == 200, response.text
    return response.json()["metricas"]


def listed(client: httpx.Client, path: str = "/api/consolas") -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return {c["id"]: c["metricas"] for c in response.json()["consolas"]}


def test_it_shows_the_endpoint_a_console_said_in_the_console_and_the_list(
    client: httpx.Client,
) -> None:
    metricas = {"puerto": 29100, "ruta": "/custom/metrics", "direccion": "render-7.example"}
    console_id = register(client, metricas)
    assert shown(client, console_id) == metricas
    assert listed(client)[console_id] == metricas


def test_without_direccion_it_shows_the_resolved_address_and_the_default_path(
    client: httpx.Client,
) -> None:
    console_id = register(client, {"puerto": 29100})
    assert shown(client, console_id) == {
        "puerto": 29100,
        "ruta": "/metrics",
        "direccion": "127.0.0.1",
    }
    target = client.get("/api/prometheus/targets").json()[0]
    assert target["targets"] == ["127.0.0.1:29100"]


def test_it_is_null_for_a_console_that_never_said_where_its_metrics_are(
    client: httpx.Client,
) -> None:
    console_id = register(client)  # a Node console of the seed
    assert shown(client, console_id) is None
    assert listed(client)[console_id] is None


def test_a_heartbeat_without_metricas_keeps_it_and_a_registration_without_forgets_it(
    client: httpx.Client,
) -> None:
    metricas = {"puerto": 29100, "ruta": "/metrics", "direccion": "10.0.0.5"}
    console_id = register(client, metricas)
    beat = client.post(f"/api/consolas/{console_id}/heartbeat", json={"estado": "ocupada"})
    assert beat.status_code == 200, beat.text
    assert shown(client, console_id) == metricas
    again = {"id": console_id, "nombre": "Consola m", "estado": "esperando"}
    assert client.post(REGISTRAR, json=again).status_code == 200
    assert shown(client, console_id) is None


def test_a_silent_console_in_the_inactive_list_carries_its_endpoint(
    client: httpx.Client, clock: ManualClock
) -> None:
    metricas = {"puerto": 29100, "ruta": "/metrics", "direccion": "10.0.0.5"}
    console_id = register(client, metricas)
    clock.advance(11 * 60)
    assert listed(client, "/api/consolas/inactivas?minutos=10")[console_id] == metricas


def test_a_console_that_said_goodbye_leaves_the_targets_but_keeps_its_endpoint(
    client: httpx.Client,
) -> None:
    metricas = {"puerto": 29100, "ruta": "/metrics", "direccion": "10.0.0.5"}
    console_id = register(client, metricas)
    bye = client.post(f"/api/consolas/{console_id}/heartbeat", json={"estado": "inactiva"})
    assert bye.status_code == 200, bye.text
    assert client.get("/api/prometheus/targets").json() == []
    assert shown(client, console_id) == metricas


def test_heartbeat_status_json_passes_it_through(
    client: httpx.Client, exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    metricas = {"puerto": 29100, "ruta": "/metrics", "direccion": "10.0.0.5"}
    known, unknown = register(client, metricas), register(client)
    assert status.main(["--api-base-url", exporter.url + "/api", "--json"]) == 0
    by_id = {c["id"]: c for c in json.loads(capsys.readouterr().out)["consolas"]}
    assert by_id[known]["metricas"] == metricas
    assert by_id[unknown]["metricas"] is None
