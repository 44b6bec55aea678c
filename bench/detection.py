"""Benchmark 4: detection time, from a console's SIGKILL to the Alertmanager webhook.

Real parts: the exporter (SQLite), consoles running the ``heartbeat`` library in their own
processes, Prometheus loading the shipped alerts/heartbeat-rules.yml, and Alertmanager loading
the shipped alerts/alertmanager.yml with its webhooks pointed at a recorder here. Intervals are
shortened (stated in the table); the measured delay is compared with the bound computed from
them: threshold + sweep + scrape + evaluation + group_wait.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from bench.mode import Mode
from bench.procs import exporter
from bench.report import Check, Section, median
from tests.support.prometheus import ScrapeJob, run_alertmanager, run_prometheus
from tests.support.tools import REPO_ROOT

INTERVAL_SECONDS = 2.0  # the consoles' heartbeat interval; threshold = 2 x interval
SWEEP_SECONDS = 1.0
SCRAPE_SECONDS = 1.0
EVALUATION_SECONDS = 1.0
GROUP_WAIT_SECONDS = 1.0
HEALTHY_CONSOLES = 10
RULES = REPO_ROOT / "alerts" / "heartbeat-rules.yml"
AM_CONFIG = REPO_ROOT / "alerts" / "alertmanager.yml"
ALERT = "HeartbeatConsoleSilent"

HEALTHY_SCRIPT = """
import sys, time, uuid
from pathlib import Path
from heartbeat import HeartbeatConfig, HeartbeatService
api, tmp, ids = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
services = [HeartbeatService(HeartbeatConfig(api_base_url=api, console_id=i,
    console_id_file=tmp / f"{i}.id", interval_minutes=%(minutes)r, metrics_port=None))
    for i in ids]
for s in services:
    s.iniciar()
