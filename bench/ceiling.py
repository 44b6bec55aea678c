"""The ceiling: a bare Starlette app on the exporter's uvicorn stack (uvloop + httptools).

It parses the heartbeat body as JSON and answers 200 with the same small JSON reply, without
validating or storing anything. ``python -m bench.ceiling PORT``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def heartbeat(request: Request) -> Response:
    """Parse the body, answer like the exporter does."""
    body = json.loads(await request.body())
    console_id = request.path_params["console_id"]
    return JSONResponse({"ok": True, "id": console_id, "estado": body.get("estado")})


async def index(request: Request) -> Response:
    """Readiness."""
    return PlainTextResponse("ceiling\n")


app = Starlette(
    routes=[
        Route("/api/consolas/{console_id}/heartbeat", heartbeat, methods=["POST"]),
        Route("/", index, methods=["GET"]),
    ]
)


def serve(asgi_app: Any, port: int) -> None:
    """Serve ``asgi_app`` on 127.0.0.1:``port`` with the exporter's uvicorn settings."""
    uvicorn.run(
        asgi_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


def main(argv: list[str]) -> int:
    """Serve on 127.0.0.1:PORT."""
    serve(app, int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
