"""The writer process's wire: every value a batch or its answer carries comes back unchanged.

``frames.encode`` pickles the storage's frozen dataclasses through a dispatch table of its own
(``attrgetter`` over the fields); these tests pin that it carries every field of every class as
plain pickle does, and that ``FrameReader`` splits a byte stream back into the same values.
"""

from __future__ import annotations

import dataclasses
import pickle
import socket
import struct
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from consola_wire import Heartbeat, MetricsEndpoint, Registration
from exporter.storage.records import (
    DeleteOp,
    FoundResult,
    HeartbeatOp,
    MaintenanceOp,
    PruneOp,
    PruneResult,
    RegisterOp,
    RegisterResult,
    ResetSecretOp,
    StorageUnavailableError,
    SweepOp,
    SweepResult,
    WriteOp,
    WriteResult,
)
from exporter.writing.batch import BatchOutcome
from exporter.writing.frames import MAX_FRAME_BYTES, FrameReader, encode, receive

ID = "00000000-0000-4000-8000-00000000002a"
NOW = 1_764_756_000.25

ENDPOINT = MetricsEndpoint(puerto=29_101, ruta="/m", direccion="10.0.0.7")
REGISTRATION = Registration(
    console_id=ID,
    nombre="Consola ñ",
    estado="esperando",
    sistema={"hostname": "h", "platform": "win32", "extra": [1, 2.5, None, {"k": True}]},
    ultima_actividad=datetime(2026, 12, 1, 20, 0, 0, 123_456, tzinfo=UTC),
    interval_seconds=30.5,
    metricas=ENDPOINT,
)
HEARTBEAT = Heartbeat(
    estado="ocupada",
    sistema={"hostname": "h", "nodeVersion": "v20.1.0"},
    ultima_actividad=datetime(2026, 12, 1, 21, 0, tzinfo=timezone(timedelta(hours=-3))),
    ultimo_error={"mensaje": "disco lleno", "codigo": 28},
    video_en_proceso="Video 3 (2/5)",
    interval_seconds=15.0,
    metricas=ENDPOINT,
)
#: A heartbeat with every optional field None, as a Node console sends it.
BARE_HEARTBEAT = Heartbeat(
    estado="activa",
    sistema=None,
    ultima_actividad=None,
    ultimo_error=None,
    video_en_proceso=None,
    interval_seconds=None,
)
BARE_REGISTRATION = Registration(
    console_id=ID,
    nombre="n",
    estado="activa",
    sistema=None,
    ultima_actividad=None,
    interval_seconds=None,
)

#: One value of each class, every field set to something other than its default.
SAMPLES: dict[type, Any] = {
    RegisterOp: RegisterOp(REGISTRATION, NOW, 600.0, secret_hash="scrypt$abc"),
    HeartbeatOp: HeartbeatOp(ID, HEARTBEAT, NOW, 900.0),
    DeleteOp: DeleteOp(ID),
    SweepOp: SweepOp(
        NOW, started_at=NOW - 50, stale_after=NOW - 10, retire_before=NOW - 5, consoles=(ID,)
    ),
    PruneOp: PruneOp(before=NOW - 86_400),
    MaintenanceOp: MaintenanceOp(ID, NOW, until=NOW + 3_600, reason="red"),
    ResetSecretOp: ResetSecretOp(ID),
    RegisterResult: RegisterResult(created=True, already_enrolled=True),
    FoundResult: FoundResult(found=True),
    SweepResult: SweepResult(marked=(ID,), maintenance_ended=(ID, "b"), retired=("c",)),
    PruneResult: PruneResult(deleted=7),
    Heartbeat: HEARTBEAT,
    Registration: REGISTRATION,
    MetricsEndpoint: ENDPOINT,
    BatchOutcome: BatchOutcome([FoundResult(True)], unavailable="SQLite: disk I/O error"),
}
WIRE_CLASSES = (*typing.get_args(WriteOp), *typing.get_args(WriteResult))


def same(a: Any, b: Any) -> bool:
    """Equality, with exceptions equal when their type and arguments are."""
    if isinstance(a, BaseException):
        return type(a) is type(b) and a.args == b.args
    if isinstance(a, BatchOutcome):
        return (
            type(b) is BatchOutcome
            and a.unavailable == b.unavailable
            and len(a.outcomes) == len(b.outcomes)
            and all(same(x, y) for x, y in zip(a.outcomes, b.outcomes, strict=True))
        )
    return type(a) is type(b) and bool(a == b)


