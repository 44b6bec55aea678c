"""The security tests run on SQLite (the per-backend storage of secrets has its own tests) and,
by default, against an exporter that requires the enrollment token and the admin token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.security import ADMIN_TOKEN, ENROLLMENT_TOKEN


@pytest.fixture
def database(sqlite_database: str) -> str:
    return sqlite_database


@pytest.fixture
def exporter_settings() -> dict[str, Any]:
    return {"enrollment_token": ENROLLMENT_TOKEN, "admin_token": ADMIN_TOKEN}
