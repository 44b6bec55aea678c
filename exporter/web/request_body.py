"""Reading request bodies without ever buffering more than the documented limit.

Plain or ``Content-Encoding: gzip`` bodies: the limit applies to what arrives and, for gzip, to
what it decompresses to (a zip bomb gets its 413 after at most ``limit + 1`` bytes of output).
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from consola_wire import decode_json
from consola_wire.protocol import MAX_BODY_BYTES
from exporter.web.decompress import BoundedGunzip, is_gzip
from exporter.web.errors import ApiError, ClientGoneError


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "invalid_request", "body", f"is larger than the {limit}-byte limit", limit=limit
    )


def body_headers(request: Request) -> tuple[str, str | None]:
    """``Content-Encoding`` (``""`` when absent) and ``Content-Length`` (None), each the first
    one sent as ``request.headers.get`` reads it, in one pass over the headers."""
    encoding: bytes | None = None
    length: bytes | None = None
    for name, value in request.scope["headers"]:
        if name == b"content-length":
            length = value if length is None else length
        elif name == b"content-encoding":
            encoding = value if encoding is None else encoding
    return (
        "" if encoding is None else encoding.decode("latin-1"),
        None if length is None else length.decode("latin-1"),
    )


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> object:
    """Decode the JSON body; 413 past ``limit`` bytes (checked while reading and, for gzip, while
    decompressing), 400 if malformed, 415 for an encoding other than gzip."""
    encoding, declared = body_headers(request)
    gzipped = is_gzip(encoding)  # 415 for other encodings
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "invalid_request", "Content-Length", "must be a number")
        if int(declared) > limit:
            raise _too_large(limit)
    if declared is not None and not gzipped:  # the common case: known size, within the limit
        try:
            return decode_json(await request.body())
        except ClientDisconnect:
            raise ClientGoneError from None
    inflater = BoundedGunzip(limit) if gzipped else None
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            if inflater is not None:
                inflater.feed(chunk)
            else:
                chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGoneError from None
    return decode_json(inflater.finish() if inflater is not None else b"".join(chunks))
