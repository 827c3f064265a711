"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright shows the
uploaded data, answers a query by example, and loads nothing from outside the collector.
The screenshot is kept in the test's tmp dir (and in $SEA_TEST_ARTIFACTS when set)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from collector_support import CollectorProcess, upload_headers

from sea.collector.auth import add_node
from sea.collector.db import make_engine, migrate
from sea.collector.simulate import EPOCH, segment_bytes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (dev extra)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} missing (apt-get install -y chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_dashboard_shows_uploaded_data(browser, tmp_path):
    url = f"sqlite:///{tmp_path / 'collector.db'}"
    engine = make_engine(url)
    migrate(engine)
    tokens = {node: add_node(engine, node) for node in ("kerb-01", "park-02", "idle-03")}
    engine.dispose()
    collector = CollectorProcess(url, log_path=tmp_path / "collector.log").start()
    try:
        for node in ("kerb-01", "park-02"):
            for seq in range(2):
                body = segment_bytes(node, seq, seq * 300, 300, seed=1)
                reply = httpx.post(collector.url + "/api/v1/segments", content=body,
                                   headers=upload_headers(node, tokens[node], seq, body))
                assert reply.status_code == 200
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(collector.url + "/")
        page.wait_for_selector("body[data-loaded=true]", timeout=30_000)

        rows = page.locator("#nodes tbody tr")
        assert rows.count() == 3
        table = page.inner_text("#nodes")
        assert "kerb-01" in table and "park-02" in table and "never seen" in table
        kerb = page.locator("#nodes tbody tr", has_text="kerb-01").inner_text().split("\t")
        assert kerb[1] == "ok" and kerb[4] == "600" and ISO.fullmatch(kerb[2])
        assert page.inner_text("#node-name") == "kerb-01"
        for plot in ("levels-plot", "classes-plot", "hourly-plot"):
            assert page.locator(f"#{plot} canvas").count() == 1
        assert "LAeq" in page.inner_text("#levels-plot")
        hourly = page.inner_text("#hourly")
        assert "car_horn" in hourly and ISO.search(hourly)
        # all data lies in one hour: the axis spans that hour with half an hour either side
        hour_s = EPOCH.timestamp()  # the simulated windows' first 20 minutes
        span = page.evaluate("(s => [s.min, s.max])(plots['hourly-plot'].scales.x)")
        assert span == [hour_s - 1800, hour_s + 1800]

        # click a moment on the level plot: the query by example lists similar moments
        overlay = page.locator("#levels-plot .u-over")
        box = overlay.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.wait_for_function(
            "document.querySelectorAll('#search-results tbody tr').length === 10", timeout=30_000)
        results = page.inner_text("#search-results tbody")
        assert len(ISO.findall(results)) == 10
        assert "kerb-01" in results and "park-02" in results  # across the network
        assert "10 moments like window" in page.inner_text("#search-status")

        page.locator("#nodes tbody tr", has_text="park-02").click()
        page.wait_for_function("document.querySelector('#node-name').textContent === 'park-02'")
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("SEA_TEST_ARTIFACTS"):
            Path(os.environ["SEA_TEST_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(os.environ["SEA_TEST_ARTIFACTS"]) / "dashboard.png")
        outside = [u for u in requests if not u.startswith(collector.url)]
        assert not outside, outside
    finally:
        collector.stop()
