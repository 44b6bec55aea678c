"""Text as the wire takes it: JavaScript-style ISO timestamps and strings the API will store."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_timestamp(unix_time: float) -> str:
    """``2025-12-03T10:30:00.000Z``: ISO-8601 UTC with milliseconds, as JavaScript prints it."""
    moment = datetime.fromtimestamp(unix_time, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def clean_text(value: object, max_chars: int) -> str:
    """A string the API will store: no NUL, no lone surrogates, at most ``max_chars``."""
    text = str(value).replace("\x00", "")
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
