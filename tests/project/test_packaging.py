"""A worker's ``pip install consola-heartbeat``: the library and its commands, no server stack.

Installs a copy of this checkout (not editable, without extras) into a fresh virtual environment,
the way a worker machine would, and runs the installed ``heartbeat`` command.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tools import REPO_ROOT

SERVER_MODULES = ("starlette", "uvicorn", "psycopg")
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "results", "node_modules"
)


@pytest.fixture(scope="module")
def worker_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with ``pip install <copy of the checkout>`` done in it; its ``bin``."""
    root = tmp_path_factory.mktemp("base-install")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_COPIED)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    bin_dir = root / "venv" / "bin"
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    yield bin_dir


def run(bin_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "heartbeat"), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd or bin_dir)},
    )


def test_base_install_imports_the_library_without_the_server_stack(worker_venv: Path) -> None:
    probe = (
        "import importlib.util, heartbeat\n"
        "heartbeat.HeartbeatService\n"
        f"print(','.join(m for m in {SERVER_MODULES!r} if importlib.util.find_spec(m)))\n"
    )
    result = subprocess.run(
        [str(worker_venv / "python"), "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""  # none of the server modules is installed


@pytest.mark.parametrize("command", ["exporter", "demo"])
def test_server_commands_exit_2_naming_the_extra_without_a_traceback(
    worker_venv: Path, command: str, tmp_path: Path
) -> None:
    result = run(worker_venv, command, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"heartbeat {command}: ")
    assert "pip install 'consola-heartbeat[server]'" in lines[0]
    assert "Traceback" not in result.stderr


def test_worker_commands_run_from_the_base_install(worker_venv: Path, tmp_path: Path) -> None:
    created = run(worker_venv, "id", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    console_id = created.stdout.strip()
    assert uuid.UUID(console_id).version == 4
    assert (tmp_path / ".console-id").read_text(encoding="utf-8").strip() == console_id
    for command in ("agent", "status", "maintenance", "retire"):
        helped = run(worker_venv, command, "--help", cwd=tmp_path)
        assert helped.returncode == 0, helped.stderr
        assert f"heartbeat {command}" in helped.stdout
