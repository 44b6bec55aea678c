"""Put consoles into a running exporter over its HTTP API (for the status CLI and page tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import requests

SISTEMA = {
    "hostname": "render-01",
    "platform": "linux",
    "arch": "x64",
    "cpus": 8,
    "totalMemory": 16,
    "freeMemory": 8,
    "uptime": 1440,
    "pythonVersion": "3.11.7",
}


def now_iso() -> str:
    """The current time as the seed writes it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def register(base_url: str, nombre: str, interval: float = 300.0) -> str:
    """Register a console named ``nombre`` reporting ``interval``; its new id."""
    console_id = str(uuid.uuid4())
    body = {
        "id": console_id,
        "nombre": nombre,
        "estado": "esperando",
        "sistema": SISTEMA,
        "ultimaActividad": now_iso(),
        "intervaloSegundos": interval,
    }
    response = requests.post(f"{base_url}/api/consolas/registrar", json=body, timeout=5)
    assert response.status_code in (200, 201), response.text
    return console_id


def heartbeat(
    base_url: str,
    console_id: str,
    estado: str,
    *,
    video: str | None = None,
    error: str | None = None,
    interval: float = 300.0,
) -> None:
    """Send one heartbeat."""
    ultimo_error: dict[str, Any] | None = None
    if error is not None:
        ultimo_error = {
            "message": error,
            "type": "RuntimeError",
            "stack": "",
            "timestamp": now_iso(),
        }
    body = {
        "estado": estado,
        "sistema": SISTEMA,
        "ultimaActividad": now_iso(),
        "ultimoError": ultimo_error,
        "videoEnProceso": video,
        "intervaloSegundos": interval,
    }
    response = requests.post(
        f"{base_url}/api/consolas/{console_id}/heartbeat", json=body, timeout=5
    )
    assert response.status_code == 200, response.text


def console(base_url: str, console_id: str) -> dict[str, Any]:
    """``GET /api/consolas/{id}``."""
    response = requests.get(f"{base_url}/api/consolas/{console_id}", timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
