"""Settings of the exporter, with their defaults (the CLI and the docs read these constants)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
#: Matches the seed's ``API_BASE_URL=http://localhost:3000/api``.
DEFAULT_PORT = 3000
DEFAULT_DATABASE = "consolas.db"
#: The seed's "más de 10 minutos".
DEFAULT_INACTIVE_AFTER_SECONDS = 600.0
DEFAULT_SWEEP_INTERVAL_SECONDS = 5.0
DEFAULT_HISTORY_RETENTION_SECONDS = 30 * 24 * 3600.0
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
#: Time a client has to send a request's headers and body (a slow client is cut off after it).
DEFAULT_REQUEST_READ_TIMEOUT_SECONDS = 30.0
#: Open files kept out of ``--max-connections``'s default: the database, log files, the
#: listening socket and the exporter's other own descriptors.
RESERVED_OPEN_FILES = 128
DEFAULT_MAX_BATCH = 2048
DEFAULT_SQLITE_SYNCHRONOUS = "full"
#: Where the batches are applied: a writer process (its own interpreter, no GIL shared with the
#: event loop) or a thread of the exporter.
WRITER_MODES = ("process", "thread")
DEFAULT_WRITER = "process"
DEFAULT_LOG_LEVEL = "info"


@dataclass(frozen=True)
class ExporterConfig:
    """Everything the running service needs to know besides its clock."""

    database: str = DEFAULT_DATABASE
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    inactive_after: float = DEFAULT_INACTIVE_AFTER_SECONDS
    sweep_interval: float = DEFAULT_SWEEP_INTERVAL_SECONDS
    history_retention: float = DEFAULT_HISTORY_RETENTION_SECONDS
    #: Retire consoles ``inactiva`` for longer than this many seconds; None: never.
    retire_after: float | None = None
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    request_read_timeout: float = DEFAULT_REQUEST_READ_TIMEOUT_SECONDS
    #: Most connections served at once; None: derived from the open-file limit at start.
    max_connections: int | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    sqlite_synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS
    writer: str = DEFAULT_WRITER
    video_info: bool = True
    log_level: str = DEFAULT_LOG_LEVEL
    #: Required (as ``Authorization: Bearer``) to register; None = open (see SECURITY.md).
    enrollment_token: str | None = field(default=None, repr=False)
    #: Required for reads and ``/metrics``; None = open.
    read_token: str | None = field(default=None, repr=False)
    #: Required to retire, for maintenance and to reset a console's secret; also reads.
    admin_token: str | None = field(default=None, repr=False)
