"""Alerting for end-to-end tests: a webhook receiver and the shipped Alertmanager example."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from tests.support.tools import REPO_ROOT, free_port

ALERTMANAGER_FILE = REPO_ROOT / "alerts" / "alertmanager.yml"


class WebhookSink:
    """A loopback HTTP server recording Alertmanager webhook notifications by path."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, dict[str, Any]]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def alertnames(self, path: str) -> list[list[str]]:
        """Per notification received on ``path``: ``alertname/console_id`` of each alert."""
        return [
            [f"{a['labels']['alertname']}/{a['labels'].get('console_id', '')}" for a in n["alerts"]]
            for p, n in self.received
            if p == path
        ]

    def alerts(self, path: str) -> list[dict[str, Any]]:
        """Every alert of every notification received on ``path``."""
        return [alert for p, n in self.received if p == path for alert in n["alerts"]]


def example_alertmanager_config(sink: WebhookSink, wait: str = "1s") -> dict[str, Any]:
    """alerts/alertmanager.yml with its webhooks on ``sink`` and its waits shortened to ``wait``.

    Routing, grouping keys and inhibitions stay exactly as shipped.
    """
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_FILE.read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            path = urllib.parse.urlsplit(webhook["url"]).path
            webhook["url"] = f"http://127.0.0.1:{sink.port}{path}"
    for route in [config["route"], *config["route"]["routes"]]:
        route["group_wait"] = wait
        route["group_interval"] = wait
    return config
