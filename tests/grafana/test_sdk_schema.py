"""The committed dashboards hold exactly what Grafana's schema knows (grafana-foundation-sdk).

Grafana silently ignores an option key it does not know. The SDK's models decode a dashboard,
panel options included (per panel plugin), and encode it back: a key the schema does not know is
dropped on the way, a required one that is missing comes back with the schema's default. A file
that survives the round trip unchanged therefore carries no misspelt and no missing option.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from grafana.dashboards import DASHBOARD_DIR
from grafana.lint import panels

FILES = sorted(DASHBOARD_DIR.glob("*.json"))


def schema_round_trip(board: dict[str, Any]) -> dict[str, Any]:
    """``board`` decoded by the SDK's typed models and encoded again."""
    register_default_plugins()
    return json.loads(json.dumps(Dashboard.from_json(board), cls=JSONEncoder))  # type: ignore[no-any-return]


def differences(before: Any, after: Any, path: str = "$") -> Iterator[str]:
    """Paths where ``after`` lost, gained or changed something of ``before``."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if key not in after:
                yield f"unknown to the schema: {path}.{key}"
            elif key not in before:
                yield f"missing (schema default {after[key]!r}): {path}.{key}"
            else:
                yield from differences(before[key], after[key], f"{path}.{key}")
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from differences(old, new, f"{path}[{index}]")
    elif before != after:
        yield f"changed: {path} {before!r} -> {after!r}"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_committed_dashboard_survives_the_sdk_schema_round_trip_unchanged(path: Path) -> None:
    board = load(path)
    assert list(differences(board, schema_round_trip(board))) == []


def test_round_trip_reports_a_misspelt_panel_option() -> None:
    board = load(DASHBOARD_DIR / "heartbeat-fleet.json")
    options = board["panels"][0]["options"]
    options["colourMode"] = options.pop("colorMode")
    found = list(differences(board, schema_round_trip(copy.deepcopy(board))))
    assert "unknown to the schema: $.panels[0].options.colourMode" in found


def test_round_trip_reports_a_legend_without_its_required_show_legend() -> None:
    board = load(DASHBOARD_DIR / "heartbeat-fleet.json")
    timeseries = next(p for p in panels(board) if p["type"] == "timeseries")
    del timeseries["options"]["legend"]["showLegend"]
    index = board["panels"].index(timeseries)
    found = list(differences(board, schema_round_trip(copy.deepcopy(board))))
    assert f"missing (schema default False): $.panels[{index}].options.legend.showLegend" in found


def test_round_trip_reports_a_variable_key_outside_the_schema() -> None:
    board = load(DASHBOARD_DIR / "heartbeat-console.json")
    board["templating"]["list"][1]["definition"] = "label_values(up, job)"
    found = list(differences(board, schema_round_trip(copy.deepcopy(board))))
    assert found == ["unknown to the schema: $.templating.list[1].definition"]
