"""A description of the machine the benchmarks ran on."""

from __future__ import annotations

import os
import platform
import sys
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


def describe() -> dict[str, Any]:
    """nproc, CPU model, memory, kernel, Python and the load average at start."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_bytes": psutil.virtual_memory().total,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg_at_start": list(os.getloadavg()),
    }


def summary(info: dict[str, Any]) -> str:
    """One line for the report header."""
    load = ", ".join(f"{x:.2f}" for x in info["loadavg_at_start"])
    return (
        f"{info['nproc']} CPUs ({info['cpu_model']}), {info['memory_bytes'] / 2**30:.1f} GiB RAM, "
        f"Linux {info['kernel']}, Python {info['python']}; load average at start: {load}"
    )
