"""Starting and stopping the servers a benchmark runs against (all on loopback, free ports)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from consola_demo.processes import http_ok, terminate
from tests.support.exporters import ExporterProcess
from tests.support.tools import REPO_ROOT, free_port

LOG_DIR = Path("/tmp") / "heartbeat-bench-logs"


def binary(name: str) -> str:
    """Path of an external program (scripts/install-tools.sh bench installs them)."""
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: run scripts/install-tools.sh bench")
    return found


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200; RuntimeError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        if http_ok(url):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s")


def wait_ready(url: str, timeout: float = 300.0) -> None:
    """Poll ``url``/readyz until it answers 200 (the exporter's fleet read at start is over)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url}/readyz did not answer 200 within {timeout:g}s")


def peak_rss(pid: int) -> int:
    """Peak resident set size (VmHWM) of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def current_rss(pid: int) -> int:
    """Current resident set size (VmRSS) of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Server:
    """A server subprocess on a free loopback port, ready once ``ready_path`` answers."""

    def __init__(
        self, name: str, argv: Sequence[str], port: int, ready_path: str, timeout: float = 30.0
    ) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = port
        self.log_path = LOG_DIR / f"{name}-{port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                list(argv), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_http(self.url + ready_path, self.process, timeout)
        except BaseException:
            terminate(self.process, timeout=5)
            raise

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Process id."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server."""
        terminate(self.process, timeout=20.0)


@contextlib.contextmanager
def exporter(
    database: str, args: Sequence[str] = (), checkout: Path = REPO_ROOT
) -> Iterator[ExporterProcess]:
    """The real exporter (``python -m exporter``) on ``database``, logging warnings only;
    ``checkout``'s code when another checkout is given (run from its folder)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    process = ExporterProcess(
        database,
        ["--log-level", "warning", *args],
        env={"PYTHONPATH": str(checkout)} if checkout != REPO_ROOT else None,
        cwd=checkout,
        log_path=LOG_DIR / f"exporter-{checkout.name}-{time.monotonic_ns()}.log",
    )
    process.start(timeout=60.0)
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def ceiling() -> Iterator[Server]:
    """The bare Starlette app on the exporter's uvicorn stack (bench/ceiling.py)."""
    port = free_port()
    server = Server("ceiling", [sys.executable, "-m", "bench.ceiling", str(port)], port, "/")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def asgi_ceiling() -> Iterator[Server]:
    """The raw ASGI callable on the exporter's uvicorn stack (bench/asgi_ceiling.py)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.asgi_ceiling", str(port)]
    server = Server("asgi-ceiling", argv, port, "/")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def pushgateway() -> Iterator[Server]:
    """Debian's Prometheus Pushgateway, in memory (no persistence file)."""
    port = free_port()
    argv = [binary("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}"]
    server = Server("pushgateway", argv, port, "/-/ready")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def plain_registry(consoles: int) -> Iterator[Server]:
    """A plain prometheus_client registry of labelled gauges (bench/plain_registry.py)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.plain_registry", str(port), str(consoles)]
    server = Server("plain-registry", argv, port, "/favicon.ico", timeout=300.0)
    try:
        yield server
    finally:
        server.stop()
