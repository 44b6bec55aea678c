"""``POST /api/consolas/{id}/heartbeat`` sent straight to its handler, past Starlette's router.

The heartbeat is nearly all the traffic. Starlette's exception middleware, router, route matching
and ``request_response`` wrapper cost more per heartbeat than the handler's own work, so this
middleware recognises the one path and calls the very handler the router would (the function of
the heartbeat :class:`~starlette.routing.Route`, wrapped by :func:`exporter.web.errors.endpoint`):
the same authentication, body limits, decompression, validation, JSON errors and
commit-before-2xx. It sits inside Starlette's error middleware, so an unhandled failure still
gets the app's 500 JSON. Anything it does not recognise exactly (another method or path, an
empty id or one with a slash, a ``root_path``) goes to Starlette unchanged, which answers it as
before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from consola_wire.protocol import HEARTBEAT_PATH_TEMPLATE
from exporter.web.consoles_routes import API_PREFIX

Handler = Callable[[Request], Awaitable[Response]]

#: The route's path, as declared in :func:`exporter.web.consoles_routes.api_routes`.
ROUTE_PATH = API_PREFIX + HEARTBEAT_PATH_TEMPLATE
PREFIX, _, SUFFIX = ROUTE_PATH.partition("{console_id}")


def heartbeat_handler(routes: list[Any]) -> Handler:
    """The endpoint of the ``POST`` heartbeat route among ``routes`` (the router's own)."""
    for route in routes:
        if (
            isinstance(route, Route)
            and route.path == ROUTE_PATH
            and "POST" in (route.methods or ())
        ):
            handler: Handler = route.endpoint
            return handler
    raise LookupError(f"no POST {ROUTE_PATH} route")


class HeartbeatPath:
    """ASGI middleware: a heartbeat goes to ``handler``; everything else to ``app``."""

    def __init__(self, app: ASGIApp, handler: Handler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        console_id = self.console_id(scope)
        if console_id is None:
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {"console_id": console_id}
        scope["endpoint"] = self.handler
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)

    @staticmethod
    def console_id(scope: Scope) -> str | None:
        """The ``{console_id}`` when ``scope`` is exactly what the heartbeat route matches."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return None
        console_id = path[len(PREFIX) : len(path) - len(SUFFIX)]
        if not console_id or "/" in console_id:  # Starlette's {param} is [^/]+
            return None
        return console_id
