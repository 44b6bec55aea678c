"""``heartbeat status``: the fleet from the exporter's API as a table (or JSON), silent first.

The same reading and formatting serve ``heartbeat demo``'s live view: :func:`fetch_fleet` asks
``GET {API_BASE_URL}/consolas`` and :func:`render_table` lays the consoles out. A console in
maintenance is marked ``MANT.``, never ``SILENT``: it is off on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from consola_wire import STATE_INACTIVA
from heartbeat.api_access import (
    CHECK_URL_HINT,
    DEFAULT_TIMEOUT_SECONDS,
    HEADERS,
    READ_TOKEN_VARIABLE,
    add_api_arguments,
    api_base_url,
    bearer,
    failure_reason,
    tls_verification,
    unreachable,
)
from heartbeat.config import ConfigError
from heartbeat.console_view import maintenance_note, maintenance_until, one_line, parse_time

#: Exit status when the API cannot be reached or answers something that is not the fleet.
EXIT_UNREACHABLE = 3
#: Exit status for a configuration value that cannot be used (as argparse's errors).
EXIT_BAD_VALUE = 2
#: Most consoles one listing request asks for (the API's maximum page size).
PAGE_SIZE = 10000
VIDEO_WIDTH = 32
NAME_WIDTH = 24
#: Room for "mantenimiento hasta YYYY-MM-DD HH:MM" (an end on another day) and a short reason.
MAINTENANCE_WIDTH = 64
#: The marker column: a console that stopped without a goodbye, and one in maintenance.
SILENT_MARK = "SILENT"
MAINTENANCE_MARK = "MANT."


class ApiUnreachableError(Exception):
    """The exporter's API did not answer, or answered something that is not the fleet."""


class ApiRefusedError(ApiUnreachableError):
    """The API answered, but not with the fleet (an error status or another document)."""


class ApiUntrustedError(ApiUnreachableError):
    """TLS failed: the API's certificate is not trusted (the message names the CA bundle)."""


@dataclass(frozen=True)
class ConsoleRow:
    """One console as the API returned it, plus what the operator needs to see at a glance."""

    data: Mapping[str, Any]
    #: It stopped reporting without a goodbye (:func:`is_silent`), in maintenance or not.
    stopped: bool
    seconds_since_seen: float | None
    #: End of its maintenance (Unix seconds) while that lasts, else None.
    maintenance_until: float | None = None
    #: ``mantenimiento hasta 17:30 (motivo)``, or empty.
    maintenance: str = ""

    @property
    def estado(self) -> str:
        """The state the exporter holds (``inactiva`` included)."""
        return str(self.data.get("estado", "?"))

    @property
    def in_maintenance(self) -> bool:
        """Off on purpose: an operator set a maintenance that has not ended yet."""
        return self.maintenance_until is not None

    @property
    def silent(self) -> bool:
        """Stopped without a goodbye and not in maintenance: the alarming case."""
        return self.stopped and not self.in_maintenance

    @property
    def not_reporting(self) -> bool:
        """``inactiva`` or stopped (what ``--inactive`` lists), in maintenance or not."""
        return self.stopped or self.estado == STATE_INACTIVA


def is_silent(console: Mapping[str, Any], now: float) -> bool:
    """True for a console that stopped reporting without a goodbye.

    Either the exporter already marked it ``inactiva`` for silence (not a clean stop), or its last
    contact is older than its own threshold and the next sweep will mark it. (The sweeper leaves a
    console in maintenance alone; :class:`ConsoleRow` tells that case apart.)
    """
    if console.get("estado") == STATE_INACTIVA:
        return not console.get("detenidaLimpiamente", False)
    last_seen = parse_time(console.get("ultimoContacto"))
    threshold = console.get("umbralInactividadSegundos")
    if last_seen is None or not isinstance(threshold, int | float):
        return False
    return now - last_seen > threshold


