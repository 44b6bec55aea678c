"""The heartbeat's path past Starlette's router takes exactly the requests the heartbeat route
matches, hands them to that route's own handler, and leaves everything else to Starlette."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.routing import Match, Route

from consola_wire import ALL_STATES
from exporter.web.app import create_app
from exporter.web.heartbeat_path import ROUTE_PATH, HeartbeatPath
from tests.support.exporters import EmbeddedExporter, exporter_config

CONSOLE = "00000000-0000-4000-8000-000000000001"
PATHS = [
    f"/api/consolas/{CONSOLE}/heartbeat",
    "/api/consolas/x/heartbeat",
    "/api/consolas/ñandú y espacio/heartbeat",
    "/api/consolas/heartbeat/heartbeat",
    "/api/consolas//heartbeat",
    "/api/consolas/a/b/heartbeat",
    f"/api/consolas/{CONSOLE}/heartbeat/",
    f"/api/consolas/{CONSOLE}/heartbeats",
    f"/api/consolas/{CONSOLE}",
    "/api/consolas/registrar",
    "/api/consolas/heartbeat",
    f"/api/consolas/{CONSOLE}/heartbeat/heartbeat",
    f"/API/consolas/{CONSOLE}/heartbeat",
    "/metrics",
]


def scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}


def heartbeat_route(tmp_path: Path) -> Route:
    exporter = EmbeddedExporter(exporter_config(str(tmp_path / "consolas.db")))
    try:
        app = create_app(exporter.service)
        routes = [r for r in app.routes if isinstance(r, Route) and r.path == ROUTE_PATH]
        assert len(routes) == 1
        return routes[0]
    finally:
        exporter.service.storage.close()


@pytest.mark.parametrize("method", ["POST", "GET", "PUT", "DELETE"])
def test_it_takes_exactly_what_the_heartbeat_route_matches(method: str, tmp_path: Path) -> None:
    route = heartbeat_route(tmp_path)
    for path in PATHS:
        match, child = route.matches(scope(method, path))
        expected = child["path_params"]["console_id"] if match == Match.FULL else None
        assert HeartbeatPath.console_id(scope(method, path)) == expected, (method, path)
    assert HeartbeatPath.console_id(scope("POST", PATHS[0], root_path="/prefix")) is None


def test_the_app_hands_heartbeats_to_the_routes_own_handler(tmp_path: Path) -> None:
    exporter = EmbeddedExporter(exporter_config(str(tmp_path / "consolas.db")))
    try:
        app = create_app(exporter.service)
        (route,) = [r for r in app.routes if isinstance(r, Route) and r.path == ROUTE_PATH]
        layer: object = app.build_middleware_stack()
        while not isinstance(layer, HeartbeatPath):
            layer = getattr(layer, "app", None)
            assert layer is not None, "no HeartbeatPath in the middleware stack"
        assert layer.handler is route.endpoint
    finally:
        exporter.service.storage.close()


def test_heartbeats_over_http_get_the_handlers_answers_and_other_methods_the_routers(
    tmp_path: Path,
) -> None:
    with (
        EmbeddedExporter(exporter_config(str(tmp_path / "consolas.db"))) as exporter,
        httpx.Client(base_url=exporter.url, timeout=10) as http,
    ):
        heartbeat = f"/api/consolas/{CONSOLE}/heartbeat"
        unknown = http.post(heartbeat, json={"estado": "activa"})
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "not_registered"
        registered = http.post(
            "/api/consolas/registrar",
            json={"id": CONSOLE, "nombre": "Consola 1", "estado": "esperando"},
        )
        assert registered.status_code == 201
        beat = http.post(heartbeat, json={"estado": "activa"})
        assert beat.status_code == 200
        assert beat.json() == {"ok": True, "id": CONSOLE, "estado": "activa"}
        assert beat.headers["accept-encoding"] == "gzip"
        assert http.get(f"/api/consolas/{CONSOLE}").json()["estado"] == "activa"
        assert http.get(heartbeat).status_code == 405  # Starlette's router, as before
        assert http.post(heartbeat + "/").status_code in (307, 404)
        counted = exporter.service.metrics.requests["heartbeat"]
    assert counted == 2  # both answered by the endpoint wrapper of the route's handler


def test_each_heartbeat_answer_is_byte_for_byte_what_json_response_writes(
    tmp_path: Path,
) -> None:
    with (
        EmbeddedExporter(exporter_config(str(tmp_path / "consolas.db"))) as exporter,
        httpx.Client(base_url=exporter.url, timeout=10) as http,
    ):
        upper = CONSOLE.replace("0000-4000-8000", "ABCD-4000-8000")  # answered canonical
        for console_id in (CONSOLE, upper):
            registered = http.post(
                "/api/consolas/registrar",
                json={"id": console_id, "nombre": "Consola", "estado": "esperando"},
            )
            assert registered.status_code in (200, 201)
        for estado in ALL_STATES:
            for console_id in (CONSOLE, upper):
                beat = http.post(f"/api/consolas/{console_id}/heartbeat", json={"estado": estado})
                assert beat.status_code == 200
                expected = JSONResponse({"ok": True, "id": console_id.lower(), "estado": estado})
                assert beat.content == expected.body
                assert beat.headers["content-type"] == expected.headers["content-type"]
                assert beat.headers["content-length"] == expected.headers["content-length"]
