"""The time sources, injectable so tests can move time without sleeping, and the watch that
notices when the wall clock steps or the exporter did not run.

The wall clock (:data:`Clock`) stamps everything stored and exported; the monotonic clock
(:data:`Monotonic`) only measures how much time passed, so :class:`ClockWatch` can tell when the
wall clock stepped or when the exporter stalled.

Silence is judged on the wall clock: a console's ``last_seen`` against now. Two things make that
judgement wrong for every console at once, through no fault of theirs:

- a **step** of the wall clock (NTP after a drift, ``date -s``, a VM restored from a snapshot):
  the times already stored and the new now disagree by the step;
- a **stall**: the exporter did not run (SIGSTOP, a paused container or VM, a starved host) while
  the consoles kept trying; when it resumes, their last beats look as old as the stall.

:class:`ClockWatch` compares how far the wall clock and the monotonic clock moved between two
looks. The service looks every :attr:`ClockWatch.tick` seconds and before each sweep, and gives
every console a new grace period when it sees either anomaly.

Thresholds. An anomaly of S seconds can only mislead about a console that reports more often
than every S seconds: its threshold is 2 x its interval and its last beat was at most one
interval old when the anomaly began. 3 s therefore covers every real console (the seed's
interval is 5 minutes; the fastest we document is a few seconds) and is still far above what a
healthy process shows: looks are at most one tick apart (1 s, or the sweep interval when
shorter), a busy event loop adds milliseconds and a garbage collection tens of them, and NTP
slewing moves the wall clock by at most 0.5 ms/s. Database waits do not count: the ticker keeps
looking while a sweep awaits the database (an outage has its own grace period).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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


#: Wall-clock and monotonic progress between two looks differing by more: a step.
STEP_SECONDS = 3.0
#: Two looks further apart than the planned tick by more: a stall.
STALL_SECONDS = 3.0
#: Longest planned time between two looks (shorter when the sweep interval is).
TICK_SECONDS = 1.0
#: The ``kind`` label values of ``heartbeat_fleet_clock_anomalies_total``.
KINDS = ("step", "stall")
#: A reading whose two monotonic reads are further apart is taken again (the process was
#: preempted or stopped between them, and the reading would show a step that did not happen).
_READ_SLACK_SECONDS = 0.1
_READ_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ClockAnomaly:
    """What one look saw: ``step`` (``seconds`` is the signed jump of the wall clock) or
    ``stall`` (``seconds`` is the time between the two looks)."""

    kind: str
    seconds: float

    def describe(self) -> str:
        """Why, in words, for the log line."""
        if self.kind == "stall":
            return f"the exporter did not run for {self.seconds:.1f} s (frozen or suspended)"
        suspended = " (or the host was suspended)" if self.seconds > 0 else ""
        return f"wall clock stepped {self.seconds:+.1f} s{suspended}"


class ClockWatch:
    """Looks at the wall and monotonic clocks and reports what changed since the last look.

    Without a monotonic clock (a test's injected wall clock that moves by jumps) it never
    reports anything.
    """

    def __init__(
        self,
        clock: Clock,
        monotonic: Monotonic | None,
        tick: float = TICK_SECONDS,
        step_after: float = STEP_SECONDS,
        stall_after: float = STALL_SECONDS,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self.tick = tick
        self.step_after = step_after
        self.stall_after = stall_after
        self._last: tuple[float, float] | None = None

    @property
    def enabled(self) -> bool:
        """True when there is a monotonic clock to compare with."""
        return self._monotonic is not None

    def reset(self) -> None:
        """Start measuring from now (the exporter starts)."""
        if self._monotonic is not None:
            self._last = self._read(self._monotonic)

    def look(self) -> tuple[float, ClockAnomaly | None]:
        """The wall time now, and the anomaly since the previous look (None when all is well)."""
        if self._monotonic is None:
            return self._clock(), None
        wall, mono = self._read(self._monotonic)
        last, self._last = self._last, (wall, mono)
        if last is None:
            return wall, None
        elapsed = mono - last[1]
        jump = (wall - last[0]) - elapsed
        if abs(jump) > self.step_after:
            return wall, ClockAnomaly("step", jump)
        if elapsed - self.tick > self.stall_after:
            return wall, ClockAnomaly("stall", elapsed)
        return wall, None

    def _read(self, monotonic: Monotonic) -> tuple[float, float]:
        for _ in range(_READ_ATTEMPTS):
            before = monotonic()
            wall = self._clock()
            if monotonic() - before <= _READ_SLACK_SECONDS:
                break
        return wall, before
