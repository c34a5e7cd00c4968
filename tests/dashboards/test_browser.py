"""The real thing: `coinlab dash` serving headless, driven in headless Chromium (Debian's,
through Playwright) as a product owner would: every page drawn without an error (with a
screenshot under artifacts/screenshots/, git-ignored), a run picked on one page still
picked after clicking through the navigation, a link that reproduces a view, and a
sweep run from the Experiments page down to its fan chart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from dashboards.warehouse import connect, sources

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# url path -> page title; the default page is served at the root.
PAGES = {"": "Overview", "supply": "Supply", "concentration": "Concentration", "revenue": "Revenue",
         "pools": "Pools", "markets": "Markets", "experiments": "Experiments"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(warehouse) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "coinlab_cli.main", "dash", "--port", str(port),
                             "--warehouse", str(warehouse["root"])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, "coinlab dash exited"
            assert time.monotonic() < deadline, "coinlab dash did not come up"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser_page(server) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


# A chart as drawn: a Vega-Lite chart's canvas or SVG (Streamlit draws one with many
# marks on a canvas), a Plotly chart's SVG.
DRAWN = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks, .js-plotly-plot .main-svg'
VEGA = '[data-testid="stVegaLiteChart"]'


def settled(page: Page, title: str) -> None:
    """The page's heading is up, a chart is drawn and the script has finished."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    page.locator(DRAWN).first.wait_for(timeout=30_000)
    # Streamlit shows its status widget while the script is still running.
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0, title


def source_shown(page: Page) -> str:
    """The source picker's text (a combobox input)."""
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Source").input_value()


def test_every_page_renders_its_charts_in_chromium_without_streamlits_developer_toolbar(server, browser_page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser_page
    for path, title in PAGES.items():
        page.goto(f"{server}/{path}")
        settled(page, title)
        page.screenshot(path=str(SHOTS / f"{title.lower()}.png"), full_page=True)
        assert page.locator(DRAWN).count() >= 1, title
        assert page.locator(".js-plotly-plot").count() == 0, f"{title}: no Plotly.js on a first paint"
        assert page.get_by_role("button", name="Deploy").count() == 0


def test_more_charts_are_drawn_on_demand_in_chromium(server, browser_page):
    page = browser_page
    page.goto(f"{server}/?source=prod")
    settled(page, "Overview")
    # The script may finish before React has added the second chart: wait for it first.
    page.wait_for_function(f"document.querySelectorAll('{VEGA}').length >= 2", timeout=60_000)
    assert page.locator(VEGA).count() == 2, "supply and actives only, on first paint"
    toggle = page.get_by_test_id("stCheckbox").filter(has_text="More charts")  # its label takes the click
    toggle.click()
    page.wait_for_function(f"document.querySelectorAll('{DRAWN}').length === 4", timeout=60_000)
    settled(page, "Overview")
    # (the heatmap's many cells are drawn on a canvas; the bars' few in an SVG, with its title)
    assert page.locator(f"{VEGA} svg.marks").filter(has_text="issued and burned by kind").count() == 1
    toggle.click()  # off again: the other tests in this browser session see the defaults
    page.wait_for_function(f"document.querySelectorAll('{VEGA}').length === 2", timeout=60_000)


def test_a_run_picked_on_overview_is_still_picked_on_every_page_reached_by_the_navigation(
        server, browser_page, warehouse):
    page = browser_page
    run = next(s for s in sources(connect(warehouse["root"])) if s.run_id == warehouse["pools_run"])
    page.goto(server)
    settled(page, "Overview")
    assert "Production" in source_shown(page)
    picker = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Source")
    picker.click()
    picker.fill(run.run_id)  # the picker searches as you type
    page.get_by_role("option", name=run.label).click()
    page.wait_for_url(f"**source={run.run_id}**", timeout=30_000)
    settled(page, "Overview")
    for title in list(PAGES.values())[1:]:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        settled(page, title)
        page.wait_for_url(f"**source={run.run_id}**", timeout=30_000)
        if title == "Experiments":
            assert run.run_id in page.get_by_test_id("stMultiSelect").first.inner_text(), title
        else:
            assert run.run_id in source_shown(page), title


def test_a_link_with_query_parameters_opens_the_same_view(server, browser_page, warehouse):
    page = browser_page
    run_id = warehouse["run_id"]
    day = connect(warehouse["root"]).execute("SELECT min(time)::DATE FROM entries WHERE run_id = ?",
                                             [run_id]).fetchall()[0][0]
    page.goto(f"{server}/supply?source={run_id}&from={day}&to={day}")
    settled(page, "Supply")
    assert run_id in source_shown(page)
    ends = page.get_by_test_id("stSidebar").get_by_test_id("stDateInput").locator("input[type=date]")
    assert [ends.nth(i).input_value() for i in range(ends.count())] == [day.isoformat()] * 2
    assert f"from={day}" in page.url and f"to={day}" in page.url


def test_a_small_sweep_run_from_the_experiments_page_draws_its_fan_chart(server, browser_page):
    page = browser_page
    page.goto(f"{server}/experiments")
    settled(page, "Experiments")
    page.get_by_text("Run a sweep").click()
    for label, value in (("Users", "10"), ("Days", "2"), ("Seeds", "2"), ("Workers", "1")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    page.get_by_role("button", name="Run sweep").click()
    page.get_by_text("Simulated 2 runs").wait_for(timeout=120_000)
    settled(page, "Experiments")
    # The rerun that follows the sweep redraws the charts: wait for the band of the sweep's
    # two seeds rather than reading whichever chart is on screen at that moment.
    fan = page.locator(f"{VEGA} svg.marks").filter(has_text="COIN supply").filter(has_text="90% of seeds")
    fan.first.wait_for(timeout=60_000)
    assert "median" in fan.first.text_content()
    page.screenshot(path=str(SHOTS / "experiments-sweep.png"), full_page=True)
