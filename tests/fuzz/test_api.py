"""Fuzz the HTTP API from the OpenAPI document it serves (schemathesis strategies, hypothesis).

Every operation gets schema-conforming (positive) and schema-violating (negative) requests over
real HTTP, on SQLite and PostgreSQL: never a 5xx, every 4xx a JSON body naming what was wrong,
every 2xx a response that matches the document. Afterwards nothing stored is garbage: every
console passes the wire validation again, and the fleet /metrics passes ``promtool check
metrics`` and round-trips through prometheus_client's parser.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from exporter.config import ExporterConfig
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter, database_for
from tests.support.fuzz_checks import check_exposition, check_stored_consoles
from tests.support.tools import free_port

#: Cases per backend in the default run (x2 backends); --run-slow multiplies it.
CASES_PER_BACKEND = int(os.environ.get("HEARTBEAT_FUZZ_CASES", "1000"))
SLOW_FACTOR = 10
KNOWN = "6f1c2a70-5b8e-4c1d-9a3e-0f2b4c6d8e10"


@dataclass
class Target:
    """A running exporter under fuzz and what was sent to it."""

    exporter: EmbeddedExporter
    http: httpx.Client
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    directory = tmp_path_factory.mktemp("fuzz")
    config = ExporterConfig(
        database=database_for(request.param, directory), port=free_port(), sweep_interval=0.05
    )
    with (
        EmbeddedExporter(config, clock=ManualClock()) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        body = {"id": KNOWN, "nombre": "Consola conocida", "estado": "activa"}
        assert http.post("/api/consolas/registrar", json=body).status_code == 201
        yield Target(running, http)


def api_schema(http: httpx.Client) -> Any:
    """The schemathesis schema of the document the exporter serves."""
    response = http.get("/openapi.json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json())


def case_strategy(schema: Any) -> st.SearchStrategy[Any]:
    """Positive and negative cases of every operation; path ids sometimes a known console."""
    strategies = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies.append(operation.as_strategy(generation_mode=mode))
            if "{console_id}" in operation.path and operation.method.upper() != "DELETE":
                strategies.append(
                    operation.as_strategy(
                        generation_mode=mode, path_parameters={"console_id": KNOWN}
                    )
                )
    return st.one_of(strategies)


def send(http: httpx.Client, case: Any) -> httpx.Response:
    """The case as one HTTP request (bodies serialised by schemathesis, sent as they are)."""
    kwargs = case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/"))
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
    content: bytes | None = None
    if "json" in kwargs:
        content = httpx.Request("POST", "http://x", json=kwargs["json"]).content
        headers.setdefault("Content-Type", "application/json")
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        content = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
    return http.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers,
        content=content,
    )  # fmt: skip


def check_response(case: Any, response: httpx.Response) -> None:
    assert response.status_code < 500, (case.as_curl_command(), response.text)
    if case.path.startswith("/api/") and response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    if response.status_code < 300 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        response.json()  # parseable JSON


def fuzz(target: Target, cases: int) -> None:
    schema = api_schema(target.http)

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=case_strategy(schema))
    def run(case: Any) -> None:
        response = send(target.http, case)
        target.statuses[response.status_code] = target.statuses.get(response.status_code, 0) + 1
        check_response(case, response)

    run()
    assert sum(target.statuses.values()) >= cases * 0.9
    assert any(200 <= s < 300 for s in target.statuses)  # positive cases reached the storage
    assert any(400 <= s < 500 for s in target.statuses)  # negative cases were refused


def test_fuzzed_requests_never_get_a_5xx(target: Target) -> None:
    fuzz(target, CASES_PER_BACKEND)


@pytest.mark.slow
def test_many_more_fuzzed_requests_never_get_a_5xx(target: Target) -> None:
    fuzz(target, CASES_PER_BACKEND * SLOW_FACTOR)


def test_nothing_stored_after_fuzzing_is_garbage(target: Target, tmp_path: Path) -> None:
    assert target.statuses, "runs after the fuzz test of the same backend"
    # A console stored in every state, with a video: all series kinds appear in /metrics.
    busy = str(uuid.uuid4())
    target.http.post(
        "/api/consolas/registrar", json={"id": busy, "nombre": "ocupada", "estado": "activa"}
    )
    target.http.post(
        f"/api/consolas/{busy}/heartbeat",
        json={"estado": "ocupada", "videoEnProceso": 'v "1"\\\n'},
    )
    consoles = check_stored_consoles(target.http)
    assert len(consoles) > 2
    check_exposition(target.http, consoles, tmp_path)
