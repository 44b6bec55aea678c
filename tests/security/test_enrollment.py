"""Enrollment token and per-console secrets, over real HTTP against a real exporter."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from exporter.storage import open_storage
from exporter.storage.migrations import SCHEMA_VERSION
from exporter.storage.records import Credential, FoundResult, RegisterResult, ResetSecretOp
from exporter.storage.sqlite_schema import SCHEMA_V1
from exporter.tokens import hash_secret
from tests.support.exporters import BACKENDS, database_for, embedded_exporter
from tests.support.security import (
    ADMIN_TOKEN,
    ENROLLMENT_TOKEN,
    REGISTRAR,
    bearer,
    beat,
    database_dump,
    heartbeat_path,
    registration,
    stored_row,
    stored_secret_hash,
)
from tests.support.storage_ops import IDS, T0, register


def enroll(client: httpx.Client, console_id: str | None = None) -> tuple[str, str]:
    """Register a console with the enrollment token; its id and the secret issued."""
    body = registration(console_id)
    response = client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
    assert response.status_code in (200, 201), response.text
    return body["id"], response.json()["secreto"]


# -- registration ---------------------------------------------------------------------------


def test_registration_without_a_token_is_refused_with_401_and_stores_nothing(
    client: httpx.Client, database: str
) -> None:
    body = registration()
    response = client.post(REGISTRAR, json=body)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "enrollment token" in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert stored_row(database, body["id"]) is None


def test_registration_with_a_wrong_token_is_refused_with_403_and_stores_nothing(
    client: httpx.Client, database: str
) -> None:
    body = registration()
    wrong = "not-the-enrollment-token-0123456789"
    response = client.post(REGISTRAR, json=body, headers=bearer(wrong))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert wrong not in response.text
    assert stored_row(database, body["id"]) is None


def test_registration_with_another_auth_scheme_is_a_401_naming_the_bearer_form(
    client: httpx.Client,
) -> None:
    response = client.post(
        REGISTRAR, json=registration(), headers={"Authorization": f"Basic {ENROLLMENT_TOKEN}"}
    )
    assert response.status_code == 401
    assert "Bearer <token>" in response.json()["message"]
    assert ENROLLMENT_TOKEN not in response.text


def test_registration_with_the_enrollment_token_issues_a_secret(client: httpx.Client) -> None:
    body = registration()
    response = client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
    assert response.status_code == 201
    secret = response.json()["secreto"]
    assert isinstance(secret, str) and len(secret) >= 40
    assert secret != ENROLLMENT_TOKEN
    assert response.headers["cache-control"] == "no-store"


def test_each_console_gets_its_own_secret(client: httpx.Client) -> None:
    _, first = enroll(client)
    _, second = enroll(client)
    assert first != second


# -- heartbeats -----------------------------------------------------------------------------


def test_heartbeat_with_the_consoles_own_secret_is_accepted_and_stored(
    client: httpx.Client, database: str
) -> None:
    console_id, secret = enroll(client)
    response = client.post(heartbeat_path(console_id), json=beat(), headers=bearer(secret))
    assert response.status_code == 200
    assert stored_row(database, console_id)["estado"] == "ocupada"  # type: ignore[index]


def test_heartbeat_without_a_secret_is_refused_with_401(
    client: httpx.Client, database: str
) -> None:
    console_id, _ = enroll(client)
    response = client.post(heartbeat_path(console_id), json=beat())
    assert response.status_code == 401
    assert "console secret" in response.json()["message"]
    assert stored_row(database, console_id)["estado"] == "esperando"  # type: ignore[index]


def test_heartbeat_with_another_consoles_secret_is_refused_and_nothing_is_stored(
    client: httpx.Client, database: str
) -> None:
    victim, _ = enroll(client)
    _, attacker_secret = enroll(client)
    before = stored_row(database, victim)
    response = client.post(
        heartbeat_path(victim), json=beat("error", None), headers=bearer(attacker_secret)
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert attacker_secret not in response.text
    assert stored_row(database, victim) == before


def test_the_enrollment_token_is_not_a_console_secret(client: httpx.Client, database: str) -> None:
    console_id, _ = enroll(client)
    response = client.post(
        heartbeat_path(console_id), json=beat(), headers=bearer(ENROLLMENT_TOKEN)
    )
    assert response.status_code == 403
    assert stored_row(database, console_id)["estado"] == "esperando"  # type: ignore[index]


def test_heartbeat_for_an_unknown_console_still_asks_it_to_register(client: httpx.Client) -> None:
    _, secret = enroll(client)
    response = client.post(heartbeat_path(str(uuid.uuid4())), json=beat(), headers=bearer(secret))
    assert response.status_code == 404
    assert response.json()["error"] == "not_registered"


# -- re-registration: restart, recovery, hijack ---------------------------------------------


def test_reregistering_with_its_own_secret_keeps_the_secret(client: httpx.Client) -> None:
    console_id, secret = enroll(client)
    again = client.post(REGISTRAR, json=registration(console_id), headers=bearer(secret))
    assert again.status_code == 200
    assert "secreto" not in again.json()
    ok = client.post(heartbeat_path(console_id), json=beat(), headers=bearer(secret))
    assert ok.status_code == 200


def test_the_enrollment_token_cannot_take_over_an_enrolled_id(
    client: httpx.Client, database: str
) -> None:
    console_id, secret = enroll(client)
    before = stored_row(database, console_id)
    hijack = client.post(
        REGISTRAR,
        json=registration(console_id, nombre="Consola pirata"),
        headers=bearer(ENROLLMENT_TOKEN),
    )
    assert hijack.status_code == 403
    assert "secreto" not in hijack.json()
    assert f"heartbeat reset-secret {console_id}" in hijack.json()["message"]
    assert stored_row(database, console_id) == before
    still = client.post(heartbeat_path(console_id), json=beat(), headers=bearer(secret))
    assert still.status_code == 200


def test_another_console_cannot_take_over_an_id_with_its_own_secret(
    client: httpx.Client, database: str
) -> None:
    victim, victim_secret = enroll(client)
    _, attacker_secret = enroll(client)
    before = stored_row(database, victim)
    hijack = client.post(
        REGISTRAR,
        json=registration(victim, nombre="Consola pirata"),
        headers=bearer(attacker_secret),
    )
    assert hijack.status_code == 403
    assert "secreto" not in hijack.json()
    assert stored_row(database, victim) == before
    still = client.post(heartbeat_path(victim), json=beat(), headers=bearer(victim_secret))
    assert still.status_code == 200


def test_a_console_registered_before_tokens_were_required_must_enroll_again(
    database: str,
) -> None:
    body = registration()
    with embedded_exporter(database) as open_exporter:
        assert httpx.post(open_exporter.url + REGISTRAR, json=body).status_code == 201
    with (
        embedded_exporter(database, enrollment_token=ENROLLMENT_TOKEN) as guarded,
        httpx.Client(base_url=guarded.url) as client,
    ):
        stale = client.post(
            heartbeat_path(body["id"]), json=beat(), headers=bearer("some-old-guess-0123456789")
        )
        assert stale.status_code == 403
        assert "register it again with the enrollment token" in stale.json()["message"]
        _, secret = enroll(client, body["id"])
        ok = client.post(heartbeat_path(body["id"]), json=beat(), headers=bearer(secret))
        assert ok.status_code == 200


# -- storage and retirement -----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_database_keeps_only_a_sha256_hash_of_the_secret(backend: str, tmp_path: Path) -> None:
    database = database_for(backend, tmp_path)
    with (
        embedded_exporter(database, enrollment_token=ENROLLMENT_TOKEN) as running,
        httpx.Client(base_url=running.url) as client,
    ):
        console_id, secret = enroll(client)
    stored = stored_secret_hash(database, console_id)
    assert stored == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    if backend == "sqlite":
        assert secret not in database_dump(database)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_registration_stores_a_secret_only_where_none_is_and_a_reset_clears_it(
    backend: str, tmp_path: Path
) -> None:
    storage = open_storage(database_for(backend, tmp_path))
    try:
        op = register(0, T0)
        first = dataclasses.replace(op, secret_hash=hash_secret("first"))
        second = dataclasses.replace(op, secret_hash=hash_secret("second"))
        renamed = dataclasses.replace(
            second, registration=dataclasses.replace(op.registration, nombre="intruder")
        )
        # Two enrollments racing: the first one holds, the second is refused and changes nothing.
        results = storage.write_batch([first, renamed])
        assert results == [
            RegisterResult(created=True),
            RegisterResult(created=False, already_enrolled=True),
        ]
        assert storage.credential(IDS[0]) == Credential(hash_secret("first"))
        stored = storage.get_console(IDS[0])
        assert stored is not None and stored.nombre == op.registration.nombre
        assert storage.write_batch([ResetSecretOp(IDS[0])]) == [FoundResult(found=True)]
        assert storage.credential(IDS[0]) == Credential(None)
        storage.write_batch([second])
        assert storage.credential(IDS[0]) == Credential(hash_secret("second"))
        assert storage.write_batch([ResetSecretOp(IDS[1])]) == [FoundResult(found=False)]
    finally:
        storage.close()


def test_retiring_a_console_requires_the_admin_token(client: httpx.Client, database: str) -> None:
    console_id, secret = enroll(client)
    path = f"/api/consolas/{console_id}"
    assert client.delete(path).status_code == 401
    assert client.delete(path, headers=bearer(secret)).status_code == 403
    assert client.delete(path, headers=bearer(ENROLLMENT_TOKEN)).status_code == 403
    assert stored_row(database, console_id) is not None
    retired = client.delete(path, headers=bearer(ADMIN_TOKEN))
    assert retired.status_code == 200
    assert stored_row(database, console_id) is None


def test_open_mode_keeps_the_seeds_behaviour(database: str) -> None:
    with (
        embedded_exporter(database) as running,
        httpx.Client(base_url=running.url) as client,
    ):
        body = registration()
        registered = client.post(REGISTRAR, json=body)
        assert registered.status_code == 201
        assert "secreto" not in registered.json()
        assert client.post(heartbeat_path(body["id"]), json=beat()).status_code == 200


def test_a_version_1_database_gains_the_secret_column_and_keeps_its_consoles(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "v1.db")
    console_id = str(uuid.uuid4())
    with sqlite3.connect(database) as conn:
        conn.executescript(SCHEMA_V1)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO consolas (id, nombre, estado, created_at, updated_at, last_seen,"
            " inactive_after_seconds, silent_deadline, state_since)"
            " VALUES (?, 'Consola antigua', 'esperando', 0, 0, 0, 600, 600, 0)",
            (console_id,),
        )
    with (
        embedded_exporter(database, enrollment_token=ENROLLMENT_TOKEN),
        sqlite3.connect(database) as conn,
    ):
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    assert stored_row(database, console_id)["nombre"] == "Consola antigua"  # type: ignore[index]
    assert stored_secret_hash(database, console_id) is None
