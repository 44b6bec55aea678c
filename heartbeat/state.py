"""The console's live state and its request counters, shared by the worker, sender and scrape.

Every method holds a lock only to copy or update a few fields: no I/O ever happens under it, so
a scrape, the sender thread and the worker's ``cambiar_estado()`` never wait on each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from consola_wire import EstadoConsola
from heartbeat.error_report import ErrorReport

ENDPOINTS: tuple[str, ...] = ("registrar", "heartbeat")
FAILURE_REASONS: tuple[str, ...] = ("connection", "timeout", "http_4xx", "http_5xx", "other")


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """A consistent copy of the console's state."""

    estado: str
    video_en_proceso: str | None
    ultimo_error: ErrorReport | None
    version: int
    changed_at: float
    videos_started: int
    videos_finished: int
    videos_failed: int
    current_video_start: float | None


class ConsoleState:
    """What the worker last reported, plus the video counters from ``procesando()``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._estado: str = EstadoConsola.ESPERANDO.value
        self._video: str | None = None
        self._error: ErrorReport | None = None
        self._version = 0
        self._changed_at = clock()
        self._started = 0
        self._finished = 0
        self._failed = 0
        self._video_start: float | None = None

    def set(self, estado: str, video: str | None, error: ErrorReport | None) -> tuple[str, int]:
        """Record a new state; returns the previous state and the new version."""
        with self._lock:
            previous = self._estado
            self._estado, self._video, self._error = estado, video, error
            self._version += 1
            self._changed_at = self._clock()
            return previous, self._version

    def video_started(self) -> None:
        """Count a video entering ``procesando()`` and note its start time."""
        with self._lock:
            self._started += 1
            self._video_start = self._clock()

    def video_ended(self, *, failed: bool) -> None:
        """Count a video leaving ``procesando()``."""
        with self._lock:
            if failed:
                self._failed += 1
            else:
                self._finished += 1
            self._video_start = None

    def snapshot(self) -> StateSnapshot:
        """A consistent copy."""
        with self._lock:
            return self._copy()

    def try_snapshot(self, timeout: float) -> StateSnapshot | None:
        """A consistent copy, or ``None`` if the lock stays taken for ``timeout`` seconds (the
        SIGTERM handler may have interrupted the main thread while it held it)."""
        if not self._lock.acquire(timeout=timeout):
            return None
        try:
            return self._copy()
        finally:
            self._lock.release()

    def _copy(self) -> StateSnapshot:
        return StateSnapshot(
            estado=self._estado,
            video_en_proceso=self._video,
            ultimo_error=self._error,
            version=self._version,
            changed_at=self._changed_at,
            videos_started=self._started,
            videos_finished=self._finished,
            videos_failed=self._failed,
            current_video_start=self._video_start,
        )

    @property
    def version(self) -> int:
        """Incremented by every :meth:`set`."""
        with self._lock:
            return self._version


@dataclass(frozen=True, slots=True)
class TelemetrySnapshot:
    """A consistent copy of the request counters."""

    requests: dict[str, int]
    failures: dict[tuple[str, str], int]
    last_success: float
    registered: bool
    consecutive_failures: int


class Telemetry:
    """Requests attempted and failed per endpoint and reason; the last acknowledged request."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._requests = dict.fromkeys(ENDPOINTS, 0)
        self._failures = {(e, r): 0 for e in ENDPOINTS for r in FAILURE_REASONS}
        self._last_success = 0.0
        self._registered = False
        self._streak = 0

    def attempted(self, endpoint: str) -> None:
        """Count a request about to be sent."""
        with self._lock:
            self._requests[endpoint] += 1

    def succeeded(self) -> int:
        """Note an acknowledged request; returns the failure streak it ended."""
        with self._lock:
            self._last_success = self._clock()
            streak, self._streak = self._streak, 0
            return streak

    def failed(self, endpoint: str, reason: str) -> int:
        """Count a failure; returns the length of the current failure streak."""
        with self._lock:
            self._failures[(endpoint, reason)] += 1
            self._streak += 1
            return self._streak

    def set_registered(self, registered: bool) -> None:
        """Whether the API currently knows this console."""
        with self._lock:
            self._registered = registered

    def snapshot(self) -> TelemetrySnapshot:
        """A consistent copy."""
        with self._lock:
            return TelemetrySnapshot(
                requests=dict(self._requests),
                failures=dict(self._failures),
                last_success=self._last_success,
                registered=self._registered,
                consecutive_failures=self._streak,
            )
