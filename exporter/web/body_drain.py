"""Reading the rest of a refused request's body, so the refusal reaches the client.

A handler may answer before it has read the body (a 413 decided from ``Content-Length``, a
refused credential). If the server then closes the connection with the body still unread, the
kernel answers the client's remaining bytes with a TCP reset, and a blocking client that sends
its whole body before reading (urllib, most scripts) sees "connection reset" instead of the
JSON error. Reading and discarding the rest, within a size and a time bound, avoids that.
"""

from __future__ import annotations

import anyio
from starlette.requests import ClientDisconnect, Request

#: Most bytes read and thrown away to deliver one refusal (beyond it the connection is closed).
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
#: Longest wait for the rest of a refused body.
DRAIN_TIMEOUT_SECONDS = 10.0


async def drain_body(
    request: Request,
    limit: int = DRAIN_LIMIT_BYTES,
    timeout: float = DRAIN_TIMEOUT_SECONDS,
) -> None:
    """Read and discard what remains of ``request``'s body, up to ``limit`` bytes and
    ``timeout`` seconds; a no-op when the body was read or the request has none."""
    headers = request.headers
    if "content-length" not in headers and "transfer-encoding" not in headers:
        return
    drained = 0
    with anyio.move_on_after(timeout):
        try:
            async for chunk in request.stream():
                drained += len(chunk)
                if drained > limit:
                    return
        except (ClientDisconnect, RuntimeError):  # gone, or already read in full
            return
