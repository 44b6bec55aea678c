"""The panels, variables and frame both dashboards share, on grafana-foundation-sdk's builders.

Only the generator needs the SDK (a pinned dev-only extra, see pyproject.toml): the product never
imports ``grafana``, and ``grafana.lint``/``grafana.queries`` read the JSON without it. Each helper
returns an SDK builder, so every option name and type is checked by mypy against Grafana's schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.builders import stat as stat_builders
from grafana_foundation_sdk.builders import statetimeline as statetimeline_builders
from grafana_foundation_sdk.builders import table as table_builders
from grafana_foundation_sdk.builders import timeseries as timeseries_builders
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

from grafana.lint import DATASOURCE_REF, TAGS
from grafana.promql import STATE_CODES, STATE_COLORS

#: Any panel builder the dashboards use (each has ``id``, ``grid_pos`` and ``build``).
PanelBuilder = (
    stat_builders.Panel
    | timeseries_builders.Panel
    | table_builders.Panel
    | statetimeline_builders.Panel
)
#: Either kind of variable the dashboards use.
Variable = dashboard_builders.DatasourceVariable | dashboard_builders.QueryVariable
#: A panel's place on the 24-column grid: (x, y, width, height).
Grid = tuple[int, int, int, int]
#: A threshold step: (lower bound, colour); the first bound is ``None`` (the base colour).
Step = tuple[float | None, str]

#: Every panel, query and variable reads the data source picked in the ``datasource`` variable.
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_REF)
#: The Prometheus query editor's variable query kind for ``label_values(...)``.
LABEL_VALUES_QUERY = 1


def datasource_variable() -> dashboard_builders.DatasourceVariable:
    """The ``datasource`` variable: any Prometheus data source, no hard-coded uid."""
    return (
        dashboard_builders.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .hide(model.VariableHide.DONT_HIDE)
        .multi(False)
        .include_all(False)
        .regex("")
    )


def query_variable(
    name: str, label: str, definition: str, *, multi: bool = True, include_all: bool = True
) -> dashboard_builders.QueryVariable:
    """A ``label_values(...)`` query variable, refreshed on time-range change, All = ``.+``."""
    variable = (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(
            {
                "qryType": LABEL_VALUES_QUERY,
                "query": definition,
                "refId": "PrometheusVariableQueryEditor",
            }
        )
        .hide(model.VariableHide.DONT_HIDE)
        .multi(multi)
        .include_all(include_all)
        .options([])
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .regex("")
    )
    if include_all:
        variable.all_value(".+").current(
            model.VariableOption(selected=True, text=["All"], value=["$__all"])
        )
    return variable


def target(
    expr: str,
    legend: str = "__auto",
    *,
    ref_id: str = "A",
    instant: bool = False,
    table: bool = False,
) -> prometheus.Dataquery:
    """A Prometheus query of a panel, written in code mode."""
    query = (
        prometheus.Dataquery()
        .datasource(DATASOURCE)
        .editor_mode(QueryEditorMode.CODE)
        .expr(expr)
        .format(PromQueryFormat.TABLE if table else PromQueryFormat.TIME_SERIES)
        .legend_format(legend)
        .ref_id(ref_id)
    )
    return query.instant() if instant else query.range()


def thresholds(*steps: Step) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds, base colour first."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def value_mappings(texts: Mapping[int, tuple[str, str]]) -> list[model.ValueMapping]:
    """One value mapping ``{value: (text, colour)}``."""
    options = {
        str(value): model.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(sorted(texts.items()))
    }
    return [model.ValueMap(options=options)]


def state_mappings() -> list[model.ValueMapping]:
    """Mappings from ``STATE_CODES`` to the state names and colours (0 = unknown)."""
    texts: dict[int, tuple[str, str]] = {0: ("desconocido", "text")}
    texts.update({code: (state, STATE_COLORS[state]) for state, code in STATE_CODES.items()})
    return value_mappings(texts)


def fixed_color(color: str) -> model.DynamicConfigValue:
    """An override property giving a series one fixed colour."""
    return model.DynamicConfigValue(
        id_val="color", value=model.FieldColor(mode=model.FieldColorModeId.FIXED, fixed_color=color)
    )


def placed(panel: PanelBuilder, grid: Grid) -> None:
    """Put ``panel`` at ``grid`` = (x, y, width, height)."""
    x, y, w, h = grid
    panel.grid_pos(model.GridPos(h=h, w=w, x=x, y=y))


def stat(
    title: str,
    description: str,
    unit: str,
    expr: str,
    grid: Grid,
    *,
    steps: Sequence[Step] = ((None, "green"),),
    mappings: list[model.ValueMapping] | None = None,
    legend: str = "__auto",
    text_mode: common.BigValueTextMode = common.BigValueTextMode.VALUE,
    no_value: str | None = None,
) -> stat_builders.Panel:
    """A stat panel on one instant query, its background coloured by thresholds and mappings."""
    panel = (
        stat_builders.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .with_target(target(expr, legend, instant=True))
        .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .mappings(mappings or [])
        .thresholds(thresholds(*steps))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .text_mode(text_mode)
        .reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)
        )
    )
    if no_value is not None:
        panel.no_value(no_value)
    placed(panel, grid)
    return panel


def timeseries(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    grid: Grid,
    *,
    stacked: bool = False,
    colors: Mapping[str, str] | None = None,
) -> timeseries_builders.Panel:
    """Lines from 0 (areas when ``stacked``), the legend as a table of last values on the right."""
    panel = (
        timeseries_builders.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .targets(list(targets))
        .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .draw_style(common.GraphDrawStyle.LINE)
        .fill_opacity(30 if stacked else 10)
        .line_width(1)
        .show_points(common.VisibilityMode.NEVER)
        .stacking(
            common_builders.StackingConfig()
            .group("A")
            .mode(common.StackingMode.NORMAL if stacked else common.StackingMode.NONE)
        )
        .legend(
            common_builders.VizLegendOptions()
            .calcs(["lastNotNull"])
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    for name, color in (colors or {}).items():
        panel.override_by_name(name, [fixed_color(color)])
    placed(panel, grid)
    return panel


def state_timeline(
    title: str, description: str, targets: Sequence[prometheus.Dataquery], grid: Grid
) -> statetimeline_builders.Panel:
    """A state timeline of ``STATE_CODES`` series, named and coloured by the state mappings."""
    panel = (
        statetimeline_builders.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit("none")
        .targets(list(targets))
        .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .mappings(state_mappings())
        .thresholds(thresholds((None, "text")))
        .align_value(common.TimelineValueAlignment.LEFT)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.SINGLE)
            .sort(common.SortOrder.NONE)
        )
        .merge_values(True)
        .row_height(0.9)
        .show_value(common.VisibilityMode.AUTO)
        .line_width(0)
        .fill_opacity(70)
    )
    placed(panel, grid)
    return panel


def table(
    title: str, description: str, targets: Sequence[prometheus.Dataquery], grid: Grid
) -> table_builders.Panel:
    """A table of instant queries, small rows, no footer; callers add columns and transforms."""
    panel = (
        table_builders.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit("none")
        .targets(list(targets))
        .align(common.FieldTextAlignment.AUTO)
        .cell_options(common.TableAutoCellOptions())
        .cell_height(common.TableCellHeight.SM)
        .footer(common_builders.TableFooterOptions().show(False))
        .show_header(True)
    )
    placed(panel, grid)
    return panel


def organize(
    hidden: Sequence[str], order: Sequence[str], renamed: Mapping[str, str] | None = None
) -> model.DataTransformerConfig:
    """The ``organize`` transformation: hide ``hidden``, put ``order`` first, rename columns."""
    return model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(hidden, True),
            "indexByName": {name: index for index, name in enumerate(order)},
            "renameByName": dict(renamed or {}),
        },
    )


def alerts_table(
    title: str, description: str, expr: str, grid: Grid, order: Sequence[str]
) -> table_builders.Panel:
    """The ``ALERTS`` series of ``expr`` as rows, labels ``order``-ed first, the value hidden."""
    panel = table(title, description, [target(expr, instant=True, table=True)], grid)
    return panel.with_transformation(organize(["Time", "Value", "__name__"], order))


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[Variable],
    panels: Sequence[PanelBuilder],
) -> model.Dashboard:
    """A complete, read-only dashboard linked to the others by tag; panel ids follow their order."""
    board = (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(list(TAGS))
        .readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .timezone("utc")
        .refresh("30s")
        .version(1)
        .fiscal_year_start_month(0)
        .link(
            dashboard_builders.DashboardLink("Heartbeat")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(TAGS[:1])
            .as_dropdown(False)
            .icon("external link")
            .include_vars(True)
            .keep_time(True)
            .target_blank(False)
        )
    )
    for variable in variables:
        board.with_variable(variable)
    for index, panel in enumerate(panels, start=1):
        board.with_panel(panel.id(index))
    return board.build()
