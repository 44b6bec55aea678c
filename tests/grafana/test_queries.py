"""Panel queries: variable substitution as Grafana does it, and metric names from the contract."""

from __future__ import annotations

import re

import pytest

from grafana.dashboards import build_all
from grafana.lint import metric_names
from grafana.queries import (
    ALL,
    builtins_for,
    format_value,
    panel_queries,
    regex_escape,
    shipped_queries,
    substitute,
)
from tests.support.tools import REPO_ROOT

CONTRACTS = REPO_ROOT / "docs" / "contracts.md"
#: Series Prometheus itself creates, not part of our contract.
PROMETHEUS_BUILTIN = {"ALERTS", "up"}
CONSOLE = "0b6a5d3e-1111-4222-8333-444455556666"

MULTI = {"name": "job", "multi": True, "includeAll": True, "allValue": ".+"}
SINGLE = {"name": "console_id", "multi": False, "includeAll": False}


def contract_metrics(text: str) -> set[str]:
    """Metric names in the tables of docs/contracts.md (``a_x_total`` / ``_y_total`` expanded)."""
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        previous = ""
        for token in re.findall(r"`([^`]+)`", line.split("|")[1]):
            name = token
            if token.startswith("_") and previous:
                name = "_".join(previous.split("_")[: -token.count("_")]) + token
            if "*" not in name:
                names.add(name)
                previous = name
    return names


def all_queries() -> list[str]:
    return [
        q.raw
        for board in build_all().values()
        for q in panel_queries(board, {"console_id": CONSOLE})
    ]


def test_contract_parser_expands_abbreviated_names() -> None:
    names = contract_metrics(CONTRACTS.read_text(encoding="utf-8"))
    assert "heartbeat_videos_finished_total" in names
    assert "heartbeat_system_memory_available_bytes" in names
    assert "heartbeat_fleet_last_seen_timestamp_seconds" in names


def test_every_metric_a_panel_queries_is_in_the_metric_contract() -> None:
    contract = contract_metrics(CONTRACTS.read_text(encoding="utf-8")) | PROMETHEUS_BUILTIN
    used = {name for expr in all_queries() for name in metric_names(expr)}
    assert used, "no metric found in the dashboards"
    assert used - contract == set()


def test_a_renamed_metric_would_be_caught_by_the_contract_check() -> None:
    contract = contract_metrics(CONTRACTS.read_text(encoding="utf-8"))
    renamed = 'rate(heartbeat_fleet_heartbeats_total{job=~"$job"}[$__rate_interval])'
    assert metric_names(renamed) - contract == {"heartbeat_fleet_heartbeats_total"}


def test_all_selected_becomes_the_variables_all_value() -> None:
    assert format_value(MULTI, ALL) == ".+"


def test_several_values_become_an_escaped_regex_alternation() -> None:
    assert format_value(MULTI, ["heartbeat-exporter", "10.0.0.1:9100"]) == (
        "(heartbeat-exporter|10\\\\.0\\\\.0\\\\.1:9100)"
    )


def test_one_value_of_a_multi_variable_is_regex_escaped_without_parentheses() -> None:
    assert format_value(MULTI, "a.b") == "a\\\\.b"


def test_single_value_variable_is_substituted_verbatim() -> None:
    assert format_value(SINGLE, CONSOLE) == CONSOLE


def test_regex_escape_protects_every_regex_metacharacter() -> None:
    assert regex_escape("a|b(c)") == "a\\\\|b\\\\(c\\\\)"


def test_substitution_replaces_every_reference_form_and_the_rate_interval() -> None:
    board = {"templating": {"list": [MULTI, SINGLE]}}
    expr = 'rate(x{job=~"$job", a="${console_id}", b="[[console_id]]"}[$__rate_interval])'
    assert substitute(expr, board, {"console_id": "c1"}, {"__rate_interval": "30s"}) == (
        'rate(x{job=~".+", a="c1", b="c1"}[30s])'
    )


def test_substitution_refuses_an_unknown_variable() -> None:
    with pytest.raises(ValueError, match=r"unknown variable \$cluster"):
        substitute('x{cluster="$cluster"}', {"templating": {"list": []}}, {}, {})


def test_substitution_needs_a_value_for_a_variable_without_all() -> None:
    with pytest.raises(ValueError, match="console_id"):
        substitute('x{c="$console_id"}', {"templating": {"list": [SINGLE]}}, {}, {})


def test_every_panel_query_of_every_dashboard_is_extracted_with_nothing_left_to_substitute() -> (
    None
):
    for board in build_all().values():
        queries = panel_queries(board, {"console_id": CONSOLE})
        targets = sum(len(p.get("targets", [])) for p in board["panels"])
        assert len(queries) == targets
        for query in queries:
            assert "$" not in query.expr and "[[" not in query.expr, query
            assert query.panel_title and query.ref_id


def test_selected_job_and_console_appear_in_the_substituted_queries() -> None:
    board = build_all()["heartbeat-console.json"]
    queries = panel_queries(board, {"job": ["heartbeat-console"], "console_id": CONSOLE})
    assert all('job=~"heartbeat-console' in q.expr for q in queries)
    assert any(f'console_id="{CONSOLE}"' in q.expr for q in queries)


def test_rate_interval_builtin_follows_grafanas_rule() -> None:
    assert (
        builtins_for(scrape_interval=1, step=15, range_seconds=600)["__rate_interval"] == "16000ms"
    )
    assert (
        builtins_for(scrape_interval=15, step=5, range_seconds=600)["__rate_interval"] == "60000ms"
    )


def test_shipped_queries_cover_both_dashboards() -> None:
    uids = {q.dashboard_uid for q in shipped_queries({"console_id": CONSOLE})}
    assert uids == {"heartbeat-fleet", "heartbeat-console"}
