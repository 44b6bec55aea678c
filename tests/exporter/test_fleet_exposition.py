"""The hand-rendered per-console families equal prometheus_client's, by the official parser and
by promtool."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.fleet.console_families import ConsoleFamiliesRenderer, escape_label_value
from exporter.fleet.renderer import FleetRenderer
from exporter.process_metrics import ProcessMetrics
from tests.support.exposition import fleet, parsed, reference, row
from tests.support.tools import require_binary


@pytest.mark.parametrize("video_info", [True, False])
def test_hand_rendered_families_equal_prometheus_client_families(video_info: bool) -> None:
    rows = fleet()
    ours = ConsoleFamiliesRenderer(video_info).render(rows).decode()
    assert parsed(ours) == parsed(reference(rows, video_info))


def test_an_empty_fleet_renders_the_same_families_as_prometheus_client() -> None:
    ours = ConsoleFamiliesRenderer().render([]).decode()
    assert parsed(ours) == parsed(reference([], True))


def test_cached_lines_follow_a_changed_row_and_drop_a_retired_console() -> None:
    renderer = ConsoleFamiliesRenderer()
    rows = fleet()
    renderer.render(rows)
    changed = [row(0, "error", seen=1764400000.5), *rows[2:]]
    assert parsed(renderer.render(changed).decode()) == parsed(reference(changed, True))
    retired_id = rows[1][0]
    assert retired_id not in renderer.render(changed).decode()


def test_label_values_are_escaped_as_the_text_format_requires() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert escape_label_value("plain") == "plain"


def test_the_whole_fleet_exposition_passes_promtool_check_metrics() -> None:
    promtool = require_binary("promtool")
    body, _ = FleetRenderer().render(fleet(), ProcessMetrics(), accept_gzip=False)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == b"" and result.stderr.strip() == b"", result.stderr


def test_the_whole_fleet_exposition_has_no_family_twice() -> None:
    body, _ = FleetRenderer().render(fleet(), ProcessMetrics(), accept_gzip=False)
    names = [family.name for family in text_string_to_metric_families(body.decode())]
    assert len(names) == len(set(names))
    assert "heartbeat_fleet_consoles" in names
    assert "heartbeat_fleet_console_state" in names