def through_a_frame(value: Any) -> Any:
    [decoded] = FrameReader().feed(encode(value))
    return decoded


def test_every_write_and_result_class_has_a_sample() -> None:
    assert set(WIRE_CLASSES) <= set(SAMPLES), "add a sample of the new class to SAMPLES"


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda cls: cls.__name__)
def test_every_field_of_a_sample_differs_from_its_default(cls: type) -> None:
    # So that a field the frame did not carry (and the class rebuilt with its default) shows.
    value = SAMPLES[cls]
    assert type(value) is cls
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            assert getattr(value, f.name) != f.default, f"{cls.__name__}.{f.name}"
        assert getattr(value, f.name) is not None, f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize(
    "value",
    [
        *SAMPLES.values(),
        BARE_HEARTBEAT,
        BARE_REGISTRATION,
        HeartbeatOp(ID, BARE_HEARTBEAT, NOW, 600.0),
        RegisterOp(BARE_REGISTRATION, NOW, 600.0),
        SweepOp(NOW, started_at=NOW),
        MaintenanceOp(ID, NOW, until=None),
        MetricsEndpoint(puerto=1),
        BatchOutcome(
            [
                StorageUnavailableError("SQLite: database is locked"),
                RegisterResult(created=False),
                ValueError("sistema: bad"),
                SweepResult(marked=()),
            ],
            unavailable="SQLite: database is locked",
        ),
        [SAMPLES[cls] for cls in WIRE_CLASSES],
        {"database": "sqlite:///x.db", "sqlite_synchronous": "full", "log_level": 20},
        ("ready", 4242),
    ],
    ids=lambda value: type(value).__name__,
)
def test_a_value_comes_back_as_plain_pickle_gives_it(value: Any) -> None:
    decoded = through_a_frame(value)
    plain = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    if isinstance(value, list):
        assert all(same(a, b) for a, b in zip(value, decoded, strict=True))
        assert all(same(a, b) for a, b in zip(plain, decoded, strict=True))
    else:
        assert same(value, decoded)
        assert same(plain, decoded)


def test_a_sample_keeps_every_field_through_a_frame() -> None:
    for cls, value in SAMPLES.items():
        decoded = through_a_frame(value)
        for f in dataclasses.fields(cls):
            assert same(getattr(decoded, f.name), getattr(value, f.name)), (
                f"{cls.__name__}.{f.name}"
            )


def test_the_datetimes_keep_their_time_zone() -> None:
    decoded = through_a_frame(HEARTBEAT)
    assert decoded.ultima_actividad.utcoffset() == timedelta(hours=-3)


VALUES = [SAMPLES[HeartbeatOp], SAMPLES[SweepResult], BARE_HEARTBEAT, "", None]


def test_frames_split_at_every_byte_boundary_come_back_whole() -> None:
    stream = b"".join(encode(value) for value in VALUES)
    for cut in range(len(stream) + 1):
        reader = FrameReader()
        decoded = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert decoded == VALUES, f"cut at byte {cut}"


def test_a_stream_fed_one_byte_at_a_time_gives_each_value_when_its_frame_ends() -> None:
    reader = FrameReader()
    frames = [encode(value) for value in VALUES]
    for value, frame in zip(VALUES, frames, strict=True):
        for byte in frame[:-1]:
            assert reader.feed(bytes([byte])) == []
        assert reader.feed(frame[-1:]) == [value]


def test_several_frames_in_one_feed_come_back_in_order() -> None:
    assert FrameReader().feed(b"".join(encode(value) for value in VALUES)) == VALUES


def test_a_header_larger_than_the_limit_is_refused() -> None:
    reader = FrameReader()
    assert reader.feed(struct.pack("!I", MAX_FRAME_BYTES)) == []  # at the limit: waits
    with pytest.raises(ValueError, match=f"{MAX_FRAME_BYTES + 1} bytes"):
        FrameReader().feed(encode("before") + struct.pack("!I", MAX_FRAME_BYTES + 1))


def test_receive_reads_values_from_a_socket_until_the_other_end_closes() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(encode(VALUES[0]) + encode(VALUES[1]))
        reader = FrameReader()
        assert receive(right, reader) == VALUES[0]
        assert receive(right, reader) == VALUES[1]
        left.close()
        with pytest.raises(EOFError):
            receive(right, reader)
