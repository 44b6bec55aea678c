"""The console's persistent identity: ``CONSOLE_ID`` or the ``.console-id`` file.

The file is created once, atomically (a temporary file linked into place, so two processes
starting together agree on one id), and reused after. A corrupt or unreadable file is an error
naming the file: a silent new identity would split one console's history in two.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path

from heartbeat.config import ConfigError, HeartbeatConfig


class IdentityError(ConfigError):
    """The ``.console-id`` file cannot be read, parsed or written."""


def load_or_create_console_id(config: HeartbeatConfig) -> str:
    """``CONSOLE_ID`` when set, else the id stored in ``CONSOLE_ID_FILE`` (created if missing)."""
    if config.console_id is not None:
        return config.console_id
    path = config.console_id_file
    existing = read_console_id(path)
    if existing is not None:
        return existing
    return _create(path)


def read_console_id(path: Path) -> str | None:
    """The id stored in ``path``; ``None`` when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError("CONSOLE_ID_FILE", str(path), f"cannot be read: {exc}") from None
    value = text.strip()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        preview = value[:40] + ("..." if len(value) > 40 else "")
        raise IdentityError(
            "CONSOLE_ID_FILE",
            str(path),
            f"does not hold a UUID (found {preview!r}); fix or delete it on purpose "
            "(deleting it gives this console a new identity)",
        ) from None


def _create(path: Path) -> str:
    new_id = str(uuid.uuid4())
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise IdentityError("CONSOLE_ID_FILE", str(path), f"cannot be created: {exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)  # atomic and never overwrites a concurrent winner
        except FileExistsError:
            pass
        except OSError:
            os.replace(tmp, path)  # filesystems without hard links
    except OSError as exc:
        raise IdentityError("CONSOLE_ID_FILE", str(path), f"cannot be written: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    stored = read_console_id(path)
    if stored is None:  # pragma: no cover - removed between write and read
        raise IdentityError("CONSOLE_ID_FILE", str(path), "vanished right after being written")
    return stored
