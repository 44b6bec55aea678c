"""A run of the same failure logs one line when it starts, one summary a minute, one on recovery."""

from __future__ import annotations

import logging

import pytest

from exporter.failure_log import FailureLog
from tests.support.clock import ManualClock

LOGGER = "tests.failure_log"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=0.0)


@pytest.fixture
def failures(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> FailureLog:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return FailureLog(logging.getLogger(LOGGER), "write batches refused", clock=clock)


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_the_first_failure_is_logged_and_the_next_ones_within_a_minute_are_not(
    failures: FailureLog, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3000):
        failures.failed("disk full")
        clock.advance(0.01)  # 30 s in all
    assert lines(caplog) == ["write batches refused: disk full"]
    assert failures.failing


def test_a_failure_that_goes_on_gets_one_summary_line_a_minute(
    failures: FailureLog, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    failures.failed("disk full")
    for _ in range(150):
        clock.advance(1.0)
        failures.failed("disk full")
    assert lines(caplog) == [
        "write batches refused: disk full",
        "write batches refused: 60 more in the last 60 s (latest: disk full)",
        "write batches refused: 60 more in the last 60 s (latest: disk full)",
    ]


def test_recovery_closes_the_run_with_one_line_and_a_new_failure_starts_a_new_run(
    failures: FailureLog, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    failures.recovered()  # nothing to close
    failures.failed("database down")
    clock.advance(5)
    failures.failed("database down")
    clock.advance(5)
    failures.recovered()
    failures.recovered()
    failures.failed("disk full")
    assert lines(caplog) == [
        "write batches refused: database down",
        "write batches refused: recovered after 2 failure(s) in 10 s",
        "write batches refused: disk full",
    ]
