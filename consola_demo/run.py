"""``heartbeat demo``: the exporter, a simulated fleet and (when installed) Prometheus and
Alertmanager on loopback, in a temporary folder; one console is killed partway through."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import requests

from consola_demo import console as console_child
from consola_demo.fleet import ConsoleSpec, SimulatedConsole
from consola_demo.monitoring import Monitoring, start_monitoring
from consola_demo.processes import (
    ChildProcess,
    ChildStartError,
    free_port,
    start_exporter,
)
from consola_demo.view import FleetView
from consola_demo.webhook import WebhookReceiver
from consola_wire.protocol import PROMETHEUS_TARGETS_PATH
from heartbeat.status import ApiUnreachableError, fetch_fleet

DEFAULT_CONSOLES = 12
DEFAULT_INTERVAL_SECONDS = 2.0
#: The kill happens at a third of --duration, and at the latest after this many seconds.
KILL_AFTER_SECONDS = 20.0
REFRESH_SECONDS = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heartbeat demo",
        description="Run the exporter (SQLite in a temporary folder), a simulated fleet of "
        "consoles and, when installed, Prometheus and Alertmanager with the shipped rules, all "
        "on 127.0.0.1. One console is killed partway through (SIGKILL, no goodbye) and goes "
        "inactiva. Ctrl-C stops everything.",
    )
    parser.add_argument(
        "--consoles",
        type=int,
        default=DEFAULT_CONSOLES,
        help=f"simulated consoles (default: {DEFAULT_CONSOLES})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds and exit 0 (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--interval-seconds",
        type=float,
        default=DEFAULT_INTERVAL_SECONDS,
        help="the consoles' heartbeat interval; a console is inactiva after twice that "
        f"(default: {DEFAULT_INTERVAL_SECONDS:g})",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the exporter's port (default: a free one)"
    )
    parser.add_argument(
        "--no-prometheus",
        action="store_true",
        help="do not start Prometheus and Alertmanager even when installed",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="print log lines instead of redrawing the screen (automatic when not a terminal)",
    )
    return parser


class Demo:
    """Everything the demo started, so that :meth:`shutdown` can stop all of it."""

    def __init__(self, args: argparse.Namespace, workdir: Path, out: TextIO) -> None:
        self.args = args
        self.workdir = workdir
        self.out = out
        self.tty = out.isatty() and not args.plain
        self.exporter: ChildProcess | None = None
        self.api = ""
        self.monitoring: Monitoring | None = None
        self.webhook: WebhookReceiver | None = None
        self.consoles: list[SimulatedConsole] = []
        self.victim: ChildProcess | None = None
        self.victim_name = ""
        self.view: FleetView | None = None
        self._notifications: list[str] = []

    def say(self, text: str = "") -> None:
        """A line of output outside the live view."""
        self.out.write(text + "\n")
        self.out.flush()

    def start(self) -> None:
        """Start the exporter, the webhook receiver, the consoles and the monitoring."""
        interval = self.args.interval_seconds
        self.say(f"Starting the demo in {self.workdir} …")
        self.exporter, base = start_exporter(
            self.workdir,
            port=self.args.port or None,
            extra=["--sweep-interval", "0.5", "--log-level", "warning"],
        )
        self.api = base + "/api"
        notifications = self._notifications
        self.webhook = WebhookReceiver(
            lambda receiver, payload: notifications.append(_notification(receiver, payload))
        ).start()
        specs = [
            ConsoleSpec(
                name=f"Consola demo-{i:02d}",
                id_file=self.workdir / f"console-{i:02d}.id",
                metrics_port=free_port(),
                seed=i,
            )
            for i in range(1, self.args.consoles + 1)
        ]
        *local, victim = specs
        self.victim_name = victim.name
        self.victim = ChildProcess(
            victim.name,
            console_child.argv_for(victim, self.api, interval),
            self.workdir / "killed-console.log",
        ).start()
        notes: list[str] = []
        if not self.args.no_prometheus:
            # Before the consoles' threads: children are forked while this process is quiet.
            result = start_monitoring(
                self.workdir / "monitoring",
                base.split("//", 1)[1],
                base + PROMETHEUS_TARGETS_PATH,
                self.webhook.url,
            )
            if isinstance(result, str):
                notes.append(result)
            else:
                self.monitoring = result
                notes += result.notes
        self.consoles = [SimulatedConsole(spec, self.api, interval).start() for spec in local]
        self.view = FleetView(self.out, self.where_to_look(), tty=self.tty)
        for line in self.where_to_look() + notes:
            self.say(line)
        self.say()

    def where_to_look(self) -> list[str]:
        """The URLs worth opening."""
        assert self.exporter is not None
        base = self.api.removesuffix("/api")
        lines = [
            f"💓 heartbeat demo: {self.args.consoles} consoles, heartbeat every "
            f"{self.args.interval_seconds:g} s (inactiva after {2 * self.args.interval_seconds:g}"
            " s of silence)",
            f"   Status page:        {base}/?refresh=1",
            f"   Consoles API:       {self.api}/consolas   (heartbeat status --api-base-url "
            f"{self.api})",
            f"   Fleet /metrics:     {base}/metrics",
        ]
        if self.monitoring is not None:
            lines.append(f"   Prometheus:         {self.monitoring.prometheus_url}/alerts")
            if self.monitoring.alertmanager_url:
                lines.append(f"   Alertmanager:       {self.monitoring.alertmanager_url}")
        lines.append(f"   Files and logs:     {self.workdir}")
        return lines

    def run(self, stop: threading.Event) -> int:
        """The live loop until ``stop`` is set or ``--duration`` is up."""
        assert self.view is not None and self.victim is not None
        started = time.monotonic()
        duration = self.args.duration
        kill_at = KILL_AFTER_SECONDS if duration is None else min(KILL_AFTER_SECONDS, duration / 3)
        killed = False
        session = requests.Session()
        while True:
            elapsed = time.monotonic() - started
            if not killed and elapsed >= kill_at:
                killed = True
                self.view.note(
                    f"💀 killing {self.victim_name} (pid {self.victim.pid}) with SIGKILL: "
                    "no goodbye; watch it go inactiva"
                )
                self.victim.kill()
            try:
                self.view.update_fleet(fetch_fleet(self.api, timeout=2.0, session=session))
            except ApiUnreachableError as exc:
                self.view.fleet_unavailable(str(exc))
            if self.monitoring is not None:
                try:
                    self.view.update_alerts(self.monitoring.alerts())
                except OSError as exc:
                    self.view.fleet_unavailable(f"Prometheus: {exc}")
            while self._notifications:
                self.view.note(self._notifications.pop(0))
            self.view.draw()
            if duration is not None and elapsed >= duration:
                self.say("\nTime is up.")
                return 0
            if stop.wait(REFRESH_SECONDS):
                self.say("\nStopping …")
                return 0

    def shutdown(self) -> None:
        """Stop the consoles (goodbye), then the exporter and the monitoring. Never raises."""
        for simulated in self.consoles:
            simulated.request_stop()
        stoppers = [threading.Thread(target=c.stop, daemon=True) for c in self.consoles]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(timeout=10.0)
        children = [self.victim, self.exporter]
        children += self.monitoring.children() if self.monitoring else []
        for child in children:
            if child is not None:
                child.stop()
        if self.webhook is not None:
            self.webhook.stop()


def _notification(receiver: str, payload: dict[str, Any]) -> str:
    names = sorted({str(a.get("labels", {}).get("alertname", "?")) for a in payload["alerts"]})
    return f"📣 Alertmanager → {receiver}: {', '.join(names)} ({payload.get('status', '?')})"


def _quiet_library_logs(workdir: Path) -> None:
    """The consoles' seed log lines go to consoles.log, not over the live view."""
    logger = logging.getLogger("heartbeat")
    handler = logging.FileHandler(workdir / "consoles.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the demo; 0 when the time is up or on Ctrl-C/SIGTERM, 1 when it cannot start."""
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    if args.consoles < 1:
        print("heartbeat demo: --consoles must be at least 1", file=sys.stderr)
        return 2
    if args.interval_seconds < 1:
        print("heartbeat demo: --interval-seconds must be at least 1", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with tempfile.TemporaryDirectory(prefix="heartbeat-demo-") as tmp:
            workdir = Path(tmp)
            _quiet_library_logs(workdir)
            demo = Demo(args, workdir, stream)
            try:
                demo.start()
                if demo.view is not None and not demo.tty:
                    demo.say("Log (plain output; on a terminal the view redraws in place):")
                code = demo.run(stop)
                if demo.view is not None and not demo.tty:
                    demo.view.print_table()
            except ChildStartError as exc:
                print(f"heartbeat demo: could not start: {exc}", file=sys.stderr)
                code = 1
            finally:
                demo.shutdown()
                for log_handler in logging.getLogger("heartbeat").handlers[:]:
                    if isinstance(log_handler, logging.FileHandler):
                        log_handler.close()
                        logging.getLogger("heartbeat").removeHandler(log_handler)
            demo.say("Demo stopped: every process it started has exited.")
            return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
