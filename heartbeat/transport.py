"""HTTP to the consoles API on ``requests``: one kept-alive session, failures classified not raised.

TLS certificates are always verified. ``HEARTBEAT_CA_BUNDLE`` (a PEM file or a hashed directory)
is passed as ``verify`` on every request, so ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` cannot
replace it; without it, requests' own trust applies (certifi's CAs, or ``REQUESTS_CA_BUNDLE``),
and nothing in the environment can turn verification off. Proxies come from the environment as
requests reads them (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``). Bodies are gzip-compressed when
``HEARTBEAT_COMPRESSION`` is ``on``, or in ``auto`` once an answer of the server carried
``Accept-Encoding: gzip``; a 415 in ``auto`` drops back to plain JSON at once.

A kept-alive connection the server closed while idle is noticed by urllib3 before it is reused
(it opens a fresh one), so an idle timeout on the server costs no failed beat.
"""

from __future__ import annotations

import gzip
import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.auth import AuthBase
from urllib3.exceptions import ReadTimeoutError

from consola_wire.protocol import GZIP_ENCODING
from heartbeat.version import __version__

USER_AGENT = f"consola-heartbeat/{__version__}"

#: Auth failures: 401 (no or malformed credential) and 403 (a credential the server refuses).
AUTH_FAILURE_STATUSES = (401, 403)

#: Most bytes of an answer that are read; the API's answers are a few hundred bytes.
MAX_ANSWER_BYTES = 1024 * 1024

_CHUNK_BYTES = 64 * 1024


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


class BearerToken(AuthBase):
    """``Authorization: Bearer <token>`` (nothing when ``token`` is ``None``).

    Always passed as ``auth``, so requests never looks the host up in ``~/.netrc`` (whose Basic
    credentials would otherwise replace the console's token).
    """

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def tls_verify(ca_bundle: Path | None) -> str | bool:
    """``verify=`` for every request to the API, the library's and the operator commands':
    ``HEARTBEAT_CA_BUNDLE`` when set, else requests' own trust; never off."""
    return str(ca_bundle) if ca_bundle is not None else True


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
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        #: Explicit on every request: a configured bundle always wins over the environment's.
        self._verify = tls_verify(ca_bundle)
        self._compression = compression
        self._gzip = compression == "on"
        self._session = requests.Session()
        self._session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "identity",  # answers are tiny; none to inflate
                "Content-Type": "application/json",
            }
        )

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
        headers = {"Content-Encoding": GZIP_ENCODING} if compress else None
        try:
            with self._session.post(
                self._base_url + path,
                data=_encode(body, compress),
                headers=headers,
                auth=BearerToken(token),
                timeout=(limit, limit),  # connecting, and each wait for the answer
                verify=self._verify,
                stream=True,  # read at most MAX_ANSWER_BYTES of the answer
                allow_redirects=False,
            ) as response:
                answer = _bounded_body(response)
        except Exception as exc:  # never raise into the worker because of the network
            return _failure(exc, limit)
        self._learn_encoding(response)
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(True, status, data=_json_object(response, answer))
        if 400 <= status < 500:
            reason = "http_4xx"
        elif 500 <= status < 600:
            reason = "http_5xx"
        else:
            reason = "other"
        return Outcome(False, status, reason, f"HTTP {status} {response.reason or ''}".strip())

    def _learn_encoding(self, response: requests.Response) -> None:
        if self._compression != "auto" or self._gzip:
            return
        accepted = response.headers.get("Accept-Encoding", "")
        if GZIP_ENCODING in (item.split(";")[0].strip().lower() for item in accepted.split(",")):
            self._gzip = True

    def close(self) -> None:
        """Close the kept-alive connection."""
        self._session.close()


def _encode(body: dict[str, Any], compress: bool) -> bytes:
    data = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    raw = data.encode("utf-8")
    return gzip.compress(raw, compresslevel=6, mtime=0) if compress else raw


def _bounded_body(response: requests.Response) -> bytes:
    """At most ``MAX_ANSWER_BYTES`` of the body; past that the connection is dropped, not read."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK_BYTES):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            break  # closing an unfinished response closes its connection
    return b"".join(chunks)[:MAX_ANSWER_BYTES]


def _failure(exc: Exception, limit: float) -> Outcome:
    """A request that got no answer, by ``state.FAILURE_REASONS``."""
    if isinstance(exc, requests.Timeout) or _read_timeout_in_body(exc):
        return Outcome(False, None, "timeout", f"timeout after {limit:g}s ({_short(exc)})")
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Outcome(False, None, "connection", _short(exc))  # TLS verification included
    return Outcome(False, None, "other", f"{type(exc).__name__}: {_short(exc)}")


def _read_timeout_in_body(exc: Exception) -> bool:
    """requests reports a read timeout while streaming the body as a ``ConnectionError``."""
    return isinstance(exc, requests.ConnectionError) and any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    )


def _json_object(response: requests.Response, answer: bytes) -> dict[str, Any] | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        value = json.loads(answer)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
