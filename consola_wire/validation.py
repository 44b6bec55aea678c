"""Validation of incoming payloads: each failure names the offending field.

The server accepts what the seed documents — including the payloads of the seed's Node.js
consoles (``nodeVersion``, ``platform: "win32"``, extra keys in ``sistema``) — and refuses anything
that could not be stored or exported faithfully (wrong types, unknown states, NUL bytes or lone
surrogates in strings, non-finite numbers, oversized fields).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consola_wire import protocol as p
from consola_wire.metrics_endpoint import MetricsEndpoint, parse_metricas, with_peer
from consola_wire.states import ALL_STATES, REPORTABLE_STATES
from consola_wire.wire_error import JSONObject, WireError, require_object


@dataclass(frozen=True, slots=True)
class Registration:
    """A validated ``POST /consolas/registrar`` body."""

    console_id: str
    nombre: str
    estado: str
    sistema: JSONObject | None
    ultima_actividad: datetime | None
    interval_seconds: float | None
    metricas: MetricsEndpoint | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A validated ``POST /consolas/{id}/heartbeat`` body."""

    estado: str
    sistema: JSONObject | None
    ultima_actividad: datetime | None
    ultimo_error: Any
    video_en_proceso: str | None
    interval_seconds: float | None
    #: None: not sent, and the exporter keeps the endpoint it knows (Node consoles never send it).
    metricas: MetricsEndpoint | None = None


#: The canonical form, what ``str(uuid.UUID(value))`` writes: such an id is returned as it is.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def validate_console_id(value: object, field: str = p.KEY_ID) -> str:
    """Return the canonical lower-case UUID string, or raise naming ``field``."""
    if not isinstance(value, str):
        raise WireError(field, "must be a UUID string")
    if _CANONICAL_UUID.fullmatch(value):  # nearly every id: no parse needed
        return value
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise WireError(field, f"is not a valid UUID: {_preview(value)}") from None
    return str(parsed)


def parse_registration(body: object, peer: str | None = None) -> Registration:
    """Validate a registration body (already decoded from JSON); ``peer`` (the request's source
    address) stands in for a ``metricas.direccion`` the console left out."""
    obj = require_object(body, "body")
    return Registration(
        console_id=validate_console_id(obj.get(p.KEY_ID), p.KEY_ID),
        nombre=_required_text(obj, p.KEY_NOMBRE, p.MAX_NOMBRE_CHARS),
        estado=_state(obj, REPORTABLE_STATES),
        sistema=_sistema(obj.get(p.KEY_SISTEMA)),
        ultima_actividad=timestamp(obj.get(p.KEY_ULTIMA_ACTIVIDAD), p.KEY_ULTIMA_ACTIVIDAD),
        interval_seconds=_interval(obj.get(p.KEY_INTERVALO_SEGUNDOS)),
        metricas=with_peer(parse_metricas(obj.get(p.KEY_METRICAS)), peer),
    )


def parse_heartbeat(body: object, peer: str | None = None) -> Heartbeat:
    """Validate a heartbeat body (already decoded from JSON); ``peer`` as for a registration."""
    obj = require_object(body, "body")
    video = obj.get(p.KEY_VIDEO_EN_PROCESO)
    if video is not None:
        video = _text(video, p.KEY_VIDEO_EN_PROCESO, p.MAX_VIDEO_CHARS)
    return Heartbeat(
        estado=_state(obj, ALL_STATES),
        sistema=_sistema(obj.get(p.KEY_SISTEMA)),
        ultima_actividad=timestamp(obj.get(p.KEY_ULTIMA_ACTIVIDAD), p.KEY_ULTIMA_ACTIVIDAD),
        ultimo_error=_error(obj.get(p.KEY_ULTIMO_ERROR)),
        video_en_proceso=video,
        interval_seconds=_interval(obj.get(p.KEY_INTERVALO_SEGUNDOS)),
        metricas=with_peer(parse_metricas(obj.get(p.KEY_METRICAS)), peer),
    )


