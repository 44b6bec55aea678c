"""HTTP to the consoles API: one kept-alive connection, timeouts, failures classified not raised.

TLS certificates are always verified (``HEARTBEAT_CA_BUNDLE`` names the CAs to trust). Bodies are
gzip-compressed when ``HEARTBEAT_COMPRESSION`` is ``on``, or in ``auto`` once an answer of the
server carried ``Accept-Encoding: gzip``; a 415 in ``auto`` drops back to plain JSON at once.
"""

from __future__ import annotations

import gzip
import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consola_wire.protocol import GZIP_ENCODING
from heartbeat.connection import Answer, ApiConnection
from heartbeat.version import __version__

USER_AGENT = f"consola-heartbeat/{__version__}"

#: Auth failures: 401 (no or malformed credential) and 403 (a credential the server refuses).
AUTH_FAILURE_STATUSES = (401, 403)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request came to. ``reason`` is one of ``state.FAILURE_REASONS`` on failure."""

    ok: bool
    status: int | None = None
    reason: str | None = None
    detail: str = ""
    #: The JSON object of a 2xx answer (``None`` when it had none).
    data: dict[str, Any] | None = None

    @property
    def not_found(self) -> bool:
        """The API answered 404: it does not know this console (any more)."""
        return self.status == 404

    @property
    def auth_failed(self) -> bool:
        """The API refused the credential (or its absence): 401 or 403."""
        return self.status in AUTH_FAILURE_STATUSES


class ApiClient:
    """POSTs JSON below ``API_BASE_URL``. Used from a single thread (the sender's)."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        ca_bundle: Path | None = None,
        compression: str = "auto",
    ) -> None:
        self._timeout = timeout
        self._connection = ApiConnection(base_url, ca_bundle=ca_bundle)
        self._compression = compression
        self._gzip = compression == "on"

    @property
    def compressing(self) -> bool:
        """Whether the next body goes out gzip-compressed."""
        return self._gzip

    def post(
        self,
        path: str,
        body: dict[str, Any],
        timeout: float | None = None,
        token: str | None = None,
    ) -> Outcome:
        """Send ``body`` (with ``Authorization: Bearer <token>`` when given); never raises."""
        outcome = self._post(path, body, timeout, token, compress=self._gzip)
        if outcome.status == 415 and self._gzip and self._compression == "auto":
            self._gzip = False  # the server no longer takes gzip: plain JSON, right away
            outcome = self._post(path, body, timeout, token, compress=False)
        return outcome

    def _post(
        self,
        path: str,
        body: dict[str, Any],
        timeout: float | None,
        token: str | None,
        *,
        compress: bool,
    ) -> Outcome:
        limit = self._timeout if timeout is None else timeout
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if compress:
            headers["Content-Encoding"] = GZIP_ENCODING
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = self._connection.post(path, _encode(body, compress), headers, limit)
        except TimeoutError as exc:
            return Outcome(False, None, "timeout", f"timeout after {limit:g}s ({_short(exc)})")
        except (OSError, http.client.HTTPException) as exc:  # TLS verification failures included
            return Outcome(False, None, "connection", _short(exc))
        except Exception as exc:  # never raise into the worker because of the network
            return Outcome(False, None, "other", f"{type(exc).__name__}: {_short(exc)}")
        self._learn_encoding(answer)
        status = answer.status
        if 200 <= status < 300:
            return Outcome(True, status, data=_json_object(answer))
        if 400 <= status < 500:
            reason = "http_4xx"
        elif 500 <= status < 600:
            reason = "http_5xx"
        else:
            reason = "other"
        return Outcome(False, status, reason, f"HTTP {status} {answer.reason or ''}".strip())

    def _learn_encoding(self, response: Answer) -> None:
        if self._compression != "auto" or self._gzip:
            return
        accepted = response.headers.get("Accept-Encoding", "")
        if GZIP_ENCODING in (item.split(";")[0].strip().lower() for item in accepted.split(",")):
            self._gzip = True

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def _encode(body: dict[str, Any], compress: bool) -> bytes:
    data = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    raw = data.encode("utf-8")
    return gzip.compress(raw, compresslevel=6, mtime=0) if compress else raw


def _json_object(answer: Answer) -> dict[str, Any] | None:
    if "json" not in answer.headers.get("Content-Type", ""):
        return None
    try:
        value = json.loads(answer.body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
