"""The exporter's status page (``/``) in a real headless Chromium driven by selenium."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.exporters import ExporterProcess, run_exporter
from tests.support.fleet_api import console, heartbeat, register
from tests.support.tools import REPO_ROOT, free_port, require_binary, wait_until

SCREENSHOT_ENV = "HEARTBEAT_STATUS_SCREENSHOT"
EVIL_NAME = '<img src=x onerror="window.__xss=1">Consola <b>mala</b>'
#: The reason of the console in maintenance: text, never HTML.
MOTIVO = "cambio de <b>disco</b>"
PHONE = (390, 844)


@dataclass
class PageFleet:
    """An exporter with a busy, a silent, an oddly named, a stopped console, and one in
    maintenance that is silent too."""

    exporter: ExporterProcess
    busy: str
    silent: str
    evil: str
    goodbye: str
    serviced: str

    @property
    def size(self) -> int:
        return 5


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageFleet]:
    workdir = tmp_path_factory.mktemp("page")
    with run_exporter(str(workdir / "consolas.db"), ["--sweep-interval", "0.2"]) as exporter:
        url = exporter.url
        busy = register(url, "Consola render-a")
        heartbeat(url, busy, "ocupada", video="Video Historia 7 (3/5)")
        evil = register(url, EVIL_NAME)
        goodbye = register(url, "Consola render-c")
        heartbeat(url, goodbye, "inactiva")
        serviced = register(url, "Consola taller-3", interval=1.0)
        answer = requests.post(
            f"{url}/api/consolas/{serviced}/mantenimiento",
            json={"minutos": 120, "motivo": MOTIVO},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        silent = register(url, "Consola render-z", interval=1.0)
        wait_until(lambda: console(url, silent)["estado"] == "inactiva", timeout=15)
        yield PageFleet(exporter, busy, silent, evil, goodbye, serviced)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, through /usr/bin/chromedriver."""
    chromium = require_binary("chromium", "chromium-browser")
    chromedriver = require_binary("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1100,800",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, fleet: PageFleet, query: str = "?refresh=60") -> None:
    """Load the page and wait for the fleet. The default refresh is slow on purpose: a refresh
    re-renders the rows, and an element found before it is stale after it."""
    browser.set_window_size(1100, 800)
    browser.get(fleet.exporter.url + "/" + query)
    wait_until(lambda: len(_rows(browser)) == fleet.size, timeout=15)


def _rows(browser: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, "#fleet-body tr"))


def _row(browser: Any, console_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'#fleet-body tr[data-console-id="{console_id}"]')


def _row_snapshot(browser: Any, console_id: str) -> tuple[str | None, str]:
    """The row's ``data-estado`` and text read in one script: the page re-renders its rows on
    every refresh, so an element found in one call may be gone by the next (stale)."""
    found = browser.execute_script(
        "const row = document.querySelector(`#fleet-body tr[data-console-id='${arguments[0]}']`);"
        "return row ? [row.getAttribute('data-estado'), row.textContent] : [null, ''];",
        console_id,
    )
    return found[0], str(found[1])


def test_status_page_renders_the_fleet_table(browser: Any, fleet: PageFleet) -> None:
    _open(browser, fleet)
    busy = _row(browser, fleet.busy)
    assert busy.get_attribute("data-estado") == "ocupada"
    assert "Consola render-a" in busy.text and "Video Historia 7 (3/5)" in busy.text
    assert "hace" in busy.text
    assert f"{fleet.size} consolas" in browser.find_element("id", "summary").text


def test_status_page_marks_the_silent_console_and_lists_it_first(
    browser: Any, fleet: PageFleet
) -> None:
    _open(browser, fleet)
    silent = _row(browser, fleet.silent)
    assert "silent" in silent.get_attribute("class").split()
    assert "SIN SEÑAL" in silent.text
    assert _rows(browser)[0].get_attribute("data-console-id") == fleet.silent
    normal = _row(browser, fleet.busy)
    assert silent.value_of_css_property("background-color") != normal.value_of_css_property(
        "background-color"
    )
    goodbye = _row(browser, fleet.goodbye)
    assert "silent" not in goodbye.get_attribute("class").split()
    assert "(1)" in browser.title


def test_status_page_refreshes_without_reloading(browser: Any, fleet: PageFleet) -> None:
    _open(browser, fleet, "?refresh=1")
    browser.execute_script("window.__notReloaded = 'still here';")
    heartbeat(fleet.exporter.url, fleet.busy, "error", error="ffmpeg terminó con código 1")
    try:
        wait_until(lambda: _row_snapshot(browser, fleet.busy)[0] == "error", timeout=10)
        assert "ffmpeg terminó con código 1" in _row_snapshot(browser, fleet.busy)[1]
        assert browser.execute_script("return window.__notReloaded;") == "still here"
    finally:
        heartbeat(fleet.exporter.url, fleet.busy, "ocupada", video="Video Historia 7 (3/5)")


