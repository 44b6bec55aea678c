"""Every panel query of a dashboard with its template variables substituted, as Grafana would.

Grafana's Prometheus data source formats a multi-value or include-All variable as a regex: each
value regex-escaped, several values as ``(a|b)``, "All" as the variable's ``allValue`` verbatim. A
single-value variable is substituted as-is (backslashes and double quotes escaped). The built-in
``$__rate_interval``, ``$__interval`` and ``$__range*`` come from ``builtins``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grafana.lint import Json

#: Value of "All" in a variable's ``current`` selection.
ALL = "$__all"

#: Built-in variables, as Grafana would resolve them for a 6-hour range and 15 s scrapes.
DEFAULT_BUILTINS: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "21600s",
    "__range_s": "21600",
    "__range_ms": "21600000",
}

_REFERENCE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")

Values = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class PanelQuery:
    """One panel target: where it is, its raw expression and the substituted one."""

    dashboard_uid: str
    panel_title: str
    ref_id: str
    raw: str
    expr: str
    instant: bool


def regex_escape(value: str) -> str:
    """Escape ``value`` for a PromQL regex matcher inside a double-quoted string."""
    escaped = value.replace("\\", "\\\\\\\\")
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), escaped)


def format_value(variable: Json, selected: str | Sequence[str]) -> str:
    """The text Grafana puts in a query for ``variable`` with ``selected`` value(s)."""
    values = [selected] if isinstance(selected, str) else list(selected)
    if ALL in values:
        if not variable.get("includeAll"):
            raise ValueError(f"variable {variable['name']} has no All option")
        return str(variable.get("allValue") or ".*")
    if not values:
        raise ValueError(f"no value for variable {variable['name']}")
    if variable.get("multi") or variable.get("includeAll"):
        escaped = [regex_escape(value) for value in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if len(values) != 1:
        raise ValueError(f"variable {variable['name']} takes one value, got {values}")
    return values[0].replace("\\", "\\\\").replace('"', '\\"')


def substitute(expr: str, dashboard: Json, values: Values, builtins: Mapping[str, str]) -> str:
    """``expr`` with every ``$var``, ``${var}``, ``${var:fmt}`` and ``[[var]]`` replaced.

    Variables not in ``values`` take "All" when they have it; anything else unresolved raises.
    """
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in builtins:
            return builtins[name]
        if name not in variables:
            raise ValueError(f"unknown variable ${name} in {expr!r}")
        variable = variables[name]
        if name in values:
            return format_value(variable, values[name])
        if variable.get("includeAll"):
            return format_value(variable, ALL)
        raise ValueError(f"no value given for variable ${name} (it has no All option)")

    return _REFERENCE.sub(replace, expr)


def builtins_for(scrape_interval: float, step: float, range_seconds: float) -> dict[str, str]:
    """Grafana's built-ins for a scrape interval, a query step and a time range, in seconds.

    ``$__rate_interval`` = max(``$__interval`` + scrape interval, 4 × scrape interval).
    """
    rate_interval = max(step + scrape_interval, 4 * scrape_interval)
    return {
        "__rate_interval": f"{round(rate_interval * 1000)}ms",
        "__interval": f"{round(step * 1000)}ms",
        "__range": f"{round(range_seconds)}s",
        "__range_s": str(round(range_seconds)),
        "__range_ms": str(round(range_seconds * 1000)),
    }


def shipped_queries(
    values: Values | None = None, builtins: Mapping[str, str] = DEFAULT_BUILTINS
) -> list[PanelQuery]:
    """``panel_queries`` of every dashboard the project ships."""
    from grafana.dashboards import build_all

    return [q for board in build_all().values() for q in panel_queries(board, values, builtins)]


def panel_queries(
    dashboard: Json,
    values: Values | None = None,
    builtins: Mapping[str, str] = DEFAULT_BUILTINS,
) -> list[PanelQuery]:
    """Every target of every panel (rows' nested panels included), variables substituted."""
    given: Values = values or {}
    queries = []
    for item in _panels(dashboard.get("panels", [])):
        for query in item.get("targets", []):
            raw = str(query["expr"])
            queries.append(
                PanelQuery(
                    dashboard_uid=str(dashboard["uid"]),
                    panel_title=str(item["title"]),
                    ref_id=str(query["refId"]),
                    raw=raw,
                    expr=substitute(raw, dashboard, given, builtins),
                    instant=bool(query.get("instant")),
                )
            )
    return queries


def _panels(panels: Sequence[Json]) -> list[Json]:
    flat = []
    for item in panels:
        flat.append(item)
        flat.extend(_panels(item.get("panels", [])))
    return flat
