"""Copying the SQLite write-ahead log into the database file, off the writer's path.

SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so every so often
one group commit also copies a thousand pages into the database and fsyncs it, and the heartbeats
waiting on that commit wait for all of it (bench/README.md). Here a thread with its own
connection runs a ``PASSIVE`` checkpoint every ``interval`` seconds instead: it never blocks the
writer and does its I/O without the GIL. Short intervals keep each checkpoint small (measured:
50 ms gave a lower p99 than 250 ms or 1 s). The writer keeps a high automatic threshold only as
a backstop, should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.05
#: The writer connection's own automatic checkpoint (pages): only reached if this thread lags.
WRITER_AUTOCHECKPOINT_PAGES = 20_000


class Checkpointer:
    """A daemon thread running ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        interval: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self._connect = connect
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        #: Checkpoints run (tests wait on it).
        self.runs = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after the checkpoint in progress, if any)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self._interval):
            try:
                if conn is None:
                    conn = self._connect()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.runs += 1
            except sqlite3.Error as exc:  # busy or unreachable: the next round tries again
                log.debug("WAL checkpoint skipped: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
