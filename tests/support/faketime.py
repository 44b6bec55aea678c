"""libfaketime for tests: a real process whose wall clock the test steps, as NTP or ``date -s``
would, while its monotonic clock keeps running (a real step never moves ``CLOCK_MONOTONIC``).

The process reads the offset file at every clock call (``FAKETIME_NO_CACHE=1``), through the
synchronised build, ``libfaketimeMT.so.1``: the exporter reads the clock from several threads, and
the plain build parses the offset into a static buffer that another thread can overwrite mid-parse
(wolfcw/libfaketime#547), so one stepped clock could read the offset as ``+0`` for a moment and
look like three steps.

Known limit of libfaketime 0.9.10 with ``FAKETIME_DONT_FAKE_MONOTONIC``: ``time.sleep()`` fails
with EINVAL on Python >= 3.11 (wolfcw/libfaketime#426, ``clock_nanosleep`` with
``TIMER_ABSTIME``); the exporter does not call it (asyncio, ``threading`` and ``queue`` waits
work).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from tests.support.tools import in_ci

#: Where Debian's ``libfaketime`` package puts the synchronised preload library.
LIBRARY_GLOBS = ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1")


def require_libfaketime() -> str:
    """Path of ``libfaketimeMT.so.1``; fails under CI and skips elsewhere when it is missing."""
    for pattern in LIBRARY_GLOBS:
        for found in sorted(glob.glob(pattern)):
            if os.access(found, os.R_OK):
                return found
    message = "libfaketime is not installed (make test installs it: scripts/install-tools.sh)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


class SteppableClock:
    """The offset file of a libfaketime process: ``env()`` for the process, ``step()`` to move
    its wall clock."""

    def __init__(self, library: str, directory: Path) -> None:
        self.library = library
        self.path = directory / "faketime-offset"
        self.offset = 0
        self._write()

    def env(self) -> dict[str, str]:
        """Environment for the process (add to its own)."""
        return {
            "LD_PRELOAD": self.library,
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def step(self, seconds: int) -> None:
        """Step the process's wall clock by ``seconds`` (negative: back)."""
        self.offset += seconds
        self._write()

    def _write(self) -> None:
        # replaced in one rename: the process never reads a half-written offset
        partial = self.path.with_suffix(".partial")
        partial.write_text(f"{self.offset:+d}\n")
        partial.replace(self.path)
