"""The console's small HTTP server: ``/`` (HTML), ``/metrics``, ``/healthz`` and, for the agent,
a loopback-only ``GET/POST /estado`` through which a non-Python worker changes its state.

A ``ThreadingHTTPServer`` on a daemon thread: a slow scrape never holds up another request, and
nothing here runs on the worker's threads.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from heartbeat.logs import logger

#: Handles ``POST /estado`` bodies; raises ``ValueError`` for a bad request.
ControlHandler = Callable[[dict[str, Any]], dict[str, Any]]
#: Answers ``GET /estado``.
StatusReader = Callable[[], dict[str, Any]]

MAX_CONTROL_BODY = 64 * 1024

_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>heartbeat console</title></head>
<body><h1>heartbeat console</h1>
<p>Console <code>{console_id}</code>.</p>
<ul><li><a href="metrics">/metrics</a> (Prometheus)</li>
<li><a href="healthz">/healthz</a> (liveness)</li>{extra}</ul></body></html>
"""


class ConsoleHttpServer:
    """Serves one console's endpoints on ``addr:port`` until :meth:`stop`."""

    def __init__(
        self,
        addr: str,
        port: int,
        registry: CollectorRegistry,
        console_id: Callable[[], str],
        *,
        control: ControlHandler | None = None,
        status: StatusReader | None = None,
    ) -> None:
        handler = _make_handler(registry, console_id, control, status)
        server_class = _server_class(addr)
        self._server = server_class((addr, port), handler)  # raises OSError if in use
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"heartbeat-metrics-{port}",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (host, port)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def _server_class(addr: str) -> type[_Server]:
    try:
        if ipaddress.ip_address(addr).version == 6:
            return _Server6
    except ValueError:
        pass
    return _Server


def _is_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _make_handler(
    registry: CollectorRegistry,
    console_id: Callable[[], str],
    control: ControlHandler | None,
    status: StatusReader | None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "heartbeat-console"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                try:
                    body = encoder(registry)
                except Exception as exc:  # a broken collector must not kill the server
                    logger.exception("heartbeat /metrics failed")
                    self._send(500, "text/plain; charset=utf-8", f"error: {exc}\n".encode())
                    return
                self._send(200, content_type, body)
            elif path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok\n")
            elif path == "/":
                extra = '\n<li><a href="estado">/estado</a> (state, JSON)</li>' if status else ""
                page = _INDEX.format(console_id=console_id(), extra=extra)
                self._send(200, "text/html; charset=utf-8", page.encode())
            elif path == "/estado" and status is not None:
                self._json(200, status())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/estado" or control is None:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
                return
            if not _is_loopback(self.client_address[0]):
                self._json(403, {"error": "forbidden", "message": "POST /estado is loopback-only"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= MAX_CONTROL_BODY:
                self._json(400, {"error": "invalid_request", "message": "bad Content-Length"})
                return
            try:
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                result = control(body)
            except (ValueError, UnicodeDecodeError) as exc:
                self._json(400, {"error": "invalid_request", "message": str(exc)})
                return
            self._json(200, result)

        def _json(self, code: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
            self._send(code, "application/json", data)

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("metrics http: " + format, *args)

    return Handler
