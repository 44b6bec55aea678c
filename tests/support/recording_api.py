"""A real recording HTTP server on loopback that stands in for the consoles API in tests.

It validates bodies with ``consola_wire`` (400 on a bad one, like the real exporter), records
every request with its receive time, forgets consoles on demand (so a heartbeat gets 404), can
be told to answer 404/500 or to hang, and can be stopped and restarted on the same port to
simulate an outage.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from consola_wire import WireError, decode_json, parse_heartbeat, parse_registration
from heartbeat.config import HeartbeatConfig

_HEARTBEAT = re.compile(r"^/api/consolas/([^/]+)/heartbeat$")
REGISTER = "/api/consolas/registrar"


@dataclass(frozen=True)
class Recorded:
    """One request as received."""

    method: str
    path: str
    body: Any
    received: float  # time.monotonic()
    status: int
    thread: str

    @property
    def kind(self) -> str:
        """``registrar``, ``heartbeat`` or ``other``."""
        if self.path == REGISTER:
            return "registrar"
        return "heartbeat" if _HEARTBEAT.match(self.path) else "other"

    @property
    def estado(self) -> str | None:
        return self.body.get("estado") if isinstance(self.body, dict) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class RecordingApi:
    """The stand-in API at ``http://127.0.0.1:<port>/api``."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._records: list[Recorded] = []
        self._known: set[str] = set()
        self.mode = "ok"  # ok | 404 | 500 | hang
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Listen (again) on the same port."""
        self._release.clear()
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (connections are refused until :meth:`start`)."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def forget(self) -> None:
        """Forget every registered console: their next heartbeat gets 404."""
        with self._lock:
            self._known.clear()

    def set_mode(self, mode: str) -> None:
        """``ok``, ``404``, ``500`` or ``hang`` (hold the request until released or stopped)."""
        if mode not in {"ok", "404", "500", "hang"}:
            raise ValueError(mode)
        if mode != "hang":
            self._release.set()
        else:
            self._release.clear()
        self.mode = mode

    def records(self, kind: str | None = None, status: int | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self._records
                if (kind is None or r.kind == kind) and (status is None or r.status == status)
            ]

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._records.append(rec)

    def _answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if self.mode == "404":
            return 404, {"error": "not_found"}
        if self.mode == "500":
            return 500, {"error": "internal"}
        try:
            if path == REGISTER:
                reg = parse_registration(body)
                with self._lock:
                    self._known.add(reg.console_id)
                return 200, {"ok": True}
            match = _HEARTBEAT.match(path)
            if match:
                parse_heartbeat(body)
                with self._lock:
                    known = match.group(1) in self._known
                return (200, {"ok": True}) if known else (404, {"error": "not_found"})
        except WireError as exc:
            return 400, exc.to_json()
        return 404, {"error": "not_found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received = time.monotonic()
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body: Any = decode_json(raw)
                except WireError:
                    body = raw
                if api.mode == "hang":
                    api._release.wait(30)
                    api._record(Recorded("POST", self.path, body, received, 0, "hang"))
                    return  # drop the connection without an answer
                status, reply = api._answer(self.path, body)
                api._record(
                    Recorded(
                        "POST", self.path, body, received, status, threading.current_thread().name
                    )
                )
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def fast_config(api_base_url: str | None, workdir: Path, **overrides: Any) -> HeartbeatConfig:
    """A console config for tests: 1.2 s interval, short timeouts and backoff, /metrics off."""
    values: dict[str, Any] = {
        "api_base_url": api_base_url,
        "interval_minutes": 0.02,
        "console_name": "Consola de prueba",
        "console_id_file": workdir / ".console-id",
        "timeout_seconds": 0.5,
        "metrics_port": None,
        "retry_initial_seconds": 0.1,
        "retry_max_seconds": 0.5,
        "stop_timeout_seconds": 2.0,
        "settle_seconds": 0.05,
    }
    values.update(overrides)
    return HeartbeatConfig(**values)
