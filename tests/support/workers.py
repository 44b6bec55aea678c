"""Library consoles as worker processes of their own: ``heartbeat.iniciar()``, then idle until a
signal, so a test can stop one with SIGTERM, kill it, or start it again under the same id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.tools import REPO_ROOT

#: The whole worker: the library started as the seed describes, and nothing else to do.
WORKER_SCRIPT = "import threading, heartbeat\nheartbeat.iniciar()\nthreading.Event().wait()\n"
#: Seconds a stopped worker may take to end (its goodbye is bounded well below this).
EXIT_TIMEOUT_SECONDS = 20.0


class WorkerProcess:
    """One console's worker process, reporting to ``api_base_url`` as ``console_id``."""

    def __init__(
        self,
        api_base_url: str,
        console_id: str,
        name: str,
        directory: Path,
        interval_minutes: float = 0.02,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTBEAT_", "CONSOLE_"))}
        env.update(
            PYTHONPATH=str(REPO_ROOT),
            API_BASE_URL=api_base_url,
            CONSOLE_ID=console_id,
            CONSOLE_NAME=name,
            HEARTBEAT_INTERVAL_MINUTES=f"{interval_minutes:g}",
            HEARTBEAT_METRICS_PORT="off",
            HEARTBEAT_TIMEOUT_SECONDS="2",
            HEARTBEAT_STOP_TIMEOUT_SECONDS="2",
        )
        self.console_id = console_id
        self.log_path = directory / f"worker-{console_id[:8]}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", WORKER_SCRIPT],
                cwd=directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def terminate(self) -> int:
        """SIGTERM (``systemctl stop``), then the exit status once it has ended."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(EXIT_TIMEOUT_SECONDS)

    def kill(self) -> None:
        """SIGKILL: the console dies without a word."""
        self.process.kill()
        self.process.wait(EXIT_TIMEOUT_SECONDS)

    def stop_if_running(self) -> None:
        if self.process.poll() is None:
            self.kill()
