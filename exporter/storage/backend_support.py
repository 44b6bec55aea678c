"""Logic both backends share: choosing the rows of a fleet read, grouping heartbeats into one
statement, the values a heartbeat writes, and the identity read from ``sistema``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from consola_wire import STATE_INACTIVA, MetricsEndpoint
from exporter.storage.records import ConsoleRecord, FleetPick, FleetRow, HeartbeatOp, WriteOp

#: The consoles ``GET /api/prometheus/targets`` lists (:data:`~records.TargetRow` columns):
#: those whose /metrics is known, except those whose ``inactiva`` is their own goodbye. ``{id}``
#: is the id column as text, ``{estado}`` an optional ``AND estado = <placeholder>``.
TARGETS_SQL = (
    "SELECT {id}, nombre, hostname, estado, metrics_address, metrics_port, metrics_path"
    " FROM consolas WHERE metrics_port IS NOT NULL AND metrics_address IS NOT NULL"
    " AND NOT stopped_cleanly{estado}"
)


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
        **endpoint_values(hb.metricas),
    }


def endpoint_values(endpoint: MetricsEndpoint | None) -> dict[str, Any]:
    """The endpoint columns' statement parameters ``mport``, ``mpath``, ``maddr`` (None when the
    body had no ``metricas``: a heartbeat then keeps the known endpoint, a registration clears
    it, since a registration describes the console afresh)."""
    if endpoint is None:
        return {"mport": None, "mpath": None, "maddr": None}
    return {"mport": endpoint.puerto, "mpath": endpoint.ruta, "maddr": endpoint.direccion}


def console_record(row: Sequence[Any], loads: Callable[[Any], Any]) -> ConsoleRecord:
    """A :class:`ConsoleRecord` from a row of a backend's console columns; ``loads`` decodes
    its two JSON columns."""
    return ConsoleRecord(
        id=row[0],
        nombre=row[1],
        estado=row[2],
        sistema=loads(row[3]),
        ultima_actividad=row[4],
        ultimo_error=loads(row[5]),
        video_en_proceso=row[6],
        created_at=row[7],
        updated_at=row[8],
        last_seen=row[9],
        intervalo_segundos=row[10],
        inactive_after_seconds=row[11],
        state_since=row[12],
        stopped_cleanly=bool(row[13]),
        maintenance_until=row[14],
        maintenance_reason=row[15],
        metricas=stored_endpoint(row[16], row[17], row[18]),
    )


def stored_endpoint(
    port: int | None, path: str | None, address: str | None
) -> MetricsEndpoint | None:
    """The endpoint columns as a :class:`MetricsEndpoint`; None unless all three are known (the
    targets read lists only those)."""
    if port is None or path is None or address is None:
        return None
    return MetricsEndpoint(puerto=port, ruta=path, direccion=address)


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
