"""The exporter down for longer than the silence threshold, then back: a grace period, no storm.

On start the exporter gives every console its own threshold again before it may be marked
``inactiva``: consoles that resume beating stay alive, a console that really is dead is marked
once the grace is over (not before), and nothing pages for the consoles that came back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.beating import register, silences, states
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter, ExporterProcess, exporter_config
from tests.support.prometheus import ScrapeJob, run_prometheus
from tests.support.tools import REPO_ROOT, wait_until

INACTIVE_AFTER = 600.0
RULES = REPO_ROOT / "alerts" / "heartbeat-rules.yml"


def start(database: str, clock: ManualClock) -> EmbeddedExporter:
    config = exporter_config(database, sweep_interval=0.02, inactive_after=INACTIVE_AFTER)
    return EmbeddedExporter(config, clock=clock).start()


def sweeps(exporter: EmbeddedExporter, count: int = 3) -> None:
    target = exporter.service.sweeps + count
    wait_until(lambda: exporter.service.sweeps >= target)


def marked_total(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("heartbeat_fleet_marked_inactive_total "):
            return float(line.split()[1])
    raise AssertionError("heartbeat_fleet_marked_inactive_total missing")


def test_after_a_long_exporter_outage_only_the_really_dead_console_is_marked_after_the_grace(
    database: str, clock: ManualClock
) -> None:
    first = start(database, clock)
    with httpx.Client(base_url=first.url, timeout=10) as http:
        resumed = [register(http) for _ in range(8)]
        dead = register(http)
        fast_dead = register(http, intervaloSegundos=30)  # its own threshold: 60 s
    first.stop()
    clock.advance(5 * INACTIVE_AFTER)  # the exporter was down five thresholds long
    second = start(database, clock)
    try:
        with httpx.Client(base_url=second.url, timeout=10) as http:
            sweeps(second)
            assert set(states(http).values()) == {"activa"}, "the whole fleet declared dead"
            clock.advance(61)  # past the fast console's own grace only
            wait_until(lambda: states(http)[fast_dead] == "inactiva")
            assert states(http)[dead] == "activa"
            for console in resumed:  # they resume within one interval of the restart
                beat = http.post(f"/api/consolas/{console}/heartbeat", json={"estado": "ocupada"})
                assert beat.status_code == 200
            clock.advance(INACTIVE_AFTER - 61 - 2)  # just before the grace ends
            sweeps(second)
            assert states(http)[dead] == "activa"
            for console in resumed:
                assert http.post(
                    f"/api/consolas/{console}/heartbeat", json={"estado": "ocupada"}
                ).is_success
            clock.advance(3)  # the grace is over
            wait_until(lambda: states(http)[dead] == "inactiva")
            sweeps(second)
            final = states(http)
            assert [c for c in resumed if final[c] != "ocupada"] == []
            assert [silences(http, c) for c in resumed] == [0] * len(resumed)
            assert silences(http, dead) == silences(http, fast_dead) == 1
            assert marked_total(http) == 2.0  # no page storm: exactly the two dead ones
    finally:
        second.stop()


class Beater:
    """Consoles that beat every ``period`` seconds from a thread, once started."""

    def __init__(self, url: str, consoles: list[str], period: float) -> None:
        self._url = url
        self._consoles = consoles
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.acked = 0

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=5) as http:
            while not self._stop.is_set():
                for console in self._consoles:
                    try:
                        beat = http.post(
                            f"/api/consolas/{console}/heartbeat", json={"estado": "activa"}
                        )
                    except httpx.HTTPError:
                        continue
                    self.acked += beat.status_code == 200
                self._stop.wait(self._period)

    def __enter__(self) -> Beater:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def outage_exporter(tmp_path: Path) -> Iterator[ExporterProcess]:
    args = ["--inactive-after", "3", "--sweep-interval", "0.1"]
    exporter = ExporterProcess(str(tmp_path / "c.db"), args, log_path=tmp_path / "exporter.log")
    exporter.start()
    yield exporter
    if exporter.process is not None and exporter.process.poll() is None:
        exporter.stop()


def test_no_silent_console_page_fires_for_consoles_that_resume_after_an_exporter_outage(
    outage_exporter: ExporterProcess, tmp_path: Path
) -> None:
    """With the shipped rules on a real Prometheus: only the dead console pages, after the grace."""
    threshold = 3.0
    exporter = outage_exporter
    with httpx.Client(base_url=exporter.url, timeout=10) as http:
        resumed = [register(http) for _ in range(4)]
        dead = register(http)
    job = ScrapeJob("heartbeat-exporter", [f"127.0.0.1:{exporter.port}"])
    whole_fleet = Beater(exporter.url, [*resumed, dead], period=0.5).__enter__()
    try:
        with run_prometheus(
            tmp_path / "prometheus",
            [job],
            scrape_interval="250ms",
            evaluation_interval="250ms",
            rule_files=[RULES],
        ) as prometheus:
            wait_until(prometheus.targets_up, timeout=20)
            whole_fleet.__exit__()
            exporter.kill()
            time.sleep(threshold + 1.5)  # down for longer than the threshold
            exporter.restart()
            restarted = time.monotonic()
            time.sleep(1.0)  # the consoles' next attempt comes within their retry interval
            with (
                Beater(exporter.url, resumed, period=0.5) as beater,
                httpx.Client(base_url=exporter.url, timeout=10) as http,
            ):
                during_grace = states(http)
                assert time.monotonic() - restarted < threshold
                assert set(during_grace.values()) == {"activa"}, during_grace
                wait_until(lambda: states(http)[dead] == "inactiva", timeout=15)
                firing = 'ALERTS{alertname="HeartbeatConsoleSilent", alertstate="firing"}'
                wait_until(lambda: prometheus.query(firing), timeout=15)
                time.sleep(1.0)  # a few more evaluations
                window = f"{int(time.monotonic() - restarted) + 10}s"
                paged = prometheus.query(f'count_over_time(ALERTS{{console_id!=""}}[{window}])')
                storm = prometheus.query(
                    "count_over_time("
                    f'ALERTS{{alertname="HeartbeatFleetManyConsolesSilent"}}[{window}])'
                )
                assert beater.acked > 0
                assert [silences(http, c) for c in resumed] == [0] * len(resumed)
                assert silences(http, dead) == 1
    finally:
        whole_fleet.__exit__()
    assert {row["metric"]["console_id"] for row in paged} == {dead}, paged
    assert {row["metric"]["alertname"] for row in paged} == {"HeartbeatConsoleSilent"}
    assert storm == []
