"""The exporter's core: storage, group-commit writer, silence sweeper and per-process counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

from consola_wire import Heartbeat, Registration
from exporter.clock import (
    TICK_SECONDS,
    Clock,
    ClockAnomaly,
    ClockWatch,
    Monotonic,
    system_clock,
    system_monotonic,
)
from exporter.config import ExporterConfig
from exporter.failure_log import FailureLog
from exporter.fleet.renderer import FleetRenderer
from exporter.process_metrics import ProcessMetrics
from exporter.storage import Storage, StorageUnavailableError, open_storage
from exporter.storage.records import (
    DeleteOp,
    FoundResult,
    HeartbeatOp,
    MaintenanceOp,
    PruneOp,
    RegisterOp,
    RegisterResult,
    ResetSecretOp,
    SweepOp,
    SweepResult,
)
from exporter.writing.base import Writer
from exporter.writing.process_writer import ProcessWriter
from exporter.writing.thread_writer import GroupCommitWriter

log = logging.getLogger(__name__)
T = TypeVar("T")


class ExporterService:
    """One running exporter: ``start()`` before serving, ``stop()`` after (commits the queue).

    ``monotonic`` lets :class:`ClockWatch` see wall-clock steps and stalls. It defaults to the
    system's monotonic clock with the system wall clock, and to none (no detection) with an
    injected ``clock``: a test clock that jumps forward would otherwise look like a step.
    """

    def __init__(
        self,
        config: ExporterConfig,
        clock: Clock = system_clock,
        storage: Storage | None = None,
        monotonic: Monotonic | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        if monotonic is None and clock is system_clock:
            monotonic = system_monotonic
        self.watch = ClockWatch(clock, monotonic, tick=min(config.sweep_interval, TICK_SECONDS))
        #: Until then (wall time), stored times may be ahead of the clock: it stepped back.
        self._stale_until: float | None = None
        self.storage = storage or open_storage(config.database, config.sqlite_synchronous)
        self.metrics = ProcessMetrics()
        self.writer: Writer
        if storage is None and config.writer == "process":
            self.writer = ProcessWriter(
                self.storage,
                config.database,
                config.sqlite_synchronous,
                max_batch=config.max_batch,
                on_health=self._database_health,
                clock=clock,
                on_process=self.metrics.writer_process,
            )
        else:
            self.writer = GroupCommitWriter(
                self.storage,
                max_batch=config.max_batch,
                on_health=self._database_health,
                clock=clock,
            )
        self.started_at = clock()
        self._sweeper: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        #: Completed sweeps (tests wait on it instead of sleeping).
        self.sweeps = 0
        self._sweep_failures = FailureLog(log, "sweeps skipped: the database is unavailable")
        #: The fleet /metrics, kept between scrapes; read once at start (:meth:`_warm_fleet`).
        self.fleet = FleetRenderer(
            config.video_info, clock=clock, request_timeout=config.request_timeout
        )
        self._warmer: asyncio.Task[None] | None = None

    @property
    def fleet_warm(self) -> bool:
        """Whether the start-up read of the fleet is over (done or failed): /readyz waits on it."""
        return self._warmer is None or self._warmer.done()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer (process or thread), the sweeper and clock-watch tasks (inside the
        event loop)."""
        self.started_at = self.clock()
        self.watch.reset()
        self.writer.start()
        loop = asyncio.get_running_loop()
        self._warmer = loop.create_task(self._warm_fleet())
        self._sweeper = loop.create_task(self._sweep_forever())
        if self.watch.enabled:
            self._watcher = loop.create_task(self._watch_forever())

    async def wait_warm(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the start-up read of the fleet (it goes on after)."""
        if self._warmer is not None:
            await asyncio.wait({self._warmer}, timeout=timeout)

    async def _warm_fleet(self) -> None:
        """Read and render the whole fleet once, so the first scrape reads only what changed."""
        started = time.monotonic()
        try:
            consoles = await anyio.to_thread.run_sync(self._warm_fleet_now)
        except Exception as exc:
            log.warning("fleet /metrics not read at start (%s): the first scrape reads it", exc)
            return
        log.info(
            "fleet /metrics ready: %d consoles read in %.2f s", consoles, time.monotonic() - started
        )

    def _warm_fleet_now(self) -> int:
        view = self.fleet.refresh(self.storage)
        self.fleet.render_view(view, self.metrics, accept_gzip=True)  # fills the gzip cache
        return sum(view.counts.values())

    async def stop(self) -> None:
        """Stop sweeping, commit every queued write, close the database."""
        for task in (self._warmer, self._sweeper, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.writer.stop()
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

    async def maintenance(self, console_id: str, until: float | None, reason: str | None) -> bool:
        """Start or move (``until`` set) or end (None) a console's maintenance; False when the
        console is unknown."""
        op = MaintenanceOp(console_id, self.clock(), until, reason)
        result = await self.writer.submit(op, self.config.request_timeout)
        assert isinstance(result, FoundResult)
        return result.found

    async def reset_secret(self, console_id: str) -> bool:
        """Forget a console's secret, so the enrollment token may enroll it again; False when
        it was unknown."""
        result = await self.writer.submit(ResetSecretOp(console_id), self.config.request_timeout)
        assert isinstance(result, FoundResult)
        if result.found:
            log.info(
                "console %s: secret reset; the enrollment token may enroll it again", console_id
            )
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

    def check_clock(self) -> float:
        """Look at the clocks (:class:`ClockWatch`); after a wall-clock step or a stall every
        console gets a new grace period, as after a restart. Returns the wall time."""
        now, anomaly = self.watch.look()
        if anomaly is not None:
            self._clock_anomaly(now, anomaly)
        return now

    def _clock_anomaly(self, now: float, anomaly: ClockAnomaly) -> None:
        self.started_at = now
        if anomaly.kind == "step" and anomaly.seconds < 0:  # stored times are ahead of now
            self._stale_until = max(self._stale_until or now, now - anomaly.seconds)
        self.metrics.clock_anomaly(anomaly.kind)
        log.warning(
            "%s; every console gets a new grace period of its silence threshold"
            " (%g s unless it reports its interval)",
            anomaly.describe(),
            self.config.inactive_after,
        )

    def _stale_after(self, now: float) -> float | None:
        """For :class:`SweepOp`: after a backward step, last_seen beyond this is from before it."""
        if self._stale_until is None or now >= self._stale_until:
            self._stale_until = None
            return None
        return now + self.watch.step_after

    async def sweep(self) -> tuple[str, ...]:
        """Mark silent consoles ``inactiva`` now and prune old history; the ids marked."""
        if not self.metrics.database_up:
            await self.read(self.storage.ping)  # back? then the grace restarts before sweeping
        now = self.check_clock()  # a step or a stall restarts the grace before sweeping
        timeout = self.config.request_timeout
        retire_after = self.config.retire_after
        retire_before = None if retire_after is None else now - retire_after
        op = SweepOp(now, self.started_at, self._stale_after(now), retire_before)
        try:
            result = await self.writer.submit(op, timeout)
        except StorageUnavailableError as exc:
            self._database_health(False, str(exc))
            raise
        assert isinstance(result, SweepResult)
        await self.writer.submit(PruneOp(now - self.config.history_retention), timeout)
        self.sweeps += 1
        if result.marked:
            self.metrics.swept(len(result.marked))
            log.info("marked %d silent console(s) inactiva", len(result.marked))
        if result.maintenance_ended:
            log.info("maintenance ended for %s", ", ".join(result.maintenance_ended))
        if result.retired:
            self.metrics.retired(len(result.retired))
            log.info(
                "retired %d console(s) inactiva for over %g s: %s",
                len(result.retired), retire_after, ", ".join(result.retired),
            )  # fmt: skip
        return result.marked

    async def _watch_forever(self) -> None:
        while True:
            await asyncio.sleep(self.watch.tick)
            self.check_clock()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.sweep()
                self._sweep_failures.recovered()
            except StorageUnavailableError as exc:
                self._sweep_failures.failed(exc)
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
