"""deploy/env.example: every library variable, each at the library's default."""

from __future__ import annotations

import dataclasses

from dotenv import dotenv_values

from heartbeat.config import ENV_VARIABLES, HeartbeatConfig
from tests.support.tools import REPO_ROOT

ENV_EXAMPLE = REPO_ROOT / "deploy" / "env.example"


def _values() -> dict[str, str]:
    return {k: v or "" for k, v in dotenv_values(ENV_EXAMPLE).items()}


def test_env_example_lists_every_library_variable() -> None:
    assert set(_values()) == set(ENV_VARIABLES)


def test_env_example_values_are_the_library_defaults() -> None:
    values = _values()
    from_file = HeartbeatConfig.from_env(values, use_dotenv=False)
    defaults = HeartbeatConfig(api_base_url=values["API_BASE_URL"])
    assert dataclasses.asdict(from_file) == dataclasses.asdict(defaults)
