"""What both writers share: how a caller submits a write, and how a sweep is narrowed first."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

import anyio
import anyio.to_thread

from exporter.config import DEFAULT_MAX_BATCH
from exporter.failure_log import FailureLog
from exporter.storage.base import Storage
from exporter.storage.records import (
    StorageUnavailableError,
    SweepOp,
    SweepResult,
    WriteOp,
    WriteResult,
)
from exporter.writing.batch import BatchOutcome, Outcome

log = logging.getLogger("exporter.writing")

#: Told after every batch whether the database took it (and, when not, why).
HealthCallback = Callable[[bool, str], None]


def settle(future: asyncio.Future[WriteResult], outcome: Outcome) -> None:
    """Resolve ``future`` with ``outcome`` unless its caller timed out or went away."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def expire(future: asyncio.Future[WriteResult], timeout: float) -> None:
    """Fail ``future`` with the 503 of a write not committed within ``timeout``."""
    if not future.done():
        future.set_exception(
            StorageUnavailableError(f"the database did not commit within {timeout:g}s")
        )


class Writer(ABC):
    """Owns the only write path to the storage: ``start()``, ``submit()``s, ``stop()``."""

    def __init__(
        self,
        storage: Storage,
        max_batch: int = DEFAULT_MAX_BATCH,
        on_health: HealthCallback | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        #: For the reads a sweep does first; the writes go where the subclass sends them.
        self._storage = storage
        self._max_batch = max_batch
        self._on_health = on_health or (lambda ok, reason: None)
        #: The service's wall clock: a sweep is judged at no later a time than it shows when the
        #: sweep is written (the clock may have stepped back since the sweep read it).
        self._clock = clock
        self._failures = FailureLog(log, "write batches refused by the database")
        self._closed = False
        #: Batches applied (tests wait on it).
        self.batches = 0

    @abstractmethod
    def describe(self) -> str:
        """Where the batches are applied, for the start-up log line."""

    @abstractmethod
    def start(self) -> None:
        """Start writing (inside the event loop)."""

    @abstractmethod
    async def stop(self, timeout: float = 30.0) -> None:
        """Commit everything already queued, then stop."""

    @abstractmethod
    async def _queued(self, op: WriteOp, timeout: float) -> WriteResult:
        """Queue ``op`` and wait for its commit."""

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
        return await self._queued(op, timeout)

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

    def _applied(self, batch: BatchOutcome) -> None:
        """Count a batch and report the database's health from it (one log line per run of
        refused batches)."""
        self.batches += 1
        if batch.unavailable is None:
            self._on_health(True, "")
            self._failures.recovered()
        else:
            self._failures.failed(f"a batch of {len(batch.outcomes)}: {batch.unavailable}")
            self._on_health(False, batch.unavailable)
