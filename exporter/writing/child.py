"""``python -m exporter.writing.child FD``: the writer process the exporter starts.

It opens the database its first message names, then applies each batch it receives (one
transaction, :func:`~exporter.writing.batch.apply_batch`) and answers with the outcomes, one
batch at a time, until the exporter closes its end of the socket pair (or dies: its end closes
with it). It ignores SIGINT and SIGTERM, so a signal sent to the whole process group (Ctrl-C,
systemd's stop) cannot cut a batch short: the exporter drains its queue through this process,
then closes the socket.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import sys
from typing import Any

from exporter.storage import open_storage
from exporter.storage.records import StorageUnavailableError
from exporter.writing.batch import BatchOutcome, Outcome, apply_batch
from exporter.writing.frames import FrameReader, encode, receive

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _portable(outcome: Outcome) -> Outcome:
    """An exception that would not pickle, as a RuntimeError with its words."""
    if not isinstance(outcome, BaseException):
        return outcome
    try:
        pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
    except Exception:
        return RuntimeError(f"{type(outcome).__name__}: {outcome}")
    return outcome


def _answer(batch: BatchOutcome) -> bytes:
    try:
        return encode(batch)
    except Exception:
        return encode(BatchOutcome([_portable(o) for o in batch.outcomes], batch.unavailable))


def serve(sock: socket.socket) -> int:
    """Open the database the first message names, then apply batches until end of file."""
    reader = FrameReader()
    settings: dict[str, Any] = receive(sock, reader)
    logging.basicConfig(level=settings["log_level"], format=LOG_FORMAT)
    try:
        storage = open_storage(
            settings["database"], settings["sqlite_synchronous"], sqlite_checkpoints=False
        )
    except StorageUnavailableError as exc:
        sock.sendall(encode(("failed", str(exc))))
        return 1
    sock.sendall(encode(("ready", os.getpid())))
    try:
        while True:
            try:
                ops = receive(sock, reader)
            except EOFError:
                return 0
            sock.sendall(_answer(apply_batch(storage, ops)))
    finally:
        storage.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``FD`` is this process's end of the socket pair the exporter made."""
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with socket.socket(fileno=int(args[0])) as sock:
        try:
            return serve(sock)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            return 0


if __name__ == "__main__":
    sys.exit(main())
