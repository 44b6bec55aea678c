"""``python -m bench.checkouts OTHER``: this checkout's exporter against OTHER's, in one run.

For a change that must cost nothing (a restructuring) or must win (an optimisation): both
exporters serve copies of one database, and their trials are interleaved with the baselines'
(the bare Starlette ceiling for ingestion, a plain prometheus_client registry for the scrape), so
load from elsewhere on the machine hits all alike. Reports medians and p99s, and each exporter's
fraction of its baseline. OTHER is a checkout of this project (``git worktree add`` or a clone);
its exporter runs from its own folder with this venv's packages.

``python -m bench.checkouts /tmp/before --this /tmp/after --rounds 5 --seconds 6``; with
``--paced 3500`` each exporter is also offered that rate, interleaved, for its p99 (the tail a
moderate load sees); ``--no-scrape`` skips the ``/metrics`` part; ``--changes`` sends heartbeats
that mostly change their console's state. Both checkouts' fills register each console in the state
its heartbeats report only if OTHER's ``bench/ids.py`` does (since the writer process change).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.mode import interleaved
from bench.procs import asgi_ceiling, ceiling, exporter, plain_registry, wait_ready
from bench.report import median, percentile
from bench.scrape import scrape
from bench.wrk_runner import run_wrk
from tests.support.tools import REPO_ROOT

SCRIPT = "heartbeat.lua"
CONNECTIONS = 64


def fill(checkout: Path, database: Path, consoles: int) -> None:
    """Register the same consoles in ``database`` with ``checkout``'s own code, so each
    exporter finds its own schema (``bench/fleet.py`` of that checkout)."""
    script = (
        "import sys\nfrom bench.fleet import register_consoles\n"
        "register_consoles(sys.argv[1], int(sys.argv[2]))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(database), str(consoles)],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        check=True,
        timeout=600,
    )


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": median(values), "p99": percentile(values, 99)}


def ingest(checkouts: dict[str, Path], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Heartbeats/s per trial for each exporter and the ceiling, interleaved."""
    rates: dict[str, list[float]] = {name: [] for name in [*checkouts, "ceiling", "asgi_ceiling"]}
    p99s: dict[str, list[float]] = {name: [] for name in rates}
    with contextlib.ExitStack() as stack:
        urls: dict[str, tuple[str, int]] = {}
        for name, checkout in checkouts.items():
            database = tmp / f"ingest-{name}.db"
            fill(checkout, database, args.consoles)
            ex = stack.enter_context(exporter(str(database), checkout=checkout))
            wait_ready(ex.url)  # the fleet read at start shares no trial's CPU
            assert ex.process is not None
            urls[name] = (ex.url, ex.process.pid)
        ceiling_server = stack.enter_context(ceiling())
        urls["ceiling"] = (ceiling_server.url, ceiling_server.pid)
        asgi_server = stack.enter_context(asgi_ceiling())
        urls["asgi_ceiling"] = (asgi_server.url, asgi_server.pid)
        order = list(urls)
        for url, _pid in urls.values():  # warm-up
            run_wrk(url, SCRIPT, seconds=2, connections=CONNECTIONS, consoles=args.consoles)
        for round_index in range(args.rounds):
            for name in interleaved(order, round_index):
                url, pid = urls[name]
                result = run_wrk(
                    url,
                    SCRIPT,
                    seconds=args.seconds,
                    connections=CONNECTIONS,
                    consoles=args.consoles,
                    server_pid=pid,
                    changes=args.changes,
                )
                rates[name].append(result.ok_rate)
                p99s[name].append(result.p99)
                print(f"  ingest {name}: {result.ok_rate:,.0f}/s p99 {result.p99 * 1e3:.1f} ms")
        paced = paced_trials({name: urls[name] for name in checkouts}, args)
    return {
        **{
            name: {"rate": summary(rates[name]), "p99": summary(p99s[name]), "trials": rates[name]}
            for name in rates
        },
        **paced,
    }