def rows_for(consoles: Sequence[Mapping[str, Any]], now: float) -> list[ConsoleRow]:
    """Consoles as rows: silent ones first, then those in maintenance, then ``inactiva`` (clean
    stops), then the rest; by name within each group."""
    rows = []
    for console in consoles:
        last_seen = parse_time(console.get("ultimoContacto"))
        since = None if last_seen is None else max(0.0, now - last_seen)
        until = maintenance_until(console, now)
        note = maintenance_note(console, now)
        rows.append(ConsoleRow(console, is_silent(console, now), since, until, note))
    return sorted(
        rows,
        key=lambda r: (
            not r.silent,
            not r.in_maintenance,
            r.estado != STATE_INACTIVA,
            str(r.data.get("nombre", "")),
            str(r.data.get("id", "")),
        ),
    )


def fetch_fleet(
    api_base_url: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    session: requests.Session | None = None,
    token: str | None = None,
    verify: str | bool = True,
) -> list[dict[str, Any]]:
    """Every console the API knows (``GET {api_base_url}/consolas``); raises ApiUnreachableError.

    ``token`` is sent as ``Authorization: Bearer`` for an exporter whose reads require one;
    ``verify`` is requests' TLS verification (:func:`~heartbeat.api_access.tls_verification`).
    """
    url = api_base_url.rstrip("/") + "/consolas"
    getter = session or requests
    consoles: list[dict[str, Any]] = []
    offset = 0
    while True:
        try:
            response = getter.get(
                url,
                params={"limit": PAGE_SIZE, "offset": offset},
                headers=HEADERS,
                auth=bearer(token),
                timeout=timeout,
                verify=verify,
            )
        except requests.exceptions.SSLError as exc:
            raise ApiUntrustedError(unreachable(url, exc, verify)) from None
        except requests.RequestException as exc:
            raise ApiUnreachableError(f"cannot reach {url}: {failure_reason(exc)}") from None
        if response.status_code in (401, 403):
            raise ApiRefusedError(
                f"{url} answered HTTP {response.status_code}: reading the fleet needs a valid "
                f"token (--read-token or ${READ_TOKEN_VARIABLE})"
            )
        if response.status_code != 200:
            raise ApiRefusedError(f"{url} answered HTTP {response.status_code}")
        try:
            body = response.json()
            page = body["consolas"]
            total = int(body["total"])
        except (ValueError, KeyError, TypeError):
            raise ApiRefusedError(
                f"{url} did not answer with the fleet (is it the consoles API?)"
            ) from None
        consoles.extend(page)
        offset += len(page)
        if not page or offset >= total:
            return consoles


def humanize_age(seconds: float | None) -> str:
    """``4s ago``, ``3m ago``, ``2h ago``, ``5d ago``; ``never`` for None."""
    if seconds is None:
        return "never"
    value = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size:
            return f"{value // size}{unit} ago"
    return f"{value}s ago"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _mark(row: ConsoleRow) -> str:
    if row.silent:
        return SILENT_MARK
    return MAINTENANCE_MARK if row.in_maintenance else ""


