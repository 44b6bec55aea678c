"""The read token guards the API reads, the status page and /metrics; probes stay open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.exporters import database_for, embedded_exporter
from tests.support.security import ENROLLMENT_TOKEN, READ_TOKEN, REGISTRAR, bearer
from tests.support.security import registration as registration_body

CONSOLE_ID = "550e8400-e29b-41d4-a716-446655440000"
GUARDED = [
    "/api/consolas",
    f"/api/consolas/{CONSOLE_ID}",
    "/api/consolas/inactivas",
    "/api/consolas/estadisticas",
    f"/api/consolas/{CONSOLE_ID}/historial",
    "/metrics",
    "/",
]
OPEN = ["/healthz", "/readyz", "/openapi.json"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    database = database_for("sqlite", Path(tmp_path_factory.mktemp("read-token")))
    with (
        embedded_exporter(
            database, enrollment_token=ENROLLMENT_TOKEN, read_token=READ_TOKEN
        ) as running,
        httpx.Client(base_url=running.url, timeout=10) as http,
    ):
        registered = http.post(
            REGISTRAR, json=registration_body(CONSOLE_ID), headers=bearer(ENROLLMENT_TOKEN)
        )
        assert registered.status_code == 201
        yield http


@pytest.mark.parametrize("path", GUARDED)
def test_reading_without_the_read_token_is_refused_with_401(
    client: httpx.Client, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "read token" in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", GUARDED)
def test_reading_with_a_wrong_token_is_refused_with_403(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers=bearer("wrong-read-token-0123456789"))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize("path", GUARDED)
def test_reading_with_the_read_token_succeeds(client: httpx.Client, path: str) -> None:
    assert client.get(path, headers=bearer(READ_TOKEN)).status_code == 200


def test_the_enrollment_token_does_not_grant_reads(client: httpx.Client) -> None:
    assert client.get("/api/consolas", headers=bearer(ENROLLMENT_TOKEN)).status_code == 403


def test_head_requests_are_guarded_too(client: httpx.Client) -> None:
    assert client.head("/metrics").status_code == 401


@pytest.mark.parametrize("path", OPEN)
def test_probes_and_the_api_description_stay_open(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_fleet_metrics_with_the_read_token_show_the_console(client: httpx.Client) -> None:
    text = client.get("/metrics", headers=bearer(READ_TOKEN)).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    seen = families["heartbeat_fleet_last_seen_timestamp_seconds"]
    assert [s.labels["console_id"] for s in seen.samples] == [CONSOLE_ID]


def test_refused_reads_are_counted_under_the_route_they_aimed_at(client: httpx.Client) -> None:
    client.get("/metrics")
    text = client.get("/metrics", headers=bearer(READ_TOKEN)).text
    errors = {
        (s.labels["route"], s.labels["code"]): s.value
        for f in text_string_to_metric_families(text)
        if f.name == "heartbeat_fleet_http_request_errors"
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert errors.get(("metrics", "401"), 0) >= 1


def test_writes_are_not_asked_for_the_read_token(client: httpx.Client) -> None:
    body = registration_body()
    response = client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
    assert response.status_code == 201
