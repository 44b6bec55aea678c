"""``heartbeat maintenance``, ``retire`` and ``reset-secret``: an operator's changes to one console.

Each talks to the exporter's API and prints one line. ``maintenance ID --for 2h [--reason TEXT]``
(or ``--until ISO-8601``) says the console is off on purpose until then, ``--end`` ends that;
``retire ID`` removes a console and its history; ``reset-secret ID`` makes the exporter forget
the console's secret, so a console that lost its ``.console-secret`` enrolls again with the
enrollment token. The admin token comes from ``--token``, else ``HEARTBEAT_ADMIN_TOKEN``.
ID is the console's UUID or its first 8 characters or more (as ``heartbeat status`` shows them),
resolved through ``GET /api/consolas``. Exit status: 0 done; 1 no such console, API unreachable,
token refused or any other answer; 2 a bad value, refused here or by the API (its 400 names the
field), or an id prefix that matches no console or several.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import requests

from consola_wire import WireError, validate_console_id
from consola_wire.protocol import (
    KEY_HASTA,
    KEY_MANTENIMIENTO_HASTA,
    KEY_MINUTOS,
    KEY_MOTIVO,
    maintenance_path,
)
from heartbeat.api_access import (
    HEADERS,
    READ_TOKEN_VARIABLE,
    add_api_arguments,
    api_base_url,
    bearer,
    tls_verification,
    unreachable,
)
from heartbeat.config import ConfigError
from heartbeat.console_view import (
    MIN_PREFIX_CHARS,
    console_label,
    id_prefix,
    local_time,
    maintenance_reason,
    one_line,
    unique_match,
)
from heartbeat.console_view import parse_time as parse_api_time
from heartbeat.durations import DurationError, parse_duration

#: Environment variable holding the token for the exporter's admin endpoints.
ADMIN_TOKEN_VARIABLE = "HEARTBEAT_ADMIN_TOKEN"
EXIT_FAILED = 1
EXIT_BAD_VALUE = 2
#: The API's field names, and what sets them here.
FLAG_OF_FIELD = {KEY_MINUTOS: "--for", KEY_HASTA: "--until", KEY_MOTIVO: "--reason", "id": "ID"}
#: Most characters of an API message quoted in our one line.
MAX_QUOTED_CHARS = 300
#: Most consoles one listing request asks for while resolving a prefix (the API's maximum).
PAGE_SIZE = 10000
TOKEN_HINT = (
    f"give the admin token with --token or ${ADMIN_TOKEN_VARIABLE} "
    "(the exporter's --admin-token-file / HEARTBEAT_ADMIN_TOKEN)"
)


class CommandError(Exception):
    """What stops a command: the one line to print and the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit 2), naming the flag."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_VALUE, f"{self.prog}: {message}\n")


def _console_id(text: str) -> str:
    """A full id (canonical) or an id prefix (lower case, without the ``…`` status shows)."""
    try:
        return validate_console_id(text)
    except WireError:
        pass
    prefix = id_prefix(text)
    if prefix is not None:
        return prefix
    raise argparse.ArgumentTypeError(
        f"{one_line(text)!r} is not a console id (a UUID, or its first {MIN_PREFIX_CHARS} "
        "characters or more, as heartbeat status shows)"
    )


def is_full_id(text: str) -> bool:
    """Whether ``text`` is a whole console id (not a prefix)."""
    try:
        validate_console_id(text)
    except WireError:
        return False
    return True


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _instant(text: str) -> str:
    """An ISO-8601 time (local when it has no offset) as the API's UTC ``...Z`` text."""
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{one_line(text)!r} is not an ISO-8601 time "
            "(e.g. 2026-03-14T17:30 in local time, or 2026-03-14T17:30:00Z)"
        ) from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quote(text: object) -> str:
    line = one_line(str(text)).strip()
    return line if len(line) <= MAX_QUOTED_CHARS else line[: MAX_QUOTED_CHARS - 1] + "…"


