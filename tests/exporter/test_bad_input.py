"""Every kind of bad request gets a 4xx JSON body naming the field, and stores nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from consola_wire.protocol import MAX_BODY_BYTES
from exporter.config import ExporterConfig
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter, database_for
from tests.support.tools import free_port

KNOWN = "11111111-2222-4333-8444-555555555555"
GOOD_REGISTRATION: dict[str, Any] = {
    "id": "",
    "nombre": "Consola buena",
    "estado": "esperando",
    "sistema": {"hostname": "h", "platform": "linux", "arch": "x64", "cpus": 2},
    "ultimaActividad": "2025-12-03T10:00:00.000Z",
}


def reg(**changes: Any) -> bytes:
    body = {**GOOD_REGISTRATION, "id": str(uuid.uuid4()), **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def hb(**changes: Any) -> bytes:
    return json.dumps({"estado": "activa", **changes}).encode()


REGISTRAR = "/api/consolas/registrar"
HEARTBEAT = f"/api/consolas/{KNOWN}/heartbeat"

# (case, path, raw body, expected status, field named in the error)
CASES: list[tuple[str, str, bytes, int, str]] = [
    ("malformed_json", REGISTRAR, b'{"id": ', 400, "body"),
    ("empty_body", REGISTRAR, b"", 400, "body"),
    ("not_an_object", REGISTRAR, b"[1, 2]", 400, "body"),
    ("nan_literal", HEARTBEAT, b'{"estado": "activa", "sistema": {"cpus": NaN}}', 400, "body"),
    ("invalid_utf8", REGISTRAR, b'{"nombre": "\xff"}', 400, "body"),
    ("id_not_a_uuid", REGISTRAR, reg(id="console-1"), 400, "id"),
    ("id_wrong_type", REGISTRAR, reg(id=12), 400, "id"),
    ("nombre_missing", REGISTRAR, reg(nombre=...), 400, "nombre"),
    ("nombre_wrong_type", REGISTRAR, reg(nombre=["x"]), 400, "nombre"),
    ("nombre_too_long", REGISTRAR, reg(nombre="x" * 256), 400, "nombre"),
    ("nombre_with_nul", REGISTRAR, reg(nombre="a\u0000b"), 400, "nombre"),
    ("unknown_estado", REGISTRAR, reg(estado="dormida"), 400, "estado"),
    ("registration_as_inactiva", REGISTRAR, reg(estado="inactiva"), 400, "estado"),
    ("sistema_wrong_type", REGISTRAR, reg(sistema="linux"), 400, "sistema"),
    ("cpus_wrong_type", REGISTRAR, reg(sistema={"cpus": "8"}), 400, "sistema.cpus"),
    ("negative_memory", REGISTRAR, reg(sistema={"totalMemory": -1}), 400, "sistema.totalMemory"),
    ("bad_timestamp", REGISTRAR, reg(ultimaActividad="ayer"), 400, "ultimaActividad"),
    (
        "timestamp_past_year_9999",
        REGISTRAR,
        reg(ultimaActividad="9999-12-31T23:59:59-05:00"),
        400,
        "ultimaActividad",
    ),
    (
        "timestamp_before_year_1",
        HEARTBEAT,
        hb(ultimaActividad="0001-01-01T00:00:00+05:00"),
        400,
        "ultimaActividad",
    ),
    ("interval_out_of_range", REGISTRAR, reg(intervaloSegundos=0), 400, "intervaloSegundos"),
    ("heartbeat_unknown_estado", HEARTBEAT, hb(estado="OCUPADA"), 400, "estado"),
    ("heartbeat_video_wrong_type", HEARTBEAT, hb(videoEnProceso=5), 400, "videoEnProceso"),
    ("heartbeat_error_wrong_type", HEARTBEAT, hb(ultimoError=[1]), 400, "ultimoError"),
    ("heartbeat_id_not_a_uuid", "/api/consolas/abc/heartbeat", hb(), 400, "id"),
    ("body_over_limit", REGISTRAR, b" " * (MAX_BODY_BYTES + 1), 413, "body"),
]


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    directory = tmp_path_factory.mktemp("bad-input")
    config = ExporterConfig(
        database=database_for(request.param, directory), port=free_port(), sweep_interval=3600
    )
    with (
        EmbeddedExporter(config, clock=ManualClock()) as running,
        httpx.Client(base_url=running.url, timeout=10) as http,
    ):
        known = {**GOOD_REGISTRATION, "id": KNOWN}
        assert http.post(REGISTRAR, json=known).status_code == 201
        yield http


def snapshot(client: httpx.Client) -> Any:
    return client.get("/api/consolas").json()["consolas"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_request_gets_4xx_naming_the_field_and_stores_nothing(
    client: httpx.Client, path: str, body: bytes, status: int, field: str
) -> None:
    before = snapshot(client)
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert snapshot(client) == before


def test_body_over_limit_is_refused_while_streaming_without_content_length(
    client: httpx.Client,
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    response = client.post(REGISTRAR, content=chunks())
    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_compressed_body_is_refused_with_415_naming_the_header(client: httpx.Client) -> None:
    response = client.post(REGISTRAR, content=reg(), headers={"Content-Encoding": "br"})
    assert response.status_code == 415
    assert response.json()["field"] == "Content-Encoding"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/consolas?estado=dormida", "estado"),
        ("/api/consolas?limit=0", "limit"),
        ("/api/consolas?offset=x", "offset"),
        ("/api/consolas/inactivas?minutos=-1", "minutos"),
        ("/api/consolas/inactivas?minutos=inf", "minutos"),
        ("/api/consolas/inactivas?minutos=diez", "minutos"),
        ("/api/consolas/not-a-uuid", "id"),
        ("/api/consolas/not-a-uuid/historial", "id"),
        (f"/api/consolas/{KNOWN}/historial?limit=-5", "limit"),
    ],
)
def test_bad_query_or_path_parameter_gets_400_naming_it(
    client: httpx.Client, path: str, field: str
) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_delete_with_a_non_uuid_id_gets_400_and_deletes_nothing(client: httpx.Client) -> None:
    response = client.delete("/api/consolas/not-a-uuid")
    assert response.status_code == 400
    assert response.json()["field"] == "id"
    assert client.get(f"/api/consolas/{KNOWN}").status_code == 200
