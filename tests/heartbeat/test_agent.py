"""``heartbeat agent`` and ``heartbeat id`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.recording_api import RecordingApi
from tests.support.tools import REPO_ROOT, free_port, wait_until


def heartbeat_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "heartbeat.cli", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTBEAT_", "CONSOLE_"))}
    env.pop("API_BASE_URL", None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


@pytest.fixture
def agent(api: RecordingApi, tmp_path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running agent process and the URL of its HTTP server."""
    port = free_port()
    process = subprocess.Popen(
        heartbeat_cmd(
            "agent",
            "--api-base-url",
            api.base_url,
            "--interval-minutes",
            "1",
            "--metrics-port",
            str(port),
            "--timeout",
            "1",
        ),
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: api.records("registrar", 200), timeout=20)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def post_estado(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url + "/estado",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_agent_takes_state_changes_over_its_loopback_estado_endpoint(api, agent):
    _, url = agent
    status, reply = post_estado(url, {"estado": "ocupada", "videoEnProceso": "Video externo"})
    assert status == 200
    assert reply["estado"] == "ocupada" and reply["videoEnProceso"] == "Video externo"
    wait_until(lambda: [r for r in api.records("heartbeat") if r.estado == "ocupada"])
    beat = next(r for r in api.records("heartbeat") if r.estado == "ocupada")
    assert beat.body["videoEnProceso"] == "Video externo"


def test_agent_rejects_a_bad_state_with_400_naming_it(agent):
    _, url = agent
    status, reply = post_estado(url, {"estado": "volando"})
    assert status == 400
    assert "estado" in reply["message"]


def test_agent_sends_inactiva_and_exits_zero_on_sigterm(api, agent):
    process, _ = agent
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert api.records("heartbeat")[-1].body["estado"] == "inactiva"
    assert process.stdout is not None
    output = process.stdout.read()
    assert "💓 SERVICIO DE HEARTBEAT" in output
    assert "💓 Heartbeat enviado - Estado: inactiva" in output


def test_agent_exits_2_naming_a_bad_variable(tmp_path):
    result = subprocess.run(
        heartbeat_cmd("agent"),
        cwd=tmp_path,
        env=clean_env(HEARTBEAT_INTERVAL_MINUTES="x"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "HEARTBEAT_INTERVAL_MINUTES='x'" in result.stderr


def test_id_command_prints_the_same_persistent_id_every_time(tmp_path):
    runs = [
        subprocess.run(
            heartbeat_cmd("id"),
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] == runs[1] == (tmp_path / ".console-id").read_text().strip()


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("10.0.0.7", False)],
)
def test_only_loopback_clients_may_post_estado(host, allowed):
    from heartbeat.http_server import _is_loopback

    assert _is_loopback(host) is allowed
