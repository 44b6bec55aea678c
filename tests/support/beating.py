"""Consoles that beat over plain HTTP from threads of the test, and what the exporter says of
them: for fault tests that step, freeze or kill the exporter under a beating fleet."""

from __future__ import annotations

import threading
import uuid
from types import TracebackType
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: Seconds between two heartbeats of a :class:`Beating` console.
BEAT_SECONDS = 0.5


class Beating:
    """Consoles beating every :data:`BEAT_SECONDS`, one thread each; a failed or timed-out post
    is tried again at once, as a console retries (``failed`` counts them)."""

    def __init__(self, url: str, consoles: list[str]) -> None:
        self._url = url
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in consoles]
        self.failed = 0

    def _run(self, console: str) -> None:
        with httpx.Client(base_url=self._url, timeout=2) as http:
            while not self._stop.is_set():
                try:
                    http.post(f"/api/consolas/{console}/heartbeat", json={"estado": "activa"})
                except httpx.HTTPError:
                    self.failed += 1
                    continue
                self._stop.wait(BEAT_SECONDS)

    def __enter__(self) -> Beating:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


def register(http: httpx.Client, **extra: Any) -> str:
    """A new console registered over ``http`` (``extra`` keys added to the body); its id."""
    console = str(uuid.uuid4())
    body = {"id": console, "nombre": f"Consola {console[:8]}", "estado": "activa", **extra}
    assert http.post("/api/consolas/registrar", json=body).status_code == 201
    return console


def states(http: httpx.Client) -> dict[str, str]:
    """Every console's state, by id."""
    rows = http.get("/api/consolas", params={"limit": 10000}).json()["consolas"]
    return {row["id"]: row["estado"] for row in rows}


def silences(http: httpx.Client, console: str) -> int:
    """How often the console was marked ``inactiva`` for silence (its history)."""
    entries = http.get(f"/api/consolas/{console}/historial").json()["historial"]
    return sum(1 for e in entries if e["motivo"] == "silencio")


def counters(http: httpx.Client) -> dict[str, float]:
    """``kind`` -> ``heartbeat_fleet_clock_anomalies_total``, and ``marked`` -> marked_inactive."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "heartbeat_fleet_clock_anomalies_total":
                found[sample.labels["kind"]] = sample.value
            elif sample.name == "heartbeat_fleet_marked_inactive_total":
                found["marked"] = sample.value
    return found
