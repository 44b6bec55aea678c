"""Benchmark 1: heartbeat ingestion with wrk, SQLite and PostgreSQL, beside two baselines.

Baselines in the same run: two ceilings on the same uvicorn stack that parse the body and answer
200 (a bare Starlette app, and a raw ASGI callable: the stack itself), and the Prometheus
Pushgateway (one group per console, holding a stated number of groups). Trials are interleaved
(both ceilings, SQLite, PostgreSQL; the order rotates every trial) so load from other processes
on the machine hits every target alike.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.fleet import fill_pushgateway, register_consoles
from bench.ids import BENCH_INTERVAL_SECONDS
from bench.mode import Mode, interleaved
from bench.procs import asgi_ceiling, ceiling, exporter, pushgateway, wait_ready
from bench.report import Check, Section, median, ms, rate
from bench.wrk_runner import WrkResult, run_wrk

SQLITE_TARGET_RATE = 5_000.0
POSTGRES_TARGET_RATE = 3_000.0
P99_TARGET_SECONDS = 0.025
CEILING_FRACTION_TARGET = 0.5
#: Fractions of the bare-ASGI ceiling (issue 17), and the p99 when paced at half the max rate.
ASGI_FRACTION_TARGETS = {"sqlite": 0.30, "postgresql": 0.35}
HALF_RATE_P99_TARGET_SECONDS = 0.025
BURST_SECONDS = 10.0
BURST_CONNECTIONS = 500
#: A second max-rate run with more connections: group commit batches grow with concurrency.
WIDE_CONNECTIONS = 256
SCRIPT = "heartbeat.lua"


def burst_rate(consoles: int) -> float:
    """10x the mean rate of ``consoles`` beating every 5 minutes (all of them on the minute)."""
    return 10.0 * consoles / BENCH_INTERVAL_SECONDS


def _summary(results: list[WrkResult]) -> dict[str, Any]:
    return {
        "rate": median([r.ok_rate for r in results]),
        "p50": median([r.p50 for r in results]),
        "p99": median([r.p99 for r in results]),
        "p99_worst": max(r.p99 for r in results),
        "non_2xx": sum(r.non_2xx for r in results),
        "cpu_per_request": median([r.cpu_per_request for r in results]),
        "errors": sum(r.socket_errors + r.timeouts for r in results),
        "trials": [vars(r) for r in results],
    }


def _row(name: str, s: dict[str, Any], ceilings: tuple[float, float], note: str = "") -> list[str]:
    """A table row; ``ceilings`` are the Starlette and bare-ASGI ceiling rates."""
    fractions = [f"{s['rate'] / c:.2f}" if c else "–" for c in ceilings]
    cpu = s.get("cpu_per_request", 0.0)
    return [
        name,
        rate(s["rate"]),
        ms(s["p50"]),
        f"{ms(s['p99'])} (worst {ms(s['p99_worst'])})",
        str(s["non_2xx"] + s["errors"]),
        *fractions,
        f"{cpu * 1e6:.0f} µs" if cpu else "–",
        note,
    ]


@contextlib.contextmanager
def _postgres_database(log: Callable[[str], None]) -> Iterator[str]:
    from tests.support.postgres import start_postgres

    server = start_postgres()
    log(f"PostgreSQL on port {server.port}")
    try:
        yield server.create_database()
    finally:
        server.stop()


def run(mode: Mode, log: Callable[[str], None]) -> Section:
    """Run the ingestion benchmark."""
    section = Section(
        key="ingest",
        title=f"1. Ingestion: wrk over keep-alive, {mode.ingest_consoles:,} registered consoles",
        headers=[
            "Target",
            "Rate (2xx)",
            "p50",
            "p99",
            "non-2xx + errors",
            "÷ Starlette ceiling",
            "÷ ASGI ceiling",
            "server CPU/req",
            "Notes",
        ],
    )
    n = mode.ingest_consoles
    seconds, conns = mode.ingest_seconds, mode.ingest_connections
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, _postgres_database(log) as pg:
        sqlite_db = str(Path(tmp) / "consolas.db")
        reg_sqlite = register_consoles(sqlite_db, n)
        reg_pg = register_consoles(pg, n)
        log(f"registered {n:,} consoles: SQLite {reg_sqlite:.1f}s, PostgreSQL {reg_pg:.1f}s")
        section.raw["registration_seconds"] = {"sqlite": reg_sqlite, "postgresql": reg_pg}
        with (
            ceiling() as bare,
            asgi_ceiling() as raw,
            exporter(sqlite_db) as ex_sqlite,
            exporter(pg) as ex_pg,
        ):
            assert ex_sqlite.process is not None and ex_pg.process is not None
            # No trial shares the CPU with an exporter's fleet read at start.
            for ex in (ex_sqlite, ex_pg):
                wait_ready(ex.url)
            targets = {
                "ceiling": (bare.url, bare.pid),
                "asgi_ceiling": (raw.url, raw.pid),
                "sqlite": (ex_sqlite.url, ex_sqlite.process.pid),
                "postgresql": (ex_pg.url, ex_pg.process.pid),
            }
            results: dict[str, list[WrkResult]] = {k: [] for k in targets}
            for url, _pid in targets.values():  # warm-up: connections, caches
                run_wrk(url, SCRIPT, seconds=2, connections=conns, consoles=n)
            order = list(targets)
            for trial in range(mode.ingest_trials):
                for name in interleaved(order, trial):
                    url, pid = targets[name]
                    result = run_wrk(
                        url, SCRIPT, seconds=seconds, connections=conns, consoles=n, server_pid=pid
                    )
                    results[name].append(result)
                    log(
                        f"  trial {trial + 1} {name}: {result.ok_rate:,.0f}/s "
                        f"p99 {result.p99 * 1000:.1f} ms non-2xx {result.non_2xx}"
                    )
            paced = {
                "sqlite": [
                    run_wrk(ex_sqlite.url, SCRIPT, seconds=seconds, connections=conns,
                            consoles=n, rate=SQLITE_TARGET_RATE)
                    for _ in range(mode.ingest_trials)
                ],
                "postgresql": [
                    run_wrk(ex_pg.url, SCRIPT, seconds=seconds, connections=conns,
                            consoles=n, rate=POSTGRES_TARGET_RATE)
                    for _ in range(mode.ingest_trials)
                ],
            }  # fmt: skip
            half = {
                name: median([r.ok_rate for r in results[name]]) / 2
                for name in ("sqlite", "postgresql")
            }
            paced_half = {
                name: [
                    run_wrk(url, SCRIPT, seconds=seconds, connections=conns, consoles=n,
                            rate=half[name])
                    for _ in range(mode.ingest_trials)
                ]
                for name, url in (("sqlite", ex_sqlite.url), ("postgresql", ex_pg.url))
            }  # fmt: skip
            wide = {
                name: [
                    run_wrk(url, SCRIPT, seconds=seconds, connections=WIDE_CONNECTIONS,
                            consoles=n, server_pid=pid)
                    for _ in range(max(1, mode.ingest_trials // 2))
                ]
                for name, (url, pid) in targets.items()
                if "ceiling" not in name
            }  # fmt: skip
            burst = burst_rate(n)
            bursts = {
                name: run_wrk(url, SCRIPT, seconds=BURST_SECONDS, connections=BURST_CONNECTIONS,
                              consoles=n, rate=burst, threads=2, timeout=10.0)
                for name, url in (("sqlite", ex_sqlite.url), ("postgresql", ex_pg.url))
            }  # fmt: skip
            # Last, as each turns the consoles' states away from the ones they registered in
            # (bench/ids.py): the trials above all measure a running fleet's heartbeats.
            changing = {
                name: [
                    run_wrk(url, SCRIPT, seconds=seconds, connections=conns, consoles=n,
                            server_pid=pid, changes=True)
                    for _ in range(mode.ingest_trials)
                ]
                for name, (url, pid) in targets.items()
                if "ceiling" not in name
            }  # fmt: skip
        groups = mode.pushgateway_groups
        with pushgateway() as gw:
            filled, fill_seconds = fill_pushgateway(gw.port, groups, mode.pushgateway_fill_seconds)
            log(f"Pushgateway: {filled:,} groups pushed in {fill_seconds:.0f}s")
            push_results = [
                run_wrk(gw.url, "pushgateway.lua", seconds=seconds, connections=conns,
                        consoles=filled)
                for _ in range(mode.ingest_trials)
            ]  # fmt: skip

    summaries = {name: _summary(r) for name, r in results.items()}
    paced_s = {name: _summary(r) for name, r in paced.items()}
    half_s = {name: _summary(r) for name, r in paced_half.items()}
    wide_s = {name: _summary(r) for name, r in wide.items()}
    changing_s = {name: _summary(r) for name, r in changing.items()}
    push_s = _summary(push_results)
    ceil_rate = summaries["ceiling"]["rate"]
    asgi_rate = summaries["asgi_ceiling"]["rate"]
    ceilings = (ceil_rate, asgi_rate)
    section.rows = [
        _row("ceiling: bare Starlette, parse + 200", summaries["ceiling"], ceilings,
             "same uvicorn/uvloop/httptools stack, no validation, no storage"),
        _row("ceiling: raw ASGI callable, json.loads + 200", summaries["asgi_ceiling"], ceilings,
             "bench/asgi_ceiling.py: the stack itself, no framework"),
        _row("**exporter, SQLite** (max rate)", summaries["sqlite"], ceilings,
             "synchronous=FULL: every 2xx committed and fsynced"),
        _row("**exporter, PostgreSQL** (max rate)", summaries["postgresql"], ceilings,
             "group commit, one writer connection"),
        _row(f"exporter, SQLite, {WIDE_CONNECTIONS} connections", wide_s["sqlite"], ceilings,
             "max rate; larger batches per commit, longer queues"),
        _row(f"exporter, PostgreSQL, {WIDE_CONNECTIONS} connections", wide_s["postgresql"],
             ceilings, "max rate"),
        *[
            _row(f"exporter, {label}, 5 in 8 heartbeats a change of state", changing_s[name],
                 ceilings, "max rate; each change also writes a history row (run last)")
            for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
        ],
        _row(f"exporter, SQLite paced at {SQLITE_TARGET_RATE:,.0f}/s", paced_s["sqlite"],
             ceilings, "wrk + delay() pacing (bench/wrk/pacing.lua)"),
        _row(f"exporter, PostgreSQL paced at {POSTGRES_TARGET_RATE:,.0f}/s",
             paced_s["postgresql"], ceilings, "wrk + delay() pacing"),
        *[
            _row(f"exporter, {label} paced at half its max ({half[name]:,.0f}/s)", half_s[name],
                 ceilings, "p99 target ≤ 25 ms")
            for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
        ],
        _row(f"Pushgateway, {filled:,} groups", push_s, ceilings,
             "one group per console (PUT replaces the group)"),
    ]  # fmt: skip
    for name, b in bursts.items():
        section.rows.append(
            [
                f"burst {name}: {burst:,.0f}/s for {BURST_SECONDS:g}s",
                rate(b.ok_rate),
                ms(b.p50),
                ms(b.p99),
                str(b.non_2xx + b.socket_errors + b.timeouts),
                "–",
                "–",
                "–",
                f"{BURST_CONNECTIONS} connections, 2 wrk threads, paced, 10 s client timeout",
            ]
        )
    section.raw.update(
        {
            "max_rate": summaries,
            "paced": paced_s,
            "paced_half": {**half_s, "rates": half},
            "wide": {**wide_s, "connections": WIDE_CONNECTIONS},
            "state_changes": changing_s,
            "pushgateway": {**push_s, "groups": filled, "fill_seconds": fill_seconds},
            "burst": {"rate": burst, **{k: vars(v) for k, v in bursts.items()}},
            "connections": conns,
            "seconds_per_trial": seconds,
        }
    )
    sq, pq = paced_s["sqlite"], paced_s["postgresql"]
    section.checks = [
        Check(
            f"Ingestion SQLite ≥ {SQLITE_TARGET_RATE:,.0f}/s with p99 ≤ 25 ms",
            f"max {rate(summaries['sqlite']['rate'])}; at {SQLITE_TARGET_RATE:,.0f}/s offered: "
            f"{rate(sq['rate'])}, p99 {ms(sq['p99'])}; {WIDE_CONNECTIONS} connections: "
            f"{rate(wide_s['sqlite']['rate'])}, p99 {ms(wide_s['sqlite']['p99'])}",
            "≥ 5,000/s, p99 ≤ 25 ms",
            summaries["sqlite"]["rate"] >= SQLITE_TARGET_RATE
            and sq["rate"] >= 0.98 * SQLITE_TARGET_RATE
            and sq["p99"] <= P99_TARGET_SECONDS
            and sq["non_2xx"] + sq["errors"] == 0,
        ),
        Check(
            "Ingestion PostgreSQL ≥ 3,000/s",
            f"max {rate(summaries['postgresql']['rate'])}; at {POSTGRES_TARGET_RATE:,.0f}/s "
            f"offered: {rate(pq['rate'])}, p99 {ms(pq['p99'])}; {WIDE_CONNECTIONS} connections: "
            f"{rate(wide_s['postgresql']['rate'])}",
            "≥ 3,000/s",
            summaries["postgresql"]["rate"] >= POSTGRES_TARGET_RATE
            and pq["rate"] >= 0.98 * POSTGRES_TARGET_RATE
            and pq["non_2xx"] + pq["errors"] == 0,
        ),
        Check(
            "Ingestion as a fraction of the ceiling (SQLite)",
            f"{summaries['sqlite']['rate'] / ceil_rate:.2f} "
            f"({rate(summaries['sqlite']['rate'])} ÷ {rate(ceil_rate)})",
            "≥ 0.5",
            summaries["sqlite"]["rate"] / ceil_rate >= CEILING_FRACTION_TARGET,
        ),
        *[
            Check(
                f"Ingestion {label} ÷ bare-ASGI ceiling ≥ {ASGI_FRACTION_TARGETS[name]:.2f}",
                f"{summaries[name]['rate'] / asgi_rate:.2f} ({rate(summaries[name]['rate'])} ÷ "
                f"{rate(asgi_rate)}); ÷ Starlette ceiling "
                f"{summaries[name]['rate'] / ceil_rate:.2f}; with 5 in 8 heartbeats a change "
                f"of state {changing_s[name]['rate'] / asgi_rate:.2f}",
                f"≥ {ASGI_FRACTION_TARGETS[name]:.2f}",
                summaries[name]["rate"] / asgi_rate >= ASGI_FRACTION_TARGETS[name],
            )
            for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
        ],
        *[
            Check(
                f"Ingestion {label} paced at half its max rate: p99 ≤ 25 ms",
                f"{rate(half_s[name]['rate'])} of {rate(half[name])} offered, p99 "
                f"{ms(half_s[name]['p99'])} (worst {ms(half_s[name]['p99_worst'])})",
                "p99 ≤ 25 ms, no non-2xx",
                half_s[name]["p99"] <= HALF_RATE_P99_TARGET_SECONDS
                and half_s[name]["non_2xx"] + half_s[name]["errors"] == 0,
            )
            for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
        ],
        Check(
            f"Burst {burst:,.0f}/s for {BURST_SECONDS:g}s without 5xx or timeout",
            ", ".join(
                f"{k}: {b.non_2xx} non-2xx, {b.timeouts + b.socket_errors} timeouts/errors, "
                f"{rate(b.ok_rate)}"
                for k, b in bursts.items()
            ),
            "0 non-2xx, 0 timeouts",
            all(b.non_2xx + b.timeouts + b.socket_errors == 0 for b in bursts.values())
            and all(b.ok_rate >= 0.95 * burst for b in bursts.values()),
        ),
    ]
    section.notes = [
        f"Each trial: `wrk -t1 -c{conns} -d{seconds:g}s` with bench/wrk/heartbeat.lua (random "
        f"console among {n:,}, seed-shaped body); medians over {mode.ingest_trials} interleaved "
        "trials (the order rotates every trial); p99 is the median of the trials' p99 (worst in "
        "brackets).",
        "Two ceilings on the same uvicorn/uvloop/httptools stack, same bodies, same reply: a bare "
        "Starlette app (bench/ceiling.py) and a raw ASGI callable that reads the body and calls "
        "json.loads (bench/asgi_ceiling.py): the second is what the stack itself allows.",
        "Paced at half its max: each backend offered half its own median max rate, measured "
        "just before in the same run.",
        f"Consoles registered beforehand through the storage batch API (SQLite "
        f"{reg_sqlite:.1f}s, PostgreSQL {reg_pg:.1f}s for {n:,}).",
        f"Burst: 10 × the mean rate of {n:,} consoles beating every {BENCH_INTERVAL_SECONDS:g}s "
        f"= {burst:,.0f}/s, offered by wrk paced through delay() over {BURST_CONNECTIONS} "
        "connections (wrk2 is not packaged; pacing.lua keeps a send schedule per thread).",
        f"Pushgateway holds {filled:,} groups (filling them took {fill_seconds:.0f}s: each push "
        "costs in proportion to the whole store); wrk then replaces random groups among them.",
        "wrk runs on the same 2-CPU machine, so it takes CPU from the server under test.",
        "Server CPU/req: user + system CPU time of the server process (all its threads) during "
        "the max-rate trials, divided by the requests completed (median over trials).",
    ]
    return section


__all__ = ["run"]
