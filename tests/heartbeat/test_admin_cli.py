"""``heartbeat maintenance`` and ``heartbeat retire`` run as commands against a real exporter."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from heartbeat.console_view import local_time
from heartbeat.durations import DurationError, parse_duration
from tests.support.exporters import ExporterProcess, database_for, run_exporter
from tests.support.fleet_api import SISTEMA, console, now_iso, register
from tests.support.tools import REPO_ROOT, free_port

ADMIN_TOKEN = "admin-" + "a3" * 16
ENROLLMENT_TOKEN = "enroll-" + "e4" * 16
#: A local time zone five hours behind UTC (POSIX form: no tz database needed).
TZ_MINUS_5 = "XYZ+5"
MINUS_5 = timezone(timedelta(hours=-5))
#: Variables of the developer's shell that would change what the commands do.
CLEARED = ("API_BASE_URL", "HEARTBEAT_ADMIN_TOKEN", "HEARTBEAT_READ_TOKEN", "TZ")


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    """An exporter in open mode (no tokens)."""
    workdir = tmp_path_factory.mktemp("admin")
    with run_exporter(database_for("sqlite", workdir)) as running:
        yield running


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    """An exporter that requires its enrollment token and its admin token."""
    workdir = tmp_path_factory.mktemp("admin-token")
    (workdir / "enrollment.token").write_text(ENROLLMENT_TOKEN + "\n")
    (workdir / "admin.token").write_text(ADMIN_TOKEN + "\n")
    args = ["--enrollment-token-file", str(workdir / "enrollment.token"),
            "--admin-token-file", str(workdir / "admin.token")]  # fmt: skip
    with run_exporter(database_for("sqlite", workdir), args) as running:
        yield running


def heartbeat_cli(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m heartbeat.cli ARGS`` as an operator would run it."""
    clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run(
        [sys.executable, "-m", "heartbeat.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**clean, **(env or {})},
        timeout=30,
        check=False,
    )


def api_of(exporter: ExporterProcess) -> str:
    return exporter.url + "/api"


def one_line_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The single stderr line of a failed command (nothing on stdout, no traceback)."""
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"heartbeat {command}: ")
    return lines[0]


def until_of(exporter: ExporterProcess, console_id: str) -> datetime:
    """The console's ``mantenimientoHasta`` as the API holds it."""
    hasta = console(exporter.url, console_id)["mantenimientoHasta"]
    assert hasta is not None
    return datetime.fromisoformat(hasta.replace("Z", "+00:00"))


def shown(moment: datetime, tz: timezone) -> str:
    """How the commands print an instant: ``17:30`` today, ``2026-03-14 17:30`` another day."""
    local = moment.astimezone(tz)
    same_day = local.date() == datetime.now(tz).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def label(name: str, console_id: str) -> str:
    return f"{name} ({console_id[:8]}…)"


def test_maintenance_for_a_duration_prints_its_end_in_local_time_and_its_reason(
    exporter: ExporterProcess,
) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    result = heartbeat_cli(
        "maintenance", serviced, "--for", "2h", "--reason", "cambio de disco",
        "--api-base-url", api_of(exporter), env={"TZ": TZ_MINUS_5},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    until = until_of(exporter, serviced)
    assert abs(until - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    assert result.stdout == (
        f"{label('Consola taller-3', serviced)} en mantenimiento hasta "
        f"{shown(until, MINUS_5)} — motivo: cambio de disco\n"
    )
    assert console(exporter.url, serviced)["mantenimientoMotivo"] == "cambio de disco"


@pytest.mark.parametrize(
    ("duration", "seconds"), [("90m", 5400), ("1h30m", 5400), ("45s", 45), ("1d", 86400)]
)
def test_maintenance_takes_the_documented_duration_forms(
    exporter: ExporterProcess, duration: str, seconds: int
) -> None:
    serviced = register(exporter.url, "Consola taller-5")
    result = heartbeat_cli(
        "maintenance", serviced, "--for", duration, "--api-base-url", api_of(exporter)
    )
    assert result.returncode == 0, result.stderr
    expected = datetime.now(UTC) + timedelta(seconds=seconds)
    assert abs(until_of(exporter, serviced) - expected) < timedelta(seconds=30)


def test_maintenance_set_again_moves_its_end_and_shows_the_date_of_another_day(
    exporter: ExporterProcess,
) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    api = api_of(exporter)
    assert (
        heartbeat_cli("maintenance", serviced, "--for", "1h", "--api-base-url", api).returncode == 0
    )
    first = until_of(exporter, serviced)
    result = heartbeat_cli(
        "maintenance", serviced, "--for", "2d", "--api-base-url", api, env={"TZ": TZ_MINUS_5}
    )
    assert result.returncode == 0, result.stderr
    moved = until_of(exporter, serviced)
    assert moved - first > timedelta(days=1)
    assert result.stdout == (
        f"{label('Consola taller-3', serviced)} en mantenimiento hasta "
        f"{moved.astimezone(MINUS_5):%Y-%m-%d %H:%M}\n"
    )


def test_maintenance_until_an_iso_time_with_an_offset(exporter: ExporterProcess) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    end = (datetime.now(UTC) + timedelta(minutes=90)).replace(microsecond=0)
    hasta = end.isoformat().replace("+00:00", "Z")
    result = heartbeat_cli(
        "maintenance", serviced, "--until", hasta, "--api-base-url", api_of(exporter),
        env={"TZ": "UTC0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert until_of(exporter, serviced) == end
    assert f"en mantenimiento hasta {shown(end, UTC)}\n" in result.stdout


def test_maintenance_until_a_time_without_offset_is_local_time(exporter: ExporterProcess) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    end = (datetime.now(MINUS_5) + timedelta(hours=3)).replace(second=0, microsecond=0)
    result = heartbeat_cli(
        "maintenance", serviced, "--until", end.strftime("%Y-%m-%dT%H:%M"),
        "--api-base-url", api_of(exporter), env={"TZ": TZ_MINUS_5},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert until_of(exporter, serviced) == end
    assert f"hasta {shown(end, MINUS_5)}\n" in result.stdout


def test_maintenance_end_says_the_console_is_out_of_it(exporter: ExporterProcess) -> None:
    serviced = register(exporter.url, "taller-7")
    api = api_of(exporter)
    heartbeat_cli("maintenance", serviced, "--for", "2h", "--reason", "x", "--api-base-url", api)
    result = heartbeat_cli("maintenance", serviced, "--end", "--api-base-url", api)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{label('Consola taller-7', serviced)} fuera de mantenimiento\n"
    after = console(exporter.url, serviced)
    assert after["mantenimientoHasta"] is None and after["mantenimientoMotivo"] is None


def test_retire_removes_the_console_and_names_it(exporter: ExporterProcess) -> None:
    retired = register(exporter.url, "Consola vieja")
    result = heartbeat_cli("retire", retired, "--api-base-url", api_of(exporter))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{label('Consola vieja', retired)} retirada\n"
    response = requests.get(f"{exporter.url}/api/consolas/{retired}", timeout=5)
    assert response.status_code == 404


def test_the_api_base_url_comes_from_the_environment(exporter: ExporterProcess) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    result = heartbeat_cli(
        "maintenance", serviced, "--for", "10m", env={"API_BASE_URL": api_of(exporter)}
    )
    assert result.returncode == 0, result.stderr
    assert console(exporter.url, serviced)["mantenimientoHasta"] is not None


@pytest.mark.parametrize(
    "args",
    [("maintenance", "--for", "1h"), ("maintenance", "--end"), ("retire",)],
    ids=["maintenance", "end", "retire"],
)
def test_an_unknown_console_is_one_line_and_exit_1(
    exporter: ExporterProcess, args: tuple[str, ...]
) -> None:
    unknown = str(uuid.uuid4())
    command, *rest = args
    result = heartbeat_cli(command, unknown, *rest, "--api-base-url", api_of(exporter))
    assert result.returncode == 1
    assert one_line_error(result, command) == f"heartbeat {command}: no console with id {unknown}"


@pytest.mark.parametrize(
    ("args", "field", "flag", "message"),
    [
        (("--until", "2020-01-01T00:00:00Z"), "hasta", "--until", "must be in the future"),
        (("--for", "400d"), "minutos", "--for", "must end within"),
        (("--for", "1h", "--reason", "x" * 501), "motivo", "--reason", "longer than 500"),
    ],
    ids=["past", "too-long", "long-reason"],
)
def test_a_value_the_api_refuses_quotes_its_field_and_message_and_exits_2(
    exporter: ExporterProcess, args: tuple[str, ...], field: str, flag: str, message: str
) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    result = heartbeat_cli("maintenance", serviced, *args, "--api-base-url", api_of(exporter))
    assert result.returncode == 2
    line = one_line_error(result, "maintenance")
    assert f"the API refused '{field}' ({flag}): " in line and message in line
    assert console(exporter.url, serviced)["mantenimientoHasta"] is None


@pytest.mark.parametrize("duration", ["0m", "2x", "90", "1m30h", "1h 30m", "2H", "-1h", "1.5h", ""])
def test_a_bad_duration_is_refused_before_any_request_naming_the_flag(duration: str) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/api"  # a request would fail differently
    result = heartbeat_cli(
        "maintenance", str(uuid.uuid4()), f"--for={duration}", "--api-base-url", unreachable
    )
    assert result.returncode == 2
    line = one_line_error(result, "maintenance")
    assert "argument --for: " in line and repr(duration) in line


@pytest.mark.parametrize("args", [("maintenance", "--for", "1h"), ("retire",)], ids=["m", "r"])
def test_a_bad_id_is_refused_naming_it(args: tuple[str, ...]) -> None:
    command, *rest = args
    result = heartbeat_cli(command, "taller-3", *rest)
    assert result.returncode == 2
    assert "argument ID: 'taller-3' is not a console id" in one_line_error(result, command)


def test_maintenance_needs_one_of_for_until_or_end() -> None:
    result = heartbeat_cli("maintenance", str(uuid.uuid4()))
    assert result.returncode == 2
    assert "--for --until --end" in one_line_error(result, "maintenance")


@pytest.mark.parametrize("args", [("maintenance", "--end"), ("retire",)], ids=["m", "r"])
def test_an_unreachable_api_is_one_line_and_exit_1(args: tuple[str, ...]) -> None:
    api = f"http://127.0.0.1:{free_port()}/api"
    command, *rest = args
    result = heartbeat_cli(
        command, str(uuid.uuid4()), *rest, "--api-base-url", api, "--timeout", "2"
    )
    assert result.returncode == 1
    line = one_line_error(result, command)
    assert "the consoles API is unreachable" in line and api in line
    assert "connection refused" in line


def test_an_url_that_is_not_the_consoles_api_is_not_taken_for_an_unknown_console(
    exporter: ExporterProcess,
) -> None:
    serviced = register(exporter.url, "Consola taller-3")
    result = heartbeat_cli("maintenance", serviced, "--for", "1h", "--api-base-url", exporter.url)
    assert result.returncode == 1
    line = one_line_error(result, "maintenance")
    assert "answered HTTP 404" in line and "ending in /api" in line


def register_guarded(exporter: ExporterProcess, nombre: str) -> str:
    """Register a console on an exporter that requires the enrollment token."""
    console_id = str(uuid.uuid4())
    body = {"id": console_id, "nombre": nombre, "estado": "esperando", "sistema": SISTEMA,
            "ultimaActividad": now_iso()}  # fmt: skip
    response = requests.post(
        f"{exporter.url}/api/consolas/registrar",
        json=body,
        headers={"Authorization": f"Bearer {ENROLLMENT_TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return console_id


def test_a_guarded_exporter_refuses_a_command_without_a_token_and_says_where_it_goes(
    guarded: ExporterProcess,
) -> None:
    serviced = register_guarded(guarded, "Consola taller-3")
    result = heartbeat_cli(
        "maintenance", serviced, "--for", "1h", "--api-base-url", api_of(guarded)
    )
    assert result.returncode == 1
    line = one_line_error(result, "maintenance")
    assert "requires a token (HTTP 401" in line
    assert "--token" in line and "$HEARTBEAT_ADMIN_TOKEN" in line and "--admin-token-file" in line
    assert console(guarded.url, serviced)["mantenimientoHasta"] is None


def test_a_guarded_exporter_refuses_a_wrong_token_without_echoing_it(
    guarded: ExporterProcess,
) -> None:
    serviced = register_guarded(guarded, "Consola taller-3")
    wrong = "wrong-" + "w9" * 16
    result = heartbeat_cli("retire", serviced, "--token", wrong, "--api-base-url", api_of(guarded))
    assert result.returncode == 1
    line = one_line_error(result, "retire")
    assert "refused the token (HTTP 403" in line and wrong not in line
    assert console(guarded.url, serviced)["id"] == serviced


def test_a_guarded_exporter_takes_the_token_from_the_flag(guarded: ExporterProcess) -> None:
    serviced = register_guarded(guarded, "Consola taller-3")
    api = api_of(guarded)
    result = heartbeat_cli(
        "maintenance", serviced, "--for", "2h", "--token", ADMIN_TOKEN, "--api-base-url", api
    )
    assert result.returncode == 0, result.stderr
    assert "en mantenimiento hasta" in result.stdout
    ended = heartbeat_cli(
        "maintenance", serviced, "--end", "--token", ADMIN_TOKEN, "--api-base-url", api
    )
    assert ended.returncode == 0, ended.stderr
    assert console(guarded.url, serviced)["mantenimientoHasta"] is None


def test_a_guarded_exporter_takes_the_token_from_heartbeat_admin_token(
    guarded: ExporterProcess,
) -> None:
    serviced, retired = (register_guarded(guarded, f"Consola taller-{n}") for n in (3, 4))
    env = {"HEARTBEAT_ADMIN_TOKEN": ADMIN_TOKEN, "API_BASE_URL": api_of(guarded)}
    result = heartbeat_cli("maintenance", serviced, "--for", "30m", env=env)
    assert result.returncode == 0, result.stderr
    assert console(guarded.url, serviced)["mantenimientoHasta"] is not None
    gone = heartbeat_cli("retire", retired, env=env)
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout == f"{label('Consola taller-4', retired)} retirada\n"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("45s", 45), ("1d", 86400), ("1d2h3m4s", 93784)],
)
def test_durations_read_as_operators_write_them(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "0h0m", "h", "30m1h", "1h1h", "1w", "１h", "90", " 1h"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError, match=repr(text)):
        parse_duration(text)


def test_local_time_is_the_time_alone_today_and_with_the_date_another_day() -> None:
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC).timestamp()
    assert local_time(now + 5.5 * 3600, now, UTC) == "17:30"
    assert local_time(now + 12.5 * 3600, now, UTC) == "2026-03-15 00:30"
    assert local_time(now + 5.5 * 3600, now, MINUS_5) == "12:30"
