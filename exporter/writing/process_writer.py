"""Group commit in a writer process: the event loop batches the writes, a child applies them.

In one process the event loop and a writer thread take turns on one GIL, and every SQLite call
of the writer gives it up and waits to win it back from a busy event loop (bench/README.md). Here
the event loop itself gathers the writes that arrive while a batch is out, sends them as the next
batch over a socket pair, and resolves the callers' futures from the child's answer: no thread
of the exporter touches the database's write path, and the child (:mod:`exporter.writing.child`)
runs its SQL on its own interpreter. The child answers each batch after its COMMIT, so a 2xx
still means committed; a second batch may be out meanwhile, waiting in the socket.

The child's life: started (and the database opened) before the exporter serves; when it dies,
the batches it held fail with a 503 (it may or may not have committed; nothing is acknowledged
that was not), the writes queued meanwhile wait, and it is started again, at most once per
``restart_interval``. Each death and each recovery is one log line. ``stop()`` commits what is
queued, then closes the socket: the child finishes and exits. If the exporter dies, its end of
the socket closes with it and the child exits after the batch in hand.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import anyio.to_thread

from exporter.config import DEFAULT_MAX_BATCH
from exporter.failure_log import FailureLog
from exporter.storage.base import Storage
from exporter.storage.records import StorageUnavailableError, WriteOp, WriteResult
from exporter.writing.base import HealthCallback, Writer, expire, settle
from exporter.writing.batch import BatchOutcome
from exporter.writing.frames import FrameReader, encode, receive

log = logging.getLogger("exporter.writing")

START_TIMEOUT_SECONDS = 60.0
RESTART_INTERVAL_SECONDS = 1.0
#: Batches sent to the child and not yet answered, at most. With two, the child starts the next
#: as soon as it has committed one, instead of waiting for its answer to reach the event loop
#: and the next batch to come back (about a third of each batch's turnaround on a busy 2-CPU
#: machine). The second goes only once it is as large as the first (:meth:`_may_send`): sent at
#: once, batches of a few writes each cost a commit and lengthened the tail under a moderate
#: load (bench/README.md, issue 17 round 5).
PIPELINE_DEPTH = 2
CHILD_MODULE = "exporter.writing.child"

_Pending = tuple[WriteOp, "asyncio.Future[WriteResult]"]


def _how(code: int | None) -> str:
    if code is None:
        return "closed its socket"
    return f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}"


class _ChildLink(asyncio.Protocol):
    """The exporter's end of the socket pair: answers in, loss of the child noticed."""

    def __init__(self, writer: ProcessWriter) -> None:
        self._writer = writer
        self._reader = FrameReader()

    def data_received(self, data: bytes) -> None:
        for answer in self._reader.feed(data):
            self._writer._answered(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._writer._lost()


class ProcessWriter(Writer):
    """The writer process and the event loop's side of it."""

    #: The event loop that batches the writes (set by :meth:`start`).
    _loop: asyncio.AbstractEventLoop

    def __init__(
        self,
        storage: Storage,
        database: str,
        sqlite_synchronous: str,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        on_health: HealthCallback | None = None,
        clock: Callable[[], float] | None = None,
        restart_interval: float = RESTART_INTERVAL_SECONDS,
        on_process: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__(storage, max_batch, on_health, clock)
        #: Told when the child is connected (True) and when it has gone (False).
        self._on_process = on_process or (lambda up: None)
        self._settings = {
            "database": database,
            "sqlite_synchronous": sqlite_synchronous,
            "log_level": logging.getLogger().getEffectiveLevel(),
        }
        self._restart_interval = restart_interval
        self._pending: list[_Pending] = []
        #: The batches sent and not yet answered, oldest first (answers come in order).
        self._in_flight: collections.deque[list[_Pending]] = collections.deque()
        self._flush_scheduled = False
        self._transport: asyncio.Transport | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = float("-inf")
        self._restarter: asyncio.Task[None] | None = None
        self._attaching: asyncio.Task[None] | None = None
        #: One warning when the child dies, a summary a minute while it keeps dying, one line
        #: when a new child has applied its first batch.
        self._deaths = FailureLog(log, "writer process down")
        self._recovering = False
        #: Times the child was started again after it died (the first start is not counted).
        self.restarts = 0

    # -- health ------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The child's pid while it is connected."""
        return self._process.pid if self.up and self._process is not None else None

    @property
    def up(self) -> bool:
        """Whether the child is running and connected."""
        return self._transport is not None and self._process is not None

    def describe(self) -> str:
        """``process (pid N)``."""
        return f"process (pid {self._process.pid if self._process else '-'})"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the child and wait (blocking) until it has opened the database; inside the
        event loop. StorageUnavailableError when it cannot."""
        self._loop = asyncio.get_running_loop()
        sock = self._spawn()
        self._attaching = self._loop.create_task(self._connect(sock))

    async def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued (within ``timeout``), then let the child finish and exit."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        while (self._pending or self._in_flight) and self.up and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if self._restarter is not None:
            self._restarter.cancel()
        for _op, future in self._pending:
            settle(future, StorageUnavailableError("the exporter is shutting down"))
        self._pending.clear()
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        process, self._process = self._process, None
        if process is not None:
            await anyio.to_thread.run_sync(
                self._reap, process, max(1.0, deadline - time.monotonic())
            )

    @staticmethod
    def _reap(process: subprocess.Popen[bytes], timeout: float) -> None:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "writer process (pid %d) still busy after %.0f s: killed", process.pid, timeout
            )
            process.kill()
            process.wait()

    def _spawn(self) -> socket.socket:
        """Start a child and wait for it to open the database; its socket, non-blocking."""
        self._started_at = time.monotonic()
        parent, child = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, str(child.fileno())],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        try:
            parent.settimeout(START_TIMEOUT_SECONDS)
            parent.sendall(encode(self._settings))
            kind, value = receive(parent, FrameReader())
        except (OSError, EOFError) as exc:
            parent.close()
            self._reap(process, 5.0)
            raise StorageUnavailableError(f"the writer process did not start: {exc}") from None
        if kind != "ready":
            parent.close()
            self._reap(process, 5.0)
            raise StorageUnavailableError(f"the writer process could not start: {value}")
        parent.setblocking(False)
        self._process = process
        return parent

    async def _connect(self, sock: socket.socket) -> None:
        transport, _ = await self._loop.connect_accepted_socket(lambda: _ChildLink(self), sock)
        self._transport = transport
        self._on_process(True)
        self._schedule_flush()

    # -- batches -----------------------------------------------------------------------------

    async def _queued(self, op: WriteOp, timeout: float) -> WriteResult:
        loop = self._loop
        future: asyncio.Future[WriteResult] = loop.create_future()
        self._pending.append((op, future))
        self._schedule_flush()
        # A timer rather than asyncio.wait_for: no extra task per request on the hot path.
        timer = loop.call_later(timeout, expire, future, timeout)
        try:
            return await future
        finally:
            timer.cancel()

    def _schedule_flush(self) -> None:
        """Send the next batch once this turn of the loop is over, so that every write that
        arrived in it goes in the same batch."""
        if not self._flush_scheduled and self._transport is not None and self._may_send():
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _may_send(self) -> bool:
        """Whether the next batch may go now: at once when none is out; while one is, once
        as many writes wait as that batch holds (a batch of a few, sent early, costs a commit
        each: under a light load the writes wait for the answer and go together)."""
        if not self._in_flight:
            return True
        return len(self._in_flight) < PIPELINE_DEPTH and len(self._pending) >= len(
            self._in_flight[0]
        )

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._transport is None or not self._may_send():
            return
        self._drop_answered()
        if not self._pending:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._in_flight.append(batch)
        self._transport.write(encode([self._current(op) for op, _future in batch]))

    def _drop_answered(self) -> None:
        """Forget queued writes whose callers already got their 503 (timed out while the child
        was down or busy): they are not applied later behind the caller's back."""
        if any(future.done() for _op, future in self._pending):
            self._pending = [(op, future) for op, future in self._pending if not future.done()]

    def _answered(self, answer: BatchOutcome) -> None:
        if not self._in_flight:  # nothing was asked: not this program's child
            log.error("writer process answered a batch it was not sent; dropping the link")
            if self._transport is not None:
                self._transport.abort()
            return
        batch = self._in_flight.popleft()
        if self._recovering:
            self._recovering = False
            self._deaths.recovered()
        self._applied(answer)
        for (_op, future), outcome in zip(batch, answer.outcomes, strict=True):
            settle(future, outcome)
        self._flush()

    def _lost(self) -> None:
        """The child's socket closed: fail the batches it held, start it again."""
        self._transport = None
        lost = list(self._in_flight)
        self._in_flight.clear()
        process = self._process
        if self._closed and process is None:
            return  # stop() closed it
        code = None
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(0.2)
        what = f"the writer process (pid {process.pid if process else '?'}) {_how(code)}"
        # Not a database outage (heartbeat_fleet_database_up stays 1, silent consoles keep their
        # deadlines): a death costs a second of writes, which each console's next beat makes up
        # for. A child that cannot be started again is one (:meth:`_restart`).
        error = StorageUnavailableError(f"{what} during a batch: it may not have committed")
        for batch in lost:
            self.batches += 1
            for _op, future in batch:
                settle(future, error)
        self._deaths.failed(what)
        self._process = None
        self._on_process(False)
        if not self._closed:
            self._restarter = self._loop.create_task(self._restart())

    async def _restart(self) -> None:
        while not self._closed:
            wait = self._started_at + self._restart_interval - time.monotonic()
            await asyncio.sleep(max(0.0, wait))
            try:
                sock = await anyio.to_thread.run_sync(self._spawn)
            except (StorageUnavailableError, OSError) as exc:
                self._deaths.failed(exc)
                self._on_health(False, f"the writer process cannot start: {exc}")
                self._drop_answered()
                continue
            if self._closed:
                sock.close()
                return
            self.restarts += 1
            self._recovering = True  # the run of deaths ends with the new child's first batch
            await self._connect(sock)
            return
