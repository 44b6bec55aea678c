"""``Content-Encoding: gzip`` request bodies, decompressed as they stream in, never past a limit.

A zip bomb (a few KiB that inflate to gigabytes) stops with a 413 as soon as the *decompressed*
size passes the limit: at most ``limit + 1`` bytes are ever produced. Broken, truncated or
trailing-garbage gzip is a 400 that says so.
"""

from __future__ import annotations

import zlib

from starlette.responses import JSONResponse

from consola_wire.protocol import GZIP_ENCODING
from exporter.web.errors import ApiError

#: ``wbits`` for zlib: a gzip header and trailer (CRC and length checked), 32 KiB window.
GZIP_WBITS = 16 + zlib.MAX_WBITS
#: Encodings accepted for request bodies (``x-gzip`` is gzip's old alias, RFC 9110 §8.4.1.3).
GZIP_NAMES = frozenset({GZIP_ENCODING, "x-gzip"})
IDENTITY_NAMES = frozenset({"", "identity"})
#: Answer header telling consoles gzip bodies are welcome (RFC 7694).
ACCEPT_ENCODING_HEADERS = {"Accept-Encoding": GZIP_ENCODING}


def too_large(limit: int, decompressed: bool = False) -> ApiError:
    """413 naming the limit."""
    suffix = " once decompressed" if decompressed else ""
    return ApiError(
        413,
        "invalid_request",
        "body",
        f"is larger than the {limit}-byte limit{suffix}",
        limit=limit,
    )


def bad_gzip(reason: str) -> ApiError:
    """400: the body is not the gzip stream its ``Content-Encoding`` announced."""
    return ApiError(
        400, "invalid_request", "body", f"is not valid gzip (Content-Encoding: gzip): {reason}"
    )


class UnsupportedEncodingError(ApiError):
    """415 for an encoding other than gzip/identity, with ``Accept-Encoding: gzip``."""

    def __init__(self, encoding: str) -> None:
        super().__init__(
            415,
            "invalid_request",
            "Content-Encoding",
            f"{encoding[:40]!r} is not supported; send gzip or no Content-Encoding",
        )

    def response(self) -> JSONResponse:
        response = super().response()
        response.headers.update(ACCEPT_ENCODING_HEADERS)
        return response


def is_gzip(encoding: str) -> bool:
    """Whether a ``Content-Encoding`` header value means gzip; 415 for anything unsupported."""
    value = encoding.strip().lower()
    if value in IDENTITY_NAMES:
        return False
    if value in GZIP_NAMES:
        return True
    raise UnsupportedEncodingError(value)


class BoundedGunzip:
    """Feed compressed chunks, then :meth:`finish`; 413 as soon as the output passes ``limit``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._inflater = zlib.decompressobj(wbits=GZIP_WBITS)
        self._out = bytearray()

    @property
    def produced(self) -> int:
        """Decompressed bytes held so far (never more than ``limit + 1``)."""
        return len(self._out)

    def feed(self, chunk: bytes) -> None:
        """Decompress ``chunk``: 400 if it is not gzip, 413 past the limit."""
        if not chunk:
            return
        if self._inflater.eof:
            raise bad_gzip("data after the end of the gzip stream")
        room = self._limit - len(self._out) + 1  # one byte more than allowed proves "too large"
        try:
            out = self._inflater.decompress(chunk, room)
        except zlib.error as exc:
            raise bad_gzip(str(exc)) from None
        self._out += out
        if len(self._out) > self._limit or self._inflater.unconsumed_tail:
            raise too_large(self._limit, decompressed=True)
        if self._inflater.eof and self._inflater.unused_data:
            raise bad_gzip("data after the end of the gzip stream")

    def finish(self) -> bytes:
        """The whole decompressed body; 400 when the stream stopped before its end."""
        if not self._inflater.eof:
            raise bad_gzip("the stream is truncated")
        return bytes(self._out)
