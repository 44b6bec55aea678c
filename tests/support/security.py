"""Shared pieces of the security and compression tests: tokens, bodies, stored credentials."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from typing import Any

from exporter.storage import is_postgres_url, sqlite_path

ENROLLMENT_TOKEN = "enroll-" + "e1" * 16  # distinctive, so a leak is easy to grep for
READ_TOKEN = "read-" + "r2" * 16
ADMIN_TOKEN = "admin-" + "a5" * 16
REGISTRAR = "/api/consolas/registrar"
#: The exporter's token variables: cleared from a test exporter's inherited environment.
TOKEN_VARIABLES = ("HEARTBEAT_ENROLLMENT_TOKEN", "HEARTBEAT_READ_TOKEN", "HEARTBEAT_ADMIN_TOKEN")


def token_env(**values: str) -> dict[str, str]:
    """The test's environment without inherited token variables, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARIABLES}
    env.update(values)
    return env


def secret_path(console_id: str) -> str:
    """``DELETE`` here resets a console's secret (admin token)."""
    return f"/api/consolas/{console_id}/secreto"


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
