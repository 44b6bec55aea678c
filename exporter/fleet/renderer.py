"""The fleet ``/metrics``: at each scrape, the consoles changed since the previous one are read
(:mod:`exporter.fleet.snapshot`) and re-rendered into the texts kept between scrapes.

Names follow docs/contracts.md "Fleet /metrics". The per-console families (about twelve samples
per console, so over a million at 100,000 consoles) are written by the hand renderer in
:mod:`exporter.fleet.console_families`, checked against
:mod:`exporter.fleet.reference_collector`; the small families come from
:mod:`exporter.fleet.summary` (``prometheus_client``).
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass

from prometheus_client import generate_latest

from exporter.clock import Clock, system_clock
from exporter.config import DEFAULT_REQUEST_TIMEOUT_SECONDS
from exporter.fleet.console_families import ConsoleFamiliesRenderer, Piece
from exporter.fleet.gzip_pieces import GzipPieces
from exporter.fleet.names import CONTENT_TYPE
from exporter.fleet.snapshot import CLOCK_SKEW_SECONDS, FleetDelta, FleetSnapshot
from exporter.fleet.summary import state_counts, summary_registry
from exporter.process_metrics import ProcessMetrics
from exporter.storage.base import Storage
from exporter.storage.records import FleetRow, StorageUnavailableError


@dataclass(frozen=True, slots=True)
class FleetView:
    """One consistent state of the fleet for one scrape: the per-console family texts (keyed,
    see :class:`exporter.fleet.gzip_pieces.GzipPieces`) and the consoles per state."""

    pieces: tuple[Piece, ...]
    counts: dict[str, int]


class FleetRenderer:
    """The whole fleet ``/metrics`` of one exporter, kept between scrapes.

    :meth:`refresh` reads what changed in the database (:class:`FleetSnapshot`), re-renders
    those consoles (:class:`ConsoleFamiliesRenderer`) and returns an immutable
    :class:`FleetView`; :meth:`render_view` adds this process's own families and compresses.
    Refreshes are serialised by a lock; views and the gzip cache are safe to share.
    """

    def __init__(
        self,
        video_info: bool = True,
        clock: Clock = system_clock,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        margin: float | None = None,
    ) -> None:
        """``request_timeout`` bounds the wait for another scrape's refresh and, with
        :data:`CLOCK_SKEW_SECONDS`, makes the re-read margin unless ``margin`` is given."""
        self.video_info = video_info
        self._clock = clock
        if margin is None:
            margin = request_timeout + CLOCK_SKEW_SECONDS
        self._snapshot = FleetSnapshot(clock, margin)
        self._consoles = ConsoleFamiliesRenderer(video_info)
        self._lock = threading.Lock()
        self._lock_timeout = request_timeout
        self._gzip = GzipPieces(level=1)

    def refresh(self, storage: Storage) -> FleetView:
        """Bring the fleet up to date with ``storage``; StorageUnavailableError when it fails."""
        if not self._lock.acquire(timeout=self._lock_timeout):
            raise StorageUnavailableError("an earlier scrape is still reading the database")
        try:
            return self.update(self.read(storage))
        finally:
            self._lock.release()

    def read(self, storage: Storage) -> FleetDelta:
        """The database part of :meth:`refresh` (call under its lock, or from one thread)."""
        return self._snapshot.refresh(storage)

    def update(self, delta: FleetDelta) -> FleetView:
        """The rendering part of :meth:`refresh`: apply ``delta`` to the per-console texts."""
        try:
            self._consoles.update(delta.changed, delta.removed)
            pieces = self._consoles.pieces()
        except BaseException:  # start over rather than keep texts that disagree with the rows
            self._snapshot.reset()
            self._consoles = ConsoleFamiliesRenderer(self.video_info)
            raise
        return FleetView(tuple(pieces), dict(self._snapshot.counts))

    def render_view(
        self, view: FleetView | None, metrics: ProcessMetrics, accept_gzip: bool
    ) -> tuple[list[bytes], dict[str, str]]:
        """The exposition as pieces to send in order (one when gzipped), and its headers.

        ``view`` is None when the database could not be read.
        """
        counts = view.counts if view else None
        summary = generate_latest(summary_registry(counts, metrics, now=self._clock()))
        pieces: list[Piece | tuple[None, bytes]] = [*(view.pieces if view else ()), (None, summary)]
        headers = {"Content-Type": CONTENT_TYPE}
        if accept_gzip:
            headers["Content-Encoding"] = "gzip"
            return [self._gzip.compress(pieces)], headers
        return [data for _, data in pieces], headers

    def render(
        self, rows: list[FleetRow] | None, metrics: ProcessMetrics, accept_gzip: bool
    ) -> tuple[bytes, dict[str, str]]:
        """The exposition for exactly ``rows`` (no database read): the from-scratch reference.

        Does not touch the state :meth:`refresh` keeps.
        """
        view = None
        if rows is not None:
            pieces = ConsoleFamiliesRenderer(self.video_info).render_pieces(rows)
            view = FleetView(tuple(pieces), state_counts(rows))
        body, headers = self.render_view(view, metrics, accept_gzip=False)
        data = b"".join(body)
        if accept_gzip:
            headers["Content-Encoding"] = "gzip"
            data = gzip.compress(data, compresslevel=1)
        return data, headers
