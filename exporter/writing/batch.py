"""Applying one batch of writes: one transaction, and the write that broke it found alone.

The thread writer and the writer process both apply batches this way, so a batch means the same
in either mode: every write committed together, or the database unavailable for all of them, or
(a write that raises for its own reasons) each write applied on its own so only that one fails.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from exporter.storage.records import StorageUnavailableError, WriteOp, WriteResult

log = logging.getLogger("exporter.writing")

#: One write's outcome: its result, or the exception its caller gets.
Outcome = WriteResult | BaseException


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of a batch: one outcome per write, in order; ``unavailable`` says why the
    database refused the whole batch (None when it did not)."""

    outcomes: list[Outcome]
    unavailable: str | None = None


class BatchStorage(Protocol):
    """What a batch is applied to (:class:`~exporter.storage.Storage` is one)."""

    def write_batch(self, ops: Sequence[WriteOp]) -> list[WriteResult]: ...


def apply_batch(storage: BatchStorage, ops: Sequence[WriteOp]) -> BatchOutcome:
    """Apply ``ops`` in one transaction; when one of them raises (not the database being
    unavailable), apply each alone so that only the broken one fails."""
    try:
        return BatchOutcome(list(storage.write_batch(ops)))
    except StorageUnavailableError as exc:
        return BatchOutcome([exc] * len(ops), unavailable=str(exc))
    except Exception as exc:
        if len(ops) == 1:
            log.exception("write failed: %r", ops[0])
            return BatchOutcome([exc])
    outcomes: list[Outcome] = []
    unavailable: str | None = None
    for op in ops:
        alone = apply_batch(storage, [op])
        outcomes.extend(alone.outcomes)
        unavailable = alone.unavailable or unavailable
    return BatchOutcome(outcomes, unavailable)
