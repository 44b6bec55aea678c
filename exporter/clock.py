"""The time sources, injectable so tests can move time without sleeping.

The wall clock (:data:`Clock`) stamps everything stored and exported; the monotonic clock
(:data:`Monotonic`) only measures how much time passed, so the exporter can tell when the wall
clock stepped or when it did not run (:mod:`exporter.clock_watch`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: A clock returns the current Unix time in seconds.
Clock = Callable[[], float]
#: A monotonic clock returns seconds from an arbitrary origin; it never steps.
Monotonic = Callable[[], float]


def system_clock() -> float:
    """The real wall clock."""
    return time.time()


def system_monotonic() -> float:
    """The real monotonic clock (``CLOCK_MONOTONIC``: not stepped by NTP or ``date -s``)."""
    return time.monotonic()
