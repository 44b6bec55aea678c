"""``heartbeat demo`` run for real, non-interactively: exporter, consoles, Prometheus, a kill."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from consola_demo import monitoring
from consola_demo.monitoring import demo_alertmanager_config, shortened, shortened_rules
from consola_demo.view import FleetView
from tests.support.tools import REPO_ROOT, free_port, require_binary, wait_until

CONSOLES = 4
DURATION = 25
KILLED = f"Consola demo-{CONSOLES:02d}"


@dataclass
class DemoRun:
    """What a bounded demo run showed through the exporter's API and its own output."""

    returncode: int | None = None
    output: str = ""
    names: set[str] = field(default_factory=set)
    states: dict[str, set[str]] = field(default_factory=dict)
    killed_reported_silent: bool = False
    descendants: set[int] = field(default_factory=set)
    #: Console ids the demo's Prometheus scraped successfully (``up == 1``), found by discovery.
    scraped: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "heartbeat.cli", "demo", *args]


def _fleet(port: int) -> list[dict[str, Any]]:
    try:
        url = f"http://127.0.0.1:{port}/api/consolas"
        with urllib.request.urlopen(url, timeout=1) as response:
            return list(json.load(response)["consolas"])
    except OSError:
        return []


def _scraped_console_ids(output: Path) -> set[str]:
    """Console ids with ``up == 1`` in the demo's Prometheus (its URL read from the output)."""
    found = re.search(r"Prometheus: +(http://[\d.:]+)/alerts", output.read_text(errors="replace"))
    if found is None:
        return set()
    query = urllib.parse.urlencode({"query": 'up{job="heartbeat-console"} == 1'})
    try:
        with urllib.request.urlopen(f"{found.group(1)}/api/v1/query?{query}", timeout=1) as answer:
            result = json.load(answer)["data"]["result"]
    except OSError:
        return set()
    return {r["metric"].get("console_id", "") for r in result}


