"""``heartbeat demo``: the whole product running on loopback in a temporary folder.

Modules: :mod:`~consola_demo.run` (the command), :mod:`~consola_demo.processes` (child
processes: exporter, Prometheus, Alertmanager, the killable console), :mod:`~consola_demo.fleet`
(simulated consoles), :mod:`~consola_demo.monitoring` (Prometheus/Alertmanager configs with
shortened ``for:``), :mod:`~consola_demo.webhook` and :mod:`~consola_demo.view`.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``heartbeat demo [--consoles N] [--duration S] [--interval-seconds S]``."""
    from consola_demo.run import main as run_main

    return run_main(argv)


__all__ = ["main"]
