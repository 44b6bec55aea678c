"""Prometheus and Alertmanager for the demo: the shipped rules with shortened ``for:`` durations.

The demo's time runs about 60x faster than production's (2 s heartbeats instead of 5 min), so
every ``for:`` in ``alerts/*.yml`` and Alertmanager's route timings are divided by 60 (minutes
become seconds; ``for: 0m`` stays 0). Thresholds inside expressions are left alone: the silence
threshold comes from the consoles' own interval, exported by the exporter.

Prometheus finds the consoles as in production: the shipped console job (deploy/prometheus.yml)
with its ``http_sd_configs`` pointed at the demo's exporter, refreshed every second.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from consola_demo.processes import LOOPBACK, ChildProcess, free_port, http_ok

#: Where Debian's packages put the binaries (``apt-get install prometheus
#: prometheus-alertmanager``); the PATH is searched too.
PROMETHEUS_CANDIDATES = ("/usr/bin/prometheus", "prometheus")
ALERTMANAGER_CANDIDATES = (
    "/usr/bin/prometheus-alertmanager",
    "prometheus-alertmanager",
    "alertmanager",
)
INSTALL_HINT = "sudo apt-get install prometheus prometheus-alertmanager"
#: Demo time runs this many times faster than production time.
SPEEDUP = 60
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def find_binary(candidates: Sequence[str]) -> str | None:
    """The first candidate that exists and is executable (absolute path or on PATH)."""
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def alerts_dir() -> Path | None:
    """The repository's ``alerts/`` folder (the demo runs from a clone), or None."""
    path = Path(__file__).resolve().parent.parent / "alerts"
    return path if path.is_dir() else None


def shipped_console_job(targets_url: str) -> dict[str, Any]:
    """deploy/prometheus.yml's ``heartbeat-console`` job with its http_sd pointed at
    ``targets_url`` and refreshed every second; the file_sd example is left out."""
    path = Path(__file__).resolve().parent.parent / "deploy" / "prometheus.yml"
    shipped = yaml.safe_load(path.read_text(encoding="utf-8"))
    job = next(j for j in shipped["scrape_configs"] if j["job_name"] == "heartbeat-console")
    job.pop("file_sd_configs", None)
    job["http_sd_configs"] = [{"url": targets_url, "refresh_interval": "1s"}]
    return dict(job)


def duration_seconds(text: str) -> float:
    """Seconds of a Prometheus duration (``1h30m``, ``10m``, ``0s``)."""
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def shortened(text: str, minimum: float = 0.0) -> str:
    """``text`` divided by :data:`SPEEDUP`, in whole seconds (``10m`` → ``10s``)."""
    seconds = duration_seconds(text)
    if seconds == 0:
        return "0s"
    return f"{max(minimum, math.ceil(seconds / SPEEDUP)):g}s"


