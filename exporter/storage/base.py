"""The storage interface: write operations applied in batches, and the reads the API needs.

Both backends (SQLite, PostgreSQL) implement :class:`Storage`. Writes arrive as small operation
objects (:mod:`exporter.storage.records`) and are applied by :meth:`Storage.write_batch` in one
transaction (group commit). Times are Unix seconds (floats) everywhere above this layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from exporter.storage.records import (
    ConsoleRecord,
    Credential,
    FleetChanges,
    FleetPick,
    FleetRow,
    HistoryEntry,
    StateStatistics,
    SweepOp,
    TargetRow,
    WriteOp,
    WriteResult,
)


class Storage(ABC):
    """What the exporter needs from a database. Implementations are thread-safe."""

    #: Short backend name for logs and docs: ``sqlite`` or ``postgresql``.
    backend: str

    @abstractmethod
    def write_batch(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Apply ``ops`` in one transaction and commit; results in the same order.

        Raises :class:`StorageUnavailableError` when nothing was committed.
        """

    def sweep_candidates(self, op: SweepOp) -> SweepOp | None:
        """``op`` narrowed to the consoles it may change, found by a read that does not take
        the writer; None when it has nothing to do. The default narrows nothing."""
        return op

    @abstractmethod
    def list_consoles(
        self, estado: str | None, limit: int, offset: int
    ) -> tuple[list[ConsoleRecord], int]:
        """A page of consoles ordered by id, and the total matching ``estado``."""

    @abstractmethod
    def get_console(self, console_id: str) -> ConsoleRecord | None:
        """One console, or None."""

    @abstractmethod
    def silent_since(self, cutoff: float) -> list[ConsoleRecord]:
        """Consoles not heard from since ``cutoff``, oldest first, except those whose
        ``inactiva`` came from their own goodbye (``stopped_cleanly``)."""

    @abstractmethod
    def statistics(self) -> list[StateStatistics]:
        """Count and latest activity per state (seed query)."""

    @abstractmethod
    def history(self, console_id: str, limit: int) -> list[HistoryEntry]:
        """The latest state changes of a console, newest first."""

    def fleet_snapshot(self) -> list[FleetRow]:
        """Every console as a :data:`FleetRow`, for the fleet ``/metrics``."""
        return self.fleet_changes(None, lambda versions: versions.keys()).rows

    @abstractmethod
    def fleet_changes(self, since: float | None, pick: FleetPick) -> FleetChanges:
        """In one consistent read: the ``updated_at`` of every console updated at ``since`` or
        later (of every console when None), the full rows of those ``pick`` chooses among them,
        and the number of consoles (exporter/fleet/snapshot.py). Relies on every write to a
        console setting ``updated_at`` to its operation's ``now``."""

    @abstractmethod
    def metrics_targets(self, estado: str | None) -> list[TargetRow]:
        """The consoles whose own /metrics is known, except those that stopped cleanly (only
        those in ``estado`` when given), for ``GET /api/prometheus/targets``; one query."""

    @abstractmethod
    def credential(self, console_id: str) -> Credential | None:
        """The stored credential of a console; None when the console is unknown."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StorageUnavailableError` unless the database answers."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection."""
