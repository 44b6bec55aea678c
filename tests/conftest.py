"""Fixtures every part of the suite shares, and the ``--run-slow`` option.

- ``database``: a fresh database, once per backend (a SQLite file, and a database on the shared
  PostgreSQL server); ``sqlite_database`` for tests about SQLite alone.
- ``clock``: a :class:`ManualClock`; the in-process exporter runs on it.
- ``exporter``: the real exporter app in this process (:class:`EmbeddedExporter`) on
  ``database`` and ``clock``, with the :class:`ExporterConfig` fields a module's
  ``exporter_settings`` fixture returns (override it: tokens, sweep interval, thresholds);
  ``client``: an ``httpx.Client`` on it.
- ``storage``: the storage layer opened on ``database``, without a server.
- ``own_postgres``: a PostgreSQL server of the test's own, to stop or break.
- ``api``: a :class:`RecordingApi` standing in for the consoles API (library tests).
- ``webhook_sink``: a loopback receiver of Alertmanager webhooks.

Prometheus, Alertmanager and exporter subprocesses are started by the tests that need them,
through :mod:`tests.support.prometheus` and :mod:`tests.support.exporters`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.storage import Storage, open_storage
from tests.support.alerting import WebhookSink
from tests.support.clock import ManualClock
from tests.support.exporters import BACKENDS, EmbeddedExporter, database_for, embedded_exporter
from tests.support.postgres import RunningPostgres, start_postgres
from tests.support.recording_api import RecordingApi

#: Where the ``clock`` fixture starts (2027-01-15T08:00:00Z).
CLOCK_START = 1_800_000_000.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the long-running variants (tests marked slow)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long-running variant: use --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend in turn."""
    return database_for(request.param, tmp_path)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return database_for("sqlite", tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=CLOCK_START)


@pytest.fixture
def exporter_settings() -> dict[str, Any]:
    """:class:`ExporterConfig` fields for the ``exporter`` fixture (none: the defaults)."""
    return {}


@pytest.fixture
def exporter(
    database: str, clock: ManualClock, exporter_settings: dict[str, Any]
) -> Iterator[EmbeddedExporter]:
    with embedded_exporter(database, clock=clock, **exporter_settings) as running:
        yield running


@pytest.fixture
def client(exporter: EmbeddedExporter) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=exporter.url, timeout=10) as http:
        yield http


@pytest.fixture
def storage(database: str) -> Iterator[Storage]:
    opened = open_storage(database)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def own_postgres() -> Iterator[RunningPostgres]:
    """A PostgreSQL server of the test's own, for tests that stop, freeze or break it."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api() -> Iterator[RecordingApi]:
    """A running :class:`RecordingApi` on a free loopback port, stopped after the test."""
    server = RecordingApi()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    sink.thread.start()
    try:
        yield sink
    finally:
        sink.server.shutdown()
        sink.server.server_close()
