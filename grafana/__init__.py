"""Grafana dashboards for the heartbeat fleet, built with grafana-foundation-sdk, kept as JSON.

Only the generator needs the SDK (a dev-only extra): ``grafana.dashboards`` lists the dashboards,
``python -m grafana.generate`` writes ``grafana/dashboards/*.json``, ``grafana.lint`` checks the
JSON and ``grafana.queries`` extracts every panel query with its template variables substituted.
"""

from __future__ import annotations
