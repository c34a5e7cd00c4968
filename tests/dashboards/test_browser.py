"""The real thing: `coinlab dash` serving headless, every page opened in headless
Chromium (Debian's, through Playwright): no error element, Plotly charts drawn, and a
screenshot of each page under artifacts/screenshots/ (git-ignored)."""

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
from playwright.sync_api import sync_playwright

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# url path -> page title; the default page is served at the root.
PAGES = {"": "Overview", "supply": "Supply", "concentration": "Concentration", "revenue": "Revenue",
         "markets": "Markets", "scenarios": "Scenarios"}


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


def test_every_page_renders_its_charts_in_chromium(server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, title in PAGES.items():
                page.goto(f"{server}/{path}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
                page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
                # Streamlit shows its status widget while the script is still running.
                page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                       timeout=30_000)
                page.screenshot(path=str(SHOTS / f"{title.lower()}.png"), full_page=True)
                assert page.locator('[data-testid="stException"]').count() == 0, title
                assert page.locator(".js-plotly-plot").count() >= 1, title
        finally:
            browser.close()
