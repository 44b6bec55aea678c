"""Operational endpoints: fleet ``/metrics``, ``/healthz``, ``/readyz`` and ``/openapi.json``."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.fleet.renderer import FleetView
from exporter.service import ExporterService
from exporter.storage import StorageUnavailableError
from exporter.web.errors import endpoint, unavailable, warming_up
from exporter.web.openapi import openapi_document
from exporter.web.pieces_response import PiecesResponse
from exporter.web.status_page import index


def ops_routes(service: ExporterService) -> list[Route]:
    """Routes outside ``/api`` bound to ``service``."""
    m = service.metrics
    renderer = service.fleet
    document = openapi_document()

    @endpoint("metrics", m)
    async def metrics(request: Request) -> Response:
        """GET /metrics — the fleet, brought up to date from the database at scrape time."""
        accept_gzip = "gzip" in request.headers.get("accept-encoding", "")
        view: FleetView | None
        try:
            view = await service.read(partial(renderer.refresh, service.storage))
        except StorageUnavailableError:
            view = None  # still a valid scrape: database_up 0, no per-console series
        pieces, headers = await anyio.to_thread.run_sync(renderer.render_view, view, m, accept_gzip)
        return PiecesResponse(pieces, headers)

    @endpoint("healthz", m)
    async def healthz(request: Request) -> Response:
        """GET /healthz — the process is alive."""
        return JSONResponse({"status": "ok"})

    @endpoint("readyz", m)
    async def readyz(request: Request) -> Response:
        """GET /readyz — 200 when the database answers and the fleet was read at start, else 503
        with the reason."""
        try:
            await service.read(service.storage.ping)
        except StorageUnavailableError as exc:
            return unavailable(str(exc))  # first: a lost database outranks the start-up read
        if not service.fleet_warm:
            return warming_up()
        return JSONResponse({"status": "ready", "database": service.storage.backend})

    @endpoint("openapi", m)
    async def openapi(request: Request) -> Response:
        """GET /openapi.json — the OpenAPI 3 description of this API."""
        return JSONResponse(document)

    @endpoint("index", m)
    async def root(request: Request) -> Response:
        return await index(request)

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/", root, methods=["GET"]),
    ]
