"""Roles of credentials (enrollment token, console secret, admin token, read token) against a
real exporter process, on both backends: who may do what, and that a refusal changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.exporters import BACKENDS, database_for, run_exporter
from tests.support.security import (
    ADMIN_TOKEN,
    ENROLLMENT_TOKEN,
    READ_TOKEN,
    REGISTRAR,
    bearer,
    beat,
    heartbeat_path,
    registration,
    secret_path,
    stored_secret_hash,
    token_env,
)

ALL_TOKENS = {
    "HEARTBEAT_ENROLLMENT_TOKEN": ENROLLMENT_TOKEN,
    "HEARTBEAT_READ_TOKEN": READ_TOKEN,
    "HEARTBEAT_ADMIN_TOKEN": ADMIN_TOKEN,
}
MAINTENANCE = {"minutos": 30, "motivo": "cambio de disco"}


class Guarded:
    """An exporter process with every token configured, and a client for it."""

    def __init__(self, database: str, client: httpx.Client) -> None:
        self.database = database
        self.http = client

    def enroll(self) -> tuple[str, str]:
        """A new console enrolled with the enrollment token: its id and its secret."""
        body = registration()
        response = self.http.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
        assert response.status_code == 201, response.text
        return body["id"], response.json()["secreto"]

    def view(self, console_id: str) -> dict[str, Any]:
        """What the API and the database hold for the console: its JSON, history, secret hash."""
        read = bearer(READ_TOKEN)
        answer = self.http.get(f"/api/consolas/{console_id}", headers=read)
        assert answer.status_code == 200, answer.text
        history = self.http.get(f"/api/consolas/{console_id}/historial", headers=read).json()
        return {
            "console": answer.json(),
            "historial": history,
            "secret_hash": stored_secret_hash(self.database, console_id),
        }


@pytest.fixture(params=BACKENDS, scope="module")
def guarded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    database = database_for(request.param, tmp_path_factory.mktemp("roles"))
    with (
        run_exporter(database, env=token_env(**ALL_TOKENS)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        yield Guarded(database, client)


# -- the enrollment token: new ids only -----------------------------------------------------


def test_the_enrollment_token_enrolls_a_new_id_and_gets_its_secret(guarded: Guarded) -> None:
    console_id, secret = guarded.enroll()
    assert stored_secret_hash(guarded.database, console_id) is not None
    ok = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(secret))
    assert ok.status_code == 200


def test_the_enrollment_token_on_an_enrolled_id_is_refused_and_changes_nothing(
    guarded: Guarded,
) -> None:
    console_id, secret = guarded.enroll()
    beaten = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(secret))
    assert beaten.status_code == 200
    before = guarded.view(console_id)
    refused = guarded.http.post(
        REGISTRAR,
        json=registration(console_id, nombre="Consola pirata", estado="error"),
        headers=bearer(ENROLLMENT_TOKEN),
    )
    assert refused.status_code == 403
    answer = refused.json()
    assert "secreto" not in answer
    assert answer["message"] == (
        f"console {console_id} is already enrolled: re-register with its own secret "
        f"(.console-secret), or have an operator reset it: heartbeat reset-secret {console_id}"
    )
    assert guarded.view(console_id) == before
    still = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(secret))
    assert still.status_code == 200


def test_an_enrolled_console_re_registers_with_its_own_secret(guarded: Guarded) -> None:
    console_id, secret = guarded.enroll()
    body = registration(console_id, nombre="Consola renombrada")
    again = guarded.http.post(REGISTRAR, json=body, headers=bearer(secret))
    assert again.status_code == 200
    assert "secreto" not in again.json()
    assert guarded.view(console_id)["console"]["nombre"] == "Consola renombrada"


# -- the admin token: retire, maintenance, reset --------------------------------------------


def admin_requests(console_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every operation that needs the admin token: (method, path, JSON body)."""
    return [
        ("DELETE", f"/api/consolas/{console_id}", None),
        ("POST", f"/api/consolas/{console_id}/mantenimiento", MAINTENANCE),
        ("DELETE", f"/api/consolas/{console_id}/mantenimiento", None),
        ("DELETE", secret_path(console_id), None),
    ]


def test_admin_operations_refuse_every_other_credential_and_change_nothing(
    guarded: Guarded,
) -> None:
    console_id, secret = guarded.enroll()
    before = guarded.view(console_id)
    for method, path, body in admin_requests(console_id):
        missing = guarded.http.request(method, path, json=body)
        assert missing.status_code == 401, (method, path)
        assert "admin token" in missing.json()["message"]
        for other in (ENROLLMENT_TOKEN, secret, READ_TOKEN):
            refused = guarded.http.request(method, path, json=body, headers=bearer(other))
            assert refused.status_code == 403, (method, path)
            assert refused.json()["message"] == "the admin token is not valid"
    assert guarded.view(console_id) == before


