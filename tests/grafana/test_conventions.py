"""Every committed dashboard follows the dashboard conventions, and the checks catch regressions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from consola_wire import ALL_STATES
from grafana.dashboards import DASHBOARD_DIR
from grafana.lint import lint, panels

FILES = sorted(DASHBOARD_DIR.glob("*.json"))
EXPECTED_UIDS = {
    "heartbeat-fleet.json": "heartbeat-fleet",
    "heartbeat-console.json": "heartbeat-console",
}


def load(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panel_titled(board: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in panels(board) if p["title"] == title)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_file_violates_no_convention(path: Path) -> None:
    assert lint(json.loads(path.read_text(encoding="utf-8"))) == []


def test_both_dashboards_are_shipped_with_their_stable_uids() -> None:
    assert {p.name: json.loads(p.read_text())["uid"] for p in FILES} == EXPECTED_UIDS


def test_dashboards_share_a_tag_and_link_to_each_other_through_it() -> None:
    boards = [load(name) for name in EXPECTED_UIDS]
    shared = set.intersection(*(set(b["tags"]) for b in boards))
    for board in boards:
        link_tags = {t for link in board["links"] for t in link.get("tags", [])}
        assert link_tags & shared, board["uid"]


def test_fleet_table_links_each_console_to_the_console_dashboard() -> None:
    table = panel_titled(load("heartbeat-fleet.json"), "Consoles")
    urls = [
        link["url"]
        for override in table["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert urls
    assert all("/d/heartbeat-console/" in url and "var-console_id=" in url for url in urls)


def test_fleet_table_merges_instant_queries_and_puts_silent_consoles_first() -> None:
    table = panel_titled(load("heartbeat-fleet.json"), "Consoles")
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    ids = [t["id"] for t in table["transformations"]]
    assert ids[0] == "merge"
    sort = next(t for t in table["transformations"] if t["id"] == "sortBy")["options"]["sort"][0]
    silence = next(
        t for t in table["targets"] if t["refId"] == sort["field"].removeprefix("Value #")
    )
    assert sort["desc"] is True
    assert "heartbeat_fleet_inactive_after_seconds" in silence["expr"]


def test_fleet_table_colours_the_whole_row_of_a_silent_console() -> None:
    table = panel_titled(load("heartbeat-fleet.json"), "Consoles")
    override = next(
        o
        for o in table["fieldConfig"]["overrides"]
        if o["matcher"]["options"] == "Silence / threshold"
    )
    props = {p["id"]: p["value"] for p in override["properties"]}
    assert props["custom.cellOptions"]["applyToRow"] is True
    assert props["thresholds"]["steps"][-1] == {"color": "red", "value": 1}


def test_console_dashboard_picks_one_console_from_the_fleet_info_metric() -> None:
    variables = {v["name"]: v for v in load("heartbeat-console.json")["templating"]["list"]}
    console = variables["console_id"]
    assert "heartbeat_fleet_console_info" in console["query"]["query"]
    assert console["multi"] is False and console["includeAll"] is False
    assert list(variables)[-1] == "console_id"


def test_fleet_alerts_panel_shows_only_heartbeat_alerts_firing() -> None:
    expr = panel_titled(load("heartbeat-fleet.json"), "Alerts firing")["targets"][0]["expr"]
    assert expr.startswith('ALERTS{alertname=~"Heartbeat.*", alertstate="firing"')


def test_state_stats_exist_for_every_state() -> None:
    titles = {p["title"] for p in panels(load("heartbeat-fleet.json"))}
    assert {f"Consoles {state}" for state in ALL_STATES} <= titles


# The checks themselves: each would fail if a dashboard regressed.


def broken(mutate: Any) -> list[str]:
    board = copy.deepcopy(load("heartbeat-fleet.json"))
    mutate(board)
    return lint(board)


def test_lint_reports_a_panel_that_lost_its_unit() -> None:
    problems = broken(lambda b: b["panels"][0]["fieldConfig"]["defaults"].pop("unit"))
    assert problems == [f"{load('heartbeat-fleet.json')['panels'][0]['title']}: no unit"]


def test_lint_reports_a_panel_without_description() -> None:
    assert any("no description" in p for p in broken(lambda b: b["panels"][1].pop("description")))


def test_lint_reports_a_query_without_the_job_filter() -> None:
    def drop_job(board: dict[str, Any]) -> None:
        target = board["panels"][0]["targets"][0]
        target["expr"] = target["expr"].replace('job=~"$job", ', "")

    assert any("does not filter by $job" in p for p in broken(drop_job))


def test_lint_reports_a_query_without_the_instance_filter() -> None:
    def drop_instance(board: dict[str, Any]) -> None:
        target = board["panels"][0]["targets"][0]
        target["expr"] = target["expr"].replace(', instance=~"$instance"', "")

    assert any("does not filter by $instance" in p for p in broken(drop_instance))


def test_lint_reports_a_rate_over_a_fixed_window() -> None:
    def fixed_window(board: dict[str, Any]) -> None:
        for item in panels(board):
            for target in item["targets"]:
                target["expr"] = target["expr"].replace("[$__rate_interval]", "[5m]")

    assert any("range [5m]" in p for p in broken(fixed_window))


def test_lint_reports_a_counter_read_without_rate() -> None:
    def raw_counter(board: dict[str, Any]) -> None:
        board["panels"][0]["targets"][0]["expr"] = (
            'heartbeat_fleet_heartbeats_received_total{job=~"$job", instance=~"$instance"}'
        )

    assert any("counter read other than through rate" in p for p in broken(raw_counter))


def test_lint_reports_a_hard_coded_datasource_uid() -> None:
    def hard_code(board: dict[str, Any]) -> None:
        board["panels"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}

    assert any("not the datasource variable" in p for p in broken(hard_code))


def test_lint_reports_a_state_panel_that_lost_its_mappings() -> None:
    def drop_mappings(board: dict[str, Any]) -> None:
        panel_titled(board, "State per console")["fieldConfig"]["defaults"]["mappings"] = []

    assert any("state panel without mappings" in p for p in broken(drop_mappings))


def test_lint_reports_a_status_panel_that_lost_its_mappings() -> None:
    def drop_mappings(board: dict[str, Any]) -> None:
        panel_titled(board, "Database")["fieldConfig"]["defaults"]["mappings"] = []

    assert broken(drop_mappings) == ["Database: status panel without coloured value mappings"]


def test_lint_reports_an_editable_dashboard_and_a_missing_uid() -> None:
    def editable(board: dict[str, Any]) -> None:
        board["editable"] = True
        board["uid"] = ""

    assert {"dashboard is editable", "dashboard has no uid"} <= set(broken(editable))


def test_lint_reports_a_job_variable_without_all_value() -> None:
    def no_all(board: dict[str, Any]) -> None:
        board["templating"]["list"][1].pop("allValue")

    assert 'variable job allValue is not ".+"' in broken(no_all)


def test_lint_reports_a_job_variable_not_refreshed_on_time_range_change() -> None:
    def on_load(board: dict[str, Any]) -> None:
        board["templating"]["list"][1]["refresh"] = 1

    assert "variable job is not refreshed on time range change" in broken(on_load)
