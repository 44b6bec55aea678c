"""``python -m bench [--full] [--only NAME ...]``: run the benchmarks, print and write the table."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime

from bench import machine
from bench.mode import FULL, QUICK
from bench.report import Check, Section, write_results

#: Benchmark modules in run order (each has ``run(mode, log) -> Section``).
BENCHMARKS = {
    "ingest": "bench.ingest",
    "scrape": "bench.scrape",
    "worker": "bench.worker_cost",
    "detection": "bench.detection",
    "db": "bench.db_layer",
    "targets": "bench.targets",
}


def log(message: str) -> None:
    """Progress on stderr, time-stamped."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks; 0 when all ran (targets missed or not), 1 when one crashed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the long runs (default: quick)")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks"
    )
    args = parser.parse_args(argv)
    mode = FULL if args.full else QUICK
    info = machine.describe()
    started = datetime.now(UTC)
    command = "python -m bench" + (" --full" if args.full else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    log(f"bench ({mode.name}) on {machine.summary(info)}")
    sections: list[Section] = []
    failed = False
    for name, module_name in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        log(f"== {name}")
        t0 = time.monotonic()
        try:
            section: Section = importlib.import_module(module_name).run(mode, log)
        except Exception as exc:
            failed = True
            traceback.print_exc()
            section = Section(key=name, title=f"{name}: FAILED", headers=[])
            section.notes.append(f"The benchmark crashed: {type(exc).__name__}: {exc}")
            section.checks.append(Check(f"{name} benchmark", "crashed", "runs", None))
        section.seconds = time.monotonic() - t0
        log(f"   {name} took {section.seconds:.0f}s")
        sections.append(section)
    total = (datetime.now(UTC) - started).total_seconds()
    meta = {
        "mode": mode.name,
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": total,
        "command": command,
        "machine": info,
    }
    header = (
        f"Run {meta['started']} (`{command}`, {mode.name} mode, {total / 60:.1f} min) on "
        f"{machine.summary(info)}."
    )
    path = write_results(sections, meta, header, partial=bool(args.only))
    from bench.report import markdown

    print(markdown(sections, header))
    log(f"wrote {path}" + ("" if args.only else " and bench/results/latest.md"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
