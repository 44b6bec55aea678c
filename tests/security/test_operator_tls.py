"""The operator commands (``heartbeat status``, ``maintenance``, ``retire``, ``reset-secret``)
trust TLS by the library's rule: ``HEARTBEAT_CA_BUNDLE`` (environment, then ``.env``) wins over
requests' own trust, and a certificate they do not trust is one line naming the variable.

A real exporter serves HTTPS on loopback with a certificate signed by a CA made here with the
``openssl`` CLI (``tests/support/certificates.py``)."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from heartbeat import admin, status
from tests.support.certificates import Certificates, make_certificates
from tests.support.exporters import EmbeddedExporter, database_for, embedded_exporter
from tests.support.security import ADMIN_TOKEN, REGISTRAR, bearer, registration
from tests.support.tools import REPO_ROOT, require_binary

#: Variables of the developer's shell that would change what the commands do.
CLEARED = (
    "API_BASE_URL",
    "HEARTBEAT_ADMIN_TOKEN",
    "HEARTBEAT_READ_TOKEN",
    "HEARTBEAT_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
Command = Callable[[Sequence[str] | None], int]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    openssl = require_binary("openssl")
    return make_certificates(openssl, tmp_path_factory.mktemp("operator-tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the exporter's certificate."""
    openssl = require_binary("openssl")
    return make_certificates(openssl, tmp_path_factory.mktemp("operator-other")).ca_cert


