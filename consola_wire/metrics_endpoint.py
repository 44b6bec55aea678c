"""Where a console's own ``/metrics`` answers: the optional ``metricas`` object and its checks.

Registration and heartbeat bodies may carry ``{"puerto": 29100, "ruta": "/metrics",
"direccion": "<ip or host>"}``. Only ``puerto`` is required inside it; ``ruta`` defaults to
``/metrics``; without ``direccion`` the exporter uses the address the request came from. Unknown
keys inside the object are ignored, as everywhere in the wire format.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from consola_wire import protocol as p
from consola_wire.wire_error import WireError, require_object

_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?")
#: Visible ASCII, no query or fragment: the path Prometheus requests as ``__metrics_path__``.
_PATH = re.compile(r"/[!-~]*")


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """A validated ``metricas`` object; ``direccion`` None means "the request's peer"."""

    puerto: int
    ruta: str = p.DEFAULT_METRICS_PATH
    direccion: str | None = None

    def to_json(self) -> dict[str, object]:
        """The wire object (``direccion`` left out when unknown)."""
        body: dict[str, object] = {p.KEY_PUERTO: self.puerto, p.KEY_RUTA: self.ruta}
        if self.direccion is not None:
            body[p.KEY_DIRECCION] = self.direccion
        return body


def host_problem(value: str) -> str | None:
    """Why ``value`` is not an IP address or host name (None when it is one)."""
    if not value or len(value) > p.MAX_DIRECCION_CHARS:
        return f"must be 1 to {p.MAX_DIRECCION_CHARS} characters"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if all(len(label) <= 63 and _HOST_LABEL.fullmatch(label) for label in labels):
        return None
    return "must be an IP address or a host name (no brackets, port or path)"


def parse_metricas(value: object) -> MetricsEndpoint | None:
    """The ``metricas`` object of a body (None when absent or null), or a ``WireError`` naming
    the offending key (``metricas.puerto``, ``metricas.ruta``, ``metricas.direccion``)."""
    if value is None:
        return None
    obj = require_object(value, p.KEY_METRICAS)
    port = obj.get(p.KEY_PUERTO)
    field = f"{p.KEY_METRICAS}.{p.KEY_PUERTO}"
    if isinstance(port, bool) or not isinstance(port, int):
        raise WireError(field, "must be an integer port number (1-65535)")
    if not 1 <= port <= 65535:
        raise WireError(field, "must be between 1 and 65535")
    path = obj.get(p.KEY_RUTA, p.DEFAULT_METRICS_PATH)
    field = f"{p.KEY_METRICAS}.{p.KEY_RUTA}"
    if not isinstance(path, str):
        raise WireError(field, "must be a string starting with /")
    if len(path) > p.MAX_RUTA_CHARS:
        raise WireError(field, f"is longer than {p.MAX_RUTA_CHARS} characters")
    if not _PATH.fullmatch(path) or "?" in path or "#" in path:
        raise WireError(field, "must start with / and hold visible ASCII, no query or fragment")
    address = obj.get(p.KEY_DIRECCION)
    if address is not None:
        field = f"{p.KEY_METRICAS}.{p.KEY_DIRECCION}"
        if not isinstance(address, str):
            raise WireError(field, f"must be a string; got {type(address).__name__}")
        if (problem := host_problem(address)) is not None:
            raise WireError(field, problem)
    return MetricsEndpoint(port, path, address)


def with_peer(endpoint: MetricsEndpoint | None, peer: str | None) -> MetricsEndpoint | None:
    """``endpoint`` with the request's peer address as ``direccion`` when the console sent none
    (a peer that is no IP address or host name, e.g. a test client's, leaves it unknown)."""
    if endpoint is None or endpoint.direccion is not None or peer is None:
        return endpoint
    if host_problem(peer) is not None:
        return endpoint
    return MetricsEndpoint(endpoint.puerto, endpoint.ruta, peer)


def target_address(direccion: str, puerto: int) -> str:
    """``host:port`` as Prometheus expects a target (IPv6 in brackets: ``[::1]:29100``)."""
    return f"[{direccion}]:{puerto}" if ":" in direccion else f"{direccion}:{puerto}"
