"""Real Prometheus and Alertmanager processes for tests, on loopback with generated configs."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from consola_demo.processes import terminate
from tests.support.tools import REPO_ROOT, free_port, require_binary, wait_until

#: The shipped scrape configuration (its console job discovers consoles through http_sd).
SHIPPED_CONFIG = REPO_ROOT / "deploy" / "prometheus.yml"
CONSOLE_JOB = "heartbeat-console"


@dataclass
class ScrapeJob:
    """One scrape job: a name and ``host:port`` targets."""

    name: str
    targets: Sequence[str]
    metrics_path: str = "/metrics"


@dataclass
class RunningPrometheus:
    """A Prometheus started by :func:`run_prometheus`."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns the ``result`` vector (fails the test on an API error)."""
        return _api_get(self.url, "/api/v1/query", {"query": expr})["result"]  # type: ignore[no-any-return]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query over [start, end]."""
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        return _api_get(self.url, "/api/v1/query_range", params)["result"]  # type: ignore[no-any-return]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts currently pending or firing."""
        return _api_get(self.url, "/api/v1/alerts", {})["alerts"]  # type: ignore[no-any-return]

    def alertmanagers(self) -> list[str]:
        """URLs of the Alertmanagers it has discovered (it drops alerts until it has one, and
        sends a still-firing alert again only a minute later)."""
        active = _api_get(self.url, "/api/v1/alertmanagers", {})["activeAlertmanagers"]
        return [str(entry["url"]) for entry in active]

    def targets_up(self) -> bool:
        """True once every active target has been scraped successfully."""
        active = _api_get(self.url, "/api/v1/targets", {})["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)


def shipped_console_job(exporter_url: str, refresh_seconds: float = 1.0) -> dict[str, Any]:
    """The shipped console job (http_sd_configs, relabeling), pointed at ``exporter_url`` and
    refreshed every ``refresh_seconds``, its file_sd left out (no file here)."""
    config = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    job = next(j for j in config["scrape_configs"] if j["job_name"] == CONSOLE_JOB)
    job.pop("file_sd_configs")
    (http_sd,) = job["http_sd_configs"]
    http_sd["url"] = exporter_url + "/api/prometheus/targets"
    http_sd["refresh_interval"] = f"{refresh_seconds:g}s"
    return dict(job)


def _api_get(base: str, path: str, params: dict[str, str]) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def prometheus_config(
    jobs: Sequence[ScrapeJob],
    *,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    alertmanager: str | None = None,
    scrape_configs: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A prometheus.yml as a dict; ``scrape_configs`` are added as they are (e.g. http_sd)."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "scrape_configs": [
            {
                "job_name": job.name,
                "metrics_path": job.metrics_path,
                "static_configs": [{"targets": list(job.targets)}],
            }
            for job in jobs
        ]
        + list(scrape_configs),
    }
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


@contextmanager
def run_prometheus(
    workdir: Path,
    jobs: Sequence[ScrapeJob],
    *,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    alertmanager: str | None = None,
    scrape_configs: Sequence[dict[str, Any]] = (),
) -> Iterator[RunningPrometheus]:
    """Start Prometheus on a free loopback port; stop it on exit."""
    binary = require_binary("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config = prometheus_config(
        jobs,
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
        rule_files=rule_files,
        alertmanager=alertmanager,
        scrape_configs=scrape_configs,
    )
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=1h",
    ]
    with _serving(argv, workdir, "prometheus", port) as process:
        yield RunningPrometheus(url=f"http://127.0.0.1:{port}", process=process, workdir=workdir)


@contextmanager
def _serving(
    argv: list[str], workdir: Path, name: str, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` logging to ``workdir/name.log``, wait for ``/-/ready``, stop it on exit."""
    with (workdir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _ready(url, process, workdir), timeout=30)
            yield process
        finally:
            _stop(process)


@dataclass
class RunningAlertmanager:
    """An Alertmanager started by :func:`run_alertmanager`."""

    url: str
    address: str
    process: subprocess.Popen[bytes]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager currently holds (API v2)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as response:
            return json.load(response)  # type: ignore[no-any-return]


@contextmanager
def run_alertmanager(workdir: Path, config: dict[str, Any]) -> Iterator[RunningAlertmanager]:
    """Start Alertmanager with ``config`` on free loopback ports (clustering off)."""
    binary = require_binary("prometheus-alertmanager", "alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with _serving(argv, workdir, "alertmanager", port) as process:
        yield RunningAlertmanager(
            url=f"http://127.0.0.1:{port}", address=f"127.0.0.1:{port}", process=process
        )


def _ready(url: str, process: subprocess.Popen[bytes], workdir: Path) -> bool:
    if process.poll() is not None:
        logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in workdir.glob("*.log"))
        raise AssertionError(f"process exited with {process.returncode}:\n{logs}")
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    terminate(process, timeout=10)
