"""SQLite files: the checkpoint thread copies the WAL into the file; new files get 1 KiB pages."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from exporter.storage.sqlite import PAGE_SIZE, SQLiteStorage
from exporter.storage.sqlite_checkpoint import WRITER_AUTOCHECKPOINT_PAGES
from tests.support.storage_ops import IDS, T0, beat, register
from tests.support.tools import wait_until


def _last_seen_in_file_alone(database: Path, copy: Path, console_id: str) -> float | None:
    """``last_seen`` as the database file holds it, without its WAL (a copy of the file only)."""
    shutil.copyfile(database, copy)
    conn = sqlite3.connect(copy)
    try:
        row = conn.execute("SELECT last_seen FROM consolas WHERE id = ?", (console_id,)).fetchone()
        return float(row[0]) if row else None
    except sqlite3.OperationalError:  # not even the schema has been copied yet
        return None
    finally:
        conn.close()


def test_the_checkpoint_thread_copies_commits_into_the_file(tmp_path: Path) -> None:
    database = tmp_path / "consolas.db"
    storage = SQLiteStorage(database)
    try:
        row = storage._writer.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert row[0] == WRITER_AUTOCHECKPOINT_PAGES  # far more than this test writes
        storage.write_batch([register(i, T0) for i in range(len(IDS))])
        for n in range(50):
            storage.write_batch([beat(IDS[0], T0 + n, "activa")])
        wait_until(
            lambda: _last_seen_in_file_alone(database, tmp_path / "copy.db", IDS[0]) == T0 + 49,
            timeout=10,
        )
    finally:
        storage.close()
    assert storage._checkpointer is not None
    assert not storage._checkpointer._thread.is_alive()


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def test_new_files_get_small_pages_and_old_files_keep_theirs(tmp_path: Path) -> None:
    new = SQLiteStorage(tmp_path / "new.db")
    new.close()
    assert _page_size(tmp_path / "new.db") == PAGE_SIZE == 1024
    old_path = tmp_path / "old.db"
    old = sqlite3.connect(old_path)
    old.execute("PRAGMA page_size=4096")
    old.execute("CREATE TABLE unrelated (x INTEGER)")  # the file exists with 4 KiB pages
    old.close()
    storage = SQLiteStorage(old_path)
    try:
        storage.write_batch([register(0, T0), beat(IDS[0], T0 + 1, "activa")])
        record = storage.get_console(IDS[0])
        assert record is not None and record.estado == "activa"
    finally:
        storage.close()
    assert _page_size(old_path) == 4096
