"""The OpenAPI 3 description of the exporter's HTTP API (hand-written, served at /openapi.json)."""

from __future__ import annotations

import copy
from typing import Any

from consola_wire import ALL_STATES, REPORTABLE_STATES
from consola_wire import protocol as p
from exporter.web.openapi_discovery import METRICAS, STORED_METRICAS, targets_path

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


AUTH_ERRORS = {
    "401": _json_response(
        "No usable credential (tokens are configured; see SECURITY.md).", "Error"
    ),
    "403": _json_response("The credential was refused.", "Error"),
}
ERRORS = {
    "400": _json_response("Invalid request; `field` names the problem.", "Error"),
    **AUTH_ERRORS,
    "503": _json_response("The database is unreachable or did not commit in time.", "Error"),
}
BODY_ERRORS = {
    **ERRORS,
    "413": _json_response(
        f"Body larger than {p.MAX_BODY_BYTES} bytes (after gzip decompression).", "Error"
    ),
    "415": _json_response("Unsupported Content-Encoding (identity and gzip are).", "Error"),
}
#: Bearer tokens are optional: required only when the exporter is configured with them
#: (enrollment token for registration, per-console secret for heartbeats, admin token for
#: retirement, maintenance and secret resets, read token for reads).
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {"bearer": []}]
ID_PARAM = {
    "name": "console_id",
    "in": "path",
    "required": True,
    "description": "Console id (UUID).",
    "schema": {"type": "string", "format": "uuid"},
}

NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

SISTEMA = {
    "type": "object",
    "nullable": True,
    "maxProperties": p.MAX_SISTEMA_KEYS,
    "description": "Machine facts; unknown extra keys are accepted.",
    "properties": {
        **{
            key: {"type": "string", "maxLength": p.MAX_SISTEMA_STRING_CHARS}
            for key in p.SISTEMA_STRING_KEYS
        },
        **{key: {"type": "number", "minimum": 0} for key in p.SISTEMA_NUMBER_KEYS},
    },
    "additionalProperties": True,
}
INTERVAL = {
    "type": "number",
    "nullable": True,
    "minimum": p.MIN_INTERVAL_SECONDS,
    "maximum": p.MAX_INTERVAL_SECONDS,
    "description": "The console's heartbeat interval; its silence threshold is twice this.",
}

