"""Wall-clock steps and stalls, on a manual wall clock and a manual monotonic clock (no sleeping).

First the detection thresholds (:class:`ClockWatch`), then the service: a step or a stall gives
every console a new grace period, so no console that keeps reporting is marked, and a console
that really died is still marked once that grace is over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from consola_wire import Heartbeat, Registration
from exporter.clock import STALL_SECONDS, STEP_SECONDS, ClockAnomaly, ClockWatch
from exporter.config import ExporterConfig
from exporter.fleet.renderer import FleetRenderer
from exporter.service import ExporterService
from tests.support.clock import ManualClock

TICK = 1.0
#: The consoles' silence threshold in the service tests; they beat every BEAT seconds.
THRESHOLD = 10.0
BEAT = 2


def watch(wall: ManualClock, mono: ManualClock) -> ClockWatch:
    started = ClockWatch(wall, mono, tick=TICK)
    started.reset()
    return started


def is_anomaly(anomaly: ClockAnomaly | None, kind: str, seconds: float) -> bool:
    return (
        anomaly is not None and anomaly.kind == kind and anomaly.seconds == pytest.approx(seconds)
    )


def move(wall: ManualClock, mono: ManualClock, seconds: float) -> None:
    wall.advance(seconds)
    mono.advance(seconds)


@pytest.fixture
def mono() -> ManualClock:
    return ManualClock(start=12_345.0)


# --- thresholds --------------------------------------------------------------------------------


def test_regular_looks_with_jitter_and_ntp_slewing_are_no_anomaly(
    clock: ManualClock, mono: ManualClock
) -> None:
    looks = watch(clock, mono)
    rng = random.Random(7)
    for _ in range(2000):
        elapsed = TICK + rng.uniform(0.0, 0.5)  # a busy event loop, a garbage collection
        mono.advance(elapsed)
        clock.advance(elapsed * (1 + 500e-6))  # NTP slews by at most 500 ppm
        assert looks.look()[1] is None


def test_a_look_late_by_less_than_the_stall_threshold_is_no_anomaly(
    clock: ManualClock, mono: ManualClock
) -> None:
    looks = watch(clock, mono)
    move(clock, mono, TICK + STALL_SECONDS - 0.1)
    assert looks.look() == (clock(), None)


def test_a_step_smaller_than_the_threshold_is_no_anomaly(
    clock: ManualClock, mono: ManualClock
) -> None:
    looks = watch(clock, mono)
    move(clock, mono, TICK)
    clock.advance(STEP_SECONDS - 0.1)
    assert looks.look()[1] is None
    move(clock, mono, TICK)
    clock.advance(-(STEP_SECONDS - 0.1))
    assert looks.look()[1] is None


def test_the_wall_clock_stepping_forward_is_a_step_of_that_size(
    clock: ManualClock, mono: ManualClock
) -> None:
    looks = watch(clock, mono)
    move(clock, mono, TICK)
    clock.advance(3600)
    now, anomaly = looks.look()
    assert now == clock()
    assert is_anomaly(anomaly, "step", 3600.0)
    move(clock, mono, TICK)
    assert looks.look()[1] is None  # reported once


def test_the_wall_clock_stepping_back_is_a_negative_step(
    clock: ManualClock, mono: ManualClock
) -> None:
    looks = watch(clock, mono)
    move(clock, mono, TICK)
    clock.advance(-3600)
    assert is_anomaly(looks.look()[1], "step", -3600.0)
    assert ClockAnomaly("step", -3600.0).describe() == "wall clock stepped -3600.0 s"


def test_time_the_exporter_did_not_run_is_a_stall_of_that_length(
    clock: ManualClock, mono: ManualClock
) -> None:
    looks = watch(clock, mono)
    move(clock, mono, 15.2)  # SIGSTOP, then SIGCONT: both clocks moved, nothing looked
    assert is_anomaly(looks.look()[1], "stall", 15.2)
    assert "did not run for 15.2 s" in ClockAnomaly("stall", 15.2).describe()


def test_a_host_suspend_shows_as_a_forward_step(clock: ManualClock, mono: ManualClock) -> None:
    looks = watch(clock, mono)
    clock.advance(600)  # CLOCK_MONOTONIC does not advance while the host is suspended
    anomaly = looks.look()[1]
    assert anomaly is not None and is_anomaly(anomaly, "step", 600.0)
    assert "suspended" in anomaly.describe()


def test_without_a_monotonic_clock_nothing_is_reported(clock: ManualClock) -> None:
    looks = ClockWatch(clock, None, tick=TICK)
    looks.reset()
    clock.advance(3600)
    assert looks.look() == (clock(), None)
    assert not looks.enabled


def test_a_reading_interrupted_between_the_two_clocks_is_taken_again(clock: ManualClock) -> None:
    """A freeze between reading the monotonic and the wall clock must not look like a step."""
    readings = iter([0.0, 0.0, 1.0, 16.2, 16.2, 16.2])  # the 2nd look is stopped mid-reading

    def monotonic() -> float:
        return next(readings)

    looks = ClockWatch(clock, monotonic, tick=TICK)
    looks.reset()
    clock.advance(16.2)
    assert is_anomaly(looks.look()[1], "stall", 16.2)


# --- the service -------------------------------------------------------------------------------


class Fleet:
    """An :class:`ExporterService` on manual clocks, run one simulated second at a time: every
    second it looks at the clocks (as its ticker does) and sweeps; consoles beat every BEAT s."""

    def __init__(self, database: str, wall: ManualClock, mono: ManualClock) -> None:
        # sweep_interval: the real sweeper never runs by itself; the ticks are this class's
        config = ExporterConfig(database=database, inactive_after=THRESHOLD, sweep_interval=3600)
        self.service = ExporterService(config, clock=wall, monotonic=mono)
        assert self.service.watch.tick == TICK
        self.wall = wall
        self.mono = mono
        self.marked: dict[str, float] = {}  # console -> wall time it was marked
        self.second = 0

    async def register(self, count: int) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        for console in ids:
            registration = Registration(console, "c", "activa", None, None, None)
            await self.service.register(registration)
        return ids

    async def beat(self, consoles: list[str]) -> None:
        for console in consoles:
            assert await self.service.heartbeat(
                console, Heartbeat("activa", None, None, None, None, None)
            )

    async def run(self, seconds: int, beating: list[str]) -> None:
        for _ in range(seconds):
            move(self.wall, self.mono, TICK)
            self.second += 1
            if self.second % BEAT == 0:
                await self.beat(beating)
            await self.sweep()

    async def sweep(self) -> None:
        for console in await self.service.sweep():
            self.marked[console] = self.wall()


def scenario(
    database: str,
    wall: ManualClock,
    mono: ManualClock,
    body: Callable[[Fleet], Coroutine[Any, Any, None]],
) -> Fleet:
    """Run ``body`` against a started :class:`Fleet` in an event loop; the fleet afterwards."""
    fleet = Fleet(database, wall, mono)

    async def main() -> None:
        fleet.service.start()
        try:
            await body(fleet)
        finally:
            await fleet.service.stop()

    asyncio.run(main())
    return fleet


def exposed(fleet: Fleet) -> dict[str, float]:
    """This process's clock families as ``/metrics`` shows them."""
    body, _ = FleetRenderer(clock=fleet.wall).render(None, fleet.service.metrics, False)
    return {
        f"{sample.name}{sample.labels.get('kind', '')}": sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if family.name in {"heartbeat_fleet_clock_anomalies", "heartbeat_fleet_time_seconds"}
    }


