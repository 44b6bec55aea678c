"""The exporter frozen for 15 s (SIGSTOP, then SIGCONT) while consoles keep trying: no page storm.

The same problem as kubernetes#108844: a controller that did not run judges everyone by the time
it lost. The exporter notices the gap on its monotonic clock and gives every console a new grace
period, so the consoles that kept trying are not marked, and the one that died meanwhile is marked
once that grace is over.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.beating import Beating, counters, register, silences, states
from tests.support.exporters import ExporterProcess
from tests.support.tools import wait_until

INACTIVE_AFTER = 3.0
FREEZE_SECONDS = 15.0


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[ExporterProcess]:
    args = ["--inactive-after", str(INACTIVE_AFTER), "--sweep-interval", "0.1"]
    running = ExporterProcess(str(tmp_path / "c.db"), args, log_path=tmp_path / "exporter.log")
    running.start()
    yield running
    assert running.process is not None
    os.kill(running.process.pid, signal.SIGCONT)  # never leave it stopped
    running.stop()


def test_a_frozen_exporter_marks_no_console_that_kept_trying_and_still_the_one_that_died(
    exporter: ExporterProcess,
) -> None:
    assert exporter.process is not None
    with httpx.Client(base_url=exporter.url, timeout=5) as http:
        trying = [register(http) for _ in range(4)]
        dying = register(http)
        with Beating(exporter.url, trying) as beating:
            with Beating(exporter.url, [dying]):
                time.sleep(INACTIVE_AFTER + 1)  # past the start grace, all beating
                assert set(states(http).values()) == {"activa"}
                assert counters(http) == {"step": 0.0, "stall": 0.0, "marked": 0.0}
            os.kill(exporter.process.pid, signal.SIGSTOP)  # `dying` died just before
            time.sleep(FREEZE_SECONDS)
            os.kill(exporter.process.pid, signal.SIGCONT)
            resumed = time.monotonic()
            wait_until(lambda: states(http)[dying] == "inactiva", timeout=15, interval=0.02)
            marked_after = time.monotonic() - resumed
            time.sleep(1.0)  # ten more sweeps
            final = states(http)
            assert beating.failed > 0  # they did keep trying during the freeze
            assert [c for c in trying if final[c] != "activa"] == []
            assert [silences(http, c) for c in trying] == [0] * len(trying)
            assert silences(http, dying) == 1
            assert counters(http) == {"step": 0.0, "stall": 1.0, "marked": 1.0}
    lines = [line for line in exporter.log().splitlines() if "grace period of" in line]
    assert len(lines) == 1, lines
    logged = re.search(r"did not run for ([\d.]+) s", lines[0])
    assert logged is not None
    stalled = float(logged.group(1))
    print(
        f"frozen {FREEZE_SECONDS:.0f} s: logged a stall of {stalled:.1f} s; {beating.failed} posts"
        f" failed meanwhile; the dead console marked {marked_after:.2f} s after SIGCONT"
    )
    assert FREEZE_SECONDS <= stalled < FREEZE_SECONDS + 2.0
    assert INACTIVE_AFTER <= marked_after < INACTIVE_AFTER + 2.0
