"""The whole pipeline: consoles → exporter → Prometheus (shipped rules) → Alertmanager (shipped
example) → webhook. A console killed with SIGKILL is paged by name; the live ones raise nothing."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.alerting import WebhookSink, example_alertmanager_config
from tests.support.consoles import (
    FAST_INTERVAL_MINUTES,
    agent_console_id,
    fast_console,
    get_json,
    kill_without_goodbye,
    start_agent,
)
from tests.support.exporters import run_exporter
from tests.support.prometheus import ScrapeJob, run_alertmanager, run_prometheus
from tests.support.tools import REPO_ROOT, wait_until

RULES = REPO_ROOT / "alerts" / "heartbeat-rules.yml"
SWEEP_SECONDS = 0.5
SCRAPE_SECONDS = 1.0
EVALUATION_SECONDS = 1.0
GROUP_WAIT_SECONDS = 1.0
#: Scheduling slack for a loaded 2-core machine running Prometheus, Alertmanager and the fleet.
SLACK_SECONDS = 5.0


def detection_bound_seconds() -> float:
    """From a console's death to the page, per the configuration (alerts/README.md):
    threshold + sweep + scrape + 2 × evaluation + group_wait."""
    threshold = 2 * FAST_INTERVAL_MINUTES * 60
    return threshold + SWEEP_SECONDS + SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + GROUP_WAIT_SECONDS


def test_killed_console_is_paged_by_name_within_the_bound_and_live_ones_are_not(
    tmp_path: Path,
) -> None:
    sink = WebhookSink()
    sink.thread.start()
    consoles = []
    database = str(tmp_path / "consolas.db")
    exporter_args = ["--sweep-interval", str(SWEEP_SECONDS)]
    try:
        with (
            run_exporter(database, exporter_args, log_path=tmp_path / "exporter.log") as exporter,
            run_alertmanager(tmp_path / "am", example_alertmanager_config(sink)) as alertmanager,
            run_prometheus(
                tmp_path / "prom",
                [ScrapeJob("heartbeat-exporter", [f"127.0.0.1:{exporter.port}"])],
                scrape_interval=f"{SCRAPE_SECONDS:g}s",
                evaluation_interval=f"{EVALUATION_SECONDS:g}s",
                rule_files=[RULES],
                alertmanager=alertmanager.address,
            ) as prometheus,
        ):
            api = f"{exporter.url}/api"
            for index in range(2):
                service = fast_console(api, tmp_path / f"live{index}", f"Consola viva {index}")
                service.iniciar()
                consoles.append(service)
            live_ids = {service.obtener_console_id() for service in consoles}
            victim_dir = tmp_path / "victim"
            victim = start_agent(api, victim_dir, "Consola victima")
            victim_id = wait_until(lambda: agent_console_id(victim_dir), timeout=15)
            assert isinstance(victim_id, str)
            wait_until(lambda: get_json(f"{api}/consolas/{victim_id}"), timeout=15)
            wait_until(
                lambda: len(prometheus.query("heartbeat_fleet_console_info")) == 3, timeout=20
            )

            killed_at = time.monotonic()
            kill_without_goodbye(victim)
            bound = detection_bound_seconds()

            def paged() -> bool:
                return any(
                    a["labels"]["alertname"] == "HeartbeatConsoleSilent"
                    and a["labels"].get("console_id") == victim_id
                    for a in sink.alerts("/pager")
                )

            wait_until(paged, timeout=bound + SLACK_SECONDS + 20)
            elapsed = time.monotonic() - killed_at
            assert elapsed <= bound + SLACK_SECONDS, (
                f"paged after {elapsed:.1f}s, bound {bound:.1f}s"
            )

            page = next(
                a
                for a in sink.alerts("/pager")
                if a["labels"].get("console_id") == victim_id
                and a["labels"]["alertname"] == "HeartbeatConsoleSilent"
            )
            assert page["labels"]["name"] == "Consola victima"
            assert page["labels"]["severity"] == "critical"
            assert victim_id in page["annotations"]["description"]

            firing = prometheus.alerts()
            silent_ids = {
                a["labels"].get("console_id")
                for a in firing
                if a["labels"]["alertname"] == "HeartbeatConsoleSilent"
            }
            assert silent_ids == {victim_id}
            paged_ids = {a["labels"].get("console_id") for a in sink.alerts("/pager")}
            assert not paged_ids & live_ids, f"live consoles paged: {paged_ids & live_ids}"
            assert all(
                a["labels"]["alertname"] == "HeartbeatConsoleSilent" for a in sink.alerts("/pager")
            ), sink.alertnames("/pager")
    finally:
        for service in consoles:
            service.detener()
        sink.server.shutdown()
        sink.server.server_close()
