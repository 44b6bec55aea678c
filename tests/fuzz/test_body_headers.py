"""The body's headers read in one pass (``body_headers``) are what Starlette's
``request.headers.get`` reads, for any list of headers: absent, repeated, among others."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from exporter.web.request_body import body_headers

NAMES = [b"content-length", b"content-encoding", b"content-type", b"host", b"x-content-length"]
VALUES = st.binary(max_size=12).map(lambda b: bytes(c for c in b if c not in b"\r\n"))


@given(st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=8))
def test_the_same_values_as_starlette_reads(headers: list[tuple[bytes, bytes]]) -> None:
    request = Request({"type": "http", "headers": headers})
    expected = (request.headers.get("content-encoding", ""), request.headers.get("content-length"))
    assert body_headers(request) == expected
