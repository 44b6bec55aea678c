"""Benchmark results: sections (a table each), target checks, JSON and Markdown output."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"
TABLE_BEGIN = "<!-- bench:latest:begin -->"
TABLE_END = "<!-- bench:latest:end -->"


@dataclass
class Check:
    """One target from issue 8: what was measured against what was asked."""

    target: str
    measured: str
    goal: str
    met: bool | None  # None: not measured


@dataclass
class Section:
    """One benchmark's table, its target checks, notes and raw data (for the JSON file)."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def median(values: Sequence[float]) -> float:
    """The median (nan for no values)."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), nearest-rank (nan for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[rank]


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a table cell."""
    if math.isnan(seconds):
        return "–"
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def us(seconds: float) -> str:
    """Seconds as microseconds for a table cell."""
    return f"{seconds * 1e6:.1f} µs"


def mib(n_bytes: float) -> str:
    """Bytes as MiB."""
    return f"{n_bytes / 2**20:.1f} MiB"


def size(n_bytes: float) -> str:
    """Bytes in a readable unit."""
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.1f} MiB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:.0f} KiB"
    return f"{n_bytes:.0f} B"


def rate(per_second: float) -> str:
    """A rate per second."""
    return f"{per_second:,.0f}/s"


def _mark(met: bool | None) -> str:
    return {True: "✅ met", False: "❌ not met", None: "– not measured"}[met]


def markdown(sections: Sequence[Section], header: str) -> str:
    """The Markdown report: targets first, then one table per benchmark."""
    lines = [header, "", "### Targets", "", "| Target | Measured | Goal | |", "|---|---|---|---|"]
    for section in sections:
        for c in section.checks:
            lines.append(f"| {c.target} | {c.measured} | {c.goal} | {_mark(c.met)} |")
    for section in sections:
        lines += ["", f"### {section.title}", ""]
        if section.rows:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("|" + "---|" * len(section.headers))
            lines += ["| " + " | ".join(row) + " |" for row in section.rows]
        if section.notes:
            lines.append("")
            lines += [f"- {note}" for note in section.notes]
    return "\n".join(lines) + "\n"


def write_results(
    sections: Sequence[Section], meta: dict[str, Any], header: str, partial: bool = False
) -> Path:
    """Write ``results/<stamp>-<mode>.json``, ``latest-<mode>.json`` and ``latest.md``, and
    update the README's table. A ``partial`` run (``--only``) writes ``...-partial.json`` and
    ``latest-partial.md`` and leaves the complete run's files and the README alone."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = str(meta["started"]).replace(":", "").replace("-", "")
    kind = f"{meta['mode']}-partial" if partial else str(meta["mode"])
    data = {"meta": meta, "sections": [asdict(s) for s in sections]}
    path = RESULTS_DIR / f"{stamp}-{kind}.json"
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    path.write_text(text, encoding="utf-8")
    table = markdown(sections, header)
    if partial:
        (RESULTS_DIR / "latest-partial.md").write_text(table, encoding="utf-8")
        return path
    (RESULTS_DIR / f"latest-{kind}.json").write_text(text, encoding="utf-8")
    (RESULTS_DIR / "latest.md").write_text(table, encoding="utf-8")
    _update_readme(table)
    return path


def _update_readme(table: str) -> None:
    if not README.exists():
        return
    text = README.read_text(encoding="utf-8")
    begin, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if begin < 0 or end < begin:
        return
    new = text[: begin + len(TABLE_BEGIN)] + "\n" + table + text[end:]
    README.write_text(new, encoding="utf-8")
