"""Shipped alert rules, their promtool tests, the Alertmanager example and deploy/prometheus.yml.

promtool and amtool check what they can (syntax, unit tests, routing); the rest are the ecosystem's
conventions for alerts, checked structurally on the YAML.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.alerting import WebhookSink, example_alertmanager_config
from tests.support.prometheus import ScrapeJob, run_alertmanager, run_prometheus
from tests.support.tools import REPO_ROOT, free_port, require_binary, wait_until

ROOT = REPO_ROOT
ALERTS_DIR = ROOT / "alerts"
RULES_FILE = ALERTS_DIR / "heartbeat-rules.yml"
RULE_TESTS = sorted((ALERTS_DIR / "tests").glob("*.yml"))
ALERTMANAGER_FILE = ALERTS_DIR / "alertmanager.yml"
RUNBOOK_FILE = ALERTS_DIR / "runbook.md"
ALERTS_README = ALERTS_DIR / "README.md"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus.yml"
CONSOLE_TARGETS_FILE = ROOT / "deploy" / "targets" / "consoles.yml"

PREFIX = "Heartbeat"
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_BASE = "https://github.com/consola-heartbeat/consola-heartbeat/blob/main/alerts/runbook.md#"
DASHBOARD_UIDS = ("heartbeat-fleet", "heartbeat-console")
WATCHDOG = "HeartbeatWatchdog"
#: Alerts whose expression yields no labels to template (absent() of a comparison, vector()).
STATIC_DESCRIPTION = {WATCHDOG, "HeartbeatConsoleTargetsMissing"}
#: Alerts that never stop firing, so they have no negative case.
ALWAYS_FIRING = {WATCHDOG}
#: The per-console page, and what must inhibit it in Alertmanager (one problem, one page).
SILENT_PAGE = "HeartbeatConsoleSilent"
SILENCE_INHIBITORS = {
    "HeartbeatFleetManyConsolesSilent",
    "HeartbeatExporterDown",
    "HeartbeatExporterAbsent",
    "HeartbeatExporterDatabaseDown",
    "HeartbeatExporterNotIngesting",
}
RECEIVER_BY_SEVERITY = {"critical": "pager", "warning": "ticket", "info": "low-priority"}
#: Present for each console in maintenance; every alert that notifies leaves those consoles out.
IN_MAINTENANCE = "console_id:heartbeat_fleet_console_in_maintenance:max"
MAINTENANCE_ALERT = "HeartbeatConsoleInMaintenance"
#: Records that already leave consoles in maintenance out (the alerts built on them inherit it).
MAINTENANCE_FREE_RECORDS = (
    "console_id:heartbeat_fleet_silent_seconds_since_last_seen:min",
    "job:heartbeat_fleet_consoles_expected:count",
)


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES_FILE)["groups"] for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def _alert_names() -> list[str]:
    return [str(rule["alert"]) for rule in _alerts()]


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", RUNBOOK_FILE.read_text(encoding="utf-8"), re.M)
    return {_github_anchor(h) for h in headings}


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)


def _alert_rule_cases() -> list[dict[str, Any]]:
    return [
        case
        for path in RULE_TESTS
        for test in _load(path)["tests"]
        for case in test.get("alert_rule_test", [])
    ]


# --- promtool / amtool ---------------------------------------------------------------------------


def test_rule_file_passes_promtool_check_rules() -> None:
    promtool = require_binary("promtool")
    result = _run([promtool, "check", "rules", str(RULES_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_tests_exist_for_every_area() -> None:
    assert len(RULE_TESTS) >= 5, RULE_TESTS


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    promtool = require_binary("promtool")
    result = _run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_example_passes_amtool_check_config() -> None:
    amtool = require_binary("amtool")
    result = _run([amtool, "check-config", str(ALERTMANAGER_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: str(a["alert"]))
def test_alertmanager_routes_each_alert_by_its_severity(alert: dict[str, Any]) -> None:
    amtool = require_binary("amtool")
    severity = alert["labels"]["severity"]
    expected = "deadmansswitch" if alert["alert"] == WATCHDOG else RECEIVER_BY_SEVERITY[severity]
    result = _run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_FILE}",
            f"alertname={alert['alert']}",
            f"severity={severity}",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [expected]


def test_prometheus_config_passes_promtool_check_config() -> None:
    promtool = require_binary("promtool")
    result = _run([promtool, "check", "config", str(PROMETHEUS_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


# --- Alertmanager example ------------------------------------------------------------------------


def test_alertmanager_inhibits_console_silence_while_a_fleet_wide_problem_fires() -> None:
    inhibitors: set[str] = set()
    for rule in _load(ALERTMANAGER_FILE)["inhibit_rules"]:
        targets = " ".join(rule["target_matchers"])
        if re.search(rf'alertname\s*=\s*"{SILENT_PAGE}"', targets):
            for matcher in rule["source_matchers"]:
                match = re.match(r'alertname\s*=~?\s*"(.+)"', matcher)
                assert match, matcher
                inhibitors.update(match.group(1).split("|"))
    assert inhibitors == SILENCE_INHIBITORS


def test_alertmanager_inhibitions_name_only_shipped_alerts() -> None:
    names = set(_alert_names())
    for rule in _load(ALERTMANAGER_FILE)["inhibit_rules"]:
        for matcher in [*rule["source_matchers"], *rule["target_matchers"]]:
            match = re.match(r'alertname\s*=~?\s*"(.+)"', matcher)
            assert match, matcher
            assert set(match.group(1).split("|")) <= names, matcher


def test_alertmanager_groups_by_alert_name() -> None:
    assert "alertname" in _load(ALERTMANAGER_FILE)["route"]["group_by"]


def test_alertmanager_receivers_are_loopback_webhooks() -> None:
    for receiver in _load(ALERTMANAGER_FILE)["receivers"]:
        for webhook in receiver["webhook_configs"]:
            assert webhook["url"].startswith("http://127.0.0.1:"), receiver


# --- conventions of the rules --------------------------------------------------------------------


def test_alert_names_are_camel_case_with_the_shared_prefix() -> None:
    bad = [n for n in _alert_names() if not re.fullmatch(rf"{PREFIX}(?:[A-Z][a-z0-9]+)+", n)]
    assert not bad


def test_alert_names_are_unique() -> None:
    names = _alert_names()
    assert len(names) == len(set(names))


def test_every_alert_has_a_known_severity() -> None:
    bad = {a["alert"]: a.get("labels", {}).get("severity") for a in _alerts()}
    assert {n: s for n, s in bad.items() if s not in SEVERITIES} == {}


def test_every_summary_is_a_static_sentence() -> None:
    bad = [
        a["alert"]
        for a in _alerts()
        if not re.fullmatch(r"[A-Z][^{}\n]*\.", a["annotations"].get("summary", ""))
    ]
    assert not bad


def test_every_description_is_templated() -> None:
    bad = [
        a["alert"]
        for a in _alerts()
        if a["alert"] not in STATIC_DESCRIPTION and "{{" not in a["annotations"]["description"]
    ]
    assert not bad


def test_every_runbook_url_points_at_an_existing_runbook_section() -> None:
    anchors = _runbook_anchors()
    for alert in _alerts():
        url = alert["annotations"]["runbook_url"]
        assert url == RUNBOOK_BASE + alert["alert"].lower(), url
        assert alert["alert"].lower() in anchors, alert["alert"]


def test_every_dashboard_url_points_at_a_project_dashboard() -> None:
    for alert in _alerts():
        url = alert["annotations"].get("dashboard_url")
        if url is not None:
            assert any(f"/d/{uid}/" in url for uid in DASHBOARD_UIDS), url


def test_every_for_duration_is_explained_in_a_comment_beside_it() -> None:
    lines = RULES_FILE.read_text(encoding="utf-8").splitlines()
    unexplained = [
        number + 1
        for number, line in enumerate(lines)
        if re.match(r"\s+for: ", line) and not lines[number - 1].lstrip().startswith("#")
    ]
    assert not unexplained, f"for: without a comment on the line above: lines {unexplained}"


def test_every_alert_sets_its_for_duration_explicitly() -> None:
    assert [a["alert"] for a in _alerts() if "for" not in a] == []


def test_recording_rules_are_named_level_metric_operations() -> None:
    records = [str(r["record"]) for r in _rules() if "record" in r]
    assert records
    bad = [r for r in records if not re.fullmatch(r"[a-z_]+:heartbeat_[a-z_]+:[a-z0-9_]+", r)]
    assert not bad


def test_per_console_fleet_alerts_carry_the_console_identity() -> None:
    per_console = [
        a
        for a in _alerts()
        if "group_left (name, hostname)" in a["expr"] and "console_id" in a["expr"]
    ]
    assert SILENT_PAGE in {a["alert"] for a in per_console}
    for alert in per_console:
        assert "$labels.console_id" in alert["annotations"]["description"], alert["alert"]


def test_no_rule_measures_an_exporter_timestamp_against_prometheus_time() -> None:
    """time() - heartbeat_fleet_*_timestamp_seconds is off by the exporter's clock skew: the
    fleet rules subtract from the exporter's own clock (heartbeat_fleet_time_seconds) instead."""
    # The maintenance exclusion is a set operation on presence; it measures no time.
    fleet_rules = [
        r for r in _rules() if "heartbeat_fleet_" in r["expr"].replace(IN_MAINTENANCE, "")
    ]
    assert fleet_rules
    assert [r.get("record") or r["alert"] for r in fleet_rules if "time()" in r["expr"]] == []


