"""The consoles API: the seed's two endpoints plus the reads, history and retirement."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consola_wire import (
    ALL_STATES,
    WireError,
    parse_heartbeat,
    parse_maintenance,
    parse_registration,
    validate_console_id,
)
from consola_wire.protocol import KEY_SECRETO, KEY_ULTIMA_ACTIVIDAD, REGISTER_PATH
from exporter.service import ExporterService
from exporter.storage.records import Credential
from exporter.tokens import hash_secret
from exporter.web.auth import (
    MISSING_FOR_DELETE,
    MISSING_FOR_HEARTBEAT,
    MISSING_FOR_MAINTENANCE,
    MISSING_FOR_REGISTRATION,
    MISSING_FOR_RESET,
    NO_STORE,
    Authenticator,
    AuthError,
    already_enrolled,
)
from exporter.web.console_json import console_json, history_json, statistics_json
from exporter.web.decompress import ACCEPT_ENCODING_HEADERS
from exporter.web.errors import ApiError, endpoint
from exporter.web.request_body import read_json

T = TypeVar("T")

API_PREFIX = "/api"
DEFAULT_LIST_LIMIT = 1000
MAX_LIST_LIMIT = 10000
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 10000
DEFAULT_MINUTES = 10.0
MAX_MINUTES = 10_000_000.0
MAX_OFFSET = 1_000_000_000


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WireError(name, "must be an integer") from None
    if not low <= value <= high:
        raise WireError(name, f"must be between {low} and {high}")
    return value


def _parse(parse: Callable[[object, str | None], T], body: object, request: Request) -> T:
    """Validate with ``parse``, the request's peer address standing in for a ``metricas``
    without ``direccion``; a timestamp outside datetime's range is a 400, not a 500."""
    try:
        return parse(body, request.client.host if request.client else None)
    except OverflowError:  # e.g. "9999-12-31T23:59:59-05:00" converted to UTC
        raise WireError(KEY_ULTIMA_ACTIVIDAD, "is outside the supported date range") from None


def _heartbeat_answer(console_id: str, estado: str) -> Response:
    """The heartbeat's 200: ``{"ok":true,"id":…,"estado":…}``, byte for byte what
    ``JSONResponse`` writes (a canonical UUID and a known state need no escaping), without an
    encoder built per heartbeat."""
    body = b'{"ok":true,"id":"%s","estado":"%s"}' % (console_id.encode(), estado.encode())
    return Response(body, media_type="application/json", headers=ACCEPT_ENCODING_HEADERS)


def _path_id(request: Request) -> str:
    return validate_console_id(request.path_params["console_id"], "id")


def _not_found(console_id: str) -> ApiError:
    return ApiError(404, "not_found", "id", f"console {console_id} is not registered")


