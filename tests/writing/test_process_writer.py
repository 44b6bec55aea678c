"""The process writer in-process, with a real child process and a real SQLite file.

Each test runs one event loop (``asyncio.run``) around a :class:`ProcessWriter` that starts
``python -m exporter.writing.child``: batching, the same results as the thread writer, stop,
the child killed idle or mid-batch, the restart interval, a child that cannot open the
database, and a sweep judged at the clock's time after a backward step.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from consola_wire import Registration
from exporter.storage import Storage, open_storage
from exporter.storage.records import (
    DeleteOp,
    FoundResult,
    MaintenanceOp,
    PruneOp,
    RegisterOp,
    RegisterResult,
    ResetSecretOp,
    StorageUnavailableError,
    SweepOp,
    SweepResult,
    WriteOp,
    WriteResult,
)
from exporter.writing.base import Writer
from exporter.writing.process_writer import CHILD_MODULE, PIPELINE_DEPTH, ProcessWriter
from exporter.writing.thread_writer import GroupCommitWriter
from tests.support.storage_ops import IDS, T0, beat, register
from tests.support.tools import free_port

T = TypeVar("T")
TIMEOUT = 10.0


def console_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012x}"


def enrol(i: int, now: float = T0) -> RegisterOp:
    reg = Registration(
        console_id=console_id(i),
        nombre=f"Consola {i}",
        estado="esperando",
        sistema={"hostname": f"host-{i}"},
        ultima_actividad=datetime.fromtimestamp(now, UTC),
        interval_seconds=60.0,
    )
    return RegisterOp(reg, now, 600.0)


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "heartbeat.db")


def writer_children() -> list[psutil.Process]:
    """This process's writer children still alive (zombies included)."""
    found = []
    for child in psutil.Process().children():
        try:
            if CHILD_MODULE in child.cmdline():
                found.append(child)
        except psutil.Error:
            continue
    return found


