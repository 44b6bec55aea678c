"""Running ``wrk`` with the Lua scripts in bench/wrk and reading their JSON summary line."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.procs import binary

WRK_DIR = Path(__file__).resolve().parent / "wrk"


@dataclass(frozen=True)
class WrkResult:
    """One wrk run's summary (latencies in seconds)."""

    requests: int
    duration: float
    non_2xx: int
    socket_errors: int
    timeouts: int
    p50: float
    p90: float
    p99: float
    max: float
    #: CPU seconds the server process used during the run (0 when not measured)
    server_cpu: float = 0.0

    @property
    def cpu_per_request(self) -> float:
        """Server CPU seconds per completed request."""
        return self.server_cpu / self.requests if self.requests else 0.0

    @property
    def rate(self) -> float:
        """Requests completed per second (all statuses)."""
        return self.requests / self.duration if self.duration else 0.0

    @property
    def ok_rate(self) -> float:
        """2xx responses per second."""
        return (self.requests - self.non_2xx) / self.duration if self.duration else 0.0


def run_wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    consoles: int = 100_000,
    rate: float = 0.0,
    timeout: float = 5.0,
    server_pid: int | None = None,
    changes: bool = False,
) -> WrkResult:
    """Run ``wrk`` against ``url`` with ``bench/wrk/<script>``; ``rate`` > 0 paces it.

    With ``server_pid``, the server process's CPU time over the run is recorded too (with its
    children's: the exporter's writer process). ``changes``: heartbeats whose state differs from
    the console's last one, 5 in 8 (``BENCH_CHANGES`` in heartbeat.lua); else each console keeps
    the state it was registered in (bench/ids.py), as a running fleet mostly does.
    """
    env = {
        **os.environ,
        "BENCH_CONSOLES": str(consoles),
        "BENCH_RATE": str(rate),
        "BENCH_THREADS": str(threads),
        "BENCH_WRK_DIR": str(WRK_DIR),
        "BENCH_CHANGES": "1" if changes else "0",
    }
    argv = [
        binary("wrk"),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout:g}s",
        "-s",
        str(WRK_DIR / script),
        url,
    ]
    server = psutil.Process(server_pid) if server_pid else None
    cpu_before = _cpu(server)
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next(
        (x for x in reversed(done.stdout.splitlines()) if x.startswith('{"requests"')), None
    )
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr}")
    server_cpu = _cpu(server) - cpu_before
    data = json.loads(line)
    return WrkResult(
        requests=int(data["requests"]),
        duration=data["duration_us"] / 1e6,
        non_2xx=int(data["non_2xx"]),
        socket_errors=int(data["connect_errors"] + data["read_errors"] + data["write_errors"]),
        timeouts=int(data["timeouts"]),
        p50=data["p50_us"] / 1e6,
        p90=data["p90_us"] / 1e6,
        p99=data["p99_us"] / 1e6,
        max=data["max_us"] / 1e6,
        server_cpu=server_cpu,
    )


def _cpu(process: psutil.Process | None) -> float:
    """CPU seconds of ``process`` and its live children (the exporter's writer process)."""
    if process is None:
        return 0.0
    total = 0.0
    for member in (process, *process.children(recursive=True)):
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total
