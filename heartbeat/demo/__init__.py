"""``heartbeat demo``: the whole product running on loopback in a temporary folder.

Modules: :mod:`~heartbeat.demo.run` (the command), :mod:`~heartbeat.demo.processes` (child
processes: exporter, Prometheus, Alertmanager, the killable console), :mod:`~heartbeat.demo.fleet`
(simulated consoles), :mod:`~heartbeat.demo.monitoring` (Prometheus/Alertmanager configs with
shortened ``for:``), :mod:`~heartbeat.demo.webhook` and :mod:`~heartbeat.demo.view`.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``heartbeat demo [--consoles N] [--duration S] [--interval-seconds S]``."""
    from heartbeat.demo.run import main as run_main

    return run_main(argv)


__all__ = ["main"]
