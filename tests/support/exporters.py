"""Starting an exporter in tests, the one way for each need.

- :class:`EmbeddedExporter` (and :func:`embedded_exporter`): the real app served by uvicorn on a
  thread of the test process, with an injectable clock, optionally over TLS. For tests that move
  time or look inside the service.
- :class:`ExporterProcess` (and :func:`run_exporter`): ``python -m exporter`` as a subprocess, for
  tests that kill, freeze or restart it, or read what it logs.

Both listen on a free loopback port; :func:`database_for` gives either a database of a backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from consola_demo.processes import terminate
from exporter.clock import Clock, system_clock
from exporter.config import ExporterConfig
from exporter.server import uvicorn_config
from exporter.service import ExporterService
from tests.support.certificates import Certificates
from tests.support.tools import REPO_ROOT, free_port, wait_until

STARTUP_TIMEOUT_SECONDS = 15.0
#: ``python -m exporter`` (the default) and the dispatcher's ``heartbeat exporter``.
PYTHON_M_EXPORTER: tuple[str, ...] = (sys.executable, "-m", "exporter")
HEARTBEAT_EXPORTER: tuple[str, ...] = (sys.executable, "-m", "heartbeat.cli", "exporter")
BACKENDS = ("sqlite", "postgresql")


def database_for(backend: str, directory: Path) -> str:
    """A fresh database of ``backend`` (``sqlite`` file in ``directory``, or ``postgresql``)."""
    if backend == "sqlite":
        return str(directory / "consolas.db")
    from tests.support.postgres import shared_postgres

    return shared_postgres().create_database()


class EmbeddedExporter:
    """An exporter served by uvicorn on a thread; ``with EmbeddedExporter(config) as e: e.url``.

    With ``tls``, it serves HTTPS with that server certificate.
    """

    def __init__(
        self,
        config: ExporterConfig,
        clock: Clock = system_clock,
        tls: Certificates | None = None,
    ) -> None:
        self.service = ExporterService(config, clock=clock)
        settings = uvicorn_config(self.service)
        if tls is not None:
            settings.ssl_certfile = str(tls.server_cert)
            settings.ssl_keyfile = str(tls.server_key)
        self.scheme = "https" if tls is not None else "http"
        self.server = uvicorn.Server(settings)
        self._thread = threading.Thread(target=self.server.run, name="exporter", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:3000``."""
        config = self.service.config
        return f"{self.scheme}://{config.host}:{config.port}"

    def start(self) -> EmbeddedExporter:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the embedded exporter did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful shutdown: drain requests, commit pending writes, close the database."""
        self.server.should_exit = True
        self._thread.join(STARTUP_TIMEOUT_SECONDS + self.service.config.request_timeout)

    def __enter__(self) -> EmbeddedExporter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def exporter_config(database: str, **settings: Any) -> ExporterConfig:
    """The config of a test exporter: a free loopback port, no sweeps unless asked for."""
    return ExporterConfig(**{"database": database, "port": free_port(), "sweep_interval": 3600.0,
                             **settings})  # fmt: skip


@contextmanager
def embedded_exporter(
    database: str,
    clock: Clock = system_clock,
    tls: Certificates | None = None,
    **settings: Any,
) -> Iterator[EmbeddedExporter]:
    """An :class:`EmbeddedExporter` on ``database`` for the block; ``settings`` are
    :class:`ExporterConfig` fields (tokens, intervals)."""
    with EmbeddedExporter(exporter_config(database, **settings), clock=clock, tls=tls) as running:
        yield running


class ExporterProcess:
    """One exporter subprocess on a fixed loopback port; it can be stopped, killed and restarted."""

    def __init__(
        self,
        database: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        command: Sequence[str] = PYTHON_M_EXPORTER,
        cwd: Path = REPO_ROOT,
        new_session: bool = False,
    ) -> None:
        self.database = database
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.log_path = log_path
        self.command = list(command)
        self.cwd = cwd
        #: Start it in a session (and process group) of its own, whose id is its pid: a signal
        #: to the whole group (``os.killpg``) then reaches it and its children, as systemd's
        #: ``KillMode=control-group`` does.
        self.new_session = new_session
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the exporter."""
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        """The full command line."""
        return [
            *self.command,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database",
            self.database,
            *self.args,
        ]

    def healthy(self) -> bool:
        """True when ``/healthz`` answers 200."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 20.0) -> ExporterProcess:
        """Start (or restart, on the same port) and wait for ``/healthz``."""
        assert self.process is None or self.process.poll() is not None, "already running"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv(),
            env=self.env,
            cwd=self.cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=self.new_session,
        )

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"exporter exited with {self.process.returncode}: {self.log()}")
            return self.healthy()

        wait_until(up, timeout=timeout)
        return self

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (graceful: pending writes committed) and wait; the exit status."""
        assert self.process is not None
        return terminate(self.process, timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to commit or clean up."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def restart(self) -> ExporterProcess:
        """Start again on the same port after a stop or kill."""
        return self.start()

    def log(self) -> str:
        """What the process printed so far (when a log path was given)."""
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""


@contextmanager
def run_exporter(
    database: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[ExporterProcess]:
    """An exporter subprocess for the duration of the block (stopped if still running)."""
    exporter = ExporterProcess(database, args, env=env, log_path=log_path).start()
    try:
        yield exporter
    finally:
        if exporter.process is not None and exporter.process.poll() is None:
            exporter.stop()
