"""The committed dashboard JSON is exactly what grafana/ generates, byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grafana.dashboards import DASHBOARD_DIR, build_all, render
from grafana.generate import main, stale_files


def test_committed_dashboards_equal_what_the_code_generates() -> None:
    for name, board in build_all().items():
        committed = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
        assert committed == render(board), f"{name} is stale: run python -m grafana.generate"


def test_dashboard_directory_holds_no_file_the_code_does_not_generate() -> None:
    assert sorted(p.name for p in DASHBOARD_DIR.glob("*.json")) == sorted(build_all())


def test_rendering_is_deterministic_sorted_indented_and_newline_terminated() -> None:
    first = {name: render(board) for name, board in build_all().items()}
    second = {name: render(board) for name, board in build_all().items()}
    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_check_mode_passes_on_the_committed_files() -> None:
    assert main(["--check"]) == 0


def test_check_mode_fails_when_a_file_was_edited_by_hand(tmp_path: Path) -> None:
    shutil.copytree(DASHBOARD_DIR, tmp_path, dirs_exist_ok=True)
    edited = tmp_path / "heartbeat-fleet.json"
    edited.write_text(edited.read_text().replace('"editable": false', '"editable": true'))
    assert stale_files(tmp_path) == ["heartbeat-fleet.json"]
    assert main(["--check", "--output-dir", str(tmp_path)]) == 1


def test_generate_writes_every_dashboard_into_an_empty_directory(tmp_path: Path) -> None:
    assert main(["--output-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(build_all())
    assert stale_files(tmp_path) == []
