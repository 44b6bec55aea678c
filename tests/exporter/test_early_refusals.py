"""A refusal answered before the body was read still reaches the client as its JSON: a blocking
client that sends its whole oversized body first gets the 413, not a connection reset."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from consola_wire.protocol import MAX_BODY_BYTES
from tests.support.exporters import EmbeddedExporter, embedded_exporter
from tests.support.security import ENROLLMENT_TOKEN

OVERSIZED_BYTES = 3 * 1024 * 1024
TRIES = 20


@pytest.fixture
def database(sqlite_database: str) -> str:
    return sqlite_database


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST with urllib (a blocking client: it sends the whole body before reading)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize("route", ["/api/consolas/registrar", "/api/consolas/{id}/heartbeat"])
def test_a_3_mb_body_gets_its_413_json_every_time(exporter: EmbeddedExporter, route: str) -> None:
    url = exporter.url + route.format(id=uuid.uuid4())
    body = b'{"estado": "activa", "pad": "' + b"x" * OVERSIZED_BYTES + b'"}'
    answers = [post(url, body) for _ in range(TRIES)]
    assert [status for status, _ in answers] == [413] * TRIES
    assert all(data["field"] == "body" and data["limit"] == MAX_BODY_BYTES for _, data in answers)


def test_a_refused_credential_with_a_large_body_arrives_as_its_json(database: str) -> None:
    body = b'{"pad": "' + b"x" * OVERSIZED_BYTES + b'"}'
    with embedded_exporter(database, enrollment_token=ENROLLMENT_TOKEN) as guarded:
        url = guarded.url + "/api/consolas/registrar"
        answers = [post(url, body, {"Authorization": "Bearer wrong"}) for _ in range(5)]
    assert {status for status, _ in answers} <= {401, 403, 413}
    assert all(data["error"] for _, data in answers)
