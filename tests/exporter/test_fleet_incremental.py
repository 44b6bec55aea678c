"""The incremental fleet ``/metrics`` (only changed rows read and re-rendered) equals a render of
a full snapshot, on real SQLite files and a real PostgreSQL, through every kind of write."""

from __future__ import annotations

import gzip
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from consola_wire import ALL_STATES, Heartbeat, Registration
from exporter.fleet.console_families import FAMILIES
from exporter.fleet.names import PREFIX
from exporter.fleet.renderer import FleetRenderer
from exporter.fleet.snapshot import FleetSnapshot
from exporter.process_metrics import ProcessMetrics
from exporter.storage import Storage
from exporter.storage.records import DeleteOp, HeartbeatOp, RegisterOp, SweepOp, WriteOp
from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter
from tests.support.exposition import AWKWARD_TEXT, parsed, reference
from tests.support.tools import wait_until

START = 1_800_000_000.0
MARGIN = 15.0
DEFAULT_THRESHOLD = 600.0
#: The families a fleet read decides: the per-console ones and the counts per state.
FLEET_FAMILIES = {PREFIX + name for name, _, _ in FAMILIES} | {PREFIX + "consoles"}

Samples = dict[str, set[tuple[tuple[tuple[str, str], ...], float]]]


def fleet_samples(text: bytes) -> Samples:
    """The samples of the families a fleet read decides, by family."""
    return {
        key: samples
        for key, samples in parsed(text.decode()).items()
        if key.split(":", 1)[0] in FLEET_FAMILIES
    }


def from_scratch(storage: Storage) -> bytes:
    """A render of a full snapshot read now, with nothing kept from earlier scrapes."""
    rows = storage.fleet_snapshot()
    body, _ = FleetRenderer().render(rows, ProcessMetrics(), accept_gzip=False)
    # and the hand renderer itself equals prometheus_client's families for these rows
    per_console = {k: v for k, v in fleet_samples(body).items() if "_consoles:" not in k}
    assert per_console == fleet_samples(reference(rows, True).encode())
    return body


def incremental(renderer: FleetRenderer, storage: Storage, full: bool) -> bytes:
    """One scrape's refresh (as ``/metrics`` does it); checks the kind of read and gzip."""
    delta = renderer.read(storage)
    assert delta.whole is full
    view = renderer.update(delta)
    metrics = ProcessMetrics()
    text = b"".join(renderer.render_view(view, metrics, accept_gzip=False)[0])
    (zipped,), headers = renderer.render_view(view, metrics, accept_gzip=True)
    assert headers["Content-Encoding"] == "gzip"
    assert fleet_samples(gzip.decompress(zipped)) == fleet_samples(text)
    return text


def assert_current(renderer: FleetRenderer, storage: Storage, full: bool = False) -> Samples:
    """The incremental scrape equals a from-scratch render of a full snapshot."""
    samples = fleet_samples(incremental(renderer, storage, full))
    assert samples == fleet_samples(from_scratch(storage))
    return samples


def registration(console: str, nombre: str = "Consola", estado: str = "activa") -> Registration:
    return Registration(
        console_id=console,
        nombre=nombre,
        estado=estado,
        sistema={"hostname": "h", "platform": "linux", "arch": "x64", "pythonVersion": "3.11.7"},
        ultima_actividad=datetime(2026, 1, 1, tzinfo=UTC),
        interval_seconds=None,
    )


def register(console: str, now: float, **changes: Any) -> RegisterOp:
    return RegisterOp(registration(console, **changes), now, DEFAULT_THRESHOLD)


def heartbeat(console: str, now: float, estado: str = "ocupada", **changes: Any) -> HeartbeatOp:
    values: dict[str, Any] = {
        "estado": estado,
        "sistema": None,
        "ultima_actividad": datetime.fromtimestamp(now - 1, UTC),
        "ultimo_error": None,
        "video_en_proceso": "Video Historia 1 (2/5)" if estado == "ocupada" else None,
        "interval_seconds": None,
    }
    values.update(changes)
    return HeartbeatOp(console, Heartbeat(**values), now, DEFAULT_THRESHOLD)


