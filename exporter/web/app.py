"""The Starlette application: routes, JSON errors for unknown paths, and the service lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.service import ExporterService
from exporter.web.auth import Authenticator, ReadTokenMiddleware
from exporter.web.consoles_routes import api_routes
from exporter.web.heartbeat_path import HeartbeatPath, heartbeat_handler
from exporter.web.monitoring_routes import ops_routes
from exporter.web.prometheus_targets import prometheus_routes

log = logging.getLogger(__name__)

ERROR_NAMES = {404: "not_found", 405: "method_not_allowed"}
#: How long the start waits for the fleet read before serving; a larger fleet goes on reading
#: in the background while /readyz answers 503 ``warming_up``.
WARM_WAIT_SECONDS = 0.5


def create_app(service: ExporterService) -> Starlette:
    """An ASGI app serving ``service``; the lifespan starts it and stops it (committing)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        auth.log_mode()
        service.start()
        await service.wait_warm(WARM_WAIT_SECONDS)  # a small fleet is read before the port opens
        log.info(
            "exporter ready: database=%s writer=%s inactive_after=%gs", service.storage.backend,
            service.writer.describe(), service.config.inactive_after,
        )  # fmt: skip
        try:
            yield
        finally:
            await service.stop()
            log.info("exporter stopped: pending writes committed")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        service.metrics.request("other", exc.status_code)
        body = {"error": ERROR_NAMES.get(exc.status_code, "http_error"), "message": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"error": "internal", "message": "internal server error"}, 500)

    auth = Authenticator.from_config(service.config)
    routes = [*api_routes(service), *prometheus_routes(service), *ops_routes(service)]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ReadTokenMiddleware, auth=auth, count=service.metrics.request),
            Middleware(HeartbeatPath, handler=heartbeat_handler(routes)),  # past the router
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.service = service
    return app
