"""TLS: the client verifies the exporter's certificate, trusting a private CA only when told to.

The exporter runs behind real TLS on loopback (uvicorn with a certificate signed by a CA these
tests generate with the ``openssl`` CLI), as it would behind a TLS-terminating reverse proxy.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from consola_wire.protocol import REGISTER_PATH
from heartbeat.config import ConfigError, HeartbeatConfig
from heartbeat.service import HeartbeatService
from heartbeat.transport import ApiClient, Outcome
from tests.support.certificates import Certificates, make_certificates
from tests.support.exporters import EmbeddedExporter, database_for, embedded_exporter
from tests.support.forward_proxy import ForwardProxy
from tests.support.recording_api import fast_config
from tests.support.security import ENROLLMENT_TOKEN, registration, stored_row
from tests.support.tools import require_binary, wait_until


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    openssl = require_binary("openssl")
    return make_certificates(openssl, Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_for("sqlite", Path(tmp_path_factory.mktemp("tls-db")))


@pytest.fixture(scope="module")
def tls_exporter(certificates: Certificates, database: str) -> Iterator[EmbeddedExporter]:
    with embedded_exporter(
        database, tls=certificates, enrollment_token=ENROLLMENT_TOKEN
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def no_inherited_ca_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the exporter's certificate."""
    openssl = require_binary("openssl")
    return make_certificates(openssl, Path(tmp_path_factory.mktemp("other-tls"))).ca_cert


def register_over_tls(exporter: EmbeddedExporter, ca_bundle: Path | None = None) -> Outcome:
    client = ApiClient(exporter.url + "/api", 5.0, ca_bundle=ca_bundle)
    try:
        return client.post(REGISTER_PATH, registration(), token=ENROLLMENT_TOKEN)
    finally:
        client.close()


def test_without_the_ca_bundle_the_client_refuses_the_servers_certificate(
    tls_exporter: EmbeddedExporter,
) -> None:
    client = ApiClient(tls_exporter.url + "/api", 5.0)
    outcome = client.post(REGISTER_PATH, registration(), token=ENROLLMENT_TOKEN)
    client.close()
    assert not outcome.ok
    assert outcome.reason == "connection"
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.detail


def test_with_the_ca_bundle_the_client_registers_over_tls(
    tls_exporter: EmbeddedExporter, certificates: Certificates
) -> None:
    client = ApiClient(tls_exporter.url + "/api", 5.0, ca_bundle=certificates.ca_cert)
    outcome = client.post(REGISTER_PATH, registration(), token=ENROLLMENT_TOKEN)
    client.close()
    assert outcome.ok, outcome.detail
    assert outcome.status == 201
    assert outcome.data is not None and "secreto" in outcome.data


def test_requests_ca_bundle_in_the_environment_does_not_override_the_configured_bundle(
    tls_exporter: EmbeddedExporter, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # public CAs only
    client = ApiClient(tls_exporter.url + "/api", 5.0, ca_bundle=certificates.ca_cert)
    outcome = client.post(REGISTER_PATH, registration(), token=ENROLLMENT_TOKEN)
    client.close()
    assert outcome.ok, outcome.detail


def test_a_ca_bundle_of_another_ca_refuses_the_servers_certificate(
    tls_exporter: EmbeddedExporter, other_ca: Path
) -> None:
    outcome = register_over_tls(tls_exporter, other_ca)
    assert not outcome.ok
    assert outcome.reason == "connection"
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.detail


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_environment_naming_the_right_ca_does_not_override_a_configured_other_ca(
    tls_exporter: EmbeddedExporter,
    certificates: Certificates,
    other_ca: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, str(certificates.ca_cert))
    outcome = register_over_tls(tls_exporter, other_ca)
    assert (outcome.ok, outcome.reason) == (False, "connection")
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.detail


def test_without_a_configured_bundle_requests_ca_bundle_is_honoured(
    tls_exporter: EmbeddedExporter, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca_cert))  # requests' own setting
    outcome = register_over_tls(tls_exporter)
    assert outcome.ok, outcome.detail


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_an_empty_ca_variable_in_the_environment_never_turns_verification_off(
    tls_exporter: EmbeddedExporter, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "")
    outcome = register_over_tls(tls_exporter)
    assert (outcome.ok, outcome.reason) == (False, "connection")
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.detail


def test_a_hashed_ca_directory_is_accepted_as_the_bundle(
    tls_exporter: EmbeddedExporter, certificates: Certificates, tmp_path: Path
) -> None:
    directory = tmp_path / "cas"
    directory.mkdir()
    shutil.copy(certificates.ca_cert, directory / "heartbeat-ca.pem")
    subprocess.run([require_binary("openssl"), "rehash", str(directory)], check=True)
    outcome = register_over_tls(tls_exporter, directory)
    assert outcome.ok, outcome.detail


def test_https_goes_through_the_environments_proxy_as_a_verified_tunnel(
    tls_exporter: EmbeddedExporter, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(variable, raising=False)
    proxy = ForwardProxy()
    try:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        refused = register_over_tls(tls_exporter)
        outcome = register_over_tls(tls_exporter, certificates.ca_cert)
    finally:
        proxy.close()
    assert outcome.ok, outcome.detail
    assert (refused.ok, refused.reason) == (False, "connection")  # verified through the tunnel
    origin = tls_exporter.url.removeprefix("https://")
    assert proxy.requests == [("CONNECT", origin), ("CONNECT", origin)]


def test_the_library_reports_over_tls_with_tokens_end_to_end(
    tls_exporter: EmbeddedExporter, certificates: Certificates, database: str, tmp_path: Path
) -> None:
    config = fast_config(
        tls_exporter.url + "/api",
        tmp_path,
        api_token=ENROLLMENT_TOKEN,
        ca_bundle=certificates.ca_cert,
    )
    service = HeartbeatService(config)
    service.iniciar()
    try:
        service.cambiar_estado("ocupada", video_en_proceso="Sobre TLS")

        def stored() -> bool:
            row = stored_row(database, service.obtener_console_id())
            return row is not None and row["video_en_proceso"] == "Sobre TLS"

        wait_until(stored)
    finally:
        service.detener()
    assert (tmp_path / ".console-secret").exists()


def test_a_ca_bundle_that_does_not_exist_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.pem"
    with pytest.raises(ConfigError) as caught:
        HeartbeatConfig.from_env({"HEARTBEAT_CA_BUNDLE": str(missing)}, use_dotenv=False)
    assert caught.value.variable == "HEARTBEAT_CA_BUNDLE"
    assert "does not exist" in str(caught.value)


def test_a_ca_bundle_that_exists_is_accepted(certificates: Certificates) -> None:
    config = HeartbeatConfig.from_env(
        {"HEARTBEAT_CA_BUNDLE": str(certificates.ca_cert)}, use_dotenv=False
    )
    assert config.ca_bundle == certificates.ca_cert
