"""HTTP to the consoles API: one ``requests.Session``, timeouts, failures classified not raised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from heartbeat.version import __version__


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request came to. ``reason`` is one of ``state.FAILURE_REASONS`` on failure."""

    ok: bool
    status: int | None = None
    reason: str | None = None
    detail: str = ""

    @property
    def not_found(self) -> bool:
        """The API answered 404: it does not know this console (any more)."""
        return self.status == 404


class ApiClient:
    """POSTs JSON below ``API_BASE_URL``. Used from a single thread (the sender's)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"consola-heartbeat/{__version__}"

    def post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Outcome:
        """Send ``body``; any exception becomes a failed :class:`Outcome`."""
        limit = self._timeout if timeout is None else timeout
        try:
            response = self._session.post(self._base_url + path, json=body, timeout=(limit, limit))
            response.close()
        except requests.Timeout as exc:
            return Outcome(False, None, "timeout", f"timeout after {limit:g}s ({_short(exc)})")
        except requests.ConnectionError as exc:
            return Outcome(False, None, "connection", _short(exc))
        except Exception as exc:  # never raise into the worker because of the network
            return Outcome(False, None, "other", f"{type(exc).__name__}: {_short(exc)}")
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(True, status)
        if 400 <= status < 500:
            reason = "http_4xx"
        elif 500 <= status < 600:
            reason = "http_5xx"
        else:
            reason = "other"
        return Outcome(False, status, reason, f"HTTP {status} {response.reason or ''}".strip())

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
