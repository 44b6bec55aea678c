"""The ``heartbeat`` command: one entry point, one subcommand per job.

Each subcommand lives in the module that owns it and exposes ``main(argv) -> int``; this file only
dispatches, importing the chosen module lazily (the worker library never imports the exporter).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: subcommand -> (module with ``main(argv)``, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("heartbeat.agent", "run the heartbeat service as a standalone process (sidecar)"),
    "id": ("heartbeat.agent", "print this console's id (creating it on first use)"),
    "exporter": ("exporter.cli", "run the central service: consoles API, storage, fleet /metrics"),
    "status": ("heartbeat.status", "show the fleet from the exporter's API as a table"),
    "demo": ("heartbeat.demo", "run the exporter and a simulated fleet on loopback"),
}


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: heartbeat <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    lines += ["", "Run 'heartbeat <command> --help' for the options of one command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``heartbeat <command> ...`` to the module that owns the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        print(f"heartbeat: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[command][0])
    entry = getattr(module, f"main_{command}", None) or module.main
    result: int = entry(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
