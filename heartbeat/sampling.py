"""A psutil reading cached for a while: the heartbeat and the scrape share one per period."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

Snapshot = TypeVar("Snapshot")


class CachedSampler(ABC, Generic[Snapshot]):
    """Thread-safe cache of :meth:`_read`, refreshed at most every ``max_age`` seconds."""

    def __init__(self, max_age: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken = 0.0

    def get(self) -> Snapshot:
        """The cached snapshot, refreshed first when older than ``max_age``."""
        with self._lock:
            now = self._clock()
            if self._snapshot is None or now - self._taken >= self._max_age:
                self._snapshot = self._read()
                self._taken = now
            return self._snapshot

    @abstractmethod
    def _read(self) -> Snapshot:
        """Take a fresh reading (called with the lock held)."""
