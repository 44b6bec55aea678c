"""Benchmark 3: what the ``heartbeat`` library costs a worker process.

Every figure comes from a fresh subprocess (bench/worker_probe.py) talking to a real exporter on
loopback: RSS over a bare interpreter, CPU per heartbeat, ``cambiar_estado()`` latency and its
allocation growth, and the console ``/metrics`` scrape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.mode import Mode
from bench.procs import exporter
from bench.report import Check, Section, median, mib, ms, us
from bench.scrape import scrape
from tests.support.tools import REPO_ROOT, free_port

#: Targets for a requests-based transport (``import requests`` alone is ~16 MiB of modules).
RSS_TARGET = 30 * 2**20
CPU_TARGET = 0.003
RSS_GOAL = f"≤ {RSS_TARGET // 2**20} MiB"
CPU_GOAL = f"≤ {CPU_TARGET * 1000:g} ms"
CALL_TARGET = 20e-6
SCRAPE_TARGET = 0.002
CPU_SERVICES = 10
BUSY_INTERVAL = 1.0  # seconds: the library's minimum
IDLE_INTERVAL = 3600.0  # no beat falls in the window
RSS_TRIALS = 3


def _env(api: str, tmp: Path, metrics_port: int | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEARTBEAT_", "CONSOLE_", "API_BASE_URL"))
    }
    env.update(
        {
            "API_BASE_URL": api,
            "CONSOLE_ID": str(uuid.uuid4()),
            "CONSOLE_ID_FILE": str(tmp / f"{uuid.uuid4()}.console-id"),
            "HEARTBEAT_INTERVAL_MINUTES": "5",
            "HEARTBEAT_METRICS_PORT": str(metrics_port) if metrics_port else "0",
            "HEARTBEAT_METRICS_ADDR": "127.0.0.1",
            "BENCH_TMP": str(tmp),
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    return env


def probe(args: list[str], env: dict[str, str], timeout: float = 600) -> dict[str, Any]:
    """Run ``bench.worker_probe`` with ``args``; its last JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.worker_probe", *args],
        env=env,
        cwd=tmp_cwd(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker_probe {args} failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def tmp_cwd(env: dict[str, str]) -> str:
    """Run probes inside the temporary directory, so no stray .env or .console-id is read."""
    return env["BENCH_TMP"]


def heartbeats_received(url: str) -> float:
    """The exporter's heartbeat counter."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("heartbeat_fleet_heartbeats_received_total "):
                return float(line.split()[1])
    raise RuntimeError("heartbeat_fleet_heartbeats_received_total missing")


def cpu_window(url: str, env: dict[str, str], seconds: float, interval: float) -> dict[str, Any]:
    """Process CPU and heartbeats sent over ``seconds`` with consoles beating every ``interval``."""
    argv = ["cpu", str(seconds), str(CPU_SERVICES), str(interval)]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.worker_probe", *argv],
        env=env,
        cwd=tmp_cwd(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    counts: dict[str, float] = {}
    result: dict[str, Any] = {}
    for line in process.stdout:
        data = json.loads(line)
        phase = data.get("phase")
        if phase in ("start", "stop"):
            counts[phase] = heartbeats_received(url)
            if phase == "stop":
                result = data
    process.wait(60)
    return {**result, "heartbeats": counts["stop"] - counts["start"]}


def cpu_per_heartbeat(url: str, env: dict[str, str], seconds: float) -> dict[str, Any]:
    """Marginal CPU per heartbeat: beating every second vs not beating, same window and consoles.

    The difference removes what a console costs when idle (thread wake-ups, nothing sent), which
    is reported on its own as CPU per second.
    """
    busy = cpu_window(url, env, seconds, BUSY_INTERVAL)
    idle = cpu_window(url, env, seconds, IDLE_INTERVAL)
    beats = busy["heartbeats"] - idle["heartbeats"]
    per_beat = (busy["cpu_s"] - idle["cpu_s"]) / max(beats, 1)
    return {
        "busy": busy,
        "idle": idle,
        "heartbeats": beats,
        "cpu_per_heartbeat": per_beat,
        "idle_cpu_per_console_second": idle["cpu_s"] / idle["wall_s"] / CPU_SERVICES,
        "gross_cpu_per_heartbeat": busy["cpu_s"] / max(busy["heartbeats"], 1),
        "wall_s": busy["wall_s"],
    }


def run(mode: Mode, log: Callable[[str], None]) -> Section:
    """Run the worker-cost benchmark."""
    section = Section(
        key="worker",
        title="3. Worker cost: `import heartbeat; heartbeat.iniciar()`",
        headers=["Measure", "Result", "Baseline", "Target"],
    )
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp_name:
        tmp = Path(tmp_name)
        with exporter(str(tmp / "consolas.db")) as ex:
            api = ex.url + "/api"
            bare = [probe(["bare"], _env(api, tmp, None))["rss"] for _ in range(RSS_TRIALS)]
            loaded = [probe(["rss"], _env(api, tmp, free_port())) for _ in range(RSS_TRIALS)]
            rss_added = median([x["rss"] for x in loaded]) - median(bare)
            log(f"  RSS: bare {median(bare) / 2**20:.1f} MiB, +{rss_added / 2**20:.1f} MiB")
            calls = probe(["calls", str(mode.worker_calls)], _env(api, tmp, free_port()))
            log(f"  cambiar_estado median {calls['median_ns'] / 1000:.1f} µs")
            alloc = probe(["alloc", str(mode.worker_alloc_calls)], _env(api, tmp, free_port()))
            log(f"  allocation growth {alloc['growth_bytes']} B over {alloc['calls']:,} calls")
            cpu = cpu_per_heartbeat(ex.url, _env(api, tmp, None), mode.worker_heartbeat_seconds)
            log(f"  CPU per heartbeat {cpu['cpu_per_heartbeat'] * 1000:.2f} ms")
            # console /metrics: a running worker, scraped over HTTP
            port = free_port()
            worker = subprocess.Popen(
                [sys.executable, "-c", "import heartbeat, time; heartbeat.iniciar(); "
                 "time.sleep(600)"],
                env=_env(api, tmp, port), cwd=tmp, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        console = scrape(port, "/metrics", 200, False)
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
            finally:
                worker.terminate()
                worker.wait(30)
    section.raw = {
        "bare_rss": bare,
        "loaded": loaded,
        "rss_added": rss_added,
        "calls": calls,
        "alloc": alloc,
        "cpu": cpu,
        "console_scrape": {k: v for k, v in console.items() if k != "times"},
    }
    call_median = calls["median_ns"] / 1e9
    section.rows = [
        ["RSS added by import + iniciar()", mib(rss_added), f"bare interpreter {mib(median(bare))}",
         RSS_GOAL],
        ["CPU per heartbeat (marginal)", ms(cpu["cpu_per_heartbeat"]),
         f"{cpu['heartbeats']:.0f} beats from {CPU_SERVICES} consoles in {cpu['wall_s']:.0f}s; "
         f"gross (idle cost included) {ms(cpu['gross_cpu_per_heartbeat'])}", CPU_GOAL],
        ["CPU of an idle console", f"{cpu['idle_cpu_per_console_second'] * 1000:.2f} ms/s",
         "service started, no beat due in the window", "–"],
        ["cambiar_estado() median (p99)", f"{us(call_median)} ({us(calls['p99_ns'] / 1e9)})",
         f"{calls['calls']:,} calls, sender running", "≤ 20 µs"],
        ["allocation growth", f"{alloc['growth_bytes']:,} B",
         f"over {alloc['calls']:,} calls (tracemalloc; peak {alloc['peak_bytes']:,} B)",
         "no growth"],
        ["console /metrics scrape median (p99)",
         f"{ms(console['median'])} ({ms(console['p99'])})",
         f"{console['text_bytes']:,} B, {console['lines']} lines", "≤ 2 ms"],
    ]  # fmt: skip
    section.checks = [
        Check("Worker RSS over a bare interpreter", mib(rss_added), RSS_GOAL,
              rss_added <= RSS_TARGET),
        Check("Worker CPU per heartbeat", ms(cpu["cpu_per_heartbeat"]), CPU_GOAL,
              cpu["cpu_per_heartbeat"] <= CPU_TARGET),
        Check("cambiar_estado() median", us(call_median), "≤ 20 µs", call_median <= CALL_TARGET),
        Check(f"Allocation growth over {alloc['calls']:,} calls", f"{alloc['growth_bytes']:,} B",
              "none (< 64 KiB of noise)", alloc["growth_bytes"] < 64 * 1024),
        Check("Console /metrics scrape", ms(console["median"]), "≤ 2 ms",
              console["median"] <= SCRAPE_TARGET),
    ]  # fmt: skip
    section.notes = [
        f"RSS: VmRSS of a fresh `python` after `import heartbeat; heartbeat.iniciar()` and its "
        f"registration, minus a bare interpreter's; medians of {RSS_TRIALS} processes each.",
        f"CPU: {CPU_SERVICES} HeartbeatService instances in one process, process CPU time (all "
        f"threads) over {mode.worker_heartbeat_seconds:g}s while beating every second (the "
        "minimum interval), minus the same window with no beat due; divided by the heartbeats "
        "the exporter counted. Gross = busy CPU / beats, idle cost included.",
        "cambiar_estado(): perf_counter_ns around each call, states cycling (each call is a real "
        "transition and wakes the sender); logging left unconfigured, as in a worker that does "
        "not enable INFO.",
        "Allocation: tracemalloc's traced memory after the calls minus before (after a warm-up).",
    ]
    return section
