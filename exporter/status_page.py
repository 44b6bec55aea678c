"""``/``: a tiny placeholder page linking the fleet metrics and the API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

PAGE = """<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>consola-heartbeat exporter</title></head>
<body><h1>consola-heartbeat exporter</h1>
<ul><li><a href="/metrics">/metrics</a> (fleet metrics)</li>
<li><a href="/api/consolas">/api/consolas</a> (consoles)</li>
<li><a href="/openapi.json">/openapi.json</a> (API description)</li></ul>
</body></html>
"""


async def index(request: Request) -> Response:
    """The placeholder status page."""
    return HTMLResponse(PAGE)
