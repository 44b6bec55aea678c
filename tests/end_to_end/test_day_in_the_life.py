"""A day in the life of a fleet, shortened: of everything an operator and the machines do, only
the real crash pages.

A real exporter (its wall clock steppable with libfaketime), five library consoles as worker
processes, Prometheus with the shipped rules and Alertmanager with the shipped example, every
interval shortened (heartbeats every 1.2 s, so a 2.4 s silence threshold). The script:

1. a console is stopped with SIGTERM (``systemctl stop``): its goodbye, exit status -15;
2. a console is put in maintenance, powered off past its threshold, started again, and its
   maintenance ended;
3. a console is re-imaged: stopped, back under a new id; ``--retire-after`` retires the old id;
4. the exporter's wall clock steps an hour forward, and back (NTP corrects it);
5. the exporter freezes for 15 s (SIGSTOP, SIGCONT);
6. a console crashes (SIGKILL).

Exactly one page reaches the pager webhook: the crash, within the bound computed from the
configuration. Every ``for:`` of the shipped rules is divided by four: the exporter's 15 s freeze
stays shorter than ``HeartbeatExporterDown``'s 30 s, as a 15 s freeze is shorter than its 2 m.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from consola_demo.monitoring import duration_seconds
from tests.support.alerting import WebhookSink, example_alertmanager_config
from tests.support.exporters import ExporterProcess
from tests.support.faketime import SteppableClock, require_libfaketime
from tests.support.prometheus import ScrapeJob, run_alertmanager, run_prometheus
from tests.support.tools import REPO_ROOT, wait_until
from tests.support.workers import WorkerProcess

RULES = REPO_ROOT / "alerts" / "heartbeat-rules.yml"
FOR_DIVISOR = 4
INTERVAL_MINUTES = 0.02
THRESHOLD_SECONDS = 2 * INTERVAL_MINUTES * 60
SWEEP_SECONDS = 0.2
SCRAPE_SECONDS = 1.0
EVALUATION_SECONDS = 1.0
GROUP_WAIT_SECONDS = 1.0
RETIRE_AFTER_SECONDS = 6.0
FREEZE_SECONDS = 15.0
#: Scheduling slack for a loaded 2-core machine running Prometheus, Alertmanager and the fleet.
SLACK_SECONDS = 5.0


def detection_bound_seconds() -> float:
    """From the crash to the page (alerts/README.md): threshold + sweep + scrape + 2 × evaluation
    + group_wait (HeartbeatConsoleSilent has ``for: 0m``)."""
    return (
        THRESHOLD_SECONDS
        + SWEEP_SECONDS
        + SCRAPE_SECONDS
        + 2 * EVALUATION_SECONDS
        + GROUP_WAIT_SECONDS
    )


def rules_with_shorter_for(directory: Path) -> Path:
    """The shipped rules, every ``for:`` divided by :data:`FOR_DIVISOR`."""
    document: dict[str, Any] = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{duration_seconds(rule['for']) / FOR_DIVISOR:g}s"
    path = directory / "heartbeat-rules.yml"
    path.write_text(yaml.safe_dump(document))
    return path


class Fleet:
    """The consoles of the day, by role."""

    def __init__(self, api: str, directory: Path) -> None:
        self.api = api
        self.directory = directory
        self.workers: list[WorkerProcess] = []

    def start(self, name: str, console_id: str | None = None) -> WorkerProcess:
        worker = WorkerProcess(self.api, console_id or str(uuid.uuid4()), name, self.directory)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop_if_running()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    receiver = WebhookSink()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def console(http: httpx.Client, console_id: str) -> dict[str, Any] | None:
    answer = http.get(f"/api/consolas/{console_id}")
    return answer.json() if answer.status_code == 200 else None


def estado(http: httpx.Client, console_id: str) -> str | None:
    found = console(http, console_id)
    return None if found is None else str(found["estado"])


def reported_after(http: httpx.Client, console_id: str, when: str) -> bool:
    found = console(http, console_id)
    return found is not None and str(found["ultimoContacto"]) > when


def pages(sink: WebhookSink) -> set[str]:
    """Every alert the pager was told is firing, as ``alertname/console_id`` (Alertmanager also
    sends it again when its group changes, and once more when it resolves)."""
    return {
        f"{alert['labels']['alertname']}/{alert['labels'].get('console_id', '')}"
        for alert in sink.alerts("/pager")
        if alert["status"] == "firing"
    }


def test_only_the_crash_pages_in_a_day_of_stops_maintenance_reimages_clock_steps_and_a_freeze(
    tmp_path: Path, sink: WebhookSink
) -> None:
    clock = SteppableClock(require_libfaketime(), tmp_path)
    args = [
        "--sweep-interval", str(SWEEP_SECONDS),
        "--retire-after", str(RETIRE_AFTER_SECONDS),
    ]  # fmt: skip
    exporter = ExporterProcess(
        str(tmp_path / "consolas.db"), args, env=clock.env(), log_path=tmp_path / "exporter.log"
    )
    fleet = Fleet(f"{exporter.url}/api", tmp_path / "workers")
    exporter.start()
    try:
        with (
            run_alertmanager(tmp_path / "am", example_alertmanager_config(sink)) as alertmanager,
            run_prometheus(
                tmp_path / "prom",
                [ScrapeJob("heartbeat-exporter", [f"127.0.0.1:{exporter.port}"])],
                scrape_interval=f"{SCRAPE_SECONDS:g}s",
                evaluation_interval=f"{EVALUATION_SECONDS:g}s",
                rule_files=[rules_with_shorter_for(tmp_path)],
                alertmanager=alertmanager.address,
            ) as prometheus,
            httpx.Client(base_url=exporter.url, timeout=10) as http,
        ):
            stopped = fleet.start("Consola parada")
            serviced = fleet.start("Consola en taller")
            reimaged = fleet.start("Consola reinstalada")
            crashing = fleet.start("Consola que se cuelga")
            steady = fleet.start("Consola estable")
            ids = [worker.console_id for worker in fleet.workers]
            wait_until(lambda: all(estado(http, c) == "esperando" for c in ids), timeout=20)
            wait_until(  # Prometheus sees the whole fleet and knows its Alertmanager
                lambda: (
                    len(prometheus.query("heartbeat_fleet_console_info")) == 5
                    and prometheus.alertmanagers()
                ),
                timeout=30,
            )

            # 1. systemctl stop: the goodbye, and SIGTERM's own exit status
            assert stopped.terminate() == -signal.SIGTERM
            stopped_console = console(http, stopped.console_id)
            assert stopped_console is not None and stopped_console["detenidaLimpiamente"]

            # 2. a maintenance: powered off past its threshold, back, maintenance ended
            started = http.post(
                f"/api/consolas/{serviced.console_id}/mantenimiento",
                json={"minutos": 10, "motivo": "cambio de disco"},
            )
            assert started.status_code == 200, started.text
            serviced.kill()
            time.sleep(3 * THRESHOLD_SECONDS + 2 * EVALUATION_SECONDS)
            assert estado(http, serviced.console_id) == "esperando"  # not marked
            info = f"HeartbeatConsoleInMaintenance/{serviced.console_id}"
            wait_until(  # information, on the low-priority channel
                lambda: any(info in n for n in sink.alertnames("/low-priority")), timeout=20
            )
            before = started.json()["ultimoContacto"]
            fleet.start("Consola en taller", serviced.console_id)
            wait_until(lambda: reported_after(http, serviced.console_id, before), timeout=20)
            assert http.delete(f"/api/consolas/{serviced.console_id}/mantenimiento").is_success

            # 3. a re-image: the machine stops, comes back under a new id, the old id retires
            assert reimaged.terminate() == -signal.SIGTERM
            fleet.start("Consola reinstalada")
            wait_until(lambda: console(http, reimaged.console_id) is None, timeout=30)
            wait_until(lambda: console(http, stopped.console_id) is None, timeout=30)

            # 4. the exporter's wall clock steps an hour forward, then NTP steps it back
            clock.step(3600)
            time.sleep(3 * THRESHOLD_SECONDS + 2 * EVALUATION_SECONDS)
            clock.step(-3600)
            time.sleep(3 * THRESHOLD_SECONDS + 2 * EVALUATION_SECONDS)

            # 5. the exporter freezes
            assert exporter.process is not None
            os.kill(exporter.process.pid, signal.SIGSTOP)
            time.sleep(FREEZE_SECONDS)
            os.kill(exporter.process.pid, signal.SIGCONT)
            time.sleep(5 * THRESHOLD_SECONDS + 2 * EVALUATION_SECONDS)
            live = [w.console_id for w in fleet.workers if w.process.poll() is None]
            assert {c: estado(http, c) for c in live} == dict.fromkeys(live, "esperando")
            assert pages(sink) == set(), "paged before the crash"

            # 6. the crash
            crashed_at = time.monotonic()
            crashing.kill()
            expected = f"HeartbeatConsoleSilent/{crashing.console_id}"
            wait_until(lambda: expected in pages(sink), timeout=detection_bound_seconds() + 30)
            elapsed = time.monotonic() - crashed_at
            time.sleep(3 * EVALUATION_SECONDS + GROUP_WAIT_SECONDS)  # anything else would be here
            assert pages(sink) == {expected}
            bound = detection_bound_seconds()
            print(f"paged {elapsed:.1f} s after the crash (bound {bound:.1f} s)")
            assert elapsed <= detection_bound_seconds() + SLACK_SECONDS, (
                f"paged {elapsed:.1f} s after the crash; bound {detection_bound_seconds():.1f} s"
            )
            anomalies = prometheus.query("heartbeat_fleet_clock_anomalies_total")
            kinds = {sample["metric"]["kind"]: float(sample["value"][1]) for sample in anomalies}
            assert kinds["step"] >= 2 and kinds["stall"] >= 1, kinds
            assert steady.process.poll() is None
    finally:
        fleet.stop_all()
        if exporter.process is not None and exporter.process.poll() is None:
            exporter.stop()
