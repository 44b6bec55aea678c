"""The library's version, as installed (falls back to the source tree's)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__: str = metadata.version("consola-heartbeat")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"
