"""The database unreachable under a running exporter: 503 in bounded time, /readyz says why, and
it recovers by itself once PostgreSQL is back — whether the server is down (connections refused)
or frozen (connections open but silent, the way a network partition looks)."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from exporter.config import ExporterConfig
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter, ExporterProcess, run_exporter
from tests.support.postgres import RunningPostgres, start_postgres
from tests.support.tools import free_port, wait_until

REQUEST_TIMEOUT = 2.0
#: The most any answer may take while the database is away (request timeout plus slack).
BOUND = REQUEST_TIMEOUT + 3.0


@pytest.fixture(scope="module")
def postgres() -> Iterator[RunningPostgres]:
    server = start_postgres()
    yield server
    server.stop()


def postgres_processes(server: RunningPostgres) -> list[psutil.Process]:
    pid = int((server.workdir / "data" / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


@contextmanager
def frozen(server: RunningPostgres) -> Iterator[None]:
    """SIGSTOP every PostgreSQL process: sockets stay open, nothing answers."""
    processes = postgres_processes(server)
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)
        # runuser (when the tests run as root) stops itself when its child stops: wake it too.
        server.process.send_signal(signal.SIGCONT)


@contextmanager
def halted(server: RunningPostgres) -> Iterator[None]:
    """Stop the server (connections refused), start it again on the same data afterwards."""
    server.halt()
    try:
        yield
    finally:
        server.resume()


def registration(console: str) -> dict[str, object]:
    return {"id": console, "nombre": f"Consola {console[:8]}", "estado": "esperando"}


def timed(call: Callable[[], httpx.Response]) -> tuple[int, float, httpx.Response]:
    started = time.monotonic()
    response = call()
    return response.status_code, time.monotonic() - started, response


def requests_during_outage(exporter: ExporterProcess, known: str) -> list[tuple[str, int, float]]:
    """Writes and reads from several clients at once: (what, status, seconds) for each."""

    def one(what: str) -> tuple[str, int, float]:
        with httpx.Client(base_url=exporter.url, timeout=BOUND * 4) as http:
            calls: dict[str, Callable[[], httpx.Response]] = {
                "heartbeat": lambda: http.post(
                    f"/api/consolas/{known}/heartbeat", json={"estado": "ocupada"}
                ),
                "registrar": lambda: http.post(
                    "/api/consolas/registrar", json=registration(str(uuid.uuid4()))
                ),
                "consola": lambda: http.get(f"/api/consolas/{known}"),
                "consolas": lambda: http.get("/api/consolas"),
                "readyz": lambda: http.get("/readyz"),
            }
            status, seconds, _ = timed(calls[what])
            return what, status, seconds

    kinds = ["heartbeat", "registrar", "consola", "consolas", "readyz"] * 3
    with ThreadPoolExecutor(len(kinds)) as pool:
        return list(pool.map(one, kinds))


def warm_up_readers(exporter: ExporterProcess, known: str) -> None:
    """Concurrent reads, so the exporter holds idle pooled connections (as scrapes leave it)."""

    def read(path: str) -> int:
        with httpx.Client(base_url=exporter.url, timeout=10) as http:
            return http.get(path).status_code

    paths = ["/api/consolas", f"/api/consolas/{known}", "/metrics", "/readyz"] * 3
    with ThreadPoolExecutor(len(paths)) as pool:
        assert set(pool.map(read, paths)) == {200}


def check_outage_and_recovery(
    postgres: RunningPostgres,
    tmp_path: Path,
    outage: Callable[[RunningPostgres], AbstractContextManager[None]],
) -> None:
    database = postgres.create_database()
    args = ["--request-timeout", str(REQUEST_TIMEOUT), "--sweep-interval", "0.2"]
    with (
        run_exporter(database, args, log_path=tmp_path / "exporter.log") as exporter,
        httpx.Client(base_url=exporter.url, timeout=BOUND * 4) as http,
    ):
        known = str(uuid.uuid4())
        assert http.post("/api/consolas/registrar", json=registration(known)).status_code == 201
        beat = http.post(f"/api/consolas/{known}/heartbeat", json={"estado": "activa"})
        assert beat.status_code == 200
        warm_up_readers(exporter, known)
        with outage(postgres):
            results = requests_during_outage(exporter, known)
            assert {status for _, status, _ in results} == {503}, results
            assert max(seconds for _, _, seconds in results) < BOUND, results
            status, seconds, ready = timed(lambda: http.get("/readyz"))
            assert (status, ready.json()["error"]) == (503, "database_unavailable")
            assert "PostgreSQL" in ready.json()["message"] or "database" in ready.json()["message"]
            status, seconds, metrics = timed(lambda: http.get("/metrics"))
            assert status == 200 and seconds < BOUND
            assert "heartbeat_fleet_database_up 0.0" in metrics.text
            assert exporter.process is not None and exporter.process.poll() is None
        # Back without a restart of the exporter.
        wait_until(lambda: http.get("/readyz").status_code == 200, timeout=30)
        wait_until(
            lambda: (
                http.post(f"/api/consolas/{known}/heartbeat", json={"estado": "error"}).status_code
                == 200
            ),
            timeout=30,
        )
        assert http.get(f"/api/consolas/{known}").json()["estado"] == "error"
        assert http.get("/api/consolas").status_code == 200
        assert "heartbeat_fleet_database_up 1.0" in http.get("/metrics").text
        assert "Traceback" not in exporter.log()


def test_database_down_gives_bounded_503s_readyz_reason_and_self_recovery(
    postgres: RunningPostgres, tmp_path: Path
) -> None:
    check_outage_and_recovery(postgres, tmp_path, halted)


def test_database_frozen_gives_bounded_503s_readyz_reason_and_self_recovery(
    postgres: RunningPostgres, tmp_path: Path
) -> None:
    check_outage_and_recovery(postgres, tmp_path, frozen)


@pytest.mark.slow
def test_no_request_during_a_database_outage_is_answered_500(
    postgres: RunningPostgres, tmp_path: Path
) -> None:
    database = postgres.create_database()
    args = ["--request-timeout", str(REQUEST_TIMEOUT)]
    statuses: list[int] = []
    stop = threading.Event()

    def hammer(url: str) -> None:
        with httpx.Client(base_url=url, timeout=BOUND * 4) as http:
            while not stop.is_set():
                console = str(uuid.uuid4())
                statuses.append(
                    http.post("/api/consolas/registrar", json=registration(console)).status_code
                )
                statuses.append(http.get("/api/consolas/estadisticas").status_code)

    with run_exporter(database, args, log_path=tmp_path / "exporter.log") as exporter:
        threads = [threading.Thread(target=hammer, args=(exporter.url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(statuses) > 50)
            with halted(postgres):
                wait_until(lambda: statuses[-8:].count(503) == 8, timeout=20)
            wait_until(lambda: statuses[-8:].count(201) + statuses[-8:].count(200) == 8, timeout=30)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
    assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    assert 503 in statuses


@pytest.mark.parametrize(
    "outage",
    [pytest.param(halted, id="down"), pytest.param(frozen, id="frozen", marks=pytest.mark.slow)],
)
def test_consoles_silent_only_during_a_database_outage_get_a_grace_after_it(
    postgres: RunningPostgres, outage: Callable[[RunningPostgres], AbstractContextManager[None]]
) -> None:
    """A database outage longer than the threshold is an API outage for the consoles: when it
    ends, the fleet is not declared dead before it had one threshold to beat again."""
    threshold = 600.0
    clock = ManualClock(start=1_800_000_000.0)
    config = ExporterConfig(
        database=postgres.create_database(),
        port=free_port(),
        sweep_interval=0.02,
        inactive_after=threshold,
        request_timeout=REQUEST_TIMEOUT,
    )
    with (
        EmbeddedExporter(config, clock=clock) as exporter,
        httpx.Client(base_url=exporter.url, timeout=BOUND * 4) as http,
    ):
        consoles = [str(uuid.uuid4()) for _ in range(6)]
        for console in consoles:
            assert http.post("/api/consolas/registrar", json=registration(console)).is_success
        resumed, dead = consoles[:-1], consoles[-1]
        clock.advance(threshold + 1)  # past the start grace: the sweeper is fully armed
        for console in consoles:
            beat = http.post(f"/api/consolas/{console}/heartbeat", json={"estado": "activa"})
            assert beat.status_code == 200
        with outage(postgres):
            beat = http.post(f"/api/consolas/{resumed[0]}/heartbeat", json={"estado": "activa"})
            assert beat.status_code == 503
            wait_until(lambda: http.get("/readyz").status_code == 503, timeout=BOUND * 2)
            time.sleep(REQUEST_TIMEOUT)  # a sweep queued as it began has given up by now
            clock.advance(3 * threshold)  # the consoles' beats fail with 503 all along
        wait_until(lambda: http.get("/readyz").status_code == 200, timeout=30)
        target = exporter.service.sweeps + 3
        wait_until(lambda: exporter.service.sweeps >= target, timeout=30)
        estados = {c: http.get(f"/api/consolas/{c}").json()["estado"] for c in consoles}
        assert set(estados.values()) == {"activa"}, "the whole fleet declared dead"
        for console in resumed:  # back within their retry interval, and beating on
            beat = http.post(f"/api/consolas/{console}/heartbeat", json={"estado": "activa"})
            assert beat.status_code == 200
        clock.advance(threshold - 1)
        for console in resumed:
            beat = http.post(f"/api/consolas/{console}/heartbeat", json={"estado": "activa"})
            assert beat.status_code == 200
        clock.advance(2)  # one threshold after the database came back: the grace is over
        wait_until(lambda: http.get(f"/api/consolas/{dead}").json()["estado"] == "inactiva")
        for console in resumed:
            assert http.get(f"/api/consolas/{console}").json()["estado"] == "activa"
