"""Slow and numerous clients against a real exporter: raw sockets that send a request's headers
and never finish its body, and normal registrations that retry like the library does.

Everything is bounded in count and time and stays on loopback.
"""

from __future__ import annotations

import resource
import selectors
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests

from tests.support.tools import in_ci

#: What a slow client sends: a registration's headers announcing a body it never finishes.
SLOW_REQUEST = (
    b"POST /api/consolas/registrar HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 4096\r\n"
    b"\r\n"
    b'{"id": "slow'
)

#: The namespace of the normal consoles' ids (uuid5 of their index).
NAMESPACE = uuid.UUID("6f0d5e2a-8c1b-4d3e-9a7f-5b2c1d0e9f8a")
#: Longest wait for one registration's answer.
REQUEST_TIMEOUT_SECONDS = 3.0


def raise_own_file_limit(needed: int) -> None:
    """Raise this process's soft ``RLIMIT_NOFILE`` to ``needed`` (within the hard limit); fail
    under CI and skip elsewhere when the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        message = f"the test needs {needed} open files; the hard limit is {hard} (ulimit -Hn)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@dataclass
class SlowConnection:
    """One slow client: when it connected, and when and how the server ended it."""

    sock: socket.socket | None
    opened: float
    closed: float | None = None
    #: The status code of the server's answer, if it sent one before closing.
    status: int | None = None
    received: bytes = field(default=b"", repr=False)

    @property
    def lifetime(self) -> float | None:
        """Seconds from connect to the server's close (None while open)."""
        return None if self.closed is None else self.closed - self.opened


def _open_slow(port: int) -> SlowConnection:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5.0)
    opened = time.monotonic()
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(SLOW_REQUEST)
    except OSError:  # refused or reset at once: ended by the server before it began
        sock.close()
        return SlowConnection(None, opened, closed=time.monotonic())
    sock.setblocking(False)
    return SlowConnection(sock, opened)


def _read(conn: SlowConnection, now: float) -> bool:
    """Read what the server sent; True once it closed the connection."""
    assert conn.sock is not None
    try:
        data = conn.sock.recv(65536)
    except BlockingIOError:
        return False
    except OSError:  # reset
        data = b""
    if data:
        conn.received += data
        if (
            conn.status is None
            and conn.received.startswith(b"HTTP/1.1 ")
            and len(conn.received) >= 12
        ):
            conn.status = int(conn.received[9:12])
        return False
    conn.closed = now
    conn.sock.close()
    conn.sock = None
    return True


class SlowClients:
    """``count`` slow connections to ``port``; :meth:`watch` waits until the server ends them."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.connections = [_open_slow(port) for _ in range(count)]

    def open(self) -> list[SlowConnection]:
        """The connections the server has not closed yet."""
        return [c for c in self.connections if c.closed is None]

    def watch(self, timeout: float) -> None:
        """Record each close (and the answer before it) until all are closed or ``timeout``."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for conn in self.open():
                assert conn.sock is not None
                selector.register(conn.sock, selectors.EVENT_READ, conn)
            waiting = len(self.open())
            while waiting and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.2):
                    conn = key.data
                    sock = conn.sock
                    if _read(conn, time.monotonic()):
                        selector.unregister(sock)
                        waiting -= 1

    def watch_in_background(self, timeout: float) -> threading.Thread:
        """:meth:`watch` on a thread of its own (join it), so closes are seen as they happen."""
        thread = threading.Thread(target=self.watch, args=(timeout,), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Close what the server left open (the test's own cleanup)."""
        for conn in self.open():
            assert conn.sock is not None
            conn.sock.close()
            conn.sock = None


@contextmanager
def slow_clients(port: int, count: int) -> Iterator[SlowClients]:
    """:class:`SlowClients` for the block, their leftovers closed after it."""
    clients = SlowClients(port, count)
    try:
        yield clients
    finally:
        clients.close()


@dataclass
class Registrations:
    """What a batch of normal registrations met: successes, and the answers retried."""

    succeeded: int = 0
    failed: int = 0
    retried_503: int = 0
    retried_errors: int = 0
    attempts: list[int] = field(default_factory=list)


def _register(
    url: str, console_id: str, attempts: int, pause: float, give_up_at: float
) -> tuple[bool, int, int, int]:
    body = {
        "id": console_id,
        "nombre": f"Consola {console_id}",
        "estado": "activa",
        "sistema": {"hostname": console_id, "platform": "linux", "arch": "x64"},
        "ultimaActividad": "2026-01-01T00:00:00.000Z",
    }
    unavailable = errors = 0
    for attempt in range(1, attempts + 1):
        if time.monotonic() > give_up_at:
            return False, attempt - 1, unavailable, errors
        try:  # a new connection each time, as a console that just started would open
            response = requests.post(
                f"{url}/api/consolas/registrar", json=body, timeout=REQUEST_TIMEOUT_SECONDS
            )
        except requests.RequestException:
            errors += 1
        else:
            if response.status_code == 503:
                unavailable += 1
            elif response.ok:
                return True, attempt, unavailable, errors
            else:  # a refusal other than "busy" is a failure of the test's own making
                response.raise_for_status()
        time.sleep(pause)
    return False, attempts, unavailable, errors


def register_many(
    url: str,
    count: int,
    *,
    attempts: int = 10,
    pause: float = 0.5,
    threads: int = 8,
    budget: float = 60.0,
) -> Registrations:
    """``count`` registrations of distinct consoles from ``threads`` threads, each retrying a 503
    or a connection error up to ``attempts`` times with ``pause`` seconds between tries; none
    starts an attempt after ``budget`` seconds."""
    result = Registrations()
    give_up_at = time.monotonic() + budget
    with ThreadPoolExecutor(threads) as pool:
        outcomes = pool.map(
            lambda i: _register(
                url, str(uuid.uuid5(NAMESPACE, str(i))), attempts, pause, give_up_at
            ),
            range(count),
        )
        for ok, tries, unavailable, errors in outcomes:
            result.succeeded += ok
            result.failed += not ok
            result.retried_503 += unavailable
            result.retried_errors += errors
            result.attempts.append(tries)
    return result
