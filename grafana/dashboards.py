"""Every dashboard the project ships, by file name, and where the files live."""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from grafana import console, fleet
from grafana.lint import Json

#: Where ``python -m grafana.generate`` writes the JSON files (and provisioning reads them).
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
#: Where grafana/provisioning/dashboards/heartbeat.yml expects ``DASHBOARD_DIR`` mounted or copied.
PROVISIONED_DASHBOARD_PATH = "/etc/grafana/dashboards/heartbeat"
#: Where Grafana reads provisioning files (mount ``grafana/provisioning`` here).
PROVISIONING_PATH = "/etc/grafana/provisioning"


def encode(board: Dashboard) -> Json:
    """The JSON Grafana stores for ``board``, as the SDK's encoder writes it."""
    return json.loads(json.dumps(board, cls=JSONEncoder))  # type: ignore[no-any-return]


def build_all() -> dict[str, Json]:
    """``{file name: dashboard JSON}`` for every shipped dashboard."""
    return {
        "heartbeat-fleet.json": encode(fleet.build()),
        "heartbeat-console.json": encode(console.build()),
    }


def render(dashboard: Json) -> str:
    """The committed form: sorted keys, 2-space indent, UTF-8 kept, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
