"""Every dashboard the project ships, by file name, and where the files live."""

from __future__ import annotations

import json
from pathlib import Path

from grafana import console, fleet
from grafana.model import Json

#: Where ``python -m grafana.generate`` writes the JSON files (and provisioning reads them).
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
#: Where grafana/provisioning/dashboards/heartbeat.yml expects ``DASHBOARD_DIR`` mounted or copied.
PROVISIONED_DASHBOARD_PATH = "/etc/grafana/dashboards/heartbeat"
#: Where Grafana reads provisioning files (mount ``grafana/provisioning`` here).
PROVISIONING_PATH = "/etc/grafana/provisioning"


def build_all() -> dict[str, Json]:
    """``{file name: dashboard}`` for every shipped dashboard."""
    return {
        "heartbeat-fleet.json": fleet.build(),
        "heartbeat-console.json": console.build(),
    }


def render(dashboard: Json) -> str:
    """The committed form: sorted keys, 2-space indent, UTF-8 kept, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
