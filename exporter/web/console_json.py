"""JSON shapes the read endpoints return (keys in the seed's camelCase Spanish style)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consola_wire import MetricsEndpoint
from consola_wire import protocol as p
from exporter.storage.records import ConsoleRecord, HistoryEntry, StateStatistics


def iso(seconds: float | None) -> str | None:
    """Unix seconds as ISO-8601 UTC with milliseconds and ``Z`` (like the seed's examples)."""
    if seconds is None:
        return None
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def console_json(c: ConsoleRecord) -> dict[str, Any]:
    """One console."""
    return {
        "id": c.id,
        "nombre": c.nombre,
        "estado": c.estado,
        "sistema": c.sistema,
        "ultimaActividad": iso(c.ultima_actividad),
        "ultimoError": c.ultimo_error,
        "videoEnProceso": c.video_en_proceso,
        "intervaloSegundos": c.intervalo_segundos,
        "ultimoContacto": iso(c.last_seen),
        "umbralInactividadSegundos": c.inactive_after_seconds,
        "estadoDesde": iso(c.state_since),
        "detenidaLimpiamente": c.stopped_cleanly,
        "mantenimientoHasta": iso(c.maintenance_until),
        "mantenimientoMotivo": c.maintenance_reason,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        p.KEY_METRICAS: endpoint_json(c.metricas),
    }


def endpoint_json(endpoint: MetricsEndpoint | None) -> dict[str, Any] | None:
    """Where Prometheus scrapes the console, as the exporter stored it (the address resolved,
    as GET /api/prometheus/targets lists it); None when unknown."""
    if endpoint is None:
        return None
    return {
        p.KEY_PUERTO: endpoint.puerto,
        p.KEY_RUTA: endpoint.ruta,
        p.KEY_DIRECCION: endpoint.direccion,
    }


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    """One state change."""
    return {
        "fecha": iso(entry.at),
        "estadoAnterior": entry.estado_anterior,
        "estado": entry.estado,
        "motivo": entry.motivo,
    }


def statistics_json(row: StateStatistics) -> dict[str, Any]:
    """One row of the seed's statistics query."""
    return {
        "estado": row.estado,
        "total": row.total,
        "ultimaActividadMax": iso(row.ultima_actividad_max),
        "ultimoContactoMax": iso(row.last_seen_max),
    }