def test_silence_page_requires_the_exporters_verdict_and_excludes_clean_stops() -> None:
    records = {r["record"]: r["expr"] for r in _rules() if "record" in r}
    silent = records["console_id:heartbeat_fleet_silent_seconds_since_last_seen:min"]
    assert 'state="inactiva"' in silent
    assert "stopped_cleanly" in silent
    assert "inactive_after_seconds" in silent


def test_fleet_figures_that_page_leave_consoles_in_maintenance_out() -> None:
    records = {r["record"]: " ".join(r["expr"].split()) for r in _rules() if "record" in r}
    for record in MAINTENANCE_FREE_RECORDS:
        assert f"unless on (job, console_id) {IN_MAINTENANCE}" in records[record], record


def test_no_alert_that_notifies_fires_for_a_console_in_maintenance() -> None:
    per_console = [
        a for a in _alerts() if a["labels"]["severity"] != "info" and "console_id" in a["expr"]
    ]
    assert SILENT_PAGE in {a["alert"] for a in per_console}
    bad = [
        a["alert"]
        for a in per_console
        if not any(name in a["expr"] for name in (IN_MAINTENANCE, *MAINTENANCE_FREE_RECORDS))
    ]
    assert bad == []


# --- promtool test coverage ----------------------------------------------------------------------


