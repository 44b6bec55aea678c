"""Endpoint paths, JSON keys and documented limits of the consoles API."""

from __future__ import annotations

from typing import Final

#: Paths below ``API_BASE_URL`` (which already ends in ``/api``).
REGISTER_PATH: Final = "/consolas/registrar"
HEARTBEAT_PATH_TEMPLATE: Final = "/consolas/{console_id}/heartbeat"

#: Registration body keys (seed).
KEY_ID: Final = "id"
KEY_NOMBRE: Final = "nombre"
KEY_ESTADO: Final = "estado"
KEY_SISTEMA: Final = "sistema"
KEY_ULTIMA_ACTIVIDAD: Final = "ultimaActividad"
#: Heartbeat body keys (seed), besides estado/sistema/ultimaActividad.
KEY_ULTIMO_ERROR: Final = "ultimoError"
KEY_VIDEO_EN_PROCESO: Final = "videoEnProceso"
#: Optional addition: the console's heartbeat interval in seconds, so the server can judge its
#: silence by its own rhythm. Old consoles omit it; the server's default threshold applies.
KEY_INTERVALO_SEGUNDOS: Final = "intervaloSegundos"

#: Optional addition: where the console's own /metrics answers, for Prometheus's discovery
#: (``GET /api/prometheus/targets``): ``{"puerto": 29100, "ruta": "/metrics", "direccion": ...}``.
#: Only ``puerto`` is required; ``ruta`` defaults to ``/metrics``; without ``direccion`` the
#: exporter takes the address the request came from (consola_wire/metrics_endpoint.py).
KEY_METRICAS: Final = "metricas"
KEY_PUERTO: Final = "puerto"
KEY_RUTA: Final = "ruta"
KEY_DIRECCION: Final = "direccion"
DEFAULT_METRICS_PATH: Final = "/metrics"
MAX_RUTA_CHARS: Final = 255
MAX_DIRECCION_CHARS: Final = 253  # the longest DNS name
#: The exporter's http_sd endpoint (below the exporter's root, not ``API_BASE_URL``).
PROMETHEUS_TARGETS_PATH: Final = "/api/prometheus/targets"

#: Key of the registration *response* carrying the per-console secret the exporter issues when
#: it requires tokens; heartbeats send it back as ``Authorization: Bearer <secreto>``.
KEY_SECRETO: Final = "secreto"

#: Maintenance of one console (``POST`` starts or extends it, ``DELETE`` ends it): the body takes
#: ``minutos`` or ``hasta`` (ISO-8601), and an optional ``motivo``. The console JSON carries
#: ``mantenimientoHasta`` and ``mantenimientoMotivo`` (null when there is none).
MAINTENANCE_PATH_TEMPLATE: Final = "/consolas/{console_id}/mantenimiento"
KEY_MINUTOS: Final = "minutos"
KEY_HASTA: Final = "hasta"
KEY_MOTIVO: Final = "motivo"
KEY_MANTENIMIENTO_HASTA: Final = "mantenimientoHasta"
KEY_MANTENIMIENTO_MOTIVO: Final = "mantenimientoMotivo"
MAX_MOTIVO_CHARS: Final = 500
#: The longest maintenance one request may set: a year.
MAX_MAINTENANCE_SECONDS: Final = 366 * 24 * 3600.0

#: Request body encoding the exporter accepts besides identity (``Content-Encoding: gzip``); it
#: says so with an ``Accept-Encoding: gzip`` header on its answers to consoles (RFC 7694).
GZIP_ENCODING: Final = "gzip"

#: Keys of ``sistema`` (seed), with ``pythonVersion`` from Python consoles.
SISTEMA_STRING_KEYS: Final = ("hostname", "platform", "arch", "nodeVersion", "pythonVersion")
SISTEMA_NUMBER_KEYS: Final = ("cpus", "totalMemory", "freeMemory", "uptime")

#: Documented limits. Bodies above MAX_BODY_BYTES (after decompression) are rejected with 413.
MAX_BODY_BYTES: Final = 64 * 1024
MAX_NOMBRE_CHARS: Final = 255  # consolas.nombre VARCHAR(255)
MAX_VIDEO_CHARS: Final = 500  # consolas.video_en_proceso VARCHAR(500)
MAX_SISTEMA_STRING_CHARS: Final = 255
MAX_SISTEMA_KEYS: Final = 64
MAX_ERROR_BYTES: Final = 16 * 1024
MIN_INTERVAL_SECONDS: Final = 1.0
MAX_INTERVAL_SECONDS: Final = 24 * 3600.0


def heartbeat_path(console_id: str) -> str:
    """Path of the heartbeat endpoint for one console, below ``API_BASE_URL``."""
    return HEARTBEAT_PATH_TEMPLATE.format(console_id=console_id)


def maintenance_path(console_id: str) -> str:
    """Path of the maintenance endpoint for one console, below ``API_BASE_URL``."""
    return MAINTENANCE_PATH_TEMPLATE.format(console_id=console_id)