SCHEMAS: dict[str, Any] = {
    "Registration": {
        "type": "object",
        "required": [p.KEY_ID, p.KEY_NOMBRE, p.KEY_ESTADO],
        "properties": {
            p.KEY_ID: {"type": "string", "format": "uuid"},
            p.KEY_NOMBRE: {"type": "string", "minLength": 1, "maxLength": p.MAX_NOMBRE_CHARS},
            p.KEY_ESTADO: {"type": "string", "enum": list(REPORTABLE_STATES)},
            p.KEY_SISTEMA: SISTEMA,
            p.KEY_ULTIMA_ACTIVIDAD: NULLABLE_TIME,
            p.KEY_INTERVALO_SEGUNDOS: INTERVAL,
            p.KEY_METRICAS: METRICAS,
        },
    },
    "Heartbeat": {
        "type": "object",
        "required": [p.KEY_ESTADO],
        "properties": {
            p.KEY_ESTADO: {
                "type": "string",
                "enum": list(ALL_STATES),
                "description": "`inactiva` is the console's goodbye when it stops cleanly.",
            },
            p.KEY_SISTEMA: SISTEMA,
            p.KEY_ULTIMA_ACTIVIDAD: NULLABLE_TIME,
            p.KEY_ULTIMO_ERROR: {
                "nullable": True,
                "oneOf": [{"type": "string"}, {"type": "object"}],
                "description": f"At most {p.MAX_ERROR_BYTES} bytes as JSON.",
            },
            p.KEY_VIDEO_EN_PROCESO: {
                "type": "string",
                "nullable": True,
                "maxLength": p.MAX_VIDEO_CHARS,
            },
            p.KEY_INTERVALO_SEGUNDOS: INTERVAL,
            p.KEY_METRICAS: METRICAS,
        },
    },
    "Console": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "nombre": {"type": "string"},
            "estado": {"type": "string", "enum": list(ALL_STATES)},
            "sistema": {"type": "object", "nullable": True},
            "ultimaActividad": NULLABLE_TIME,
            "ultimoError": {"nullable": True},
            "videoEnProceso": {"type": "string", "nullable": True},
            "intervaloSegundos": {"type": "number", "nullable": True},
            "ultimoContacto": {"type": "string", "format": "date-time"},
            "umbralInactividadSegundos": {"type": "number"},
            "estadoDesde": {"type": "string", "format": "date-time"},
            "detenidaLimpiamente": {"type": "boolean"},
            p.KEY_MANTENIMIENTO_HASTA: NULLABLE_TIME,
            p.KEY_MANTENIMIENTO_MOTIVO: {"type": "string", "nullable": True},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
            p.KEY_METRICAS: STORED_METRICAS,
        },
    },
    "Maintenance": {
        "type": "object",
        "description": f"Exactly one of `{p.KEY_MINUTOS}` and `{p.KEY_HASTA}`.",
        "properties": {
            p.KEY_MINUTOS: {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "maximum": p.MAX_MAINTENANCE_SECONDS / 60,
            },
            p.KEY_HASTA: {"type": "string", "format": "date-time"},
            p.KEY_MOTIVO: {"type": "string", "nullable": True, "maxLength": p.MAX_MOTIVO_CHARS},
        },
    },
    "ConsoleList": {
        "type": "object",
        "properties": {
            "consolas": {"type": "array", "items": _ref("Console")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    },
    "InactiveList": {
        "type": "object",
        "properties": {
            "minutos": {"type": "number"},
            "consolas": {"type": "array", "items": _ref("Console")},
            "total": {"type": "integer"},
        },
    },
    "Statistics": {
        "type": "object",
        "properties": {
            "estados": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "estado": {"type": "string", "enum": list(ALL_STATES)},
                        "total": {"type": "integer"},
                        "ultimaActividadMax": NULLABLE_TIME,
                        "ultimoContactoMax": NULLABLE_TIME,
                    },
                },
            },
            "total": {"type": "integer"},
        },
    },
    "History": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "historial": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "fecha": {"type": "string", "format": "date-time"},
                        "estadoAnterior": {"type": "string", "nullable": True},
                        "estado": {"type": "string", "enum": list(ALL_STATES)},
                        "motivo": {
                            "type": "string",
                            "enum": ["registro", "heartbeat", "despedida", "silencio"],
                        },
                    },
                },
            },
        },
    },
    "Ack": {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "id": {"type": "string", "format": "uuid"},
            "creada": {"type": "boolean"},
            "estado": {"type": "string"},
            "secreto": {
                "type": "string",
                "description": "Per-console secret, issued at registration when tokens are on.",
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "field": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string"}}},
}


def _int_query(name: str, low: int, high: int, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": low, "maximum": high},
    }


PATHS: dict[str, Any] = {
    "/api/consolas/registrar": {
        "post": {
            "summary": "Register a console (idempotent; a restarted console registers again).",
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Registration")}}},
            "responses": {
                "200": _json_response("Known console registered again.", "Ack"),
                "201": _json_response("New console registered.", "Ack"),
                **BODY_ERRORS,
            },
        }
    },
    "/api/consolas/{console_id}/heartbeat": {
        "post": {
            "summary": "Report the console's state (committed before the 200).",
            "parameters": [ID_PARAM],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Heartbeat")}}},
            "responses": {
                "200": _json_response("Heartbeat stored.", "Ack"),
                "404": _json_response(
                    "Unknown console: register with POST /api/consolas/registrar.", "Error"
                ),
                **BODY_ERRORS,
            },
        }
    },
    "/api/consolas": {
        "get": {
            "summary": "List consoles, optionally of one state, ordered by id.",
            "parameters": [
                {
                    "name": "estado",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": list(ALL_STATES)},
                },
                _int_query("limit", 1, 10000, "Page size (default 1000)."),
                _int_query("offset", 0, 1_000_000_000, "Rows to skip (default 0)."),
            ],
            "responses": {"200": _json_response("Consoles.", "ConsoleList"), **ERRORS},
        }
    },
    "/api/consolas/inactivas": {
        "get": {
            "summary": "Consoles that stopped reporting: silent (server receive time) longer than "
            "`minutos`, marked inactiva for silence included, goodbyes left out.",
            "parameters": [
                {
                    "name": "minutos",
                    "in": "query",
                    "required": False,
                    "description": "Minutes of silence (default 10).",
                    "schema": {
                        "type": "number",
                        "exclusiveMinimum": True,
                        "minimum": 0,
                        "maximum": 10_000_000,
                    },
                }
            ],
            "responses": {"200": _json_response("Silent consoles.", "InactiveList"), **ERRORS},
        }
    },
    "/api/consolas/estadisticas": {
        "get": {
            "summary": "Count and latest activity per state (every state listed).",
            "responses": {"200": _json_response("Statistics.", "Statistics"), **ERRORS},
        }
    },
    "/api/consolas/{console_id}": {
        "get": {
            "summary": "One console.",
            "parameters": [ID_PARAM],
            "responses": {
                "200": _json_response("The console.", "Console"),
                "404": _json_response("Unknown console.", "Error"),
                **ERRORS,
            },
        },
        "delete": {
            "summary": "Retire a console and its history.",
            "parameters": [ID_PARAM],
            "responses": {
                "200": _json_response("Deleted.", "Ack"),
                "404": _json_response("Unknown console.", "Error"),
                **ERRORS,
            },
        },
    },
    "/api/consolas/{console_id}/mantenimiento": {
        "post": {
            "summary": "Start (or move the end of) a console's maintenance: it pages nobody.",
            "parameters": [ID_PARAM],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Maintenance")}}},
            "responses": {
                "200": _json_response("The console, in maintenance.", "Console"),
                "404": _json_response("Unknown console.", "Error"),
                **BODY_ERRORS,
            },
        },
        "delete": {
            "summary": "End a console's maintenance now.",
            "parameters": [ID_PARAM],
            "responses": {
                "200": _json_response("The console, out of maintenance.", "Console"),
                "404": _json_response("Unknown console.", "Error"),
                **ERRORS,
            },
        },
    },
    "/api/consolas/{console_id}/secreto": {
        "delete": {
            "summary": "Reset a console's secret (admin token): only the secret is forgotten, "
            "so the enrollment token may enroll the id again and get a new `secreto`.",
            "parameters": [ID_PARAM],
            "responses": {
                "200": _json_response("Secret forgotten.", "Ack"),
                "404": _json_response("Unknown console.", "Error"),
                **ERRORS,
            },
        }
    },
    "/api/consolas/{console_id}/historial": {
        "get": {
            "summary": "State changes of a console, newest first.",
            "parameters": [ID_PARAM, _int_query("limit", 1, 10000, "Entries (default 100).")],
            "responses": {
                "200": _json_response("History.", "History"),
                "404": _json_response("Unknown console.", "Error"),
                **ERRORS,
            },
        }
    },
    p.PROMETHEUS_TARGETS_PATH: targets_path(ERRORS),
    "/metrics": {
        "get": {
            "summary": "Fleet metrics in the Prometheus text format (gzip when accepted).",
            "responses": {
                "200": {
                    "description": "Exposition text.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "The process is alive.",
            "responses": {"200": _json_response("Alive.", "Health")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "The database answers.",
            "responses": {
                "200": _json_response("Ready.", "Health"),
                "503": _json_response(
                    "Database unreachable (`database_unavailable`), or the fleet still being read "
                    "after the start (`warming_up`); `message` says why.",
                    "Error",
                ),
            },
        }
    },
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.0 document."""
    return copy.deepcopy(
        {
            "openapi": "3.0.3",
            "info": {
                "title": "consola-heartbeat exporter",
                "version": "1.0.0",
                "description": "Consoles API (seed: heartbeat-system.md) and fleet metrics.",
            },
            "paths": PATHS,
            "components": {
                "schemas": SCHEMAS,
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "Enrollment token, per-console secret, admin token or "
                        "read token (see SECURITY.md).",
                    }
                },
            },
            "security": OPTIONAL_BEARER,
        }
    )