def test_every_rule_test_group_has_a_name() -> None:
    for path in RULE_TESTS:
        for test in _load(path)["tests"]:
            assert test.get("name"), path.name


def test_rule_tests_load_the_shipped_rule_file() -> None:
    for path in RULE_TESTS:
        files = [(path.parent / f).resolve() for f in _load(path)["rule_files"]]
        assert files == [RULES_FILE], path.name


def test_every_alert_has_a_positive_promtool_case_asserting_labels_and_annotations() -> None:
    covered = {
        case["alertname"]
        for case in _alert_rule_cases()
        if case.get("exp_alerts")
        and all(e.get("exp_labels") and e.get("exp_annotations") for e in case["exp_alerts"])
    }
    assert set(_alert_names()) - covered == set()


def test_every_alert_has_a_negative_promtool_case() -> None:
    covered = {case["alertname"] for case in _alert_rule_cases() if not case.get("exp_alerts")}
    assert set(_alert_names()) - ALWAYS_FIRING - covered == set()


# --- docs ----------------------------------------------------------------------------------------


def test_alerts_readme_lists_every_alert() -> None:
    readme = ALERTS_README.read_text(encoding="utf-8")
    assert [n for n in _alert_names() if f"[{n}](runbook.md#{n.lower()})" not in readme] == []


def test_alerts_readme_lists_every_recording_rule() -> None:
    readme = ALERTS_README.read_text(encoding="utf-8")
    records = [str(r["record"]) for r in _rules() if "record" in r]
    assert [r for r in records if f"`{r}`" not in readme] == []


# --- deploy/prometheus.yml -----------------------------------------------------------------------


