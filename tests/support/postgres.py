"""A real PostgreSQL for tests: initdb into a temp dir, serve on a free loopback port.

Postgres refuses to run as root: when the tests run as uid 0 the data directory is given to the
``postgres`` user and the binaries run through ``runuser -u postgres --``.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.tools import free_port, require_binary, wait_until

BINARY_GLOB = "/usr/lib/postgresql/*/bin/"


@dataclass
class RunningPostgres:
    """A PostgreSQL server started by :func:`start_postgres`."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    argv: list[str] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def admin_url(self) -> str:
        """URL of the ``postgres`` maintenance database."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        """URL of ``database`` on this server (trust auth, user ``postgres``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def halt(self) -> None:
        """Stop the server (fast shutdown), keeping its data for :meth:`resume`."""
        if self.process.poll() is None:
            self._signal_postmaster(signal.SIGINT)  # fast shutdown: disconnects clients
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _signal_postmaster(self, signum: int) -> None:
        """Signal the postmaster itself (``runuser`` in between would turn it into a kill)."""
        try:
            pid = int((self.workdir / "data" / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signum)
        except (OSError, ValueError, IndexError):
            self.process.terminate()

    def resume(self) -> None:
        """Start a halted server again on the same port and data."""
        log = open(self.workdir / "postgres.log", "ab")  # noqa: SIM115 (open for the server's life)
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.ready, timeout=30)

    def ready(self) -> bool:
        """True once the server accepts connections; raises if it died."""
        if self.process.poll() is not None:
            raise RuntimeError((self.workdir / "postgres.log").read_text())
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Stop the server and delete its files."""
        self.halt()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return [require_binary("runuser"), "-u", "postgres", "--", *argv]
    return argv


def start_postgres() -> RunningPostgres:
    """Initialise and start a throwaway cluster (fsync off: tests, not durability of Postgres)."""
    initdb = require_binary("initdb", BINARY_GLOB + "initdb")
    postgres = require_binary("postgres", BINARY_GLOB + "postgres")
    workdir = Path(tempfile.mkdtemp(prefix="heartbeat-pg-"))
    data = workdir / "data"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    argv = _as_postgres(
        [
            postgres,
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(workdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ]
    )
    log = open(workdir / "postgres.log", "wb")  # noqa: SIM115 (kept open for the server's life)
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    server = RunningPostgres(port=port, workdir=workdir, process=process, argv=argv)
    wait_until(server.ready, timeout=30)
    return server


_shared: list[RunningPostgres] = []
_shared_lock = threading.Lock()


def shared_postgres() -> RunningPostgres:
    """One server per test process, started on first use and stopped at exit."""
    with _shared_lock:
        if not _shared or _shared[-1].process.poll() is not None:
            server = start_postgres()
            atexit.register(server.stop)
            _shared.append(server)
        return _shared[-1]
