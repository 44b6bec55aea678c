"""The seed's JSON bodies (``registrar`` and ``heartbeat``), kept within the wire limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consola_wire import protocol as p
from consola_wire.metrics_endpoint import MetricsEndpoint
from heartbeat.wire_text import iso_timestamp

if TYPE_CHECKING:
    from heartbeat.state import StateSnapshot


def registration_body(
    *,
    console_id: str,
    nombre: str,
    state: StateSnapshot,
    sistema: dict[str, Any],
    interval_seconds: float,
    now: float,
    metricas: MetricsEndpoint | None = None,
) -> dict[str, Any]:
    """``POST /consolas/registrar``; ``metricas`` where this console's /metrics answers."""
    body = {
        p.KEY_ID: console_id,
        p.KEY_NOMBRE: nombre,
        p.KEY_ESTADO: state.estado,
        p.KEY_SISTEMA: sistema,
        p.KEY_ULTIMA_ACTIVIDAD: iso_timestamp(now),
        p.KEY_INTERVALO_SEGUNDOS: interval_seconds,
    }
    return _with_metricas(body, metricas)


def heartbeat_body(
    state: StateSnapshot,
    sistema: dict[str, Any],
    interval_seconds: float,
    now: float,
    *,
    estado: str | None = None,
    metricas: MetricsEndpoint | None = None,
) -> dict[str, Any]:
    """``POST /consolas/{id}/heartbeat``; ``estado`` overrides the state (the goodbye)."""
    body = {
        p.KEY_ESTADO: estado or state.estado,
        p.KEY_SISTEMA: sistema,
        p.KEY_ULTIMA_ACTIVIDAD: iso_timestamp(now),
        p.KEY_ULTIMO_ERROR: state.ultimo_error.to_json() if state.ultimo_error else None,
        p.KEY_VIDEO_EN_PROCESO: state.video_en_proceso,
        p.KEY_INTERVALO_SEGUNDOS: interval_seconds,
    }
    return _with_metricas(body, metricas)


def _with_metricas(body: dict[str, Any], metricas: MetricsEndpoint | None) -> dict[str, Any]:
    if metricas is not None:
        body[p.KEY_METRICAS] = metricas.to_json()
    return body
