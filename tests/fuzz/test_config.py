"""Every exporter setting's bad values stop the start with a message naming it and the value.

The options come from ``exporter.cli.OPTIONS`` itself, so a new flag is covered as soon as it
uses one of the known value parsers. Each bad value is tried as a flag and as its environment
variable; the answer must be exit status 2 and a message with the flag (or variable) and the
value. Values that parse but cannot work (a port already taken, a host that does not resolve,
durations past any calendar) are refused the same way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exporter import cli
from exporter.startup import StartupError
from heartbeat.config import ConfigError, HeartbeatConfig
from tests.support.tools import REPO_ROOT

#: Bad values by the name of the parser an option uses.
BAD_VALUES: dict[str, tuple[str, ...]] = {
    "_port": ("http", "-1", "65536", "3000.5", ""),
    "_seconds": ("soon", "0", "-5", "nan", "inf", "-inf", "", "1e300"),
    "_seconds_or_off": ("never", "0", "-5", "nan", "inf", "", "1e300", "of"),
    "_positive_int": ("0", "-3", "many", "2.5", ""),
    "_nonempty": ("", "   "),
    "_bool": ("maybe", "2", "", "yes please"),
    "parse": ("bogus", ""),  # a choice among fixed words
}


def options() -> list[tuple[str, str, Callable[[str], Any]]]:
    return [(flag, cli.ENV_PREFIX + suffix, parse) for flag, suffix, parse, *_ in cli.OPTIONS]


CASES = [
    pytest.param(flag, env, bad, id=f"{flag}={bad!r}")
    for flag, env, parse in options()
    for bad in BAD_VALUES.get(parse.__name__, ())
]


def refusal(argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    """The message a refused configuration gets (parsing only: nothing is started)."""
    try:
        cli.parse_config(argv, environ)
    except StartupError as exc:  # main() prints it and exits 2
        return str(exc)
    except SystemExit as exc:  # argparse prints the flag error and exits 2
        assert exc.code == 2
        return capsys.readouterr().err
    raise AssertionError(f"accepted: {argv} {environ}")


@pytest.mark.parametrize(("flag", "env", "bad"), CASES)
def test_bad_flag_value_is_refused_naming_the_flag_and_value(
    flag: str, env: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refusal([f"{flag}={bad}"], {}, capsys)
    assert flag in err and repr(bad) in err, err


@pytest.mark.parametrize(("flag", "env", "bad"), CASES)
def test_bad_environment_value_is_refused_naming_the_variable_and_value(
    flag: str, env: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refusal([], {env: bad}, capsys)
    assert env in err and repr(bad) in err, err


def start(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the exporter command; a refused setting makes it exit at once (timeout otherwise)."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env={**os.environ},
        check=False,
    )


def test_the_command_exits_2_with_the_message(tmp_path: Any) -> None:
    result = start("--port", "0", "--max-batch", "0", "--database", str(tmp_path / "c.db"))
    assert result.returncode == 2
    assert "--max-batch" in result.stderr and "'0'" in result.stderr


def test_every_option_has_bad_values_to_try() -> None:
    untested = [flag for flag, _, parse in options() if parse.__name__ not in BAD_VALUES]
    assert untested == [], f"add bad values for the parsers of {untested}"


def test_a_port_already_in_use_is_refused_naming_the_port(tmp_path: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = start("--host", "127.0.0.1", "--port", port, "--database", str(tmp_path / "c.db"))
    assert result.returncode == 2, result.stderr
    assert "--port" in result.stderr and port in result.stderr, result.stderr


def test_a_host_that_does_not_resolve_is_refused_naming_the_host(tmp_path: Any) -> None:
    result = start(
        "--host", "no-such-host.invalid", "--port", "0", "--database", str(tmp_path / "c.db")
    )
    assert result.returncode == 2, result.stderr
    assert "--host" in result.stderr and "no-such-host.invalid" in result.stderr, result.stderr


# -- the library's settings: gaps left by tests/test_heartbeat_config.py ------------------------


def test_console_name_with_undecodable_bytes_is_refused_naming_it() -> None:
    # os.environ hands undecodable bytes (a Latin-1 "ñ") over as lone surrogates; the API
    # would refuse such a name at every registration, forever.
    environ = {"API_BASE_URL": "http://127.0.0.1:3000/api", "CONSOLE_NAME": "Consola \udcf1"}
    with pytest.raises(ConfigError, match="CONSOLE_NAME") as refused:
        HeartbeatConfig.from_env(environ, use_dotenv=False)
    assert refused.value.variable == "CONSOLE_NAME"


def test_a_dotenv_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"API_BASE_URL=http://127.0.0.1:3000/api\nCONSOLE_NAME=Consola \xf1\n")
    with pytest.raises(ConfigError, match=r"\.env") as refused:
        HeartbeatConfig.from_env({}, dotenv_path=dotenv)
    assert str(dotenv) in str(refused.value)