def paced_trials(
    urls: dict[str, tuple[str, int]], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """With ``--paced RATE``: each exporter offered RATE heartbeats/s, interleaved, ``--seconds``
    per trial (``--paced-rounds`` rounds); the p99s, under ``paced <name>``."""
    if not args.paced:
        return {}
    p99s: dict[str, list[float]] = {name: [] for name in urls}
    order = list(urls)
    for round_index in range(args.paced_rounds):
        for name in interleaved(order, round_index):
            url, _pid = urls[name]
            result = run_wrk(
                url,
                SCRIPT,
                seconds=args.seconds,
                connections=CONNECTIONS,
                consoles=args.consoles,
                rate=args.paced,
            )
            p99s[name].append(result.p99)
            print(
                f"  paced {name} at {args.paced:,.0f}/s: {result.ok_rate:,.0f}/s"
                f" p99 {result.p99 * 1e3:.1f} ms"
            )
    return {f"paced {name}": {"p99": summary(p99s[name]), "trials": p99s[name]} for name in urls}


def scrapes(checkouts: dict[str, Path], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Steady fleet /metrics seconds per exporter and for the plain registry, interleaved, and
    each exporter's first scrape after it started (once its /readyz answered 200)."""
    times: dict[str, list[float]] = {name: [] for name in [*checkouts, "prometheus_client"]}
    first: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        ports: dict[str, tuple[int, str]] = {}
        for name, checkout in checkouts.items():
            database = tmp / f"scrape-{name}.db"
            fill(checkout, database, args.consoles)
            ex = stack.enter_context(exporter(str(database), checkout=checkout))
            wait_ready(ex.url)
            first[name] = scrape(ex.port, "/metrics", repeats=0, accept_gzip=False)["first"]
            print(f"  scrape {name} first after start: {first[name] * 1e3:.1f} ms")
            ports[name] = (ex.port, "/metrics")
        plain = stack.enter_context(plain_registry(args.consoles))
        ports["prometheus_client"] = (plain.port, "/metrics")
        for round_index in range(args.rounds):
            for name, (port, path) in ports.items():
                result = scrape(port, path, repeats=args.scrape_repeats, accept_gzip=False)
                times[name].extend(result["times"])
                print(f"  scrape {name} round {round_index}: {result['median'] * 1e3:.1f} ms")
    return {
        name: {"seconds": summary(values), "trials": values, "first": first.get(name)}
        for name, values in times.items()
    }


def table(
    results: dict[str, Any], checkouts: dict[str, Path], argv: Sequence[str] | None
) -> list[str]:
    """The Markdown table of a run (``–`` where a part was not measured)."""
    ingest, scrape = results["ingest"], results.get("scrape", {})
    lines = [f"`python -m bench.checkouts {' '.join(sys.argv[1:] if argv is None else argv)}`", ""]
    lines += ["| exporter | heartbeats/s (median) | p99 | ÷ Starlette ceiling | ÷ ASGI ceiling | "
              "paced p99 (median) | /metrics (median) | p99 | prometheus_client ÷ exporter | "
              "first /metrics after start |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ceiling_rate = ingest["ceiling"]["rate"]["median"]
    asgi_rate = ingest["asgi_ceiling"]["rate"]["median"]
    plain = scrape.get("prometheus_client", {}).get("seconds", {}).get("median")
    for name, checkout in checkouts.items():
        i, rate = ingest[name], ingest[name]["rate"]["median"]
        paced = ingest.get(f"paced {name}")
        cells = [f"{name} ({checkout})", f"{rate:,.0f}", f"{i['p99']['median'] * 1e3:.1f} ms",
                 f"{rate / ceiling_rate:.3f}", f"{rate / asgi_rate:.3f}",
                 f"{paced['p99']['median'] * 1e3:.1f} ms" if paced else "–"]  # fmt: skip
        if name in scrape and plain:
            s = scrape[name]["seconds"]
            first = scrape[name]["first"]
            cells += [f"{s['median'] * 1e3:.1f} ms", f"{s['p99'] * 1e3:.1f} ms",
                      f"{plain / s['median']:.1f}×", f"{first * 1e3:.1f} ms"]  # fmt: skip
        else:
            cells += ["–"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    plain_cell = f"{plain * 1e3:.1f} ms" if plain else "–"
    ceiling_p99 = ingest["ceiling"]["p99"]["median"] * 1e3
    asgi_p99 = ingest["asgi_ceiling"]["p99"]["median"] * 1e3
    lines.append(
        f"| Starlette ceiling / prometheus_client | {ceiling_rate:,.0f} | {ceiling_p99:.1f} ms"
        f" | 1 | – | – | {plain_cell} | – | 1× | – |"
    )
    lines.append(
        f"| ASGI ceiling | {asgi_rate:,.0f} | {asgi_p99:.1f} ms | – | 1 | – | – | – | – | – |"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkouts", description=__doc__)
    parser.add_argument("other", type=Path, help="the checkout to compare with (e.g. before)")
    parser.add_argument(
        "--this", type=Path, default=REPO_ROOT, help="the checkout compared (default: this one)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per wrk trial")
    parser.add_argument("--consoles", type=int, default=100_000, help="consoles (default 100k)")
    parser.add_argument("--scrape-repeats", type=int, default=3, help="timed scrapes per round")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--paced", type=float, default=0.0, help="also pace at this rate (/s)")
    parser.add_argument("--paced-rounds", type=int, default=5, help="paced rounds (default 5)")
    parser.add_argument("--no-scrape", action="store_true", help="ingestion only")
    parser.add_argument(
        "--changes",
        action="store_true",
        help="ingestion trials where 5 in 8 heartbeats change their console's state (the ceilings"
        " take the same bodies); default: each console keeps the state it registered in",
    )
    args = parser.parse_args(argv)
    checkouts = {"other": args.other.resolve(), "this": args.this.resolve()}
    with tempfile.TemporaryDirectory(prefix="bench-checkouts-") as folder:
        tmp = Path(folder)
        results = {"ingest": ingest(checkouts, args, tmp)}
        if not args.no_scrape:
            results["scrape"] = scrapes(checkouts, args, tmp)
    print("\n".join(table(results, checkouts, argv)))
    if args.output:
        args.output.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
