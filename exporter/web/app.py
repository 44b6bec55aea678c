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
from exporter.web.monitoring_routes import ops_routes

log = logging.getLogger(__name__)

ERROR_NAMES = {404: "not_found", 405: "method_not_allowed"}


def create_app(service: ExporterService) -> Starlette:
    """An ASGI app serving ``service``; the lifespan starts it and stops it (committing)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        auth.log_mode()
        service.start()
        log.info(
            "exporter ready: database=%s inactive_after=%gs", service.storage.backend,
            service.config.inactive_after,
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

    auth = Authenticator(service.config.enrollment_token, service.config.read_token)
    app = Starlette(
        routes=[*api_routes(service), *ops_routes(service)],
        middleware=[Middleware(ReadTokenMiddleware, auth=auth, count=service.metrics.request)],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.service = service
    return app
