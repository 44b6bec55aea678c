"""The exporter process: where tokens come from, what it says at start, and what it never logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.exporters import run_exporter
from tests.support.security import (
    ADMIN_TOKEN,
    ENROLLMENT_TOKEN,
    READ_TOKEN,
    REGISTRAR,
    bearer,
    beat,
    heartbeat_path,
    registration,
    secret_path,
)
from tests.support.security import token_env as exporter_env
from tests.support.tools import REPO_ROOT

#: Each role's setting: its file flag and its variable.
ROLES = {
    "enrollment": ("--enrollment-token-file", "HEARTBEAT_ENROLLMENT_TOKEN"),
    "read": ("--read-token-file", "HEARTBEAT_READ_TOKEN"),
    "admin": ("--admin-token-file", "HEARTBEAT_ADMIN_TOKEN"),
}


def start_exporter(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an exporter that is expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", "--port", "0", "--database", ":memory:", *args],
        env=env,
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_open_mode_is_announced_with_a_warning_at_start(tmp_path: Path) -> None:
    log = tmp_path / "exporter.log"
    with run_exporter(str(tmp_path / "c.db"), env=exporter_env(), log_path=log) as exporter:
        text = exporter.log()
    assert "WARNING" in text
    assert "OPEN MODE: no enrollment token configured" in text
    assert "OPEN MODE: no read token configured" in text


def test_with_tokens_configured_there_is_no_open_mode_warning(tmp_path: Path) -> None:
    token_file = tmp_path / "enrollment.token"
    token_file.write_text(ENROLLMENT_TOKEN + "\n")
    log = tmp_path / "exporter.log"
    env = exporter_env(HEARTBEAT_READ_TOKEN=READ_TOKEN)
    args = ["--enrollment-token-file", str(token_file)]
    with run_exporter(str(tmp_path / "c.db"), args, env=env, log_path=log) as exporter:
        text = exporter.log()
        assert "OPEN MODE" not in text
        assert "registrations require the enrollment token" in text
        with httpx.Client(base_url=exporter.url, timeout=10) as client:
            assert client.post(REGISTRAR, json=registration()).status_code == 401
            ok = client.post(REGISTRAR, json=registration(), headers=bearer(ENROLLMENT_TOKEN))
            assert ok.status_code == 201
            assert client.get("/metrics").status_code == 401
            assert client.get("/metrics", headers=bearer(READ_TOKEN)).status_code == 200


def test_a_short_token_is_a_startup_error_naming_the_variable_not_the_value() -> None:
    result = start_exporter([], exporter_env(HEARTBEAT_ENROLLMENT_TOKEN="tooshort1"))
    assert result.returncode == 2
    assert "HEARTBEAT_ENROLLMENT_TOKEN" in result.stderr
    assert "at least 16 characters" in result.stderr
    assert "tooshort1" not in result.stderr


def test_an_empty_token_variable_is_an_error_not_open_mode() -> None:
    result = start_exporter([], exporter_env(HEARTBEAT_READ_TOKEN=" "))
    assert result.returncode == 2
    assert "HEARTBEAT_READ_TOKEN" in result.stderr
    assert "set but empty" in result.stderr


def test_a_missing_token_file_is_a_startup_error_naming_the_flag(tmp_path: Path) -> None:
    missing = tmp_path / "nope.token"
    result = start_exporter(["--read-token-file", str(missing)], exporter_env())
    assert result.returncode == 2
    assert "--read-token-file" in result.stderr
    assert "cannot be read" in result.stderr


def test_a_token_in_both_a_file_and_the_environment_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "enrollment.token"
    token_file.write_text(ENROLLMENT_TOKEN)
    env = exporter_env(HEARTBEAT_ENROLLMENT_TOKEN=ENROLLMENT_TOKEN)
    result = start_exporter(["--enrollment-token-file", str(token_file)], env)
    assert result.returncode == 2
    assert "use one of them" in result.stderr
    assert ENROLLMENT_TOKEN not in result.stderr


def test_tokens_and_secrets_never_appear_in_the_exporter_log(tmp_path: Path) -> None:
    log = tmp_path / "exporter.log"
    env = exporter_env(HEARTBEAT_ENROLLMENT_TOKEN=ENROLLMENT_TOKEN, HEARTBEAT_READ_TOKEN=READ_TOKEN)
    args = ["--log-level", "debug", "--access-log", "true"]
    wrong = "wrong-token-that-must-not-be-logged-0123"
    with run_exporter(str(tmp_path / "c.db"), args, env=env, log_path=log) as exporter:
        with httpx.Client(base_url=exporter.url, timeout=10) as client:
            body = registration()
            enrolled = client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
            secret = enrolled.json()["secreto"]
            path = heartbeat_path(body["id"])
            assert client.post(path, json=beat(), headers=bearer(secret)).status_code == 200
            assert client.post(path, json=beat(), headers=bearer(wrong)).status_code == 403
            assert client.post(REGISTRAR, json=body, headers=bearer(wrong)).status_code == 403
            assert client.get("/metrics", headers=bearer(wrong)).status_code == 403
            assert client.get("/metrics", headers=bearer(READ_TOKEN)).status_code == 200
        exporter.stop()
        text = exporter.log()
    assert "POST /api/consolas/registrar" in text  # the access log was on: requests were logged
    assert f"console {body['id']} enrolled with the enrollment token: new secret issued" in text
    for value in (ENROLLMENT_TOKEN, READ_TOKEN, secret, wrong):
        assert value not in text


@pytest.mark.parametrize(
    ("first", "second"), [("enrollment", "read"), ("enrollment", "admin"), ("read", "admin")]
)
def test_one_token_in_two_roles_is_a_startup_error_naming_both_settings(
    first: str, second: str, tmp_path: Path
) -> None:
    shared = "shared-" + "s7" * 16
    flag, _ = ROLES[first]
    token_file = tmp_path / "shared.token"
    token_file.write_text(shared + "\n")
    _, variable = ROLES[second]  # one from a file, the other from the environment
    result = start_exporter([flag, str(token_file)], exporter_env(**{variable: shared}))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for role in (first, second):
        assert "/".join(ROLES[role]) in lines[0]
    assert "hold the same token" in lines[0]
    assert shared not in result.stderr


def test_the_admin_token_comes_from_its_file_and_is_never_logged(tmp_path: Path) -> None:
    token_file = tmp_path / "admin.token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    log = tmp_path / "exporter.log"
    env = exporter_env(HEARTBEAT_ENROLLMENT_TOKEN=ENROLLMENT_TOKEN)
    args = ["--admin-token-file", str(token_file), "--log-level", "debug"]
    with run_exporter(str(tmp_path / "c.db"), args, env=env, log_path=log) as exporter:
        with httpx.Client(base_url=exporter.url, timeout=10) as client:
            body = registration()
            client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
            reset = client.delete(secret_path(body["id"]), headers=bearer(ADMIN_TOKEN))
            assert reset.status_code == 200
        exporter.stop()
        text = exporter.log()
    assert "retiring, maintenance and secret resets require the admin token" in text
    assert "no admin token configured" not in text
    assert f"console {body['id']}: secret reset" in text
    assert ADMIN_TOKEN not in text