def test_status_page_shows_console_names_as_text_never_as_html(
    browser: Any, fleet: PageFleet
) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, fleet)
    time.sleep(0.5)  # let an injected onerror handler run, if one had been inserted
    assert EVIL_NAME in _row(browser, fleet.evil).text
    assert browser.find_elements(By.CSS_SELECTOR, "#fleet-body img, #fleet-body b") == []
    assert browser.execute_script("return window.__xss;") is None
    assert MOTIVO in _row(browser, fleet.serviced).text


def _shown(hasta: str) -> str:
    """How the page writes an end: ``17:30`` today, ``2026-03-14 17:30`` another day."""
    end = datetime.fromisoformat(hasta.replace("Z", "+00:00")).astimezone()
    same_day = end.date() == datetime.now().astimezone().date()
    return end.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def test_status_page_shows_a_console_in_maintenance_distinctly_and_not_as_silent(
    browser: Any, fleet: PageFleet
) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, fleet)
    data = console(fleet.exporter.url, fleet.serviced)
    hasta = data["mantenimientoHasta"]
    seen = datetime.fromisoformat(data["ultimoContacto"].replace("Z", "+00:00")).timestamp()
    assert time.time() - seen > data["umbralInactividadSegundos"]  # silent, but on purpose
    serviced = _row(browser, fleet.serviced)
    classes = serviced.get_attribute("class").split()
    assert "maintenance" in classes and "silent" not in classes
    assert "SIN SEÑAL" not in serviced.text and "MANTENIMIENTO" in serviced.text
    until = serviced.find_element(By.CSS_SELECTOR, ".maint-until")
    assert until.text == f"mantenimiento hasta {_shown(hasta)}"
    assert until.get_attribute("title") == MOTIVO
    backgrounds = {
        _row(browser, c).value_of_css_property("background-color")
        for c in (fleet.serviced, fleet.silent, fleet.busy)
    }
    assert len(backgrounds) == 3
    order = [r.get_attribute("data-console-id") for r in _rows(browser)]
    assert order[:2] == [fleet.silent, fleet.serviced]
    summary = browser.find_element("id", "summary").text
    assert "1 sin señal" in summary and "1 en mantenimiento" in summary
    assert "(1)" in browser.title


def test_status_page_links_each_console_to_its_history(browser: Any, fleet: PageFleet) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, fleet)
    link = _row(browser, fleet.silent).find_element(By.CSS_SELECTOR, "a.name")
    assert link.get_attribute("href").endswith(f"#consola/{fleet.silent}")
    link.click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#history-body tr"), timeout=10)
    history = browser.find_element(By.ID, "history")
    assert "Consola render-z" in history.text
    assert "silencio" in history.text  # the sweep's reason for marking it inactiva
    json_link = browser.find_element(By.ID, "history-json").get_attribute("href")
    assert json_link.endswith(f"/api/consolas/{fleet.silent}/historial")
    assert requests.get(json_link, timeout=5).json()["historial"][0]["estado"] == "inactiva"


def test_status_page_fits_a_phone_screen(browser: Any, fleet: PageFleet) -> None:
    _open(browser, fleet)
    browser.set_window_size(*PHONE)
    wait_until(lambda: browser.execute_script("return window.innerWidth;") <= PHONE[0], timeout=5)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth;"
    )
    assert overflow <= 0
    assert not browser.find_element("css selector", "thead").is_displayed()
    assert "Consola render-a" in _row(browser, fleet.busy).text


def test_status_page_is_self_contained_and_locked_down(fleet: PageFleet) -> None:
    response = requests.get(fleet.exporter.url + "/", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", response.text)
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert 'href="/metrics"' in response.text  # still links the fleet /metrics


def test_status_page_screenshot(browser: Any, fleet: PageFleet, tmp_path: Path) -> None:
    _open(browser, fleet)
    path = tmp_path / "status-page.png"
    assert browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_status_page_screenshot_of_a_demo_run_for_the_docs(browser: Any) -> None:
    """Writes docs/img/status-page.png from a real ``heartbeat demo`` run when
    HEARTBEAT_STATUS_SCREENSHOT is set (to the output path); skipped otherwise."""
    target = os.environ.get(SCREENSHOT_ENV)
    if not target:
        pytest.skip(f"set {SCREENSHOT_ENV}=docs/img/status-page.png to regenerate the screenshot")
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "heartbeat.cli", "demo", "--port", str(port), "--no-prometheus"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _silent_count(base) >= 1, timeout=60, interval=0.5)
        browser.set_window_size(1000, 700)
        browser.get(base + "/?refresh=1")
        wait_until(lambda: len(_rows(browser)) >= 12, timeout=15)
        time.sleep(1.5)
        path = REPO_ROOT / target
        path.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(path))
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
    assert path.stat().st_size > 0


def _silent_count(base: str) -> int:
    try:
        consoles = requests.get(base + "/api/consolas", timeout=2).json()["consolas"]
    except (requests.RequestException, ValueError):
        return 0
    return sum(c["estado"] == "inactiva" and not c["detenidaLimpiamente"] for c in consoles)
