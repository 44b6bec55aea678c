"""``procesando(nombre)``: ``ocupada`` while a video is made, ``esperando`` or ``error`` after."""

from __future__ import annotations

from contextlib import ContextDecorator
from types import TracebackType
from typing import Protocol

from consola_wire import EstadoConsola


class VideoReporter(Protocol):
    """What ``Procesando`` needs of a console (``HeartbeatService`` is one)."""

    def cambiar_estado(
        self,
        estado: EstadoConsola | str,
        *,
        video_en_proceso: str | None = None,
        error: BaseException | str | None = None,
    ) -> None: ...

    def video_started(self) -> None: ...

    def video_ended(self, *, failed: bool) -> None: ...


class Procesando(ContextDecorator):
    """Context manager and decorator; the exception, if any, is reported and re-raised."""

    def __init__(self, console: VideoReporter, nombre: str) -> None:
        self._console = console
        self._nombre = nombre

    def _recreate_cm(self) -> Procesando:
        # Each decorated call gets its own instance, so concurrent calls do not share state.
        return Procesando(self._console, self._nombre)

    def __enter__(self) -> Procesando:
        self._console.video_started()
        self._console.cambiar_estado(EstadoConsola.OCUPADA, video_en_proceso=self._nombre)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failed = exc is not None and not isinstance(exc, GeneratorExit)
        self._console.video_ended(failed=failed)
        if failed and exc is not None:
            self._console.cambiar_estado(EstadoConsola.ERROR, error=exc)
        else:
            self._console.cambiar_estado(EstadoConsola.ESPERANDO)
        # returning None re-raises the exception
