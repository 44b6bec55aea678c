"""``HeartbeatService``: one console's heartbeat, state and ``/metrics``.

Several services can run in one process (each with its own config, id file, threads and
registry). The module-level functions in ``heartbeat`` act on a default instance.
"""

from __future__ import annotations

import atexit
import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from consola_wire import REPORTABLE_STATES, STATE_INACTIVA, EstadoConsola, MetricsEndpoint, protocol
from heartbeat import logs, sigterm
from heartbeat.config import HeartbeatConfig
from heartbeat.error_report import ErrorReport
from heartbeat.http_server import ConsoleHttpServer, ControlHandler
from heartbeat.identity import load_or_create_console_id
from heartbeat.metrics import ConsoleCollector, Identity, build_registry
from heartbeat.procesando import Procesando
from heartbeat.process_tree import ProcessTreeSampler
from heartbeat.sender import Sender
from heartbeat.state import ConsoleState, Telemetry
from heartbeat.system import SystemSampler
from heartbeat.wire_text import clean_text

#: Psutil readings are cached this long; a scrape or a beat never samples more often.
SAMPLE_MAX_AGE_SECONDS = 5.0


def parse_estado(estado: EstadoConsola | str) -> str:
    """The wire value of a state a worker may set; anything else is a ``ValueError``."""
    value = estado.value if isinstance(estado, EstadoConsola) else estado
    if value == STATE_INACTIVA:
        raise ValueError("estado 'inactiva' is sent by detener(); a running console cannot set it")
    if not isinstance(value, str) or value not in REPORTABLE_STATES:
        raise ValueError(
            f"estado must be one of {', '.join(REPORTABLE_STATES)} (or EstadoConsola); "
            f"got {estado!r}"
        )
    return value


class _Stop:
    """One stop in progress: the goodbye handed to the sender thread, awaited up to a deadline."""

    def __init__(
        self, sender: Sender | None, http: ConsoleHttpServer | None, timeout: float
    ) -> None:
        self.sender = sender
        self.http = http
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self._warned = False
        if sender is not None:
            sender.request_stop()

    def wait(self) -> None:
        """Wait for the goodbye until the deadline (however many callers wait)."""
        sender = self.sender
        if sender is None:
            return
        sender.join(timeout=max(0.0, self.deadline - time.monotonic()))
        if sender.is_alive() and not self._warned:
            self._warned = True
            logs.logger.warning(
                "⚠️  El último heartbeat (inactiva) no terminó en %gs; se abandona", self.timeout
            )