async def until(condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {condition}")
        await asyncio.sleep(0.01)


def run(storage: Storage, database: str, body: Callable[[ProcessWriter], Awaitable[T]],
        **options: Any) -> T:  # fmt: skip
    """``body(writer)`` in an event loop around a started process writer, stopped after."""

    async def main() -> T:
        writer = ProcessWriter(storage, database, "normal", **options)
        writer.start()
        try:
            return await body(writer)
        finally:
            await writer.stop()

    return asyncio.run(main())


def test_concurrent_writes_share_batches_and_all_commit(storage: Storage, database: str) -> None:
    async def body(writer: ProcessWriter) -> tuple[list[WriteResult], int]:
        await until(lambda: writer.up)
        results = await asyncio.gather(*(writer.submit(enrol(i), TIMEOUT) for i in range(300)))
        return results, writer.batches

    results, batches = run(storage, database, body, max_batch=64)
    assert results == [RegisterResult(created=True)] * 300
    assert 300 / 64 <= batches < 300
    consoles, total = storage.list_consoles(None, 1_000, 0)
    assert total == 300 and {c.id for c in consoles} == {console_id(i) for i in range(300)}


#: Every kind of write, in an order where each one finds something to change.
SCRIPT: list[WriteOp] = [
    *(register(i, T0) for i in range(len(IDS))),
    RegisterOp(register(5, T0 + 1).registration, T0 + 1, 600.0, secret_hash="scrypt$x"),
    beat(IDS[0], T0 + 100, "ocupada", video="Video 1 (1/5)"),
    beat(IDS[1], T0 + 100, "activa", error={"mensaje": "red"}),
    beat("00000000-0000-4000-8000-0000000000ff", T0 + 100, "activa"),
    MaintenanceOp(IDS[2], T0 + 110, until=T0 + 200, reason="disco"),
    MaintenanceOp(IDS[3], T0 + 110, until=T0 + 10_000, reason="red"),
    beat(IDS[4], T0 + 120, "inactiva"),
    SweepOp(T0 + 600, started_at=T0 - 1_000, retire_before=T0 + 500),
    beat(IDS[1], T0 + 610, "activa"),
    MaintenanceOp(IDS[3], T0 + 620, until=None),
    ResetSecretOp(IDS[5]),
    DeleteOp(IDS[0]),
    DeleteOp(IDS[0]),
    PruneOp(before=T0 + 105),
    SweepOp(T0 + 2_000, started_at=T0 - 1_000, retire_before=T0 + 500),
]


def state(storage: Storage) -> tuple[list[Any], dict[str, list[Any]], list[Any]]:
    consoles, _ = storage.list_consoles(None, 100, 0)
    return (
        consoles,
        {c.id: storage.history(c.id, 100) for c in consoles},
        [storage.credential(c.id) for c in consoles],
    )


async def play(writer: Writer) -> list[WriteResult]:
    return [await writer.submit(op, TIMEOUT) for op in SCRIPT]


def test_a_write_means_what_it_means_with_the_thread_writer(tmp_path: Path) -> None:
    by_process = open_storage(str(tmp_path / "process.db"))
    by_thread = open_storage(str(tmp_path / "thread.db"))
    try:
        process_results = run(by_process, str(tmp_path / "process.db"), play)
        thread_writer = GroupCommitWriter(by_thread)
        thread_writer.start()
        try:
            thread_results = asyncio.run(play(thread_writer))
        finally:
            thread_writer.stop_blocking()
        assert process_results == thread_results
        assert any(isinstance(r, SweepResult) and r.marked and r.retired for r in thread_results)
        assert FoundResult(found=False) in thread_results
        assert state(by_process) == state(by_thread)
    finally:
        by_process.close()
        by_thread.close()


def test_stop_commits_what_is_queued_and_the_child_exits(storage: Storage, database: str) -> None:
    async def main() -> tuple[list[WriteResult], int]:
        writer = ProcessWriter(storage, database, "normal", max_batch=8)
        writer.start()
        await until(lambda: writer.up)
        pid = writer.pid
        assert pid is not None and [p.pid for p in writer_children()] == [pid]
        tasks = [asyncio.create_task(writer.submit(enrol(i), TIMEOUT)) for i in range(100)]
        await asyncio.sleep(0)  # every task has queued its write; none is answered yet
        assert writer.batches == 0
        await writer.stop()
        assert all(task.done() for task in tasks)
        with pytest.raises(StorageUnavailableError, match="shutting down"):
            await writer.submit(enrol(100), TIMEOUT)
        return [task.result() for task in tasks], pid

    results, pid = asyncio.run(main())
    assert results == [RegisterResult(created=True)] * 100
    assert storage.list_consoles(None, 1, 0)[1] == 100
    assert writer_children() == []
    assert not psutil.pid_exists(pid)


def test_a_child_killed_while_idle_is_started_again_and_the_next_write_commits(
    storage: Storage, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.writing")
    ups: list[bool] = []

    async def body(writer: ProcessWriter) -> tuple[int, int | None, WriteResult]:
        await writer.submit(enrol(0), TIMEOUT)
        killed = writer.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await until(lambda: not writer.up)
        assert writer.restarts == 0
        result = await writer.submit(enrol(1), TIMEOUT)  # queued while down: waits
        return killed, writer.pid, result

    killed, now, result = run(storage, database, body, restart_interval=0.2, on_process=ups.append)
    assert result == RegisterResult(created=True)
    assert now is not None and now != killed
    assert ups == [True, False, True]
    assert storage.list_consoles(None, 10, 0)[1] == 2
    down = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert down == [
        f"writer process down: the writer process (pid {killed}) was killed by signal 9"
    ]
    recovered = [r.getMessage() for r in caplog.records if "recovered" in r.getMessage()]
    assert len(recovered) == 1 and recovered[0].startswith("writer process down: recovered after")


def test_restarts_counts_each_start_after_a_death(storage: Storage, database: str) -> None:
    async def body(writer: ProcessWriter) -> int:
        await until(lambda: writer.up)
        assert writer.restarts == 0
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: writer.up and writer.pid != pid)
        await writer.submit(enrol(0), TIMEOUT)
        return writer.restarts

    assert run(storage, database, body, restart_interval=0.1) == 1


def test_a_child_killed_during_a_batch_fails_that_write_and_a_later_one_commits(
    storage: Storage, database: str
) -> None:
    health: list[bool] = []

    async def body(writer: ProcessWriter) -> tuple[BaseException | None, WriteResult]:
        await until(lambda: writer.up)
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        held = asyncio.create_task(writer.submit(enrol(0), TIMEOUT))
        await asyncio.sleep(0.2)  # the batch is sent; the stopped child cannot answer it
        assert not held.done()
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait([held])
        later = await writer.submit(enrol(1), TIMEOUT)
        return held.exception(), later

    error, later = run(
        storage, database, body, restart_interval=0.1,
        on_health=lambda ok, reason: health.append(ok),
    )  # fmt: skip
    assert isinstance(error, StorageUnavailableError)
    assert "killed by signal 9 during a batch: it may not have committed" in str(error)
    assert later == RegisterResult(created=True)
    # A death is not a database outage: no health change, so no new grace period for every
    # console (which a crash loop would otherwise keep renewing, hiding silent consoles).
    assert health == [True]
    assert storage.get_console(console_id(1)) is not None


def test_a_child_killed_with_two_batches_out_fails_both_and_the_queued_write_commits(
    storage: Storage, database: str
) -> None:
    async def body(writer: ProcessWriter) -> tuple[list[BaseException | None], WriteResult]:
        await until(lambda: writer.up)
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        sent = []
        for i in range(PIPELINE_DEPTH):  # one batch each, all sent to the stopped child
            sent.append(asyncio.create_task(writer.submit(enrol(i), TIMEOUT)))
            await asyncio.sleep(0.1)
        queued = asyncio.create_task(writer.submit(enrol(PIPELINE_DEPTH), TIMEOUT))
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in [*sent, queued])
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait(sent)
        return [task.exception() for task in sent], await queued

    errors, queued = run(storage, database, body, restart_interval=0.1)
    assert PIPELINE_DEPTH == 2
    assert all(isinstance(error, StorageUnavailableError) for error in errors), errors
    assert queued == RegisterResult(created=True)  # waited for the next child, not failed
    assert storage.get_console(console_id(PIPELINE_DEPTH)) is not None


