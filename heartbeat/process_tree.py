"""The worker's process tree (itself and its children, e.g. renderers) seen through psutil."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from heartbeat.sampling import CachedSampler


@dataclass(frozen=True, slots=True)
class ProcessTreeSnapshot:
    """Figures for the worker's process tree."""

    processes: int
    cpu_seconds: float  # monotonic: includes children already reaped
    resident_bytes: int


class ProcessTreeSampler(CachedSampler[ProcessTreeSnapshot]):
    """Cached readings of one process tree, refreshed at most every ``max_age`` seconds."""

    def __init__(
        self,
        pid: int | None = None,
        max_age: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_age, clock)
        self._pid = os.getpid() if pid is None else pid
        self._cpu_high_water = 0.0

    def _read(self) -> ProcessTreeSnapshot:
        root = psutil.Process(self._pid)
        count, cpu, rss = 0, 0.0, 0
        try:
            members = [root, *root.children(recursive=True)]
        except psutil.Error:
            members = [root]
        for index, proc in enumerate(members):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu += times.user + times.system
                    if index == 0:  # children this process has already waited for
                        cpu += times.children_user + times.children_system
                    rss += int(proc.memory_info().rss)
                count += 1
            except psutil.Error:
                continue
        # A child's CPU moves from "live" to "reaped" when it exits; never let the counter dip.
        self._cpu_high_water = max(self._cpu_high_water, cpu)
        return ProcessTreeSnapshot(
            processes=count, cpu_seconds=self._cpu_high_water, resident_bytes=rss
        )
