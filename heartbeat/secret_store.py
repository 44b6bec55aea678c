"""The per-console secret the exporter issues at registration, kept beside ``.console-id``.

Written atomically (temporary file in the same directory, ``fsync``, ``os.replace``) with mode
0600 from the start: the secret is never readable by other users, not even for a moment. It is
read back at the next start so the console keeps its credential across restarts. The value is
never logged; only the path is.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from heartbeat import logs

#: Owner read/write only.
SECRET_FILE_MODE = 0o600
#: The exporter issues ~43-character tokens; anything far longer is not one of ours.
MAX_SECRET_CHARS = 4096


class SecretFileError(OSError):
    """The secret file cannot be read or written (the message names the path, never the value)."""


def read_secret(path: Path) -> str | None:
    """The secret stored in ``path``; ``None`` when there is none (missing, empty or unusable).

    A file readable by group or others is still used, with a warning naming the path.
    """
    try:
        info = path.stat()
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"cannot read the console secret file {path}: {exc}") from None
    if stat.S_IMODE(info.st_mode) & 0o077:
        logs.logger.warning(
            "⚠️  El archivo de secreto %s es legible por otros usuarios (modo %o); "
            "ejecute: chmod 600 %s",
            path,
            stat.S_IMODE(info.st_mode),
            path,
        )
    value = text.strip()
    if not value or len(value) > MAX_SECRET_CHARS or not all("!" <= c <= "~" for c in value):
        return None
    return value


def write_secret(path: Path, secret: str) -> None:
    """Store ``secret`` in ``path`` atomically, mode 0600."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise SecretFileError(f"cannot create the console secret file {path}: {exc}") from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, SECRET_FILE_MODE)  # mkstemp already uses 0600; make it explicit
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_directory(directory)
    except OSError as exc:
        raise SecretFileError(f"cannot write the console secret file {path}: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
