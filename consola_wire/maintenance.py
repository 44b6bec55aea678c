"""Validation of a maintenance request: how long a console is off on purpose, and why."""

from __future__ import annotations

import math
from dataclasses import dataclass

from consola_wire import protocol as p
from consola_wire.validation import optional_text, timestamp
from consola_wire.wire_error import WireError, require_object


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A validated maintenance body: until when (Unix seconds) and the operator's reason."""

    until: float
    reason: str | None


def parse_maintenance(body: object, now: float) -> Maintenance:
    """``{"minutos": N}`` or ``{"hasta": ISO-8601}``, optional ``motivo``; ``now`` is the
    server's clock. The end must lie after ``now`` and at most a year ahead."""
    obj = require_object(body, "body")
    minutos, hasta = obj.get(p.KEY_MINUTOS), obj.get(p.KEY_HASTA)
    if minutos is None and hasta is None:
        raise WireError(p.KEY_MINUTOS, f"is required (or {p.KEY_HASTA}): how long it lasts")
    if minutos is not None and hasta is not None:
        raise WireError(p.KEY_HASTA, f"give either {p.KEY_MINUTOS} or {p.KEY_HASTA}, not both")
    if minutos is not None:
        if isinstance(minutos, bool) or not isinstance(minutos, int | float):
            raise WireError(p.KEY_MINUTOS, "must be a number")
        if not math.isfinite(minutos) or minutos <= 0:
            raise WireError(p.KEY_MINUTOS, "must be greater than 0")
        until, field = now + float(minutos) * 60.0, p.KEY_MINUTOS
    else:
        parsed = timestamp(hasta, p.KEY_HASTA)
        assert parsed is not None
        until, field = parsed.timestamp(), p.KEY_HASTA
        if until <= now:
            raise WireError(p.KEY_HASTA, "must be in the future")
    if until - now > p.MAX_MAINTENANCE_SECONDS:
        raise WireError(field, f"must end within {p.MAX_MAINTENANCE_SECONDS / 86400:g} days")
    reason = optional_text(obj.get(p.KEY_MOTIVO), p.KEY_MOTIVO, p.MAX_MOTIVO_CHARS)
    return Maintenance(until, reason)
