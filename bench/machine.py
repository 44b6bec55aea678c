"""A description of the machine the benchmarks ran on."""

from __future__ import annotations

import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import psutil


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


SPIN_SECONDS = 0.5


def _spin(seconds: float) -> int:
    """Count loop iterations for ``seconds`` of wall time (pure CPU, one interpreter)."""
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        for _ in range(1000):
            count += 1
    return count


def parallel_speedup(seconds: float = SPIN_SECONDS, samples: int = 3) -> float:
    """How many CPUs of work two busy processes get together (2.0 = two real CPUs), the median
    of ``samples`` measurements.

    On a shared virtual machine this varies from run to run (1.15-2.2 seen here): the server, its
    writer thread and the load generator compete for whatever the host gives at the time.
    """
    ratios = []
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [0.05, 0.05])  # start both interpreters before timing
        for _ in range(samples):
            alone = _spin(seconds)
            together = sum(pool.map(_spin, [seconds, seconds]))
            ratios.append(together / alone if alone else 0.0)
    return sorted(ratios)[len(ratios) // 2]


def describe() -> dict[str, Any]:
    """nproc, how parallel they really are, CPU model, memory, kernel, Python, load average."""
    return {
        "nproc": os.cpu_count(),
        "parallel_speedup": parallel_speedup(),
        "cpu_model": cpu_model(),
        "memory_bytes": psutil.virtual_memory().total,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg_at_start": list(os.getloadavg()),
    }


def summary(info: dict[str, Any]) -> str:
    """One line for the report header."""
    load = ", ".join(f"{x:.2f}" for x in info["loadavg_at_start"])
    memory = info["memory_bytes"] / 2**30
    return (
        f"{info['nproc']} CPUs ({info['cpu_model']}; two busy processes together get "
        f"{info['parallel_speedup']:.2f}× the work of one), {memory:.1f} GiB RAM, "
        f"Linux {info['kernel']}, Python {info['python']}; load average at start: {load}"
    )
