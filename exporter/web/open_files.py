"""The open-file limit: raised to the hard limit at start, and the connections it leaves room for.

Every connection costs a file descriptor. Past ``RLIMIT_NOFILE`` the kernel refuses new ones
(``EMFILE``): the event loop then resets every new connection, and the database and log files
cannot be opened either. So the exporter serves at most the soft limit minus a reserve
(:data:`~exporter.config.RESERVED_OPEN_FILES`) and refuses the rest with a 503.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from exporter.config import RESERVED_OPEN_FILES
from exporter.startup import StartupError

#: The soft limit asked for when the hard limit is unlimited (Linux's default ``nr_open``).
UNLIMITED_TARGET = 1024 * 1024
MAX_CONNECTIONS_SETTING = "--max-connections (HEARTBEAT_EXPORTER_MAX_CONNECTIONS)"


@dataclass(frozen=True)
class OpenFileLimit:
    """The soft limit found at start, the one in force after trying to raise it, the hard one."""

    found: int
    soft: int
    hard: int
    #: Why the soft limit could not be raised (None: it was, or it already was the hard one).
    error: str | None = None

    def describe(self) -> str:
        """One log line: what was found and what is in force."""
        if self.error is not None:
            return (
                f"open files: could not raise the soft limit {self.found} to the hard limit "
                f"{self.hard}: {self.error}"
            )
        if self.soft == self.found:
            return f"open files: soft limit {self.soft} (already the hard limit {self.hard})"
        return f"open files: soft limit raised from {self.found} to {self.soft} (hard {self.hard})"


def _finite(limit: int) -> int:
    return UNLIMITED_TARGET if limit == resource.RLIM_INFINITY else limit


def raise_open_file_limit() -> OpenFileLimit:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit; what was found and done."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    found, ceiling = _finite(soft), _finite(hard)
    if found >= ceiling:
        return OpenFileLimit(found, found, ceiling)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    except (ValueError, OSError) as exc:
        return OpenFileLimit(found, found, ceiling, error=str(exc))
    return OpenFileLimit(found, ceiling, ceiling)


def soft_open_file_limit() -> int:
    """The soft ``RLIMIT_NOFILE`` in force."""
    return _finite(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def connection_cap(requested: int | None, soft_limit: int) -> int:
    """The most connections to serve at once: ``requested``, or what ``soft_limit`` leaves room
    for; :class:`StartupError` naming the flag when that is more than the limit allows."""
    room = soft_limit - RESERVED_OPEN_FILES
    if requested is None:
        if room < 1:
            raise StartupError(
                f"{MAX_CONNECTIONS_SETTING}: the open-file limit {soft_limit} leaves no room "
                f"for connections ({RESERVED_OPEN_FILES} are kept for the database, log files "
                "and the exporter's own sockets): raise it (ulimit -n, systemd LimitNOFILE)"
            )
        return room
    if requested > room:
        raise StartupError(
            f"{MAX_CONNECTIONS_SETTING} {requested}: more than the {max(room, 0)} connections "
            f"the open-file limit {soft_limit} leaves room for ({RESERVED_OPEN_FILES} are kept "
            "for the database, log files and the exporter's own sockets): lower it, or raise "
            "the limit (ulimit -n, systemd LimitNOFILE)"
        )
    return requested
