"""The bare-ASGI ceiling: a raw ASGI callable on the exporter's uvicorn stack (uvloop + httptools).

What the stack itself costs per heartbeat, without any framework: it reads the body, parses it
with ``json.loads`` and answers 200 with the same small JSON reply the exporter sends (and its
``Accept-Encoding`` header), validating and storing nothing. ``GET /`` answers for readiness.
``python -m bench.asgi_ceiling PORT``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bench.ceiling import serve

Message = MutableMapping[str, Any]
PREFIX = "/api/consolas/"
SUFFIX = "/heartbeat"
JSON_HEADERS = [(b"content-type", b"application/json"), (b"accept-encoding", b"gzip")]


async def _answer(send: Callable[[Message], Awaitable[None]], status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Parse a heartbeat body and answer like the exporter does; anything else is 404."""
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if scope["method"] == "GET" and path == "/":
        await _answer(send, 200, b'{"ceiling":"asgi"}')
        return
    if scope["method"] != "POST" or not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        await _answer(send, 404, b'{"error":"not_found"}')
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = json.loads(b"".join(chunks))
    console_id = path[len(PREFIX) : -len(SUFFIX)]
    reply = {"ok": True, "id": console_id, "estado": body.get("estado")}
    await _answer(send, 200, json.dumps(reply, separators=(",", ":")).encode())


def main(argv: list[str]) -> int:
    """Serve on 127.0.0.1:PORT with the exporter's uvicorn settings (as bench/ceiling.py)."""
    serve(app, int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
