"""Group commit in a thread of the exporter: one thread applies queued writes in shared
transactions, then wakes the callers.

A request puts its operation on the queue and awaits a future. The writer thread takes everything
queued (up to ``max_batch``), applies it in one transaction, commits, and only then resolves the
futures — one ``call_soon_threadsafe`` per event loop and batch. So a 2xx always means committed,
and under load many requests share one commit. Used with a storage given to the service (tests)
and with ``--writer thread``; the writer process is the default (``process_writer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass

import anyio.to_thread

from exporter.storage.records import WriteOp, WriteResult
from exporter.writing.base import Writer, expire, settle
from exporter.writing.batch import Outcome, apply_batch


@dataclass(slots=True)
class _Pending:
    op: WriteOp
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[WriteResult]


def _settle_all(items: list[tuple[asyncio.Future[WriteResult], Outcome]]) -> None:
    for future, outcome in items:
        settle(future, outcome)


class GroupCommitWriter(Writer):
    """The writer thread: the only write path to the storage."""

    def describe(self) -> str:
        """``thread``."""
        return "thread"

    def start(self) -> None:
        """Start the writer thread."""
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="exporter-writer", daemon=True)
        self._thread.start()

    async def stop(self, timeout: float = 30.0) -> None:
        """Commit everything already queued, then stop the thread."""
        await anyio.to_thread.run_sync(self.stop_blocking, timeout)

    def stop_blocking(self, timeout: float = 30.0) -> None:
        """:meth:`stop` for a caller outside the event loop."""
        if self._closed:
            return
        self._closed = True
        if hasattr(self, "_thread"):
            self._queue.put(None)
            self._thread.join(timeout)

    async def _queued(self, op: WriteOp, timeout: float) -> WriteResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WriteResult] = loop.create_future()
        self._queue.put(_Pending(op, loop, future))
        # A timer rather than asyncio.wait_for: no extra task per request on the hot path.
        timer = loop.call_later(timeout, expire, future, timeout)
        try:
            return await future
        finally:
            timer.cancel()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._process(batch)

    def _process(self, batch: list[_Pending]) -> None:
        applied = apply_batch(self._storage, [self._current(p.op) for p in batch])
        self._applied(applied)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[WriteResult], Outcome]]]
        by_loop = {}
        for pending, outcome in zip(batch, applied.outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.future, outcome))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle_all, items)
