"""``apply_batch`` against a real SQLite file: one transaction, or the broken write found alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.storage import Storage, open_storage
from exporter.storage.records import (
    FoundResult,
    RegisterResult,
    StorageUnavailableError,
    SweepOp,
    SweepResult,
)
from exporter.writing.batch import apply_batch
from tests.support.storage_ops import IDS, T0, beat, register


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "heartbeat.db")


def last_seen(database: str) -> dict[str, float]:
    """What is committed, read through a connection of its own."""
    reader = open_storage(database)
    try:
        consoles, _ = reader.list_consoles(None, 100, 0)
        return {c.id: c.last_seen for c in consoles}
    finally:
        reader.close()


def test_a_batch_of_good_writes_gives_one_result_each(storage: Storage, database: str) -> None:
    outcome = apply_batch(
        storage,
        [register(0, T0), register(1, T0), beat(IDS[0], T0 + 5, "activa"),
         beat(IDS[3], T0 + 5, "activa"), register(1, T0 + 6),
         SweepOp(T0 + 7, started_at=T0)],
    )  # fmt: skip
    assert outcome.unavailable is None
    assert outcome.outcomes == [
        RegisterResult(created=True),
        RegisterResult(created=True),
        FoundResult(found=True),
        FoundResult(found=False),
        RegisterResult(created=False),
        SweepResult(marked=()),
    ]
    assert last_seen(database) == {IDS[0]: T0 + 5, IDS[1]: T0 + 6}


def test_a_database_that_refuses_the_batch_fails_every_write_with_its_error(
    storage: Storage, database: str
) -> None:
    storage.write_batch([register(0, T0)])
    storage.close()  # the storage's connection is gone: SQLite refuses the transaction
    outcome = apply_batch(storage, [register(1, T0), beat(IDS[0], T0 + 5, "activa")])
    assert outcome.unavailable is not None and "closed database" in outcome.unavailable
    assert len(outcome.outcomes) == 2
    for error in outcome.outcomes:
        assert isinstance(error, StorageUnavailableError)
        assert str(error) == outcome.unavailable
    assert last_seen(database) == {IDS[0]: T0}


def test_a_write_that_raises_fails_alone_and_the_others_commit(
    storage: Storage, database: str
) -> None:
    storage.write_batch([register(0, T0), register(1, T0), register(2, T0)])
    unstorable = beat(IDS[1], T0 + 5, "activa", sistema={"hostname": object()})
    outcome = apply_batch(
        storage,
        [beat(IDS[0], T0 + 5, "activa"), unstorable, beat(IDS[2], T0 + 5, "ocupada"),
         register(3, T0 + 6)],
    )  # fmt: skip
    assert outcome.unavailable is None
    good_0, broken, good_2, registered = outcome.outcomes
    assert isinstance(broken, TypeError) and "JSON serializable" in str(broken)
    assert [good_0, good_2, registered] == [
        FoundResult(found=True),
        FoundResult(found=True),
        RegisterResult(created=True),
    ]
    assert last_seen(database) == {IDS[0]: T0 + 5, IDS[1]: T0, IDS[2]: T0 + 5, IDS[3]: T0 + 6}
    # The first attempt (the whole batch) was rolled back: each write went in exactly once.
    two = storage.get_console(IDS[2])
    assert two is not None and two.estado == "ocupada"
    assert [h.estado for h in storage.history(IDS[2], 10)].count("ocupada") == 1


def test_a_single_write_that_raises_is_its_own_outcome(storage: Storage) -> None:
    storage.write_batch([register(0, T0)])
    outcome = apply_batch(storage, [beat(IDS[0], T0 + 5, "activa", sistema={"x": {1, 2}})])
    assert outcome.unavailable is None
    [error] = outcome.outcomes
    assert isinstance(error, TypeError)
