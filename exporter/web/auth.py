"""Roles: the enrollment token, the per-console secrets it buys, the admin and the read tokens.

- Enrollment token (every console's ``HEARTBEAT_API_TOKEN``): ``POST /api/consolas/registrar``
  of a *new* id, answered with a fresh ``secreto``. An id with no stored secret (never enrolled,
  registered while the exporter ran open, or reset by an operator) counts as new. On an enrolled
  id the enrollment token gets 403 and nothing changes: one console cannot take another's id.
- Console secret (``.console-secret``): that console's heartbeats and re-registrations only.
- Admin token (operators): ``DELETE`` of a console, its maintenance, ``DELETE .../secreto``
  (reset, so a console that lost its secret can enroll again); also every read. With an
  enrollment token but no admin token those operations are refused (403 naming the setting).
- Read token (Prometheus, Grafana, people): every ``GET`` except ``/healthz``, ``/readyz`` and
  ``/openapi.json`` (the API reads, ``/metrics``, the status page).
- No token configured: everything open, as the seed describes.

Secrets are 32 random bytes; only their SHA-256 is stored (a fast hash is enough for high-entropy
secrets: nothing to brute-force). Every comparison is constant-time. No token or secret is ever
logged or echoed in an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match

from exporter.config import ExporterConfig
from exporter.storage.records import Credential
from exporter.tokens import new_secret, secret_matches, token_matches
from exporter.web.errors import ApiError

log = logging.getLogger(__name__)

#: ``GET`` paths that stay open with a read token: probes and the API description.
OPEN_READ_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
REALM = 'Bearer realm="consola-heartbeat"'
#: On an answer that carries a secret: no cache or proxy may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Reads a console's stored credential (None: unknown console).
Lookup = Callable[[str], Awaitable[Credential | None]]

MISSING_FOR_REGISTRATION = (
    "registration requires Authorization: Bearer <enrollment token> (HEARTBEAT_API_TOKEN on "
    "the console) or the console's own secret"
)
MISSING_FOR_HEARTBEAT = (
    "a heartbeat requires Authorization: Bearer <console secret> (issued at registration)"
)
MISSING_FOR_DELETE = "retiring a console requires Authorization: Bearer <admin token>"
MISSING_FOR_MAINTENANCE = "a console's maintenance requires Authorization: Bearer <admin token>"
MISSING_FOR_RESET = "resetting a console's secret requires Authorization: Bearer <admin token>"
#: Where an exporter's admin token comes from (named when there is none).
ADMIN_SETTING = "--admin-token-file or HEARTBEAT_ADMIN_TOKEN"


class AuthError(ApiError):
    """401 (no usable credential; with ``WWW-Authenticate``) or 403 (a credential refused)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(
            status, "unauthorized" if status == 401 else "forbidden", "Authorization", message
        )

    def response(self) -> JSONResponse:
        response = super().response()
        if self.status == 401:
            response.headers["WWW-Authenticate"] = REALM
        return response


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is no header.

    Any other scheme or a malformed header is a 401 naming the expected form.
    """
    raw = headers.get("authorization")
    if raw is None:
        return None
    scheme, _, token = raw.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise AuthError(401, "the Authorization header must be 'Bearer <token>'")
    return token


def already_enrolled(console_id: str) -> str:
    """The 403 for the enrollment token on an enrolled id: what the operator can do."""
    return (
        f"console {console_id} is already enrolled: re-register with its own secret "
        f"(.console-secret), or have an operator reset it: heartbeat reset-secret {console_id}"
    )


@dataclass(frozen=True)
class Authenticator:
    """The exporter's token policy; ``None`` tokens mean open (the seed's behaviour)."""

    enrollment_token: str | None = None
    read_token: str | None = None
    admin_token: str | None = None

    @classmethod
    def from_config(cls, config: ExporterConfig) -> Authenticator:
        """The policy of ``config``'s tokens."""
        return cls(config.enrollment_token, config.read_token, config.admin_token)

    @property
    def writes_open(self) -> bool:
        """Registrations, heartbeats and deletions need no credential."""
        return self.enrollment_token is None

    @property
    def reads_open(self) -> bool:
        """Reads and ``/metrics`` need no credential."""
        return self.read_token is None

    def write_credential(self, request: Request, missing: str) -> str | None:
        """The bearer token of a write (None when writes are open); 401 ``missing`` without one."""
        if self.writes_open:
            return None
        token = bearer(request.headers)
        if token is None:
            raise AuthError(401, missing)
        return token

    def is_enrollment(self, token: str) -> bool:
        """Whether ``token`` is the enrollment token."""
        return self.enrollment_token is not None and token_matches(token, self.enrollment_token)

    async def registration_secret(
        self, presented: str | None, console_id: str, lookup: Lookup
    ) -> str | None:
        """The secret to issue: a fresh one for the enrollment token on an id with no stored
        secret; None in open mode or for the console's own secret (it keeps it). 403 for the
        enrollment token on an enrolled id, and for any other credential."""
        if presented is None:
            return None
        credential = await lookup(console_id)
        enrolled = credential is not None and credential.secret_hash is not None
        if self.is_enrollment(presented):
            if enrolled:
                raise AuthError(403, already_enrolled(console_id))
            log.info("console %s enrolled with the enrollment token: new secret issued", console_id)
            return new_secret()
        if credential is None or not secret_matches(presented, credential.secret_hash):
            raise AuthError(403, "neither the enrollment token nor this console's secret")
        return None

    async def check_heartbeat(self, presented: str | None, console_id: str, lookup: Lookup) -> bool:
        """403 unless ``presented`` is this console's secret; False when the console is unknown
        (the caller answers 404 so it registers). Always True in open mode."""
        if presented is None:
            return True
        credential = await lookup(console_id)
        if credential is None:
            return False
        if credential.secret_hash is None:
            raise AuthError(
                403,
                f"console {console_id} has no secret yet; register it again with the "
                "enrollment token",
            )
        if not secret_matches(presented, credential.secret_hash):
            raise AuthError(403, f"the secret is not valid for console {console_id}")
        return True

    def require_admin(self, request: Request, missing: str) -> None:
        """401/403 unless the request carries the admin token. Open when no enrollment and no
        admin token are configured; always 403 with an enrollment token but no admin token."""
        if self.admin_token is None:
            if self.enrollment_token is None:
                return
            raise AuthError(
                403,
                "this operation requires the admin token, and this exporter has none: "
                f"start it with {ADMIN_SETTING} (the enrollment token does not allow it)",
            )
        token = bearer(request.headers)
        if token is None:
            raise AuthError(401, missing)
        if not token_matches(token, self.admin_token):
            raise AuthError(403, "the admin token is not valid")

    def check_read(self, headers: Mapping[str, str]) -> None:
        """401/403 unless the request carries the read token or the admin token (no-op when
        reads are open)."""
        if self.read_token is None:
            return
        token = bearer(headers)
        if token is None:
            raise AuthError(401, "reading requires Authorization: Bearer <read token>")
        admin = self.admin_token is not None and token_matches(token, self.admin_token)
        if not admin and not token_matches(token, self.read_token):
            raise AuthError(403, "the read token is not valid")

    def log_mode(self) -> None:
        """Say at start what is protected, and warn loudly about what is open."""
        if self.writes_open:
            log.warning(
                "OPEN MODE: no enrollment token configured (HEARTBEAT_ENROLLMENT_TOKEN or "
                "--enrollment-token-file): anyone who can reach this port can register consoles "
                "and report for any of them"
            )
        else:
            log.info(
                "registrations require the enrollment token; heartbeats require each "
                "console's own secret"
            )
        if self.admin_token is not None:
            log.info("retiring, maintenance and secret resets require the admin token")
        elif not self.writes_open:
            log.warning(
                "no admin token configured (%s): retiring, maintenance and secret resets "
                "are refused",
                ADMIN_SETTING,
            )
        if self.reads_open:
            log.warning(
                "OPEN MODE: no read token configured (HEARTBEAT_READ_TOKEN or --read-token-file): "
                "the consoles API reads and /metrics are open to anyone who can reach this port"
            )
        else:
            log.info("reads and /metrics require the read token")


class ReadTokenMiddleware:
    """Guards every ``GET``/``HEAD`` except :data:`OPEN_READ_PATHS` with the read token.

    A middleware rather than a check per handler, so a read route added later is guarded by
    default. ``count(route, status)`` records each refusal under the route it was aimed at.
    """

    def __init__(
        self, app: ASGIApp, auth: Authenticator, count: Callable[[str, int], None]
    ) -> None:
        self.app = app
        self.auth = auth
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.auth.reads_open
            or scope.get("method") not in ("GET", "HEAD")
            or scope.get("path") in OPEN_READ_PATHS
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            self.auth.check_read(request.headers)
        except AuthError as exc:
            self.count(_route_name(scope), exc.status)
            await exc.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route_name(scope: Scope) -> str:
    """The route label of ``heartbeat_fleet_http_requests_total`` the request was aimed at."""
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            name = str(getattr(route, "name", "other"))
            return "index" if name == "root" else name
    return "other"
