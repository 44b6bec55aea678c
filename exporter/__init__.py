"""The central service: the consoles API, its storage, and the fleet ``/metrics``."""

from __future__ import annotations
