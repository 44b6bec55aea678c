"""``heartbeat reset-secret ID`` run as a command against a real exporter process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from heartbeat.console_view import console_label
from tests.support.exporters import ExporterProcess, database_for, run_exporter
from tests.support.security import (
    ADMIN_TOKEN,
    ENROLLMENT_TOKEN,
    READ_TOKEN,
    REGISTRAR,
    bearer,
    registration,
    stored_secret_hash,
    token_env,
)
from tests.support.tools import REPO_ROOT

#: Variables of the developer's shell that would change what the command does.
CLEARED = ("API_BASE_URL", "HEARTBEAT_ADMIN_TOKEN", "HEARTBEAT_READ_TOKEN")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    """An exporter with enrollment, read and admin tokens."""
    env = token_env(
        HEARTBEAT_ENROLLMENT_TOKEN=ENROLLMENT_TOKEN,
        HEARTBEAT_READ_TOKEN=READ_TOKEN,
        HEARTBEAT_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    with run_exporter(database_for("sqlite", tmp_path_factory.mktemp("reset")), env=env) as running:
        yield running


def reset_secret(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m heartbeat.cli reset-secret ARGS`` as an operator would run it."""
    clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run(
        [sys.executable, "-m", "heartbeat.cli", "reset-secret", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**clean, **(env or {})},
        timeout=30,
        check=False,
    )


def enroll(exporter: ExporterProcess) -> str:
    body = registration(nombre="Consola taller-7")
    answer = httpx.post(exporter.url + REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
    assert answer.status_code == 201, answer.text
    return str(body["id"])


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (nothing on stdout, no traceback)."""
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("heartbeat reset-secret: ")
    return lines[0]


def test_it_resets_the_secret_and_the_console_enrolls_again(guarded: ExporterProcess) -> None:
    console_id = enroll(guarded)
    database = guarded.database
    env = {"HEARTBEAT_ADMIN_TOKEN": ADMIN_TOKEN, "API_BASE_URL": guarded.url + "/api"}
    result = reset_secret(console_id, env=env)
    assert result.returncode == 0, result.stderr
    label = console_label({"id": console_id, "nombre": "Consola taller-7"})
    assert result.stdout == (
        f"{label}: secreto anulado; se registrará de nuevo con HEARTBEAT_API_TOKEN\n"
    )
    assert result.stderr == ""
    assert stored_secret_hash(database, console_id) is None
    again = httpx.post(
        guarded.url + REGISTRAR, json=registration(console_id), headers=bearer(ENROLLMENT_TOKEN)
    )
    assert again.status_code == 200 and "secreto" in again.json()


@pytest.mark.parametrize(
    ("token", "said"),
    [
        (None, "the API requires a token (HTTP 401"),
        (ENROLLMENT_TOKEN, "the API refused the token (HTTP 403: the admin token is not valid)"),
    ],
)
def test_it_refuses_without_the_admin_token_in_one_line_and_changes_nothing(
    guarded: ExporterProcess, token: str | None, said: str
) -> None:
    console_id = enroll(guarded)
    before = stored_secret_hash(guarded.database, console_id)
    args = [console_id, "--api-base-url", guarded.url + "/api"]
    result = reset_secret(*args, *(["--token", token] if token else []))
    assert result.returncode == 1
    line = error_line(result)
    assert said in line and "--admin-token-file" in line
    assert ENROLLMENT_TOKEN not in line
    assert stored_secret_hash(guarded.database, console_id) == before


def test_an_unknown_console_is_one_line_naming_it(guarded: ExporterProcess) -> None:
    unknown = str(uuid.uuid4())
    result = reset_secret(unknown, "--token", ADMIN_TOKEN, "--api-base-url", guarded.url + "/api")
    assert result.returncode == 1
    assert error_line(result) == f"heartbeat reset-secret: no console with id {unknown}"


def test_a_bad_id_is_refused_before_any_request() -> None:
    result = reset_secret("not-a-uuid", "--api-base-url", "http://127.0.0.1:9/api")
    assert result.returncode == 2
    assert "is not a console id" in error_line(result)


def test_an_exporter_without_an_admin_token_says_which_setting_it_needs(tmp_path: Path) -> None:
    env = token_env(HEARTBEAT_ENROLLMENT_TOKEN=ENROLLMENT_TOKEN)
    with run_exporter(database_for("sqlite", tmp_path), env=env) as running:
        console_id = enroll(running)
        result = reset_secret(
            console_id, "--token", ADMIN_TOKEN, "--api-base-url", running.url + "/api"
        )
    assert result.returncode == 1
    line = error_line(result)
    assert "HTTP 403: this operation requires the admin token, and this exporter has none" in line
    assert "start it with --admin-token-file or HEARTBEAT_ADMIN_TOKEN" in line


def test_the_command_is_listed_in_the_heartbeat_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heartbeat.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=30,
        check=False,
    )
    assert "reset-secret" in result.stdout
