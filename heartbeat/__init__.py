"""The ``heartbeat`` worker library: register this console, report its state, expose /metrics.

Quick start::

    import heartbeat

    heartbeat.iniciar()                      # reads API_BASE_URL etc. from the env / .env
    with heartbeat.procesando("Video Historia 1 (2/5)"):
        render()                             # ocupada while it runs, esperando or error after
    heartbeat.detener()                      # last heartbeat says "inactiva"

The module-level functions act on a default :class:`HeartbeatService`; create your own
instances (each with its own :class:`HeartbeatConfig`) to run several consoles in one process.
"""

from __future__ import annotations

import threading

from consola_wire import EstadoConsola
from heartbeat.config import ConfigError, HeartbeatConfig
from heartbeat.identity import IdentityError
from heartbeat.procesando import Procesando
from heartbeat.service import HeartbeatService
from heartbeat.version import __version__

__all__ = [
    "ConfigError",
    "EstadoConsola",
    "HeartbeatConfig",
    "HeartbeatService",
    "IdentityError",
    "__version__",
    "cambiar_estado",
    "detener",
    "iniciar",
    "obtener_console_id",
    "procesando",
    "servicio",
]

_default: HeartbeatService | None = None
#: Re-entrant: a signal handler may call these functions while the main thread holds it.
_default_lock = threading.RLock()


def servicio() -> HeartbeatService:
    """The default service the module-level functions act on (config from the environment)."""
    global _default  # noqa: PLW0603
    with _default_lock:
        if _default is None:
            _default = HeartbeatService()
        return _default


def iniciar(config: HeartbeatConfig | None = None) -> HeartbeatService:
    """Start the default service (idempotent). ``config`` replaces the environment's, if given
    before the first start."""
    global _default  # noqa: PLW0603
    with _default_lock:
        if _default is None or (config is not None and not _default.running):
            _default = HeartbeatService(config)
        service = _default
    service.iniciar()
    return service


def detener() -> None:
    """Stop the default service, sending a last heartbeat with ``estado: "inactiva"``.

    Takes no lock of this module, so a worker's own SIGTERM handler may call it.
    """
    service = _default
    if service is not None:
        service.detener()


def cambiar_estado(
    estado: EstadoConsola | str,
    *,
    video_en_proceso: str | None = None,
    error: BaseException | str | None = None,
) -> None:
    """Set this console's state; the heartbeat follows promptly on a background thread."""
    servicio().cambiar_estado(estado, video_en_proceso=video_en_proceso, error=error)


def obtener_console_id() -> str:
    """This console's persistent UUID."""
    return servicio().obtener_console_id()


def procesando(nombre: str) -> Procesando:
    """Context manager / decorator around one video: ``ocupada``, then ``esperando``/``error``."""
    return servicio().procesando(nombre)
