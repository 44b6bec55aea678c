"""Run an exporter inside this process, on a background thread (tests, demos, benchmarks)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from exporter.clock import Clock, system_clock
from exporter.config import ExporterConfig
from exporter.server import uvicorn_config
from exporter.service import ExporterService

STARTUP_TIMEOUT_SECONDS = 15.0


class EmbeddedExporter:
    """An exporter served by uvicorn on a thread; ``with EmbeddedExporter(config) as e: e.url``."""

    def __init__(self, config: ExporterConfig, clock: Clock = system_clock) -> None:
        self.service = ExporterService(config, clock=clock)
        self.server = uvicorn.Server(uvicorn_config(self.service))
        self._thread = threading.Thread(target=self.server.run, name="exporter", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:3000``."""
        config = self.service.config
        return f"http://{config.host}:{config.port}"

    def start(self) -> EmbeddedExporter:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the embedded exporter did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful shutdown: drain requests, commit pending writes, close the database."""
        self.server.should_exit = True
        self._thread.join(STARTUP_TIMEOUT_SECONDS + self.service.config.request_timeout)

    def __enter__(self) -> EmbeddedExporter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
