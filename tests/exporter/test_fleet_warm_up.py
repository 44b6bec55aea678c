"""The fleet /metrics is read at start: /readyz answers 503 ``warming_up`` until it is, and the
first scrape after start shows exactly what the database holds, as a later one does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from consola_wire import Registration
from exporter.storage import open_storage
from exporter.storage.records import FleetRow, RegisterOp
from tests.support.exporters import run_exporter
from tests.support.exposition import parsed, reference
from tests.support.postgres import shared_postgres
from tests.support.tools import wait_until

#: Enough consoles that the start-up read is real work, few enough for a quick test.
CONSOLES = 3000
ARGS = ["--sweep-interval", "3600"]


def console_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012x}"


def fill(database: str, count: int) -> None:
    """Register ``count`` consoles straight into the database, as a previous exporter did."""
    now = datetime.now(UTC).timestamp()
    storage = open_storage(database, "normal")
    try:
        ops = [
            RegisterOp(
                Registration(
                    console_id=console_id(i),
                    nombre=f"Consola {i}",
                    estado=("esperando", "ocupada", "error")[i % 3],
                    sistema={"hostname": f"host-{i}", "platform": "linux"},
                    ultima_actividad=datetime.fromtimestamp(now - i, UTC),
                    interval_seconds=300.0,
                ),
                now - i,
                600.0,
            )
            for i in range(count)
        ]
        for start in range(0, count, 500):
            storage.write_batch(ops[start : start + 500])
    finally:
        storage.close()


def stored_rows(database: str) -> list[FleetRow]:
    """Every console as the fleet read returns it, from the database itself."""
    storage = open_storage(database, "normal")
    try:
        return storage.fleet_changes(None, list).rows
    finally:
        storage.close()


def per_console(text: str) -> dict[str, object]:
    """The per-console families of an exposition (those of the from-scratch reference)."""
    families = parsed(text)
    return {name: families.get(name) for name in parsed(reference([], video_info=True))}


def test_first_scrape_after_start_matches_the_database_and_a_later_scrape(
    database: str, tmp_path: Path
) -> None:
    fill(database, CONSOLES)
    log_path = tmp_path / "exporter.log"
    with (
        run_exporter(database, ARGS, log_path=log_path) as exporter,
        httpx.Client(base_url=exporter.url, timeout=30) as http,
    ):
        wait_until(lambda: http.get("/readyz").status_code == 200, timeout=60)
        assert f"fleet /metrics ready: {CONSOLES} consoles read" in exporter.log()
        first = per_console(http.get("/metrics").text)
        expected = per_console(reference(stored_rows(database), video_info=True))
        assert first == expected
        assert first == per_console(http.get("/metrics").text)
        # A write after the start-up read shows in the next scrape.
        changed = console_id(7)
        answer = http.post(f"/api/consolas/{changed}/heartbeat", json={"estado": "activa"})
        assert answer.status_code == 200
        after = per_console(http.get("/metrics").text)
    assert after != first
    assert after == per_console(reference(stored_rows(database), video_info=True))


def test_readyz_says_warming_up_until_the_fleet_is_read_while_the_api_answers(
    tmp_path: Path,
) -> None:
    """PostgreSQL, with the consoles table locked by another session: the exporter starts and
    answers, its database answers ``SELECT 1``, but the fleet cannot be read yet."""
    database = shared_postgres().create_database()
    fill(database, CONSOLES)
    locker = psycopg.connect(database)  # not autocommit: the lock holds until commit()
    try:
        locker.execute("LOCK TABLE consolas IN ACCESS EXCLUSIVE MODE")
        with (
            run_exporter(database, ARGS, log_path=tmp_path / "exporter.log") as exporter,
            httpx.Client(base_url=exporter.url, timeout=30) as http,
        ):
            assert http.get("/healthz").status_code == 200
            for _ in range(3):
                waiting = http.get("/readyz")
                assert waiting.status_code == 503
                assert waiting.json()["error"] == "warming_up"
            locker.commit()  # the lock is released: the start-up read goes on
            wait_until(lambda: http.get("/readyz").status_code == 200, timeout=30)
            assert http.get("/readyz").json() == {"status": "ready", "database": "postgresql"}
            text = http.get("/metrics").text
    finally:
        locker.close()
    assert per_console(text) == per_console(reference(stored_rows(database), video_info=True))
