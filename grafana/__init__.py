"""Grafana dashboards for the heartbeat fleet, built as plain dicts and written as JSON.

``grafana.dashboards`` lists them, ``python -m grafana.generate`` writes
``grafana/dashboards/*.json`` and ``grafana.queries`` extracts every panel query with its template
variables substituted.
"""

from __future__ import annotations
