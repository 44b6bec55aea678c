"""The heartbeat service against a real recording HTTP server on loopback."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time

import pytest

import heartbeat
from heartbeat import ConfigError, EstadoConsola, HeartbeatService
from tests.support.recording_api import RecordingApi, fast_config
from tests.support.tools import wait_until


@pytest.fixture
def running(api: RecordingApi, tmp_path):
    """A started service talking to ``api``; stopped after the test."""
    services: list[HeartbeatService] = []

    def start(**overrides) -> HeartbeatService:
        service = HeartbeatService(fast_config(api.base_url, tmp_path, **overrides))
        service.iniciar()
        services.append(service)
        return service

    yield start
    for service in services:
        service.detener()


def test_registers_then_beats_at_the_configured_interval(api, running):
    service = running()
    wait_until(lambda: len(api.records("heartbeat", 200)) >= 3)
    beats = api.records("heartbeat")
    registrations = api.records("registrar", 200)
    assert len(registrations) == 1
    assert registrations[0].body["id"] == service.obtener_console_id()
    assert registrations[0].body["estado"] == "esperando"
    assert registrations[0].received < beats[0].received
    interval = service.config.interval_seconds
    gaps = [b.received - a.received for a, b in itertools.pairwise(beats)]
    for gap in gaps[:2]:
        assert 0.9 * interval - 0.2 <= gap <= 1.1 * interval + 1.0  # jitter ±10% + slack
    assert all(b.body["intervaloSegundos"] == pytest.approx(interval) for b in beats)


def test_a_state_change_reaches_the_server_well_before_the_next_beat(api, running):
    service = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))
    changed = time.monotonic()
    service.cambiar_estado(EstadoConsola.OCUPADA, video_en_proceso="Video Historia 1 (2/5)")
    beat = wait_until(lambda: api.records("heartbeat"), timeout=5)[0]  # type: ignore[index]
    assert beat.body["estado"] == "ocupada"
    assert beat.body["videoEnProceso"] == "Video Historia 1 (2/5)"
    assert beat.received - changed < 2.0  # the periodic beat is 54-66 s away


def test_a_burst_of_changes_is_coalesced_into_few_heartbeats(api, running):
    service = running(interval_minutes=1.0, settle_seconds=0.2)
    wait_until(lambda: api.records("registrar", 200))
    for index in range(50):
        service.cambiar_estado("ocupada", video_en_proceso=f"video {index}")
    wait_until(
        lambda: any(r.body["videoEnProceso"] == "video 49" for r in api.records("heartbeat"))
    )
    time.sleep(0.3)
    assert len(api.records("heartbeat")) <= 3


def test_the_console_id_survives_a_restart(api, tmp_path):
    first = HeartbeatService(fast_config(api.base_url, tmp_path))
    first.iniciar()
    wait_until(lambda: api.records("registrar", 200))
    first.detener()
    second = HeartbeatService(fast_config(api.base_url, tmp_path))
    second.iniciar()
    wait_until(lambda: len(api.records("registrar", 200)) == 2)
    second.detener()
    ids = {r.body["id"] for r in api.records("registrar")}
    assert ids == {first.obtener_console_id()} == {second.obtener_console_id()}
    assert (tmp_path / ".console-id").read_text().strip() in ids


def test_api_down_then_back_never_blocks_the_worker_and_beats_resume(api, running, caplog):
    caplog.set_level(logging.DEBUG, logger="heartbeat")
    service = running(timeout_seconds=3.0)  # a call that waited for the network would take 3 s
    wait_until(lambda: api.records("heartbeat", 200))
    api.set_mode("hang")  # requests time out
    slowest = 0.0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        started = time.perf_counter()
        service.cambiar_estado("ocupada", video_en_proceso="durante la caída")
        service.cambiar_estado("esperando")
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.005)
    api.stop()  # then refused connections
    time.sleep(1.0)
    # A blocking check, not a benchmark: the bound is far below the 3 s a network call would
    # take, and far above a busy machine's scheduling hiccups (bench/ measures the real cost).
    assert slowest < 1.0
    before = len(api.records("heartbeat", 200))
    api.set_mode("ok")
    api.start()
    wait_until(lambda: len(api.records("heartbeat", 200)) > before, timeout=5)
    failures = [r for r in caplog.records if "No se pudo enviar heartbeat" in r.getMessage()]
    assert [r.levelno for r in failures].count(logging.WARNING) == 1
    assert len(failures) >= 2  # later attempts of the streak went to DEBUG
    # the API records the heartbeat before it answers; the sender logs once it has the answer
    wait_until(lambda: any("restablecida" in r.getMessage() for r in caplog.records), timeout=5)


def test_a_404_on_a_heartbeat_means_register_again(api, running):
    service = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))
    api.forget()
    service.cambiar_estado("activa")
    wait_until(lambda: api.records("heartbeat", 404))
    wait_until(lambda: len(api.records("registrar", 200)) == 2)
    assert api.records("registrar")[-1].body["estado"] == "activa"


def test_a_failed_registration_does_not_block_iniciar_and_is_retried(api, tmp_path):
    api.set_mode("hang")
    service = HeartbeatService(fast_config(api.base_url, tmp_path))
    service.iniciar()  # returns although the API holds the registration
    try:
        assert service.running
        assert api.records("registrar", 200) == []
        api.set_mode("ok")
        wait_until(lambda: api.records("registrar", 200), timeout=5)
    finally:
        service.detener()


def test_cambiar_estado_does_no_network_io_on_the_callers_thread(api, running, monkeypatch):
    service = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))
    io_threads: list[str] = []
    real_connect, real_sendall = socket.socket.connect, socket.socket.sendall

    def connect(self, *args, **kwargs):
        io_threads.append(threading.current_thread().name)
        return real_connect(self, *args, **kwargs)

    def sendall(self, *args, **kwargs):
        io_threads.append(threading.current_thread().name)
        return real_sendall(self, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "sendall", sendall)
    for estado in ("ocupada", "error", "esperando", "activa"):
        service.cambiar_estado(estado)
    wait_until(lambda: any(r.body["estado"] == "activa" for r in api.records("heartbeat")))
    caller = threading.current_thread().name
    assert any(name.startswith("heartbeat-sender") for name in io_threads)
    assert caller not in io_threads


def test_detener_sends_a_last_heartbeat_with_estado_inactiva(api, tmp_path):
    service = HeartbeatService(fast_config(api.base_url, tmp_path, interval_minutes=1.0))
    service.iniciar()
    wait_until(lambda: api.records("registrar", 200))
    service.cambiar_estado("ocupada", video_en_proceso="último")
    service.detener()
    last = api.records("heartbeat")[-1]
    assert last.body["estado"] == "inactiva"
    assert last.body["videoEnProceso"] is None
    assert not service.running


def test_detener_returns_within_its_bound_when_the_api_hangs(api, tmp_path):
    service = HeartbeatService(fast_config(api.base_url, tmp_path, stop_timeout_seconds=1.0))
    service.iniciar()
    wait_until(lambda: api.records("registrar", 200))
    api.set_mode("hang")
    started = time.monotonic()
    service.detener()
    assert time.monotonic() - started < 2.5


def test_procesando_reports_ocupada_then_esperando_on_success(api, running):
    service = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))
    with service.procesando("Video Historia 1 (2/5)"):
        wait_until(lambda: api.records("heartbeat"))
    wait_until(lambda: len(api.records("heartbeat")) >= 2)
    first, last = api.records("heartbeat")[0], api.records("heartbeat")[-1]
    assert (first.body["estado"], first.body["videoEnProceso"]) == (
        "ocupada",
        "Video Historia 1 (2/5)",
    )
    assert (last.body["estado"], last.body["videoEnProceso"]) == ("esperando", None)


def test_procesando_reports_error_and_reraises_on_failure(api, running):
    service: HeartbeatService = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))

    @service.procesando("Video roto")
    def render() -> None:
        raise RuntimeError("ffmpeg falló")

    with pytest.raises(RuntimeError, match="ffmpeg falló"):
        render()
    beat = wait_until(lambda: [r for r in api.records("heartbeat") if r.estado == "error"])[0]  # type: ignore[index]
    error = beat.body["ultimoError"]
    assert error["message"] == "ffmpeg falló"
    assert error["type"] == "RuntimeError"
    assert "render" in error["stack"]
    assert error["timestamp"].endswith("Z")


def test_without_api_base_url_heartbeats_are_disabled_and_the_worker_is_unaffected(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="heartbeat")
    service = HeartbeatService(fast_config(None, tmp_path))
    service.iniciar()
    service.cambiar_estado("ocupada", video_en_proceso="offline")
    with service.procesando("otro"):
        pass
    service.detener()
    messages = [r.getMessage() for r in caplog.records]
    assert any("API_BASE_URL no configurado" in m for m in messages)
    assert service.estado()["estado"] == "esperando"


def test_logs_the_seed_banner_and_lines(api, running, caplog):
    caplog.set_level(logging.INFO, logger="heartbeat")
    service = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))
    service.cambiar_estado("ocupada", video_en_proceso="Video Historia 1 (2/5)")
    wait_until(lambda: api.records("heartbeat", 200))
    messages = [r.getMessage() for r in caplog.records if r.name == "heartbeat"]
    assert messages[:6] == [
        "💓 SERVICIO DE HEARTBEAT",
        "=" * 80,
        f"📋 Console ID: {service.obtener_console_id()}",
        f"🌐 API Base URL: {api.base_url}",
        "⏱️  Intervalo: cada 1 minuto(s)",
        "=" * 80,
    ]
    assert messages.index("✅ Consola registrada exitosamente") < messages.index(
        "✅ Servicio de heartbeat iniciado"
    )
    assert "🔄 Estado de consola: esperando → ocupada" in messages
    assert "💓 Heartbeat enviado - Estado: ocupada (Video Historia 1 (2/5))" in messages


def test_several_consoles_run_independently_in_one_process(api, tmp_path):
    services = [
        HeartbeatService(fast_config(api.base_url, tmp_path / str(n), interval_minutes=1.0))
        for n in range(3)
    ]
    for n, service in enumerate(services):
        (tmp_path / str(n)).mkdir()
        service.iniciar()
    try:
        wait_until(lambda: len(api.records("registrar", 200)) == 3)
        services[1].cambiar_estado("ocupada")
        wait_until(lambda: api.records("heartbeat"))
        ids = [s.obtener_console_id() for s in services]
        assert len(set(ids)) == 3
        assert [r.path for r in api.records("heartbeat")] == [f"/api/consolas/{ids[1]}/heartbeat"]
    finally:
        for service in services:
            service.detener()


def test_iniciar_fails_on_a_bad_environment_variable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEARTBEAT_INTERVAL_MINUTES", "cada rato")
    monkeypatch.setattr(heartbeat, "_default", None)
    with pytest.raises(ConfigError, match="HEARTBEAT_INTERVAL_MINUTES='cada rato'"):
        heartbeat.iniciar()


def test_module_level_functions_drive_the_default_console(api, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(heartbeat, "_default", None)
    heartbeat.iniciar(fast_config(api.base_url, tmp_path, interval_minutes=1.0))
    try:
        assert heartbeat.iniciar() is heartbeat.servicio()  # idempotent
        wait_until(lambda: api.records("registrar", 200))
        heartbeat.cambiar_estado(EstadoConsola.ERROR, error="algo salió mal")
        beat = wait_until(lambda: api.records("heartbeat"))[0]  # type: ignore[index]
        assert beat.body["ultimoError"]["message"] == "algo salió mal"
        assert beat.path.endswith(f"/{heartbeat.obtener_console_id()}/heartbeat")
    finally:
        heartbeat.detener()
    assert api.records("heartbeat")[-1].body["estado"] == "inactiva"


def test_reporting_an_error_reads_no_source_file_on_the_callers_thread(api, running, monkeypatch):
    import linecache

    service = running(interval_minutes=1.0)
    wait_until(lambda: api.records("registrar", 200))
    readers: list[str] = []
    real_updatecache = linecache.updatecache

    def updatecache(*args, **kwargs):
        readers.append(threading.current_thread().name)
        return real_updatecache(*args, **kwargs)

    monkeypatch.setattr(linecache, "updatecache", updatecache)
    linecache.clearcache()
    try:
        raise KeyError("falta el guion")
    except KeyError as exc:
        service.cambiar_estado("error", error=exc)
    wait_until(lambda: [r for r in api.records("heartbeat") if r.estado == "error"])
    beat = next(r for r in api.records("heartbeat") if r.estado == "error")
    assert 'raise KeyError("falta el guion")' in beat.body["ultimoError"]["stack"]
    assert readers and threading.current_thread().name not in readers


def test_failed_requests_are_retried_with_growing_delays(api, tmp_path):
    api.set_mode("500")
    service = HeartbeatService(
        fast_config(api.base_url, tmp_path, retry_initial_seconds=0.05, retry_max_seconds=1.0)
    )
    service.iniciar()
    try:
        wait_until(lambda: len(api.records("registrar")) >= 5, timeout=10)
    finally:
        service.detener()
    times = [r.received for r in api.records("registrar")][:5]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # nominal 0.05, 0.1, 0.2, 0.4 s, each ±20 %: the fourth wait is far longer than the first
    assert gaps[3] > 3 * gaps[0]
    assert gaps[3] >= 0.4 * 0.8


def test_periodic_waits_are_jittered_within_ten_percent(tmp_path):
    import random

    from heartbeat.sender import Sender
    from heartbeat.state import ConsoleState, Telemetry
    from heartbeat.system import SystemSampler

    config = fast_config("http://127.0.0.1:9/api", tmp_path, interval_minutes=5.0)
    sender = Sender(
        config,
        "550e8400-e29b-41d4-a716-446655440000",
        ConsoleState(),
        Telemetry(),
        SystemSampler(),
        rng=random.Random(7),
    )
    waits = [sender._jittered(config.interval_seconds) for _ in range(200)]
    assert all(270.0 <= w <= 330.0 for w in waits)
    assert max(waits) - min(waits) > 40.0  # spread over the band, not a fixed offset
