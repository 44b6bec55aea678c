"""Simulated consoles: real :class:`HeartbeatService` instances driven by a pretend video worker.

Each console idles (``esperando``), sometimes runs a cron job (``activa``), makes videos
(``procesando()`` → ``ocupada``) and now and then fails one (``error``). Times scale with the
heartbeat interval, so the fleet changes every few seconds with the demo's 2 s interval.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from pathlib import Path

from heartbeat import EstadoConsola, HeartbeatConfig, HeartbeatService

FAILURE_RATE = 0.15
CRON_RATE = 0.15
PARTS_PER_STORY = 5
FAILURES = (
    "ffmpeg terminó con código 1",
    "TTS no respondió en 30 s",
    "Sin espacio en disco al escribir el render",
    "Guion vacío recibido del API",
)


class VideoFailedError(RuntimeError):
    """A simulated failure while making a video."""


@dataclass(frozen=True)
class ConsoleSpec:
    """What one simulated console needs: its name, id file, /metrics port and random seed."""

    name: str
    id_file: Path
    metrics_port: int | None
    seed: int


def console_config(
    spec: ConsoleSpec, api_base_url: str, interval_seconds: float
) -> HeartbeatConfig:
    """A library config with the demo's short interval, timeouts and backoff."""
    return HeartbeatConfig(
        api_base_url=api_base_url,
        interval_minutes=interval_seconds / 60.0,
        console_name=spec.name,
        console_id_file=spec.id_file,
        timeout_seconds=2.0,
        metrics_port=spec.metrics_port,
        retry_initial_seconds=min(0.5, interval_seconds),
        retry_max_seconds=interval_seconds,
        stop_timeout_seconds=2.0,
    )


def simulate_work(
    service: HeartbeatService, stop: threading.Event, rng: random.Random, interval: float
) -> None:
    """The pretend worker loop, until ``stop`` is set."""
    story = rng.randint(1, 40)
    part = 0
    scale = interval / 2.0
    while not stop.wait(rng.uniform(0.5, 3.0) * scale):
        if rng.random() < CRON_RATE:
            service.cambiar_estado(EstadoConsola.ACTIVA)
            if stop.wait(rng.uniform(1.0, 2.5) * scale):
                return
            service.cambiar_estado(EstadoConsola.ESPERANDO)
            continue
        part += 1
        if part > PARTS_PER_STORY:
            story, part = story + 1, 1
        try:
            with service.procesando(f"Video Historia {story} ({part}/{PARTS_PER_STORY})"):
                if stop.wait(rng.uniform(2.0, 6.0) * scale):
                    return
                if rng.random() < FAILURE_RATE:
                    raise VideoFailedError(rng.choice(FAILURES))
        except VideoFailedError:
            if stop.wait(rng.uniform(1.0, 3.0) * scale):
                return


class SimulatedConsole:
    """One console in this process: a service plus its worker thread."""

    def __init__(self, spec: ConsoleSpec, api_base_url: str, interval_seconds: float) -> None:
        self.spec = spec
        self.interval = interval_seconds
        self.service = HeartbeatService(console_config(spec, api_base_url, interval_seconds))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"demo-{spec.name}", daemon=True)

    def start(self) -> SimulatedConsole:
        """Start reporting and working."""
        self.service.iniciar()
        self._thread.start()
        return self

    def _run(self) -> None:
        simulate_work(self.service, self._stop, random.Random(self.spec.seed), self.interval)

    def request_stop(self) -> None:
        """Ask the worker loop to end (the video in progress ends as it would on shutdown)."""
        self._stop.set()

    def stop(self) -> None:
        """End the worker loop and say goodbye (``inactiva``)."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.service.detener()