def test_normal_sweeps_see_no_anomaly_and_mark_a_dead_console_at_its_threshold(
    sqlite_database: str, clock: ManualClock, mono: ManualClock
) -> None:
    async def body(fleet: Fleet) -> None:
        alive = await fleet.register(3)
        (dead,) = await fleet.register(1)
        registered = fleet.wall()
        await fleet.run(60, beating=alive)
        assert fleet.marked == {dead: registered + THRESHOLD + 1}  # the first sweep past it

    fleet = scenario(sqlite_database, clock, mono, body)
    assert exposed(fleet) == {
        "heartbeat_fleet_clock_anomalies_totalstep": 0.0,
        "heartbeat_fleet_clock_anomalies_totalstall": 0.0,
        "heartbeat_fleet_time_seconds": clock(),
    }


def test_a_forward_step_marks_no_reporting_console_and_still_marks_the_dead_one_after_the_grace(
    database: str, clock: ManualClock, mono: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(fleet: Fleet) -> None:
        alive = await fleet.register(4)
        await fleet.run(5, beating=alive)
        (dead,) = await fleet.register(1)
        await fleet.run(5, beating=alive)
        fleet.wall.advance(3600)  # NTP steps the exporter's clock an hour forward
        stepped = fleet.wall()
        await fleet.sweep()  # before any console reported in the new time
        assert fleet.marked == {}
        await fleet.run(30, beating=alive)
        assert fleet.marked == {dead: stepped + THRESHOLD}  # the grace, then the page

    with caplog.at_level(logging.WARNING, logger="exporter.service"):
        fleet = scenario(database, clock, mono, body)
    assert [r.getMessage() for r in caplog.records] == [
        "wall clock stepped +3600.0 s (or the host was suspended); every console gets a new"
        " grace period of its silence threshold (10 s unless it reports its interval)"
    ]
    assert exposed(fleet)["heartbeat_fleet_clock_anomalies_totalstep"] == 1.0
    assert exposed(fleet)["heartbeat_fleet_clock_anomalies_totalstall"] == 0.0


def test_a_backward_step_still_marks_a_dead_console_after_the_grace_not_an_hour_later(
    database: str, clock: ManualClock, mono: ManualClock
) -> None:
    async def body(fleet: Fleet) -> None:
        alive = await fleet.register(4)
        (dead,) = await fleet.register(1)
        await fleet.run(4, beating=alive)
        fleet.wall.advance(-3600)  # the dead console's last_seen is now an hour in the future
        stepped = fleet.wall()
        await fleet.sweep()
        await fleet.run(30, beating=alive)
        assert fleet.marked == {dead: stepped + THRESHOLD}

    fleet = scenario(database, clock, mono, body)
    assert exposed(fleet)["heartbeat_fleet_clock_anomalies_totalstep"] == 1.0


def test_a_stall_marks_no_console_that_kept_trying_and_still_marks_the_dead_one(
    sqlite_database: str, clock: ManualClock, mono: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(fleet: Fleet) -> None:
        alive = await fleet.register(4)
        (dead,) = await fleet.register(1)
        await fleet.run(4, beating=alive)
        move(fleet.wall, fleet.mono, 15.2)  # SIGSTOP for 15.2 s, then SIGCONT
        resumed = fleet.wall()
        await fleet.sweep()  # the sweeper wakes before the consoles' queued beats are read
        assert fleet.marked == {}
        await fleet.beat(alive)
        await fleet.run(30, beating=alive)
        assert fleet.marked == {dead: resumed + THRESHOLD}

    with caplog.at_level(logging.WARNING, logger="exporter.service"):
        fleet = scenario(sqlite_database, clock, mono, body)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "the exporter did not run for 15.2 s (frozen or suspended)"
    ]
    assert exposed(fleet)["heartbeat_fleet_clock_anomalies_totalstall"] == 1.0
    assert exposed(fleet)["heartbeat_fleet_clock_anomalies_totalstep"] == 0.0


def test_an_injected_wall_clock_without_a_monotonic_one_never_sees_an_anomaly(
    sqlite_database: str, clock: ManualClock
) -> None:
    """Tests that jump a ManualClock forward (the grace after an outage, …) keep working."""
    service = ExporterService(ExporterConfig(database=sqlite_database), clock=clock)
    try:
        assert not service.watch.enabled
    finally:
        service.storage.close()
