"""The exporter frozen for 15 s (SIGSTOP, then SIGCONT) while consoles keep trying: no page storm.

The same problem as kubernetes#108844: a controller that did not run judges everyone by the time
it lost. The exporter notices the gap on its monotonic clock and gives every console a new grace
period, so the consoles that kept trying are not marked, and the one that died meanwhile is marked
once that grace is over.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.exporters import ExporterProcess
from tests.support.tools import wait_until

INACTIVE_AFTER = 3.0
FREEZE_SECONDS = 15.0
BEAT_SECONDS = 0.5


class Beating:
    """Consoles beating every BEAT_SECONDS, one thread each; a failed or timed-out post is tried
    again at once, as a console retries (``failed`` counts them)."""

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
def exporter(tmp_path: Path) -> Iterator[ExporterProcess]:
    args = ["--inactive-after", str(INACTIVE_AFTER), "--sweep-interval", "0.1"]
    running = ExporterProcess(str(tmp_path / "c.db"), args, log_path=tmp_path / "exporter.log")
    running.start()
    yield running
    assert running.process is not None
    os.kill(running.process.pid, signal.SIGCONT)  # never leave it stopped
    running.stop()


def test_a_frozen_exporter_marks_no_console_that_kept_trying_and_still_the_one_that_died(
    exporter: ExporterProcess,
) -> None:
    assert exporter.process is not None
    with httpx.Client(base_url=exporter.url, timeout=5) as http:
        trying = [register(http) for _ in range(4)]
        dying = register(http)
        with Beating(exporter.url, trying) as beating:
            with Beating(exporter.url, [dying]):
                time.sleep(INACTIVE_AFTER + 1)  # past the start grace, all beating
                assert set(states(http).values()) == {"activa"}
                assert counters(http) == {"step": 0.0, "stall": 0.0, "marked": 0.0}
            os.kill(exporter.process.pid, signal.SIGSTOP)  # `dying` died just before
            time.sleep(FREEZE_SECONDS)
            os.kill(exporter.process.pid, signal.SIGCONT)
            resumed = time.monotonic()
            wait_until(lambda: states(http)[dying] == "inactiva", timeout=15, interval=0.02)
            marked_after = time.monotonic() - resumed
            time.sleep(1.0)  # ten more sweeps
            final = states(http)
            assert beating.failed > 0  # they did keep trying during the freeze
            assert [c for c in trying if final[c] != "activa"] == []
            assert [silences(http, c) for c in trying] == [0] * len(trying)
            assert silences(http, dying) == 1
            assert counters(http) == {"step": 0.0, "stall": 1.0, "marked": 1.0}
    lines = [line for line in exporter.log().splitlines() if "grace period of" in line]
    assert len(lines) == 1, lines
    logged = re.search(r"did not run for ([\d.]+) s", lines[0])
    assert logged is not None
    stalled = float(logged.group(1))
    print(
        f"frozen {FREEZE_SECONDS:.0f} s: logged a stall of {stalled:.1f} s; {beating.failed} posts"
        f" failed meanwhile; the dead console marked {marked_after:.2f} s after SIGCONT"
    )
    assert FREEZE_SECONDS <= stalled < FREEZE_SECONDS + 2.0
    assert INACTIVE_AFTER <= marked_after < INACTIVE_AFTER + 2.0