def write(storage: Storage, *ops: WriteOp) -> None:
    storage.write_batch(list(ops))


def new_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def lines_of(text: bytes, console: str) -> list[str]:
    return [line for line in text.decode().splitlines() if f'console_id="{console}"' in line]


def test_the_incremental_scrape_equals_a_full_render_through_every_kind_of_write(
    storage: Storage, clock: ManualClock
) -> None:
    renderer = FleetRenderer(clock=clock, margin=MARGIN)
    ids = new_ids(8)
    write(storage, *(register(c, clock(), nombre=f"Consola {i}") for i, c in enumerate(ids[:6])))
    assert_current(renderer, storage, full=True)  # the first scrape reads everything

    clock.advance(10)  # heartbeats: state, video, client time, identity, interval, goodbye
    write(
        storage,
        heartbeat(ids[0], clock()),
        heartbeat(ids[1], clock(), "error", ultimo_error={"m": "x"}),
        heartbeat(ids[2], clock(), "esperando", ultima_actividad=None),
        heartbeat(ids[3], clock(), "activa", interval_seconds=30.0),
        heartbeat(ids[4], clock(), "ocupada", video_en_proceso=AWKWARD_TEXT),
        heartbeat(ids[5], clock(), "inactiva"),
    )
    assert_current(renderer, storage)
    clock.advance(1)
    write(storage, heartbeat(ids[4], clock(), "ocupada", sistema={"hostname": 'a"b\\c'}))
    assert_current(renderer, storage)

    clock.advance(DEFAULT_THRESHOLD + 1)  # the sweeper marks the silent consoles inactiva
    write(storage, heartbeat(ids[0], clock()), SweepOp(clock(), started_at=START - 10_000))
    samples = assert_current(renderer, storage)
    inactive = ((("state", "inactiva"),), 5.0)  # ids 1 to 4 swept, 5 said goodbye, 0 beat
    assert inactive in samples[f"{PREFIX}consoles:gauge:Number of known consoles in each state."]

    clock.advance(1)  # re-registration with a new name and state
    write(storage, register(ids[1], clock(), nombre=AWKWARD_TEXT, estado="esperando"))
    assert_current(renderer, storage)

    clock.advance(1)  # a deletion: the row count disagrees, so the read is whole
    write(storage, DeleteOp(ids[2]))
    assert_current(renderer, storage, full=True)

    clock.advance(1)  # a new console and a deletion together: the count alone is unchanged
    write(storage, register(ids[6], clock()), DeleteOp(ids[3]))
    assert_current(renderer, storage, full=True)

    clock.advance(1)  # a new console alone
    write(storage, register(ids[7], clock()))
    assert_current(renderer, storage)
    assert_current(renderer, storage)  # nothing written since: the same fleet


def test_a_write_committed_after_a_read_with_an_older_time_still_shows_up(
    storage: Storage, clock: ManualClock
) -> None:
    renderer = FleetRenderer(clock=clock, margin=MARGIN)
    late, fresh = new_ids(2)
    write(storage, register(late, clock() - 60), register(fresh, clock()))
    assert_current(renderer, storage, full=True)
    # A heartbeat whose request arrived 5 s before that read and committed after it, and a
    # registration that did the same.
    newcomer = str(uuid.uuid4())
    write(storage, heartbeat(late, clock() - 5), register(newcomer, clock() - 5))
    clock.advance(3)
    text = incremental(renderer, storage, full=False)
    assert fleet_samples(text) == fleet_samples(from_scratch(storage))
    seen = f'{PREFIX}last_seen_timestamp_seconds{{console_id="{late}"}} {START - 5!r}'
    assert seen in text.decode()
    assert lines_of(text, newcomer)


