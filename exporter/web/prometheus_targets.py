"""``GET /api/prometheus/targets``: every console's own ``/metrics`` in Prometheus's http_sd format.

One target group per console whose endpoint is known (its ``metricas``), that has not stopped
cleanly and is not retired: ``{"targets": ["host:port"], "labels": {...}}``. ``console_id`` is a
target label; the ``__meta_consola_*`` labels are there for relabeling (``__meta_consola_ruta``
into ``__metrics_path__``) and are dropped by Prometheus afterwards unless kept. The whole list
every time (http_sd has no increments), ``[]`` when there is none. Behind the read token when one
is configured (the middleware guards every GET).
"""

from __future__ import annotations

from functools import partial
from json.encoder import encode_basestring

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consola_wire import ALL_STATES, WireError
from consola_wire.metrics_endpoint import target_address
from consola_wire.protocol import PROMETHEUS_TARGETS_PATH
from exporter.service import ExporterService
from exporter.storage.base import Storage
from exporter.storage.records import TargetRow
from exporter.web.errors import endpoint

#: Target label with the console's id, and the prefix of the relabeling-only labels.
CONSOLE_ID_LABEL = "console_id"
META_PREFIX = "__meta_consola_"
#: The content type http_sd requires.
CONTENT_TYPE = "application/json"


def targets_json(rows: list[TargetRow]) -> bytes:
    """The http_sd document for ``rows`` (UTF-8 JSON), byte for byte what ``json.dumps`` of the
    groups gives with ``ensure_ascii=False`` and compact separators, at a seventh of its time
    (500 ms at 100,000 consoles, bench/targets.py): each string goes through the encoder
    ``json`` itself uses, the rest is a fixed template (tests/exporter/test_prometheus_targets.py
    compares the two)."""
    q = encode_basestring
    nombre_key, hostname_key = q(META_PREFIX + "nombre"), q(META_PREFIX + "hostname")
    estado_key, ruta_key = q(META_PREFIX + "estado"), q(META_PREFIX + "ruta")
    groups = [
        f'{{"targets":[{q(target_address(address, port))}],"labels":{{"{CONSOLE_ID_LABEL}":'
        f"{q(console_id)},{nombre_key}:{q(nombre)},{hostname_key}:{q(hostname)},"
        f"{estado_key}:{q(estado)},{ruta_key}:{q(path)}}}}}"
        for console_id, nombre, hostname, estado, address, port, path in rows
    ]
    return ("[" + ",".join(groups) + "]").encode("utf-8")


def read_targets(storage: Storage, estado: str | None) -> bytes:
    """One query and its document (run off the event loop: it is a whole fleet at once)."""
    return targets_json(storage.metrics_targets(estado))


def prometheus_routes(service: ExporterService) -> list[Route]:
    """The discovery route bound to ``service``."""

    @endpoint("prometheus_targets", service.metrics)
    async def prometheus_targets(request: Request) -> Response:
        """GET /api/prometheus/targets?estado= — Prometheus http_sd target groups."""
        estado = request.query_params.get("estado")
        if estado is not None and estado not in ALL_STATES:
            raise WireError("estado", f"must be one of {', '.join(ALL_STATES)}")
        body = await service.read(partial(read_targets, service.storage, estado))
        return Response(body, media_type=CONTENT_TYPE)

    return [Route(PROMETHEUS_TARGETS_PATH, prometheus_targets, methods=["GET"])]
