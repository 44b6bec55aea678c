"""Every panel query, variables substituted, is accepted by a real Prometheus (no data needed).

There is no promtool command that checks a bare PromQL expression, so each query goes through
``/api/v1/query`` and ``/api/v1/query_range`` of a Prometheus scraping nothing: status ``success``
means it parses and type-checks.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator

import pytest

from grafana.dashboards import build_all
from grafana.queries import PanelQuery, Values, panel_queries
from tests.support.prometheus import RunningPrometheus, run_prometheus

CONSOLE = "0b6a5d3e-1111-4222-8333-444455556666"
#: Variable selections to try: everything ("All"), and several specific values with regex specials.
SELECTIONS: dict[str, Values] = {
    "all": {"console_id": CONSOLE},
    "picked": {
        "job": ["heartbeat-exporter", "heartbeat-console"],
        "instance": ["127.0.0.1:9100", "consola-01.local:8000"],
        "console_id": CONSOLE,
    },
}


def queries() -> list[tuple[str, PanelQuery]]:
    return [
        (selection, query)
        for selection, values in SELECTIONS.items()
        for board in build_all().values()
        for query in panel_queries(board, values)
    ]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    with run_prometheus(tmp_path_factory.mktemp("grafana-prometheus"), []) as running:
        yield running


@pytest.mark.parametrize(
    ("selection", "query"),
    queries(),
    ids=[f"{s}-{q.dashboard_uid}-{q.panel_title}-{q.ref_id}" for s, q in queries()],
)
def test_panel_query_is_accepted_by_prometheus(
    prometheus: RunningPrometheus, selection: str, query: PanelQuery
) -> None:
    assert isinstance(prometheus.query(query.expr), list)
    now = time.time()
    assert isinstance(prometheus.query_range(query.expr, now - 600, now, 15), list)


def test_prometheus_check_rejects_a_malformed_query(prometheus: RunningPrometheus) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        prometheus.query('sum by (console_id) (rate(heartbeat_requests_total{job=~".+"}))')
    assert error.value.code == 400
