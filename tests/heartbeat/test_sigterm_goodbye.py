"""SIGTERM says goodbye: a worker stopped with SIGTERM sends ``inactiva``, then dies as SIGTERM
kills (-15 for a Python parent, 143 in a shell). Real worker and exporter processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from heartbeat.config import ConfigError, HeartbeatConfig
from tests.support.exporters import ExporterProcess, database_for, run_exporter
from tests.support.recording_api import RecordingApi
from tests.support.tools import REPO_ROOT, wait_until

STOP_TIMEOUT_SECONDS = 1.0
#: How long a process may take to end after SIGTERM, beyond the goodbye's bound.
MARGIN_SECONDS = 2.0
PROCESS_TIMEOUT_SECONDS = 20.0
SHELL_SIGTERM_STATUS = 128 + signal.SIGTERM

#: Shared by every worker script: ``report()`` prints one JSON line the test reads.
PRELUDE = """\
import json, os, signal, sys, threading, time
import heartbeat

def sigterm_handler():
    handler = signal.getsignal(signal.SIGTERM)
    return handler.name if isinstance(handler, signal.Handlers) else handler.__qualname__

def report(**facts):
    print(json.dumps({"pid": os.getpid(), "handler": sigterm_handler(), **facts}), flush=True)

def idle():
    while True:
        time.sleep(0.05)
"""

PLAIN_WORKER = """\
heartbeat.iniciar()
report()
idle()
"""

#: The pattern docs/library.md shows for a worker with a SIGTERM handler of its own.
OWN_HANDLER = """\
def on_sigterm(signum, frame):
    heartbeat.detener()  # the "inactiva" goodbye, bounded by HEARTBEAT_STOP_TIMEOUT_SECONDS
    sys.exit(0)

signal.signal(signal.SIGTERM, on_sigterm)
"""

OWN_HANDLER_WORKER = OWN_HANDLER + PLAIN_WORKER

IGNORING_WORKER = """\
signal.signal(signal.SIGTERM, signal.SIG_IGN)
heartbeat.iniciar()
report()
idle()
"""

THREAD_WORKER = """\
errors = []

def start():
    try:
        heartbeat.iniciar()
    except BaseException as exc:
        errors.append(repr(exc))

thread = threading.Thread(target=start)
thread.start()
thread.join()
report(errors=errors, running=heartbeat.servicio().running)
idle()
"""

DETENER_WORKER = """\
heartbeat.iniciar()
while_running = sigterm_handler()
heartbeat.detener()
report(while_running=while_running)
"""

#: SIGTERM arrives while the main thread is inside the library, holding its locks (as if it
#: interrupted ``cambiar_estado()`` halfway): the handler must neither deadlock nor lose the
#: goodbye. ``{install}`` is empty, or the worker's own handler.
INTERRUPTED_WORKER = """\
{install}
service = heartbeat.iniciar()
while not service._telemetry.snapshot().registered:  # registering needs the state's lock
    time.sleep(0.02)
heartbeat._default_lock.acquire()
service._state._lock.acquire()
report()
idle()
"""

AGENT_WORKER = """\
import heartbeat.agent

