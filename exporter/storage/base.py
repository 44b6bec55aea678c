"""The storage interface: write operations applied in batches, and the reads the API needs.

Both backends (SQLite, PostgreSQL) implement :class:`Storage`. Writes arrive as small operation
objects and are applied by :meth:`Storage.write_batch` in one transaction (group commit). Times are
Unix seconds (floats) everywhere above this layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from consola_wire import STATE_INACTIVA, Heartbeat, Registration

#: History reasons (``consolas_historial.motivo``).
REASON_REGISTRATION = "registro"
REASON_HEARTBEAT = "heartbeat"
REASON_GOODBYE = "despedida"
REASON_SILENCE = "silencio"

SCHEMA_VERSION = 3


def migration_steps(current: int, migrations: dict[int, str]) -> Iterator[tuple[int, list[str]]]:
    """The ``(version, statements)`` still to apply to a schema at version ``current``, in order.

    RuntimeError when the database is newer than this exporter.
    """
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this exporter ({SCHEMA_VERSION})"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        yield version, [sql for sql in migrations[version].split(";") if sql.strip()]


class StorageUnavailableError(RuntimeError):
    """The database could not be reached or failed; the request gets a 503."""


@dataclass(frozen=True, slots=True)
class RegisterOp:
    """Insert or refresh a console (idempotent)."""

    registration: Registration
    now: float
    default_inactive_after: float
    #: Hash of a newly issued console secret; None keeps the stored one (see exporter.auth).
    secret_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class HeartbeatOp:
    """Update a known console; the result says whether it existed."""

    console_id: str
    heartbeat: Heartbeat
    now: float
    default_inactive_after: float


@dataclass(frozen=True, slots=True)
class DeleteOp:
    """Retire a console and its history."""

    console_id: str


@dataclass(frozen=True, slots=True)
class SweepOp:
    """Mark ``inactiva`` every console silent past its threshold (respecting the start grace)."""

    now: float
    started_at: float


@dataclass(frozen=True, slots=True)
class PruneOp:
    """Delete history rows older than ``before``."""

    before: float


WriteOp = RegisterOp | HeartbeatOp | DeleteOp | SweepOp | PruneOp


@dataclass(frozen=True, slots=True)
class RegisterResult:
    """Outcome of a registration."""

    created: bool


@dataclass(frozen=True, slots=True)
class FoundResult:
    """Outcome of a heartbeat or delete: whether the console existed."""

    found: bool


@dataclass(frozen=True, slots=True)
class SweepResult:
    """Consoles this sweep marked ``inactiva``."""

    marked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PruneResult:
    """History rows deleted."""

    deleted: int


WriteResult = RegisterResult | FoundResult | SweepResult | PruneResult


@dataclass(frozen=True, slots=True)
class ConsoleRecord:
    """One row of ``consolas`` as the API shows it."""

    id: str
    nombre: str
    estado: str
    sistema: dict[str, Any] | None
    ultima_actividad: float | None
    ultimo_error: Any
    video_en_proceso: str | None
    created_at: float
    updated_at: float
    last_seen: float
    intervalo_segundos: float | None
    inactive_after_seconds: float
    state_since: float
    stopped_cleanly: bool


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One state change of a console."""

    at: float
    estado_anterior: str | None
    estado: str
    motivo: str


@dataclass(frozen=True, slots=True)
class StateStatistics:
    """The seed's statistics query, one row per state present."""

    estado: str
    total: int
    ultima_actividad_max: float | None
    last_seen_max: float | None


@dataclass(frozen=True, slots=True)
class Credential:
    """What authenticates a known console's heartbeats: its secret's hash (None = none issued)."""

    secret_hash: str | None


#: Columns of a fleet snapshot row, in order (tuples keep a 100k-console scrape cheap).
FLEET_COLUMNS = (
    "id",
    "nombre",
    "estado",
    "last_seen",
    "inactive_after_seconds",
    "state_since",
    "ultima_actividad",
    "stopped_cleanly",
    "video_en_proceso",
    "hostname",
    "platform",
    "arch",
    "runtime_version",
)
FleetRow = tuple[
    str, str, str, float, float, float, float | None, bool, str | None, str, str, str, str
]


