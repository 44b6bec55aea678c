"""Writes over HTTP from threads of the test, and a check that every acknowledged one is stored.

For fault tests that kill or stop parts of a real exporter under load. Each client thread owns
a few consoles and sends to each one request at a time, so the stored heartbeat of a console is
its last acknowledged one or the one unanswered request sent after it; it also registers new
consoles. The database is read directly (:func:`stored_beats`), not through the exporter.
"""

from __future__ import annotations

import collections
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from exporter.storage import open_storage

CLIENTS = 8
CONSOLES_PER_CLIENT = 3
#: Requests per client thread, at most: the loads stay bounded.
REQUESTS_PER_CLIENT = 400
#: How long a client waits for an answer (longer than the exporters' --request-timeout).
CLIENT_TIMEOUT = 25.0


def beat(seq: int) -> dict[str, Any]:
    """Heartbeat number ``seq``: the stored row names it."""
    return {"estado": "ocupada", "videoEnProceso": f"video {seq}"}


def registration(console: str) -> dict[str, Any]:
    return {"id": console, "nombre": f"Consola {console[:8]}", "estado": "esperando"}


def register(http: httpx.Client, console: str) -> int:
    return http.post("/api/consolas/registrar", json=registration(console)).status_code


def send_beat(http: httpx.Client, console: str, seq: int) -> int:
    return http.post(f"/api/consolas/{console}/heartbeat", json=beat(seq)).status_code


@dataclass
class Flood:
    """Client threads registering and beating over HTTP; what each write was answered."""

    url: str
    sent: dict[str, int] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)
    registered: set[str] = field(default_factory=set)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    transport_errors: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def acks(self) -> int:
        return self.statuses[200] + self.statuses[201]

    def start(self) -> Flood:
        self.threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self.threads), "a client hung"

    def _client(self) -> None:
        own = [str(uuid.uuid4()) for _ in range(CONSOLES_PER_CLIENT)]
        with self.lock:
            self.sent.update(dict.fromkeys(own, -1))
            self.acked.update(dict.fromkeys(own, -1))
        with httpx.Client(base_url=self.url, timeout=CLIENT_TIMEOUT) as http:
            for step in range(REQUESTS_PER_CLIENT):
                if self.stop.is_set():
                    return
                console = own[step % len(own)]
                try:
                    if step % 4 == 3:
                        self._register(http, str(uuid.uuid4()))
                    elif console not in self.registered:
                        self._register(http, console)
                    else:
                        self._beat(http, console)
                except httpx.HTTPError:
                    with self.lock:
                        self.transport_errors += 1
                    return  # the exporter is gone

    def _register(self, http: httpx.Client, console: str) -> None:
        status = register(http, console)
        with self.lock:
            self.statuses[status] += 1
            if status in (200, 201):
                self.registered.add(console)

    def _beat(self, http: httpx.Client, console: str) -> None:
        seq = self.sent[console] + 1
        self.sent[console] = seq
        status = send_beat(http, console, seq)
        with self.lock:
            self.statuses[status] += 1
            if status == 200:
                self.acked[console] = seq


def stored_beats(database: str) -> dict[str, int]:
    """Each console in the database (read directly) and its heartbeat's number (-1: none)."""
    storage = open_storage(database)
    try:
        rows, _total = storage.list_consoles(None, 1_000_000, 0)
    finally:
        storage.close()
    return {
        row.id: -1 if row.video_en_proceso is None else int(row.video_en_proceso.split()[1])
        for row in rows
    }


def check_every_acknowledged_write_is_stored(database: str, flood: Flood) -> None:
    stored = stored_beats(database)
    missing = flood.registered - stored.keys()
    assert not missing, f"{len(missing)} of {len(flood.registered)} acknowledged registrations lost"
    for console, acked in flood.acked.items():
        if acked >= 0:
            assert acked <= stored[console] <= flood.sent[console], (console, acked, stored)
