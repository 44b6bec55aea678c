"""Shared pieces of the security and compression tests: tokens, bodies, exporters, certificates."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from exporter.config import ExporterConfig
from exporter.service import ExporterService
from exporter.storage import is_postgres_url, sqlite_path
from exporter.web.app import create_app
from tests.support.embedded_exporter import EmbeddedExporter
from tests.tools import free_port

ENROLLMENT_TOKEN = "enroll-" + "e1" * 16  # distinctive, so a leak is easy to grep for
READ_TOKEN = "read-" + "r2" * 16
REGISTRAR = "/api/consolas/registrar"


def heartbeat_path(console_id: str) -> str:
    return f"/api/consolas/{console_id}/heartbeat"


def registration(console_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A minimal valid registration body."""
    return {
        "id": console_id or str(uuid.uuid4()),
        "nombre": "Consola de prueba",
        "estado": "esperando",
        **extra,
    }


def beat(estado: str = "ocupada", video: str | None = "Video Historia 1 (2/5)") -> dict[str, Any]:
    """A minimal valid heartbeat body."""
    return {"estado": estado, "videoEnProceso": video}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def embedded(
    database: str,
    *,
    enrollment_token: str | None = ENROLLMENT_TOKEN,
    read_token: str | None = None,
) -> Iterator[EmbeddedExporter]:
    """An in-process exporter on a free loopback port with the given tokens."""
    config = ExporterConfig(
        database=database,
        port=free_port(),
        sweep_interval=3600,
        enrollment_token=enrollment_token,
        read_token=read_token,
    )
    with EmbeddedExporter(config) as running:
        yield running


def stored_secret_hash(database: str, console_id: str) -> str | None:
    """``consolas.secret_hash`` read straight from the database file or server."""
    if is_postgres_url(database):
        import psycopg

        with psycopg.connect(database) as conn:
            row = conn.execute(
                "SELECT secret_hash FROM consolas WHERE id = %s", (uuid.UUID(console_id),)
            ).fetchone()
    else:
        with sqlite3.connect(sqlite_path(database)) as conn:
            row = conn.execute(
                "SELECT secret_hash FROM consolas WHERE id = ?", (console_id,)
            ).fetchone()
    assert row is not None, f"console {console_id} is not in the database"
    return None if row[0] is None else str(row[0])


def stored_row(database: str, console_id: str) -> dict[str, Any] | None:
    """The SQLite row of a console as a dict (None when absent)."""
    with sqlite3.connect(sqlite_path(database)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM consolas WHERE id = ?", (console_id,)).fetchone()
    return None if row is None else dict(row)


def database_dump(database: str) -> str:
    """Every table of a SQLite database as text (to search it for a leaked secret)."""
    with sqlite3.connect(sqlite_path(database)) as conn:
        return "\n".join(json.dumps(list(row), default=str) for row in conn.iterdump())


# -- TLS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A private CA and a server certificate it signed for 127.0.0.1."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_certificates(openssl: str, directory: Path) -> Certificates:
    """Generate a CA and a 127.0.0.1 server certificate with the ``openssl`` CLI."""

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=directory)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=consola-heartbeat test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "2",
        "-CAcreateserial", "-out", "server.pem", "-extfile", "server.ext")  # fmt: skip
    return Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")


class TlsExporter:
    """The real exporter app served by uvicorn over TLS on loopback, on a thread."""

    def __init__(self, database: str, certificates: Certificates, **tokens: str | None) -> None:
        port = free_port()
        self.service = ExporterService(
            ExporterConfig(database=database, port=port, sweep_interval=3600, **tokens)  # type: ignore[arg-type]
        )
        self.url = f"https://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.service),
                host="127.0.0.1",
                port=port,
                lifespan="on",
                log_config=None,
                access_log=False,
                ssl_certfile=str(certificates.server_cert),
                ssl_keyfile=str(certificates.server_key),
            )
        )
        self._thread = threading.Thread(target=self.server.run, name="tls-exporter", daemon=True)

    def __enter__(self) -> TlsExporter:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the TLS exporter did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(20)
