"""``/``: the fleet's status page (the seed's "Dashboard web").

One self-contained HTML document (inline CSS and JavaScript, no build step, no external assets;
its three parts are package data in ``static/``) that reads the JSON API with ``fetch()`` and
redraws the table in place every few seconds
(``/?refresh=SECONDS``, default 5). Silent consoles come first and are marked; each console links
to a small history view (``/#consola/<id>``, from ``/api/consolas/{id}/historial``). All text
from the API is inserted with ``textContent``, never as HTML, and a Content-Security-Policy that
allows only this page's own script and style (by hash) and same-origin requests backs that up.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

STATIC = files("exporter.web") / "static"
STYLE = (STATIC / "status.css").read_text(encoding="utf-8")
SCRIPT = (STATIC / "status.js").read_text(encoding="utf-8")
#: The page: ``{style}`` and ``{script}`` in ``status.html`` take the two files' text.
PAGE = (
    (STATIC / "status.html")
    .read_text(encoding="utf-8")
    .replace("{style}", STYLE)
    .replace("{script}", SCRIPT)
)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: Only this page's own inline style and script run; requests go to this origin only.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def index(request: Request) -> Response:
    """The status page (static; the data comes from the API)."""
    return HTMLResponse(PAGE, headers=HEADERS)
