"""gzip built from separately deflated pieces is one valid gzip member of their concatenation."""

from __future__ import annotations

import gzip
import random
import subprocess
import zlib

from exporter.fleet.gzip_pieces import GzipPieces, crc32_combine
from tests.support.tools import require_binary


def test_crc32_combine_equals_the_crc_of_the_concatenation() -> None:
    rng = random.Random(7)
    for size in (0, 1, 2, 3, 255, 4096, 100_003):
        first, second = rng.randbytes(rng.randrange(0, 5000)), rng.randbytes(size)
        combined = crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
        assert combined == zlib.crc32(first + second)


def pieces(seed: int) -> list[tuple[object | None, bytes]]:
    rng = random.Random(seed)
    lines = [f'metric{{console_id="{rng.random()}"}} {rng.random()!r}\n' for _ in range(3000)]
    text = "".join(lines).encode()
    head, tail = text[:40_000], text[40_000:]
    return [((seed, 1), head), (None, b""), ((seed, 2), tail), (None, b"#")]


def test_the_pieces_decompress_to_their_concatenation_with_every_decoder() -> None:
    parts = pieces(1)
    expected = b"".join(data for _, data in parts)
    zipped = GzipPieces().compress(parts)
    assert gzip.decompress(zipped) == expected
    assert zlib.decompress(zipped, wbits=31) == expected
    gunzip = require_binary("gzip")
    result = subprocess.run([gunzip, "-dc"], input=zipped, capture_output=True, check=True)
    assert result.stdout == expected and result.stderr == b""


def test_a_piece_seen_last_time_is_reused_and_a_new_key_is_compressed_again() -> None:
    compressor = GzipPieces()
    first, changed = pieces(1), pieces(2)
    assert compressor.compress(first) == compressor.compress(first)
    mixed = [first[0], first[1], changed[2], first[3]]
    assert gzip.decompress(compressor.compress(mixed)) == b"".join(d for _, d in mixed)
    assert gzip.decompress(compressor.compress(changed)) == b"".join(d for _, d in changed)


def test_no_pieces_make_an_empty_member() -> None:
    assert gzip.decompress(GzipPieces().compress([])) == b""
