"""The exporter's wall clock steps an hour (libfaketime on a real subprocess): no page storm.

Consoles beat over HTTP every 0.5 s against a 3 s silence threshold while the test steps the
exporter's wall clock an hour forward or back (its monotonic clock keeps running, as with a real
step). Every console that keeps beating stays as it was, the exporter logs the step once and
counts it, and a console that stops beating at the step is still marked once the grace is over.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.exporters import ExporterProcess
from tests.support.faketime import SteppableClock, require_libfaketime
from tests.support.tools import wait_until

INACTIVE_AFTER = 3.0
ARGS = ["--inactive-after", "3", "--sweep-interval", "0.1"]
BEAT_SECONDS = 0.5


class Beating:
    """Consoles beating every BEAT_SECONDS, one thread each (failed posts are retried)."""

    def __init__(self, url: str, consoles: list[str]) -> None:
        self._url = url
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in consoles]

    def _run(self, console: str) -> None:
        with httpx.Client(base_url=self._url, timeout=2) as http:
            while not self._stop.is_set():
                try:
                    http.post(f"/api/consolas/{console}/heartbeat", json={"estado": "activa"})
                except httpx.HTTPError:
                    continue  # as a console does: try again
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


def register(http: httpx.Client) -> str:
    console = str(uuid.uuid4())
    body = {"id": console, "nombre": f"Consola {console[:8]}", "estado": "activa"}
    assert http.post("/api/consolas/registrar", json=body).status_code == 201
    return console


def states(http: httpx.Client) -> dict[str, str]:
    rows = http.get("/api/consolas", params={"limit": 10000}).json()["consolas"]
    return {row["id"]: row["estado"] for row in rows}


def silences(http: httpx.Client, console: str) -> int:
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


@pytest.fixture
def steppable(tmp_path: Path) -> SteppableClock:
    return SteppableClock(require_libfaketime(), tmp_path)


@pytest.mark.parametrize("step", [3600, -3600], ids=["forward", "back"])
def test_an_hour_step_of_the_exporters_clock_marks_only_the_console_that_stopped_after_the_grace(
    tmp_path: Path, steppable: SteppableClock, step: int
) -> None:
    log_path = tmp_path / "exporter.log"
    exporter = ExporterProcess(str(tmp_path / "c.db"), ARGS, env=steppable.env(), log_path=log_path)
    exporter.start()
    try:
        with httpx.Client(base_url=exporter.url, timeout=5) as http:
            alive = [register(http) for _ in range(5)]
            stopping = register(http)
            with Beating(exporter.url, alive):
                with Beating(exporter.url, [stopping]):
                    time.sleep(INACTIVE_AFTER + 1)  # past the start grace, all beating
                    assert set(states(http).values()) == {"activa"}
                    assert counters(http) == {"step": 0.0, "stall": 0.0, "marked": 0.0}
                steppable.step(step)  # `stopping` sent its last beat just before the step
                stepped = time.monotonic()
                wait_until(lambda: states(http)[stopping] == "inactiva", timeout=15, interval=0.02)
                marked_after = time.monotonic() - stepped
                time.sleep(1.0)  # ten more sweeps
                final = states(http)
                assert [c for c in alive if final[c] != "activa"] == []
                assert [silences(http, c) for c in alive] == [0] * len(alive)
                assert silences(http, stopping) == 1
                assert counters(http) == {"step": 1.0, "stall": 0.0, "marked": 1.0}
    finally:
        exporter.stop()
    lines = [line for line in exporter.log().splitlines() if "grace period of" in line]
    assert len(lines) == 1, lines
    assert "wall clock stepped" in lines[0] and "did not run" not in exporter.log()
    logged = re.search(r"stepped ([+-][\d.]+) s", lines[0])
    assert logged is not None
    jump = float(logged.group(1))
    print(f"step {step:+d} s: logged {jump:+.1f} s; stopped console marked {marked_after:.2f} s on")
    assert abs(jump - step) < 1.0
    # not before the grace (one threshold from the step), and soon after it
    assert INACTIVE_AFTER <= marked_after < INACTIVE_AFTER + 2.0
