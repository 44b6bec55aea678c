"""Serving the app with uvicorn (uvloop + httptools); SIGTERM drains requests and commits."""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType

import uvicorn

from exporter.config import ExporterConfig
from exporter.service import ExporterService
from exporter.startup import StartupError, redact
from exporter.web.app import create_app
from exporter.web.connection_limits import ConnectionGuard, guarded_protocol
from exporter.web.open_files import connection_cap, raise_open_file_limit, soft_open_file_limit

log = logging.getLogger(__name__)


def uvicorn_config(
    service: ExporterService, access_log: bool = False, log_config: object = None
) -> uvicorn.Config:
    """The uvicorn settings for ``service`` (also used by in-process tests): httptools with a
    read deadline per request and a connection cap (:mod:`exporter.web.connection_limits`)."""
    config = service.config
    cap = connection_cap(config.max_connections, soft_open_file_limit())
    guard = ConnectionGuard(cap, config.request_read_timeout, service.metrics)
    return uvicorn.Config(
        create_app(service),
        host=config.host,
        port=config.port,
        loop="uvloop",
        http=guarded_protocol(guard),
        lifespan="on",
        access_log=access_log,
        log_level=config.log_level,
        log_config=log_config,  # type: ignore[arg-type]
        timeout_graceful_shutdown=int(config.request_timeout) + 5,
        server_header=False,
    )


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Placeholder handler (uvicorn installs its own while serving)."""


def check_listen_address(host: str, port: int) -> None:
    """Raise :class:`StartupError` naming ``--host``/``--port`` unless that address can be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(f"--host {host!r} (HEARTBEAT_EXPORTER_HOST): {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise StartupError(
                f"--host {host!r} --port {port} (HEARTBEAT_EXPORTER_HOST/PORT): "
                f"cannot listen there: {exc.strerror or exc}"
            ) from None


def serve(config: ExporterConfig, access_log: bool = False) -> int:
    """Open the database, serve until a signal, commit and close. The exit status."""
    check_listen_address(config.host, config.port)
    files = raise_open_file_limit()
    cap = connection_cap(config.max_connections, files.soft)
    (log.warning if files.error else log.info)(
        "%s; at most %d connections at once (--max-connections)", files.describe(), cap
    )
    service = ExporterService(config)
    log.info(
        "heartbeat exporter on http://%s:%d (database %s: %s)",
        config.host, config.port, service.storage.backend, redact(config.database),
    )  # fmt: skip
    server = uvicorn.Server(uvicorn_config(service, access_log))
    # uvicorn re-raises the captured signal after its graceful shutdown; with these handlers in
    # place that re-raise is a no-op, so a SIGTERM/SIGINT stop exits 0 like a normal end.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _ignore)
    server.run()
    return 0 if server.started else 1
