"""``heartbeat exporter`` / ``python -m exporter``: flags (with env fallbacks) and startup."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from exporter import config as c
from exporter.config import ExporterConfig
from exporter.startup import StartupError, redact
from exporter.tokens import TokenError, check_distinct_roles, load_token

ENV_PREFIX = "HEARTBEAT_EXPORTER_"
#: The tokens themselves (no flag: a command line is visible to every user in ``ps``).
ENROLLMENT_TOKEN_VARIABLE = "HEARTBEAT_ENROLLMENT_TOKEN"
READ_TOKEN_VARIABLE = "HEARTBEAT_READ_TOKEN"
ADMIN_TOKEN_VARIABLE = "HEARTBEAT_ADMIN_TOKEN"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


#: Longest duration a setting may hold (ten years): keeps every timestamp in the databases' range.
MAX_SECONDS = 10 * 365 * 24 * 3600.0


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive number of seconds")
    if value > MAX_SECONDS:
        raise ValueError(f"must be at most {MAX_SECONDS:g} seconds (ten years)")
    return value


def _seconds_or_off(text: str) -> float | None:
    if text.strip().lower() == "off":
        return None
    return _seconds(text)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text.lower()

    return parse


#: (flag, env suffix, parser, default, help)
OPTIONS: tuple[tuple[str, str, Callable[[str], Any], Any, str], ...] = (
    ("--host", "HOST", _nonempty, c.DEFAULT_HOST, "address to listen on"),
    ("--port", "PORT", _port, c.DEFAULT_PORT, "TCP port (the seed's API_BASE_URL uses 3000)"),
    (
        "--database",
        "DATABASE",
        _nonempty,
        c.DEFAULT_DATABASE,
        "SQLite file path (or sqlite:///PATH), or a postgresql://user:pass@host:port/db URL",
    ),
    (
        "--inactive-after",
        "INACTIVE_AFTER",
        _seconds,
        c.DEFAULT_INACTIVE_AFTER_SECONDS,
        "seconds of silence before a console that does not report its interval is marked "
        "inactiva (consoles reporting intervaloSegundos get twice their interval)",
    ),
    (
        "--sweep-interval",
        "SWEEP_INTERVAL",
        _seconds,
        c.DEFAULT_SWEEP_INTERVAL_SECONDS,
        "seconds between checks for silent consoles",
    ),
    (
        "--history-retention",
        "HISTORY_RETENTION",
        _seconds,
        c.DEFAULT_HISTORY_RETENTION_SECONDS,
        "seconds of state-change history to keep",
    ),
    (
        "--retire-after",
        "RETIRE_AFTER",
        _seconds_or_off,
        None,
        "seconds a console may stay inactiva (after a goodbye or for silence) before the sweeper "
        "retires it, as DELETE /api/consolas/{id} would; off: never",
    ),
    (
        "--request-timeout",
        "REQUEST_TIMEOUT",
        _seconds,
        c.DEFAULT_REQUEST_TIMEOUT_SECONDS,
        "seconds a write may wait for its commit, or a read for the database, before a 503",
    ),
    (
        "--request-read-timeout",
        "REQUEST_READ_TIMEOUT",
        _seconds,
        c.DEFAULT_REQUEST_READ_TIMEOUT_SECONDS,
        "seconds a client has to send a request's headers and body; then it gets a 408 and the "
        "connection is closed (a connection that sent nothing is just closed)",
    ),
    (
        "--max-connections",
        "MAX_CONNECTIONS",
        _positive_int,
        None,
        "most connections served at once; beyond them a new connection gets a 503 at once; "
        "unset: the open-file soft limit (raised to the hard limit at start) minus "
        f"{c.RESERVED_OPEN_FILES} kept for the database, log files and the exporter's own sockets",
    ),
    (
        "--max-batch",
        "MAX_BATCH",
        _positive_int,
        c.DEFAULT_MAX_BATCH,
        "most writes committed in one transaction (group commit)",
    ),
    (
        "--sqlite-synchronous",
        "SQLITE_SYNCHRONOUS",
        _choice(("full", "normal")),
        c.DEFAULT_SQLITE_SYNCHRONOUS,
        "SQLite durability: full survives power loss, normal only process crashes",
    ),
    (
        "--writer",
        "WRITER",
        _choice(c.WRITER_MODES),
        c.DEFAULT_WRITER,
        "where write batches are applied: a writer process the exporter starts and watches, "
        "or a thread of the exporter",
    ),
    (
        "--video-info",
        "VIDEO_INFO",
        _bool,
        True,
        "export heartbeat_fleet_console_video_info (the video name as a label)",
    ),
    (
        "--enrollment-token-file",
        "ENROLLMENT_TOKEN_FILE",
        _nonempty,
        None,
        "file holding the token consoles must send to register (their HEARTBEAT_API_TOKEN); "
        "or set the token itself in HEARTBEAT_ENROLLMENT_TOKEN; unset: anyone may register",
    ),
    (
        "--read-token-file",
        "READ_TOKEN_FILE",
        _nonempty,
        None,
        "file holding the token the API reads and /metrics require; or set the token itself "
        "in HEARTBEAT_READ_TOKEN; unset: reads are open",
    ),
    (
        "--admin-token-file",
        "ADMIN_TOKEN_FILE",
        _nonempty,
        None,
        "file holding the operators' token: retire, maintenance, reset a console's secret "
        "(heartbeat retire/maintenance/reset-secret send it), and reads; or set the token "
        "itself in HEARTBEAT_ADMIN_TOKEN; unset: those are open, or refused when an enrollment "
        "token is set",
    ),
    ("--access-log", "ACCESS_LOG", _bool, False, "log every request"),
    ("--log-level", "LOG_LEVEL", _choice(LOG_LEVELS), c.DEFAULT_LOG_LEVEL, "log level"),
)


def _show(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, float):
        return f"{default:g}"
    return str(default).lower() if isinstance(default, bool) else str(default)


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` with errors argparse reports as ``argument --flag: 'value': reason``."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return convert


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def build_parser(environ: dict[str, str]) -> argparse.ArgumentParser:
    """The argument parser; defaults come from ``environ`` when the variable is set."""
    parser = argparse.ArgumentParser(
        prog="heartbeat exporter",
        description="Central service: the consoles API, its storage, and the fleet /metrics.",
    )
    for flag, suffix, parse, default, text in OPTIONS:
        env = ENV_PREFIX + suffix
        value = default
        if env in environ:
            try:
                value = parse(environ[env])
            except ValueError as exc:
                raise StartupError(f"{env}={environ[env]!r}: {exc}") from None
        parser.add_argument(
            flag,
            dest=_dest(flag),
            type=_argument_type(parse),
            default=value,
            metavar="BOOL" if parse is _bool else _dest(flag).upper(),
            help=f"{text} (env {env}; default: {_show(default)})",
        )
    return parser


def parse_config(argv: Sequence[str], environ: dict[str, str]) -> tuple[ExporterConfig, bool]:
    """The config from flags and environment, and whether to log each request."""
    args = build_parser(environ).parse_args(list(argv))
    values = vars(args)
    access_log = bool(values.pop("access_log"))
    try:
        values["enrollment_token"] = load_token(
            "--enrollment-token-file",
            values.pop("enrollment_token_file"),
            ENROLLMENT_TOKEN_VARIABLE,
            environ,
        )
        values["read_token"] = load_token(
            "--read-token-file", values.pop("read_token_file"), READ_TOKEN_VARIABLE, environ
        )
        values["admin_token"] = load_token(
            "--admin-token-file", values.pop("admin_token_file"), ADMIN_TOKEN_VARIABLE, environ
        )
        check_distinct_roles(
            {
                f"--enrollment-token-file/{ENROLLMENT_TOKEN_VARIABLE}": values["enrollment_token"],
                f"--read-token-file/{READ_TOKEN_VARIABLE}": values["read_token"],
                f"--admin-token-file/{ADMIN_TOKEN_VARIABLE}": values["admin_token"],
            }
        )
    except TokenError as exc:
        raise StartupError(str(exc)) from None
    return ExporterConfig(**values), access_log


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exporter until SIGTERM/SIGINT; 2 on a bad setting."""
    try:
        config, access_log = parse_config(sys.argv[1:] if argv is None else argv, dict(os.environ))
    except StartupError as exc:
        print(f"heartbeat exporter: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        from exporter.server import serve
    except ModuleNotFoundError as exc:  # a worker's base install: no server stack
        print(
            f"heartbeat exporter: needs the 'server' extra ({exc.name} not installed): "
            "pip install 'consola-heartbeat[server]'",
            file=sys.stderr,
        )
        return 2
    from exporter.storage import StorageUnavailableError

    try:
        return serve(config, access_log=access_log)
    except StartupError as exc:
        print(f"heartbeat exporter: {exc}", file=sys.stderr)
        return 2
    except (StorageUnavailableError, RuntimeError) as exc:
        print(
            f"heartbeat exporter: --database {redact(config.database)!r}: {exc}",
            file=sys.stderr,
        )
        return 2
