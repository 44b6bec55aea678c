"""The machine snapshot: the seed's ``sistema`` object and the ``heartbeat_system_*`` gauges.

One :class:`SystemSampler` per service takes psutil readings at most every ``max_age`` seconds
and caches them; the heartbeat and the scrape both read the cache, so neither pays for psutil
more than once per period and the worker's own thread never does.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from heartbeat.sampling import CachedSampler

GIB = 1024**3

#: ``platform.machine()`` values mapped to Node's ``os.arch()`` names (the seed shows ``x64``).
_ARCH = {
    "x86_64": "x64",
    "amd64": "x64",
    "x64": "x64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8l": "arm64",
    "i386": "ia32",
    "i686": "ia32",
    "x86": "ia32",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def node_arch(machine: str | None = None) -> str:
    """The architecture as Node's ``os.arch()`` names it (``x64``, ``arm64``, ...)."""
    raw = (platform.machine() if machine is None else machine).lower()
    return _ARCH.get(raw, raw or "unknown")


@dataclass(frozen=True, slots=True)
class SystemSnapshot:
    """One reading of the machine."""

    hostname: str
    platform: str
    arch: str
    cpus: int
    memory_total_bytes: int
    memory_available_bytes: int
    uptime_seconds: float
    load1: float
    cpu_usage_ratio: float
    python_version: str
    taken_at: float  # Unix time

    def sistema(self) -> dict[str, Any]:
        """The seed's ``sistema`` object: memory in GiB (2 decimals), uptime in whole minutes."""
        return {
            "hostname": self.hostname,
            "platform": self.platform,
            "arch": self.arch,
            "cpus": self.cpus,
            "totalMemory": round(self.memory_total_bytes / GIB, 2),
            "freeMemory": round(self.memory_available_bytes / GIB, 2),
            "uptime": round(self.uptime_seconds / 60),
            "pythonVersion": self.python_version,
        }


class SystemSampler(CachedSampler[SystemSnapshot]):
    """Cached psutil readings, refreshed at most every ``max_age`` seconds (thread-safe)."""

    def __init__(self, max_age: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_age, clock)
        self._cpu_times: tuple[float, float] | None = None
        self._last_ratio = 0.0

    def _read(self) -> SystemSnapshot:
        memory = psutil.virtual_memory()
        try:
            load1 = float(os.getloadavg()[0])
        except (AttributeError, OSError):
            load1 = float(psutil.getloadavg()[0])
        now = time.time()
        return SystemSnapshot(
            hostname=socket.gethostname(),
            platform=sys.platform,
            arch=node_arch(),
            cpus=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
            memory_total_bytes=int(memory.total),
            memory_available_bytes=int(memory.available),
            uptime_seconds=max(0.0, now - psutil.boot_time()),
            load1=load1,
            cpu_usage_ratio=self._cpu_ratio(),
            python_version=platform.python_version(),
            taken_at=now,
        )

    def _cpu_ratio(self) -> float:
        """Machine CPU busy fraction since this sampler's previous reading."""
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        total = sum(times)
        previous, self._cpu_times = self._cpu_times, (idle, total)
        if previous is None:
            return 1.0 - idle / total if total > 0 else 0.0
        d_total = total - previous[1]
        if d_total <= 0:
            return self._last_ratio
        self._last_ratio = min(1.0, max(0.0, 1.0 - (idle - previous[0]) / d_total))
        return self._last_ratio