@pytest.fixture(scope="module")
def tls_exporter(
    certificates: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedExporter]:
    database = database_for("sqlite", tmp_path_factory.mktemp("operator-tls-db"))
    with embedded_exporter(database, tls=certificates, admin_token=ADMIN_TOKEN) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited trust or API settings; the working directory has no ``.env``."""
    for variable in CLEARED:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)


def trusting(certificates: Certificates) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=certificates.ca_cert))


def enroll(exporter: EmbeddedExporter, certificates: Certificates) -> str:
    body = registration(nombre="Consola taller-9")
    with trusting(certificates) as http:
        answer = http.post(exporter.url + REGISTRAR, json=body)
    assert answer.status_code == 201, answer.text
    return str(body["id"])


def stored(
    exporter: EmbeddedExporter, certificates: Certificates, console_id: str
) -> httpx.Response:
    with trusting(certificates) as http:
        return http.get(f"{exporter.url}/api/consolas/{console_id}", headers=bearer(ADMIN_TOKEN))


def run(capsys: pytest.CaptureFixture[str], command: Command, *argv: str) -> tuple[int, str, str]:
    code = command(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str, prog: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: ")
    return lines[0]


def admin_commands(console_id: str, api: str) -> list[tuple[str, Command, list[str]]]:
    access = ["--api-base-url", api, "--token", ADMIN_TOKEN]
    return [
        ("heartbeat maintenance", admin.main_maintenance, [console_id, "--for", "1h", *access]),
        ("heartbeat reset-secret", admin.main_reset_secret, [console_id, *access]),
        ("heartbeat retire", admin.main_retire, [console_id, *access]),
    ]


def test_status_reads_the_fleet_over_tls_with_the_ca_bundle(
    tls_exporter: EmbeddedExporter,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    enroll(tls_exporter, certificates)
    monkeypatch.setenv("HEARTBEAT_CA_BUNDLE", str(certificates.ca_cert))
    code, out, err = run(capsys, status.main, "--api-base-url", tls_exporter.url + "/api")
    assert (code, err) == (0, "")
    assert "taller-9" in out


def test_status_without_the_ca_bundle_says_in_one_line_to_set_it(
    tls_exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    api = tls_exporter.url + "/api"
    code, out, err = run(capsys, status.main, "--api-base-url", api)
    assert (code, out) == (status.EXIT_UNREACHABLE, "")
    line = one_error_line(err, "heartbeat status")
    assert api in line and "not trusted" in line
    assert "set HEARTBEAT_CA_BUNDLE" in line


def test_status_with_a_ca_bundle_of_another_ca_names_the_variable_and_its_value(
    tls_exporter: EmbeddedExporter,
    other_ca: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HEARTBEAT_CA_BUNDLE", str(other_ca))
    code, _, err = run(capsys, status.main, "--api-base-url", tls_exporter.url + "/api")
    assert code == status.EXIT_UNREACHABLE
    assert f"HEARTBEAT_CA_BUNDLE={other_ca}" in one_error_line(err, "heartbeat status")


def test_the_ca_bundle_wins_over_requests_ca_bundle_as_in_the_library(
    tls_exporter: EmbeddedExporter,
    certificates: Certificates,
    other_ca: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    monkeypatch.setenv("HEARTBEAT_CA_BUNDLE", str(certificates.ca_cert))
    code, _, err = run(capsys, status.main, "--api-base-url", tls_exporter.url + "/api")
    assert (code, err) == (0, "")


def test_the_ca_bundle_is_read_from_dotenv(
    tls_exporter: EmbeddedExporter,
    certificates: Certificates,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / ".env").write_text(f"HEARTBEAT_CA_BUNDLE={certificates.ca_cert}\n")
    code, _, err = run(capsys, status.main, "--api-base-url", tls_exporter.url + "/api")
    assert (code, err) == (0, "")


def test_a_ca_bundle_that_does_not_exist_is_a_bad_value_naming_the_variable(
    tls_exporter: EmbeddedExporter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("HEARTBEAT_CA_BUNDLE", str(missing))
    api = tls_exporter.url + "/api"
    code, _, err = run(capsys, status.main, "--api-base-url", api)
    assert code == 2
    assert "HEARTBEAT_CA_BUNDLE=" in one_error_line(err, "heartbeat status")
    assert "does not exist" in err
    for prog, command, argv in admin_commands("5d3b2a10-0000-4000-8000-000000000000", api):
        code, out, err = run(capsys, command, *argv)
        assert (code, out) == (admin.EXIT_BAD_VALUE, "")
        assert "HEARTBEAT_CA_BUNDLE=" in one_error_line(err, prog)


def test_admin_commands_without_the_ca_bundle_fail_in_one_line_and_change_nothing(
    tls_exporter: EmbeddedExporter,
    certificates: Certificates,
    capsys: pytest.CaptureFixture[str],
) -> None:
    console_id = enroll(tls_exporter, certificates)
    for prog, command, argv in admin_commands(console_id, tls_exporter.url + "/api"):
        code, out, err = run(capsys, command, *argv)
        assert (code, out) == (admin.EXIT_FAILED, "")
        line = one_error_line(err, prog)
        assert "not trusted" in line and "set HEARTBEAT_CA_BUNDLE" in line
    answer = stored(tls_exporter, certificates, console_id)
    assert answer.status_code == 200
    assert answer.json()["mantenimientoHasta"] is None


def test_admin_commands_work_over_tls_with_the_ca_bundle(
    tls_exporter: EmbeddedExporter,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    console_id = enroll(tls_exporter, certificates)
    monkeypatch.setenv("HEARTBEAT_CA_BUNDLE", str(certificates.ca_cert))
    said = []
    for _, command, argv in admin_commands(console_id, tls_exporter.url + "/api"):
        code, out, err = run(capsys, command, *argv)
        assert (code, err) == (0, "")
        said.append(out)
    assert "en mantenimiento hasta" in said[0]
    assert "secreto anulado" in said[1]
    assert "retirada" in said[2]
    assert stored(tls_exporter, certificates, console_id).status_code == 404


def test_the_installed_command_honours_the_ca_bundle(
    tls_exporter: EmbeddedExporter, certificates: Certificates, tmp_path: Path
) -> None:
    console_id = enroll(tls_exporter, certificates)
    env = {"PATH": "/usr/bin:/bin", "HEARTBEAT_CA_BUNDLE": str(certificates.ca_cert)}
    result = subprocess.run(
        [sys.executable, "-m", "heartbeat.cli", "status", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "API_BASE_URL": tls_exporter.url + "/api", "PYTHONPATH": str(REPO_ROOT)},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert console_id in result.stdout
