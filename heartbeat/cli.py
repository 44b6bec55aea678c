"""The ``heartbeat`` command: one entry point, one subcommand per job.

Each subcommand lives in the module that owns it and exposes ``main(argv) -> int``; this file only
dispatches, importing the chosen module lazily (the worker library never imports the exporter).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

#: The ``server`` extra: what the exporter (and the demo, which starts one) needs beyond the
#: worker's base install, as importable top-level modules.
SERVER_EXTRA = "server"
EXTRA_MODULES: dict[str, tuple[str, ...]] = {SERVER_EXTRA: ("starlette", "uvicorn", "psycopg")}

#: subcommand -> (module with ``main(argv)``, one-line help, extra it needs or None)
SUBCOMMANDS: dict[str, tuple[str, str, str | None]] = {
    "agent": (
        "heartbeat.agent",
        "run the heartbeat service as a standalone process (sidecar)",
        None,
    ),
    "id": ("heartbeat.agent", "print this console's id (creating it on first use)", None),
    "exporter": (
        "exporter.cli",
        "run the central service: consoles API, storage, fleet /metrics",
        SERVER_EXTRA,
    ),
    "status": ("heartbeat.status", "show the fleet from the exporter's API as a table", None),
    "maintenance": (
        "heartbeat.admin",
        "put a console in maintenance (--for 2h / --until ISO) or end it (--end)",
        None,
    ),
    "retire": (
        "heartbeat.admin",
        "retire a console: the exporter forgets it and its history",
        None,
    ),
    "reset-secret": (
        "heartbeat.admin",
        "reset a console's secret, so it enrolls again with the enrollment token",
        None,
    ),
    "demo": ("consola_demo", "run the exporter and a simulated fleet on loopback", SERVER_EXTRA),
}


def missing_extra(extra: str | None) -> str | None:
    """The one-line message for a command whose extra is not installed, else None."""
    if extra is None:
        return None
    missing = [m for m in EXTRA_MODULES[extra] if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (
        f"needs the '{extra}' extra ({', '.join(missing)} not installed): "
        f"pip install 'consola-heartbeat[{extra}]'"
    )


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: heartbeat <command> [options]", "", "commands:"]
    width = max(len(name) for name in SUBCOMMANDS)
    lines += [f"  {name:<{width}}  {text}" for name, (_, text, _) in SUBCOMMANDS.items()]
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
    module_name, _, extra = SUBCOMMANDS[command]
    problem = missing_extra(extra)
    if problem is not None:
        print(f"heartbeat {command}: {problem}", file=sys.stderr)
        return 2
    module = importlib.import_module(module_name)
    entry = getattr(module, f"main_{command.replace('-', '_')}", None) or module.main
    result: int = entry(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