def _descendants(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One ``heartbeat demo --duration 25 --consoles 4``, watched through the API every 0.3 s."""
    port = free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.out"
    run = DemoRun()
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command("--duration", str(DURATION), "--consoles", str(CONSOLES), "--port", str(port)),
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + DURATION + 60
        while process.poll() is None and time.monotonic() < deadline:
            run.descendants |= _descendants(process.pid)
            run.scraped |= _scraped_console_ids(log)
            for console in _fleet(port):
                run.ids.add(console["id"])
                name = console["nombre"]
                run.names.add(name)
                run.states.setdefault(name, set()).add(console["estado"])
                if (
                    name == KILLED
                    and console["estado"] == "inactiva"
                    and not console["detenidaLimpiamente"]
                ):
                    run.killed_reported_silent = True
            time.sleep(0.3)
        if process.poll() is None:
            process.kill()
        run.returncode = process.wait()
    run.output = log.read_text(errors="replace")
    return run


def test_demo_registers_every_simulated_console_with_the_exporter(demo_run: DemoRun) -> None:
    expected = {f"Consola demo-{i:02d}" for i in range(1, CONSOLES + 1)}
    assert demo_run.names == expected, demo_run.output


def test_demo_consoles_change_state_while_it_runs(demo_run: DemoRun) -> None:
    changed = [name for name, states in demo_run.states.items() if len(states) > 1]
    assert len(changed) >= CONSOLES - 1, demo_run.states
    seen = set().union(*demo_run.states.values())
    assert {"esperando", "ocupada"} <= seen, seen


def test_demo_killed_console_is_reported_inactiva_without_goodbye(demo_run: DemoRun) -> None:
    assert demo_run.killed_reported_silent, demo_run.output
    assert f"killing {KILLED}" in demo_run.output
    assert f"{KILLED}: " in demo_run.output and "→ inactiva  ← SILENT" in demo_run.output


def test_demo_shows_the_silent_console_alert_firing(demo_run: DemoRun) -> None:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    assert "Prometheus:" in demo_run.output, demo_run.output  # it found the tools and alerts/
    assert f"alert firing: HeartbeatConsoleSilent ({KILLED})" in demo_run.output, demo_run.output


def test_demo_prometheus_finds_every_console_through_the_exporter(demo_run: DemoRun) -> None:
    require_binary("prometheus")
    assert len(demo_run.ids) == CONSOLES
    assert demo_run.scraped == demo_run.ids, demo_run.output


def test_demo_prints_where_to_look(demo_run: DemoRun) -> None:
    for label in ("Status page:", "Consoles API:", "Fleet /metrics:"):
        assert label in demo_run.output


def test_demo_exits_zero_when_the_duration_is_up(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 0, demo_run.output
    assert "Time is up." in demo_run.output


def test_demo_leaves_no_child_process_running(demo_run: DemoRun) -> None:
    assert demo_run.descendants, "the demo should have started child processes"
    assert _alive(demo_run.descendants) == []


def test_demo_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "demo.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command("--consoles", "2", "--no-prometheus"),
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_until(lambda: "registrada" in log.read_text(errors="replace"), timeout=30)
            children = _descendants(process.pid)
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert returncode == 0, log.read_text()
    assert children and _alive(children) == []
    assert "Demo stopped" in log.read_text()


def test_demo_divides_alert_for_durations_by_sixty() -> None:
    document = {
        "groups": [
            {"name": "g", "rules": [{"alert": "A", "for": "10m"}, {"alert": "B", "for": "0m"}]}
        ]
    }
    short, notes = shortened_rules(document)
    assert [r["for"] for r in short["groups"][0]["rules"]] == ["10s", "0s"]
    assert notes == ["A: 10m -> 10s"]
    assert shortened("1h30m") == "90s"


def test_demo_sends_shipped_alertmanager_receivers_to_its_own_webhook() -> None:
    shipped = yaml.safe_load((REPO_ROOT / "alerts" / "alertmanager.yml").read_text())
    config = demo_alertmanager_config(shipped, "http://127.0.0.1:5555")
    urls = [h["url"] for r in config["receivers"] for h in r.get("webhook_configs", [])]
    assert urls and all(u.startswith("http://127.0.0.1:5555/") for u in urls)
    assert config["route"]["group_wait"] == "1s"


def _console(name: str, estado: str, *, goodbye: bool = False) -> dict[str, Any]:
    return {
        "id": name,
        "nombre": name,
        "estado": estado,
        "ultimoContacto": "2026-01-01T00:00:00.000Z",
        "umbralInactividadSegundos": 4,
        "detenidaLimpiamente": goodbye,
    }


def test_demo_view_logs_a_console_going_silent_and_one_saying_goodbye() -> None:
    out = io.StringIO()
    view = FleetView(out, [], tty=False, clock=lambda: 1767225601.0)
    view.update_fleet([_console("a", "ocupada"), _console("b", "esperando")])
    view.update_fleet([_console("a", "inactiva"), _console("b", "inactiva", goodbye=True)])
    text = out.getvalue()
    assert "➕ a registrada (ocupada)" in text
    assert "🔄 a: ocupada → inactiva  ← SILENT: no goodbye" in text
    assert "🔄 b: esperando → inactiva  (goodbye)" in text


def test_demo_view_fits_a_small_terminal() -> None:
    view = FleetView(io.StringIO(), ["header"], tty=True, clock=lambda: 1767225601.0)
    view.update_fleet([_console(f"Consola demo-{i:02d}", "esperando") for i in range(40)])
    lines = re.sub(r"\x1b\[[0-9;]*m", "", view.frame(80, 24)).split("\n")
    assert len(lines) < 24
    assert max(len(line) for line in lines) <= 80
    assert any("more (heartbeat status)" in line for line in lines)


def test_demo_view_shows_a_silent_console_in_maintenance_apart_from_a_dead_one() -> None:
    view = FleetView(io.StringIO(), [], tty=True, clock=lambda: 1767225700.0)  # 100 s later
    serviced = {**_console("taller", "esperando"), "mantenimientoHasta": "2026-01-01T02:00:00Z"}
    view.update_fleet([_console("dead", "inactiva"), serviced])
    lines = view.frame(200, 40).split("\n")
    dead = next(line for line in lines if " dead " in line)
    taller = next(line for line in lines if " taller " in line)
    assert dead.startswith("\x1b[1;31mSILENT")  # red
    assert taller.startswith("MANT.") and "mantenimiento hasta" in taller
    assert any("(1 silent, 1 in maintenance)" in line for line in lines)


def test_demo_says_how_to_install_prometheus_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(monitoring, "PROMETHEUS_CANDIDATES", (str(tmp_path / "no-prometheus"),))
    result = monitoring.start_monitoring(
        tmp_path, "127.0.0.1:1", "http://127.0.0.1:1/api/prometheus/targets", "http://127.0.0.1:2"
    )
    assert isinstance(result, str)
    assert "apt-get install prometheus prometheus-alertmanager" in result
