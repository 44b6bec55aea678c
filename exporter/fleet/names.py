"""Names shared by every fleet ``/metrics`` family: the metric prefix and the content type."""

from __future__ import annotations

#: Every fleet metric name starts with this (docs/contracts.md "Fleet /metrics").
PREFIX = "heartbeat_fleet_"
#: The Prometheus text exposition format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