def api_routes(service: ExporterService) -> list[Route]:  # noqa: PLR0915 (one closure per route)
    """Routes under ``/api`` bound to ``service``."""
    storage = service.storage
    m = service.metrics
    auth = Authenticator.from_config(service.config)

    async def credential(console_id: str) -> Credential | None:
        return await service.read(lambda: storage.credential(console_id))

    @endpoint("registrar", m)
    async def registrar(request: Request) -> Response:
        """POST /api/consolas/registrar — idempotent registration (issues secrets with tokens)."""
        presented = auth.write_credential(request, MISSING_FOR_REGISTRATION)
        registration = _parse(parse_registration, await read_json(request), request)
        secret = await auth.registration_secret(presented, registration.console_id, credential)
        result = await service.register(registration, hash_secret(secret) if secret else None)
        if result.already_enrolled:  # another enrollment of this id committed first
            raise AuthError(403, already_enrolled(registration.console_id))
        body: dict[str, Any] = {"ok": True, "id": registration.console_id, "creada": result.created}
        headers = dict(ACCEPT_ENCODING_HEADERS)
        if secret is not None:
            body[KEY_SECRETO] = secret
            headers.update(NO_STORE)
        return JSONResponse(body, status_code=201 if result.created else 200, headers=headers)

    @endpoint("heartbeat", m)
    async def heartbeat(request: Request) -> Response:
        """POST /api/consolas/{id}/heartbeat — 404 asks an unknown console to register."""
        console_id = _path_id(request)
        presented = auth.write_credential(request, MISSING_FOR_HEARTBEAT)
        beat = _parse(parse_heartbeat, await read_json(request), request)
        known = await auth.check_heartbeat(presented, console_id, credential)
        if not known or not await service.heartbeat(console_id, beat):
            raise ApiError(
                404,
                "not_registered",
                "id",
                f"console {console_id} is not registered; register it with "
                f"POST {API_PREFIX}{REGISTER_PATH}",
                registrar=API_PREFIX + REGISTER_PATH,
            )
        return _heartbeat_answer(console_id, beat.estado)

    @endpoint("consolas", m)
    async def consolas(request: Request) -> Response:
        """GET /api/consolas?estado=&limit=&offset= — the fleet, ordered by id."""
        estado = request.query_params.get("estado")
        if estado is not None and estado not in ALL_STATES:
            raise WireError("estado", f"must be one of {', '.join(ALL_STATES)}")
        limit = _int_param(request, "limit", DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT)
        offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
        rows, total = await service.read(lambda: storage.list_consoles(estado, limit, offset))
        body: dict[str, Any] = {
            "consolas": [console_json(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
        return JSONResponse(body)

    async def console_answer(console_id: str) -> Response:
        """The console as JSON, or its 404."""
        record = await service.read(lambda: storage.get_console(console_id))
        if record is None:
            raise _not_found(console_id)
        return JSONResponse(console_json(record))

    @endpoint("consola", m)
    async def consola(request: Request) -> Response:
        """GET /api/consolas/{id}."""
        return await console_answer(_path_id(request))

    @endpoint("inactivas", m)
    async def inactivas(request: Request) -> Response:
        """GET /api/consolas/inactivas?minutos=10 — which consoles stopped reporting: silent
        longer than ``minutos`` by the server's receive time, those already marked ``inactiva``
        for silence included, those that said goodbye left out."""
        raw = request.query_params.get("minutos")
        minutos = DEFAULT_MINUTES
        if raw is not None:
            try:
                minutos = float(raw)
            except ValueError:
                raise WireError("minutos", "must be a number") from None
            if not math.isfinite(minutos) or not 0 < minutos <= MAX_MINUTES:
                raise WireError("minutos", f"must be greater than 0 and at most {MAX_MINUTES:g}")
        cutoff = service.clock() - minutos * 60.0
        rows = await service.read(lambda: storage.silent_since(cutoff))
        body = {"minutos": minutos, "consolas": [console_json(r) for r in rows], "total": len(rows)}
        return JSONResponse(body)

    @endpoint("estadisticas", m)
    async def estadisticas(request: Request) -> Response:
        """GET /api/consolas/estadisticas — the seed's second query, every state listed."""
        rows = {r.estado: r for r in await service.read(storage.statistics)}
        estados = []
        for estado in ALL_STATES:
            row = rows.get(estado)
            if row is None:
                estados.append(
                    {
                        "estado": estado,
                        "total": 0,
                        "ultimaActividadMax": None,
                        "ultimoContactoMax": None,
                    }
                )
            else:
                estados.append(statistics_json(row))
        return JSONResponse({"estados": estados, "total": sum(r.total for r in rows.values())})

    @endpoint("historial", m)
    async def historial(request: Request) -> Response:
        """GET /api/consolas/{id}/historial?limit= — state changes, newest first."""
        console_id = _path_id(request)
        limit = _int_param(request, "limit", DEFAULT_HISTORY_LIMIT, 1, MAX_HISTORY_LIMIT)
        entries = await service.read(lambda: storage.history(console_id, limit))
        if not entries and await service.read(lambda: storage.get_console(console_id)) is None:
            raise _not_found(console_id)
        return JSONResponse({"id": console_id, "historial": [history_json(e) for e in entries]})

    @endpoint("mantenimiento", m)
    async def mantenimiento(request: Request) -> Response:
        """POST /api/consolas/{id}/mantenimiento {minutos | hasta, motivo} — the console is off on
        purpose until then: it pages nobody. DELETE ends it. Both answer the console."""
        console_id = _path_id(request)
        auth.require_admin(request, MISSING_FOR_MAINTENANCE)
        if request.method == "DELETE":
            until, reason = None, None
        else:
            window = parse_maintenance(await read_json(request), service.clock())
            until, reason = window.until, window.reason
        if not await service.maintenance(console_id, until, reason):
            raise _not_found(console_id)
        return await console_answer(console_id)

    @endpoint("eliminar", m)
    async def eliminar(request: Request) -> Response:
        """DELETE /api/consolas/{id} — retire a console and its history."""
        console_id = _path_id(request)
        auth.require_admin(request, MISSING_FOR_DELETE)
        if not await service.delete(console_id):
            raise _not_found(console_id)
        return JSONResponse({"ok": True, "id": console_id})

    @endpoint("secreto", m)
    async def reset_secret(request: Request) -> Response:
        """DELETE /api/consolas/{id}/secreto — forget the console's secret (nothing else), so
        the enrollment token may enroll that id again."""
        console_id = _path_id(request)
        auth.require_admin(request, MISSING_FOR_RESET)
        if not await service.reset_secret(console_id):
            raise _not_found(console_id)
        return JSONResponse({"ok": True, "id": console_id})

    return [
        # The heartbeat first: it is nearly all the traffic, and routes are tried in order.
        Route("/api/consolas/{console_id}/heartbeat", heartbeat, methods=["POST"]),
        Route("/api/consolas/registrar", registrar, methods=["POST"]),
        Route("/api/consolas", consolas, methods=["GET"]),
        Route("/api/consolas/inactivas", inactivas, methods=["GET"]),
        Route("/api/consolas/estadisticas", estadisticas, methods=["GET"]),
        Route("/api/consolas/{console_id}/historial", historial, methods=["GET"]),
        Route(
            "/api/consolas/{console_id}/mantenimiento", mantenimiento, methods=["POST", "DELETE"]
        ),
        Route("/api/consolas/{console_id}", consola, methods=["GET"]),
        Route("/api/consolas/{console_id}", eliminar, methods=["DELETE"]),
        Route("/api/consolas/{console_id}/secreto", reset_secret, methods=["DELETE"]),
    ]
