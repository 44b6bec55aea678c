"""The exporter as a real process: kill -9, SIGTERM, bad settings, a lost database, two of them."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.exporters import (
    HEARTBEAT_EXPORTER,
    ExporterProcess,
    run_exporter,
)
from tests.support.postgres import shared_postgres
from tests.support.tools import REPO_ROOT, wait_until


def registration(console_id: str) -> dict[str, object]:
    return {"id": console_id, "nombre": f"Consola {console_id[:8]}", "estado": "esperando"}


def test_every_acknowledged_registration_survives_kill_9(database: str, tmp_path: Path) -> None:
    exporter = ExporterProcess(database, log_path=tmp_path / "exporter.log").start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def flood() -> None:
        with httpx.Client(base_url=exporter.url, timeout=5) as client:
            while not stop.is_set():
                console = str(uuid.uuid4())
                try:
                    response = client.post("/api/consolas/registrar", json=registration(console))
                except httpx.HTTPError:
                    return  # the exporter is gone
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged.append(console)

    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(flood)
        wait_until(lambda: len(acknowledged) >= 300, timeout=30)
        exporter.kill()  # mid-flood: requests are in flight and batches uncommitted
        stop.set()
    exporter.restart()
    try:
        with httpx.Client(base_url=exporter.url, timeout=10) as client:
            stored = set()
            offset = 0
            while True:
                page = client.get("/api/consolas", params={"limit": 10000, "offset": offset})
                rows = page.json()["consolas"]
                stored |= {row["id"] for row in rows}
                if len(rows) < 10000:
                    break
                offset += len(rows)
        missing = set(acknowledged) - stored
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged lost"
    finally:
        exporter.stop()


def test_sigterm_drains_requests_commits_and_exits_zero(database: str) -> None:
    exporter = ExporterProcess(database).start()
    consoles = [str(uuid.uuid4()) for _ in range(20)]
    with httpx.Client(base_url=exporter.url, timeout=10) as client:
        for console in consoles:
            assert client.post("/api/consolas/registrar", json=registration(console)).is_success
    assert exporter.stop() == 0
    exporter.restart()
    try:
        with httpx.Client(base_url=exporter.url, timeout=10) as client:
            assert client.get("/api/consolas").json()["total"] == len(consoles)
            text = client.get("/metrics").text
            for console in consoles:  # last_seen survives the restart (it is in the database)
                assert f'heartbeat_fleet_last_seen_timestamp_seconds{{console_id="{console}"}}' in (
                    text
                )
    finally:
        exporter.stop()


def test_heartbeat_exporter_command_serves_the_api(tmp_path: Path) -> None:
    exporter = ExporterProcess(str(tmp_path / "c.db"), command=HEARTBEAT_EXPORTER)
    exporter.start()
    try:
        assert httpx.get(exporter.url + "/readyz", timeout=5).json()["database"] == "sqlite"
    finally:
        assert exporter.stop() == 0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "http"], {}, ["--port", "http"]),
        (["--inactive-after", "-5"], {}, ["--inactive-after", "-5"]),
        ([], {"HEARTBEAT_EXPORTER_PORT": "99999"}, ["HEARTBEAT_EXPORTER_PORT", "99999"]),
        ([], {"HEARTBEAT_EXPORTER_VIDEO_INFO": "maybe"}, ["HEARTBEAT_EXPORTER_VIDEO_INFO"]),
        (["--database", "/nonexistent/dir/c.db"], {}, ["--database", "/nonexistent/dir/c.db"]),
        (
            ["--database", "postgresql://nobody:secret@127.0.0.1:1/none"],
            {},
            ["--database", "127.0.0.1:1"],
        ),
    ],
)
def test_bad_setting_fails_at_start_naming_it_and_its_value(
    args: list[str], env: dict[str, str], named: list[str]
) -> None:
    result = run_cli("--port", "0", *args, env=env)
    assert result.returncode == 2, result.stderr
    for text in named:
        assert text in result.stderr
    assert "secret" not in result.stderr


def test_help_shows_every_default_and_env_variable() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for flag, env, default in (
        ("--port", "HEARTBEAT_EXPORTER_PORT", "3000"),
        ("--database", "HEARTBEAT_EXPORTER_DATABASE", "consolas.db"),
        ("--inactive-after", "HEARTBEAT_EXPORTER_INACTIVE_AFTER", "600"),
    ):
        assert flag in text
        assert f"(env {env}; default: {default})" in text


def test_lost_database_gives_503_and_readyz_says_why_then_recovers(
    own_postgres: object, tmp_path: Path
) -> None:
    from tests.support.postgres import RunningPostgres

    assert isinstance(own_postgres, RunningPostgres)
    database = own_postgres.create_database()
    with (
        run_exporter(database, ["--request-timeout", "5"]) as exporter,
        httpx.Client(base_url=exporter.url, timeout=20) as client,
    ):
        before = str(uuid.uuid4())
        assert client.post("/api/consolas/registrar", json=registration(before)).status_code == 201
        own_postgres.halt()
        started = time.monotonic()
        refused = client.post("/api/consolas/registrar", json=registration(str(uuid.uuid4())))
        assert refused.status_code == 503
        assert refused.json()["error"] == "database_unavailable"
        assert time.monotonic() - started < 15  # an answer, not a hang
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["message"]
        assert client.get("/api/consolas").status_code == 503
        assert "heartbeat_fleet_database_up 0.0" in client.get("/metrics").text
        own_postgres.resume()
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=20)
        after = str(uuid.uuid4())
        assert client.post("/api/consolas/registrar", json=registration(after)).status_code == 201
        assert client.get("/api/consolas").json()["total"] == 2


def test_two_exporters_on_one_postgres_record_each_silence_once() -> None:
    database = shared_postgres().create_database()
    args = ["--inactive-after", "1", "--sweep-interval", "0.05"]
    with run_exporter(database, args) as first, run_exporter(database, args) as second:
        consoles = [str(uuid.uuid4()) for _ in range(30)]
        with httpx.Client(timeout=10) as client:
            for index, console in enumerate(consoles):
                target = first if index % 2 else second
                response = client.post(
                    target.url + "/api/consolas/registrar", json=registration(console)
                )
                assert response.status_code == 201

            def all_inactive() -> bool:
                listing = client.get(first.url + "/api/consolas", params={"estado": "inactiva"})
                return bool(listing.json()["total"] == len(consoles))

            wait_until(all_inactive, timeout=30)
            time.sleep(0.3)  # a few more sweeps by both processes: none may add a row
            for console in consoles:
                entries = client.get(f"{second.url}/api/consolas/{console}/historial").json()
                silences = [e for e in entries["historial"] if e["motivo"] == "silencio"]
                assert len(silences) == 1, entries


def test_two_exporters_on_one_postgres_keep_one_consistent_history_chain() -> None:
    database = shared_postgres().create_database()
    states = ["activa", "ocupada", "esperando", "error"]
    with run_exporter(database) as first, run_exporter(database) as second:
        console = str(uuid.uuid4())
        created = httpx.post(
            first.url + "/api/consolas/registrar", json=registration(console), timeout=10
        )
        assert created.status_code == 201

        def send(worker: int) -> None:
            target = (first, second)[worker % 2]
            with httpx.Client(base_url=target.url, timeout=10) as client:
                for step in range(25):
                    estado = states[(worker + step) % len(states)]
                    response = client.post(
                        f"/api/consolas/{console}/heartbeat", json={"estado": estado}
                    )
                    assert response.status_code == 200

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(send, range(6)))
        history = httpx.get(
            f"{second.url}/api/consolas/{console}/historial", params={"limit": 1000}, timeout=10
        ).json()["historial"]
        final = httpx.get(f"{first.url}/api/consolas/{console}", timeout=10).json()["estado"]
    chain = list(reversed(history))  # oldest first
    assert chain[0]["estadoAnterior"] is None
    for before, after in itertools.pairwise(chain):
        assert after["estadoAnterior"] == before["estado"]  # no lost or doubled change
        assert after["estadoAnterior"] != after["estado"]
    assert chain[-1]["estado"] == final