def test_two_writes_with_the_same_time_on_either_side_of_a_read_are_both_seen(
    storage: Storage, clock: ManualClock
) -> None:
    renderer = FleetRenderer(clock=clock, margin=MARGIN)  # the clock never moves here
    console = str(uuid.uuid4())
    write(storage, register(console, clock()))
    incremental(renderer, storage, full=True)
    write(storage, heartbeat(console, clock(), "error"))  # same updated_at as the registration
    text = incremental(renderer, storage, full=False)
    assert f'{PREFIX}consoles{{state="error"}} 1.0' in text.decode()
    assert fleet_samples(text) == fleet_samples(from_scratch(storage))


def test_a_fleet_read_returns_the_versions_since_a_time_and_the_rows_picked(
    storage: Storage, clock: ManualClock
) -> None:
    old, recent = new_ids(6), new_ids(4)
    write(storage, *(register(c, clock() - 100) for c in old))
    write(storage, *(register(c, clock()) for c in recent))
    everything = storage.fleet_changes(None, lambda versions: versions.keys())
    assert (
        sorted(everything.versions) == sorted(old + recent) == sorted(r[0] for r in everything.rows)
    )
    assert everything.total == 10
    since = storage.fleet_changes(clock() - 50, lambda versions: [recent[0]])
    assert since.versions == dict.fromkeys(recent, START)
    assert since.total == 10
    assert [row[0] for row in since.rows] == [recent[0]]  # looked up by id
    many = storage.fleet_changes(None, lambda versions: old)  # most rows: one scan, filtered
    assert sorted(row[0] for row in many.rows) == sorted(old)
    assert storage.fleet_changes(clock() + 1, lambda versions: versions.keys()).rows == []


def test_a_deleted_console_disappears_from_the_next_scrape(
    storage: Storage, clock: ManualClock
) -> None:
    renderer = FleetRenderer(clock=clock, margin=MARGIN)
    kept, retired = new_ids(2)
    write(storage, register(kept, clock()), register(retired, clock()))
    assert lines_of(incremental(renderer, storage, full=True), retired)
    clock.advance(1)
    write(storage, DeleteOp(retired))
    text = incremental(renderer, storage, full=True)
    assert not lines_of(text, retired)
    assert lines_of(text, kept)
    assert f'{PREFIX}consoles{{state="activa"}} 1.0' in text.decode()


def test_a_write_older_than_the_margin_shows_up_at_the_periodic_full_read(
    storage: Storage, clock: ManualClock
) -> None:
    monotonic = ManualClock(start=0.0)
    snapshot = FleetSnapshot(clock, margin=MARGIN, whole_every=60.0, monotonic=monotonic)
    console = str(uuid.uuid4())
    write(storage, register(console, clock()))
    assert snapshot.refresh(storage).whole
    write(storage, heartbeat(console, clock() - 100))  # e.g. committed after a database stall
    assert not snapshot.refresh(storage).changed  # outside the margin: not seen yet
    monotonic.advance(60.0)
    delta = snapshot.refresh(storage)
    assert delta.whole
    assert snapshot.rows[console][2] == "ocupada"
    assert snapshot.counts["ocupada"] == 1 and snapshot.counts["activa"] == 0


def test_the_clock_going_back_makes_the_next_read_whole(
    storage: Storage, clock: ManualClock
) -> None:
    snapshot = FleetSnapshot(clock, margin=MARGIN)
    console = str(uuid.uuid4())
    write(storage, register(console, clock()))
    snapshot.refresh(storage)
    clock.set(START - 3600)  # e.g. an NTP step back: new writes carry older times
    write(storage, heartbeat(console, clock()))
    assert snapshot.refresh(storage).whole
    assert snapshot.rows[console][3] == START - 3600


