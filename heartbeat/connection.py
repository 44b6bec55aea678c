"""One persistent HTTP(S) connection to the consoles API, on the standard library alone.

The worker pays for every heartbeat, so this is deliberately small: ``http.client`` with one
kept-alive connection, TLS through an ``ssl`` context that always verifies (a private CA can be
added), and the environment's proxy settings (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``)
honoured as ``urllib`` reads them. Measured against ``requests`` in bench/ (worker cost): about a
third of the CPU per heartbeat and several MiB less resident memory.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: Most bytes of an answer that are read; the API's answers are a few hundred bytes.
MAX_ANSWER_BYTES = 1024 * 1024

#: Errors of a kept-alive connection the server closed while idle: safe to retry once on a
#: fresh connection (nothing of the request was processed).
STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP answer."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes


class ApiConnection:
    """A kept-alive connection to ``base_url``'s origin; reconnects after any failure."""

    def __init__(self, base_url: str, *, ca_bundle: Path | None = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path_prefix = parts.path.rstrip("/")
        self._tls = _tls_context(ca_bundle) if parts.scheme == "https" else None
        self._proxy = _proxy_for(base_url, parts.scheme)
        self._conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        """POST ``body`` to ``path`` (below the base URL); raises ``OSError``/``HTTPException``."""
        target = self.path_prefix + path
        fresh = self._conn is None
        try:
            return self._exchange(target, body, headers, timeout)
        except STALE_CONNECTION_ERRORS:
            self.close()
            if fresh:
                raise
            return self._exchange(target, body, headers, timeout)  # the idle connection had died
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(
        self, target: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> Answer:
        conn = self._connection(timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        if self._proxy is not None and self._tls is None:
            target = f"http://{self.host}:{self.port}{target}"  # plain HTTP through a proxy
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(MAX_ANSWER_BYTES + 1)
        if len(data) > MAX_ANSWER_BYTES or response.will_close:
            self.close()
        return Answer(response.status, response.reason, response.headers, data[:MAX_ANSWER_BYTES])

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is not None:
            return self._conn
        host, port = self._proxy if self._proxy is not None else (self.host, self.port)
        conn: http.client.HTTPConnection
        if self._tls is not None:
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            if self._proxy is not None:
                conn.set_tunnel(self.host, self.port)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self._conn = conn
        return conn


def _tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Verifying context: the system's CAs, or ``ca_bundle`` (a PEM file or a hashed directory)."""
    if ca_bundle is None:
        return ssl.create_default_context()
    if ca_bundle.is_dir():
        return ssl.create_default_context(capath=str(ca_bundle))
    return ssl.create_default_context(cafile=str(ca_bundle))


def _proxy_for(url: str, scheme: str) -> tuple[str, int] | None:
    """The ``(host, port)`` of the proxy the environment sets for ``url``, if any."""
    proxy = urllib.request.getproxies().get(scheme)
    host = urllib.parse.urlsplit(url).hostname or ""
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or 3128
