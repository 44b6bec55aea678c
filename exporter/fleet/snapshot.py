"""The fleet as the exporter last read it, kept current by reading only what changed.

Reading every console at each scrape cost ~170 ms at 100,000 consoles (bench/). Every write to
``consolas`` (registration, heartbeat, the sweeper marking ``inactiva``) sets ``updated_at`` to
the writer's ``now``, so a scrape reads, in one consistent read, ``(id, updated_at)`` of the
consoles written since its previous read minus a margin, then the full rows of those whose
``updated_at`` differs from the one it holds, and the row count. ``updated_at`` has no index on
purpose (schema v3): the read scans the table, but only two narrow columns of the recent rows and
the changed rows become Python objects.

Why a margin: a write's ``now`` is taken when its request arrives and is committed a little later
(the group commit, bounded by ``--request-timeout`` for every acknowledged write), and several
exporters sharing a database have slightly different clocks. A whole read (``updated_at`` of
every console; full rows still only where it changed) happens on the first refresh (the
exporter's start-up read, :meth:`exporter.service.ExporterService._warm_fleet`), after a
failed read, when the clock went back, when the row count disagrees with the snapshot (a console
was deleted), and every :data:`WHOLE_READ_SECONDS` regardless: a write committed later than the
margin (e.g. after a database stall) shows up then at the latest.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from consola_wire import ALL_STATES
from exporter.clock import Clock
from exporter.storage.base import Storage
from exporter.storage.records import FleetChanges, FleetRow

#: Added to the request timeout to make the re-read margin (clock differences between exporters).
CLOCK_SKEW_SECONDS = 5.0
#: A whole read at least this often (monotonic seconds).
WHOLE_READ_SECONDS = 60.0
#: Rows written this close to (or after) the previous read's start are read again even when their
#: ``updated_at`` is one already held: with a coarse or frozen clock two writes can share one.
SETTLE_SECONDS = 0.001


@dataclass(frozen=True, slots=True)
class FleetDelta:
    """What a refresh changed: ``(previous row or None, new row)`` for each console new or
    different, the ids gone, and whether it looked at the whole fleet."""

    changed: list[tuple[FleetRow | None, FleetRow]]
    removed: list[str]
    whole: bool


class FleetSnapshot:
    """Every console's last read row, its ``updated_at`` and the count per state.

    Not thread-safe: one owner calls :meth:`refresh` at a time.
    """

    def __init__(
        self,
        clock: Clock,
        margin: float,
        whole_every: float = WHOLE_READ_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._margin = margin
        self._whole_every = whole_every
        self._monotonic = monotonic
        self._whole_at = 0.0
        self._failed = False
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next refresh reads the whole fleet."""
        self.rows: dict[str, FleetRow] = {}
        self.versions: dict[str, float] = {}
        self.counts: Counter[str] = Counter(dict.fromkeys(ALL_STATES, 0))
        self._read_at: float | None = None  # clock time taken just before the last good read

    def refresh(self, storage: Storage) -> FleetDelta:
        """Read what changed since the last refresh and apply it. When the storage raises, the
        snapshot stays as it was and the next refresh reads the whole fleet."""
        now, mono = self._clock(), self._monotonic()
        previous = self._read_at
        if previous is None or now < previous:  # first read, or the clock went back
            fresh_start, settled = True, -math.inf  # every row read in full
        else:
            fresh_start, settled = False, previous - SETTLE_SECONDS
        pick = partial(self._pick, settled)
        whole = fresh_start or self._failed or mono - self._whole_at >= self._whole_every
        self._failed = True  # until this refresh succeeds
        delta = None
        if not whole and previous is not None:
            delta = self._partial(storage.fleet_changes(previous - self._margin, pick))
        if delta is None:  # a whole read is due, or the row count disagreed
            read = storage.fleet_changes(None, pick)
            delta = self._apply(read, list(self.rows.keys() - read.versions.keys()), whole=True)
            self._whole_at = mono
        self._failed = False
        self._read_at = now
        return delta

    def _pick(self, settled: float, versions: dict[str, float]) -> list[str]:
        """The consoles to read in full: new, with another ``updated_at``, or written since
        ``settled``."""
        held = self.versions.get
        return [cid for cid, at in versions.items() if held(cid) != at or at >= settled]

    def _partial(self, read: FleetChanges) -> FleetDelta | None:
        """Apply a read of the recent consoles; None (nothing applied) when, with them, the
        snapshot would not hold as many consoles as the database (one was deleted)."""
        added = sum(1 for row in read.rows if row[0] not in self.rows)
        if len(self.rows) + added != read.total:
            return None
        return self._apply(read, [], whole=False)

    def _apply(self, read: FleetChanges, removed: list[str], whole: bool) -> FleetDelta:
        rows, counts, versions = self.rows, self.counts, self.versions
        changed = [(rows.get(row[0]), row) for row in read.rows]
        changed = [pair for pair in changed if pair[0] != pair[1]]
        for cid in removed:
            counts[rows.pop(cid)[2]] -= 1
            versions.pop(cid, None)
        for old, row in changed:
            if old is not None:
                counts[old[2]] -= 1
            counts[row[2]] += 1
            rows[row[0]] = row
        versions.update(read.versions)
        return FleetDelta(changed, removed, whole)


__all__ = [
    "CLOCK_SKEW_SECONDS",
    "SETTLE_SECONDS",
    "WHOLE_READ_SECONDS",
    "FleetDelta",
    "FleetSnapshot",
]
