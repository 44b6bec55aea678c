"""``procesando(nombre)``: ``ocupada`` while a video is made, ``esperando`` or ``error`` after."""

from __future__ import annotations

from contextlib import ContextDecorator
from types import TracebackType
from typing import TYPE_CHECKING

from consola_wire import EstadoConsola

if TYPE_CHECKING:
    from heartbeat.service import HeartbeatService


class Procesando(ContextDecorator):
    """Context manager and decorator; the exception, if any, is reported and re-raised."""

    def __init__(self, service: HeartbeatService, nombre: str) -> None:
        self._service = service
        self._nombre = nombre

    def _recreate_cm(self) -> Procesando:
        # Each decorated call gets its own instance, so concurrent calls do not share state.
        return Procesando(self._service, self._nombre)

    def __enter__(self) -> Procesando:
        self._service._state.video_started()
        self._service.cambiar_estado(EstadoConsola.OCUPADA, video_en_proceso=self._nombre)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failed = exc is not None and not isinstance(exc, GeneratorExit)
        self._service._state.video_ended(failed=failed)
        if failed and exc is not None:
            self._service.cambiar_estado(EstadoConsola.ERROR, error=exc)
        else:
            self._service.cambiar_estado(EstadoConsola.ESPERANDO)
        # returning None re-raises the exception
