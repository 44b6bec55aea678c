"""``GET /api/prometheus/targets``: consoles' own /metrics in Prometheus's http_sd format, from
what registrations and heartbeats said in ``metricas``, on both backends over real HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from exporter.storage.records import TargetRow
from exporter.web.prometheus_targets import targets_json
from tests.support.exporters import embedded_exporter

TARGETS = "/api/prometheus/targets"
REGISTRAR = "/api/consolas/registrar"


def register(client: httpx.Client, metricas: Any = None, **fields: Any) -> str:
    console_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "id": console_id,
        "nombre": f"Consola {console_id[:4]}",
        "estado": "esperando",
        "sistema": {"hostname": f"host-{console_id[:4]}", "platform": "linux"},
        **fields,
    }
    if metricas is not None:
        body["metricas"] = metricas
    response = client.post(REGISTRAR, json=body)
    assert response.status_code == 201, response.text
    return console_id


def beat(client: httpx.Client, console_id: str, **fields: Any) -> httpx.Response:
    body = {"estado": "ocupada", **fields}
    return client.post(f"/api/consolas/{console_id}/heartbeat", json=body)


def targets(client: httpx.Client, **params: str) -> dict[str, dict[str, Any]]:
    """The target groups by console_id (after checking the http_sd shape)."""
    response = client.get(TARGETS, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    groups = response.json()
    assert isinstance(groups, list)
    by_id = {}
    for group in groups:
        assert set(group) == {"targets", "labels"}
        assert len(group["targets"]) == 1
        assert all(isinstance(v, str) for v in group["labels"].values())
        by_id[group["labels"]["console_id"]] = group
    assert len(by_id) == len(groups)
    return by_id


def test_it_answers_an_empty_list_when_no_console_says_where_its_metrics_are(
    client: httpx.Client,
) -> None:
    assert targets(client) == {}
    register(client)  # a Node console of the seed: no metricas
    assert targets(client) == {}


def test_it_lists_a_console_with_its_address_port_and_labels(client: httpx.Client) -> None:
    metricas = {"puerto": 29100, "ruta": "/custom/metrics", "direccion": "render-7.example"}
    console_id = register(client, metricas, nombre="Consola ñandú")
    group = targets(client)[console_id]
    assert group == {
        "targets": ["render-7.example:29100"],
        "labels": {
            "console_id": console_id,
            "__meta_consola_nombre": "Consola ñandú",
            "__meta_consola_hostname": f"host-{console_id[:4]}",
            "__meta_consola_estado": "esperando",
            "__meta_consola_ruta": "/custom/metrics",
        },
    }


def test_without_direccion_the_address_the_request_came_from_is_used(
    client: httpx.Client,
) -> None:
    console_id = register(client, {"puerto": 29101})
    group = targets(client)[console_id]
    assert group["targets"] == ["127.0.0.1:29101"]
    assert group["labels"]["__meta_consola_ruta"] == "/metrics"


def test_an_ipv6_address_is_written_in_brackets(client: httpx.Client) -> None:
    console_id = register(client, {"puerto": 29100, "direccion": "fd00::7"})
    assert targets(client)[console_id]["targets"] == ["[fd00::7]:29100"]


def test_a_heartbeat_without_metricas_keeps_the_known_endpoint_and_one_with_it_moves_it(
    client: httpx.Client,
) -> None:
    console_id = register(client, {"puerto": 29100, "direccion": "10.0.0.5"})
    assert beat(client, console_id).status_code == 200
    group = targets(client)[console_id]
    assert group["targets"] == ["10.0.0.5:29100"]
    assert group["labels"]["__meta_consola_estado"] == "ocupada"

    moved = {"puerto": 29200, "ruta": "/m", "direccion": "10.0.0.6"}
    assert beat(client, console_id, metricas=moved).status_code == 200
    group = targets(client)[console_id]
    assert group["targets"] == ["10.0.0.6:29200"]
    assert group["labels"]["__meta_consola_ruta"] == "/m"


def test_a_registration_without_metricas_forgets_the_endpoint(client: httpx.Client) -> None:
    console_id = register(client, {"puerto": 29100, "direccion": "10.0.0.5"})
    again = {"id": console_id, "nombre": "Consola", "estado": "esperando"}
    assert client.post(REGISTRAR, json=again).status_code == 200
    assert console_id not in targets(client)


def test_a_console_that_said_goodbye_leaves_and_comes_back_when_it_registers_again(
    client: httpx.Client,
) -> None:
    metricas = {"puerto": 29100, "direccion": "10.0.0.5"}
    console_id = register(client, metricas)
    assert beat(client, console_id, estado="inactiva", metricas=metricas).status_code == 200
    assert console_id not in targets(client)
    body = {"id": console_id, "nombre": "Consola", "estado": "esperando", "metricas": metricas}
    assert client.post(REGISTRAR, json=body).status_code == 200
    assert console_id in targets(client)


def test_a_retired_console_leaves_the_targets(client: httpx.Client) -> None:
    console_id = register(client, {"puerto": 29100, "direccion": "10.0.0.5"})
    assert client.delete(f"/api/consolas/{console_id}").status_code == 200
    assert console_id not in targets(client)


def test_estado_selects_the_consoles_in_that_state(client: httpx.Client) -> None:
    waiting = register(client, {"puerto": 29100, "direccion": "10.0.0.1"})
    busy = register(client, {"puerto": 29100, "direccion": "10.0.0.2"})
    assert beat(client, busy).status_code == 200
    assert set(targets(client, estado="ocupada")) == {busy}
    assert set(targets(client, estado="esperando")) == {waiting}
    assert set(targets(client)) == {waiting, busy}


def test_an_unknown_estado_is_a_400_naming_it(client: httpx.Client) -> None:
    response = client.get(TARGETS, params={"estado": "dormida"})
    assert response.status_code == 400
    assert response.json()["field"] == "estado"


def test_unknown_keys_inside_metricas_are_accepted(client: httpx.Client) -> None:
    console_id = register(client, {"puerto": 29100, "direccion": "10.0.0.9", "esquema": "https"})
    assert targets(client)[console_id]["targets"] == ["10.0.0.9:29100"]


@pytest.mark.parametrize(
    ("metricas", "field"),
    [
        ({"puerto": 0}, "metricas.puerto"),
        ({"ruta": "/metrics"}, "metricas.puerto"),
        ({"puerto": 80, "ruta": "metrics"}, "metricas.ruta"),
        ({"puerto": 80, "direccion": "10.0.0.1:80"}, "metricas.direccion"),
        ("29100", "metricas"),
    ],
)
def test_a_bad_metricas_in_a_heartbeat_is_a_400_and_changes_nothing(
    client: httpx.Client, metricas: Any, field: str
) -> None:
    console_id = register(client, {"puerto": 29100, "direccion": "10.0.0.5"})
    response = beat(client, console_id, metricas=metricas)
    assert response.status_code == 400
    assert response.json()["field"] == field
    group = targets(client)[console_id]
    assert group["targets"] == ["10.0.0.5:29100"]
    assert group["labels"]["__meta_consola_estado"] == "esperando"


def test_the_read_token_guards_the_targets(database: str) -> None:
    with (
        embedded_exporter(database, read_token="r" * 32) as running,
        httpx.Client(base_url=running.url, timeout=10) as http,
    ):
        console_id = register(http, {"puerto": 29100, "direccion": "10.0.0.5"})
        assert http.get(TARGETS).status_code == 401
        response = http.get(TARGETS, headers={"Authorization": "Bearer " + "r" * 32})
        assert response.status_code == 200
        assert [g["labels"]["console_id"] for g in response.json()] == [console_id]


def reference_targets_json(rows: list[TargetRow]) -> bytes:
    """The document as the json library writes it from the groups (what targets_json matches)."""
    groups = [
        {
            "targets": [f"[{address}]:{port}" if ":" in address else f"{address}:{port}"],
            "labels": {
                "console_id": console_id,
                "__meta_consola_nombre": nombre,
                "__meta_consola_hostname": hostname,
                "__meta_consola_estado": estado,
                "__meta_consola_ruta": path,
            },
        }
        for console_id, nombre, hostname, estado, address, port, path in rows
    ]
    return json.dumps(groups, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


AWKWARD = [
    'double "quotes" and back\\slash',
    "new\nline, tab\t, bell\x07 and \x1f",
    "Consola ñandú — 控制台 📼 \u2028\u2029\u0085",
    '"}],"labels":{"console_id":"evil"}',
    "",
]


def test_the_rendered_document_is_byte_for_byte_what_json_dumps_writes() -> None:
    rows: list[TargetRow] = [
        (str(uuid.uuid4()), text, text[::-1], "ocupada", address, port, path)
        for text in AWKWARD
        for address, port, path in (
            ("10.0.0.1", 1, "/metrics"),
            ("fe80::1%eth0", 65535, '/m"\\x'),
            ("render-7.example.", 29100, "/a/b!~"),
        )
    ]
    assert targets_json(rows) == reference_targets_json(rows)
    assert targets_json([]) == reference_targets_json([]) == b"[]"


def test_awkward_names_reach_the_labels_exactly(client: httpx.Client) -> None:
    sent = {}
    for text in AWKWARD[:-1]:
        console_id = register(
            client, {"puerto": 29100, "direccion": "10.0.0.5"}, nombre=text.replace("\x07", "")
        )
        sent[console_id] = text.replace("\x07", "")
    found = targets(client)
    assert {cid: found[cid]["labels"]["__meta_consola_nombre"] for cid in sent} == sent
