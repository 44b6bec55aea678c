"""Structural checks of the project's dashboard conventions (CONVENTIONS.md "Dashboards").

``lint(dashboard)`` returns human-readable violations; an empty list means the dashboard follows
every convention. The checks read the JSON only, so they hold for any file, generated or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from consola_wire import ALL_STATES

Json = dict[str, Any]

#: Tags shared by the project's dashboards (dashboard links find each other by them).
TAGS = ["heartbeat", "consola-heartbeat"]
#: Every data source reference is the ``datasource`` variable.
DATASOURCE_REF = "${datasource}"
RATE_INTERVAL = "$__rate_interval"
#: Schema versions Grafana 10.x and 11.x write.
SCHEMA_RANGE = range(37, 42)
#: Panel types that show data (rows and text panels carry no queries).
DATA_PANELS = {"stat", "timeseries", "table", "state-timeline", "gauge", "bargauge", "piechart"}
#: A series selector: a metric name followed by its label matchers.
SELECTOR = re.compile(r"(?<![\w:$])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
#: Metric-like names in an expression that are not followed by matchers (bare selectors).
BARE_METRIC = re.compile(r"(?<![\w:$\"])((?:heartbeat|process)_[\w:]*|ALERTS|up)\b(?!\s*[{(])")
RANGE = re.compile(r"\[([^\]]*)\]")
COUNTER_READ = re.compile(r"\b(rate|increase)\(\s*([\w:]+_total)\s*\{[^}]*\}\s*\[([^\]]*)\]\s*\)")
#: Metrics whose panels are state panels, and the values their mappings must name.
STATE_METRICS = {"heartbeat_fleet_console_state": ALL_STATES}
STATUS_METRICS = ("heartbeat_fleet_database_up", "heartbeat_fleet_writer_process_up")
#: ``timestamp(<selector>)``: reads when a series was scraped, not its value.
TIMESTAMP_OF = re.compile(r"\btimestamp\([^()]*\)")


def panels(dashboard: Json) -> Iterator[Json]:
    """Every panel, rows' nested panels included."""
    stack = list(dashboard.get("panels", []))
    while stack:
        item = stack.pop(0)
        yield item
        stack[:0] = item.get("panels", [])


