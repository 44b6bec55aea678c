"""The writer process's wire: length-prefixed pickles over a Unix socket pair.

Both ends are this program (the exporter and the child it starts, over a socket pair nobody else
holds), so pickle is safe here; it carries the storage's own operation and result classes.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import operator
import pickle
import socket
import struct
import typing
from collections.abc import Callable
from typing import Any

from consola_wire import Heartbeat, MetricsEndpoint, Registration
from exporter.storage.records import WriteOp, WriteResult
from exporter.writing.batch import BatchOutcome

_HEADER = struct.Struct("!I")
#: Frames larger than this are refused (a batch of 2,048 heartbeats is well under 16 MiB).
MAX_FRAME_BYTES = 256 * 1024 * 1024


def _reducer(cls: type) -> Callable[[Any], tuple[type, tuple[Any, ...]]]:
    """How pickle takes a frozen dataclass apart: its fields in one C call (``attrgetter``),
    rebuilt through ``cls(*fields)``; the dataclass's own ``__getstate__`` walks ``fields()``
    in Python for every object, more than half of a heartbeat batch's pickling time."""
    names = [f.name for f in dataclasses.fields(cls)]
    get = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (cls, (get(obj),))
    return lambda obj: (cls, get(obj))


#: Every dataclass a batch or its answer carries.
_CLASSES = (
    *typing.get_args(WriteOp),
    *typing.get_args(WriteResult),
    Heartbeat,
    Registration,
    MetricsEndpoint,
    BatchOutcome,
)
_DISPATCH = {cls: _reducer(cls) for cls in _CLASSES}


def encode(value: Any) -> bytes:
    """``value`` as one frame."""
    buffer = io.BytesIO()
    buffer.write(_HEADER.pack(0))
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    _HEADER.pack_into(buffer.getbuffer(), 0, buffer.tell() - _HEADER.size)
    return buffer.getvalue()


class FrameReader:
    """Splits a byte stream into the values of its frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        #: Values read by :func:`receive` and not yet returned.
        self.ready: collections.deque[Any] = collections.deque()

    def feed(self, data: bytes) -> list[Any]:
        """The values of the frames that ``data`` completes, in order."""
        buffer = self._buffer
        buffer += data
        values = []
        start = 0
        while len(buffer) - start >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, start)
            if size > MAX_FRAME_BYTES:
                raise ValueError(f"writer frame of {size} bytes")
            end = start + _HEADER.size + size
            if len(buffer) < end:
                break
            values.append(pickle.loads(bytes(buffer[start + _HEADER.size : end])))
            start = end
        del buffer[:start]
        return values


def receive(sock: socket.socket, reader: FrameReader) -> Any:
    """The next value from a blocking ``sock``; EOFError when the other end has closed."""
    while not reader.ready:
        data = sock.recv(1 << 20)
        if not data:
            raise EOFError("the other end closed the socket")
        reader.ready.extend(reader.feed(data))
    return reader.ready.popleft()
