"""gzip of an exposition made of pieces, recompressing only the pieces that changed.

Each piece is deflated on its own and ended with a sync flush (byte-aligned, not final), so the
segments concatenate into one valid deflate stream; one gzip member wraps them, with the CRC-32
of the whole text combined from the pieces' CRCs. A scrape where only the ``last_seen`` family
changed recompresses that family alone instead of the whole 100+ MiB text (bench/).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

#: gzip header: deflate, no flags, no mtime, no extra flags, unknown OS (RFC 1952).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
#: An empty final block (fixed Huffman): ends the deflate stream.
FINAL_BLOCK = b"\x03\x00"
_CRC_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """``a * b`` modulo the CRC-32 polynomial (reflected), as zlib's ``multmodp``."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x2n_table() -> tuple[int, ...]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return tuple(table)


_X2N = _x2n_table()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)`` (zlib's algorithm)."""
    p, k, n = 1 << 31, 3, len2  # x^(8 * len2): bits, hence k starts at 3
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


def deflate_segment(data: bytes, level: int) -> bytes:
    """``data`` as raw deflate blocks ending on a byte boundary, not final."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class GzipPieces:
    """Compresses ``(key, bytes)`` pieces; a piece whose key was in the previous call is reused.

    A key must identify its piece's content (None: never reuse). Thread-safe: concurrent calls
    may compress the same piece twice, never mix pieces up.
    """

    def __init__(self, level: int = 1) -> None:
        self.level = level
        self._cache: dict[object, tuple[bytes, int]] = {}

    def compress(self, pieces: Sequence[tuple[object | None, bytes]]) -> bytes:
        """One gzip member holding the concatenation of the pieces' bytes."""
        previous, cache = self._cache, {}
        out = [GZIP_HEADER]
        crc = size = 0
        for key, data in pieces:
            entry = previous.get(key) if key is not None else None
            if entry is None:
                entry = (deflate_segment(data, self.level), zlib.crc32(data))
            if key is not None:
                cache[key] = entry
            out.append(entry[0])
            crc = crc32_combine(crc, entry[1], len(data))
            size += len(data)
        self._cache = cache
        out += [FINAL_BLOCK, struct.pack("<II", crc, size & 0xFFFFFFFF)]
        return b"".join(out)
