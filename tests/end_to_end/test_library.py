"""The ``heartbeat`` library talking to a real exporter process over loopback, on both backends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heartbeat import EstadoConsola
from tests.support.consoles import (
    agent_console_id,
    fast_console,
    get_json,
    kill_without_goodbye,
    start_agent,
)
from tests.support.exporters import ExporterProcess, database_for, run_exporter
from tests.support.tools import wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def exporter_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExporterProcess]:
    database = database_for(request.param, tmp_path)
    args = ["--sweep-interval", "0.5"]
    with run_exporter(database, args, log_path=tmp_path / "exporter.log") as running:
        yield running


def console(exporter_process: ExporterProcess, console_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = get_json(f"{exporter_process.url}/api/consolas/{console_id}")
    return found


def test_library_console_registers_reports_changes_and_says_goodbye(
    exporter_process: ExporterProcess, tmp_path: Path
) -> None:
    service = fast_console(f"{exporter_process.url}/api", tmp_path / "c1", "Consola e2e")
    service.iniciar()
    try:
        console_id = service.obtener_console_id()
        registered = wait_until(lambda: console(exporter_process, console_id), timeout=15)
        assert isinstance(registered, dict)
        assert registered["nombre"] == "Consola e2e"
        assert registered["sistema"]["pythonVersion"]

        service.cambiar_estado(EstadoConsola.OCUPADA, video_en_proceso="Video Historia 1 (2/5)")
        busy = wait_until(
            lambda: (c := console(exporter_process, console_id)) and c["estado"] == "ocupada" and c,
            timeout=10,
        )
        assert isinstance(busy, dict)
        assert busy["videoEnProceso"] == "Video Historia 1 (2/5)"

        with pytest.raises(RuntimeError), service.procesando("Video roto"):
            raise RuntimeError("codec no soportado")
        failed = wait_until(
            lambda: (c := console(exporter_process, console_id)) and c["estado"] == "error" and c,
            timeout=10,
        )
        assert isinstance(failed, dict)
        assert "codec no soportado" in str(failed["ultimoError"])
    finally:
        service.detener()

    gone = console(exporter_process, console_id)
    assert gone is not None
    assert gone["estado"] == "inactiva"
    assert gone["detenidaLimpiamente"] is True
    history = get_json(f"{exporter_process.url}/api/consolas/{console_id}/historial")["historial"]
    assert [h["estado"] for h in reversed(history)][-3:] == ["ocupada", "error", "inactiva"]
    assert history[0]["motivo"] == "despedida"


def test_killed_agent_is_marked_inactiva_for_silence_not_as_a_goodbye(
    exporter_process: ExporterProcess, tmp_path: Path
) -> None:
    directory = tmp_path / "agent"
    agent: subprocess.Popen[bytes] = start_agent(
        f"{exporter_process.url}/api", directory, "Consola agente"
    )
    try:
        console_id = wait_until(lambda: agent_console_id(directory), timeout=15)
        assert isinstance(console_id, str)
        wait_until(lambda: console(exporter_process, console_id), timeout=15)
    finally:
        kill_without_goodbye(agent)

    silent = wait_until(
        lambda: (c := console(exporter_process, console_id)) and c["estado"] == "inactiva" and c,
        timeout=15,
    )
    assert isinstance(silent, dict)
    assert silent["detenidaLimpiamente"] is False
    history = get_json(f"{exporter_process.url}/api/consolas/{console_id}/historial")["historial"]
    assert history[0]["estado"] == "inactiva"
    assert history[0]["motivo"] == "silencio"