def test_prometheus_config_loads_the_shipped_rules() -> None:
    config = _load(PROMETHEUS_FILE)
    files = [(PROMETHEUS_FILE.parent / f).resolve() for f in config["rule_files"]]
    assert files == [RULES_FILE]


def test_prometheus_config_sends_alerts_to_an_alertmanager() -> None:
    managers = _load(PROMETHEUS_FILE)["alerting"]["alertmanagers"]
    assert any(sc["targets"] for m in managers for sc in m["static_configs"])


def test_prometheus_config_scrapes_the_exporter_and_the_consoles_under_the_contract_job_names() -> (
    None
):
    jobs = {job["job_name"]: job for job in _load(PROMETHEUS_FILE)["scrape_configs"]}
    assert set(jobs) == {"heartbeat-exporter", "heartbeat-console"}
    assert jobs["heartbeat-exporter"]["static_configs"][0]["targets"]
    discovery = jobs["heartbeat-console"]["http_sd_configs"][0]["url"]
    assert discovery.endswith("/api/prometheus/targets")
    assert jobs["heartbeat-console"]["file_sd_configs"][0]["files"]


def test_console_file_sd_example_is_matched_by_the_config_and_lists_targets() -> None:
    console_job = next(
        job
        for job in _load(PROMETHEUS_FILE)["scrape_configs"]
        if job["job_name"] == "heartbeat-console"
    )
    patterns = console_job["file_sd_configs"][0]["files"]
    matched = {p for pattern in patterns for p in PROMETHEUS_FILE.parent.glob(pattern)}
    assert CONSOLE_TARGETS_FILE in matched
    groups = _load(CONSOLE_TARGETS_FILE)
    assert groups
    for group in groups:
        assert all(re.fullmatch(r"[\w.\-]+:\d+", t) for t in group["targets"]), group


# --- the Alertmanager example, running ------------------------------------------------------------


def _post_alerts(url: str, alerts: list[dict[str, str]]) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": {"summary": "Test."},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
        }
        for labels in alerts
    ]
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _silent(console_id: str) -> dict[str, str]:
    return {
        "alertname": SILENT_PAGE,
        "severity": "critical",
        "job": "heartbeat-exporter",
        "console_id": console_id,
        "name": f"consola-{console_id}",
    }


def test_alertmanager_example_pages_a_silent_console_by_name(
    tmp_path: Path, webhook_sink: WebhookSink
) -> None:
    with run_alertmanager(tmp_path, example_alertmanager_config(webhook_sink)) as am:
        _post_alerts(am.url, [_silent("c1")])
        wait_until(lambda: webhook_sink.alertnames("/pager"), timeout=20)
    assert webhook_sink.alertnames("/pager")[0] == [f"{SILENT_PAGE}/c1"]


def test_alertmanager_example_inhibits_console_pages_while_many_consoles_are_silent(
    tmp_path: Path, webhook_sink: WebhookSink
) -> None:
    fleet = {
        "alertname": "HeartbeatFleetManyConsolesSilent",
        "severity": "critical",
        "job": "heartbeat-exporter",
    }
    with run_alertmanager(tmp_path, example_alertmanager_config(webhook_sink)) as am:
        _post_alerts(am.url, [fleet, _silent("c1"), _silent("c2"), _silent("c3")])
        wait_until(lambda: webhook_sink.alertnames("/pager"), timeout=20)
        held = {a["labels"].get("console_id"): a["status"] for a in am.alerts()}
    assert webhook_sink.alertnames("/pager") == [["HeartbeatFleetManyConsolesSilent/"]]
    assert {cid: s["state"] for cid, s in held.items() if cid} == dict.fromkeys(
        ("c1", "c2", "c3"), "suppressed"
    )
    assert all(s["inhibitedBy"] for cid, s in held.items() if cid)


def test_alertmanager_example_sends_the_watchdog_to_the_dead_mans_switch(
    tmp_path: Path, webhook_sink: WebhookSink
) -> None:
    with run_alertmanager(tmp_path, example_alertmanager_config(webhook_sink)) as am:
        _post_alerts(am.url, [{"alertname": WATCHDOG, "severity": "info"}])
        wait_until(lambda: webhook_sink.alertnames("/watchdog"), timeout=20)
    assert webhook_sink.alertnames("/watchdog")[0] == [f"{WATCHDOG}/"]
    assert webhook_sink.alertnames("/low-priority") == []


