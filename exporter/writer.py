"""Group commit: one thread applies queued writes in shared transactions, then wakes the callers.

A request puts its operation on the queue and awaits a future. The writer thread takes everything
queued (up to ``max_batch``), applies it in one transaction, commits, and only then resolves the
futures — one ``call_soon_threadsafe`` per event loop and batch. So a 2xx always means committed,
and under load many requests share one commit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread

from exporter.failure_log import FailureLog
from exporter.storage.base import Storage
from exporter.storage.records import (
    StorageUnavailableError,
    SweepOp,
    SweepResult,
    WriteOp,
    WriteResult,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 2048

Outcome = WriteResult | BaseException


@dataclass(slots=True)
class _Pending:
    op: WriteOp
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[WriteResult] | concurrent.futures.Future[WriteResult]


def _settle(future: asyncio.Future[WriteResult], outcome: Outcome) -> None:
    if future.done():  # the caller timed out or went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _expire(future: asyncio.Future[WriteResult], timeout: float) -> None:
    if not future.done():
        future.set_exception(
            StorageUnavailableError(f"the database did not commit within {timeout:g}s")
        )


def _settle_all(items: list[tuple[asyncio.Future[WriteResult], Outcome]]) -> None:
    for future, outcome in items:
        _settle(future, outcome)


class GroupCommitWriter:
    """Owns the only write path to the storage."""

    def __init__(
        self,
        storage: Storage,
        max_batch: int = DEFAULT_MAX_BATCH,
        on_health: Callable[[bool, str], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._storage = storage
        #: The service's wall clock: a sweep is judged at no later a time than it shows when the
        #: sweep is written (the clock may have stepped back since the sweep read it).
        self._clock = clock
        self._max_batch = max_batch
        self._on_health = on_health or (lambda ok, reason: None)
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="exporter-writer", daemon=True)
        self._closed = False
        self._failures = FailureLog(log, "write batches refused by the database")
        self.batches = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit everything already queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    async def submit(self, op: WriteOp, timeout: float) -> WriteResult:
        """Queue ``op`` and wait for its commit; StorageUnavailableError on failure/timeout.

        A sweep first reads what it may change, in a worker thread: with nothing to change it
        never takes the writer, else it writes only those consoles."""
        if isinstance(op, SweepOp) and op.consoles is None and not self._closed:
            narrowed = await self._sweep_candidates(op, timeout)
            if narrowed is None:
                return SweepResult(marked=())
            op = narrowed
        if self._closed:
            raise StorageUnavailableError("the exporter is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WriteResult] = loop.create_future()
        self._queue.put(_Pending(op, loop, future))
        # A timer rather than asyncio.wait_for: no extra task per request on the hot path.
        timer = loop.call_later(timeout, _expire, future, timeout)
        try:
            return await future
        finally:
            timer.cancel()

    async def _sweep_candidates(self, op: SweepOp, timeout: float) -> SweepOp | None:
        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(
                    self._storage.sweep_candidates, op, abandon_on_cancel=True
                )
        except TimeoutError:
            raise StorageUnavailableError(
                f"the database did not answer within {timeout:g}s"
            ) from None

    def submit_sync(self, op: WriteOp, timeout: float) -> WriteResult:
        """Blocking variant of :meth:`submit` for threads without an event loop."""
        if self._closed:
            raise StorageUnavailableError("the exporter is shutting down")
        future: concurrent.futures.Future[WriteResult] = concurrent.futures.Future()
        self._queue.put(_Pending(op, None, future))
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise StorageUnavailableError(
                f"the database did not commit within {timeout:g}s"
            ) from None

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
        outcomes: list[Outcome]
        try:
            outcomes = list(self._storage.write_batch([self._current(p.op) for p in batch]))
            self._on_health(True, "")
            self._failures.recovered()
        except StorageUnavailableError as exc:
            self._failures.failed(f"a batch of {len(batch)}: {exc}")
            self._on_health(False, str(exc))
            outcomes = [exc] * len(batch)
        except Exception as exc:
            if len(batch) > 1:  # isolate the operation that broke the batch
                for pending in batch:
                    self._process([pending])
                return
            log.exception("write failed: %r", batch[0].op)
            outcomes = [exc]
        self.batches += 1
        self._resolve(batch, outcomes)

    def _current(self, op: WriteOp) -> WriteOp:
        """``op``, or a sweep judged at the clock's time now when that is earlier than its own.

        A sweep takes its time before it is queued (and, since it reads its candidates first,
        a thread hop before it is written); heartbeats that commit after a backward step of the
        wall clock meanwhile carry the earlier time, and judging them by the sweep's later one
        would mark consoles that have just reported."""
        if self._clock is None or not isinstance(op, SweepOp):
            return op
        now = self._clock()
        return dataclasses.replace(op, now=now) if now < op.now else op

    @staticmethod
    def _resolve(batch: list[_Pending], outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[WriteResult], Outcome]]]
        by_loop = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            future = pending.future
            if pending.loop is None:
                assert isinstance(future, concurrent.futures.Future)
                if not future.done():
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            else:
                assert isinstance(future, asyncio.Future)
                by_loop.setdefault(pending.loop, []).append((future, outcome))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle_all, items)
