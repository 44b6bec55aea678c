"""Helpers for tests that run real external programs and servers on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

#: The checkout's top folder.
REPO_ROOT = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """True when running under CI, where a missing tool is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str, *candidates: str) -> str:
    """Path of an external program; fails under CI and skips elsewhere when it is missing."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or next(iter(sorted(glob.glob(candidate))), None)
        if found and os.access(found, os.X_OK):
            return found
    message = f"{name} is not installed (make test installs it: scripts/install-tools.sh)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05
) -> object:
    """Poll ``condition`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout:.1f}s (last value: {last!r})")
