"""The time source: Unix seconds, injectable so tests can move time without sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

#: A clock returns the current Unix time in seconds.
Clock = Callable[[], float]


def system_clock() -> float:
    """The real wall clock."""
    return time.time()
