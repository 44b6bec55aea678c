"""The OpenAPI pieces of Prometheus discovery: the ``metricas`` object and the targets path."""

from __future__ import annotations

from typing import Any

from consola_wire import ALL_STATES
from consola_wire import protocol as p

#: Optional in registrations and heartbeats; a heartbeat without it keeps the known endpoint.
METRICAS: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "required": [p.KEY_PUERTO],
    "description": "Where the console's own /metrics answers, for GET /api/prometheus/targets. "
    "Without `direccion` the exporter uses the address the request came from. Unknown keys are "
    "accepted and ignored.",
    "properties": {
        p.KEY_PUERTO: {"type": "integer", "minimum": 1, "maximum": 65535},
        p.KEY_RUTA: {
            "type": "string",
            "maxLength": p.MAX_RUTA_CHARS,
            "pattern": '^/[!-"$->@-~]*$',
            "default": p.DEFAULT_METRICS_PATH,
        },
        p.KEY_DIRECCION: {
            "type": "string",
            "minLength": 1,
            "maxLength": p.MAX_DIRECCION_CHARS,
            "description": "An IP address or a host name (no brackets, port or path).",
        },
    },
    "additionalProperties": True,
}

#: In the console JSON: the endpoint as stored, ``direccion`` resolved; null when unknown.
STORED_METRICAS: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "required": [p.KEY_PUERTO, p.KEY_RUTA, p.KEY_DIRECCION],
    "description": "Where Prometheus scrapes the console, as GET /api/prometheus/targets lists "
    "it (`direccion` is the address the exporter resolved); null when the console never said.",
    "properties": {
        p.KEY_PUERTO: {"type": "integer", "minimum": 1, "maximum": 65535},
        p.KEY_RUTA: {"type": "string"},
        p.KEY_DIRECCION: {"type": "string"},
    },
}

TARGET_GROUP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "targets": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def targets_path(errors: dict[str, Any]) -> dict[str, Any]:
    """The path item of ``GET /api/prometheus/targets``, with the API's usual ``errors``."""
    return {
        "get": {
            "summary": "Prometheus http_sd: one target group per console whose /metrics is known "
            "and that has not stopped cleanly (labels console_id and __meta_consola_*).",
            "parameters": [
                {
                    "name": "estado",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": list(ALL_STATES)},
                }
            ],
            "responses": {
                "200": {
                    "description": "Target groups (the whole list, [] when none).",
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": TARGET_GROUP},
                        }
                    },
                },
                **errors,
            },
        }
    }
