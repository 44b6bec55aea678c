"""The exporter's core: storage, group-commit writer, silence sweeper and per-process counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

from consola_wire import Heartbeat, Registration
from exporter.clock import Clock, system_clock
from exporter.config import ExporterConfig
from exporter.process_metrics import ProcessMetrics
from exporter.storage import Storage, StorageUnavailableError, open_storage
from exporter.storage.records import (
    DeleteOp,
    FoundResult,
    HeartbeatOp,
    PruneOp,
    RegisterOp,
    RegisterResult,
    SweepOp,
    SweepResult,
)
from exporter.writer import GroupCommitWriter

log = logging.getLogger(__name__)
T = TypeVar("T")


class ExporterService:
    """One running exporter: ``start()`` before serving, ``stop()`` after (commits the queue)."""

    def __init__(
        self,
        config: ExporterConfig,
        clock: Clock = system_clock,
        storage: Storage | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.storage = storage or open_storage(config.database, config.sqlite_synchronous)
        self.metrics = ProcessMetrics()
        self.writer = GroupCommitWriter(
            self.storage, max_batch=config.max_batch, on_health=self._database_health
        )
        self.started_at = clock()
        self._sweeper: asyncio.Task[None] | None = None
        #: Completed sweeps (tests wait on it instead of sleeping).
        self.sweeps = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread and the sweeper task (call inside the event loop)."""
        self.started_at = self.clock()
        self.writer.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        """Stop sweeping, commit every queued write, close the database."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await anyio.to_thread.run_sync(self.writer.stop)
        self.storage.close()

    # -- writes ------------------------------------------------------------------------------

    async def register(
        self, registration: Registration, secret_hash: str | None = None
    ) -> RegisterResult:
        """Store a registration (and a newly issued secret's hash); returns once committed."""
        now = self.clock()
        op = RegisterOp(registration, now, self.config.inactive_after, secret_hash)
        result = await self.writer.submit(op, self.config.request_timeout)
        assert isinstance(result, RegisterResult)
        self.metrics.ingested(registration=True, now=now)
        return result

    async def heartbeat(self, console_id: str, heartbeat: Heartbeat) -> bool:
        """Store a heartbeat; False when the console is unknown (nothing stored)."""
        now = self.clock()
        op = HeartbeatOp(console_id, heartbeat, now, self.config.inactive_after)
        result = await self.writer.submit(op, self.config.request_timeout)
        assert isinstance(result, FoundResult)
        if result.found:
            self.metrics.ingested(registration=False, now=now)
        return result.found

    async def delete(self, console_id: str) -> bool:
        """Retire a console and its history; False when it was unknown."""
        result = await self.writer.submit(DeleteOp(console_id), self.config.request_timeout)
        assert isinstance(result, FoundResult)
        return result.found

    def _database_health(self, up: bool, reason: str = "") -> None:
        """Record database health. When the database comes back after an outage, every console
        gets a new grace period, as after an exporter restart: its beats failed meanwhile."""
        if up and not self.metrics.database_up:
            self.started_at = self.clock()
            log.info("database reachable again: silent consoles get a new grace period")
        self.metrics.database(up, reason)

    async def sweep(self) -> tuple[str, ...]:
        """Mark silent consoles ``inactiva`` now and prune old history; the ids marked."""
        if not self.metrics.database_up:
            await self.read(self.storage.ping)  # back? then the grace restarts before sweeping
        now = self.clock()
        timeout = self.config.request_timeout
        try:
            result = await self.writer.submit(SweepOp(now, self.started_at), timeout)
        except StorageUnavailableError as exc:
            self._database_health(False, str(exc))
            raise
        assert isinstance(result, SweepResult)
        await self.writer.submit(PruneOp(now - self.config.history_retention), timeout)
        self.sweeps += 1
        if result.marked:
            self.metrics.swept(len(result.marked))
            log.info("marked %d silent console(s) inactiva", len(result.marked))
        return result.marked

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.sweep()
            except StorageUnavailableError as exc:
                log.warning("sweep skipped: %s", exc)
            except Exception:
                log.exception("sweep failed")

    # -- reads -------------------------------------------------------------------------------

    async def read(self, func: Callable[[], T]) -> T:
        """Run a blocking storage read in a worker thread, tracking database health.

        Bounded by ``--request-timeout``: a database that stops answering (frozen, partitioned)
        gives StorageUnavailableError in time; the abandoned thread finishes when it can.
        """
        timeout = self.config.request_timeout
        try:
            with anyio.fail_after(timeout):
                result = await anyio.to_thread.run_sync(func, abandon_on_cancel=True)
        except TimeoutError:
            reason = f"the database did not answer within {timeout:g}s"
            self._database_health(False, reason)
            raise StorageUnavailableError(reason) from None
        except StorageUnavailableError as exc:
            self._database_health(False, str(exc))
            raise
        self._database_health(True)
        return result
