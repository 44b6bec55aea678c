"""The heartbeat library with tokens on, end to end against a real exporter on loopback."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from heartbeat.config import ConfigError, HeartbeatConfig
from heartbeat.secret_store import read_secret, write_secret
from heartbeat.service import HeartbeatService
from tests.support.exporters import EmbeddedExporter
from tests.support.recording_api import fast_config
from tests.support.security import (
    ADMIN_TOKEN,
    ENROLLMENT_TOKEN,
    bearer,
    secret_path,
    stored_row,
    stored_secret_hash,
)
from tests.support.tools import wait_until


def console(exporter: EmbeddedExporter, workdir: Path, **overrides: Any) -> HeartbeatService:
    values: dict[str, Any] = {"api_token": ENROLLMENT_TOKEN, **overrides}
    return HeartbeatService(fast_config(exporter.url + "/api", workdir, **values))


def sha256(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def secret_in(path: Path) -> str:
    return path.read_text().strip()


def wait_for_state(
    database: str, console_id: str, estado: str, video: str | None = None
) -> dict[str, Any]:
    """The stored row once it shows ``estado`` (and ``video``: only a heartbeat carries it)."""

    def reached() -> dict[str, Any] | None:
        row = stored_row(database, console_id)
        if row is None or row["estado"] != estado:
            return None
        return row if video is None or row["video_en_proceso"] == video else None

    return wait_until(reached, timeout=10)  # type: ignore[return-value]


def wait_for_beat_after(database: str, console_id: str, after: float) -> None:
    def beaten() -> bool:
        row = stored_row(database, console_id)
        return row is not None and row["last_seen"] > after

    wait_until(beaten, timeout=10)


def test_console_enrolls_with_its_api_token_and_reports_with_its_secret(
    exporter: EmbeddedExporter, database: str, tmp_path: Path
) -> None:
    service = console(exporter, tmp_path)
    service.iniciar()
    try:
        service.cambiar_estado("ocupada", video_en_proceso="Video Historia 1 (2/5)")
        row = wait_for_state(
            database, service.obtener_console_id(), "ocupada", "Video Historia 1 (2/5)"
        )
        assert row["stopped_cleanly"] == 0
    finally:
        service.detener()
    secret_file = tmp_path / ".console-secret"
    assert stored_secret_hash(database, service.obtener_console_id()) == sha256(
        secret_in(secret_file)
    )


def test_the_secret_file_is_owner_only(exporter: EmbeddedExporter, tmp_path: Path) -> None:
    service = console(exporter, tmp_path)
    service.iniciar()
    try:
        secret_file = tmp_path / ".console-secret"
        wait_until(secret_file.exists)
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert not list(tmp_path.glob("..console-secret.*.tmp"))  # no temporary file left
    finally:
        service.detener()


def test_a_restarted_console_reuses_its_secret_without_the_enrollment_token(
    exporter: EmbeddedExporter, database: str, tmp_path: Path
) -> None:
    first = console(exporter, tmp_path)
    first.iniciar()
    secret_file = tmp_path / ".console-secret"
    wait_until(secret_file.exists)
    first.detener()
    console_id = first.obtener_console_id()
    secret = secret_in(secret_file)
    wait_for_state(database, console_id, "inactiva")  # the goodbye was accepted

    second = console(exporter, tmp_path, api_token=None)  # only the stored secret is left
    second.iniciar()
    try:
        second.cambiar_estado("ocupada", video_en_proceso="Segundo arranque")
        wait_for_state(database, console_id, "ocupada", "Segundo arranque")
    finally:
        second.detener()
    assert secret_in(secret_file) == secret
    assert stored_secret_hash(database, console_id) == sha256(secret)


def refused_registrations(exporter: EmbeddedExporter) -> int:
    """Registrations the exporter has answered with 403."""
    return exporter.service.metrics.errors[("registrar", "403")]


def reset_secret(exporter: EmbeddedExporter, console_id: str) -> None:
    """What ``heartbeat reset-secret`` does: the operator's ``DELETE .../secreto``."""
    answer = httpx.delete(exporter.url + secret_path(console_id), headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == 200, answer.text


def test_a_console_that_lost_its_secret_says_so_once_keeps_retrying_and_enrolls_after_a_reset(
    exporter: EmbeddedExporter, database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heartbeat")
    first = console(exporter, tmp_path)
    first.iniciar()
    secret_file = tmp_path / ".console-secret"
    wait_until(secret_file.exists)
    first.detener()
    console_id = first.obtener_console_id()
    old = secret_in(secret_file)
    secret_file.unlink()
    caplog.clear()

    second = console(exporter, tmp_path)
    second.iniciar()
    try:
        wait_until(lambda: refused_registrations(exporter) >= 4)  # retried, at its cadence
        second.cambiar_estado("ocupada", video_en_proceso="Sin secreto")  # the worker goes on
        assert second.estado()["estado"] == "ocupada"
        assert stored_secret_hash(database, console_id) == sha256(old)  # nothing taken over
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert lines == [
            f"🔑 El API rechazó HEARTBEAT_API_TOKEN para la consola {console_id}: si ya estaba "
            "inscrita y perdió su secreto (.console-secret), un operador debe ejecutar: "
            f"heartbeat reset-secret {console_id} (si no, revise HEARTBEAT_API_TOKEN); se "
            "seguirá reintentando"
        ]
        reset_secret(exporter, console_id)
        wait_for_state(database, console_id, "ocupada", "Sin secreto")
        wait_until(secret_file.exists)
    finally:
        second.detener()
    new = secret_in(secret_file)
    assert new != old
    assert stored_secret_hash(database, console_id) == sha256(new)
    assert "✅ Consola registrada exitosamente" in caplog.text


def test_a_running_console_whose_secret_an_operator_reset_enrolls_again_and_carries_on(
    exporter: EmbeddedExporter, database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="heartbeat")
    service = console(exporter, tmp_path)
    service.iniciar()
    try:
        console_id = service.obtener_console_id()
        secret_file = tmp_path / ".console-secret"
        wait_until(secret_file.exists)
        old = secret_in(secret_file)
        reset_secret(exporter, console_id)
        service.cambiar_estado("ocupada", video_en_proceso="Tras el reinicio del secreto")
        wait_for_state(database, console_id, "ocupada", "Tras el reinicio del secreto")
        assert secret_in(secret_file) != old
        assert stored_secret_hash(database, console_id) == sha256(secret_in(secret_file))
        assert "El API rechazó el secreto de esta consola; se registra de nuevo" in caplog.text
    finally:
        service.detener()


def test_a_console_without_the_api_token_is_refused_and_the_worker_carries_on(
    exporter: EmbeddedExporter,
    database: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="heartbeat")
    service = console(exporter, tmp_path, api_token=None)
    service.iniciar()
    try:
        wait_until(lambda: "No se pudo registrar la consola: HTTP 401" in caplog.text)
        assert "El API exige un token de registro: configure HEARTBEAT_API_TOKEN" in caplog.text
        service.cambiar_estado("ocupada", video_en_proceso="Sigue trabajando")
        assert service.estado()["estado"] == "ocupada"
    finally:
        service.detener()
    assert stored_row(database, service.obtener_console_id()) is None
    assert not (tmp_path / ".console-secret").exists()


def test_neither_the_token_nor_the_secret_appears_in_the_library_logs(
    exporter: EmbeddedExporter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = console(exporter, tmp_path)
    service.iniciar()
    try:
        secret_file = tmp_path / ".console-secret"
        wait_until(secret_file.exists)
        first_secret = secret_in(secret_file)
        reset_secret(exporter, service.obtener_console_id())  # a refused beat, a new enrollment
        service.cambiar_estado("ocupada", video_en_proceso="Registro")
        wait_until(lambda: "HTTP 403" in caplog.text)
        wait_until(lambda: secret_in(secret_file) != first_secret)
    finally:
        service.detener()
    logged = caplog.text + repr(service.config)
    for value in (ENROLLMENT_TOKEN, first_secret, secret_in(secret_file)):
        assert value not in logged


# -- configuration --------------------------------------------------------------------------


def test_api_token_comes_from_the_environment_and_stays_out_of_the_repr() -> None:
    config = HeartbeatConfig.from_env({"HEARTBEAT_API_TOKEN": ENROLLMENT_TOKEN}, use_dotenv=False)
    assert config.api_token == ENROLLMENT_TOKEN
    assert ENROLLMENT_TOKEN not in repr(config)


def test_a_bad_api_token_is_an_error_naming_the_variable_but_not_the_value() -> None:
    bad = "has spaces in it"
    with pytest.raises(ConfigError) as caught:
        HeartbeatConfig.from_env({"HEARTBEAT_API_TOKEN": bad}, use_dotenv=False)
    assert caught.value.variable == "HEARTBEAT_API_TOKEN"
    assert bad not in str(caught.value)


def test_the_secret_file_lives_beside_the_id_file_unless_configured(tmp_path: Path) -> None:
    default = HeartbeatConfig(console_id_file=tmp_path / ".console-id")
    assert default.secret_file == tmp_path / ".console-secret"
    other = HeartbeatConfig(console_id_file=tmp_path / "worker-2.id")
    assert other.secret_file == tmp_path / "worker-2.id.secret"
    chosen = HeartbeatConfig.from_env(
        {"CONSOLE_SECRET_FILE": str(tmp_path / "s")}, use_dotenv=False
    )
    assert chosen.secret_file == tmp_path / "s"


def test_heartbeat_compression_must_be_auto_on_or_off() -> None:
    with pytest.raises(ConfigError) as caught:
        HeartbeatConfig.from_env({"HEARTBEAT_COMPRESSION": "brotli"}, use_dotenv=False)
    assert caught.value.variable == "HEARTBEAT_COMPRESSION"
    assert "auto, on, off" in str(caught.value)


def test_a_secret_file_readable_by_others_is_used_with_a_chmod_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="heartbeat")
    path = tmp_path / ".console-secret"
    path.write_text("a-secret-value-0123456789\n")
    path.chmod(0o644)
    assert read_secret(path) == "a-secret-value-0123456789"
    assert f"chmod 600 {path}" in caplog.text
    assert "a-secret-value-0123456789" not in caplog.text


def test_writing_the_secret_replaces_the_file_and_keeps_it_owner_only(tmp_path: Path) -> None:
    path = tmp_path / ".console-secret"
    path.write_text("old\n")
    path.chmod(0o644)
    write_secret(path, "new-secret-0123456789")
    assert path.read_text() == "new-secret-0123456789\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
