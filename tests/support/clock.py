"""A clock for tests: time moves only when the test says so."""

from __future__ import annotations

import threading


class ManualClock:
    """A clock that only moves when told to (thread-safe), for tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        """Jump to ``now``."""
        with self._lock:
            self._now = now
