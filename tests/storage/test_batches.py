"""A batch of writes means exactly what the same writes mean one at a time (both backends).

Both backends apply a run of heartbeats as one statement (``group_heartbeats``); these tests pin
that to the per-operation meaning: results in order, unknown consoles reported as not found,
a console repeated within a batch seen in order, one history row per state change with its
reason, and the same final rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.storage import Storage
from exporter.storage.backend_support import group_heartbeats
from exporter.storage.records import DeleteOp, SweepOp, WriteOp
from tests.support.storage_ops import IDS, T0, beat, filled_storage, register, sistema

UNKNOWN = "ffffffff-0000-4000-8000-000000000000"


def scenario() -> list[WriteOp]:
    """Every case a batch of heartbeats has to get right, in one list."""
    t = T0 + 10
    return [
        beat(IDS[0], t, "ocupada", video="Video 1 (1/5)", sistema=sistema(0)),  # change
        beat(IDS[1], t, "esperando"),  # same state
        beat(UNKNOWN, t, "activa"),  # not registered
        beat(IDS[2], t, "error", error={"mensaje": "sin disco", "codigo": 28}),
        beat(IDS[0], t + 1, "ocupada", video="Video 2 (1/5)"),  # repeated: new video
        beat(IDS[3], t + 1, "inactiva"),  # goodbye
        register(4, t + 2, estado="activa"),  # a registration in the middle of a run
        beat(IDS[4], t + 2, "ocupada", video='Vídeo ñ "comillas" \\ (3/5)'),
        beat(IDS[0], t + 3, "esperando", interval=None),  # third in one batch, keeps interval
        beat(IDS[1], t + 3, "activa", sistema={"hostname": "renamed", "cpus": 4}),
        DeleteOp(IDS[5]),
        beat(IDS[5], t + 4, "activa"),  # deleted a moment ago: unknown
        SweepOp(t + 4, T0),
        beat(IDS[2], t + 5, "error", error="otra cosa"),  # same state, new error
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def batched(backend: str, tmp_path: Path) -> Iterator[Storage]:
    yield from filled_storage(
        backend, tmp_path / "batched", [register(i, T0) for i in range(len(IDS))]
    )


@pytest.fixture
def one_by_one(backend: str, tmp_path: Path) -> Iterator[Storage]:
    yield from filled_storage(
        backend, tmp_path / "one-by-one", [register(i, T0) for i in range(len(IDS))]
    )


def _state(storage: Storage) -> tuple[list[Any], dict[str, list[Any]]]:
    consoles, _ = storage.list_consoles(None, 100, 0)
    history = {c.id: storage.history(c.id, 100) for c in consoles}
    return consoles, history


def test_a_batch_equals_the_same_writes_one_at_a_time(
    batched: Storage, one_by_one: Storage
) -> None:
    ops = scenario()
    together = batched.write_batch(ops)
    alone = [one_by_one.write_batch([op])[0] for op in ops]
    assert together == alone
    assert _state(batched) == _state(one_by_one)


def test_results_name_unknown_and_deleted_consoles(batched: Storage) -> None:
    ops = scenario()
    results = batched.write_batch(ops)
    found = {i: getattr(r, "found", None) for i, r in enumerate(results)}
    assert found[2] is False  # never registered
    assert found[11] is False  # deleted earlier in the same batch
    assert all(found[i] is True for i in (0, 1, 3, 4, 5, 7, 8, 9, 13))


def test_history_follows_each_change_within_one_batch(batched: Storage) -> None:
    batched.write_batch(scenario())
    zero = [(h.estado_anterior, h.estado, h.motivo) for h in batched.history(IDS[0], 10)]
    assert zero == [
        ("ocupada", "esperando", "heartbeat"),
        ("esperando", "ocupada", "heartbeat"),
        (None, "esperando", "registro"),
    ]
    three = batched.history(IDS[3], 10)[0]
    assert (three.estado_anterior, three.estado, three.motivo) == (
        "esperando",
        "inactiva",
        "despedida",
    )
    record = batched.get_console(IDS[0])
    assert record is not None
    assert record.video_en_proceso is None and record.intervalo_segundos == 60.0
    assert record.sistema == sistema(0)  # a heartbeat without sistema keeps the stored one
    two = batched.get_console(IDS[2])
    assert two is not None and two.ultimo_error == "otra cosa"
    assert two.state_since == T0 + 10  # the same state again does not restart it


def test_group_heartbeats_keeps_order_and_splits_repeats() -> None:
    ops = scenario()
    groups = list(group_heartbeats(ops))
    flat: list[WriteOp] = []
    for group in groups:
        if isinstance(group, list):
            assert len({op.console_id for op in group}) == len(group)
            flat.extend(group)
        else:
            flat.append(group)
    assert flat == ops
    sizes = [len(g) if isinstance(g, list) else 0 for g in groups]
    assert sizes == [4, 2, 0, 3, 0, 1, 0, 1]


def _estado_previo(storage: Storage, console_id: str) -> str | None:
    """The ``estado_previo`` column (not part of the API): the state each write replaced."""
    sql = "SELECT estado_previo FROM consolas WHERE id = "
    if storage.backend == "sqlite":
        rows = storage._read(sql + "?", [console_id])  # type: ignore[attr-defined]
    else:
        rows = storage._read(sql + "%s::uuid", [console_id])  # type: ignore[attr-defined]
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def test_each_console_is_written_once_per_heartbeat(batched: Storage) -> None:
    """A console changing state is updated by one statement, not again by the next one."""
    batched.write_batch([beat(IDS[0], T0 + 1, "ocupada"), beat(IDS[1], T0 + 1, "esperando")])
    assert _estado_previo(batched, IDS[0]) == "esperando"
    assert _estado_previo(batched, IDS[1]) == "esperando"
    batched.write_batch([beat(IDS[0], T0 + 2, "error"), beat(IDS[1], T0 + 2, "activa")])
    assert _estado_previo(batched, IDS[0]) == "ocupada"
    assert _estado_previo(batched, IDS[1]) == "esperando"
