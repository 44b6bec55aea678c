"""A database outage under load writes a handful of log lines, not one per refused request."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.exporters import run_exporter
from tests.support.postgres import RunningPostgres
from tests.support.tools import wait_until

REFUSED_WRITES = 3000
MAX_LOG_LINES = 200


def test_3000_refused_writes_leave_few_log_lines_and_one_recovery_line(
    own_postgres: RunningPostgres, tmp_path: Path
) -> None:
    postgres = own_postgres
    database = postgres.create_database()
    log_path = tmp_path / "exporter.log"
    args = ["--request-timeout", "2", "--sweep-interval", "0.2"]
    with run_exporter(database, args, log_path=log_path) as exporter:
        console = str(uuid.uuid4())
        body = {"id": console, "nombre": "Consola", "estado": "activa"}
        assert httpx.post(f"{exporter.url}/api/consolas/registrar", json=body).status_code == 201
        before = len(log_path.read_text().splitlines())
        postgres.halt()
        try:

            def refused(count: int) -> list[int]:
                with httpx.Client(base_url=exporter.url, timeout=10) as http:
                    path = f"/api/consolas/{console}/heartbeat"
                    return [
                        http.post(path, json={"estado": "activa"}).status_code for _ in range(count)
                    ]

            with ThreadPoolExecutor(8) as pool:
                statuses = [
                    s for part in pool.map(refused, [REFUSED_WRITES // 8] * 8) for s in part
                ]
        finally:
            postgres.resume()
        assert statuses == [503] * REFUSED_WRITES
        wait_until(
            lambda: (
                httpx.post(
                    f"{exporter.url}/api/consolas/{console}/heartbeat", json={"estado": "activa"}
                ).status_code
                == 200
            ),
            timeout=30,
        )
        wait_until(lambda: "recovered after" in log_path.read_text(), timeout=10)
        during = log_path.read_text().splitlines()[before:]
    print(f"{REFUSED_WRITES} refused writes, {len(during)} log lines")
    assert len(during) <= MAX_LOG_LINES, "\n".join(during[:20])
    assert sum("write batches refused by the database:" in line for line in during) >= 1
    assert sum("recovered after" in line for line in during) >= 1
