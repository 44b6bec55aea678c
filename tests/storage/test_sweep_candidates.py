"""The sweep reads what it may change before it takes the writer (both backends).

``Storage.sweep_candidates`` finds, on a reader, the consoles a sweep may change; the sweep then
writes only those, checking each condition again under the write. These tests pin that the
narrowed sweep means exactly what the whole-table sweep means, that a console heard from between
the read and the write is not marked, and that a sweep with nothing to do never takes the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.storage import Storage
from exporter.storage.records import MaintenanceOp, SweepOp, SweepResult
from exporter.writing.thread_writer import GroupCommitWriter
from tests.support.storage_ops import IDS, T0, beat, filled_storage, register

#: At T0 + 600 with a 120 s threshold (60 s interval) and the grace long over: 0 and 5 were
#: heard from lately, 1 is silent, 2 is silent and its maintenance is over, 3 is in maintenance,
#: 4 said goodbye at T0 + 10 and is retired (inactiva since before T0 + 100).
SWEEP = SweepOp(T0 + 600, started_at=T0 - 1_000, retire_before=T0 + 100)


def fleet() -> list[Any]:
    return [
        *(register(i, T0) for i in range(len(IDS))),
        beat(IDS[4], T0 + 10, "inactiva"),
        MaintenanceOp(IDS[2], T0 + 20, until=T0 + 300, reason="disco"),
        MaintenanceOp(IDS[3], T0 + 20, until=T0 + 10_000, reason="red"),
        beat(IDS[0], T0 + 500, "ocupada", video="Video 1 (1/5)"),
        beat(IDS[5], T0 + 550, "esperando"),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def narrowed(backend: str, tmp_path: Path) -> Iterator[Storage]:
    yield from filled_storage(backend, tmp_path / "narrowed", fleet())


@pytest.fixture
def whole(backend: str, tmp_path: Path) -> Iterator[Storage]:
    yield from filled_storage(backend, tmp_path / "whole", fleet())


def _sorted(result: Any) -> tuple[tuple[str, ...], ...]:
    assert isinstance(result, SweepResult)
    return tuple(tuple(sorted(ids)) for ids in (result.marked, result.maintenance_ended,
                                                  result.retired))  # fmt: skip


def _state(storage: Storage) -> tuple[list[Any], dict[str, list[Any]]]:
    consoles, _ = storage.list_consoles(None, 100, 0)
    return consoles, {c.id: storage.history(c.id, 100) for c in consoles}


def test_the_read_finds_exactly_the_consoles_the_sweep_changes(narrowed: Storage) -> None:
    op = narrowed.sweep_candidates(SWEEP)
    assert op is not None and op.consoles is not None
    assert sorted(op.consoles) == [IDS[1], IDS[2], IDS[4]]


def test_a_narrowed_sweep_equals_the_whole_table_sweep(narrowed: Storage, whole: Storage) -> None:
    op = narrowed.sweep_candidates(SWEEP)
    assert op is not None
    assert _sorted(narrowed.write_batch([op])[0]) == _sorted(whole.write_batch([SWEEP])[0])
    assert _state(narrowed) == _state(whole)


def test_what_the_sweep_changes_is_still_what_the_whole_table_sweep_would(
    whole: Storage,
) -> None:
    assert _sorted(whole.write_batch([SWEEP])[0]) == ((IDS[1], IDS[2]), (IDS[2],), (IDS[4],))


def test_a_console_heard_from_after_the_read_is_not_marked(narrowed: Storage) -> None:
    op = narrowed.sweep_candidates(SWEEP)
    assert op is not None and op.consoles is not None and IDS[1] in op.consoles
    narrowed.write_batch([beat(IDS[1], T0 + 599, "activa")])
    result = narrowed.write_batch([op])[0]
    assert _sorted(result)[0] == (IDS[2],)
    one = narrowed.get_console(IDS[1])
    assert one is not None and one.estado == "activa"


def test_nothing_to_do_is_found_within_the_grace_or_before_any_threshold(
    narrowed: Storage,
) -> None:
    assert narrowed.sweep_candidates(SweepOp(T0 + 200, started_at=T0 + 150)) is None
    assert narrowed.sweep_candidates(SweepOp(T0 + 100, started_at=T0 - 1_000)) is None


def test_a_sweep_with_nothing_to_do_never_takes_the_writer(narrowed: Storage) -> None:
    writer = GroupCommitWriter(narrowed)
    writer.start()
    try:
        idle = asyncio.run(writer.submit(SweepOp(T0 + 100, started_at=T0 - 1_000), 10.0))
        assert idle == SweepResult(marked=())
        assert writer.batches == 0
        busy = asyncio.run(writer.submit(SWEEP, 10.0))
        assert _sorted(busy) == ((IDS[1], IDS[2]), (IDS[2],), (IDS[4],))
        assert writer.batches == 1
    finally:
        writer.stop_blocking()


def test_a_sweep_written_after_the_clock_stepped_back_marks_no_console_heard_from_since(
    narrowed: Storage,
) -> None:
    # The sweep took its time (T0 + 600) and then the wall clock stepped back an hour; console 1
    # reported at the stepped-back time before the sweep was written: it must not be marked.
    stepped_back = T0 + 600 - 3_600
    narrowed.write_batch([beat(IDS[1], stepped_back, "activa")])
    writer = GroupCommitWriter(narrowed, clock=lambda: stepped_back + 1)
    writer.start()
    try:
        result = asyncio.run(writer.submit(SweepOp(T0 + 600, started_at=T0 - 5_000), 10.0))
        assert isinstance(result, SweepResult)
        assert IDS[1] not in result.marked
        one = narrowed.get_console(IDS[1])
        assert one is not None and one.estado == "activa"
    finally:
        writer.stop_blocking()
