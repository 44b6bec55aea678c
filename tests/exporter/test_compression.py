"""Gzip request bodies (the seed's "Compresión de datos"): accepted, bounded, negotiated.

The exporter side runs against a real exporter over loopback HTTP; the client side against a
real recording HTTP server that shows exactly which encoding each request used.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from consola_wire.protocol import MAX_BODY_BYTES, REGISTER_PATH
from exporter.web.decompress import BoundedGunzip
from exporter.web.errors import ApiError
from heartbeat.transport import ApiClient
from tests.support.exporters import EmbeddedExporter, database_for, embedded_exporter
from tests.support.security import REGISTRAR, beat, heartbeat_path, registration
from tests.support.security import stored_row as stored

GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON padded with trailing whitespace (still valid JSON) to exactly ``size``."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_for("sqlite", Path(tmp_path_factory.mktemp("gzip")))


@pytest.fixture(scope="module")
def exporter(database: str) -> Iterator[EmbeddedExporter]:
    with embedded_exporter(database) as running:
        yield running


@pytest.fixture
def client(exporter: EmbeddedExporter) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=exporter.url, timeout=10) as http:
        yield http


# -- the exporter -----------------------------------------------------------------------------


def test_gzip_registration_and_heartbeat_are_accepted_and_stored(
    client: httpx.Client, database: str
) -> None:
    body = registration()
    registered = client.post(REGISTRAR, content=gz(json.dumps(body).encode()), headers=GZIP)
    assert registered.status_code == 201
    path = heartbeat_path(body["id"])
    beaten = client.post(path, content=gz(json.dumps(beat()).encode()), headers=GZIP)
    assert beaten.status_code == 200
    assert stored(database, body["id"])["video_en_proceso"] == "Video Historia 1 (2/5)"  # type: ignore[index]


def test_the_legacy_x_gzip_name_is_accepted(client: httpx.Client) -> None:
    headers = {**GZIP, "Content-Encoding": "x-gzip"}
    response = client.post(
        REGISTRAR, content=gz(json.dumps(registration()).encode()), headers=headers
    )
    assert response.status_code == 201


def test_the_exporter_advertises_gzip_on_its_answers_to_consoles(client: httpx.Client) -> None:
    body = registration()
    registered = client.post(REGISTRAR, json=body)
    assert registered.headers["accept-encoding"] == "gzip"
    beaten = client.post(heartbeat_path(body["id"]), json=beat())
    assert beaten.headers["accept-encoding"] == "gzip"


def test_a_body_that_decompresses_to_exactly_the_limit_is_accepted(client: httpx.Client) -> None:
    response = client.post(
        REGISTRAR, content=gz(padded(registration(), MAX_BODY_BYTES)), headers=GZIP
    )
    assert response.status_code == 201


def test_a_body_that_decompresses_one_byte_past_the_limit_is_refused_with_413(
    client: httpx.Client, database: str
) -> None:
    body = registration()
    response = client.post(REGISTRAR, content=gz(padded(body, MAX_BODY_BYTES + 1)), headers=GZIP)
    assert response.status_code == 413
    assert "once decompressed" in response.json()["message"]
    assert response.json()["limit"] == MAX_BODY_BYTES
    assert stored(database, body["id"]) is None


def test_a_zip_bomb_is_refused_with_413_without_being_inflated(
    client: httpx.Client, database: str
) -> None:
    inflated = 16 * 1024 * 1024  # 256 times the limit
    bomb = gz(b"[" + b" " * inflated + b"]")
    assert len(bomb) < MAX_BODY_BYTES // 2  # small on the wire, 16 MiB once inflated
    response = client.post(REGISTRAR, content=bomb, headers=GZIP)
    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_decompression_stops_one_byte_past_the_limit() -> None:
    inflater = BoundedGunzip(limit=1000)
    bomb = gz(b" " * (1024 * 1024))
    with pytest.raises(ApiError) as caught:
        for start in range(0, len(bomb), 256):
            inflater.feed(bomb[start : start + 256])
    assert caught.value.status == 413
    assert inflater.produced == 1001


def test_a_compressed_body_larger_than_the_limit_on_the_wire_is_refused_with_413(
    client: httpx.Client,
) -> None:
    noise = gz(os.urandom(MAX_BODY_BYTES + 1024))  # incompressible: bigger than the limit
    response = client.post(REGISTRAR, content=noise, headers=GZIP)
    assert response.status_code == 413


def test_a_body_that_is_not_gzip_is_refused_with_400_naming_gzip(client: httpx.Client) -> None:
    response = client.post(REGISTRAR, content=json.dumps(registration()).encode(), headers=GZIP)
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "is not valid gzip" in response.json()["message"]


def test_a_truncated_gzip_body_is_refused_with_400(client: httpx.Client) -> None:
    whole = gz(json.dumps(registration()).encode())
    response = client.post(REGISTRAR, content=whole[: len(whole) // 2], headers=GZIP)
    assert response.status_code == 400
    assert "truncated" in response.json()["message"]


def test_a_gzip_body_with_a_corrupt_checksum_is_refused_with_400(client: httpx.Client) -> None:
    whole = bytearray(gz(json.dumps(registration()).encode()))
    whole[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    response = client.post(REGISTRAR, content=bytes(whole), headers=GZIP)
    assert response.status_code == 400
    assert "is not valid gzip" in response.json()["message"]


def test_data_after_the_gzip_stream_is_refused_with_400(client: httpx.Client) -> None:
    whole = gz(json.dumps(registration()).encode()) + b"trailing"
    response = client.post(REGISTRAR, content=whole, headers=GZIP)
    assert response.status_code == 400
    assert "after the end of the gzip stream" in response.json()["message"]


def test_an_unsupported_encoding_is_refused_with_415_that_advertises_gzip(
    client: httpx.Client,
) -> None:
    response = client.post(
        REGISTRAR,
        content=zlib.compress(json.dumps(registration()).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "deflate"},
    )
    assert response.status_code == 415
    assert response.json()["field"] == "Content-Encoding"
    assert response.headers["accept-encoding"] == "gzip"


# -- the client -------------------------------------------------------------------------------


class EncodingRecorder:
    """A real HTTP server recording each request's ``Content-Encoding`` and decoded body."""

    def __init__(self, advertise: bool = True, refuse_gzip: bool = False) -> None:
        self.advertise = advertise
        self.refuse_gzip = refuse_gzip
        self.requests: list[tuple[str | None, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding")
                if encoding == "gzip" and recorder.refuse_gzip:
                    recorder.requests.append((encoding, None))
                    self._answer(415)
                    return
                data = gzip.decompress(raw) if encoding == "gzip" else raw
                recorder.requests.append((encoding, json.loads(data)))
                self._answer(200)

            def _answer(self, status: int) -> None:
                payload = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if recorder.advertise and not recorder.refuse_gzip:
                    self.send_header("Accept-Encoding", "gzip")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def encodings(self) -> list[str | None]:
        return [encoding for encoding, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder_factory() -> Iterator[Any]:
    made: list[EncodingRecorder] = []

    def make(**kwargs: bool) -> EncodingRecorder:
        made.append(EncodingRecorder(**kwargs))
        return made[-1]

    yield make
    for recorder in made:
        recorder.close()


def send_three(url: str, mode: str) -> ApiClient:
    client = ApiClient(url, 5.0, compression=mode)
    body = registration()
    for _ in range(3):
        assert client.post(REGISTER_PATH, body).ok
    client.close()
    return client


def test_auto_sends_plain_json_until_the_server_advertises_gzip_then_gzip(
    recorder_factory: Any,
) -> None:
    recorder = recorder_factory(advertise=True)
    send_three(recorder.url, "auto")
    assert recorder.encodings() == [None, "gzip", "gzip"]
    bodies = [body for _, body in recorder.requests]
    assert bodies[0] == bodies[1] == bodies[2]


def test_auto_never_compresses_for_a_server_that_does_not_advertise_gzip(
    recorder_factory: Any,
) -> None:
    recorder = recorder_factory(advertise=False)
    send_three(recorder.url, "auto")
    assert recorder.encodings() == [None, None, None]


def test_on_compresses_from_the_first_request(recorder_factory: Any) -> None:
    recorder = recorder_factory(advertise=False)
    send_three(recorder.url, "on")
    assert recorder.encodings() == ["gzip", "gzip", "gzip"]


def test_off_never_compresses_even_when_the_server_advertises_gzip(recorder_factory: Any) -> None:
    recorder = recorder_factory(advertise=True)
    send_three(recorder.url, "off")
    assert recorder.encodings() == [None, None, None]


def test_auto_falls_back_to_plain_json_at_once_when_the_server_stops_taking_gzip(
    recorder_factory: Any,
) -> None:
    recorder = recorder_factory(advertise=True)
    client = ApiClient(recorder.url, 5.0, compression="auto")
    assert client.post(REGISTER_PATH, registration()).ok
    assert client.compressing
    recorder.refuse_gzip = True
    outcome = client.post(REGISTER_PATH, registration())
    client.close()
    assert outcome.ok  # the same call retried without gzip
    assert recorder.encodings() == [None, "gzip", None]
    assert not client.compressing


def test_the_clients_gzip_bodies_are_accepted_by_the_real_exporter(
    exporter: EmbeddedExporter, database: str
) -> None:
    client = ApiClient(exporter.url + "/api", 5.0, compression="auto")
    console_id = str(uuid.uuid4())
    assert client.post(REGISTER_PATH, registration(console_id)).ok
    assert client.compressing  # the exporter advertised gzip on the registration answer
    outcome = client.post(heartbeat_path(console_id).removeprefix("/api"), beat("error", "X"))
    client.close()
    assert outcome.ok, outcome.detail
    assert stored(database, console_id)["estado"] == "error"  # type: ignore[index]
