"""A small response's head and body leave the server in one write.

uvicorn writes a response's status line and headers as soon as the application starts it, and
the body on the next message: two ``send`` calls and two TCP segments for a heartbeat's 60-byte
answer, each one a system call here and a wake-up in the client. The request's cycle is given
this view of the connection instead of the transport itself: a write is held until the next one
or the end of the event loop's turn, whichever comes first. A head and a body sent in one turn
(every answer the app builds whole) go out as one write; a head whose body comes later (a
stream) still leaves at the end of the turn it was written in. The bytes and their order are
uvicorn's own.
"""

from __future__ import annotations

import asyncio

#: Up to this many bytes, a held write and the next are joined into one; beyond, they are
#: written one after the other (copying a large body costs more than the call saved).
JOIN_LIMIT_BYTES = 64 * 1024


Data = bytes | bytearray | memoryview


class CombinedWrites(asyncio.Transport):
    """What a request's cycle writes to: the connection's transport, writes of one turn joined.

    Only what uvicorn's cycle calls is forwarded (``write``, ``close``, ``is_closing``, and
    ``get_extra_info``); anything else raises, as :class:`asyncio.Transport` does."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: Data | None = None

    def write(self, data: Data) -> None:
        """Hold ``data`` until the next write or the end of this turn of the loop."""
        held = self._held
        if held is None:
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._held = None
        if len(held) + len(data) <= JOIN_LIMIT_BYTES:
            self._transport.write(b"".join((held, data)))
        else:
            self._transport.write(held)
            self._transport.write(data)

    def flush(self) -> None:
        """Write what is held (nothing once the connection is closing)."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        """Write what is held, then close the connection."""
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        """Whether the connection is closing or closed."""
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: object = None) -> object:
        """The connection's own (peer address, socket, ...)."""
        return self._transport.get_extra_info(name, default)
