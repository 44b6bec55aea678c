"""One log line per event, not one per failure: a run of the same failure is logged when it
starts, summarised once a minute while it lasts, and closed with one line when it recovers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: Seconds between two summary lines of a failure that goes on.
SUMMARY_INTERVAL_SECONDS = 60.0


class FailureLog:
    """The log of one kind of failure (a write batch, a sweep). Used from one thread or task."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval: float = SUMMARY_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what
        self._interval = interval
        self._clock = clock
        self._started: float | None = None
        self._summarised = 0.0
        self._since_summary = 0
        self._total = 0

    @property
    def failing(self) -> bool:
        """Whether a run of failures is going on."""
        return self._started is not None

    def failed(self, detail: object) -> None:
        """Record one failure: logged if it starts a run, else counted for the next summary."""
        now = self._clock()
        self._total += 1
        if self._started is None:
            self._started = self._summarised = now
            self._since_summary = 0
            self._log.warning("%s: %s", self._what, detail)
            return
        self._since_summary += 1
        if now - self._summarised >= self._interval:
            self._log.warning(
                "%s: %d more in the last %.0f s (latest: %s)",
                self._what, self._since_summary, now - self._summarised, detail,
            )  # fmt: skip
            self._summarised = now
            self._since_summary = 0

    def recovered(self) -> None:
        """Close a run of failures with one line (nothing when there was none)."""
        if self._started is None:
            return
        self._log.info(
            "%s: recovered after %d failure(s) in %.0f s",
            self._what, self._total, self._clock() - self._started,
        )  # fmt: skip
        self._started = None
        self._total = 0