time.sleep(3600)
"""


class Recorder:
    """A webhook receiver: every Alertmanager notification with its arrival time."""

    def __init__(self) -> None:
        self.notifications: list[tuple[float, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with recorder.lock:
                    recorder.notifications.append((time.monotonic(), self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def firing(self, alertname: str) -> list[tuple[float, str]]:
        """(arrival, console_id) of every firing alert named ``alertname`` received."""
        found = []
        with self.lock:
            for at, _path, payload in self.notifications:
                for alert in payload.get("alerts", []):
                    labels = alert.get("labels", {})
                    if alert.get("status") == "firing" and labels.get("alertname") == alertname:
                        found.append((at, labels.get("console_id", "")))
        return found

    def names(self) -> dict[str, int]:
        """Alert names seen in notifications, with counts."""
        counts: dict[str, int] = {}
        with self.lock:
            for _at, _path, payload in self.notifications:
                for alert in payload.get("alerts", []):
                    name = alert.get("labels", {}).get("alertname", "?")
                    counts[name] = counts.get(name, 0) + 1
        return counts

    def close(self) -> None:
        """Stop the receiver."""
        self.server.shutdown()
        self.server.server_close()


def alertmanager_config(webhook: str) -> dict[str, Any]:
    """The shipped Alertmanager config, receivers pointed at ``webhook``, waits shortened."""
    config: dict[str, Any] = yaml.safe_load(AM_CONFIG.read_text())

    def shorten(route: dict[str, Any]) -> None:
        route["group_wait"] = f"{GROUP_WAIT_SECONDS:g}s"
        route["group_interval"] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook}/{receiver['name']}"
    return config


def _console_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEARTBEAT_", "CONSOLE_", "API_BASE_URL"))
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["BENCH_TMP"] = str(tmp)
    return env


def _start_consoles(api: str, tmp: Path, ids: list[str]) -> subprocess.Popen[bytes]:
    script = HEALTHY_SCRIPT % {"minutes": INTERVAL_SECONDS / 60}
    return subprocess.Popen(
        [sys.executable, "-c", script, api, str(tmp), *ids],
        env=_console_env(tmp),
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _delete(base: str, console_id: str) -> None:
    request = urllib.request.Request(f"{base}/api/consolas/{console_id}", method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass


def run(mode: Mode, log: Callable[[str], None]) -> Section:  # noqa: PLR0915
    """Run the detection benchmark."""
    threshold = 2 * INTERVAL_SECONDS
    bound = threshold + SWEEP_SECONDS + SCRAPE_SECONDS + EVALUATION_SECONDS + GROUP_WAIT_SECONDS
    section = Section(
        key="detection",
        title="4. Detection: SIGKILL of a console → Alertmanager webhook",
        headers=["Trial", "Console", "Kill → webhook", "Bound", "Within bound"],
    )
    healthy = [str(uuid.uuid4()) for _ in range(HEALTHY_CONSOLES)]
    victims = [str(uuid.uuid4()) for _ in range(mode.detection_trials)]
    delays: list[float] = []
    recorder = Recorder()
    consoles: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp_name:
            tmp = Path(tmp_name)
            args = ["--sweep-interval", f"{SWEEP_SECONDS:g}"]
            with exporter(str(tmp / "consolas.db"), args) as ex:
                api = ex.url + "/api"
                consoles.append(_start_consoles(api, tmp, healthy))
                victim_procs = {v: _start_consoles(api, tmp, [v]) for v in victims}
                consoles.extend(victim_procs.values())
                with run_alertmanager(tmp / "am", alertmanager_config(recorder.url)) as am:
                    jobs = [ScrapeJob("heartbeat-exporter", [f"127.0.0.1:{ex.port}"])]
                    with run_prometheus(
                        tmp / "prom",
                        jobs,
                        scrape_interval=f"{SCRAPE_SECONDS:g}s",
                        evaluation_interval=f"{EVALUATION_SECONDS:g}s",
                        rule_files=[RULES],
                        alertmanager=am.address,
                    ):
                        time.sleep(threshold + 4)  # every console registered and beating
                        for trial, victim in enumerate(victims, 1):
                            proc = victim_procs[victim]
                            killed = time.monotonic()
                            proc.send_signal(signal.SIGKILL)
                            proc.wait()
                            arrived = None
                            deadline = killed + 6 * bound
                            while time.monotonic() < deadline:
                                hits = [at for at, cid in recorder.firing(ALERT) if cid == victim]
                                if hits:
                                    arrived = min(hits)
                                    break
                                time.sleep(0.05)
                            delay = arrived - killed if arrived is not None else float("nan")
                            if arrived is not None:
                                delays.append(delay)
                            log(f"  trial {trial}: {delay:.2f}s (bound {bound:g}s)")
                            section.rows.append(
                                [
                                    str(trial),
                                    victim[:8],
                                    f"{delay:.2f} s" if arrived else "no notification",
                                    f"{bound:g} s",
                                    "yes" if arrived and delay <= bound else "no",
                                ]
                            )
                            _delete(ex.url, victim)  # keep the fleet-wide alert out of the way
                            time.sleep(2.0)
                        healthy_pages = [
                            cid for _at, cid in recorder.firing(ALERT) if cid in healthy
                        ]
    finally:
        for proc in consoles:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        recorder.close()
    names = recorder.names()
    section.raw = {
        "delays": delays,
        "bound": bound,
        "healthy_pages": healthy_pages,
        "notified_alert_names": names,
        "config": {
            "interval": INTERVAL_SECONDS,
            "threshold": threshold,
            "sweep": SWEEP_SECONDS,
            "scrape": SCRAPE_SECONDS,
            "evaluation": EVALUATION_SECONDS,
            "group_wait": GROUP_WAIT_SECONDS,
        },
    }
    all_detected = len(delays) == len(victims)
    section.checks = [
        Check(
            "Detection: kill → webhook within the configured bound",
            f"median {median(delays):.2f} s, max {max(delays, default=float('nan')):.2f} s "
            f"({len(delays)}/{len(victims)} detected)",
            f"≤ {bound:g} s (threshold {threshold:g} + sweep {SWEEP_SECONDS:g} + scrape "
            f"{SCRAPE_SECONDS:g} + eval {EVALUATION_SECONDS:g} + group_wait "
            f"{GROUP_WAIT_SECONDS:g})",
            all_detected and max(delays) <= bound,
        ),
        Check(
            "No notification for healthy consoles",
            f"{len(healthy_pages)} {ALERT} for {HEALTHY_CONSOLES} healthy consoles",
            "0",
            not healthy_pages,
        ),
    ]
    section.notes = [
        f"Shortened intervals: consoles beat every {INTERVAL_SECONDS:g}s (threshold = 2 × "
        f"interval = {threshold:g}s), exporter --sweep-interval {SWEEP_SECONDS:g}s, Prometheus "
        f"scrape and evaluation {SCRAPE_SECONDS:g}s, Alertmanager group_wait and group_interval "
        f"{GROUP_WAIT_SECONDS:g}s (shipped: 30s / 2m). Rules: alerts/heartbeat-rules.yml "
        "unchanged (HeartbeatConsoleSilent has for: 0m).",
        f"{HEALTHY_CONSOLES} healthy consoles in one process, each victim in its own process; "
        "victims are killed one after another, and each is retired (DELETE) once paged so the "
        "fleet-wide alert (≥ 3 silent and ≥ 25%) never inhibits the next page.",
        "Notified alert names during the run: "
        + ", ".join(f"{k} ×{v}" for k, v in sorted(names.items())),
    ]
    return section