def test_a_write_the_child_does_not_answer_in_time_gets_its_503_and_the_next_one_waits(
    storage: Storage, database: str
) -> None:
    async def body(writer: ProcessWriter) -> tuple[str, float, WriteResult]:
        await until(lambda: writer.up)
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # a database that hangs
        started = time.monotonic()
        try:
            await writer.submit(enrol(0), 0.3)
        except StorageUnavailableError as exc:
            failed = (str(exc), time.monotonic() - started)
        else:
            pytest.fail("a write nobody committed was answered")
        os.kill(pid, signal.SIGCONT)
        later = await writer.submit(enrol(1), TIMEOUT)
        return failed[0], failed[1], later

    message, waited, later = run(storage, database, body)
    assert message == "the database did not commit within 0.3s"
    assert 0.3 <= waited < 1.0  # at its deadline, not after the whole request timeout
    assert later == RegisterResult(created=True)


def test_a_child_that_cannot_be_started_again_is_a_database_outage(
    storage: Storage, database: str, tmp_path: Path
) -> None:
    health: list[bool] = []

    async def body(writer: ProcessWriter) -> WriteResult:
        await until(lambda: writer.up)
        pid = writer.pid
        assert pid is not None
        writer._settings["database"] = str(tmp_path / "missing" / "heartbeat.db")
        os.kill(pid, signal.SIGKILL)
        await until(lambda: False in health)  # a start that failed: writes cannot be applied
        assert not writer.up
        writer._settings["database"] = database
        await until(lambda: writer.up)
        return await writer.submit(enrol(0), TIMEOUT)

    result = run(
        storage, database, body, restart_interval=0.1,
        on_health=lambda ok, reason: health.append(ok),
    )  # fmt: skip
    assert result == RegisterResult(created=True)
    assert not any(health[:-1]) and health[-1], health  # down until a new child applied one


