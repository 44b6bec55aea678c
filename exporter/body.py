"""Reading request bodies without ever buffering more than the documented limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from consola_wire import decode_json
from consola_wire.protocol import MAX_BODY_BYTES
from exporter.errors import ApiError


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "invalid_request", "body", f"is larger than the {limit}-byte limit", limit=limit
    )


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> object:
    """Decode the JSON body; 413 past ``limit`` bytes (checked while reading), 400 if malformed."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(415, "invalid_request", "Content-Encoding", f"{encoding!r} is not supported")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "invalid_request", "Content-Length", "must be a number")
        if int(declared) > limit:
            raise _too_large(limit)
    if declared is not None:  # the common case: the size is known and within the limit
        try:
            return decode_json(await request.body())
        except ClientDisconnect:
            raise ApiError(400, "invalid_request", "body", "the client disconnected") from None
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "invalid_request", "body", "the client disconnected") from None
    return decode_json(b"".join(chunks))
