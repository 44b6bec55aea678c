"""The library's version (kept equal to ``pyproject.toml``'s by a test).

A constant rather than ``importlib.metadata``: that import alone costs the worker about a
megabyte of memory and milliseconds of start-up.
"""

from __future__ import annotations

__version__ = "0.1.0"
