"""A tiny connection pool shared by both backends (no extra dependency)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

C = TypeVar("C")


class ConnectionPool(Generic[C]):
    """Hands out connections made by ``connect``; broken ones are closed instead of returned."""

    def __init__(
        self, connect: Callable[[], C], close: Callable[[C], None], max_idle: int = 8
    ) -> None:
        self._connect = connect
        self._close = close
        self._idle: queue.LifoQueue[C] = queue.LifoQueue(maxsize=max_idle)
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[C]:
        """Borrow a connection; an exception inside discards it."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            self._discard(conn)
            raise
        with self._lock:
            if self._closed:
                self._discard(conn)
                return
            try:
                self._idle.put_nowait(conn)
            except queue.Full:
                self._discard(conn)

    def clear(self) -> None:
        """Close every idle connection (after a failure, they are likely broken too)."""
        while True:
            try:
                self._discard(self._idle.get_nowait())
            except queue.Empty:
                return

    def close(self) -> None:
        """Close every idle connection; borrowed ones are closed on return."""
        with self._lock:
            self._closed = True
        self.clear()

    def _discard(self, conn: C) -> None:
        with suppress(Exception):
            self._close(conn)