code = heartbeat.agent.main_agent(["--metrics-port", "off"])
report(code=code)
"""


@dataclass
class Worker:
    """A worker process and the console it reports as."""

    process: subprocess.Popen[str]
    console_id: str
    log: Path

    def first_report(self) -> dict[str, Any]:
        """The JSON line the script prints once ``iniciar()`` returned."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the worker printed nothing; its log:\n{self.log.read_text()}"
        facts: dict[str, Any] = json.loads(line)
        return facts

    def terminate_and_wait(self) -> tuple[int, float]:
        """SIGTERM, then the return code and how long the process took to end."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=PROCESS_TIMEOUT_SECONDS)
        return code, time.monotonic() - sent


class StartWorker(Protocol):
    def __call__(
        self, script: str, api_base_url: str, *, shell: bool = False, **env: str
    ) -> Worker: ...


def worker_env(api_base_url: str, console_id: str, **extra: str) -> dict[str, str]:
    """The environment of a worker: no inherited heartbeat settings, quick stop, no /metrics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTBEAT_", "CONSOLE_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        API_BASE_URL=api_base_url,
        CONSOLE_ID=console_id,
        CONSOLE_NAME="Consola SIGTERM",
        HEARTBEAT_METRICS_PORT="off",
        HEARTBEAT_TIMEOUT_SECONDS="2",
        HEARTBEAT_STOP_TIMEOUT_SECONDS=str(STOP_TIMEOUT_SECONDS),
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def exporter_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    """One exporter subprocess for the module (every test uses a console id of its own)."""
    directory = tmp_path_factory.mktemp("exporter")
    with run_exporter(database_for("sqlite", directory)) as running:
        yield running


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[StartWorker]:
    """Start worker scripts (killed after the test if still running)."""
    workers: list[Worker] = []

    def start(script: str, api_base_url: str, *, shell: bool = False, **env: str) -> Worker:
        index = len(workers)
        path = tmp_path / f"worker{index}.py"
        path.write_text(PRELUDE + textwrap.dedent(script))
        log = tmp_path / f"worker{index}.log"
        console_id = str(uuid.uuid4())
        argv = [sys.executable, str(path)]
        if shell:  # the shell waits for python and prints its status as a shell sees it
            argv = ["sh", "-c", '"$0" "$1"; echo "status=$?"', *argv]
        with log.open("w") as stderr:
            process = subprocess.Popen(
                argv,
                cwd=tmp_path,
                env=worker_env(api_base_url, console_id, **env),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        worker = Worker(process, console_id, log)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        assert worker.process.stdout is not None
        worker.process.stdout.close()


def api_url(exporter: ExporterProcess) -> str:
    return f"{exporter.url}/api"


def console(exporter: ExporterProcess, console_id: str) -> dict[str, Any] | None:
    """The exporter's JSON for one console, or ``None`` before it registered."""
    response = httpx.get(f"{exporter.url}/api/consolas/{console_id}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def registered(exporter: ExporterProcess, worker: Worker) -> dict[str, Any]:
    """Wait until the exporter knows the worker's console; its JSON."""
    found = wait_until(lambda: console(exporter, worker.console_id), timeout=20)
    assert isinstance(found, dict)
    return found


def said_goodbye(exporter: ExporterProcess, worker: Worker) -> bool:
    state = console(exporter, worker.console_id)
    assert state is not None
    return bool(state["estado"] == "inactiva" and state["detenidaLimpiamente"] is True)


def test_sigterm_sends_the_goodbye_then_ends_the_worker_with_minus_15(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(PLAIN_WORKER, api_url(exporter_process))
    assert worker.first_report()["handler"] == "_on_sigterm"
    assert registered(exporter_process, worker)["estado"] == "esperando"
    code, _ = worker.terminate_and_wait()
    assert code == -signal.SIGTERM
    assert said_goodbye(exporter_process, worker)  # at once: the 2xx came before the process ended


def test_a_shell_sees_exit_status_143_after_the_goodbye(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(PLAIN_WORKER, api_url(exporter_process), shell=True)
    pid = worker.first_report()["pid"]
    registered(exporter_process, worker)
    os.kill(pid, signal.SIGTERM)
    out, _ = worker.process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)
    assert out.strip() == f"status={SHELL_SIGTERM_STATUS}"
    assert worker.process.returncode == 0  # the shell itself carried on
    assert said_goodbye(exporter_process, worker)


def test_a_worker_with_its_own_handler_keeps_it_and_says_goodbye_by_calling_detener(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(OWN_HANDLER_WORKER, api_url(exporter_process))
    assert worker.first_report()["handler"] == "on_sigterm"
    registered(exporter_process, worker)
    code, _ = worker.terminate_and_wait()
    assert code == 0  # the worker's handler ran: sys.exit(0)
    assert said_goodbye(exporter_process, worker)


def test_a_worker_that_ignores_sigterm_keeps_ignoring_it(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(IGNORING_WORKER, api_url(exporter_process))
    assert worker.first_report()["handler"] == "SIG_IGN"
    registered(exporter_process, worker)
    worker.process.send_signal(signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        worker.process.wait(timeout=1.0)
    assert not said_goodbye(exporter_process, worker)


def test_with_handle_signals_off_sigterm_kills_the_worker_without_a_goodbye(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(PLAIN_WORKER, api_url(exporter_process), HEARTBEAT_HANDLE_SIGNALS="off")
    assert worker.first_report()["handler"] == "SIG_DFL"
    registered(exporter_process, worker)
    code, _ = worker.terminate_and_wait()
    assert code == -signal.SIGTERM
    state = console(exporter_process, worker.console_id)
    assert state is not None
    assert state["estado"] == "esperando" and state["detenidaLimpiamente"] is False


def test_iniciar_on_another_thread_installs_nothing_and_does_not_raise(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(THREAD_WORKER, api_url(exporter_process))
    facts = worker.first_report()
    assert facts["handler"] == "SIG_DFL"
    assert facts["errors"] == [] and facts["running"] is True
    registered(exporter_process, worker)
    code, _ = worker.terminate_and_wait()
    assert code == -signal.SIGTERM
    assert not said_goodbye(exporter_process, worker)


def test_detener_restores_the_default_sigterm_action(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(DETENER_WORKER, api_url(exporter_process))
    facts = worker.first_report()
    assert facts["while_running"] == "_on_sigterm"
    assert facts["handler"] == "SIG_DFL"
    assert worker.process.wait(timeout=PROCESS_TIMEOUT_SECONDS) == 0


@pytest.mark.parametrize(
    "install",
    ["", OWN_HANDLER],
    ids=["library-handler", "worker-handler-calling-detener"],
)
def test_sigterm_while_the_main_thread_holds_the_librarys_locks_still_says_goodbye(
    exporter_process: ExporterProcess, start_worker: StartWorker, install: str
) -> None:
    worker = start_worker(INTERRUPTED_WORKER.format(install=install), api_url(exporter_process))
    worker.first_report()
    registered(exporter_process, worker)
    code, took = worker.terminate_and_wait()
    assert code == (0 if install else -signal.SIGTERM)
    assert took < STOP_TIMEOUT_SECONDS + MARGIN_SECONDS
    assert said_goodbye(exporter_process, worker)


def test_the_goodbye_is_bounded_by_the_stop_timeout_when_the_api_hangs(
    api: RecordingApi, start_worker: StartWorker
) -> None:
    worker = start_worker(PLAIN_WORKER, api.base_url, HEARTBEAT_TIMEOUT_SECONDS="30")
    worker.first_report()
    wait_until(lambda: api.records("registrar", 200), timeout=20)
    api.set_mode("hang")
    code, took = worker.terminate_and_wait()
    assert code == -signal.SIGTERM
    assert took < STOP_TIMEOUT_SECONDS + MARGIN_SECONDS
    api.set_mode("ok")  # releases the held request, which is recorded then
    wait_until(lambda: [r for r in api.records("heartbeat") if r.estado == "inactiva"])


def test_the_agent_keeps_sigterm_to_itself_and_leaves_the_default_behind(
    exporter_process: ExporterProcess, start_worker: StartWorker
) -> None:
    worker = start_worker(AGENT_WORKER, api_url(exporter_process))
    registered(exporter_process, worker)
    code, _ = worker.terminate_and_wait()
    assert code == 0
    facts = worker.first_report()  # printed after main_agent() returned
    assert facts["code"] == 0
    assert facts["handler"] == "SIG_DFL"  # not the library's, left by the agent
    assert said_goodbye(exporter_process, worker)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("on", True), ("off", False), ("ON", True), ("true", True), ("0", False), ("no", False)],
)
def test_handle_signals_accepts_on_and_off(value: str, expected: bool) -> None:
    config = HeartbeatConfig.from_env({"HEARTBEAT_HANDLE_SIGNALS": value}, use_dotenv=False)
    assert config.handle_signals is expected


def test_handle_signals_is_on_by_default() -> None:
    assert HeartbeatConfig.from_env({}, use_dotenv=False).handle_signals is True


def test_a_bad_handle_signals_value_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        HeartbeatConfig.from_env({"HEARTBEAT_HANDLE_SIGNALS": "maybe"}, use_dotenv=False)
    assert caught.value.variable == "HEARTBEAT_HANDLE_SIGNALS"
    assert "HEARTBEAT_HANDLE_SIGNALS='maybe'" in str(caught.value)
    assert "on or off" in str(caught.value)