@dataclass(frozen=True, slots=True)
class FleetChanges:
    """One consistent fleet read (:meth:`Storage.fleet_changes`)."""

    #: ``updated_at`` of each console the read looked at, by id.
    versions: dict[str, float]
    #: The full rows of the consoles picked among them.
    rows: list[FleetRow]
    #: How many consoles there are.
    total: int


#: Chooses, from ``{id: updated_at}``, the consoles whose full rows a fleet read returns.
FleetPick = Callable[[dict[str, float]], Collection[str]]


def picked_rows(
    versions: dict[str, float],
    pick: FleetPick,
    by_ids: Callable[[Collection[str]], list[FleetRow]],
    scan: Callable[[], list[FleetRow]],
) -> list[FleetRow]:
    """The full rows ``pick`` chooses among ``versions`` (for :meth:`Storage.fleet_changes`):
    looked up by id when they are few, else kept from a scan of the rows ``versions`` came from."""
    wanted = pick(versions)
    if 2 * len(wanted) < len(versions):
        return by_ids(wanted)
    if not wanted:
        return []
    rows = scan()
    if len(wanted) < len(rows):
        keep = set(wanted)
        rows = [row for row in rows if row[0] in keep]
    return rows


def group_heartbeats(ops: Sequence[WriteOp]) -> Iterator[WriteOp | list[HeartbeatOp]]:
    """``ops`` in order, with consecutive heartbeats of distinct consoles gathered in lists.

    A backend applies each list in one statement (the rows of one statement must be distinct);
    a console repeated within a run starts the next list, so later writes still win.
    """
    run: list[HeartbeatOp] = []
    seen: set[str] = set()
    for op in ops:
        if isinstance(op, HeartbeatOp) and op.console_id not in seen:
            run.append(op)
            seen.add(op.console_id)
            continue
        if run:
            yield run
            run, seen = [], set()
        if isinstance(op, HeartbeatOp):
            run.append(op)
            seen.add(op.console_id)
        else:
            yield op
    if run:
        yield run


def heartbeat_values(op: HeartbeatOp) -> dict[str, Any]:
    """What a heartbeat writes, by statement parameter name. ``sistema`` and ``error`` are the
    decoded JSON, ``actividad`` a datetime or None, ``now`` Unix seconds: each backend encodes
    those four its own way."""
    hb = op.heartbeat
    identity: tuple[str | None, ...] = (None, None, None, None)
    if hb.sistema is not None:
        identity = sistema_identity(hb.sistema)
    return {
        "id": op.console_id,
        "estado": hb.estado,
        "sistema": hb.sistema,
        "actividad": hb.ultima_actividad,
        "error": hb.ultimo_error,
        "video": hb.video_en_proceso,
        "now": op.now,
        "intervalo": hb.interval_seconds,
        "dflt": op.default_inactive_after,
        "stopped": hb.estado == STATE_INACTIVA,
        "hostname": identity[0],
        "platform": identity[1],
        "arch": identity[2],
        "version": identity[3],
    }


def threshold_for(interval: float | None, default_inactive_after: float) -> float:
    """Silence threshold: twice the console's own interval when known, else the default."""
    return 2.0 * interval if interval is not None else default_inactive_after


def sistema_identity(sistema: dict[str, Any] | None) -> tuple[str, str, str, str]:
    """``(hostname, platform, arch, runtime version)`` from ``sistema`` ('' when missing)."""
    if not sistema:
        return ("", "", "", "")

    def text(key: str) -> str:
        value = sistema.get(key)
        return value if isinstance(value, str) else ""

    version = text("pythonVersion") or text("nodeVersion")
    return (text("hostname"), text("platform"), text("arch"), version)


class Storage(ABC):
    """What the exporter needs from a database. Implementations are thread-safe."""

    #: Short backend name for logs and docs: ``sqlite`` or ``postgresql``.
    backend: str

    @abstractmethod
    def write_batch(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Apply ``ops`` in one transaction and commit; results in the same order.

        Raises :class:`StorageUnavailableError` when nothing was committed.
        """

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
        """Consoles not heard from since ``cutoff`` whose state is not ``inactiva`` (seed query)."""

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
        and the number of consoles (exporter/fleet_snapshot.py). Relies on every write to a
        console setting ``updated_at`` to its operation's ``now``."""

    @abstractmethod
    def credential(self, console_id: str) -> Credential | None:
        """The stored credential of a console; None when the console is unknown."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StorageUnavailableError` unless the database answers."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection."""
