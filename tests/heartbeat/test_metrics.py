"""The console's own /metrics: content, promtool, a real Prometheus, and concurrency."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from consola_wire import ALL_STATES
from heartbeat import HeartbeatService
from tests.support.prometheus import ScrapeJob, run_prometheus
from tests.support.recording_api import RecordingApi, fast_config
from tests.support.tools import free_port, require_binary, wait_until

CONTRACT_NAMES = {
    "heartbeat_console_info",
    "heartbeat_console_state",
    "heartbeat_last_success_timestamp_seconds",
    "heartbeat_interval_seconds",
    "heartbeat_requests_total",
    "heartbeat_request_failures_total",
    "heartbeat_system_cpus",
    "heartbeat_system_memory_total_bytes",
    "heartbeat_system_memory_available_bytes",
    "heartbeat_system_uptime_seconds",
    "heartbeat_system_load1",
    "heartbeat_system_cpu_usage_ratio",
    "heartbeat_worker_processes",
    "heartbeat_worker_cpu_seconds_total",
    "heartbeat_worker_resident_memory_bytes",
    "heartbeat_videos_started_total",
    "heartbeat_videos_finished_total",
    "heartbeat_videos_failed_total",
    "process_resident_memory_bytes",
}


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(name, sorted labels): value}`` from an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def console(api: RecordingApi, tmp_path):
    """A running service with /metrics on a free loopback port."""
    service = HeartbeatService(fast_config(api.base_url, tmp_path, metrics_port=free_port()))
    service.iniciar()
    address = service.metrics_address
    assert address is not None
    service.url = f"http://127.0.0.1:{address[1]}"  # type: ignore[attr-defined]
    yield service
    service.detener()


def test_metrics_have_every_contract_series(api, console):
    wait_until(lambda: api.records("registrar", 200))
    status, content_type, text = get(console.url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    names = {name for name, _ in samples(text)}
    assert names >= CONTRACT_NAMES
    found = samples(text)
    states = {
        dict(labels)["state"]: v
        for (n, labels), v in found.items()
        if n == "heartbeat_console_state"
    }
    assert states == {s: (1.0 if s == "esperando" else 0.0) for s in ALL_STATES}
    failures = [lb for (n, lb), _ in found.items() if n == "heartbeat_request_failures_total"]
    assert len(failures) == 2 * 5  # every endpoint x reason initialised
    info = next(dict(lb) for (n, lb), _ in found.items() if n == "heartbeat_console_info")
    assert info["console_id"] == console.obtener_console_id()
    assert info["name"] == "Consola de prueba"
    assert found[("heartbeat_interval_seconds", ())] == pytest.approx(1.2)


def test_video_counters_follow_procesando(console):
    with console.procesando("uno"):
        text = get(console.url + "/metrics")[2]
        assert ("heartbeat_current_video_start_timestamp_seconds", ()) in samples(text)
    with pytest.raises(ValueError), console.procesando("dos"):
        raise ValueError("mal")
    found = samples(get(console.url + "/metrics")[2])
    assert found[("heartbeat_videos_started_total", ())] == 2
    assert found[("heartbeat_videos_finished_total", ())] == 1
    assert found[("heartbeat_videos_failed_total", ())] == 1
    assert ("heartbeat_current_video_start_timestamp_seconds", ()) not in found
    assert found[("heartbeat_console_state", (("state", "error"),))] == 1


def test_worker_process_tree_counts_child_processes(console):
    child = subprocess.Popen(["sleep", "30"])
    try:
        console._tree._snapshot = None  # skip the few-second cache for this test
        found = samples(get(console.url + "/metrics")[2])
        assert found[("heartbeat_worker_processes", ())] >= 2
        assert found[("heartbeat_worker_resident_memory_bytes", ())] > 0
    finally:
        child.kill()
        child.wait()


def test_index_page_links_metrics_and_healthz_answers(console):
    status, content_type, page = get(console.url + "/")
    assert status == 200 and content_type.startswith("text/html")
    assert 'href="metrics"' in page
    assert get(console.url + "/healthz")[:1] == (200,)
    with pytest.raises(urllib.error.HTTPError) as caught:
        get(console.url + "/estado")  # the control endpoint is the agent's only
    assert caught.value.code == 404


def test_promtool_check_metrics_is_clean_on_a_live_scrape(console):
    promtool = require_binary("promtool")
    console.cambiar_estado("ocupada", video_en_proceso="v")
    text = get(console.url + "/metrics")[2]
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_a_port_in_use_is_logged_and_the_worker_continues(api, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="heartbeat")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = HeartbeatService(fast_config(api.base_url, tmp_path, metrics_port=port))
        service.iniciar()
        try:
            service.cambiar_estado("ocupada")
            wait_until(lambda: api.records("heartbeat", 200))
            assert service.running and service.metrics_address is None
        finally:
            service.detener()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"127.0.0.1:{port}" in m and "HEARTBEAT_METRICS_PORT" in m for m in errors)


def test_scraping_never_blocks_state_changes_and_vice_versa(console, monkeypatch):
    # Every scrape takes >= 0.3 s (a slow psutil reading): a state change that waited for a
    # scrape would take about that long, so the bound below tells blocking from scheduling noise.
    real_read = console._tree._read

    def slow_read():
        time.sleep(0.3)
        return real_read()

    monkeypatch.setattr(console._tree, "_read", slow_read)
    monkeypatch.setattr(console._tree, "_max_age", 0.0)
    stop = threading.Event()
    scrapes: list[float] = []
    changes: list[float] = []
    bad: list[str] = []

    def scrape() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            found = samples(get(console.url + "/metrics")[2])
            scrapes.append(time.perf_counter() - started)
            ones = [v for (n, _), v in found.items() if n == "heartbeat_console_state" and v == 1]
            if ones != [1.0]:
                bad.append(f"inconsistent state series: {ones}")

    def change() -> None:
        while not stop.is_set():
            for estado in ("ocupada", "esperando", "activa", "error"):
                started = time.perf_counter()
                console.cambiar_estado(estado, video_en_proceso="x")
                changes.append(time.perf_counter() - started)
                time.sleep(0.001)

    threads = [threading.Thread(target=scrape) for _ in range(3)]
    threads += [threading.Thread(target=change) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not bad
    assert len(scrapes) >= 3 and len(changes) >= 100
    assert min(scrapes) >= 0.3  # the scrapes really were slow ...
    assert max(changes) < 0.15  # ... and no state change waited for one
    assert max(scrapes) < 3.0  # nor did a scrape wait for the changes to stop


def _value(prom, expr: str) -> float | None:
    result = prom.query(expr)
    return float(result[0]["value"][1]) if result else None


def test_a_real_prometheus_follows_state_changes_and_an_api_outage(api, console, tmp_path):
    target = f"127.0.0.1:{console.metrics_address[1]}"
    with run_prometheus(tmp_path / "prom", [ScrapeJob("heartbeat-console", [target])]) as prom:
        wait_until(lambda: _value(prom, 'heartbeat_console_state{state="esperando"}') == 1, 20)
        console.cambiar_estado("ocupada", video_en_proceso="Video Historia 1 (2/5)")
        wait_until(lambda: _value(prom, 'heartbeat_console_state{state="ocupada"}') == 1, 20)
        assert _value(prom, 'heartbeat_console_state{state="esperando"}') == 0
        wait_until(lambda: (_value(prom, "heartbeat_last_success_timestamp_seconds") or 0) > 0)

        api.stop()
        failures = 'sum(heartbeat_request_failures_total{endpoint="heartbeat"})'
        before = _value(prom, failures) or 0
        wait_until(lambda: (_value(prom, failures) or 0) > before, 20)
        time.sleep(1.5)  # the outage has been going on for a while: last success is frozen
        frozen = _value(prom, "heartbeat_last_success_timestamp_seconds")
        rising = _value(prom, failures)
        wait_until(lambda: (_value(prom, failures) or 0) > (rising or 0), 20)
        assert _value(prom, "heartbeat_last_success_timestamp_seconds") == frozen
        assert _value(prom, 'heartbeat_request_failures_total{reason="connection"} > 0')

        api.start()
        wait_until(
            lambda: (_value(prom, "heartbeat_last_success_timestamp_seconds") or 0) > (frozen or 0),
            20,
        )