def shortened_rules(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A rule file with every ``for:`` shortened, and ``Alert: 10m -> 10s`` notes."""
    notes = []
    for group in document.get("groups", []):
        for rule in group.get("rules", []):
            if "for" in rule:
                before = str(rule["for"])
                rule["for"] = shortened(before)
                if duration_seconds(before) > 0:
                    notes.append(f"{rule.get('alert', '?')}: {before} -> {rule['for']}")
    return document, notes


def rule_documents(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(file name, parsed YAML)`` of every Prometheus rule file in ``directory``."""
    found = []
    for path in sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and "groups" in document:
            found.append((path.name, document))
    return found


def demo_alertmanager_config(document: dict[str, Any], webhook_base: str) -> dict[str, Any]:
    """The shipped Alertmanager config with its webhooks sent to the demo and timings shortened."""
    for receiver in document.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            path = urllib.parse.urlsplit(str(hook.get("url", ""))).path or "/"
            hook["url"] = webhook_base.rstrip("/") + path
    routes = [document.get("route", {})]
    while routes:
        route = routes.pop()
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route:
                route[key] = shortened(str(route[key]), minimum=1)
        routes.extend(route.get("routes", []))
    return document


@dataclass
class Monitoring:
    """Prometheus (and Alertmanager, when present) running for the demo."""

    prometheus: ChildProcess
    prometheus_url: str
    alertmanager: ChildProcess | None
    alertmanager_url: str | None
    notes: list[str]

    def children(self) -> list[ChildProcess]:
        """The processes to stop."""
        return [self.prometheus] + ([self.alertmanager] if self.alertmanager else [])

    def alerts(self) -> list[dict[str, Any]]:
        """Prometheus's pending and firing alerts (``/api/v1/alerts``)."""
        with urllib.request.urlopen(self.prometheus_url + "/api/v1/alerts", timeout=2) as reply:
            body = json.load(reply)
        return list(body.get("data", {}).get("alerts", []))


def start_monitoring(
    workdir: Path,
    exporter_target: str,
    targets_url: str,
    webhook_base: str,
) -> Monitoring | str:
    """Start Prometheus (+ Alertmanager) in ``workdir``, finding the consoles at
    ``targets_url`` (the exporter's http_sd); a message saying why not otherwise."""
    prometheus_bin = find_binary(PROMETHEUS_CANDIDATES)
    if prometheus_bin is None:
        return f"Prometheus is not installed: the alerts part is skipped. Install: {INSTALL_HINT}"
    rules_dir = alerts_dir()
    if rules_dir is None:
        return "alerts/ not found (run the demo from a clone of the repository): no Prometheus"
    workdir.mkdir(parents=True, exist_ok=True)
    notes = ["'for:' durations of the shipped rules are divided by 60 for the demo:"]
    rule_files = []
    for name, document in rule_documents(rules_dir):
        short, changed = shortened_rules(document)
        path = workdir / name
        path.write_text(yaml.safe_dump(short, sort_keys=False, allow_unicode=True))
        rule_files.append(str(path))
        notes += [f"  {line}" for line in changed]

    alertmanager: ChildProcess | None = None
    alertmanager_url: str | None = None
    alertmanager_bin = find_binary(ALERTMANAGER_CANDIDATES)
    shipped_am = rules_dir / "alertmanager.yml"
    if alertmanager_bin is None:
        notes.append(f"Alertmanager is not installed (alerts stay in Prometheus): {INSTALL_HINT}")
    elif shipped_am.is_file():
        am_port = free_port()
        alertmanager_url = f"http://{LOOPBACK}:{am_port}"
        config = demo_alertmanager_config(yaml.safe_load(shipped_am.read_text()), webhook_base)
        am_config = workdir / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(config, sort_keys=False))
        alertmanager = ChildProcess(
            "alertmanager",
            [
                alertmanager_bin,
                f"--config.file={am_config}",
                f"--storage.path={workdir / 'alertmanager-data'}",
                f"--web.listen-address={LOOPBACK}:{am_port}",
                "--cluster.listen-address=",
            ],
            workdir / "alertmanager.log",
        ).start()

    prom_port = free_port()
    prometheus_url = f"http://{LOOPBACK}:{prom_port}"
    config_path = workdir / "prometheus.yml"
    config_path.write_text(
        yaml.safe_dump(
            prometheus_config(
                exporter_target,
                targets_url,
                rule_files,
                None if alertmanager_url is None else alertmanager_url.split("//", 1)[1],
            ),
            sort_keys=False,
        )
    )
    prometheus = ChildProcess(
        "prometheus",
        [
            prometheus_bin,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address={LOOPBACK}:{prom_port}",
            "--storage.tsdb.retention.time=1h",
        ],
        workdir / "prometheus.log",
    ).start()
    monitoring = Monitoring(prometheus, prometheus_url, alertmanager, alertmanager_url, notes)
    try:
        prometheus.wait_ready(lambda: http_ok(prometheus_url + "/-/ready"))
        if alertmanager is not None and alertmanager_url is not None:
            url = alertmanager_url
            alertmanager.wait_ready(lambda: http_ok(url + "/-/ready"))
    except Exception:
        for child in monitoring.children():
            child.stop()
        raise
    return monitoring


def prometheus_config(
    exporter_target: str,
    targets_url: str,
    rule_files: Sequence[str],
    alertmanager: str | None,
) -> dict[str, Any]:
    """prometheus.yml for the demo: the contract's two jobs, scraped and evaluated every second,
    the consoles discovered through the exporter."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": list(rule_files),
        "scrape_configs": [
            {"job_name": "heartbeat-exporter", "static_configs": [{"targets": [exporter_target]}]},
            shipped_console_job(targets_url),
        ],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config
