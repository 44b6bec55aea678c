"""The consoles API unreachable for a long time, seen from the library on a console.

The worker keeps working at full speed, the client's memory stays flat over many failed
cycles, the log gets one warning per outage (not one per attempt), and beats resume within
one interval once the API is back.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from heartbeat import HeartbeatService
from tests.support.recording_api import RecordingApi, fast_config
from tests.support.tools import wait_until


class WorstCaseRandom(random.Random):
    """Every jitter and backoff draw takes the top of its range."""

    def uniform(self, a: float, b: float) -> float:
        return max(a, b)


class Worker(threading.Thread):
    """A worker that changes state as fast as it can; it counts its calls and the slowest one."""

    def __init__(self, service: HeartbeatService) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.calls = 0
        self.slowest = 0.0
        self.errors: list[BaseException] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.perf_counter()
            try:
                with self.service.procesando(f"video {self.calls}"):
                    pass
            except BaseException as exc:
                self.errors.append(exc)
                return
            self.slowest = max(self.slowest, time.perf_counter() - started)
            self.calls += 1
            time.sleep(0.001)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


class Records(logging.Handler):
    """Counts the ``heartbeat`` logger's records (bounded memory); keeps the loud ones."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[tuple[int, str]] = Counter()
        self.loud: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[(record.levelno, str(record.msg))] += 1
        if record.levelno >= logging.INFO and "Estado de consola" not in str(record.msg):
            self.loud.append(record.getMessage())

    def isolate(self) -> None:
        """Make this the only handler of the ``heartbeat`` logger (no propagation either)."""
        logger = logging.getLogger("heartbeat")
        logger.propagate = False
        logger.handlers = [self]

    def at(self, level: int) -> int:
        return sum(n for (levelno, _), n in self.counts.items() if levelno == level)


@pytest.fixture
def records() -> Iterator[Records]:
    """The ``heartbeat`` logger's records, counted; pytest's own capture (which would keep every
    record in memory) is detached in the test body by :meth:`Records.isolate`."""
    logger = logging.getLogger("heartbeat")
    handler = Records()
    previous = (logger.level, logger.propagate, list(logger.handlers))
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield handler
    logger.setLevel(previous[0])
    logger.propagate = previous[1]
    logger.handlers = previous[2]


def failures(service: HeartbeatService) -> int:
    return int(sum(service._telemetry.snapshot().failures.values()))


def check_long_outage(api: RecordingApi, tmp_path: Path, records: Records, cycles: int) -> None:
    config = fast_config(
        api.base_url,
        tmp_path,
        interval_minutes=1 / 60,  # the smallest interval the wire allows: 1 s
        retry_initial_seconds=0.01,
        retry_max_seconds=0.01,  # about a hundred failed cycles per second
        settle_seconds=0.0,
    )
    records.isolate()
    service = HeartbeatService(config)
    service.iniciar()
    worker = Worker(service)
    try:
        wait_until(lambda: api.records("heartbeat", 200))
        worker.start()
        api.stop()  # connections refused from now on
        wait_until(lambda: failures(service) >= 200, timeout=20)  # warmed up: pools, caches
        gc.collect()
        tracemalloc.start()
        try:
            calls_before, failed_before = worker.calls, failures(service)
            loud_mark, debug_mark = len(records.loud), records.at(logging.DEBUG)
            baseline, _ = tracemalloc.get_traced_memory()
            wait_until(lambda: failures(service) >= failed_before + cycles, timeout=cycles / 10)
            gc.collect()
            current, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        cycles = failures(service) - failed_before
        assert worker.errors == []
        assert worker.calls > calls_before + 100  # the worker kept going the whole time
        growth = current - baseline
        # Flat: less than 128 bytes per failed cycle would even be a slow leak's signature.
        assert growth < 128 * cycles, f"{growth} bytes more after {cycles} failed cycles"
        assert records.loud[loud_mark:] == []  # one warning when the outage began, then quiet
        assert records.at(logging.DEBUG) - debug_mark >= cycles * 0.9  # the detail is at DEBUG
    finally:
        worker.stop()
        api.start()
        service.detener()


def test_long_api_outage_leaves_worker_memory_and_logs_unaffected(
    api: RecordingApi, tmp_path: Path, records: Records
) -> None:
    check_long_outage(api, tmp_path, records, cycles=400)


@pytest.mark.slow
def test_very_long_api_outage_leaves_worker_memory_and_logs_unaffected(
    api: RecordingApi, tmp_path: Path, records: Records
) -> None:
    check_long_outage(api, tmp_path, records, cycles=10_000)


def test_beats_resume_within_one_interval_once_the_api_returns(
    api: RecordingApi, tmp_path: Path, records: Records
) -> None:
    config = fast_config(
        api.base_url,
        tmp_path,
        interval_minutes=2 / 60,  # 2 s
        retry_initial_seconds=0.5,
        retry_max_seconds=60.0,  # the default: the backoff is capped by the interval
        settle_seconds=0.0,
    )
    records.isolate()
    service = HeartbeatService(config, rng=WorstCaseRandom())
    service.iniciar()
    try:
        wait_until(lambda: api.records("heartbeat", 200))
        api.stop()
        service.cambiar_estado("activa")  # the outage is noticed at once, not at the next beat
        # Long enough for the backoff to reach its cap (0.6 s, 1.2 s, then the 2 s interval).
        wait_until(lambda: failures(service) >= 3, timeout=30)
        seen = failures(service)
        wait_until(lambda: failures(service) > seen, timeout=10, interval=0.005)
        returned = time.monotonic()  # right after a failure: the worst moment to come back
        before = len(api.records("heartbeat", 200))
        api.start()
        wait_until(lambda: len(api.records("heartbeat", 200)) > before, timeout=10)
        first = api.records("heartbeat", 200)[before]
        assert first.received - returned <= config.interval_seconds + 0.2
        # the API records the heartbeat before it answers; the sender logs once it has the answer
        wait_until(lambda: any("restablecida" in message for message in records.loud), timeout=5)
        assert records.at(logging.WARNING) == 1, records.loud
    finally:
        service.detener()
