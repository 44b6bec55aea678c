"""The console states, exactly as the seed names them."""

from __future__ import annotations

from enum import StrEnum


class EstadoConsola(StrEnum):
    """State of a console. Values are the wire strings and never change."""

    ACTIVA = "activa"
    OCUPADA = "ocupada"
    ESPERANDO = "esperando"
    ERROR = "error"
    INACTIVA = "inactiva"


STATE_INACTIVA = EstadoConsola.INACTIVA.value

#: Every state, in the order metrics and tables show them.
ALL_STATES: tuple[str, ...] = tuple(s.value for s in EstadoConsola)

#: States a running console reports about itself (``inactiva`` is set by the server, or sent
#: once by a console that stops cleanly).
REPORTABLE_STATES: tuple[str, ...] = tuple(s for s in ALL_STATES if s != STATE_INACTIVA)
