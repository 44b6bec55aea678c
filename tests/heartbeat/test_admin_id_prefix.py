"""``heartbeat maintenance | retire | reset-secret`` take a unique id prefix of 8 characters or
more (what ``heartbeat status`` shows), resolved through ``GET /api/consolas`` with the same
token, against a real exporter that requires its read and admin tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from heartbeat import admin
from tests.support.exporters import EmbeddedExporter, database_for, embedded_exporter
from tests.support.security import ADMIN_TOKEN, READ_TOKEN, REGISTRAR, bearer, registration

Command = Callable[[Sequence[str] | None], int]
#: Two consoles sharing their first 9 characters, and one apart.
TWIN_A = "abcdef12-3000-4000-8000-000000000001"
TWIN_B = "abcdef12-3111-4000-8000-000000000002"
LONER = "0123abcd-0000-4000-8000-000000000003"


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedExporter]:
    database = database_for("sqlite", tmp_path_factory.mktemp("id-prefix"))
    with embedded_exporter(database, read_token=READ_TOKEN, admin_token=ADMIN_TOKEN) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("API_BASE_URL", "HEARTBEAT_ADMIN_TOKEN", "HEARTBEAT_READ_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fleet(exporter: EmbeddedExporter) -> Iterator[None]:
    """The three consoles, registered afresh (and retired afterwards)."""
    with httpx.Client(base_url=exporter.url, headers=bearer(ADMIN_TOKEN)) as http:
        for console_id, name in ((TWIN_A, "taller-a"), (TWIN_B, "taller-b"), (LONER, "solo")):
            body = registration(console_id, nombre=f"Consola {name}")
            assert http.post(REGISTRAR, json=body).status_code in (200, 201)
        yield
        for console_id in (TWIN_A, TWIN_B, LONER):
            http.delete(f"/api/consolas/{console_id}")


def console(exporter: EmbeddedExporter, console_id: str) -> httpx.Response:
    return httpx.get(f"{exporter.url}/api/consolas/{console_id}", headers=bearer(READ_TOKEN))


def run(
    capsys: pytest.CaptureFixture[str],
    command: Command,
    exporter: EmbeddedExporter,
    *argv: str,
    token: str = ADMIN_TOKEN,
) -> tuple[int, str, str]:
    code = command([*argv, "--api-base-url", exporter.url + "/api", "--token", token])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str, prog: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: ")
    return lines[0]


@pytest.mark.usefixtures("fleet")
def test_maintenance_takes_the_eight_characters_status_shows(
    exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, admin.main_maintenance, exporter, "0123abcd", "--for", "1h")
    assert (code, err) == (0, "")
    assert out.startswith("Consola solo (0123abcd…) en mantenimiento hasta")
    assert console(exporter, LONER).json()["mantenimientoHasta"] is not None


@pytest.mark.usefixtures("fleet")
def test_retire_takes_a_prefix_pasted_with_the_ellipsis_and_in_capitals(
    exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, admin.main_retire, exporter, "ABCDEF12-30…")
    assert (code, err) == (0, "")
    assert out == "Consola taller-a (abcdef12…) retirada\n"
    assert console(exporter, TWIN_A).status_code == 404
    assert console(exporter, TWIN_B).status_code == 200


@pytest.mark.usefixtures("fleet")
def test_reset_secret_takes_a_unique_prefix(
    exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, admin.main_reset_secret, exporter, "abcdef12-31")
    assert (code, err) == (0, "")
    assert out.startswith("Consola taller-b (abcdef12…): secreto anulado")


@pytest.mark.usefixtures("fleet")
def test_an_ambiguous_prefix_lists_the_matches_in_one_line_and_changes_nothing(
    exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    for prog, command in (
        ("heartbeat maintenance", admin.main_maintenance),
        ("heartbeat retire", admin.main_retire),
        ("heartbeat reset-secret", admin.main_reset_secret),
    ):
        extra = ["--for", "1h"] if command is admin.main_maintenance else []
        code, out, err = run(capsys, command, exporter, "abcdef12", *extra)
        assert (code, out) == (admin.EXIT_BAD_VALUE, "")
        line = one_error_line(err, prog)
        assert "abcdef12 matches 2 consoles" in line
        assert f"{TWIN_A} (Consola taller-a)" in line and f"{TWIN_B} (Consola taller-b)" in line
    for console_id in (TWIN_A, TWIN_B):
        assert console(exporter, console_id).json()["mantenimientoHasta"] is None


@pytest.mark.usefixtures("fleet")
def test_an_unknown_prefix_says_none_matches(
    exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, admin.main_retire, exporter, "ffffffff")
    assert (code, out) == (admin.EXIT_BAD_VALUE, "")
    assert "no console id starts with ffffffff (3 consoles known)" in one_error_line(
        err, "heartbeat retire"
    )


def test_a_prefix_shorter_than_eight_characters_is_refused_before_asking(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        admin.main_retire(["abcdef1", "--api-base-url", "http://127.0.0.1:9/api"])
    assert exit_info.value.code == admin.EXIT_BAD_VALUE
    line = one_error_line(capsys.readouterr().err, "heartbeat retire")
    assert "'abcdef1' is not a console id" in line and "first 8 characters" in line


@pytest.mark.usefixtures("fleet")
def test_a_refused_token_while_resolving_is_one_line_naming_the_admin_token(
    exporter: EmbeddedExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, admin.main_retire, exporter, "0123abcd", token="wrong-token")
    assert (code, out) == (admin.EXIT_FAILED, "")
    line = one_error_line(err, "heartbeat retire")
    assert "refused to list the consoles (HTTP 403)" in line and "HEARTBEAT_ADMIN_TOKEN" in line
    assert console(exporter, LONER).status_code == 200
