"""Two exporter processes on one PostgreSQL: no lost update, each state change recorded once.

Every console gets heartbeats with state changes through both exporters at the same time (one
client per exporter and console). Afterwards each console's history must be one unbroken chain
(every change starts from the state the previous one ended in: a lost update would break it),
the stored state must be the chain's end and the last acknowledged heartbeat of one of the two
clients, and when the consoles fall silent the sweepers of both processes mark each one once.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.exporters import ExporterProcess
from tests.support.postgres import shared_postgres
from tests.support.tools import wait_until

STATES = ("activa", "ocupada", "esperando", "error")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ExporterProcess, ExporterProcess]]:
    database = shared_postgres().create_database()
    args = ["--inactive-after", "3", "--sweep-interval", "0.05", "--max-batch", "64"]
    first = ExporterProcess(database, args, log_path=tmp_path / "first.log").start()
    second = ExporterProcess(database, args, log_path=tmp_path / "second.log").start()
    yield first, second
    for exporter in (first, second):
        exporter.stop()


class Client(threading.Thread):
    """Heartbeats for one console through one exporter, one at a time, with random states."""

    def __init__(self, url: str, console: str, beats: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.console = console
        self.beats = beats
        self.rng = random.Random(seed)
        self.last_acked: dict[str, Any] | None = None
        self.acked = 0
        self.statuses: list[int] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=20) as http:
            for index in range(self.beats):
                body = {
                    "estado": self.rng.choice(STATES),
                    "videoEnProceso": f"{self.name} {index}",
                }
                response = http.post(f"/api/consolas/{self.console}/heartbeat", json=body)
                self.statuses.append(response.status_code)
                if response.status_code == 200:
                    self.last_acked = body
                    self.acked += 1


def history(http: httpx.Client, console: str) -> list[dict[str, Any]]:
    entries = http.get(f"/api/consolas/{console}/historial", params={"limit": 10000})
    return list(reversed(entries.json()["historial"]))  # oldest first


def metric(http: httpx.Client, name: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing")


def check_two_exporters(
    pair: tuple[ExporterProcess, ExporterProcess], consoles: int, beats: int
) -> None:
    first, second = pair
    ids = [str(uuid.uuid4()) for _ in range(consoles)]
    with httpx.Client(timeout=20) as http:
        for index, console in enumerate(ids):
            target = (first, second)[index % 2]
            body = {"id": console, "nombre": f"Consola {index}", "estado": "esperando"}
            assert http.post(target.url + "/api/consolas/registrar", json=body).status_code == 201
    clients = [
        Client(exporter.url, console, beats, seed=hash((console, exporter.url)))
        for console in ids
        for exporter in (first, second)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(120)
    assert {status for c in clients for status in c.statuses} == {200}
    with httpx.Client(base_url=first.url, timeout=20) as http:
        for console in ids:
            mine = [c for c in clients if c.console == console]
            stored = http.get(f"/api/consolas/{console}").json()
            chain = history(http, console)
            check_chain(chain)
            assert stored["estado"] == chain[-1]["estado"]
            last = [
                (c.last_acked["estado"], c.last_acked["videoEnProceso"])
                for c in mine
                if c.last_acked
            ]
            assert (stored["estado"], stored["videoEnProceso"]) in last
            beats_recorded = sum(1 for e in chain if e["motivo"] == "heartbeat")
            assert beats_recorded <= sum(c.acked for c in mine)
        before_silence = {console: len(history(http, console)) for console in ids}
        # Silence: the sweepers of both processes race for every console; each is marked once.
        wait_until(
            lambda: (
                http.get("/api/consolas", params={"estado": "inactiva"}).json()["total"] == consoles
            ),
            timeout=30,
        )
        time.sleep(0.3)  # a few more sweeps by both processes: none may add a row
        silences = 0
        for console in ids:
            chain = history(http, console)
            check_chain(chain)
            added = chain[before_silence[console] :]
            assert [e["motivo"] for e in added] == ["silencio"], added
            silences += sum(1 for e in chain if e["motivo"] == "silencio")
    totals = []
    for exporter in pair:
        with httpx.Client(base_url=exporter.url, timeout=20) as http:
            totals.append(metric(http, "heartbeat_fleet_marked_inactive_total"))
    # Under heavy load a console may also have been silent for a while during the run; still
    # every marking is one history row by exactly one of the two processes.
    assert sum(totals) == silences, totals


def check_chain(chain: list[dict[str, Any]]) -> None:
    """One unbroken chain of real changes from the registration on."""
    assert (chain[0]["estadoAnterior"], chain[0]["estado"]) == (None, "esperando")
    for before, after in itertools.pairwise(chain):
        assert after["estadoAnterior"] == before["estado"], chain  # no lost update
        assert after["estadoAnterior"] != after["estado"], chain  # only real changes recorded


def test_two_exporters_on_one_postgres_lose_no_update_and_record_each_change_once(
    pair: tuple[ExporterProcess, ExporterProcess],
) -> None:
    check_two_exporters(pair, consoles=12, beats=40)


@pytest.mark.slow
def test_two_exporters_under_heavy_concurrent_changes_lose_no_update(
    pair: tuple[ExporterProcess, ExporterProcess],
) -> None:
    check_two_exporters(pair, consoles=60, beats=300)
