"""The exporter as a real subprocess (``python -m exporter``), for tests that kill or restart it."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from consola_demo.processes import terminate
from tests.tools import free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
#: ``python -m exporter`` (the default) and the dispatcher's ``heartbeat exporter``.
PYTHON_M_EXPORTER: tuple[str, ...] = (sys.executable, "-m", "exporter")
HEARTBEAT_EXPORTER: tuple[str, ...] = (sys.executable, "-m", "heartbeat.cli", "exporter")


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
    ) -> None:
        self.database = database
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.log_path = log_path
        self.command = list(command)
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
            self.argv(), env=self.env, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT
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
    """An exporter subprocess for the duration of the block (killed if still running)."""
    exporter = ExporterProcess(database, args, env=env, log_path=log_path).start()
    try:
        yield exporter
    finally:
        if exporter.process is not None and exporter.process.poll() is None:
            exporter.stop()


def database_for(backend: str, directory: Path) -> str:
    """A fresh database of ``backend`` (``sqlite`` file in ``directory``, or ``postgresql``)."""
    if backend == "sqlite":
        return str(directory / "consolas.db")
    from tests.postgres_server import shared_postgres

    return shared_postgres().create_database()