# --- the rules in a real Prometheus, through the example Alertmanager -----------------------------


#: The fake exporter's clock runs this far behind Prometheus's (and the test's).
FAKE_EXPORTER_SKEW_SECONDS = -1200.0


#: c3's maintenance ends this long after the fake exporter's clock: still ahead on that clock,
#: already past on Prometheus's (the rules must judge it on the exporter's).
FAKE_MAINTENANCE_LEFT_SECONDS = 600.0


def _fleet_exposition() -> bytes:
    """Fleet metrics as the exporter serves them: c1 dead an hour ago and marked, c2 healthy,
    c3 like c1 but in maintenance, all on an exporter clock 20 minutes behind Prometheus's."""
    now = time.time() + FAKE_EXPORTER_SKEW_SECONDS
    lines = [f"heartbeat_fleet_time_seconds {now}", "heartbeat_fleet_database_up 1"]
    lines.append(
        'heartbeat_fleet_console_maintenance_until_timestamp_seconds{console_id="c3"} '
        f"{now + FAKE_MAINTENANCE_LEFT_SECONDS}"
    )
    consoles = (
        ("c1", now - 3600, "inactiva"),
        ("c2", now, "activa"),
        ("c3", now - 3600, "inactiva"),
    )
    for cid, last_seen, state in consoles:
        lines += [
            f'heartbeat_fleet_last_seen_timestamp_seconds{{console_id="{cid}"}} {last_seen}',
            f'heartbeat_fleet_inactive_after_seconds{{console_id="{cid}"}} 600',
            f'heartbeat_fleet_console_stopped_cleanly{{console_id="{cid}"}} 0',
            f'heartbeat_fleet_console_info{{console_id="{cid}",name="consola-{cid}",'
            f'hostname="host-{cid}",platform="linux",arch="x86_64",version="3.11"}} 1',
        ]
        lines += [
            f'heartbeat_fleet_console_state{{console_id="{cid}",state="{s}"}} {int(s == state)}'
            for s in ("activa", "ocupada", "esperando", "error", "inactiva")
        ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def fake_exporter() -> Iterator[str]:
    """A loopback /metrics serving :func:`_fleet_exposition`; yields its ``host:port``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _fleet_exposition()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_real_prometheus_pages_the_silent_console_by_name_not_a_healthy_one_nor_one_in_maintenance(
    tmp_path: Path, webhook_sink: WebhookSink, fake_exporter: str
) -> None:
    with (
        run_alertmanager(tmp_path / "am", example_alertmanager_config(webhook_sink)) as am,
        run_prometheus(
            tmp_path / "prom",
            [ScrapeJob("heartbeat-exporter", [fake_exporter])],
            rule_files=[RULES_FILE],
            alertmanager=am.address,
        ) as prom,
    ):
        wait_until(lambda: webhook_sink.alertnames("/pager"), timeout=30)
        # pending or firing: c3 (like c1, but in maintenance) must be neither
        alerts = {
            (a["labels"]["alertname"], a["labels"].get("console_id")): a["state"]
            for a in prom.alerts()
        }
    page = next(n for p, n in webhook_sink.received if p == "/pager")
    assert [a["labels"]["name"] for a in page["alerts"]] == ["consola-c1"]
    # measured on the exporter's clock: an hour, not an hour and the 20 minutes of skew
    assert "has sent no heartbeat for 1h 0m 0s" in page["alerts"][0]["annotations"]["description"]
    assert page["alerts"][0]["annotations"]["runbook_url"].endswith("#heartbeatconsolesilent")
    assert alerts.get((SILENT_PAGE, "c1")) == "firing"
    assert not any(console_id == "c2" for _, console_id in alerts)
    assert (SILENT_PAGE, "c3") not in alerts
    # its end is still ahead on the exporter's clock (already past on Prometheus's)
    assert alerts.get((MAINTENANCE_ALERT, "c3")) == "firing"
    assert (MAINTENANCE_ALERT, "c1") not in alerts
