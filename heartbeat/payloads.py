"""The seed's JSON bodies (``registrar`` and ``heartbeat``), kept within the wire limits."""

from __future__ import annotations

import json
import threading
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from consola_wire import protocol as p

if TYPE_CHECKING:
    from heartbeat.state import StateSnapshot


def iso_timestamp(unix_time: float) -> str:
    """``2025-12-03T10:30:00.000Z``: ISO-8601 UTC with milliseconds, as JavaScript prints it."""
    moment = datetime.fromtimestamp(unix_time, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def clean_text(value: object, max_chars: int) -> str:
    """A string the API will store: no NUL, no lone surrogates, at most ``max_chars``."""
    text = str(value).replace("\x00", "")
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


class ErrorReport:
    """An error captured on the worker's thread, formatted later on another one.

    Capturing keeps only the exception's type, message and (file, line, function) triples:
    no file is read or even stat'ed and no frame is kept alive. :meth:`to_json` looks the
    source lines up and builds ``ultimoError`` the first time a heartbeat needs it.
    """

    def __init__(self, error: BaseException | str, unix_time: float) -> None:
        self._time = unix_time
        self._frames: list[tuple[str, int, str, None]] = []
        self._tail = ""
        if isinstance(error, BaseException):
            self._message = str(error) or type(error).__name__
            self._kind = type(error).__name__
            tb = error.__traceback__
            while tb is not None:
                code = tb.tb_frame.f_code
                self._frames.append((code.co_filename, tb.tb_lineno, code.co_name, None))
                tb = tb.tb_next
            self._tail = "".join(traceback.format_exception_only(type(error), error))
        else:
            self._message, self._kind = str(error), "Error"
        self._lock = threading.Lock()
        self._json: dict[str, Any] | None = None

    @property
    def message(self) -> str:
        return self._message

    def to_json(self) -> dict[str, Any]:
        """``ultimoError`` (computed once)."""
        with self._lock:
            if self._json is None:
                stack = ""
                if self._tail:
                    frames = traceback.StackSummary.from_list(self._frames).format()
                    stack = "Traceback (most recent call last):\n" + "".join(frames) + self._tail
                self._json = _error_json(self._message, self._kind, stack, self._time)
            return self._json


def error_object(error: BaseException | str, unix_time: float) -> dict[str, Any]:
    """``ultimoError`` for ``error``, formatted right away."""
    return ErrorReport(error, unix_time).to_json()


def _error_json(message: str, kind: str, stack: str, unix_time: float) -> dict[str, Any]:
    """Message, type, stack and timestamp, trimmed to the wire's size limit."""
    obj: dict[str, Any] = {
        "message": clean_text(message, 2000),
        "type": clean_text(kind, 200),
        "stack": clean_text(stack, 12000),
        "timestamp": iso_timestamp(unix_time),
    }
    budget = p.MAX_ERROR_BYTES - 256
    while len(json.dumps(obj, ensure_ascii=False).encode("utf-8")) > budget and obj["stack"]:
        obj["stack"] = obj["stack"][len(obj["stack"]) // 2 :]  # keep the innermost frames
    return obj


def registration_body(
    *,
    console_id: str,
    nombre: str,
    state: StateSnapshot,
    sistema: dict[str, Any],
    interval_seconds: float,
    now: float,
) -> dict[str, Any]:
    """``POST /consolas/registrar``."""
    return {
        p.KEY_ID: console_id,
        p.KEY_NOMBRE: nombre,
        p.KEY_ESTADO: state.estado,
        p.KEY_SISTEMA: sistema,
        p.KEY_ULTIMA_ACTIVIDAD: iso_timestamp(now),
        p.KEY_INTERVALO_SEGUNDOS: interval_seconds,
    }


def heartbeat_body(
    state: StateSnapshot,
    sistema: dict[str, Any],
    interval_seconds: float,
    now: float,
    *,
    estado: str | None = None,
) -> dict[str, Any]:
    """``POST /consolas/{id}/heartbeat``; ``estado`` overrides the state (the goodbye)."""
    return {
        p.KEY_ESTADO: estado or state.estado,
        p.KEY_SISTEMA: sistema,
        p.KEY_ULTIMA_ACTIVIDAD: iso_timestamp(now),
        p.KEY_ULTIMO_ERROR: state.ultimo_error.to_json() if state.ultimo_error else None,
        p.KEY_VIDEO_EN_PROCESO: state.video_en_proceso,
        p.KEY_INTERVALO_SEGUNDOS: interval_seconds,
    }