@dataclass(frozen=True)
class ConsolesApi:
    """The consoles API at ``base_url``, asked with the admin ``token``."""

    base_url: str
    token: str | None
    timeout: float
    #: requests' TLS verification (:func:`~heartbeat.api_access.tls_verification`).
    verify: str | bool = True

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, token: str | None
    ) -> requests.Response:
        url = self.base_url + path
        try:
            return requests.request(
                method,
                url,
                json=body,
                headers=HEADERS,
                auth=bearer(token),
                timeout=self.timeout,
                allow_redirects=False,
                verify=self.verify,
            )
        except requests.RequestException as exc:
            reason = unreachable(url, exc, self.verify)
            raise CommandError(f"the consoles API is unreachable: {reason}") from None

    def change(
        self, method: str, path: str, console_id: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a change of ``console_id``; the answer's JSON, or :class:`CommandError`."""
        response = self._send(method, path, body, self.token)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        status = response.status_code
        if status == 200 and answer.get("id") == console_id:
            return answer
        raise self._refusal(status, answer, console_id, self.base_url + path)

    def _refusal(
        self, status: int, answer: Mapping[str, Any], console_id: str, url: str
    ) -> CommandError:
        field, message = answer.get("field"), _quote(answer.get("message") or "")
        if status == 404 and field == "id":
            return CommandError(f"no console with id {console_id}")
        if status == 400 and isinstance(field, str):
            flag = FLAG_OF_FIELD.get(field)
            named = f"{_quote(field)!r}" + (f" ({flag})" if flag else "")
            return CommandError(f"the API refused {named}: {message}", EXIT_BAD_VALUE)
        if status in (401, 403):
            said = f"HTTP {status}" + (f": {message}" if message else "")
            if self.token is None:
                return CommandError(f"the API requires a token ({said}): {TOKEN_HINT}")
            return CommandError(f"the API refused the token ({said}): {TOKEN_HINT}")
        if status == 200:
            return CommandError(f"{url} did not answer with the console (is it the consoles API?)")
        said = f"{url} answered HTTP {status}" + (f": {message}" if message else "")
        if status in (404, 405):
            said += " (is --api-base-url the consoles API, ending in /api?)"
        return CommandError(said)

    def resolve(self, given: str) -> str:
        """The id ``given`` names: itself when whole, else the one console whose id starts
        with it (:class:`CommandError`, status 2, when none or several do)."""
        if is_full_id(given):
            return given
        try:
            return unique_match(given, self._consoles())
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_BAD_VALUE) from None

    def _consoles(self) -> list[dict[str, Any]]:
        """Every console (``GET /consolas``, page by page) with the token that reads."""
        token = os.environ.get(READ_TOKEN_VARIABLE) or self.token
        consoles: list[dict[str, Any]] = []
        while True:
            path = f"/consolas?limit={PAGE_SIZE}&offset={len(consoles)}"
            response = self._send("GET", path, None, token)
            status = response.status_code
            if status in (401, 403):
                raise CommandError(
                    f"the API refused to list the consoles (HTTP {status}) to resolve an id "
                    f"prefix: {TOKEN_HINT}, or give the whole id"
                )
            try:
                body = response.json()
                page, total = list(body["consolas"]), int(body["total"])
            except (ValueError, KeyError, TypeError):
                raise CommandError(
                    f"{self.base_url + path} answered HTTP {status}, not the consoles list "
                    "(is --api-base-url the consoles API, ending in /api?)"
                ) from None
            consoles.extend(c for c in page if isinstance(c, dict))
            if not page or len(consoles) >= total:
                return consoles

    def known_console(self, console_id: str, path: str) -> dict[str, Any] | None:
        """The console as the API reads it (with ``HEARTBEAT_READ_TOKEN``, else the admin
        token, which reads too), or None when it will not say; :class:`CommandError` only when
        the API cannot be reached."""
        token = os.environ.get(READ_TOKEN_VARIABLE) or self.token
        response = self._send("GET", path, None, token)
        try:
            answer = response.json()
        except ValueError:
            return None
        ok = response.status_code == 200 and isinstance(answer, dict)
        return answer if ok and answer.get("id") == console_id else None


def _console_path(console_id: str) -> str:
    return "/consolas/" + urllib.parse.quote(console_id, safe="")


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "id",
        metavar="ID",
        type=_console_id,
        help=f"the console's id (a UUID), or its first {MIN_PREFIX_CHARS} characters or more "
        "as heartbeat status shows them (resolved through GET /api/consolas)",
    )


def _access_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token",
        default=None,
        help="the exporter's admin token (default: "
        f"${ADMIN_TOKEN_VARIABLE}, better: a command line shows in ps)",
    )
    add_api_arguments(parser)


def _api(args: argparse.Namespace) -> ConsolesApi:
    token = args.token or os.environ.get(ADMIN_TOKEN_VARIABLE) or None
    try:
        verify = tls_verification()
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_BAD_VALUE) from None
    return ConsolesApi(api_base_url(args.api_base_url), token, args.timeout, verify)


