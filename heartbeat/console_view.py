"""A console from the API as the operator commands print it: label, maintenance, safe text; and
the id prefix an operator types (8 characters or more) matched to one console.

Times are the operator's local time: ``17:30`` on the same day, ``2026-03-14 17:30`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from consola_wire.protocol import KEY_MANTENIMIENTO_HASTA, KEY_MANTENIMIENTO_MOTIVO

SHORT_ID_CHARS = 8
#: Shortest id prefix the operator commands take for a console id: what ``heartbeat status`` shows.
MIN_PREFIX_CHARS = SHORT_ID_CHARS
#: Most matching ids an ambiguous prefix lists.
MAX_LISTED_MATCHES = 10
_ID_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]*")


def parse_time(text: object) -> float | None:
    """Unix seconds of an ISO-8601 timestamp from the API (``...Z``), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def one_line(text: str) -> str:
    """Control characters (newlines, escape sequences) shown as spaces: a name cannot redraw the
    operator's terminal."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def short_id(console_id: str) -> str:
    """The first characters of an id, as ``heartbeat status`` shows it, with ``…`` when cut."""
    cut = console_id[:SHORT_ID_CHARS]
    return cut + "…" if len(console_id) > SHORT_ID_CHARS else cut


def id_prefix(text: str) -> str | None:
    """``text`` as the start of a console id (lower case, without the ``…`` of
    :func:`short_id`), or None when it is shorter than :data:`MIN_PREFIX_CHARS` or not one."""
    prefix = text.strip().removesuffix("…").lower()
    ok = len(prefix) >= MIN_PREFIX_CHARS and _ID_PREFIX.fullmatch(prefix)
    return prefix if ok else None


def unique_match(prefix: str, consoles: Sequence[Mapping[str, Any]]) -> str:
    """The id of the one console whose id starts with ``prefix``; ValueError saying that none
    does, or listing those that do."""
    matches = sorted(
        (str(c["id"]), one_line(str(c.get("nombre") or "")).strip())
        for c in consoles
        if str(c.get("id", "")).startswith(prefix)
    )
    if len(matches) == 1:
        return matches[0][0]
    if not matches:
        raise ValueError(f"no console id starts with {prefix} ({len(consoles)} consoles known)")
    listed = ", ".join(
        f"{console_id} ({name})" if name else console_id
        for console_id, name in matches[:MAX_LISTED_MATCHES]
    )
    more = len(matches) - MAX_LISTED_MATCHES
    tail = f" and {more} more" if more > 0 else ""
    raise ValueError(f"{prefix} matches {len(matches)} consoles: {listed}{tail}; give more of it")


def console_label(console: Mapping[str, Any]) -> str:
    """``Consola taller-3 (550e8400…)``; ``Consola <full id>`` when the name is unknown."""
    console_id = one_line(str(console.get("id", "")))
    name = one_line(str(console.get("nombre") or "")).strip()
    if not name:
        return f"Consola {console_id}"
    prefix = "" if name.lower().startswith("consola") else "Consola "
    return f"{prefix}{name} ({short_id(console_id)})"


def local_time(seconds: float, now: float, tz: tzinfo | None = None) -> str:
    """``17:30`` when ``seconds`` falls on the same day as ``now``, else ``2026-03-14 17:30``
    (local time unless ``tz`` says otherwise)."""
    moment = datetime.fromtimestamp(seconds, tz).astimezone(tz)
    today = datetime.fromtimestamp(now, tz).astimezone(tz).date()
    return moment.strftime("%H:%M" if moment.date() == today else "%Y-%m-%d %H:%M")


def maintenance_until(console: Mapping[str, Any], now: float) -> float | None:
    """End of the console's maintenance (Unix seconds) while it lasts, else None."""
    until = parse_time(console.get(KEY_MANTENIMIENTO_HASTA))
    return until if until is not None and until > now else None


def maintenance_reason(console: Mapping[str, Any]) -> str | None:
    """The operator's reason for the maintenance, printable, or None."""
    reason = console.get(KEY_MANTENIMIENTO_MOTIVO)
    text = one_line(reason).strip() if isinstance(reason, str) else ""
    return text or None


def maintenance_note(console: Mapping[str, Any], now: float, tz: tzinfo | None = None) -> str:
    """``mantenimiento hasta 17:30 (cambio de disco)``; empty when it has none."""
    until = maintenance_until(console, now)
    if until is None:
        return ""
    reason = maintenance_reason(console)
    note = f"mantenimiento hasta {local_time(until, now, tz)}"
    return f"{note} ({reason})" if reason else note
