"""``ErrorReport``: the worker's last error, captured cheaply, made into ``ultimoError`` later."""

from __future__ import annotations

import json
import threading
import traceback
from typing import Any

from consola_wire import protocol as p
from heartbeat.wire_text import clean_text, iso_timestamp


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
