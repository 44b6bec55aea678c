"""The exporter's wall clock steps an hour (libfaketime on a real subprocess): no page storm.

Consoles beat over HTTP every 0.5 s against a 3 s silence threshold while the test steps the
exporter's wall clock an hour forward or back (its monotonic clock keeps running, as with a real
step). Every console that keeps beating stays as it was, the exporter logs the step once and
counts it, and a console that stops beating at the step is still marked once the grace is over.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.support.beating import Beating, counters, register, silences, states
from tests.support.exporters import ExporterProcess
from tests.support.faketime import SteppableClock, require_libfaketime
from tests.support.tools import wait_until

INACTIVE_AFTER = 3.0
ARGS = ["--inactive-after", "3", "--sweep-interval", "0.1"]


@pytest.fixture
def steppable(tmp_path: Path) -> SteppableClock:
    return SteppableClock(require_libfaketime(), tmp_path)


@pytest.mark.parametrize("step", [3600, -3600], ids=["forward", "back"])
def test_an_hour_step_of_the_exporters_clock_marks_only_the_console_that_stopped_after_the_grace(
    tmp_path: Path, steppable: SteppableClock, step: int
) -> None:
    log_path = tmp_path / "exporter.log"
    exporter = ExporterProcess(str(tmp_path / "c.db"), ARGS, env=steppable.env(), log_path=log_path)
    exporter.start()
    try:
        with httpx.Client(base_url=exporter.url, timeout=5) as http:
            alive = [register(http) for _ in range(5)]
            stopping = register(http)
            with Beating(exporter.url, alive):
                with Beating(exporter.url, [stopping]):
                    time.sleep(INACTIVE_AFTER + 1)  # past the start grace, all beating
                    assert set(states(http).values()) == {"activa"}
                    assert counters(http) == {"step": 0.0, "stall": 0.0, "marked": 0.0}
                steppable.step(step)  # `stopping` sent its last beat just before the step
                stepped = time.monotonic()
                wait_until(lambda: states(http)[stopping] == "inactiva", timeout=15, interval=0.02)
                marked_after = time.monotonic() - stepped
                time.sleep(1.0)  # ten more sweeps
                final = states(http)
                assert [c for c in alive if final[c] != "activa"] == []
                assert [silences(http, c) for c in alive] == [0] * len(alive)
                assert silences(http, stopping) == 1
                assert counters(http) == {"step": 1.0, "stall": 0.0, "marked": 1.0}
    finally:
        exporter.stop()
    lines = [line for line in exporter.log().splitlines() if "grace period of" in line]
    assert len(lines) == 1, lines
    assert "wall clock stepped" in lines[0] and "did not run" not in exporter.log()
    logged = re.search(r"stepped ([+-][\d.]+) s", lines[0])
    assert logged is not None
    jump = float(logged.group(1))
    print(f"step {step:+d} s: logged {jump:+.1f} s; stopped console marked {marked_after:.2f} s on")
    assert abs(jump - step) < 1.0
    # not before the grace (one threshold from the step), and soon after it
    assert INACTIVE_AFTER <= marked_after < INACTIVE_AFTER + 2.0
