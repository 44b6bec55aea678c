"""The writer process under faults, against real exporters: a SIGTERM drains it, the exporter's
death ends it, its own death mid-batch loses nothing acknowledged, and /metrics and the log say
so in a few lines. The child is found with psutil among the exporter's children; the database is
read directly afterwards (:mod:`tests.support.write_flood`, which also holds the load).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.exporters import ExporterProcess, database_for
from tests.support.tools import wait_until
from tests.support.write_flood import (
    Flood,
    check_every_acknowledged_write_is_stored,
    register,
    send_beat,
    stored_beats,
)

CHILD_MODULE = "exporter.writing.child"
REQUEST_TIMEOUT = 20.0
#: Queued heartbeats when the child is killed with a batch in hand.
QUEUED = 16
DEATH = re.compile(
    r"WARNING exporter\.writing: writer process down: the writer process \(pid (\d+)\)"
)
RECOVERY = "INFO exporter.writing: writer process down: recovered after"


#: Every writer process a test found: those still running after it are killed.
_FOUND: list[psutil.Process] = []


@pytest.fixture(autouse=True)
def _no_child_left_running() -> Iterator[None]:
    yield
    for child in _FOUND:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    _FOUND.clear()


def writer_child(exporter: ExporterProcess, other_than: int | None = None) -> psutil.Process:
    """The exporter's running writer process (not ``other_than``), waited for."""
    assert exporter.process is not None
    parent = psutil.Process(exporter.process.pid)

    def running() -> psutil.Process | None:
        for child in parent.children():
            try:
                if (
                    child.pid != other_than
                    and CHILD_MODULE in child.cmdline()
                    and child.status() != psutil.STATUS_ZOMBIE
                ):
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    found = wait_until(running, timeout=10)
    assert isinstance(found, psutil.Process)
    _FOUND.append(found)
    return found


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie waiting for its reaper counts)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def metric(exporter: ExporterProcess, name: str) -> float | None:
    """One sample of the exporter's /metrics, or None when it has no such series."""
    text = httpx.get(exporter.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return None


def restarts(exporter: ExporterProcess) -> float | None:
    return metric(exporter, "heartbeat_fleet_writer_process_restarts_total")


def wait_for_restarts(exporter: ExporterProcess, count: int) -> None:
    wait_until(lambda: restarts(exporter) == count)


def wait_for_acks(flood: Flood, acks: int) -> None:
    """Until ``acks`` writes were acknowledged, or the clients have all finished."""
    wait_until(
        lambda: flood.acks >= acks or not any(t.is_alive() for t in flood.threads), timeout=60
    )


def run_flood_until(exporter: ExporterProcess, acks: int) -> Flood:
    flood = Flood(exporter.url).start()
    try:
        wait_until(lambda: flood.acks >= acks, timeout=60)
    except BaseException:
        flood.join()
        raise
    return flood


def start_exporter(database: str, tmp_path: Path, *args: str, **options: Any) -> ExporterProcess:
    log_path = tmp_path / "exporter.log"
    argv = ["--request-timeout", str(REQUEST_TIMEOUT), *args]
    return ExporterProcess(database, argv, log_path=log_path, **options).start()


def stop_if_running(exporter: ExporterProcess) -> None:
    if exporter.process is not None and exporter.process.poll() is None:
        exporter.kill()


# -- 1. SIGTERM drains -------------------------------------------------------------------------


@pytest.mark.parametrize("whole_group", [False, True], ids=["exporter", "process-group"])
def test_sigterm_under_load_commits_every_acknowledged_write_and_leaves_no_process(
    database: str, tmp_path: Path, whole_group: bool
) -> None:
    exporter = start_exporter(database, tmp_path, new_session=True)
    assert exporter.process is not None
    try:
        child = writer_child(exporter)
        flood = run_flood_until(exporter, acks=300)
        if whole_group:  # systemd's KillMode=control-group: the child gets it too
            os.killpg(exporter.process.pid, signal.SIGTERM)
        else:
            exporter.process.send_signal(signal.SIGTERM)
        assert exporter.process.wait(REQUEST_TIMEOUT + 10) == 0
        flood.join()
    finally:
        stop_if_running(exporter)
    wait_until(lambda: gone(child.pid), timeout=5)
    # A drain: nothing was refused, and the child was never lost on the way.
    assert set(flood.statuses) <= {200, 201}, flood.statuses
    assert "writer process down" not in exporter.log()
    check_every_acknowledged_write_is_stored(database, flood)


# -- 2. the exporter's death -------------------------------------------------------------------


def test_a_killed_exporters_child_exits_by_itself_and_a_new_exporter_writes(
    database: str, tmp_path: Path
) -> None:
    exporter = start_exporter(database, tmp_path)
    try:
        child = writer_child(exporter)
        flood = run_flood_until(exporter, acks=300)
        exporter.kill()
        flood.join()
        wait_until(lambda: gone(child.pid), timeout=5)  # end of file on its socket
        check_every_acknowledged_write_is_stored(database, flood)
        exporter.restart()  # on the same database: SQLite's file is not left locked
        console = str(uuid.uuid4())
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            assert register(http, console) == 201
            assert send_beat(http, console, 7) == 200
        assert stored_beats(database)[console] == 7
    finally:
        stop_if_running(exporter)


# -- 3. a crash mid-batch ----------------------------------------------------------------------


@dataclass
class Answer:
    console: str
    status: int
    at: float


def registered_consoles(exporter: ExporterProcess, count: int) -> list[str]:
    consoles = [str(uuid.uuid4()) for _ in range(count)]
    with httpx.Client(base_url=exporter.url, timeout=10) as http:
        for console in consoles:
            assert register(http, console) == 201
    # Only the poll's own connection left open: the counts below are of queued requests.
    wait_until(lambda: metric(exporter, "heartbeat_fleet_open_connections") == 1)
    return consoles


def send_beats(
    exporter: ExporterProcess, pool: ThreadPoolExecutor, consoles: list[str], seq: int
) -> list[Future[Answer]]:
    """Heartbeat ``seq`` to each console at once, each on a connection of its own; returns
    once the exporter has them all (none answered: they wait for the writer)."""

    def send(console: str) -> Answer:
        with httpx.Client(base_url=exporter.url, timeout=REQUEST_TIMEOUT + 10) as http:
            status = send_beat(http, console, seq)
        return Answer(console, status, time.time())

    open_before = metric(exporter, "heartbeat_fleet_open_connections") or 0
    first = pool.submit(send, consoles[0])  # alone: the batch the writer will hold
    wait_until(lambda: metric(exporter, "heartbeat_fleet_open_connections") == open_before + 1)
    futures = [first, *(pool.submit(send, console) for console in consoles[1:])]
    wait_until(
        lambda: metric(exporter, "heartbeat_fleet_open_connections") == open_before + len(consoles)
    )
    time.sleep(0.3)  # let the exporter read them all (nothing answers them meanwhile)
    assert not any(f.done() for f in futures), "answered while the writer could not write"
    return futures


def kill_with_a_batch_in_hand(exporter: ExporterProcess) -> tuple[list[Answer], float, int]:
    """Stop the child, queue QUEUED heartbeats (the first batch goes to the stopped child),
    SIGKILL it: the answers, when it was killed (``time.time()``) and its pid."""
    consoles = registered_consoles(exporter, QUEUED)
    child = writer_child(exporter)
    child.suspend()
    with ThreadPoolExecutor(QUEUED) as pool:
        futures = send_beats(exporter, pool, consoles, 1)
        child.kill()
        killed_at = time.time()
        answers = [f.result() for f in futures]
    return answers, killed_at, child.pid


def test_a_child_killed_with_a_batch_in_hand_fails_that_batch_and_commits_the_queued_ones(
    sqlite_database: str, tmp_path: Path
) -> None:
    exporter = start_exporter(sqlite_database, tmp_path)
    try:
        answers, killed_at, old_pid = kill_with_a_batch_in_hand(exporter)
        statuses = collections.Counter(a.status for a in answers)
        assert set(statuses) == {200, 503}, statuses  # the held batch, the writes behind it
        assert statuses[503] < QUEUED
        slowest = max(a.at for a in answers) - killed_at
        assert slowest < 5.0, f"answers came {slowest:.1f}s after the kill: they hung"
        new = writer_child(exporter, other_than=old_pid)
        assert new.create_time() - killed_at < 2.5, "not started again within ~2 s"
        stored = stored_beats(sqlite_database)
        for answer in answers:
            # A 200 is committed; this 503's batch never reached a running child.
            assert stored[answer.console] == (1 if answer.status == 200 else -1), answer
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            for answer in answers:
                assert send_beat(http, answer.console, 2) == 200
        assert set(stored_beats(sqlite_database).values()) == {2}
    finally:
        stop_if_running(exporter)


def test_children_killed_under_free_running_load_lose_nothing_acknowledged(
    database: str, tmp_path: Path
) -> None:
    exporter = start_exporter(database, tmp_path)
    try:
        flood = run_flood_until(exporter, acks=100)
        child = writer_child(exporter)
        for kills in range(1, 4):
            child.kill()
            child = writer_child(exporter, other_than=child.pid)
            wait_for_restarts(exporter, kills)
            wait_for_acks(flood, flood.acks + 100)
        flood.join()
        assert flood.transport_errors == 0
        assert set(flood.statuses) <= {200, 201, 503}, flood.statuses
        assert restarts(exporter) == kills
        check_every_acknowledged_write_is_stored(database, flood)
        wait_until(lambda: exporter.log().count(RECOVERY) == kills)
        log = exporter.log()
    finally:
        stop_if_running(exporter)
    # One warning a death, however many writes it refused.
    assert len(DEATH.findall(log)) == kills, log


def test_a_death_with_a_batch_in_hand_does_not_postpone_a_silent_consoles_page(
    sqlite_database: str, tmp_path: Path
) -> None:
    """A death costs a second of writes, not a database outage: no new grace period for every
    console (which a crash loop would keep renewing), so a console that went silent before it is
    still marked inactiva at its own deadline."""
    threshold = 12.0
    exporter = start_exporter(
        sqlite_database, tmp_path, "--inactive-after", str(threshold), "--sweep-interval", "0.2"
    )
    try:
        silent = str(uuid.uuid4())
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            assert register(http, silent) == 201
            registered_at = time.time()
            answers, killed_at, _pid = kill_with_a_batch_in_hand(exporter)
            assert killed_at < registered_at + threshold - 3, "the kill came too late to tell"
            assert 503 in {a.status for a in answers}  # the death refused writes

            def marked() -> bool:
                return bool(http.get(f"/api/consolas/{silent}").json()["estado"] == "inactiva")

            wait_until(marked, timeout=threshold + 10, interval=0.1)
            marked_at = time.time()
        log = exporter.log()
    finally:
        stop_if_running(exporter)
    # A new grace period from the restart would put the mark at killed_at + threshold or later.
    assert marked_at < registered_at + threshold + 1.5, (
        f"marked {marked_at - registered_at:.1f}s after it registered, "
        f"{marked_at - killed_at:.1f}s after the kill"
    )
    assert "database reachable again" not in log


# -- 4. health on /metrics and in the log ------------------------------------------------------


def test_one_death_is_one_warning_one_recovery_line_and_a_counted_restart(
    sqlite_database: str, tmp_path: Path
) -> None:
    exporter = start_exporter(sqlite_database, tmp_path)
    try:
        assert metric(exporter, "heartbeat_fleet_writer_process_up") == 1
        assert restarts(exporter) == 0
        before = len(exporter.log().splitlines())
        _answers, _killed_at, pid = kill_with_a_batch_in_hand(exporter)
        wait_for_restarts(exporter, 1)
        assert metric(exporter, "heartbeat_fleet_writer_process_up") == 1
        wait_until(lambda: metric(exporter, "heartbeat_fleet_database_up") == 1)
        wait_until(lambda: RECOVERY in exporter.log())
        during = exporter.log().splitlines()[before:]
    finally:
        stop_if_running(exporter)
    deaths = [line for line in during if DEATH.search(line)]
    assert len(deaths) == 1 and deaths[0].endswith(f"(pid {pid}) was killed by signal 9"), during
    assert sum(RECOVERY in line for line in during) == 1, during
    assert len(during) <= 6, "\n".join(during)  # not one line per failed request


def test_deaths_that_refuse_many_writes_are_one_warning_line_each(tmp_path: Path) -> None:
    database = database_for("postgresql", tmp_path)
    exporter = start_exporter(database, tmp_path)
    try:
        consoles = registered_consoles(exporter, QUEUED)
        before = len(exporter.log().splitlines())
        # The test locks the consoles' rows: a child's batch of their heartbeats waits on it.
        with psycopg.connect(database) as lock:
            lock.execute("SELECT id FROM consolas WHERE id = ANY(%s) FOR UPDATE", (consoles,))
            with ThreadPoolExecutor(QUEUED) as pool:
                futures = send_beats(exporter, pool, consoles, 1)
                first = writer_child(exporter)
                first.kill()  # with the first heartbeat's batch
                wait_for_restarts(exporter, 1)  # the new child holds all the others, waiting
                writer_child(exporter, other_than=first.pid).kill()
                answers = [f.result() for f in futures]
            lock.rollback()
        wait_for_restarts(exporter, 2)
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            assert send_beat(http, consoles[0], 2) == 200
        wait_until(lambda: metric(exporter, "heartbeat_fleet_database_up") == 1)
        wait_until(lambda: RECOVERY in exporter.log())
        during = exporter.log().splitlines()[before:]
    finally:
        stop_if_running(exporter)
    assert [a.status for a in answers] == [503] * QUEUED
    deaths = [line for line in during if DEATH.search(line)]
    assert 1 <= len(deaths) <= 2, during  # one a death, not one per refused write
    assert 1 <= sum(RECOVERY in line for line in during) <= len(deaths), during
    assert len(during) <= 8, "\n".join(during)


def test_a_crash_loop_restarts_at_most_about_once_a_second(
    sqlite_database: str, tmp_path: Path
) -> None:
    exporter = start_exporter(sqlite_database, tmp_path)
    try:
        child = writer_child(exporter)
        starts = [child.create_time()]
        seen_down = False
        for count in range(1, 6):
            child.kill()  # right after it (re)connected
            while restarts(exporter) != count:
                seen_down = seen_down or metric(exporter, "heartbeat_fleet_writer_process_up") == 0
                assert time.time() - starts[-1] < 10, "not restarted"
                time.sleep(0.02)
            child = writer_child(exporter, other_than=child.pid)
            starts.append(child.create_time())
        assert metric(exporter, "heartbeat_fleet_writer_process_up") == 1
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            assert register(http, str(uuid.uuid4())) == 201  # the last child applies a batch
        wait_until(lambda: RECOVERY in exporter.log())
        log = exporter.log()
    finally:
        stop_if_running(exporter)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.9, gaps
    assert seen_down, "heartbeat_fleet_writer_process_up never read 0 while it was down"
    # At most one warning per death (a run of deaths may be one), each run closed by one line.
    assert 1 <= log.count(RECOVERY) <= len(DEATH.findall(log)) <= 5, log


# -- 5. the thread writer ----------------------------------------------------------------------


def test_the_thread_writer_serves_without_a_child_or_its_series(
    sqlite_database: str, tmp_path: Path
) -> None:
    exporter = start_exporter(sqlite_database, tmp_path, "--writer", "thread")
    try:
        assert exporter.process is not None
        children = psutil.Process(exporter.process.pid).children()
        assert not [c for c in children if CHILD_MODULE in c.cmdline()]
        console = str(uuid.uuid4())
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            assert register(http, console) == 201
            assert send_beat(http, console, 3) == 200
            assert "writer_process" not in http.get("/metrics").text
        assert stored_beats(sqlite_database)[console] == 3
    finally:
        stop_if_running(exporter)
