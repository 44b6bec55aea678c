"""The library says where its /metrics answers (``metricas``), so Prometheus can discover it
through the exporter: what it sends for each bind and advertise setting, against a real
recording API on loopback, and how ``HEARTBEAT_METRICS_ADVERTISE`` is validated."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consola_wire import parse_heartbeat, parse_registration
from heartbeat import ConfigError, HeartbeatConfig, HeartbeatService
from tests.support.recording_api import RecordingApi, fast_config
from tests.support.tools import free_port, wait_until


@pytest.fixture
def start(api: RecordingApi, tmp_path: Path) -> Iterator[Any]:
    """Start a service on ``api`` with config overrides; all stopped after the test."""
    services: list[HeartbeatService] = []

    def run(**overrides: Any) -> HeartbeatService:
        service = HeartbeatService(fast_config(api.base_url, tmp_path, **overrides))
        service.iniciar()
        services.append(service)
        return service

    yield run
    for service in services:
        service.detener()


def sent_bodies(api: RecordingApi) -> list[dict[str, Any]]:
    """The registration and first heartbeat the console sent."""
    wait_until(lambda: api.records("registrar", 200) and api.records("heartbeat", 200))
    return [api.records("registrar", 200)[0].body, api.records("heartbeat", 200)[0].body]


def test_every_request_says_where_the_metrics_answer(api: RecordingApi, start: Any) -> None:
    port = free_port()
    service = start(metrics_port=port)
    registration, heartbeat = sent_bodies(api)
    expected = {"puerto": port, "ruta": "/metrics", "direccion": "127.0.0.1"}
    assert registration["metricas"] == heartbeat["metricas"] == expected
    assert service.metrics_address == ("127.0.0.1", port)
    parsed = parse_registration(registration)
    assert parsed.metricas is not None and parsed.metricas.puerto == port
    assert parse_heartbeat(heartbeat).metricas == parsed.metricas


def test_the_goodbye_says_it_too(api: RecordingApi, start: Any) -> None:
    port = free_port()
    service = start(metrics_port=port)
    sent_bodies(api)
    service.detener()
    goodbye = [r.body for r in api.records("heartbeat", 200) if r.body["estado"] == "inactiva"]
    assert goodbye and goodbye[-1]["metricas"]["puerto"] == port


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_binding_every_address_leaves_direccion_to_the_exporter(
    api: RecordingApi, start: Any, bind: str
) -> None:
    if bind == "::" and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    port = free_port()
    start(metrics_port=port, metrics_addr=bind)
    for body in sent_bodies(api):
        assert body["metricas"] == {"puerto": port, "ruta": "/metrics"}


def test_the_advertised_address_wins_over_the_bind_address(api: RecordingApi, start: Any) -> None:
    port = free_port()
    start(metrics_port=port, metrics_addr="0.0.0.0", metrics_advertise="render-7.example")
    for body in sent_bodies(api):
        assert body["metricas"]["direccion"] == "render-7.example"


def test_with_metrics_off_no_metricas_is_sent(api: RecordingApi, start: Any) -> None:
    start(metrics_port=None)
    for body in sent_bodies(api):
        assert "metricas" not in body


def test_a_metrics_port_that_cannot_be_bound_sends_no_metricas(
    api: RecordingApi, start: Any
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        service = start(metrics_port=taken.getsockname()[1])
        assert service.metrics_address is None
        for body in sent_bodies(api):
            assert "metricas" not in body


@pytest.mark.parametrize("value", ["10.0.0.7", "fd00::7", "render-7", "render-7.example.com."])
def test_heartbeat_metrics_advertise_takes_an_ip_or_a_host_name(value: str) -> None:
    config = HeartbeatConfig.from_env({"HEARTBEAT_METRICS_ADVERTISE": value}, use_dotenv=False)
    assert config.metrics_advertise == value
    assert config.advertised_address == value


@pytest.mark.parametrize(
    "value", ["render-7:29100", "[fd00::7]", "http://render-7", "a b", "h" * 254, "-bad-.x"]
)
def test_a_bad_heartbeat_metrics_advertise_is_an_error_naming_it(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        HeartbeatConfig.from_env({"HEARTBEAT_METRICS_ADVERTISE": value}, use_dotenv=False)
    assert raised.value.variable == "HEARTBEAT_METRICS_ADVERTISE"
    assert "HEARTBEAT_METRICS_ADVERTISE" in str(raised.value)
