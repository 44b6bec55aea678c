"""``heartbeat agent`` (the service as a standalone process) and ``heartbeat id``.

The agent is for workers that cannot import Python: it runs the same service, stops cleanly on
SIGTERM/SIGINT (sending the ``inactiva`` goodbye), and accepts state changes on its HTTP server
through a loopback-only ``POST /estado`` (``{"estado", "videoEnProceso", "error"}``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from heartbeat import config
from heartbeat.config import ConfigError, HeartbeatConfig
from heartbeat.identity import load_or_create_console_id
from heartbeat.service import HeartbeatService

#: flag dest -> environment variable it overrides.
_FLAG_VARIABLES = {
    "api_base_url": "API_BASE_URL",
    "console_id": "CONSOLE_ID",
    "interval_minutes": "HEARTBEAT_INTERVAL_MINUTES",
    "name": "CONSOLE_NAME",
    "console_id_file": "CONSOLE_ID_FILE",
    "timeout": "HEARTBEAT_TIMEOUT_SECONDS",
    "metrics_port": "HEARTBEAT_METRICS_PORT",
    "metrics_addr": "HEARTBEAT_METRICS_ADDR",
    "metrics_advertise": "HEARTBEAT_METRICS_ADVERTISE",
    "console_secret_file": "CONSOLE_SECRET_FILE",
    "ca_bundle": "HEARTBEAT_CA_BUNDLE",
    "compression": "HEARTBEAT_COMPRESSION",
}


def _parser(prog: str, description: str, *, agent: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)

    def flag(name: str, variable: str, default: str, extra: str = "") -> None:
        parser.add_argument(
            name, default=None, help=f"falls back to ${variable} (default: {default}){extra}"
        )

    parser.add_argument("--env-file", default=None, help=".env file (default: the nearest .env)")
    flag("--console-id-file", "CONSOLE_ID_FILE", config.DEFAULT_CONSOLE_ID_FILE)
    flag("--console-id", "CONSOLE_ID", "read from the id file, generated on first use")
    if agent:
        flag("--api-base-url", "API_BASE_URL", "unset: heartbeats disabled")
        flag("--interval-minutes", "HEARTBEAT_INTERVAL_MINUTES", "5")
        flag("--name", "CONSOLE_NAME", "Consola <hostname>")
        flag("--timeout", "HEARTBEAT_TIMEOUT_SECONDS", f"{config.DEFAULT_TIMEOUT_SECONDS:g}")
        flag(
            "--metrics-port",
            "HEARTBEAT_METRICS_PORT",
            str(config.DEFAULT_METRICS_PORT),
            "; 0 or 'off' disables /metrics and /estado",
        )
        flag("--metrics-addr", "HEARTBEAT_METRICS_ADDR", config.DEFAULT_METRICS_ADDR)
        flag(
            "--metrics-advertise",
            "HEARTBEAT_METRICS_ADVERTISE",
            "the bind address; left to the exporter when it is 0.0.0.0 or ::",
            ": the host or IP Prometheus scrapes, sent to the API",
        )
        flag(
            "--console-secret-file",
            "CONSOLE_SECRET_FILE",
            f"{config.DEFAULT_CONSOLE_SECRET_NAME} beside the id file",
            "; the enrollment token itself only comes from $HEARTBEAT_API_TOKEN",
        )
        flag("--ca-bundle", "HEARTBEAT_CA_BUNDLE", "the system's CAs")
        flag("--compression", "HEARTBEAT_COMPRESSION", config.DEFAULT_COMPRESSION, ": auto|on|off")
        parser.add_argument(
            "--log-level",
            default="INFO",
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            help="default: INFO",
        )
    return parser


def _config(args: argparse.Namespace) -> HeartbeatConfig:
    environ = dict(os.environ)
    for dest, variable in _FLAG_VARIABLES.items():
        value = getattr(args, dest, None)
        if value is not None:
            environ[variable] = str(value)
    return HeartbeatConfig.from_env(environ, dotenv_path=args.env_file)


def main_agent(argv: Sequence[str] | None = None) -> int:
    """Run the heartbeat service until SIGTERM/SIGINT; 2 on a configuration error."""
    args = _parser(
        "heartbeat agent",
        "Run the heartbeat service as a standalone process (sidecar). Flags override the "
        "environment and .env.",
        agent=True,
    ).parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(message)s", stream=sys.stderr)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Installed before iniciar(): a signal during start-up is ours too, and the library, finding
    # a handler in place, leaves SIGTERM to the agent (which says goodbye and exits 0).
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            service = HeartbeatService(_config(args), control=True)
            service.iniciar()
        except ConfigError as exc:
            print(f"heartbeat agent: configuration error: {exc}", file=sys.stderr)
            return 2
        try:
            while not stop.wait(1.0):
                pass
        finally:
            service.detener()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main_id(argv: Sequence[str] | None = None) -> int:
    """Print the console id (creating the id file on first use); 2 on a configuration error."""
    args = _parser(
        "heartbeat id", "Print this console's id, creating it on first use.", agent=False
    ).parse_args(argv)
    try:
        print(load_or_create_console_id(_config(args)))
    except ConfigError as exc:
        print(f"heartbeat id: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m heartbeat.agent``: the agent."""
    return main_agent(argv)


if __name__ == "__main__":
    sys.exit(main())
