"""Child processes on loopback: start, wait until they answer over HTTP, stop, kill.

Product code shared by ``heartbeat demo`` and the tests: the exporter (``python -m exporter``),
Prometheus, Alertmanager and the demo's killable console are all :class:`ChildProcess`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 30.0


def terminate(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class ChildStartError(RuntimeError):
    """A child exited or never answered while starting; the message quotes the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``GET url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ChildProcess:
    """One child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id once started."""
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> ChildProcess:
        """Start the process (its own process group, so a terminal's Ctrl-C reaches only us)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if _PRCTL is not None else None,  # noqa: PLW1509
            )
        return self

    def wait_ready(
        self, ready: Callable[[], bool], timeout: float = READY_TIMEOUT_SECONDS
    ) -> ChildProcess:
        """Poll ``ready`` until true; ChildStartError if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                code = None if self.process is None else self.process.returncode
                raise ChildStartError(f"{self.name} exited with {code}:\n{self.log_tail()}")
            if ready():
                return self
            if time.monotonic() > deadline:
                raise ChildStartError(
                    f"{self.name} did not become ready within {timeout:g}s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit status."""
        if self.process is None:
            return None
        return terminate(self.process, timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the child's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _load_prctl() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


#: Looked up once in the parent: the child only calls it between fork and exec.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the parent dies (Linux), so even a killed
    demo leaves nothing running. Start children from the main thread: the signal follows the
    thread that forked."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def exporter_argv(
    port: int, database: str, extra: Sequence[str] = (), python: str = sys.executable
) -> list[str]:
    """Command line of the exporter on loopback (``python -m exporter``)."""
    return [
        python,
        "-m",
        "exporter",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--database",
        database,
        *extra,
    ]


def start_exporter(
    workdir: Path,
    *,
    port: int | None = None,
    extra: Sequence[str] = (),
    timeout: float = READY_TIMEOUT_SECONDS,
) -> tuple[ChildProcess, str]:
    """An exporter on SQLite in ``workdir``, ready; returns it and its base URL."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    child = ChildProcess(
        "exporter",
        exporter_argv(port, str(workdir / "consolas.db"), extra),
        workdir / "exporter.log",
        cwd=workdir,
    ).start()
    child.wait_ready(lambda: http_ok(url + "/healthz"), timeout)
    return child, url
