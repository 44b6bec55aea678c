"""A response's head and body leave in one write (``exporter.web.combined_writes``), and the
bytes on the wire are exactly uvicorn's own: the same small app served by uvicorn's plain
httptools protocol and by the exporter's, over loopback, answers byte for byte alike."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from exporter.process_metrics import ProcessMetrics
from exporter.web.combined_writes import JOIN_LIMIT_BYTES, CombinedWrites
from exporter.web.connection_limits import ConnectionGuard, guarded_protocol
from tests.support.tools import free_port

BIG = b"x" * (JOIN_LIMIT_BYTES + 1)


def small_app() -> Starlette:
    """Answers of every shape uvicorn writes: whole, empty, large, streamed, echoed."""
    released = asyncio.Event()

    async def small(request: Request) -> Response:
        return JSONResponse({"ok": True, "id": "abc"})

    async def empty(request: Request) -> Response:
        return Response(status_code=204)

    async def big(request: Request) -> Response:
        return Response(BIG, media_type="application/octet-stream")

    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"one"
            await asyncio.sleep(0.01)
            yield b"two"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    async def wait(request: Request) -> Response:
        async def after_release() -> AsyncIterator[bytes]:
            await released.wait()
            yield b"released"

        return StreamingResponse(after_release(), media_type="text/plain")

    async def go(request: Request) -> Response:
        released.set()
        return Response(b"go")

    return Starlette(
        routes=[
            Route("/small", small, methods=["GET", "HEAD"]),
            Route("/empty", empty),
            Route("/big", big),
            Route("/stream", stream),
            Route("/echo", echo, methods=["POST"]),
            Route("/wait", wait),
            Route("/go", go),
        ]
    )


@contextlib.contextmanager
def serve(http: Any) -> Iterator[int]:
    """``small_app`` served by uvicorn with protocol ``http`` on a thread; its port."""
    port = free_port()
    config = uvicorn.Config(
        small_app(), host="127.0.0.1", port=port, loop="uvloop", http=http, lifespan="off",
        log_level="warning", server_header=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def exporter_protocol() -> Any:
    return guarded_protocol(ConnectionGuard(100, 30.0, ProcessMetrics()))


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` (ending with a ``Connection: close`` request) and read until the server
    closes; the bytes received without the ``date`` header."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return re.sub(rb"date: [^\r]*\r\n", b"", received)


def get(path: str, method: str = "GET", close: bool = False) -> bytes:
    extra = b"connection: close\r\n" if close else b""
    return b"%s %s HTTP/1.1\r\nhost: x\r\n%s\r\n" % (method.encode(), path.encode(), extra)


EXCHANGES = {
    "small": get("/small", close=True),
    "head": get("/small", "HEAD", close=True),
    "empty": get("/empty", close=True),
    "big": get("/big", close=True),
    "stream": get("/stream", close=True),
    "keep-alive, pipelined": (
        get("/small") + get("/stream") + get("/big") + get("/small", close=True)
    ),
    "100-continue": (
        b"POST /echo HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n"
        b"connection: close\r\n\r\nhello"
    ),
    "http/1.0": b"GET /small HTTP/1.0\r\nhost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", EXCHANGES)
def test_the_bytes_on_the_wire_are_uvicorns(name: str) -> None:
    with serve("httptools") as plain, serve(exporter_protocol()) as ours:
        expected = exchange(plain, EXCHANGES[name])
        assert expected.startswith(b"HTTP/1.")
        assert exchange(ours, EXCHANGES[name]) == expected


def test_a_streamed_head_leaves_before_its_body_is_made() -> None:
    with serve(exporter_protocol()) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        sock.sendall(get("/wait", close=True))
        head = sock.recv(65536)  # the body waits for /go: only the head can have come
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
        assert exchange(port, get("/go", close=True)).endswith(b"go")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        assert rest == b"8\r\nreleased\r\n0\r\n\r\n"


def in_loop(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run an async test in an event loop of its own."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())  # type: ignore[arg-type]

    return run


class Recorder(asyncio.Transport):
    """Stands in for a connection's transport: records each write it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@in_loop
async def test_head_and_body_of_one_turn_are_one_write() -> None:
    transport = Recorder()
    writes = CombinedWrites(transport, asyncio.get_running_loop())
    writes.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == []  # held until the body
    writes.write(memoryview(b"{}"))
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]  # nothing left to flush


@in_loop
async def test_a_held_write_leaves_at_the_end_of_the_turn() -> None:
    transport = Recorder()
    writes = CombinedWrites(transport, asyncio.get_running_loop())
    writes.write(b"head")
    await asyncio.sleep(0)
    assert transport.writes == [b"head"]
    writes.write(b"chunk")
    writes.close()  # what is held goes before the close
    assert transport.writes == [b"head", b"chunk"] and transport.closed


@in_loop
async def test_large_writes_are_not_copied_together() -> None:
    transport = Recorder()
    writes = CombinedWrites(transport, asyncio.get_running_loop())
    writes.write(b"head")
    writes.write(BIG)
    assert transport.writes == [b"head", BIG]


@in_loop
async def test_nothing_is_written_to_a_closed_connection() -> None:
    transport = Recorder()
    writes = CombinedWrites(transport, asyncio.get_running_loop())
    writes.write(b"head")
    transport.close()  # e.g. the read deadline closed it
    await asyncio.sleep(0)
    assert transport.writes == [] and writes.is_closing()
