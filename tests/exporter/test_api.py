"""The consoles API over real HTTP against an in-process exporter, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import httpx
import pytest

from tests.support.clock import ManualClock
from tests.support.tools import require_binary

SEED_ID = "550e8400-e29b-41d4-a716-446655440000"

# The seed's heartbeat example, byte for byte.
SEED_HEARTBEAT = """{
  "estado": "ocupada",
  "sistema": {
    "hostname": "mi-servidor",
    "platform": "win32",
    "arch": "x64",
    "cpus": 8,
    "totalMemory": 16,
    "freeMemory": 8,
    "uptime": 1440,
    "nodeVersion": "v18.x.x"
  },
  "ultimaActividad": "2025-12-03T10:30:00.000Z",
  "ultimoError": null,
  "videoEnProceso": "Video Historia 1 (2/5)"
}"""

# The seed's registration example, with its "sistema": { ... } filled from the heartbeat example
# plus extra keys a Node console may send.
SEED_REGISTRATION = """{
  "id": "550e8400-e29b-41d4-a716-446655440000",
  "nombre": "Consola mi-servidor",
  "estado": "esperando",
  "sistema": {
    "hostname": "mi-servidor",
    "platform": "win32",
    "arch": "x64",
    "cpus": 8,
    "totalMemory": 16,
    "freeMemory": 8,
    "uptime": 1440,
    "nodeVersion": "v18.x.x",
    "loadavg": [0, 0, 0],
    "release": "10.0.19045"
  },
  "ultimaActividad": "2025-12-03T10:00:00.000Z"
}"""

JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_764_756_000.0)  # 2025-12-03T10:00:00Z


def registration(console_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SEED_REGISTRATION)
    body["id"] = console_id or str(uuid.uuid4())
    body.update(overrides)
    return body


def register(client: httpx.Client, console_id: str | None = None, **overrides: Any) -> str:
    body = registration(console_id, **overrides)
    response = client.post("/api/consolas/registrar", json=body)
    assert response.status_code in (200, 201), response.text
    return str(body["id"])


def beat(client: httpx.Client, console_id: str, estado: str, **extra: Any) -> httpx.Response:
    return client.post(f"/api/consolas/{console_id}/heartbeat", json={"estado": estado, **extra})


def test_seed_registration_example_is_accepted_verbatim(client: httpx.Client) -> None:
    response = client.post(
        "/api/consolas/registrar", content=SEED_REGISTRATION, headers=JSON_HEADERS
    )
    assert response.status_code == 201
    assert response.json() == {"ok": True, "id": SEED_ID, "creada": True}
    stored = client.get(f"/api/consolas/{SEED_ID}").json()
    assert stored["nombre"] == "Consola mi-servidor"
    assert stored["estado"] == "esperando"
    assert stored["sistema"]["nodeVersion"] == "v18.x.x"
    assert stored["sistema"]["release"] == "10.0.19045"  # unknown extra keys are kept
    assert stored["ultimaActividad"] == "2025-12-03T10:00:00.000Z"


def test_seed_heartbeat_example_is_accepted_verbatim(client: httpx.Client) -> None:
    client.post("/api/consolas/registrar", content=SEED_REGISTRATION, headers=JSON_HEADERS)
    response = client.post(
        f"/api/consolas/{SEED_ID}/heartbeat", content=SEED_HEARTBEAT, headers=JSON_HEADERS
    )
    assert response.status_code == 200
    stored = client.get(f"/api/consolas/{SEED_ID}").json()
    assert stored["estado"] == "ocupada"
    assert stored["videoEnProceso"] == "Video Historia 1 (2/5)"
    assert stored["ultimaActividad"] == "2025-12-03T10:30:00.000Z"


def test_server_receive_time_is_recorded_beside_the_client_time(
    client: httpx.Client, clock: ManualClock
) -> None:
    clock.set(1_900_000_000.0)  # the console's clock says 2025; the server's says 2030
    console = register(client)
    stored = client.get(f"/api/consolas/{console}").json()
    assert stored["ultimoContacto"] == "2030-03-17T17:46:40.000Z"
    assert stored["ultimaActividad"] == "2025-12-03T10:00:00.000Z"


def test_registration_is_idempotent_for_a_restarting_console(client: httpx.Client) -> None:
    console = register(client)
    assert beat(client, console, "ocupada", videoEnProceso="v").status_code == 200
    again = client.post("/api/consolas/registrar", json=registration(console))
    assert again.status_code == 200
    assert again.json()["creada"] is False
    listing = client.get("/api/consolas").json()
    assert listing["total"] == 1
    assert listing["consolas"][0]["estado"] == "esperando"
    assert listing["consolas"][0]["videoEnProceso"] is None


def test_heartbeat_for_unknown_console_is_404_telling_it_to_register(
    client: httpx.Client,
) -> None:
    response = beat(client, str(uuid.uuid4()), "activa")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_registered"
    assert body["registrar"] == "/api/consolas/registrar"
    assert client.get("/api/consolas").json()["total"] == 0


def test_list_filters_consoles_by_estado(client: httpx.Client) -> None:
    busy = register(client)
    beat(client, busy, "ocupada")
    idle = register(client)
    only_busy = client.get("/api/consolas", params={"estado": "ocupada"}).json()
    assert [c["id"] for c in only_busy["consolas"]] == [busy]
    only_idle = client.get("/api/consolas", params={"estado": "esperando"}).json()
    assert [c["id"] for c in only_idle["consolas"]] == [idle]
    assert client.get("/api/consolas").json()["total"] == 2


def test_list_pages_with_limit_and_offset(client: httpx.Client) -> None:
    ids = sorted(register(client) for _ in range(3))
    page = client.get("/api/consolas", params={"limit": 2, "offset": 1}).json()
    assert [c["id"] for c in page["consolas"]] == ids[1:]
    assert page["total"] == 3


def test_one_console_is_returned_and_an_unknown_one_is_404(client: httpx.Client) -> None:
    console = register(client)
    assert client.get(f"/api/consolas/{console}").json()["id"] == console
    missing = client.get(f"/api/consolas/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["field"] == "id"


def test_inactivas_lists_consoles_silent_longer_than_minutos(
    client: httpx.Client, clock: ManualClock
) -> None:
    quiet = register(client)
    clock.advance(11 * 60)
    chatty = register(client)
    inactive = client.get("/api/consolas/inactivas", params={"minutos": 10}).json()
    assert [c["id"] for c in inactive["consolas"]] == [quiet]
    assert chatty not in {c["id"] for c in inactive["consolas"]}
    default = client.get("/api/consolas/inactivas").json()
    assert default["minutos"] == 10
    assert default["total"] == 1


def test_inactivas_leaves_out_consoles_that_said_goodbye(
    client: httpx.Client, clock: ManualClock
) -> None:
    gone = register(client)
    beat(client, gone, "inactiva")
    clock.advance(3600)
    assert client.get("/api/consolas/inactivas").json()["total"] == 0


def test_inactivas_lists_a_console_that_came_back_after_a_goodbye_and_went_silent(
    client: httpx.Client, clock: ManualClock
) -> None:
    console = register(client)
    beat(client, console, "inactiva")
    beat(client, console, "esperando")  # restarted: the goodbye no longer describes it
    clock.advance(11 * 60)
    listed = client.get("/api/consolas/inactivas").json()["consolas"]
    assert [c["id"] for c in listed] == [console]


def test_estadisticas_counts_consoles_per_state(client: httpx.Client) -> None:
    for _ in range(2):
        beat(client, register(client), "ocupada")
    register(client)
    stats = client.get("/api/consolas/estadisticas").json()
    by_state = {row["estado"]: row for row in stats["estados"]}
    assert set(by_state) == {"activa", "ocupada", "esperando", "error", "inactiva"}
    assert by_state["ocupada"]["total"] == 2
    assert by_state["esperando"]["total"] == 1
    assert by_state["activa"]["total"] == 0
    assert by_state["esperando"]["ultimaActividadMax"] == "2025-12-03T10:00:00.000Z"
    assert stats["total"] == 3


def test_historial_lists_state_changes_newest_first(
    client: httpx.Client, clock: ManualClock
) -> None:
    console = register(client)
    clock.advance(1)
    beat(client, console, "ocupada", videoEnProceso="a")
    clock.advance(1)
    beat(client, console, "ocupada", videoEnProceso="b")  # same state: no history row
    clock.advance(1)
    beat(client, console, "error", ultimoError={"message": "boom"})
    history = client.get(f"/api/consolas/{console}/historial").json()["historial"]
    assert [(h["estadoAnterior"], h["estado"], h["motivo"]) for h in history] == [
        ("ocupada", "error", "heartbeat"),
        ("esperando", "ocupada", "heartbeat"),
        (None, "esperando", "registro"),
    ]


def test_historial_of_unknown_console_is_404(client: httpx.Client) -> None:
    assert client.get(f"/api/consolas/{uuid.uuid4()}/historial").status_code == 404


def test_delete_retires_a_console_and_a_later_heartbeat_asks_to_register(
    client: httpx.Client,
) -> None:
    console = register(client)
    assert client.delete(f"/api/consolas/{console}").status_code == 200
    assert client.get(f"/api/consolas/{console}").status_code == 404
    assert client.delete(f"/api/consolas/{console}").status_code == 404
    assert beat(client, console, "activa").status_code == 404


def test_healthz_answers_ok(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_reachable(client: httpx.Client, database: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    expected = "postgresql" if database.startswith("postgresql") else "sqlite"
    assert response.json()["database"] == expected


def test_openapi_document_describes_every_api_route(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/consolas/registrar",
        "/api/consolas/{console_id}/heartbeat",
        "/api/consolas",
        "/api/consolas/inactivas",
        "/api/consolas/estadisticas",
        "/api/consolas/{console_id}",
        "/api/consolas/{console_id}/historial",
        "/api/consolas/{console_id}/mantenimiento",
        "/api/consolas/{console_id}/secreto",
        "/api/prometheus/targets",
        "/metrics",
        "/healthz",
        "/readyz",
    }


def test_index_page_links_metrics_and_the_api(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/metrics"' in page.text
    assert 'href="/api/consolas"' in page.text


def test_unknown_path_and_wrong_method_get_json_errors(client: httpx.Client) -> None:
    assert client.get("/api/nope").json()["error"] == "not_found"
    wrong = client.put("/api/consolas/registrar")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"


def test_fleet_metrics_pass_promtool_check(client: httpx.Client) -> None:
    promtool = require_binary("promtool")
    console = register(client, nombre='Consola "rara"\\ con\nsaltos ✓')
    beat(client, console, "ocupada", videoEnProceso='Vídeo "1" \\ (2/5)')
    text = client.get("/metrics").text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == b"" and result.stderr == b""


def test_fleet_metrics_expose_every_contract_series(client: httpx.Client) -> None:
    console = register(client)
    beat(client, console, "ocupada", videoEnProceso="Video Historia 1 (2/5)")
    text = client.get("/metrics").text
    for name in (
        "heartbeat_fleet_last_seen_timestamp_seconds",
        "heartbeat_fleet_inactive_after_seconds",
        "heartbeat_fleet_console_state",
        "heartbeat_fleet_console_info",
        "heartbeat_fleet_state_since_timestamp_seconds",
        "heartbeat_fleet_client_timestamp_seconds",
        "heartbeat_fleet_console_stopped_cleanly",
        "heartbeat_fleet_console_video_info",
        "heartbeat_fleet_consoles",
        "heartbeat_fleet_heartbeats_received_total",
        "heartbeat_fleet_registrations_total",
        "heartbeat_fleet_marked_inactive_total",
        "heartbeat_fleet_http_requests_total",
        "heartbeat_fleet_http_request_errors_total",
        "heartbeat_fleet_database_up",
        "heartbeat_fleet_last_ingest_timestamp_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert f'heartbeat_fleet_console_state{{console_id="{console}",state="ocupada"}} 1.0' in text
    assert f'heartbeat_fleet_console_state{{console_id="{console}",state="inactiva"}} 0.0' in text
    assert 'heartbeat_fleet_consoles{state="ocupada"} 1.0' in text
    assert "heartbeat_fleet_heartbeats_received_total 1.0" in text


def test_fleet_metrics_are_gzipped_when_the_scraper_accepts_it(client: httpx.Client) -> None:
    register(client)
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "heartbeat_fleet_consoles" in response.text  # httpx decompresses
