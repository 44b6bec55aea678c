"""SIGKILL under load: every registration and heartbeat that got a 2xx is there after a restart.

Each client thread owns a few consoles and sends to each one request at a time, so per console
at most one request is in flight when the exporter dies: the stored heartbeat must be the last
acknowledged one, or the single unacknowledged one sent after it (committed, answer lost).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.exporters import ExporterProcess
from tests.support.tools import wait_until

CLIENTS = 8
CONSOLES_PER_CLIENT = 4
STATES = ("activa", "ocupada", "esperando", "error")


def beat_body(seq: int) -> dict[str, Any]:
    """Heartbeat number ``seq``: every field derives from it, so the stored row names it."""
    return {
        "estado": STATES[seq % len(STATES)],
        "videoEnProceso": f"video {seq}",
        "ultimoError": {"seq": seq},
        "sistema": {"hostname": f"host-{seq}", "cpus": seq},
    }


def stored_seq(console: dict[str, Any]) -> int:
    """The sequence number of the heartbeat a console row holds (-1: only its registration)."""
    if console["videoEnProceso"] is None:
        return -1
    seq = int(console["videoEnProceso"].split()[1])
    assert console["estado"] == STATES[seq % len(STATES)], console
    assert console["ultimoError"] == {"seq": seq}, console
    assert console["sistema"]["hostname"] == f"host-{seq}", console
    assert console["sistema"]["cpus"] == seq, console
    return seq


@dataclass
class ConsoleLog:
    """What one client knows about one console: last acknowledged and last sent heartbeat."""

    registered: bool = False
    acked: int = -1
    sent: int = -1


@dataclass
class Load:
    """Concurrent clients registering new consoles and beating for their own ones."""

    url: str
    consoles: dict[str, ConsoleLog] = field(default_factory=dict)
    new_registrations: list[str] = field(default_factory=list)
    acks: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, index: int) -> None:
        own = [str(uuid.uuid4()) for _ in range(CONSOLES_PER_CLIENT)]
        with self.lock:
            for console in own:
                self.consoles[console] = ConsoleLog()
        try:
            with httpx.Client(base_url=self.url, timeout=10) as http:
                while not self.stop.is_set():
                    for console in own:
                        self._step(http, console)
                    self._register_new(http)
        except httpx.HTTPError:
            return  # the exporter is gone

    def _step(self, http: httpx.Client, console: str) -> None:
        log = self.consoles[console]
        if not log.registered:
            body = {"id": console, "nombre": f"Consola {console[:8]}", "estado": "esperando"}
            if http.post("/api/consolas/registrar", json=body).status_code in (200, 201):
                log.registered = True
            return
        seq = log.sent + 1
        log.sent = seq
        response = http.post(f"/api/consolas/{console}/heartbeat", json=beat_body(seq))
        if response.status_code == 200:
            log.acked = seq
            with self.lock:
                self.acks += 1

    def _register_new(self, http: httpx.Client) -> None:
        console = str(uuid.uuid4())
        body = {"id": console, "nombre": "nueva", "estado": "activa"}
        if http.post("/api/consolas/registrar", json=body).status_code in (200, 201):
            with self.lock:
                self.new_registrations.append(console)


def all_consoles(http: httpx.Client) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        rows = http.get("/api/consolas", params={"limit": 10000, "offset": offset}).json()
        found.update((row["id"], row) for row in rows["consolas"])
        if len(rows["consolas"]) < 10000:
            return found
        offset += 10000


def kill_under_load(exporter: ExporterProcess, load: Load, min_acks: int) -> None:
    threads = [threading.Thread(target=load.client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    target = load.acks + min_acks
    try:
        wait_until(lambda: load.acks >= target, timeout=60)
    finally:
        exporter.kill()  # mid-flood: requests in flight, a batch possibly half-applied
        load.stop.set()
        for thread in threads:
            thread.join(15)
    load.stop.clear()


def check_nothing_acknowledged_is_lost(exporter: ExporterProcess, load: Load) -> None:
    with httpx.Client(base_url=exporter.url, timeout=10) as http:
        stored = all_consoles(http)
    missing = [c for c in load.new_registrations if c not in stored]
    assert not missing, f"{len(missing)} of {len(load.new_registrations)} registrations lost"
    for console, log in load.consoles.items():
        if log.acked == -1 and not log.registered:
            continue
        assert console in stored, f"registered console {console} lost"
        seq = stored_seq(stored[console])
        # The last acknowledged heartbeat, or the one unacknowledged request sent after it.
        assert log.acked <= seq <= log.sent, (console, log, seq)


def run_kill_rounds(database: str, tmp_path: Path, rounds: int, min_acks: int) -> None:
    exporter = ExporterProcess(database, log_path=tmp_path / "exporter.log").start()
    load = Load(exporter.url)
    try:
        for _ in range(rounds):
            kill_under_load(exporter, load, min_acks)
            exporter.restart()
            check_nothing_acknowledged_is_lost(exporter, load)
        assert load.acks >= rounds * min_acks
    finally:
        if exporter.process is not None and exporter.process.poll() is None:
            exporter.stop()


def test_every_acknowledged_heartbeat_and_registration_survives_sigkill_under_load(
    database: str, tmp_path: Path
) -> None:
    run_kill_rounds(database, tmp_path, rounds=1, min_acks=400)


@pytest.mark.slow
def test_repeated_sigkills_under_heavy_load_lose_nothing_acknowledged(
    database: str, tmp_path: Path
) -> None:
    run_kill_rounds(database, tmp_path, rounds=6, min_acks=3000)
