"""HTTP errors as JSON, and the wrapper that turns every failure of a handler into one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consola_wire import WireError
from exporter.process_metrics import ProcessMetrics
from exporter.storage import StorageUnavailableError
from exporter.web.body_drain import drain_body

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """A request the API refuses: ``status`` and a JSON body naming the problem."""

    def __init__(self, status: int, error: str, field: str | None, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": error, "message": message, **extra}
        if field is not None:
            self.body["field"] = field

    def response(self) -> JSONResponse:
        """The JSON response for this error."""
        return JSONResponse(self.body, status_code=self.status)


def wire_error(exc: WireError, status: int = 400) -> JSONResponse:
    """The response for a payload that breaks the wire contract."""
    return JSONResponse(exc.to_json(), status_code=status)


def unavailable(reason: str) -> JSONResponse:
    """503: the database could not be reached or did not commit in time."""
    return JSONResponse({"error": "database_unavailable", "message": reason}, status_code=503)


def warming_up() -> JSONResponse:
    """503 from /readyz while the fleet is first read at start (the API already answers)."""
    body = {"error": "warming_up", "message": "reading the fleet for /metrics after the start"}
    return JSONResponse(body, status_code=503)


class ClientGoneError(Exception):
    """The client went away, or was cut off for sending its body too slowly
    (``--request-read-timeout``: it got the 408), before its body arrived: nobody reads an
    answer, and the request is no error of the client's to count."""


def endpoint(route: str, metrics: ProcessMetrics) -> Callable[[Handler], Handler]:
    """Wrap a handler: map known failures to 4xx/503, anything else to a logged 500; count it."""

    def decorate(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            response: Response
            try:
                response = await handler(request)
            except ClientGoneError:
                metrics.request(route, None)
                return Response(status_code=400)  # for uvicorn only: the connection is gone
            except ApiError as exc:
                response = exc.response()
            except WireError as exc:
                response = wire_error(exc)
            except StorageUnavailableError as exc:
                response = unavailable(str(exc))
            except Exception:
                log.exception("unhandled error in %s", route)
                response = JSONResponse(
                    {"error": "internal", "message": "internal server error"}, status_code=500
                )
            if response.status_code >= 400:
                await drain_body(request)  # so the answer arrives instead of a reset
            metrics.request(route, response.status_code)
            return response

        wrapped.__name__ = handler.__name__
        wrapped.__doc__ = handler.__doc__
        return wrapped

    return decorate
