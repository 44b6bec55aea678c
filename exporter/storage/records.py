"""What the storage layer takes and gives: write operations, their results, the records the
API reads, and the rows of a fleet snapshot. Times are Unix seconds (floats)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from consola_wire import Heartbeat, MetricsEndpoint, Registration

#: History reasons (``consolas_historial.motivo``).
REASON_REGISTRATION = "registro"
REASON_HEARTBEAT = "heartbeat"
REASON_GOODBYE = "despedida"
REASON_SILENCE = "silencio"
REASON_MAINTENANCE = "mantenimiento"
REASON_MAINTENANCE_END = "fin_mantenimiento"


class StorageUnavailableError(RuntimeError):
    """The database could not be reached or failed; the request gets a 503."""


@dataclass(frozen=True, slots=True)
class RegisterOp:
    """Insert or refresh a console (idempotent)."""

    registration: Registration
    now: float
    default_inactive_after: float
    #: Hash of a newly issued console secret, stored only where none is (an enrolled console's
    #: secret is never replaced by a registration); None keeps the stored one.
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
    """Mark ``inactiva`` every console silent past its threshold, none before its threshold has
    passed since ``started_at`` (the grace period), none in maintenance; end the maintenances
    whose time is up (first, so a console still silent then is marked in the same sweep).

    ``stale_after``: set for a while after the wall clock stepped back. A ``last_seen`` later
    than it was stamped before the step; such a console counts as silent from the grace start
    rather than from that future time, so a console that died then is still marked in time.
    """

    now: float
    started_at: float
    stale_after: float | None = None
    #: Retire (delete) consoles ``inactiva`` since before this time; None: retire none.
    retire_before: float | None = None
    #: Only these consoles may change (a read found them, :meth:`Storage.sweep_candidates`);
    #: each condition is still checked under the write. None: every console.
    consoles: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PruneOp:
    """Delete history rows older than ``before``."""

    before: float


@dataclass(frozen=True, slots=True)
class MaintenanceOp:
    """Start (or move the end of) a console's maintenance until ``until``; ``until=None`` ends
    it. The history records the start and the end."""

    console_id: str
    now: float
    until: float | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ResetSecretOp:
    """Forget a console's secret (nothing else changes): the enrollment token may enroll it."""

    console_id: str


WriteOp = RegisterOp | HeartbeatOp | DeleteOp | SweepOp | PruneOp | MaintenanceOp | ResetSecretOp


@dataclass(frozen=True, slots=True)
class RegisterResult:
    """Outcome of a registration."""

    created: bool
    #: An enrollment (a new secret) reached an id that got a secret meanwhile: nothing stored.
    already_enrolled: bool = False


@dataclass(frozen=True, slots=True)
class FoundResult:
    """Outcome of a heartbeat or delete: whether the console existed."""

    found: bool


@dataclass(frozen=True, slots=True)
class SweepResult:
    """Consoles this sweep marked ``inactiva``, whose maintenance it ended, and retired."""

    marked: tuple[str, ...]
    maintenance_ended: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()


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
    maintenance_until: float | None = None
    maintenance_reason: str | None = None
    #: Where Prometheus scrapes it, as stored (the resolved address); None when unknown.
    metricas: MetricsEndpoint | None = None


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
    "maintenance_until",
)
FleetRow = tuple[
    str, str, str, float, float, float, float | None, bool, str | None, str, str, str, str,
    float | None,
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class FleetChanges:
    """One consistent fleet read (:meth:`Storage.fleet_changes`)."""

    #: ``updated_at`` of each console the read looked at, by id.
    versions: dict[str, float]
    #: The full rows of the consoles picked among them.
    rows: list[FleetRow]
    #: How many consoles there are.
    total: int


#: A console Prometheus may scrape: id, nombre, hostname, estado, address, port, path.
TargetRow = tuple[str, str, str, str, str, int, str]


#: Chooses, from ``{id: updated_at}``, the consoles whose full rows a fleet read returns.
FleetPick = Callable[[dict[str, float]], Collection[str]]
