"""The README documents every metric, config variable, exporter setting and endpoint we serve.

The lists come from the running code (a scrape of each /metrics, the config's variable list, the
exporter's argument parser, the app's routes), so adding one without documenting it fails here.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route

from exporter.cli import ENV_PREFIX, OPTIONS
from exporter.config import ExporterConfig
from exporter.fleet.renderer import FleetRenderer
from exporter.process_metrics import ProcessMetrics
from heartbeat.config import ENV_VARIABLES, HeartbeatConfig
from tests.support.exposition import fleet
from tests.support.tools import REPO_ROOT, free_port

README = (REPO_ROOT / "README.md").read_text()


def documented(name: str) -> bool:
    return f"`{name}`" in README or re.search(rf"`{re.escape(name)}[\s`{{(]", README) is not None


def exposed_names(text: str) -> set[str]:
    """Metric names as exposed (counters with ``_total``), ``process_*`` left to their docs."""
    return {
        f"{f.name}_total" if f.type == "counter" else f.name
        for f in text_string_to_metric_families(text)
        if not f.name.startswith("process_")
    }


def fleet_metric_names() -> set[str]:
    metrics = ProcessMetrics()
    metrics.ingested(registration=False, now=1.0)
    metrics.request("heartbeat", 404)
    metrics.writer_process(up=True)  # the writer process's series exist only with --writer process
    body, _ = FleetRenderer().render(fleet(), metrics, accept_gzip=False)
    return exposed_names(body.decode())


def console_metric_names(tmp_path: Path) -> set[str]:
    """Names on a live console's /metrics (a library instance with no API configured)."""
    from heartbeat import HeartbeatService

    port = free_port()
    config = HeartbeatConfig(console_id_file=tmp_path / ".console-id", metrics_port=port)
    service = HeartbeatService(config)
    service.iniciar()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        service.detener()
    return exposed_names(text)


def test_readme_documents_every_fleet_metric() -> None:
    missing = sorted(n for n in fleet_metric_names() if not documented(n))
    assert not missing, f"fleet metrics missing from README.md: {missing}"


def test_readme_documents_every_console_metric(tmp_path: Path) -> None:
    missing = sorted(n for n in console_metric_names(tmp_path) if not documented(n))
    assert not missing, f"console metrics missing from README.md: {missing}"


@pytest.mark.parametrize("variable", ENV_VARIABLES)
def test_readme_documents_every_console_variable(variable: str) -> None:
    assert documented(variable), f"{variable} missing from README.md"


@pytest.mark.parametrize("option", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_readme_documents_every_exporter_setting_and_its_variable(option: tuple[str, ...]) -> None:
    flag, suffix = option[0], option[1]
    assert documented(flag), f"{flag} missing from README.md"
    assert documented(ENV_PREFIX + suffix), f"{ENV_PREFIX + suffix} missing from README.md"


def test_readme_documents_every_endpoint(tmp_path: Path) -> None:
    from exporter.service import ExporterService
    from exporter.web.app import create_app

    service = ExporterService(ExporterConfig(database=str(tmp_path / "c.db")))
    try:
        app = create_app(service)
        paths = {route.path for route in app.routes if isinstance(route, Route)}
    finally:
        service.storage.close()
    # The README writes a console's id as {id}, as the seed does.
    missing = sorted(p for p in paths if p.replace("{console_id}", "{id}") not in README)
    assert not missing, f"endpoints missing from README.md: {missing}"
