"""What stops the exporter from starting: :class:`StartupError`, and :func:`redact` for the
database setting quoted in its messages and logs."""

from __future__ import annotations

import re


class StartupError(Exception):
    """A setting that cannot be used; the message names it and its value."""


def redact(database: str) -> str:
    """``database`` without its password, for logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", database)