def test_the_child_is_not_started_again_before_the_restart_interval(
    storage: Storage, database: str
) -> None:
    interval = 0.5

    async def body(writer: ProcessWriter) -> list[float]:
        await until(lambda: writer.up)
        started = []
        for deaths in range(1, 3):
            pid = writer.pid
            assert pid is not None
            started.append(psutil.Process(pid).create_time())
            os.kill(pid, signal.SIGKILL)  # at once: the child dies well within the interval
            await until(lambda: writer.restarts == deaths and writer.up)  # noqa: B023
        pid = writer.pid
        assert pid is not None
        started.append(psutil.Process(pid).create_time())
        await writer.submit(enrol(0), TIMEOUT)
        return started

    first, second, third = run(storage, database, body, restart_interval=interval)
    # create_time() is in clock ticks (10 ms).
    assert second - first >= interval - 0.02
    assert third - second >= interval - 0.02


@pytest.mark.parametrize(
    "unreachable",
    ["{tmp}/no such directory/heartbeat.db", "postgresql://heartbeat@127.0.0.1:{port}/heartbeat"],
    ids=["sqlite-in-a-missing-directory", "postgresql-on-a-closed-port"],
)
def test_a_child_that_cannot_open_the_database_fails_start(
    storage: Storage, tmp_path: Path, unreachable: str
) -> None:
    database = unreachable.format(tmp=tmp_path, port=free_port())

    async def main() -> None:
        writer = ProcessWriter(storage, database, "normal")
        writer.start()

    with pytest.raises(StorageUnavailableError) as refused:
        asyncio.run(main())
    message = str(refused.value)
    assert message.startswith("the writer process could not start: ")
    cause = "refused" if database.startswith("postgresql") else "unable to open database file"
    assert cause in message.lower(), message
    assert writer_children() == []


def test_a_sweep_written_after_the_clock_stepped_back_marks_no_console_heard_from_since(
    storage: Storage, database: str
) -> None:
    # The sweep took its time (T0 + 600), then the wall clock stepped back an hour; console 1
    # reported at the stepped-back time before the sweep was written: it must not be marked.
    # Console 2 is silent even by the stepped-back clock: it is.
    stepped_back = T0 + 600 - 3_600
    storage.write_batch(
        [register(1, T0), register(2, stepped_back - 500), beat(IDS[1], stepped_back, "activa")]
    )

    async def body(writer: ProcessWriter) -> WriteResult:
        return await writer.submit(SweepOp(T0 + 600, started_at=T0 - 5_000), TIMEOUT)

    result = run(storage, database, body, clock=lambda: stepped_back + 1)
    assert result == SweepResult(marked=(IDS[2],))
    one = storage.get_console(IDS[1])
    assert one is not None and one.estado == "activa"


def test_a_write_the_child_cannot_store_fails_alone(storage: Storage, database: str) -> None:
    storage.write_batch([register(0, T0), register(1, T0)])
    unstorable = beat(IDS[1], T0 + 5, "activa", sistema={"hostname": object()})

    async def body(writer: ProcessWriter) -> tuple[list[Any], int]:
        await until(lambda: writer.up)
        ops: list[WriteOp] = [beat(IDS[0], T0 + 5, "activa"), unstorable, register(2, T0 + 5)]
        results = await asyncio.gather(
            *(writer.submit(op, TIMEOUT) for op in ops), return_exceptions=True
        )
        return results, writer.batches

    (good, broken, registered), batches = run(storage, database, body)
    assert batches == 1
    assert good == FoundResult(found=True) and registered == RegisterResult(created=True)
    assert isinstance(broken, TypeError) and "JSON serializable" in str(broken)
    one = storage.get_console(IDS[1])
    assert one is not None and one.last_seen == T0
    assert storage.get_console(IDS[2]) is not None