def _maintenance_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="heartbeat maintenance",
        description="Put a console in maintenance (it is off on purpose and pages nobody until "
        "then), move the end of one, or end it. Exit status: 0 done; 1 no such console, API "
        "unreachable or token refused; 2 a bad value.",
    )
    _id_argument(parser)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        type=_duration,
        help="how long, counted on the exporter's clock: 90m, 2h, 1h30m, 45s, 1d",
    )
    when.add_argument(
        "--until",
        metavar="ISO-8601",
        type=_instant,
        help="until when: 2026-03-14T17:30 (local time) or with an offset, e.g. ...Z",
    )
    when.add_argument("--end", action="store_true", help="end the console's maintenance now")
    parser.add_argument("--reason", metavar="TEXT", help="why (shown beside the console)")
    _access_arguments(parser)
    return parser


def _minutes(seconds: int) -> int | float:
    return seconds // 60 if seconds % 60 == 0 else seconds / 60


def maintenance(args: argparse.Namespace) -> str:
    """Set, move or end the maintenance; the line to print."""
    api = _api(args)
    console_id = api.resolve(args.id)
    path = maintenance_path(console_id)
    if args.end:
        console = api.change("DELETE", path, console_id)
        return f"{console_label(console)} fuera de mantenimiento"
    body: dict[str, Any] = (
        {KEY_MINUTOS: _minutes(args.duration)}
        if args.duration is not None
        else {KEY_HASTA: args.until}
    )
    if args.reason is not None:
        body[KEY_MOTIVO] = args.reason
    console = api.change("POST", path, console_id, body)
    until = parse_api_time(console.get(KEY_MANTENIMIENTO_HASTA))
    if until is None:
        raise CommandError(
            f"the API answered without {KEY_MANTENIMIENTO_HASTA}: does this exporter know "
            "maintenance?"
        )
    line = f"{console_label(console)} en mantenimiento hasta {local_time(until, time.time())}"
    reason = maintenance_reason(console)
    return f"{line} — motivo: {reason}" if reason else line


def main_maintenance(argv: Sequence[str] | None = None) -> int:
    """``heartbeat maintenance ID (--for D | --until ISO | --end) [--reason TEXT]``."""
    parser = _maintenance_parser()
    args = parser.parse_args(argv)
    if args.end and args.reason is not None:
        parser.error("argument --reason: goes with --for or --until, not with --end")
    return _run(parser.prog, lambda: maintenance(args))


def _retire_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="heartbeat retire",
        description="Retire a console: the exporter forgets it and its history (a console still "
        "running registers again on its next heartbeat). Exit status: 0 done; 1 no such "
        "console, API unreachable or token refused; 2 a bad value.",
    )
    _id_argument(parser)
    _access_arguments(parser)
    return parser


def retire(args: argparse.Namespace) -> str:
    """Retire the console; the line to print (with its name when the API will read it)."""
    api = _api(args)
    console_id = api.resolve(args.id)
    path = _console_path(console_id)
    known = api.known_console(console_id, path)
    api.change("DELETE", path, console_id)
    return f"{console_label(known or {'id': console_id})} retirada"


def main_retire(argv: Sequence[str] | None = None) -> int:
    """``heartbeat retire ID``."""
    parser = _retire_parser()
    args = parser.parse_args(argv)
    return _run(parser.prog, lambda: retire(args))


def _reset_secret_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="heartbeat reset-secret",
        description="Reset a console's secret: the exporter forgets it (state, history and "
        "maintenance stay), so the console, e.g. one that lost its .console-secret, enrolls "
        "again with the enrollment token (HEARTBEAT_API_TOKEN) and gets a new secret. Exit "
        "status: 0 done; 1 no such console, API unreachable or token refused; 2 a bad value.",
    )
    _id_argument(parser)
    _access_arguments(parser)
    return parser


def reset_secret(args: argparse.Namespace) -> str:
    """Reset the console's secret; the line to print."""
    api = _api(args)
    console_id = api.resolve(args.id)
    path = _console_path(console_id) + "/secreto"
    known = api.known_console(console_id, _console_path(console_id))
    api.change("DELETE", path, console_id)
    return (
        f"{console_label(known or {'id': console_id})}: secreto anulado; se registrará de nuevo "
        "con HEARTBEAT_API_TOKEN"
    )


def main_reset_secret(argv: Sequence[str] | None = None) -> int:
    """``heartbeat reset-secret ID``."""
    parser = _reset_secret_parser()
    args = parser.parse_args(argv)
    return _run(parser.prog, lambda: reset_secret(args))


def _run(prog: str, command: Callable[[], str]) -> int:
    try:
        line = command()
    except CommandError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.status
    print(line)
    return 0
