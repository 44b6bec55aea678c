"""``heartbeat status`` against a real exporter subprocess on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests

from heartbeat import status
from heartbeat.console_view import parse_time
from tests.support.exporters import ExporterProcess, run_exporter
from tests.support.fleet_api import console, heartbeat, register
from tests.support.tools import REPO_ROOT, free_port, wait_until


@dataclass
class Fleet:
    """A running exporter holding one console of each kind."""

    exporter: ExporterProcess
    busy: str
    failing: str
    silent: str
    goodbye: str

    @property
    def api(self) -> str:
        return self.exporter.url + "/api"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Busy, failing, silent (1 s interval, then nothing) and stopped-cleanly consoles."""
    workdir = tmp_path_factory.mktemp("status")
    with run_exporter(str(workdir / "consolas.db"), ["--sweep-interval", "0.2"]) as exporter:
        url = exporter.url
        busy = register(url, "Consola render-a")
        heartbeat(url, busy, "ocupada", video="Video Historia 1 (2/5)")
        failing = register(url, "Consola render-b")
        heartbeat(url, failing, "error", error="ffmpeg terminó con código 1")
        goodbye = register(url, "Consola render-c")
        heartbeat(url, goodbye, "inactiva")
        silent = register(url, "Consola render-z", interval=1.0)
        wait_until(lambda: console(url, silent)["estado"] == "inactiva", timeout=15)
        yield Fleet(exporter, busy, failing, silent, goodbye)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = status.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_prints_each_console_with_state_video_and_last_seen(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--api-base-url", fleet.api)
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["STATE", "NAME", "ID", "VIDEO", "LAST", "SEEN"]
    busy = next(line for line in lines if fleet.busy[:8] in line)
    assert "ocupada" in busy and "Consola render-a" in busy and "Video Historia 1 (2/5)" in busy
    assert busy.rstrip().endswith("s ago")
    failing = next(line for line in lines if fleet.failing[:8] in line)
    assert "error" in failing and "ffmpeg terminó con código 1" in failing
    assert "4 consoles" in out


def test_status_lists_silent_consoles_first_and_marks_them(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--api-base-url", fleet.api)
    first = out.splitlines()[1]
    assert first.startswith("SILENT") and fleet.silent[:8] in first
    goodbye = next(line for line in out.splitlines() if fleet.goodbye[:8] in line)
    assert not goodbye.startswith("SILENT") and "inactiva" in goodbye


def test_status_inactive_shows_only_inactive_consoles(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--api-base-url", fleet.api, "--inactive")
    assert code == 0
    assert fleet.silent[:8] in out and fleet.goodbye[:8] in out
    assert fleet.busy[:8] not in out and fleet.failing[:8] not in out


def test_status_json_gives_the_api_fields_and_a_silent_flag(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--api-base-url", fleet.api, "--json")
    assert code == 0
    body = json.loads(out)
    by_id = {c["id"]: c for c in body["consolas"]}
    assert body["total"] == 4 and body["silenciosas"] == 1
    assert body["consolas"][0]["id"] == fleet.silent
    assert by_id[fleet.silent]["silenciosa"] is True
    assert by_id[fleet.goodbye]["silenciosa"] is False
    assert by_id[fleet.busy]["videoEnProceso"] == "Video Historia 1 (2/5)"


def test_status_json_with_inactive_lists_only_inactive_consoles(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--api-base-url", fleet.api, "--json", "--inactive")
    assert {c["id"] for c in json.loads(out)["consolas"]} == {fleet.silent, fleet.goodbye}


def test_status_reads_api_base_url_from_the_environment(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_BASE_URL", fleet.api)
    code, out, _ = _run(capsys)
    assert code == 0 and fleet.busy[:8] in out


def test_status_reads_api_base_url_from_dotenv(
    fleet: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("API_BASE_URL", raising=False)
    (tmp_path / ".env").write_text(f"API_BASE_URL={fleet.api}\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys)
    assert code == 0 and fleet.busy[:8] in out


def test_status_says_clearly_when_the_api_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = f"http://127.0.0.1:{free_port()}/api"
    code, out, err = _run(capsys, "--api-base-url", api, "--timeout", "2")
    assert code == status.EXIT_UNREACHABLE
    assert out == ""
    assert "the consoles API is unreachable" in err and api in err
    assert "Is the exporter running?" in err


def test_status_rejects_an_url_that_is_not_the_consoles_api(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "--api-base-url", fleet.exporter.url + "/metrics")
    assert code == status.EXIT_UNREACHABLE
    assert "answered HTTP 404" in err


def test_status_names_cannot_inject_terminal_escapes() -> None:
    rows = status.rows_for([{"id": "x", "nombre": "evil\x1b[2J\nname", "estado": "esperando"}], 0)
    assert "\x1b" not in status.render_table(rows)
    assert "\n" not in status.render_table(rows).splitlines()[1]


def test_heartbeat_status_command_runs_through_the_dispatcher(fleet: Fleet) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heartbeat.cli", "status", "--api-base-url", fleet.api],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert fleet.silent[:8] in result.stdout.splitlines()[1]


@dataclass
class ServicedFleet:
    """A running exporter with consoles in maintenance beside a silent and a busy one."""

    exporter: ExporterProcess
    dark: str  # in maintenance and silent (the sweeper leaves it alone)
    serviced: str  # in maintenance, still reporting
    dead: str  # silent, no maintenance
    busy: str

    @property
    def api(self) -> str:
        return self.exporter.url + "/api"


def _maintenance(url: str, console_id: str, **body: object) -> dict[str, object]:
    response = requests.post(f"{url}/api/consolas/{console_id}/mantenimiento", json=body, timeout=5)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


@pytest.fixture(scope="module")
def serviced_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServicedFleet]:
    workdir = tmp_path_factory.mktemp("status-maintenance")
    with run_exporter(str(workdir / "consolas.db"), ["--sweep-interval", "0.2"]) as exporter:
        url = exporter.url
        dark = register(url, "Consola taller-3", interval=1.0)
        _maintenance(url, dark, minutos=120, motivo="cambio de disco")
        serviced = register(url, "Consola taller-4")
        _maintenance(url, serviced, minutos=60)
        busy = register(url, "Consola render-a")
        heartbeat(url, busy, "ocupada", video="Video Historia 1 (2/5)")
        dead = register(url, "Consola render-z", interval=1.0)
        wait_until(lambda: console(url, dead)["estado"] == "inactiva", timeout=15)
        last_seen = parse_time(console(url, dark)["ultimoContacto"])
        assert last_seen is not None
        wait_until(lambda: time.time() - last_seen > 2.5, timeout=5)  # past its 2 s threshold
        yield ServicedFleet(exporter, dark, serviced, dead, busy)


def _line(out: str, console_id: str) -> str:
    return next(line for line in out.splitlines() if console_id[:8] in line)


def test_status_marks_a_console_in_maintenance_mant_not_silent_with_its_end_and_reason(
    serviced_fleet: ServicedFleet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "--api-base-url", serviced_fleet.api)
    assert code == 0
    assert out.splitlines()[0].split()[-1] == "MAINTENANCE"
    until = console(serviced_fleet.exporter.url, serviced_fleet.dark)["mantenimientoHasta"]
    end = datetime.fromisoformat(until.replace("Z", "+00:00")).astimezone()
    hhmm = end.strftime(
        "%H:%M" if end.date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M"
    )
    dark = _line(out, serviced_fleet.dark)
    assert dark.startswith("MANT. ") and "SILENT" not in dark
    assert dark.rstrip().endswith(f"mantenimiento hasta {hhmm} (cambio de disco)")
    assert _line(out, serviced_fleet.serviced).startswith("MANT. ")
    assert _line(out, serviced_fleet.dead).startswith("SILENT")
    assert _line(out, serviced_fleet.busy).startswith(" ")
    assert "4 consoles" in out and "(1 silent, 2 in maintenance)" in out


def test_status_lists_silent_consoles_first_then_those_in_maintenance(
    serviced_fleet: ServicedFleet, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--api-base-url", serviced_fleet.api)
    lines = out.splitlines()[1:5]
    assert [line.split()[0] for line in lines[:3]] == ["SILENT", "MANT.", "MANT."]
    assert serviced_fleet.busy[:8] in lines[3]


def test_status_inactive_includes_a_silent_console_in_maintenance_not_a_reporting_one(
    serviced_fleet: ServicedFleet, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--api-base-url", serviced_fleet.api, "--json", "--inactive")
    listed = {c["id"] for c in json.loads(out)["consolas"]}
    assert listed == {serviced_fleet.dead, serviced_fleet.dark}


def test_status_json_flags_maintenance_and_passes_the_api_keys_through(
    serviced_fleet: ServicedFleet, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--api-base-url", serviced_fleet.api, "--json")
    body = json.loads(out)
    by_id = {c["id"]: c for c in body["consolas"]}
    assert body["silenciosas"] == 1 and body["enMantenimiento"] == 2
    dark = by_id[serviced_fleet.dark]
    assert dark["silenciosa"] is False and dark["enMantenimiento"] is True
    assert dark["mantenimientoMotivo"] == "cambio de disco" and dark["mantenimientoHasta"]
    assert by_id[serviced_fleet.dead]["enMantenimiento"] is False
    assert by_id[serviced_fleet.busy]["mantenimientoHasta"] is None


def test_status_shows_the_date_of_a_maintenance_ending_another_day() -> None:
    now = time.time()
    until = now + 3 * 86400
    hasta = datetime.fromtimestamp(until).astimezone().isoformat()
    rows = status.rows_for([{"id": "x", "estado": "activa", "mantenimientoHasta": hasta}], now)
    expected = datetime.fromtimestamp(until).strftime("%Y-%m-%d %H:%M")
    assert f"mantenimiento hasta {expected}" in status.render_table(rows)


def test_status_treats_a_maintenance_that_has_ended_as_none() -> None:
    now = time.time()
    ended = datetime.fromtimestamp(now - 60).astimezone().isoformat()
    rows = status.rows_for(
        [
            {
                "id": "x",
                "estado": "inactiva",
                "detenidaLimpiamente": False,
                "mantenimientoHasta": ended,
            }
        ],
        now,
    )
    assert rows[0].silent and not rows[0].in_maintenance
    assert "MAINTENANCE" not in status.render_table(rows)
