"""Hand-picked hostile inputs: each refused with a 4xx naming the field and storing nothing, or
accepted and then stored and exported exactly (promtool and prometheus_client's parser agree).

Complements tests/test_exporter_bad_input.py (the everyday bad requests) with the nasty ones:
lone surrogates as JSON escapes, NUL bytes, NaN/Infinity, numbers past float range, huge strings
and bodies, deep nesting, dates outside the calendar, and label values that would break the
exposition format if they were not escaped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.config import ExporterConfig
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter, database_for
from tests.support.fuzz_checks import check_exposition, check_stored_consoles
from tests.support.tools import free_port

KNOWN = "0b7f3a52-1c9d-4e8a-b6f0-2d4c6e8a0b1c"
REGISTRAR = "/api/consolas/registrar"
HEARTBEAT = f"/api/consolas/{KNOWN}/heartbeat"


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def http(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    config = ExporterConfig(
        database=database_for(request.param, tmp_path_factory.mktemp("explicit")),
        port=free_port(),
        sweep_interval=3600,
    )
    with (
        EmbeddedExporter(config, clock=ManualClock()) as running,
        httpx.Client(base_url=running.url, timeout=30) as client,
    ):
        body = {"id": KNOWN, "nombre": "Consola conocida", "estado": "activa"}
        assert client.post(REGISTRAR, json=body).status_code == 201
        yield client


def reg_text(**fields: str) -> bytes:
    """A registration whose fields are given as raw JSON text (so escapes reach the server)."""
    values = {
        "id": json.dumps(str(uuid.uuid4())),
        "nombre": '"Consola"',
        "estado": '"activa"',
        **fields,
    }
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}").encode()


def hb_text(**fields: str) -> bytes:
    """A heartbeat whose fields are given as raw JSON text."""
    values = {"estado": '"ocupada"', **fields}
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}").encode()


BIG_INT = "9" * 400  # a valid JSON integer far past float range
DEEP = "[" * 5000 + "]" * 5000

# (case, path, raw body, expected status, field named in the error)
REFUSED: list[tuple[str, str, bytes, int, str]] = [
    # lone surrogates, written as JSON escapes
    ("surrogate_in_nombre", REGISTRAR, reg_text(nombre='"Consola \\ud800"'), 400, "nombre"),
    ("low_surrogate_in_nombre", REGISTRAR, reg_text(nombre='"\\udfff"'), 400, "nombre"),
    (
        "surrogate_in_hostname",
        HEARTBEAT,
        hb_text(sistema='{"hostname": "h\\ud800"}'),
        400,
        "sistema.hostname",
    ),
    ("surrogate_in_sistema_key", HEARTBEAT, hb_text(sistema='{"\\ud800": 1}'), 400, "sistema"),
    ("surrogate_in_video", HEARTBEAT, hb_text(videoEnProceso='"v\\udbff"'), 400, "videoEnProceso"),
    (
        "surrogate_deep_in_error",
        HEARTBEAT,
        hb_text(estado='"error"', ultimoError='{"stack": ["ok", {"x": "\\ud800"}]}'),
        400,
        "ultimoError.stack[1].x",
    ),
    # NUL bytes
    (
        "nul_in_hostname",
        HEARTBEAT,
        hb_text(sistema='{"hostname": "a\\u0000"}'),
        400,
        "sistema.hostname",
    ),
    ("nul_in_video", HEARTBEAT, hb_text(videoEnProceso='"\\u0000"'), 400, "videoEnProceso"),
    (
        "nul_in_error",
        HEARTBEAT,
        hb_text(estado='"error"', ultimoError='"boom\\u0000"'),
        400,
        "ultimoError",
    ),
    ("nul_in_sistema_key", HEARTBEAT, hb_text(sistema='{"k\\u0000": 1}'), 400, "sistema"),
    ("nul_in_id", REGISTRAR, reg_text(id='"\\u0000"'), 400, "id"),
    # NaN, Infinity and numbers past float range
    ("nan_in_cpus", HEARTBEAT, hb_text(sistema='{"cpus": NaN}'), 400, "body"),
    ("infinity_in_interval", HEARTBEAT, hb_text(intervaloSegundos="Infinity"), 400, "body"),
    ("minus_infinity_in_error", HEARTBEAT, hb_text(ultimoError='{"x": -Infinity}'), 400, "body"),
    (
        "float_overflow_in_memory",
        HEARTBEAT,
        hb_text(sistema='{"totalMemory": 1e400}'),
        400,
        "sistema.totalMemory",
    ),
    (
        "float_overflow_in_extra_key",
        HEARTBEAT,
        hb_text(sistema='{"gpu": -1e999}'),
        400,
        "sistema.gpu",
    ),
    (
        "huge_integer_interval",
        HEARTBEAT,
        hb_text(intervaloSegundos=BIG_INT),
        400,
        "intervaloSegundos",
    ),
    (
        "integer_with_5000_digits",
        HEARTBEAT,
        hb_text(sistema='{"x": ' + "9" * 5000 + "}"),
        400,
        "body",
    ),
    # wrong types
    ("estado_as_list", HEARTBEAT, hb_text(estado='["activa"]'), 400, "estado"),
    ("estado_null", HEARTBEAT, hb_text(estado="null"), 400, "estado"),
    ("interval_as_string", HEARTBEAT, hb_text(intervaloSegundos='"60"'), 400, "intervaloSegundos"),
    ("interval_as_bool", HEARTBEAT, hb_text(intervaloSegundos="true"), 400, "intervaloSegundos"),
    ("sistema_as_list", HEARTBEAT, hb_text(sistema="[1, 2]"), 400, "sistema"),
    ("cpus_as_bool", HEARTBEAT, hb_text(sistema='{"cpus": true}'), 400, "sistema.cpus"),
    ("nombre_as_object", REGISTRAR, reg_text(nombre='{"a": 1}'), 400, "nombre"),
    ("id_as_number", REGISTRAR, reg_text(id="12"), 400, "id"),
    # unknown states
    ("estado_upper_case", REGISTRAR, reg_text(estado='"ACTIVA"'), 400, "estado"),
    ("estado_empty", HEARTBEAT, hb_text(estado='""'), 400, "estado"),
    ("estado_with_space", HEARTBEAT, hb_text(estado='"activa "'), 400, "estado"),
    # a Cyrillic "а" in place of the Latin "a"
    ("estado_unicode_lookalike", HEARTBEAT, hb_text(estado='"аctiva"'), 400, "estado"),
    # invalid UUIDs
    ("id_empty", REGISTRAR, reg_text(id='""'), 400, "id"),
    ("id_too_short", REGISTRAR, reg_text(id='"6f1c2a70-5b8e-4c1d-9a3e-0f2b4c6d8e1"'), 400, "id"),
    ("id_with_suffix", REGISTRAR, reg_text(id=f'"{KNOWN}x"'), 400, "id"),
    ("id_sql", REGISTRAR, reg_text(id="\"1' OR '1'='1\""), 400, "id"),
    ("path_id_sql", "/api/consolas/1'%20OR%201=1/heartbeat", hb_text(), 400, "id"),
    ("path_id_nul", "/api/consolas/%00/heartbeat", hb_text(), 400, "id"),
    ("path_id_long", "/api/consolas/" + "a" * 4000 + "/heartbeat", hb_text(), 400, "id"),
    # huge strings and bodies
    ("nombre_256_chars", REGISTRAR, reg_text(nombre=json.dumps("ñ" * 256)), 400, "nombre"),
    (
        "hostname_256_chars",
        HEARTBEAT,
        hb_text(sistema=json.dumps({"hostname": "h" * 256})),
        400,
        "sistema.hostname",
    ),
    (
        "video_501_chars",
        HEARTBEAT,
        hb_text(videoEnProceso=json.dumps("v" * 501)),
        400,
        "videoEnProceso",
    ),
    ("error_over_16k", HEARTBEAT, hb_text(ultimoError=json.dumps("e" * 17000)), 400, "ultimoError"),
    (
        "sistema_65_keys",
        HEARTBEAT,
        hb_text(sistema=json.dumps({f"k{i}": i for i in range(65)})),
        400,
        "sistema",
    ),
    ("nombre_of_a_megabyte", REGISTRAR, reg_text(nombre=json.dumps("x" * 1_000_000)), 413, "body"),
    ("body_of_ten_megabytes", HEARTBEAT, b"[" + b"0," * 5_000_000 + b"0]", 413, "body"),
    # malformed JSON
    ("truncated", REGISTRAR, b'{"id": "x", "nombre": "a', 400, "body"),
    ("trailing_comma", HEARTBEAT, b'{"estado": "activa",}', 400, "body"),
    ("single_quotes", HEARTBEAT, b"{'estado': 'activa'}", 400, "body"),
    ("top_level_null", HEARTBEAT, b"null", 400, "body"),
    ("top_level_string", HEARTBEAT, b'"activa"', 400, "body"),
    ("utf8_bom", HEARTBEAT, b'\xef\xbb\xbf{"estado": "activa"}', 400, "body"),
    ("utf16_body", HEARTBEAT, '{"estado": "activa"}'.encode("utf-16"), 400, "body"),
    ("overlong_utf8", HEARTBEAT, b'{"estado": "activ\xc1\xa1"}', 400, "body"),
    (
        "raw_surrogate_bytes",
        HEARTBEAT,
        b'{"estado": "activa", "videoEnProceso": "\xed\xa0\x80"}',
        400,
        "body",
    ),
    ("nesting_5000_deep", HEARTBEAT, hb_text(ultimoError=DEEP), 400, "body"),
    # dates outside the calendar
    (
        "date_past_year_9999",
        HEARTBEAT,
        hb_text(ultimaActividad='"9999-12-31T23:59:59-05:00"'),
        400,
        "ultimaActividad",
    ),
    (
        "date_before_year_1",
        HEARTBEAT,
        hb_text(ultimaActividad='"0001-01-01T00:00:00+05:00"'),
        400,
        "ultimaActividad",
    ),
    (
        "date_month_13",
        HEARTBEAT,
        hb_text(ultimaActividad='"2025-13-01T00:00:00Z"'),
        400,
        "ultimaActividad",
    ),
    # metricas: where the console's /metrics answers (GET /api/prometheus/targets)
    *[
        (f"metricas_{name}_{kind}", path, body(metricas=value), 400, field)
        for kind, path, body in (
            ("registration", REGISTRAR, reg_text),
            ("heartbeat", HEARTBEAT, hb_text),
        )
        for name, value, field in (
            ("port_0", '{"puerto": 0}', "metricas.puerto"),
            ("port_65536", '{"puerto": 65536}', "metricas.puerto"),
            ("port_as_text", '{"puerto": "80"}', "metricas.puerto"),
            ("port_true", '{"puerto": true}', "metricas.puerto"),
            ("port_null", '{"puerto": null}', "metricas.puerto"),
            ("port_float", '{"puerto": 29100.5}', "metricas.puerto"),
            ("port_past_float_range", f'{{"puerto": {BIG_INT}}}', "metricas.puerto"),
            ("ruta_without_slash", '{"puerto": 80, "ruta": "metrics"}', "metricas.ruta"),
            ("ruta_too_long", f'{{"puerto": 80, "ruta": "/{"m" * 255}"}}', "metricas.ruta"),
            ("ruta_with_space", '{"puerto": 80, "ruta": "/me trics"}', "metricas.ruta"),
            ("ruta_with_nul", '{"puerto": 80, "ruta": "/m\\u0000"}', "metricas.ruta"),
            ("ruta_not_text", '{"puerto": 80, "ruta": 7}', "metricas.ruta"),
            (
                "direccion_too_long",
                f'{{"puerto": 80, "direccion": "{"h" * 254}"}}',
                "metricas.direccion",
            ),
            ("direccion_not_text", '{"puerto": 80, "direccion": 10}', "metricas.direccion"),
            ("direccion_with_port", '{"puerto": 80, "direccion": "h:80"}', "metricas.direccion"),
            ("direccion_in_brackets", '{"puerto": 80, "direccion": "[::1]"}', "metricas.direccion"),
            (
                "direccion_surrogate",
                '{"puerto": 80, "direccion": "h\\ud800"}',
                "metricas.direccion",
            ),
            ("not_an_object", '"29100"', "metricas"),
            ("a_list", "[29100]", "metricas"),
        )
    ],
]


def snapshot(http: httpx.Client) -> Any:
    consoles = http.get("/api/consolas", params={"limit": 10000}).json()["consolas"]
    return consoles, http.get("/api/prometheus/targets").json()


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_hostile_request_is_refused_naming_the_field_and_stores_nothing(
    http: httpx.Client, path: str, body: bytes, status: int, field: str
) -> None:
    before = snapshot(http)
    response = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text[:500]
    assert response.json()["field"] == field, response.text[:500]
    assert snapshot(http) == before


#: (case, path, expected status, field) of a ``DELETE`` of a console's secret (the reset).
REFUSED_RESETS: list[tuple[str, str, int, str]] = [
    ("reset_path_id_sql", "/api/consolas/1'%20OR%201=1/secreto", 400, "id"),
    ("reset_path_id_nul", "/api/consolas/%00/secreto", 400, "id"),
    ("reset_path_id_long", "/api/consolas/" + "a" * 4000 + "/secreto", 400, "id"),
    ("reset_path_id_with_suffix", f"/api/consolas/{KNOWN}x/secreto", 400, "id"),
    ("reset_unknown_id", f"/api/consolas/{uuid.UUID(int=7)}/secreto", 404, "id"),
]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [case[1:] for case in REFUSED_RESETS],
    ids=[case[0] for case in REFUSED_RESETS],
)
def test_hostile_secret_reset_is_refused_naming_the_field_and_changes_nothing(
    http: httpx.Client, path: str, status: int, field: str
) -> None:
    before = snapshot(http)
    response = http.delete(path)
    assert response.status_code == status, response.text[:500]
    assert response.json()["field"] == field, response.text[:500]
    assert snapshot(http) == before


#: Names, hostnames and videos that must be stored and exported exactly as sent.
ACCEPTED_TEXT = [
    "Consola ñandú — vídeo",
    "控制台 三号",
    "وحدة التحكم",  # right-to-left
    "e\u0301mojis 📼🎬 and a pair \U0001f600",
    "zero\u200bwidth\u2028line\u2029separators\u0085",
    'double "quotes"',
    "back\\slash and \\n literal",
    "new\nline and\r\nreturn",
    "tab\tand } braces { and # HELP",
    'label="injection",evil="1"} 1\nfake_metric 42',
]


def test_hostile_but_valid_text_is_stored_and_exported_exactly(
    http: httpx.Client, tmp_path: Path
) -> None:
    sent: dict[str, str] = {}
    for text in ACCEPTED_TEXT:
        console = str(uuid.uuid4())
        registration = {
            "id": console,
            "nombre": text,
            "estado": "activa",
            "sistema": {"hostname": text, "platform": text, "arch": "x64"},
        }
        assert http.post(REGISTRAR, json=registration).status_code == 201, text
        beat = {"estado": "ocupada", "videoEnProceso": text, "ultimoError": {"mensaje": text}}
        assert http.post(f"/api/consolas/{console}/heartbeat", json=beat).status_code == 200
        sent[console] = text
    for console, text in sent.items():
        stored = http.get(f"/api/consolas/{console}").json()
        assert stored["nombre"] == stored["sistema"]["hostname"] == text
        assert stored["videoEnProceso"] == text
        assert stored["ultimoError"] == {"mensaje": text}
    consoles = check_stored_consoles(http)
    check_exposition(http, consoles, tmp_path)  # promtool silent, parser reads the labels back
    text = http.get("/metrics").text
    assert "\nfake_metric" not in text


def test_a_surrogate_pair_escape_is_an_ordinary_character(http: httpx.Client) -> None:
    console = str(uuid.uuid4())
    body = reg_text(id=json.dumps(console), nombre='"cine \\ud83c\\udfac"')
    response = http.post(REGISTRAR, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert http.get(f"/api/consolas/{console}").json()["nombre"] == "cine 🎬"


def test_unknown_keys_inside_metricas_are_accepted_and_ignored(http: httpx.Client) -> None:
    console = str(uuid.uuid4())
    metricas = '{"puerto": 29100, "direccion": "10.1.2.3", "esquema": "https", "x": {"y": [1]}}'
    body = reg_text(id=json.dumps(console), metricas=metricas)
    response = http.post(REGISTRAR, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    groups = http.get("/api/prometheus/targets").json()
    assert [g["targets"] for g in groups if g["labels"]["console_id"] == console] == [
        ["10.1.2.3:29100"]
    ]
