"""Small builders for Grafana's dashboard JSON model (schemaVersion 39: Grafana 10.4 and 11).

Plain dicts, no SDK: each function returns exactly the JSON Grafana stores, so what the code says
is what the committed file holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grafana.promql import STATE_CODES, STATE_COLORS

Json = dict[str, Any]

#: Grafana 10.4 and 11.x both load this schema version without migration.
SCHEMA_VERSION = 39
#: Tags shared by the project's dashboards (dashboard links find each other by them).
TAGS = ["heartbeat", "consola-heartbeat"]
#: Every panel and variable queries the data source picked in the ``datasource`` variable.
DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
#: Refresh a query variable whenever the time range changes.
REFRESH_ON_TIME_RANGE_CHANGE = 2


def datasource_variable() -> Json:
    """The ``datasource`` variable: any Prometheus data source, no hard-coded uid."""
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def query_variable(
    name: str,
    label: str,
    definition: str,
    *,
    multi: bool = True,
    include_all: bool = True,
) -> Json:
    """A ``label_values(...)`` query variable refreshed on time-range change."""
    variable: Json = {
        "datasource": DATASOURCE,
        "definition": definition,
        "hide": 0,
        "includeAll": include_all,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": {"qryType": 1, "query": definition, "refId": "PrometheusVariableQueryEditor"},
        "refresh": REFRESH_ON_TIME_RANGE_CHANGE,
        "regex": "",
        "sort": 1,
        "type": "query",
    }
    if include_all:
        variable["allValue"] = ".+"
        variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    else:
        variable["current"] = {}
    return variable


def target(
    expr: str,
    legend: str = "__auto",
    *,
    ref_id: str = "A",
    instant: bool = False,
    table: bool = False,
) -> Json:
    """A Prometheus query of a panel."""
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend,
        "range": not instant,
        "refId": ref_id,
    }


def thresholds(*steps: tuple[float | None, str]) -> Json:
    """Absolute thresholds; the first step's value is ``None`` (the base colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def value_mappings(texts: Mapping[int, tuple[str, str]]) -> list[Json]:
    """Value mappings ``{value: (text, colour)}``."""
    return [
        {
            "options": {
                str(value): {"color": color, "index": index, "text": text}
                for index, (value, (text, color)) in enumerate(sorted(texts.items()))
            },
            "type": "value",
        }
    ]


def state_mappings() -> list[Json]:
    """Mappings from ``STATE_CODES`` to the state names and colours (0 = unknown)."""
    texts: dict[int, tuple[str, str]] = {0: ("desconocido", "text")}
    texts.update({code: (state, STATE_COLORS[state]) for state, code in STATE_CODES.items()})
    return value_mappings(texts)


def color_overrides(colors: Mapping[str, str]) -> list[Json]:
    """Overrides fixing the colour of the series named by each key."""
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"fixedColor": color, "mode": "fixed"}}],
        }
        for name, color in colors.items()
    ]


def panel(
    kind: str,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Json],
    *,
    grid: tuple[int, int, int, int],
    defaults: Json | None = None,
    overrides: Sequence[Json] = (),
    options: Json | None = None,
    transformations: Sequence[Json] = (),
) -> Json:
    """A panel of type ``kind`` at ``grid`` = (x, y, w, h); ids are assigned by ``dashboard``."""
    x, y, w, h = grid
    field_defaults: Json = {"unit": unit}
    field_defaults.update(defaults or {})
    result: Json = {
        "datasource": DATASOURCE,
        "description": description,
        "fieldConfig": {"defaults": field_defaults, "overrides": list(overrides)},
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "options": options or {},
        "targets": list(targets),
        "title": title,
        "type": kind,
    }
    if transformations:
        result["transformations"] = list(transformations)
    return result


def stat(
    title: str,
    description: str,
    unit: str,
    expr: str,
    grid: tuple[int, int, int, int],
    *,
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    mappings: list[Json] | None = None,
    legend: str = "__auto",
    text_mode: str = "value",
    fields: str = "",
    no_value: str | None = None,
) -> Json:
    """A stat panel on one instant query, coloured by thresholds and mappings."""
    defaults: Json = {
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
        "thresholds": thresholds(*steps),
    }
    if no_value is not None:
        defaults["noValue"] = no_value
    return panel(
        "stat",
        title,
        description,
        unit,
        [target(expr, legend, instant=True)],
        grid=grid,
        defaults=defaults,
        options={
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": fields, "values": False},
            "textMode": text_mode,
        },
    )


def timeseries(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Json],
    grid: tuple[int, int, int, int],
    *,
    stacked: bool = False,
    overrides: Sequence[Json] = (),
    minimum: float | None = 0,
) -> Json:
    """A time series panel (lines, optionally stacked areas)."""
    custom: Json = {
        "drawStyle": "line",
        "fillOpacity": 30 if stacked else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "stacking": {"group": "A", "mode": "normal" if stacked else "none"},
    }
    defaults: Json = {"color": {"mode": "palette-classic"}, "custom": custom}
    if minimum is not None:
        defaults["min"] = minimum
    return panel(
        "timeseries",
        title,
        description,
        unit,
        targets,
        grid=grid,
        defaults=defaults,
        overrides=overrides,
        options={
            "legend": {"calcs": ["lastNotNull"], "displayMode": "table", "placement": "right"},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def state_timeline(
    title: str,
    description: str,
    targets: Sequence[Json],
    grid: tuple[int, int, int, int],
) -> Json:
    """A state timeline of ``STATE_CODES`` series, coloured and named by the state mappings."""
    return panel(
        "state-timeline",
        title,
        description,
        "none",
        targets,
        grid=grid,
        defaults={
            "color": {"mode": "thresholds"},
            "mappings": state_mappings(),
            "thresholds": thresholds((None, "text")),
        },
        options={
            "alignValue": "left",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "mergeValues": True,
            "rowHeight": 0.9,
            "showValue": "auto",
        },
    )


def dashboard_links() -> list[Json]:
    """Links to every dashboard carrying the shared tags, keeping time range and variables."""
    return [
        {
            "asDropdown": False,
            "icon": "external link",
            "includeVars": True,
            "keepTime": True,
            "tags": TAGS[:1],
            "targetBlank": False,
            "title": "Heartbeat",
            "type": "dashboards",
        }
    ]


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[Json],
    panels: Sequence[Json],
) -> Json:
    """A complete, non-editable dashboard; panel ids follow their order."""
    numbered = [{**item, "id": index} for index, item in enumerate(panels, start=1)]
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": dashboard_links(),
        "panels": numbered,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(TAGS),
        "templating": {"list": list(variables)},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
    }
