"""Checks that what the exporter stored and exports is sound (used after fuzzing and bad input).

- Every stored console passes ``consola_wire`` validation again, field by field.
- The fleet ``/metrics`` passes ``promtool check metrics`` silently, and prometheus_client's
  parser reads back every console's identity labels exactly as stored (so no quote, backslash or
  newline in a name broke the exposition).
"""

from __future__ import annotations

import math
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from consola_wire import (
    ALL_STATES,
    parse_heartbeat,
    parse_registration,
    validate_console_id,
)
from tests.support.tools import require_binary


def all_consoles(http: httpx.Client) -> list[dict[str, Any]]:
    """Every stored console, through the paginated list."""
    found: list[dict[str, Any]] = []
    while True:
        response = http.get("/api/consolas", params={"limit": 10000, "offset": len(found)})
        assert response.status_code == 200, response.text
        page = response.json()["consolas"]
        found.extend(page)
        if len(page) < 10000:
            return found


def check_console(console: dict[str, Any]) -> None:
    """One stored console as the API returns it: every field valid on the wire again."""
    assert validate_console_id(console["id"]) == console["id"]
    assert console["estado"] in ALL_STATES
    parse_registration({"id": console["id"], "nombre": console["nombre"], "estado": "activa"})
    parse_heartbeat(
        {
            "estado": console["estado"],
            "sistema": console["sistema"],
            "ultimaActividad": console["ultimaActividad"],
            "ultimoError": console["ultimoError"],
            "videoEnProceso": console["videoEnProceso"],
            "intervaloSegundos": console["intervaloSegundos"],
        }
    )
    threshold = console["umbralInactividadSegundos"]
    assert isinstance(threshold, int | float) and math.isfinite(threshold) and threshold > 0
    for key in ("ultimoContacto", "estadoDesde", "createdAt", "updatedAt"):
        datetime.fromisoformat(console[key].replace("Z", "+00:00"))
    assert isinstance(console["detenidaLimpiamente"], bool)
    if console["metricas"] is not None:  # as stored: valid again as a heartbeat's metricas
        assert set(console["metricas"]) == {"puerto", "ruta", "direccion"}
        parse_heartbeat({"estado": "activa", "metricas": console["metricas"]})


def check_stored_consoles(http: httpx.Client) -> list[dict[str, Any]]:
    """Validate every stored console; returns them."""
    consoles = all_consoles(http)
    for console in consoles:
        try:
            check_console(console)
        except Exception as exc:
            raise AssertionError(f"stored garbage: {console!r}") from exc
    return consoles


def promtool_check(text: str, workdir: Path) -> None:
    """``promtool check metrics`` must accept ``text`` without a word."""
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
        cwd=workdir,
    )
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0 and not output.strip(), output


def info_labels(text: str, family: str) -> dict[str, dict[str, str]]:
    """Labels of every sample of an ``_info`` family, by console_id (official parser)."""
    labels: dict[str, dict[str, str]] = {}
    for metric in text_string_to_metric_families(text):
        if metric.name == family:
            for sample in metric.samples:
                assert sample.value == 1.0
                labels[sample.labels["console_id"]] = dict(sample.labels)
    return labels


def check_exposition(http: httpx.Client, consoles: list[dict[str, Any]], workdir: Path) -> None:
    """The fleet /metrics is valid and carries every stored identity exactly."""
    response = http.get("/metrics")
    assert response.status_code == 200
    text = response.text
    promtool_check(text, workdir)
    identities = info_labels(text, "heartbeat_fleet_console_info")
    videos = info_labels(text, "heartbeat_fleet_console_video_info")
    for console in consoles:
        labels = identities[console["id"]]
        assert labels["name"] == console["nombre"], (labels, console)
        sistema = console["sistema"] or {}
        hostname = sistema.get("hostname")
        if isinstance(hostname, str):
            assert labels["hostname"] == hostname, (labels, console)
        if console["estado"] == "ocupada" and console["videoEnProceso"]:
            assert videos[console["id"]]["video"] == console["videoEnProceso"]
