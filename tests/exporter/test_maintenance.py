"""Maintenance of a console through the API: set, end, expire, and what the sweeper and
/metrics make of it, on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.clock import ManualClock
from tests.support.exporters import EmbeddedExporter
from tests.support.tools import wait_until

INACTIVE_AFTER = 600.0
MAINTENANCE_METRIC = "heartbeat_fleet_console_maintenance_until_timestamp_seconds"


@pytest.fixture
def exporter_settings() -> dict[str, Any]:
    return {"sweep_interval": 0.02, "inactive_after": INACTIVE_AFTER}


def register(client: httpx.Client) -> str:
    console = str(uuid.uuid4())
    body = {"id": console, "nombre": "Consola taller", "estado": "activa"}
    assert client.post("/api/consolas/registrar", json=body).status_code == 201
    return console


def console(client: httpx.Client, console_id: str) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"/api/consolas/{console_id}").json()
    return data


def maintenance(client: httpx.Client, console_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/consolas/{console_id}/mantenimiento", json=body)


def reasons(client: httpx.Client, console_id: str) -> list[str]:
    entries = client.get(f"/api/consolas/{console_id}/historial").json()["historial"]
    return [e["motivo"] for e in entries]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def let_sweeper_run(exporter: EmbeddedExporter, sweeps: int = 2) -> None:
    target = exporter.service.sweeps + sweeps
    wait_until(lambda: exporter.service.sweeps >= target)


def test_a_console_has_no_maintenance_until_one_is_set(client: httpx.Client) -> None:
    body = console(client, register(client))
    assert body["mantenimientoHasta"] is None
    assert body["mantenimientoMotivo"] is None


def test_maintenance_for_minutos_answers_the_console_and_records_its_start(
    client: httpx.Client, clock: ManualClock
) -> None:
    serviced = register(client)
    answer = maintenance(client, serviced, minutos=90, motivo="cambio de fuente")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == serviced
    assert answer.json()["mantenimientoHasta"] == iso(clock() + 90 * 60)
    assert answer.json()["mantenimientoMotivo"] == "cambio de fuente"
    assert reasons(client, serviced)[0] == "mantenimiento"


def test_maintenance_until_hasta_and_its_end_by_delete(
    client: httpx.Client, clock: ManualClock
) -> None:
    serviced = register(client)
    until = iso(clock() + 3600)
    assert maintenance(client, serviced, hasta=until).json()["mantenimientoHasta"] == until
    ended = client.delete(f"/api/consolas/{serviced}/mantenimiento")
    assert ended.status_code == 200
    assert ended.json()["mantenimientoHasta"] is None
    assert ended.json()["mantenimientoMotivo"] is None
    assert reasons(client, serviced)[:2] == ["fin_mantenimiento", "mantenimiento"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "minutos"),
        ({"minutos": 10, "hasta": "2030-01-01T00:00:00Z"}, "hasta"),
        ({"minutos": "diez"}, "minutos"),
        ({"minutos": True}, "minutos"),
        ({"minutos": 0}, "minutos"),
        ({"minutos": -5}, "minutos"),
        ({"minutos": 10 * 366 * 24 * 60}, "minutos"),
        ({"hasta": "mañana"}, "hasta"),
        ({"hasta": "2020-01-01T00:00:00Z"}, "hasta"),
        ({"minutos": 10, "motivo": "x" * 501}, "motivo"),
        ({"minutos": 10, "motivo": 7}, "motivo"),
    ],
)
def test_bad_maintenance_gets_a_400_naming_the_field_and_changes_nothing(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    serviced = register(client)
    answer = maintenance(client, serviced, **body)
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert console(client, serviced)["mantenimientoHasta"] is None
    assert "mantenimiento" not in reasons(client, serviced)


def test_maintenance_of_an_unknown_console_is_404(client: httpx.Client) -> None:
    unknown = str(uuid.uuid4())
    assert maintenance(client, unknown, minutos=5).status_code == 404
    assert client.delete(f"/api/consolas/{unknown}/mantenimiento").status_code == 404


def test_metrics_show_the_end_of_a_maintenance_only_while_it_lasts(
    client: httpx.Client, clock: ManualClock
) -> None:
    serviced, other = register(client), register(client)
    maintenance(client, serviced, minutos=30)
    text = client.get("/metrics").text
    assert f'{MAINTENANCE_METRIC}{{console_id="{serviced}"}} {clock() + 1800!r}' in text
    assert (
        f'console_id="{other}"' in text
        and f'{MAINTENANCE_METRIC}{{console_id="{other}"}}' not in text
    )
    client.delete(f"/api/consolas/{serviced}/mantenimiento")
    assert f"{MAINTENANCE_METRIC}{{" not in client.get("/metrics").text


def test_the_sweeper_leaves_a_console_in_maintenance_and_marks_it_once_that_ends(
    client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
) -> None:
    serviced, dead = register(client), register(client)
    maintenance(client, serviced, minutos=60, motivo="reinstalación")
    clock.advance(INACTIVE_AFTER + 60)
    wait_until(lambda: console(client, dead)["estado"] == "inactiva")
    let_sweeper_run(exporter)
    assert console(client, serviced)["estado"] == "activa"
    listed = client.get("/api/consolas/inactivas").json()["consolas"]
    assert {c["id"]: c["mantenimientoHasta"] is not None for c in listed} == {
        serviced: True,
        dead: False,
    }
    clock.advance(3600)  # the maintenance is over and the console is still silent
    wait_until(lambda: console(client, serviced)["estado"] == "inactiva")
    after = console(client, serviced)
    assert after["mantenimientoHasta"] is None and after["mantenimientoMotivo"] is None
    assert reasons(client, serviced)[:2] == ["silencio", "fin_mantenimiento"]
    assert f"{MAINTENANCE_METRIC}{{" not in client.get("/metrics").text


class TestRetireAfter:
    """``--retire-after``: the sweeper retires consoles ``inactiva`` longer than that."""

    @pytest.fixture
    def exporter_settings(self) -> dict[str, Any]:
        return {"sweep_interval": 0.02, "inactive_after": INACTIVE_AFTER, "retire_after": 3600.0}

    def test_it_retires_consoles_inactiva_longer_than_the_setting_and_counts_them(
        self, client: httpx.Client, exporter: EmbeddedExporter, clock: ManualClock
    ) -> None:
        polite, crashed, serviced, alive = (register(client) for _ in range(4))

        def advance(seconds: float) -> None:  # ``alive`` beats every 300 s meanwhile
            while seconds > 0:
                step = min(300.0, seconds)
                clock.advance(step)
                seconds -= step
                assert client.post(f"/api/consolas/{alive}/heartbeat", json={"estado": "activa"})
                let_sweeper_run(exporter)

        assert client.post(f"/api/consolas/{polite}/heartbeat", json={"estado": "inactiva"})
        maintenance(client, serviced, minutos=24 * 60)
        advance(INACTIVE_AFTER + 1)
        assert console(client, crashed)["estado"] == "inactiva"  # marked at +601 s
        advance(3600 - INACTIVE_AFTER)
        assert client.get(f"/api/consolas/{polite}").status_code == 404  # inactiva 3601 s
        assert client.get(f"/api/consolas/{crashed}").status_code == 200  # inactiva 3000 s
        advance(INACTIVE_AFTER + 1)
        assert client.get(f"/api/consolas/{crashed}").status_code == 404
        assert client.get(f"/api/consolas/{serviced}").status_code == 200  # in maintenance
        assert console(client, alive)["estado"] == "activa"
        text = client.get("/metrics").text
        assert "heartbeat_fleet_retired_total 2.0" in text
        assert f'console_id="{crashed}"' not in text
