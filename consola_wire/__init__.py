"""The wire format shared by consoles and the exporter (seed: ``heartbeat-system.md``).

Plain definitions only: the states, the endpoint paths, the JSON keys, the documented limits
and the validation of incoming payloads. ``heartbeat`` builds payloads that pass these checks;
``exporter`` uses them to accept or reject requests. Neither side imports the other.
"""

from __future__ import annotations

from consola_wire.maintenance import Maintenance, parse_maintenance
from consola_wire.metrics_endpoint import MetricsEndpoint, parse_metricas
from consola_wire.states import (
    ALL_STATES,
    REPORTABLE_STATES,
    STATE_INACTIVA,
    EstadoConsola,
)
from consola_wire.validation import (
    Heartbeat,
    Registration,
    decode_json,
    parse_heartbeat,
    parse_registration,
    validate_console_id,
)
from consola_wire.wire_error import WireError

__all__ = [
    "ALL_STATES",
    "REPORTABLE_STATES",
    "STATE_INACTIVA",
    "EstadoConsola",
    "Heartbeat",
    "Maintenance",
    "MetricsEndpoint",
    "Registration",
    "WireError",
    "decode_json",
    "parse_heartbeat",
    "parse_maintenance",
    "parse_metricas",
    "parse_registration",
    "validate_console_id",
]
