"""The library's HTTP transport (``heartbeat.transport.ApiClient`` on requests), against real
loopback servers: keep-alive, a server closing idle connections, proxies from the environment,
bounded answers, timeouts and every failure reason, never an exception."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consola_wire.protocol import REGISTER_PATH
from heartbeat.transport import MAX_ANSWER_BYTES, ApiClient, Outcome
from tests.support.forward_proxy import ForwardProxy
from tests.support.recording_api import RecordingApi
from tests.support.security import registration
from tests.support.tools import free_port, wait_until

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class _Server(ThreadingHTTPServer):
    """Counts the connections it has closed."""

    daemon_threads = True
    closed = 0

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed += 1


class ScriptedApi:
    """An HTTP/1.1 server (keep-alive) that answers as ``mode`` says and counts connections.

    Modes: ``ok`` (200 JSON), ``status`` (``self.status``, with a ``Location``), ``endless``
    (a 200 JSON answer that never ends), ``stall`` (no answer), ``stall_body`` (the headers and
    a few bytes, then nothing), ``garbage`` (bytes that are not HTTP).
    """

    def __init__(self, idle_timeout: float | None = None) -> None:
        self.mode = "ok"
        self.status = 200
        self.connections = 0
        self.authorizations: list[str | None] = []
        self.endless_bytes_sent = 0
        self.release = threading.Event()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_timeout  # the server closes a connection idle this long

            def setup(self) -> None:
                super().setup()
                scripted.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                scripted.authorizations.append(self.headers.get("Authorization"))
                if scripted.mode == "stall":
                    scripted.release.wait(30)
                    self.close_connection = True
                elif scripted.mode == "garbage":
                    self.wfile.write(b"this is not HTTP\r\n\r\n")
                    self.close_connection = True
                elif scripted.mode == "stall_body":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    self.wfile.write(b'{"ok":')
                    self.wfile.flush()
                    scripted.release.wait(30)
                    self.close_connection = True
                elif scripted.mode == "endless":
                    self._endless()
                else:
                    self._answer(200 if scripted.mode == "ok" else scripted.status)

            def _answer(self, status: int) -> None:
                payload = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Location", "/elsewhere")
                self.end_headers()
                self.wfile.write(payload)

            def _endless(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b" " * 65536
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                self.close_connection = True
                try:
                    while scripted.endless_bytes_sent < 1024 * MAX_ANSWER_BYTES:
                        self.wfile.write(frame)
                        scripted.endless_bytes_sent += len(chunk)
                except OSError:
                    return  # the client hung up

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def closed(self) -> int:
        """Connections the server has closed."""
        return self._server.closed

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedApi]:
    server = ScriptedApi()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def no_inherited_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.lower(), raising=False)


def post_once(url: str, timeout: float = 5.0, token: str | None = None) -> Outcome:
    client = ApiClient(url, timeout)
    try:
        return client.post(REGISTER_PATH, registration(), token=token)
    finally:
        client.close()


# -- keep-alive ---------------------------------------------------------------------------------


def test_consecutive_requests_share_one_kept_alive_connection(scripted: ScriptedApi) -> None:
    client = ApiClient(scripted.url, 5.0)
    outcomes = [client.post(REGISTER_PATH, registration()) for _ in range(5)]
    client.close()
    assert all(outcome.ok for outcome in outcomes)
    assert scripted.connections == 1


def test_a_server_closing_an_idle_kept_alive_connection_costs_no_failed_request() -> None:
    server = ScriptedApi(idle_timeout=0.2)
    client = ApiClient(server.url, 5.0)
    try:
        assert client.post(REGISTER_PATH, registration()).ok
        wait_until(lambda: server.closed == 1)  # the server closed the idle connection
        time.sleep(0.05)  # and its FIN reached the client
        outcome = client.post(REGISTER_PATH, registration())
    finally:
        client.close()
        server.close()
    assert outcome.ok, outcome.detail
    assert server.connections == 2  # the dead connection was noticed and replaced


# -- proxies from the environment ---------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    running = ForwardProxy()
    yield running
    running.close()


def test_http_proxy_from_the_environment_carries_the_requests(
    api: RecordingApi, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    outcome = post_once(api.base_url)
    assert outcome.ok, outcome.detail
    assert proxy.requests == [("POST", api.base_url + REGISTER_PATH)]
    assert len(api.records("registrar", 200)) == 1


def test_no_proxy_sends_the_requests_straight_to_the_api(
    api: RecordingApi, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    outcome = post_once(api.base_url)
    assert outcome.ok, outcome.detail
    assert proxy.requests == []
    assert len(api.records("registrar", 200)) == 1


def test_an_unreachable_proxy_is_a_connection_failure(
    api: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    outcome = post_once(api.base_url)
    assert (outcome.ok, outcome.reason) == (False, "connection")
    assert api.records() == []


# -- credentials --------------------------------------------------------------------------------


def test_the_bearer_token_is_sent_and_a_netrc_entry_does_not_replace_it(
    scripted: ScriptedApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert post_once(scripted.url, token="the-console-secret").ok
    assert post_once(scripted.url).ok
    assert scripted.authorizations == ["Bearer the-console-secret", None]


# -- answers ------------------------------------------------------------------------------------


def test_an_endless_answer_is_read_only_up_to_its_bound(scripted: ScriptedApi) -> None:
    scripted.mode = "endless"
    started = time.monotonic()
    outcome = post_once(scripted.url)
    assert outcome.ok
    assert outcome.data is None  # a truncated body is no JSON object
    assert time.monotonic() - started < 5
    assert scripted.endless_bytes_sent < 64 * MAX_ANSWER_BYTES  # the client hung up early


def test_a_json_answer_comes_back_as_data(scripted: ScriptedApi) -> None:
    outcome = post_once(scripted.url)
    assert (outcome.ok, outcome.status, outcome.data) == (True, 200, {"ok": True})


@pytest.mark.parametrize(
    ("status", "reason"), [(400, "http_4xx"), (404, "http_4xx"), (503, "http_5xx")]
)
def test_an_error_status_is_classified_by_its_class(
    scripted: ScriptedApi, status: int, reason: str
) -> None:
    scripted.mode, scripted.status = "status", status
    outcome = post_once(scripted.url)
    assert (outcome.ok, outcome.status, outcome.reason) == (False, status, reason)
    assert outcome.detail.startswith(f"HTTP {status}")


def test_a_redirect_is_not_followed_and_counts_as_other(scripted: ScriptedApi) -> None:
    scripted.mode, scripted.status = "status", 302
    outcome = post_once(scripted.url)
    assert (outcome.ok, outcome.status, outcome.reason) == (False, 302, "other")
    assert len(scripted.authorizations) == 1  # /elsewhere was never asked for


# -- failures: classified, never raised ---------------------------------------------------------


def test_a_refused_connection_is_a_connection_failure() -> None:
    outcome = post_once(f"http://127.0.0.1:{free_port()}/api")
    assert (outcome.ok, outcome.status, outcome.reason) == (False, None, "connection")


def test_a_server_that_never_answers_is_a_timeout_within_the_bound(scripted: ScriptedApi) -> None:
    scripted.mode = "stall"
    started = time.monotonic()
    outcome = post_once(scripted.url, timeout=0.3)
    elapsed = time.monotonic() - started
    assert (outcome.ok, outcome.reason) == (False, "timeout")
    assert "timeout after 0.3s" in outcome.detail
    assert elapsed < 2


def test_an_answer_that_stops_halfway_is_a_timeout(scripted: ScriptedApi) -> None:
    scripted.mode = "stall_body"
    started = time.monotonic()
    outcome = post_once(scripted.url, timeout=0.3)
    assert (outcome.ok, outcome.reason) == (False, "timeout")
    assert time.monotonic() - started < 2


def test_an_answer_that_is_not_http_is_a_connection_failure(scripted: ScriptedApi) -> None:
    scripted.mode = "garbage"
    outcome = post_once(scripted.url)
    assert (outcome.ok, outcome.reason) == (False, "connection")


def test_a_body_that_is_not_json_is_other_and_nothing_is_sent(scripted: ScriptedApi) -> None:
    client = ApiClient(scripted.url, 5.0)
    outcome = client.post(REGISTER_PATH, {"value": float("nan")})
    client.close()
    assert (outcome.ok, outcome.reason) == (False, "other")
    assert outcome.detail.startswith("ValueError")
    assert scripted.connections == 0


def test_a_client_that_is_not_http_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="not an http"):
        ApiClient("ftp://127.0.0.1/api", 1.0)


def test_the_client_recovers_after_a_failure_on_the_same_session(scripted: ScriptedApi) -> None:
    client = ApiClient(scripted.url, 0.3)
    scripted.mode = "stall"
    first = client.post(REGISTER_PATH, registration())
    scripted.release.set()
    scripted.mode = "ok"
    second = client.post(REGISTER_PATH, registration())
    client.close()
    assert first.reason == "timeout"
    assert second.ok, second.detail
    assert second.data == {"ok": True}
