"""Configuration, identity file and payload construction (no network)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from consola_wire import parse_heartbeat, parse_registration, protocol
from heartbeat.config import DEFAULT_METRICS_PORT, ConfigError, HeartbeatConfig
from heartbeat.error_report import ErrorReport
from heartbeat.identity import IdentityError, load_or_create_console_id
from heartbeat.payloads import heartbeat_body, registration_body
from heartbeat.service import parse_estado
from heartbeat.state import ConsoleState
from heartbeat.system import SystemSampler, node_arch
from heartbeat.wire_text import iso_timestamp
from tests.support.tools import REPO_ROOT

BAD_VALUES = [
    ("API_BASE_URL", "localhost:3000/api"),
    ("API_BASE_URL", "ftp://example.com/api"),
    ("CONSOLE_ID", "not-a-uuid"),
    ("HEARTBEAT_INTERVAL_MINUTES", "cinco"),
    ("HEARTBEAT_INTERVAL_MINUTES", "0"),
    ("HEARTBEAT_INTERVAL_MINUTES", "-1"),
    ("HEARTBEAT_INTERVAL_MINUTES", "nan"),
    ("HEARTBEAT_INTERVAL_MINUTES", "100000"),
    ("CONSOLE_NAME", "x" * 300),
    ("HEARTBEAT_TIMEOUT_SECONDS", "0"),
    ("HEARTBEAT_TIMEOUT_SECONDS", "soon"),
    ("HEARTBEAT_METRICS_PORT", "70000"),
    ("HEARTBEAT_METRICS_PORT", "http"),
    ("HEARTBEAT_METRICS_ADDR", "not an address"),
    ("HEARTBEAT_RETRY_INITIAL_SECONDS", "-5"),
    ("HEARTBEAT_RETRY_MAX_SECONDS", "inf"),
    ("HEARTBEAT_STOP_TIMEOUT_SECONDS", "0"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_each_bad_variable_raises_an_error_naming_the_variable_and_value(variable, value):
    with pytest.raises(ConfigError) as caught:
        HeartbeatConfig.from_env({variable: value}, use_dotenv=False)
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert value[:20] in str(caught.value)


def test_defaults_follow_the_seed_and_docs():
    config = HeartbeatConfig.from_env({}, use_dotenv=False)
    assert config.api_base_url is None and not config.enabled
    assert config.interval_minutes == 5
    assert config.interval_seconds == 300
    assert config.console_name.startswith("Consola ")
    assert config.console_id_file == Path(".console-id")
    assert config.metrics_port == DEFAULT_METRICS_PORT
    assert config.metrics_addr == "127.0.0.1"


def test_fractional_interval_is_accepted():
    config = HeartbeatConfig.from_env({"HEARTBEAT_INTERVAL_MINUTES": "0.02"}, use_dotenv=False)
    assert config.interval_seconds == pytest.approx(1.2)


@pytest.mark.parametrize("value", ["0", "off", "OFF"])
def test_metrics_port_zero_or_off_disables_metrics(value):
    config = HeartbeatConfig.from_env({"HEARTBEAT_METRICS_PORT": value}, use_dotenv=False)
    assert config.metrics_port is None


def test_real_environment_wins_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "API_BASE_URL=http://from-dotenv:3000/api/\nHEARTBEAT_INTERVAL_MINUTES=2\nCONSOLE_ID=\n"
    )
    config = HeartbeatConfig.from_env({"HEARTBEAT_INTERVAL_MINUTES": "7"}, dotenv_path=dotenv)
    assert config.api_base_url == "http://from-dotenv:3000/api"
    assert config.interval_minutes == 7
    assert config.console_id is None


def test_console_id_is_created_once_and_reused(tmp_path):
    config = HeartbeatConfig(console_id_file=tmp_path / ".console-id")
    first = load_or_create_console_id(config)
    assert uuid.UUID(first).version == 4
    assert load_or_create_console_id(config) == first
    assert (tmp_path / ".console-id").read_text().strip() == first
    assert list(tmp_path.iterdir()) == [tmp_path / ".console-id"]  # no temporary left behind


def test_console_id_variable_wins_over_the_file(tmp_path):
    fixed = "550e8400-e29b-41d4-a716-446655440000"
    config = HeartbeatConfig(console_id=fixed.upper(), console_id_file=tmp_path / "id")
    assert load_or_create_console_id(config) == fixed


def test_corrupt_id_file_is_an_error_naming_the_file_not_a_new_identity(tmp_path):
    path = tmp_path / ".console-id"
    path.write_text("garbage\n")
    with pytest.raises(IdentityError) as caught:
        load_or_create_console_id(HeartbeatConfig(console_id_file=path))
    assert caught.value.variable == "CONSOLE_ID_FILE"
    assert str(path) in str(caught.value)
    assert path.read_text() == "garbage\n"


def test_unreadable_id_file_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / ".console-id"
    path.mkdir()  # a directory where the file should be
    with pytest.raises(IdentityError, match="CONSOLE_ID_FILE"):
        load_or_create_console_id(HeartbeatConfig(console_id_file=path))


def test_estado_accepts_the_enum_and_its_value_and_rejects_anything_else():
    assert parse_estado("ocupada") == "ocupada"
    from heartbeat import EstadoConsola

    assert parse_estado(EstadoConsola.ERROR) == "error"
    with pytest.raises(ValueError, match="estado must be one of"):
        parse_estado("busy")
    with pytest.raises(ValueError, match="detener"):
        parse_estado(EstadoConsola.INACTIVA)


def test_sistema_has_the_seed_keys_and_units():
    sistema = SystemSampler().get().sistema()
    assert set(sistema) == {
        "hostname", "platform", "arch", "cpus", "totalMemory", "freeMemory", "uptime",
        "pythonVersion",
    }  # fmt: skip
    assert sistema["cpus"] >= 1
    assert 0 < sistema["totalMemory"] < 1024 * 64  # GiB, not bytes
    assert 0 <= sistema["freeMemory"] <= sistema["totalMemory"]
    assert isinstance(sistema["uptime"], int)  # whole minutes


@pytest.mark.parametrize(
    ("machine", "arch"),
    [("x86_64", "x64"), ("AMD64", "x64"), ("aarch64", "arm64"), ("i686", "ia32")],
)
def test_arch_is_named_like_node(machine, arch):
    assert node_arch(machine) == arch


def test_payloads_pass_the_wire_validation():
    state = ConsoleState()
    state.set("ocupada", "Video Historia 1 (2/5)", None)
    sistema = SystemSampler().get().sistema()
    console_id = str(uuid.uuid4())
    reg = parse_registration(
        registration_body(
            console_id=console_id,
            nombre="Consola mi-servidor",
            state=state.snapshot(),
            sistema=sistema,
            interval_seconds=300.0,
            now=1764757800.0,
        )
    )
    assert reg.console_id == console_id and reg.estado == "ocupada"
    assert reg.interval_seconds == 300.0
    beat = parse_heartbeat(heartbeat_body(state.snapshot(), sistema, 300.0, 1764757800.0))
    assert beat.video_en_proceso == "Video Historia 1 (2/5)"
    assert beat.sistema == sistema


def test_oversized_error_and_video_are_trimmed_to_the_wire_limits():
    from heartbeat.wire_text import clean_text

    try:
        raise RuntimeError("x\x00" * 50_000)
    except RuntimeError as exc:
        error = ErrorReport(exc, 0.0)
    state = ConsoleState()
    state.set("error", clean_text("v" * 2000, protocol.MAX_VIDEO_CHARS), error)
    beat = parse_heartbeat(heartbeat_body(state.snapshot(), {}, 60.0, 0.0))
    assert beat.ultimo_error["type"] == "RuntimeError"
    assert len(beat.video_en_proceso or "") == protocol.MAX_VIDEO_CHARS


def test_timestamps_look_like_javascript_iso_strings():
    assert iso_timestamp(1764757800.0) == "2025-12-03T10:30:00.000Z"


def test_library_version_matches_the_distribution_version() -> None:
    import tomllib

    from heartbeat.version import __version__

    pyproject = REPO_ROOT / "pyproject.toml"
    assert __version__ == tomllib.loads(pyproject.read_text())["project"]["version"]
