"""A loopback webhook receiver standing in for the pager, ticket system and dead man's switch.

The demo points every Alertmanager receiver here, so its notifications show up in the view.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from consola_demo.processes import LOOPBACK

#: Called with (receiver path, Alertmanager's webhook payload).
NotificationHandler = Callable[[str, dict[str, Any]], None]
MAX_BODY_BYTES = 1 << 20


class WebhookReceiver:
    """``POST /<receiver>`` with Alertmanager's JSON; each one is handed to ``on_notification``."""

    def __init__(self, on_notification: NotificationHandler) -> None:
        handler = _handler_class(on_notification)
        self.server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="demo-webhook", daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def start(self) -> WebhookReceiver:
        """Serve on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def _handler_class(on_notification: NotificationHandler) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
            try:
                payload = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                payload = {}
            if isinstance(payload, dict):
                on_notification(self.path.strip("/") or "webhook", payload)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo's view reports notifications itself."""

    return Handler
