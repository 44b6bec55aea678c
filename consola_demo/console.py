"""One simulated console as its own process (``python -m consola_demo.console``).

The demo kills this one with SIGKILL to show a console that vanishes without saying goodbye; on
SIGTERM/SIGINT it stops cleanly like any worker (``inactiva`` goodbye).
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from consola_demo.fleet import ConsoleSpec, console_config, simulate_work
from heartbeat import HeartbeatService


def argv_for(
    spec: ConsoleSpec, api_base_url: str, interval_seconds: float, python: str = sys.executable
) -> list[str]:
    """The command line that runs ``spec`` as a child process."""
    return [
        python,
        "-m",
        "consola_demo.console",
        "--api-base-url",
        api_base_url,
        "--name",
        spec.name,
        "--id-file",
        str(spec.id_file),
        "--metrics-port",
        str(spec.metrics_port or 0),
        "--seed",
        str(spec.seed),
        "--interval-seconds",
        str(interval_seconds),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one simulated console until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m consola_demo.console")
    parser.add_argument("--api-base-url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--id-file", type=Path, required=True)
    parser.add_argument("--metrics-port", type=int, default=0, help="0: no /metrics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interval-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    spec = ConsoleSpec(args.name, args.id_file, args.metrics_port or None, args.seed)
    service = HeartbeatService(console_config(spec, args.api_base_url, args.interval_seconds))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    service.iniciar()
    try:
        simulate_work(service, stop, random.Random(args.seed), args.interval_seconds)
    finally:
        service.detener()
    return 0


if __name__ == "__main__":
    sys.exit(main())
