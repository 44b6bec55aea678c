"""Slow and numerous clients: a deadline for each request's headers and body, and a cap on the
connections served at once, in uvicorn's httptools protocol.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but nothing else: a client
that connects and sends nothing, or sends headers and never finishes its body, holds its file
descriptor for ever, and enough of them exhaust the open-file limit. Here every request must
arrive whole within ``--request-read-timeout`` of its first byte (of the connection, for the
first one), and a connection beyond ``--max-connections`` gets a 503 at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from exporter.failure_log import FailureLog
from exporter.process_metrics import ProcessMetrics
from exporter.web.combined_writes import CombinedWrites

log = logging.getLogger(__name__)

#: Seconds a refused connection is kept to read the request it sent, so closing it sends a FIN
#: (the 503 arrives) rather than a reset.
REFUSAL_LINGER_SECONDS = 1.0
#: Most refused connections lingering at once; beyond it they are closed without waiting.
MAX_LINGERING = 64
#: What a refused client is told to wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 1


def _raw_response(
    status: int, body: dict[str, str], default_headers: list[tuple[bytes, bytes]], extra: bytes
) -> bytes:
    """A whole HTTP/1.1 response with a JSON body and ``Connection: close``."""
    content = json.dumps(body).encode()
    head = [STATUS_LINE[status]]
    for name, value in default_headers:
        head.extend([name, b": ", value, b"\r\n"])
    head.append(
        b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n%s\r\n"
        % (len(content), extra)
    )
    return b"".join(head) + content


class ConnectionGuard:
    """The limits every connection of one server shares, their counters and their logs (one
    line when a run of refusals or timeouts starts, then one summary a minute at most)."""

    def __init__(self, max_connections: int, read_timeout: float, metrics: ProcessMetrics):
        self.max_connections = max_connections
        self.read_timeout = read_timeout
        self.metrics = metrics
        metrics.max_connections = max_connections
        self.lingering = 0
        self._refusals = FailureLog(
            log, f"connections answered 503: --max-connections {max_connections} are open"
        )
        self._timeouts = FailureLog(
            log,
            f"connections closed: a request did not arrive whole within "
            f"--request-read-timeout {read_timeout:g} s",
        )

    def refused(self) -> None:
        """Count (and maybe log) one connection refused at the cap."""
        self.metrics.connections_refused += 1
        self._refusals.failed(f"{self.metrics.connections_refused} refused so far")

    def timed_out(self) -> None:
        """Count (and maybe log) one connection cut off at the read deadline."""
        self.metrics.request_read_timeouts += 1
        self._timeouts.failed(f"{self.metrics.request_read_timeouts} so far")

    def refusal(self, default_headers: list[tuple[bytes, bytes]]) -> bytes:
        """The 503 a connection beyond the cap gets."""
        body = {
            "error": "too_many_connections",
            "message": f"the exporter is serving its maximum of {self.max_connections} "
            "connections (--max-connections); try again shortly",
        }
        retry = b"retry-after: %d\r\n" % RETRY_AFTER_SECONDS
        return _raw_response(503, body, default_headers, retry)

    def timeout(self, default_headers: list[tuple[bytes, bytes]]) -> bytes:
        """The 408 a request that did not arrive in time gets."""
        body = {
            "error": "request_timeout",
            "message": f"the request's headers and body did not arrive within "
            f"{self.read_timeout:g} s (--request-read-timeout)",
        }
        return _raw_response(408, body, default_headers, b"")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline per request and a connection cap.

    The deadline is armed when the connection is made and, on keep-alive, when the next request
    begins; it is cancelled when the request's body is complete, so it also bounds a body the
    application is reading. When it fires, a request under way gets a 408 (if no response has
    started) and the connection is closed; a connection that sent nothing is just closed.
    """

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading = False  # a request has begun and its body is not complete
        self._reading_cycle: RequestResponseCycle | None = None
        self._refused = False
        self._lingering = False

    # -- the cap ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.guard.max_connections:
            self._refuse(transport)
            return
        super().connection_made(transport)
        self.guard.metrics.connections_open = len(self.connections)
        self._arm()

    def _refuse(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._refused = True
        self.guard.refused()
        transport.write(self.guard.refusal(self.server_state.default_headers))
        if self.guard.lingering >= MAX_LINGERING:
            transport.close()
            return
        self.guard.lingering += 1
        self._lingering = True
        self._deadline = self.loop.call_later(REFUSAL_LINGER_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # what it sent is read: closing now sends a FIN, and the 503 arrives
            self.transport.close()
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._refused:
            if self._lingering:
                self.guard.lingering -= 1
                self._lingering = False
            return
        super().connection_lost(exc)
        self.guard.metrics.connections_open = len(self.connections)

    # -- the read deadline -----------------------------------------------------------------

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.guard.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = True
        self._reading_cycle = None
        self._arm()

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a new request (an upgrade makes none)
            self.cycle.transport = CombinedWrites(self.transport, self.loop)
        self._reading_cycle = self.cycle

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._reading_cycle = None
        self._disarm()

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        self.guard.timed_out()
        cycle = self._reading_cycle
        if self._reading and (cycle is None or not cycle.response_started):
            if cycle is not None:  # the application's receive() gets http.disconnect
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.write(self.guard.timeout(self.server_state.default_headers))
        self.transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for one server (uvicorn's ``http=``), bound to ``guard``."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": guard})