def expressions(panel: Json) -> list[str]:
    """The PromQL expressions of a panel's targets."""
    return [str(t.get("expr", "")) for t in panel.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """Metric names selected in ``expr`` (every selector carries matchers in our dashboards)."""
    names = {name for name, _ in SELECTOR.findall(expr) if name not in {"on", "by", "without"}}
    names.discard("")
    return names


def lint(dashboard: Json) -> list[str]:
    """Every convention violation in ``dashboard``."""
    return [
        *_dashboard_level(dashboard),
        *_variables(dashboard),
        *_datasources(dashboard),
        *(problem for item in panels(dashboard) for problem in _panel(item)),
    ]


def _dashboard_level(dashboard: Json) -> Iterator[str]:
    if not dashboard.get("uid"):
        yield "dashboard has no uid"
    if dashboard.get("editable") is not False:
        yield "dashboard is editable"
    if dashboard.get("schemaVersion") not in SCHEMA_RANGE:
        yield f"schemaVersion {dashboard.get('schemaVersion')} outside {SCHEMA_RANGE}"
    if not set(TAGS) <= set(dashboard.get("tags", [])):
        yield f"dashboard tags {dashboard.get('tags')} lack the shared tags {TAGS}"
    links = [link for link in dashboard.get("links", []) if link.get("type") == "dashboards"]
    if not any(set(link.get("tags", [])) & set(TAGS) for link in links):
        yield "dashboard has no link to the dashboards sharing its tags"
    ids = [item.get("id") for item in panels(dashboard)]
    if len(ids) != len(set(ids)):
        yield f"panel ids are not unique: {ids}"


def _variables(dashboard: Json) -> Iterator[str]:
    variables = dashboard.get("templating", {}).get("list", [])
    names = [v.get("name") for v in variables]
    if names[:3] != ["datasource", "job", "instance"]:
        yield f"variables must start with datasource, job, instance; got {names}"
    for variable in variables:
        name = variable.get("name")
        if name == "datasource":
            if variable.get("type") != "datasource" or variable.get("query") != "prometheus":
                yield "variable datasource is not a prometheus datasource variable"
            continue
        if variable.get("type") == "query" and variable.get("datasource", {}).get("uid") != (
            DATASOURCE_REF
        ):
            yield f"variable {name} does not query ${{datasource}}"
        if name in {"job", "instance"}:
            if not (variable.get("multi") and variable.get("includeAll")):
                yield f"variable {name} is not multi-select with All"
            if variable.get("allValue") != ".+":
                yield f'variable {name} allValue is not ".+"'
            if variable.get("refresh") != 2:
                yield f"variable {name} is not refreshed on time range change"


def _datasources(dashboard: Json) -> Iterator[str]:
    for path, ref in _datasource_refs(dashboard, "$"):
        uid = ref.get("uid") if isinstance(ref, dict) else ref
        if uid != DATASOURCE_REF:
            yield f"{path} uses datasource {ref!r}, not the datasource variable"


def _datasource_refs(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and not (isinstance(value, dict) and "query" in node):
                yield f"{path}.datasource", value
            else:
                yield from _datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _datasource_refs(value, f"{path}[{index}]")


def _panel(panel: Json) -> Iterator[str]:
    title = panel.get("title") or f"panel {panel.get('id')}"
    if panel.get("type") not in DATA_PANELS:
        return
    if not panel.get("title"):
        yield f"{title}: no title"
    if not panel.get("description"):
        yield f"{title}: no description"
    if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
        yield f"{title}: no unit"
    if not panel.get("targets"):
        yield f"{title}: no queries"
    for expr in expressions(panel):
        yield from (f"{title}: {problem}" for problem in query_problems(expr))
    yield from _state_panel(panel, title)


def query_problems(expr: str) -> Iterator[str]:
    """Violations of the query conventions in one expression."""
    if not expr.strip():
        yield "empty query"
    for name, matchers in SELECTOR.findall(expr):
        if 'job=~"$job' not in matchers:
            yield f"selector {name} does not filter by $job"
        if 'instance=~"$instance' not in matchers:
            yield f"selector {name} does not filter by $instance"
    for name in BARE_METRIC.findall(expr):
        yield f"metric {name} selected without job/instance matchers"
    for window in RANGE.findall(expr):
        if window != RATE_INTERVAL:
            yield f"range [{window}] is not [{RATE_INTERVAL}]"
    counters = re.findall(r"([\w:]+_total)\s*\{", expr)
    read = COUNTER_READ.findall(expr)
    if len(read) != len(counters):
        yield f"counter read other than through rate/increase(...[{RATE_INTERVAL}]): {counters}"


def _state_panel(panel: Json, title: str) -> Iterator[str]:
    """A panel showing a state (all its values named) needs a coloured mapping for each."""
    text = " ".join(expressions(panel))
    named = _mapped_texts(panel)
    for metric, states in STATE_METRICS.items():
        shows_state = metric in text and all(f'state="{state}"' in text for state in states)
        if shows_state or panel.get("type") == "state-timeline":
            missing = [state for state in states if state not in named]
            if missing:
                yield f"{title}: state panel without mappings for {missing}"
            if not all(named.get(state) for state in states):
                yield f"{title}: state panel mappings without colours"
    shown = TIMESTAMP_OF.sub("", text)  # a sample's timestamp is a clock, not the status
    for metric in STATUS_METRICS:
        if metric in shown and not (named and all(named.values())):
            yield f"{title}: status panel without coloured value mappings"


def _mapped_texts(panel: Json) -> dict[str, str | None]:
    """``{text: colour}`` of every value mapping in the panel's defaults and overrides."""
    field_config = panel.get("fieldConfig", {})
    lists = [field_config.get("defaults", {}).get("mappings", [])]
    for override in field_config.get("overrides", []):
        lists.extend(p["value"] for p in override.get("properties", []) if p["id"] == "mappings")
    texts: dict[str, str | None] = {}
    for mappings in lists:
        for mapping in mappings:
            for result in mapping.get("options", {}).values():
                if isinstance(result, dict) and "text" in result:
                    texts[result["text"]] = result.get("color")
    return texts


__all__ = ["DATASOURCE_REF", "TAGS", "Json", "lint", "metric_names", "panels", "query_problems"]