def test_concurrent_scrapes_each_see_one_whole_fleet_while_consoles_change(
    storage: Storage, clock: ManualClock
) -> None:
    renderer = FleetRenderer(clock=clock, margin=MARGIN)
    ids = new_ids(40)
    write(storage, *(register(c, clock()) for c in ids))
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        index = 0
        while not stop.is_set():
            index += 1
            clock.advance(0.5)
            console = ids[index % len(ids)]
            if index % 7 == 0:
                write(storage, DeleteOp(console), register(console, clock()))
            else:
                write(storage, heartbeat(console, clock(), ALL_STATES[index % 5]))

    def scraper() -> None:
        try:
            for _ in range(25):
                view = renderer.refresh(storage)
                pieces, _ = renderer.render_view(view, ProcessMetrics(), accept_gzip=False)
                assert_whole(b"".join(pieces), len(ids))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=scraper) for _ in range(3)]
    changing = threading.Thread(target=writer)
    changing.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stop.set()
    changing.join(30)
    assert not failures, failures[0]
    assert_current(renderer, storage, full=False)


def assert_whole(text: bytes, consoles: int) -> None:
    """Every console appears once per family with five state lines; the counts agree."""
    by_name = {key.split(":", 1)[0]: values for key, values in fleet_samples(text).items()}

    def ids(family: str) -> list[str]:
        return [dict(labels)["console_id"] for labels, _ in by_name[PREFIX + family]]

    assert len(set(ids("last_seen_timestamp_seconds"))) == consoles  # delete + register: atomic
    assert sorted(ids("console_info")) == sorted(ids("last_seen_timestamp_seconds"))
    assert len(ids("console_state")) == 5 * consoles
    current = [
        dict(labels)["state"] for labels, value in by_name[PREFIX + "console_state"] if value
    ]
    counts = {dict(labels)["state"]: value for labels, value in by_name[PREFIX + "consoles"]}
    assert counts == {state: float(current.count(state)) for state in ALL_STATES}


@pytest.fixture
def exporter_settings() -> dict[str, Any]:
    return {"sweep_interval": 0.02}


def test_metrics_over_http_follow_registrations_heartbeats_sweeps_and_deletions(
    exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    storage = exporter.service.storage

    def scrape(http: httpx.Client) -> Samples:
        text = http.get("/metrics", headers={"Accept-Encoding": "identity"}).content
        zipped = http.get("/metrics", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert fleet_samples(zipped.content) == fleet_samples(text)  # httpx decompresses
        samples = fleet_samples(text)
        assert samples == fleet_samples(from_scratch(storage))
        return samples

    with httpx.Client(base_url=exporter.url, timeout=10) as http:
        ids = new_ids(4)
        for console in ids:
            body = {"id": console, "nombre": f"Consola {console[:4]}", "estado": "activa"}
            assert http.post("/api/consolas/registrar", json=body).status_code == 201
        scrape(http)
        clock.advance(5)
        beat = {"estado": "ocupada", "videoEnProceso": "Video 1", "intervaloSegundos": 900}
        assert http.post(f"/api/consolas/{ids[0]}/heartbeat", json=beat).status_code == 200
        scrape(http)
        clock.advance(DEFAULT_THRESHOLD + 1)  # ids 1 to 3 fall silent; 0 beats every 15 min
        sweeps = exporter.service.sweeps
        wait_until(lambda: exporter.service.sweeps >= sweeps + 2)
        samples = scrape(http)
        counts = samples[f"{PREFIX}consoles:gauge:Number of known consoles in each state."]
        assert ((("state", "inactiva"),), 3.0) in counts
        assert http.delete(f"/api/consolas/{ids[1]}").status_code in (200, 204)
        samples = scrape(http)
        assert not lines_of(http.get("/metrics").content, ids[1])
        extra = str(uuid.uuid4())
        body = {"id": extra, "nombre": "Nueva", "estado": "esperando"}
        assert http.post("/api/consolas/registrar", json=body).status_code == 201
        assert lines_of(http.get("/metrics").content, extra)
        scrape(http)
