"""A response whose body is sent as several pieces, with its full length announced.

The fleet ``/metrics`` is over 100 MiB at 100,000 consoles, kept as one text per family: sending
the pieces in turn saves joining (copying) them into one body at every scrape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class PiecesResponse(Response):
    """``Response`` with ``pieces`` as its body, in order (``Content-Length`` is their sum)."""

    def __init__(
        self, pieces: Sequence[bytes], headers: Mapping[str, str], status_code: int = 200
    ) -> None:
        self.pieces = pieces
        length = str(sum(len(piece) for piece in pieces))
        super().__init__(None, status_code, {**headers, "Content-Length": length})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.pieces) - 1
        for index, piece in enumerate(self.pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": index < last})
        if not self.pieces:
            await send({"type": "http.response.body", "body": b""})
