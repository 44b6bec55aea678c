"""Real consoles for end-to-end tests: library instances in-process, agents as subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from heartbeat import HeartbeatConfig, HeartbeatService

#: 0.02 min = 1.2 s: the smallest interval the wire format allows, rounded up.
FAST_INTERVAL_MINUTES = 0.02


def fast_console(api_url: str, directory: Path, name: str, **overrides: Any) -> HeartbeatService:
    """A library console reporting every 1.2 s to ``api_url`` (``.../api``), metrics off unless
    ``overrides`` say otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "api_base_url": api_url,
        "console_name": name,
        "console_id_file": directory / ".console-id",
        "interval_minutes": FAST_INTERVAL_MINUTES,
        "timeout_seconds": 2.0,
        "metrics_port": None,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 1.0,
        "stop_timeout_seconds": 2.0,
    }
    config = HeartbeatConfig(**{**settings, **overrides})
    return HeartbeatService(config)


def start_agent(
    api_url: str, directory: Path, name: str, metrics_port: int | None = None
) -> subprocess.Popen[bytes]:
    """``heartbeat agent`` as a separate process (so it can be killed without a goodbye)."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "API_BASE_URL": api_url,
        "CONSOLE_NAME": name,
        "CONSOLE_ID_FILE": str(directory / ".console-id"),
        "HEARTBEAT_INTERVAL_MINUTES": str(FAST_INTERVAL_MINUTES),
        "HEARTBEAT_METRICS_PORT": str(metrics_port) if metrics_port else "off",
        "HEARTBEAT_RETRY_INITIAL_SECONDS": "0.2",
        "HEARTBEAT_RETRY_MAX_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "heartbeat.cli", "agent"],
        cwd=directory,
        env=env,
        stdout=(directory / "agent.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def kill_without_goodbye(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: the console gets no chance to say ``inactiva``."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def agent_console_id(directory: Path) -> str | None:
    """The id the agent in ``directory`` created, once it exists."""
    path = directory / ".console-id"
    return path.read_text().strip() if path.exists() else None


def get_json(url: str) -> Any:
    """GET ``url`` and decode JSON; ``None`` on 404."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise
