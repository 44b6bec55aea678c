"""The provisioning files parse and load the generated dashboards from Prometheus, unedited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from grafana.dashboards import DASHBOARD_DIR, PROVISIONED_DASHBOARD_PATH, build_all
from tests.support.tools import REPO_ROOT

GRAFANA = REPO_ROOT / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "heartbeat.yml"


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_datasource_file_provisions_one_default_prometheus() -> None:
    config = load_yaml(DATASOURCES)
    assert config["apiVersion"] == 1
    [source] = config["datasources"]
    assert source["type"] == "prometheus"
    assert source["access"] == "proxy"
    assert source["isDefault"] is True
    assert source["url"].startswith("http")


def test_dashboards_do_not_name_the_provisioned_datasource() -> None:
    source = load_yaml(DATASOURCES)["datasources"][0]
    for path in DASHBOARD_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert source["uid"] not in text
        assert source["name"] not in text


def test_dashboard_provider_loads_the_files_read_only_from_the_dashboards_folder() -> None:
    config = load_yaml(PROVIDERS)
    assert config["apiVersion"] == 1
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    assert provider["options"]["path"] == PROVISIONED_DASHBOARD_PATH


def test_readme_mounts_the_dashboards_folder_where_the_provider_reads() -> None:
    readme = (GRAFANA / "README.md").read_text(encoding="utf-8")
    assert f"grafana/dashboards:{PROVISIONED_DASHBOARD_PATH}" in readme
    assert "grafana/provisioning:/etc/grafana/provisioning" in readme


def test_dashboards_folder_holds_every_generated_dashboard_as_valid_json() -> None:
    files = {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARD_DIR.glob("*.json")
    }
    assert set(files) == set(build_all())
    assert all(board["uid"] and board["title"] for board in files.values())