def test_admin_operations_are_done_with_the_admin_token(guarded: Guarded) -> None:
    console_id, _ = guarded.enroll()
    admin = bearer(ADMIN_TOKEN)
    path = f"/api/consolas/{console_id}"
    started = guarded.http.post(f"{path}/mantenimiento", json=MAINTENANCE, headers=admin)
    assert started.status_code == 200
    assert started.json()["mantenimientoMotivo"] == "cambio de disco"
    ended = guarded.http.delete(f"{path}/mantenimiento", headers=admin)
    assert ended.status_code == 200
    assert ended.json()["mantenimientoHasta"] is None
    assert guarded.http.delete(secret_path(console_id), headers=admin).status_code == 200
    assert guarded.http.delete(path, headers=admin).json() == {"ok": True, "id": console_id}
    assert guarded.http.get(path, headers=admin).status_code == 404


def test_the_admin_token_reads_wherever_the_read_token_does(guarded: Guarded) -> None:
    console_id, _ = guarded.enroll()
    for path in ("/api/consolas", f"/api/consolas/{console_id}", "/metrics", "/"):
        assert guarded.http.get(path, headers=bearer(ADMIN_TOKEN)).status_code == 200, path
        assert guarded.http.get(path, headers=bearer(ENROLLMENT_TOKEN)).status_code == 403, path


# -- resetting a console's secret -----------------------------------------------------------


def test_a_reset_forgets_only_the_secret_and_the_id_enrolls_again(guarded: Guarded) -> None:
    console_id, old = guarded.enroll()
    beaten = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(old))
    assert beaten.status_code == 200
    serviced = guarded.http.post(
        f"/api/consolas/{console_id}/mantenimiento", json=MAINTENANCE, headers=bearer(ADMIN_TOKEN)
    )
    assert serviced.json()["mantenimientoHasta"] is not None
    before = guarded.view(console_id)
    reset = guarded.http.delete(secret_path(console_id), headers=bearer(ADMIN_TOKEN))
    assert reset.json() == {"ok": True, "id": console_id}
    after = guarded.view(console_id)
    assert after["secret_hash"] is None
    assert after["console"] == before["console"]  # state, maintenance, last contact: all kept
    assert after["historial"] == before["historial"]
    stale = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(old))
    assert stale.status_code == 403
    again = guarded.http.post(
        REGISTRAR, json=registration(console_id), headers=bearer(ENROLLMENT_TOKEN)
    )
    assert again.status_code == 200
    new = again.json()["secreto"]
    assert new != old
    ok = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(new))
    assert ok.status_code == 200
    stale = guarded.http.post(heartbeat_path(console_id), json=beat(), headers=bearer(old))
    assert stale.status_code == 403


def test_resetting_an_unknown_console_is_a_404_naming_it(guarded: Guarded) -> None:
    unknown = str(uuid.uuid4())
    answer = guarded.http.delete(secret_path(unknown), headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == 404
    assert answer.json()["field"] == "id"
    assert unknown in answer.json()["message"]


# -- other configurations -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_id_registered_while_the_exporter_was_open_is_enrolled_by_the_enrollment_token(
    backend: str, tmp_path: Path
) -> None:
    database = database_for(backend, tmp_path)
    body = registration()
    with run_exporter(database, env=token_env()) as open_exporter:
        assert httpx.post(open_exporter.url + REGISTRAR, json=body).status_code == 201
    with (
        run_exporter(database, env=token_env(**ALL_TOKENS)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        enrolled = client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
        assert enrolled.status_code == 200
        secret = enrolled.json()["secreto"]
        ok = client.post(heartbeat_path(body["id"]), json=beat(), headers=bearer(secret))
        assert ok.status_code == 200
        again = client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
        assert again.status_code == 403


def test_without_an_admin_token_admin_operations_are_refused_naming_the_setting(
    tmp_path: Path,
) -> None:
    log = tmp_path / "exporter.log"
    env = token_env(HEARTBEAT_ENROLLMENT_TOKEN=ENROLLMENT_TOKEN)
    with (
        run_exporter(database_for("sqlite", tmp_path), env=env, log_path=log) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        body = registration()
        client.post(REGISTRAR, json=body, headers=bearer(ENROLLMENT_TOKEN))
        for method, path, payload in admin_requests(body["id"]):
            for headers in ({}, bearer(ENROLLMENT_TOKEN)):
                refused = client.request(method, path, json=payload, headers=headers)
                assert refused.status_code == 403, (method, path)
                assert "--admin-token-file or HEARTBEAT_ADMIN_TOKEN" in refused.json()["message"]
        assert client.get(f"/api/consolas/{body['id']}").json()["mantenimientoHasta"] is None
        text = running.log()
    warnings = [line for line in text.splitlines() if "no admin token configured" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]


def test_with_no_tokens_every_operation_stays_open(tmp_path: Path) -> None:
    with (
        run_exporter(database_for("sqlite", tmp_path), env=token_env()) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        body = registration()
        registered = client.post(REGISTRAR, json=body)
        assert registered.status_code == 201 and "secreto" not in registered.json()
        assert client.post(REGISTRAR, json=body).status_code == 200
        for method, path, payload in admin_requests(body["id"])[::-1]:  # retire last
            assert client.request(method, path, json=payload).status_code == 200, (method, path)