class HeartbeatService:
    """One console. ``config=None`` reads the environment (and ``.env``) at :meth:`iniciar`."""

    def __init__(
        self,
        config: HeartbeatConfig | None = None,
        *,
        rng: random.Random | None = None,
        control: bool = False,
    ) -> None:
        self._config = config
        self._rng = rng
        self._control_enabled = control
        self._lock = threading.RLock()  # start/stop only; never taken by cambiar_estado
        self._state = ConsoleState()
        self._telemetry = Telemetry()
        self._system = SystemSampler(max_age=SAMPLE_MAX_AGE_SECONDS)
        self._tree = ProcessTreeSampler(max_age=SAMPLE_MAX_AGE_SECONDS)
        self._console_id: str | None = None
        self._sender: Sender | None = None
        self._http: ConsoleHttpServer | None = None
        self._running = False
        self._stop: _Stop | None = None

    # -- configuration and identity -------------------------------------------------------------

    @property
    def config(self) -> HeartbeatConfig:
        """The configuration (read from the environment on first use when none was given)."""
        with self._lock:
            if self._config is None:
                self._config = HeartbeatConfig.from_env()
            return self._config

    def obtener_console_id(self) -> str:
        """The persistent console id (``CONSOLE_ID``, or the id file, created on first use)."""
        with self._lock:
            if self._console_id is None:
                self._console_id = load_or_create_console_id(self.config)
            return self._console_id

    @property
    def running(self) -> bool:
        return self._running

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the console's HTTP server, when it runs."""
        http = self._http
        return http.address if http is not None else None

    # -- lifecycle ---------------------------------------------------------------------------

    def iniciar(self) -> None:
        """Load the id, start the sender and the metrics server; state ``esperando``. Idempotent.

        Raises :class:`~heartbeat.config.ConfigError` for a bad configuration; never raises
        because of the network (registration is retried in the background).
        """
        with self._lock:
            if self._running:
                return
            config = self.config
            console_id = self.obtener_console_id()
            logs.banner(console_id, config.api_base_url, config.interval_minutes)
            self._state.set(EstadoConsola.ESPERANDO.value, None, None)
            self._start_http(config, console_id)
            if config.enabled:
                self._sender = Sender(
                    config,
                    console_id,
                    self._state,
                    self._telemetry,
                    self._system,
                    rng=self._rng,
                    metricas=self._metrics_endpoint(config),
                )
                self._sender.start()  # logs "Servicio de heartbeat iniciado" after registering
            else:
                logs.disabled()
            self._running = True
            atexit.register(self.detener)
            if self._sender is not None and config.handle_signals:
                sigterm.install(self, self._begin_stop_on_sigterm)  # main thread, SIG_DFL only

    def detener(self) -> None:
        """Send a last heartbeat with ``estado: "inactiva"`` (bounded wait) and stop. Idempotent.

        Safe to call from a signal handler: a stop already in progress (the one the handler
        interrupted) is awaited, not started again.
        """
        stop = self._begin_stop()
        if stop is None:
            return
        stop.wait()
        with self._lock:
            if self._stop is not stop:
                return  # another caller finishes it
            self._stop = None
        if stop.http is not None:
            stop.http.stop()
        sigterm.uninstall(self)
        logs.stopped()

    def _begin_stop(self) -> _Stop | None:
        """Hand the goodbye to the sender thread (no waiting); ``None`` when already stopped."""
        with self._lock:
            if self._stop is not None:
                return self._stop
            if not self._running:
                return None
            self._running = False
            atexit.unregister(self.detener)
            sender, self._sender = self._sender, None
            http, self._http = self._http, None
            self._stop = _Stop(sender, http, self.config.stop_timeout_seconds)
            return self._stop

    def _begin_stop_on_sigterm(self) -> Callable[[], None] | None:
        stop = self._begin_stop()
        return stop.wait if stop is not None else None

    def _metrics_endpoint(self, config: HeartbeatConfig) -> MetricsEndpoint | None:
        """The ``metricas`` to send: the port the HTTP server bound (None when it is off or
        failed to start: then Prometheus has nothing to find)."""
        address = self.metrics_address
        if address is None:
            return None
        return MetricsEndpoint(address[1], protocol.DEFAULT_METRICS_PATH, config.advertised_address)

    def _start_http(self, config: HeartbeatConfig, console_id: str) -> None:
        if config.metrics_port is None:
            return
        collector = ConsoleCollector(
            identity=lambda: Identity(console_id, config.console_name),
            state=self._state,
            telemetry=self._telemetry,
            system=self._system,
            tree=self._tree,
            interval_seconds=config.interval_seconds,
        )
        control: ControlHandler | None = self._control if self._control_enabled else None
        try:
            self._http = ConsoleHttpServer(
                config.metrics_addr,
                config.metrics_port,
                build_registry(collector),
                lambda: console_id,
                control=control,
                status=self._status if self._control_enabled else None,
            )
        except OSError as exc:
            logs.logger.error(
                "❌ No se pudo iniciar el endpoint de métricas en %s:%d: %s "
                "(HEARTBEAT_METRICS_PORT); el worker continúa sin /metrics",
                config.metrics_addr,
                config.metrics_port,
                exc,
            )
            return
        self._http.start()
        host, port = self._http.address
        logs.logger.info("📈 Métricas en http://%s:%d/metrics", host, port)

    # -- the worker's calls -------------------------------------------------------------------

    def cambiar_estado(
        self,
        estado: EstadoConsola | str,
        *,
        video_en_proceso: str | None = None,
        error: BaseException | str | None = None,
    ) -> None:
        """Set the state and wake the sender; no I/O on the caller's thread."""
        value = parse_estado(estado)
        video = (
            clean_text(video_en_proceso, protocol.MAX_VIDEO_CHARS)
            if video_en_proceso is not None
            else None
        )
        error_obj = ErrorReport(error, _now()) if error is not None else None
        previous, _ = self._state.set(value, video, error_obj)
        logs.transition(previous, value)
        sender = self._sender
        if sender is not None:
            sender.notify_change()

    def procesando(self, nombre: str) -> Procesando:
        """Context manager / decorator: ``ocupada`` with the video, then ``esperando``/``error``."""
        return Procesando(self, nombre)

    def video_started(self) -> None:
        """Count a video entering ``procesando()`` and note its start; no state change."""
        self._state.video_started()

    def video_ended(self, *, failed: bool) -> None:
        """Count a video leaving ``procesando()``, finished or failed; no state change."""
        self._state.video_ended(failed=failed)

    def estado(self) -> dict[str, Any]:
        """The current state with its wire keys (estado, videoEnProceso, ultimoError)."""
        snap = self._state.snapshot()
        return {
            protocol.KEY_ESTADO: snap.estado,
            protocol.KEY_VIDEO_EN_PROCESO: snap.video_en_proceso,
            protocol.KEY_ULTIMO_ERROR: snap.ultimo_error.to_json() if snap.ultimo_error else None,
        }

    # -- the agent's control endpoint ---------------------------------------------------------

    def _control(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - {"estado", "videoEnProceso", "error"}
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        video = body.get("videoEnProceso")
        if video is not None and not isinstance(video, str):
            raise ValueError("videoEnProceso must be a string or null")
        error = body.get("error")
        if isinstance(error, dict):
            error = str(error.get("message") or json_preview(error))
        elif error is not None and not isinstance(error, str):
            raise ValueError("error must be a string, an object with 'message', or null")
        self.cambiar_estado(str(body.get("estado")), video_en_proceso=video, error=error)
        return self._status()

    def _status(self) -> dict[str, Any]:
        return {"consoleId": self._console_id, **self.estado()}


def json_preview(obj: object) -> str:
    """A short text form of an error object sent by a non-Python worker."""
    return json.dumps(obj, ensure_ascii=False)[:2000]


def _now() -> float:
    return time.time()
