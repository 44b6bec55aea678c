"""deploy/: env.example holds every library variable at its default; the exporter's unit gives
its stop the time to drain."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from dotenv import dotenv_values

from exporter.config import ExporterConfig
from exporter.server import uvicorn_config
from exporter.service import ExporterService
from exporter.writing.process_writer import ProcessWriter
from heartbeat.config import ENV_VARIABLES, HeartbeatConfig
from tests.support.tools import REPO_ROOT

ENV_EXAMPLE = REPO_ROOT / "deploy" / "env.example"


def _values() -> dict[str, str]:
    return {k: v or "" for k, v in dotenv_values(ENV_EXAMPLE).items()}


def test_env_example_lists_every_library_variable() -> None:
    assert set(_values()) == set(ENV_VARIABLES)


def test_env_example_values_are_the_library_defaults() -> None:
    values = _values()
    from_file = HeartbeatConfig.from_env(values, use_dotenv=False)
    defaults = HeartbeatConfig(api_base_url=values["API_BASE_URL"])
    assert dataclasses.asdict(from_file) == dataclasses.asdict(defaults)


EXPORTER_UNIT = REPO_ROOT / "deploy" / "systemd" / "heartbeat-exporter.service"


def _unit_settings(path: Path) -> dict[str, str]:
    settings = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", ";")):
            settings[key.strip()] = value.strip()
    return settings


def test_exporter_unit_gives_the_stop_time_to_drain_requests_and_the_writer_queue(
    tmp_path: Path,
) -> None:
    """systemd SIGKILLs the unit after TimeoutStopSec: it must outlast uvicorn's graceful wait
    for the requests in flight (default --request-timeout) plus the writer's drain of the queue."""
    service = ExporterService(ExporterConfig(database=str(tmp_path / "db.sqlite")))
    try:
        graceful = uvicorn_config(service).timeout_graceful_shutdown
    finally:
        service.storage.close()
    drain = inspect.signature(ProcessWriter.stop).parameters["timeout"].default
    settings = _unit_settings(EXPORTER_UNIT)
    assert graceful is not None
    assert float(settings["TimeoutStopSec"]) >= graceful + drain, settings["TimeoutStopSec"]
