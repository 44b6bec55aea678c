"""docs/code-map.md lists every module where it lives, and every test folder."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.tools import REPO_ROOT

CODE_MAP = REPO_ROOT / "docs" / "code-map.md"
MAPPED_FOLDERS = (
    "consola_wire",
    "heartbeat",
    "exporter",
    "exporter/web",
    "exporter/fleet",
    "exporter/writing",
    "exporter/storage",
    "consola_demo",
    "grafana",
    "bench",
    "tests/support",
)


def sections() -> dict[str, str]:
    """The map's text under each ``## `folder/` `` heading."""
    parts = re.split(r"^## `([^`]+)/`$", CODE_MAP.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def listed_modules(text: str) -> set[str]:
    return set(re.findall(r"^\| `([\w.]+\.py)` \|", text, flags=re.M))


def test_every_module_is_listed_under_its_folder() -> None:
    mapped = sections()
    for folder in MAPPED_FOLDERS:
        present = {path.name for path in (REPO_ROOT / folder).glob("*.py")}
        listed = listed_modules(mapped.get(folder, ""))
        assert listed == present, f"docs/code-map.md, {folder}/: fix {sorted(listed ^ present)}"


def test_every_python_folder_of_the_product_is_mapped() -> None:
    folders = {
        path.parent.relative_to(REPO_ROOT).as_posix()
        for top in ("consola_wire", "heartbeat", "exporter", "consola_demo", "grafana", "bench")
        for path in (REPO_ROOT / top).rglob("*.py")
    }
    assert folders <= set(MAPPED_FOLDERS)


def test_every_test_folder_is_described() -> None:
    text = sections()["tests"]
    folders = {
        path.name
        for path in Path(REPO_ROOT / "tests").iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and path.name != "support"
    }
    described = set(re.findall(r"^\| `(\w+)/` \|", text, flags=re.M))
    assert described == folders
