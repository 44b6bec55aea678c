"""The benchmark report helpers (bench/report.py): statistics and the Markdown table."""

from __future__ import annotations

from bench.report import Check, Section, markdown, median, percentile


def test_percentile_is_nearest_rank_over_the_sorted_values() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0


def test_median_of_nothing_is_nan_rather_than_an_error() -> None:
    assert median([]) != median([])  # nan
    assert median([1.0, 5.0, 3.0]) == 3.0


def test_markdown_lists_every_target_with_its_verdict_before_the_tables() -> None:
    section = Section(key="x", title="1. Thing", headers=["A", "B"], rows=[["a", "b"]])
    section.checks = [
        Check("fast", "1 ms", "≤ 2 ms", True),
        Check("small", "3 MiB", "≤ 1 MiB", False),
        Check("other", "–", "runs", None),
    ]
    text = markdown([section], "header")
    targets, tables = text.split("### 1. Thing")
    assert "| fast | 1 ms | ≤ 2 ms | ✅ met |" in targets
    assert "| small | 3 MiB | ≤ 1 MiB | ❌ not met |" in targets
    assert "– not measured" in targets
    assert "| A | B |\n|---|---|\n| a | b |" in tables