def render_table(rows: Sequence[ConsoleRow]) -> str:
    """A plain-text table: marker, state, name, short id, video, last seen, and a MAINTENANCE
    column when some console is in maintenance."""
    with_maintenance = any(row.maintenance for row in rows)
    header: tuple[str, ...] = ("", "STATE", "NAME", "ID", "VIDEO", "LAST SEEN")
    if with_maintenance:
        header += ("MAINTENANCE",)
    lines = [header]
    for row in rows:
        video = row.data.get("videoEnProceso") or "-"
        error = row.data.get("ultimoError")
        if row.estado == "error" and isinstance(error, Mapping) and error.get("message"):
            video = f"{video} ({error['message']})" if video != "-" else str(error["message"])
        cells: tuple[str, ...] = (
            _mark(row),
            row.estado,
            _cut(one_line(str(row.data.get("nombre", ""))), NAME_WIDTH),
            str(row.data.get("id", ""))[:8],
            _cut(one_line(str(video)), VIDEO_WIDTH),
            humanize_age(row.seconds_since_seen),
        )
        if with_maintenance:
            cells += (_cut(row.maintenance, MAINTENANCE_WIDTH),)
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def summary_line(rows: Sequence[ConsoleRow]) -> str:
    """``12 consoles: 5 ocupada, 4 esperando, 1 error, 2 inactiva (1 silent)``; the brackets
    add ``, 1 in maintenance`` when there is one."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.estado] = counts.get(row.estado, 0) + 1
    parts = ", ".join(f"{n} {estado}" for estado, n in sorted(counts.items()))
    silent = sum(row.silent for row in rows)
    serviced = sum(row.in_maintenance for row in rows)
    marks = f"{silent} silent" + (f", {serviced} in maintenance" if serviced else "")
    noun = "console" if len(rows) == 1 else "consoles"
    return f"{len(rows)} {noun}" + (f": {parts}" if parts else "") + f" ({marks})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heartbeat status",
        description="Show the fleet from the exporter's API: silent consoles first. Exit status "
        f"0, or {EXIT_UNREACHABLE} when the API cannot be reached, or {EXIT_BAD_VALUE} for an "
        "unusable HEARTBEAT_CA_BUNDLE (CA certificates for an https:// API, as the library "
        "uses them).",
    )
    parser.add_argument(
        "--inactive",
        action="store_true",
        help="only consoles that are inactiva or stopped reporting (those in maintenance "
        "included, marked MANT.)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON (the API's consoles plus 'silenciosa' and 'enMantenimiento')",
    )
    parser.add_argument(
        "--read-token",
        default=None,
        help="bearer token for an exporter whose reads require one "
        f"(default: ${READ_TOKEN_VARIABLE})",
    )
    add_api_arguments(parser)
    return parser


def _read_fleet(args: argparse.Namespace, api: str) -> list[dict[str, Any]] | int:
    """The fleet, or the exit status after saying on stderr why it cannot be read."""
    try:
        verify = tls_verification()
    except ConfigError as exc:
        print(f"heartbeat status: {exc}", file=sys.stderr)
        return EXIT_BAD_VALUE
    try:
        token = args.read_token or os.environ.get(READ_TOKEN_VARIABLE) or None
        return fetch_fleet(api, timeout=args.timeout, token=token, verify=verify)
    except ApiUntrustedError as exc:
        print(f"heartbeat status: the consoles API is unreachable: {exc}", file=sys.stderr)
    except ApiRefusedError as exc:
        print(f"heartbeat status: cannot read the fleet: {exc}", file=sys.stderr)
    except ApiUnreachableError as exc:
        print(
            f"heartbeat status: the consoles API is unreachable: {exc}\n{CHECK_URL_HINT}",
            file=sys.stderr,
        )
    return EXIT_UNREACHABLE


def main(argv: Sequence[str] | None = None) -> int:
    """Print the fleet; 3 (with a message on stderr) when the API is unreachable."""
    args = _parser().parse_args(argv)
    api = api_base_url(args.api_base_url)
    consoles = _read_fleet(args, api)
    if isinstance(consoles, int):
        return consoles
    rows = rows_for(consoles, time.time())
    if args.inactive:
        rows = [r for r in rows if r.not_reporting]
    if args.json:
        body = {
            "apiBaseUrl": api,
            "consolas": [
                {**r.data, "silenciosa": r.silent, "enMantenimiento": r.in_maintenance}
                for r in rows
            ],
            "total": len(rows),
            "silenciosas": sum(r.silent for r in rows),
            "enMantenimiento": sum(r.in_maintenance for r in rows),
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no inactive consoles" if args.inactive else f"no consoles registered at {api}")
        return 0
    print(render_table(rows))
    print()
    print(summary_line(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