def decode_json(raw: bytes) -> object:
    """Decode a request body; malformed JSON, NaN/Infinity and bad UTF-8 raise ``WireError``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("body", "is not valid UTF-8") from None
    try:
        if text.startswith("\ufeff"):  # what json.loads says, with the decoder built once
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except WireError:
        raise
    except (ValueError, RecursionError) as exc:
        raise WireError("body", f"is not valid JSON ({exc})") from None


def _reject_constant(name: str) -> object:
    raise WireError("body", f"{name} is not allowed in JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _state(obj: JSONObject, allowed: tuple[str, ...]) -> str:
    value = obj.get(p.KEY_ESTADO)
    if value not in allowed:
        raise WireError(p.KEY_ESTADO, f"must be one of {', '.join(allowed)}; got {_preview(value)}")
    return str(value)


def _required_text(obj: JSONObject, field: str, max_chars: int) -> str:
    value = obj.get(field)
    if value is None:
        raise WireError(field, "is required")
    text = _text(value, field, max_chars)
    if not text.strip():
        raise WireError(field, "must not be empty")
    return text


def optional_text(value: object, field: str, max_chars: int) -> str | None:
    """``None`` for a missing or null value, else the string (bounded, storable) or an error."""
    return None if value is None else _text(value, field, max_chars)


def _text(value: object, field: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise WireError(field, f"must be a string; got {type(value).__name__}")
    if len(value) > max_chars:
        raise WireError(field, f"is longer than {max_chars} characters")
    _check_string(value, field)
    return value


def _check_string(value: str, field: str) -> None:
    if "\x00" in value:
        raise WireError(field, "must not contain NUL characters")
    if value.isascii():  # no surrogate can hide in it
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(field, "contains an unpaired surrogate") from None


def _check_json_value(value: object, field: str) -> None:
    """Every string storable, every number finite, keys included, at any depth."""
    if isinstance(value, str):
        _check_string(value, field)
    elif isinstance(value, float) and not math.isfinite(value):
        raise WireError(field, "numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or not key.isascii():
                _check_string(key, field)
            item_type = type(item)
            if item_type is str:  # the common flat values, checked without a call per item
                if "\x00" in item or not item.isascii():
                    _check_string(item, f"{field}.{key}")
            elif item_type is not int and item is not None and item_type is not bool:
                _check_json_value(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{field}[{index}]")


def _sistema(value: object) -> JSONObject | None:
    if value is None:
        return None
    sistema = require_object(value, p.KEY_SISTEMA)
    if len(sistema) > p.MAX_SISTEMA_KEYS:
        raise WireError(p.KEY_SISTEMA, f"has more than {p.MAX_SISTEMA_KEYS} keys")
    for key in p.SISTEMA_STRING_KEYS:
        item = sistema.get(key)
        if item is not None:
            _text(item, f"{p.KEY_SISTEMA}.{key}", p.MAX_SISTEMA_STRING_CHARS)
    for key in p.SISTEMA_NUMBER_KEYS:
        item = sistema.get(key)
        if item is not None and (
            isinstance(item, bool) or not isinstance(item, int | float) or item < 0
        ):
            raise WireError(f"{p.KEY_SISTEMA}.{key}", "must be a non-negative number")
    _check_json_value(sistema, p.KEY_SISTEMA)
    return sistema


def timestamp(value: object, field: str) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime (None for null), else an error."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise WireError(field, "must be an ISO-8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WireError(field, f"is not an ISO-8601 timestamp: {_preview(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise WireError(field, f"is out of range: {_preview(value)}") from None


def _error(value: object) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | dict):
        raise WireError(p.KEY_ULTIMO_ERROR, "must be null, a string or an object")
    _check_json_value(value, p.KEY_ULTIMO_ERROR)
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > p.MAX_ERROR_BYTES:
        raise WireError(p.KEY_ULTIMO_ERROR, f"is larger than {p.MAX_ERROR_BYTES} bytes")
    return value


def _interval(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(p.KEY_INTERVALO_SEGUNDOS, "must be a number of seconds")
    # An int is compared exactly (math.isfinite would overflow on a 400-digit integer).
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError(p.KEY_INTERVALO_SEGUNDOS, "must be a number of seconds")
    if not p.MIN_INTERVAL_SECONDS <= value <= p.MAX_INTERVAL_SECONDS:
        raise WireError(
            p.KEY_INTERVALO_SEGUNDOS,
            f"must be between {p.MIN_INTERVAL_SECONDS:g} and {p.MAX_INTERVAL_SECONDS:g}",
        )
    return float(value)


def _preview(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
