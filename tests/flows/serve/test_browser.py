"""``resonance serve`` in a real browser: headless Chromium (Debian's ``chromium``, driven
by Playwright) loads the catalog, opens the store made in the test, picks a metric and two
paths in the page's form and checks what is shown. A screenshot of each view is kept in a
folder the test prints (and, with ``RESONANCE_SERVE_SCREENSHOTS=DIR``, copied to DIR: how
``docs/img/serve_*.png`` are made)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.browser import chromium_path


@pytest.fixture(scope="module")
def chromium():
    path, why = chromium_path()
    if path is None:
        pytest.skip(why)
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    return path


def test_pick_a_metric_and_two_paths_in_chromium(chromium, server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    shots = tmp_path_factory.mktemp("serve-screenshots")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server)
        assert page.locator("#catalog").is_visible()
        row = page.locator("#catalog tr", has_text="tiny.zarr")
        assert "complete" in row.inner_text() and "4 of 4" in row.inner_text()
        assert "not a resonance store" in page.locator("#catalog").inner_text()
        page.screenshot(path=shots / "serve_catalog.png", full_page=True)

        page.click("text=tiny.zarr")
        page.wait_for_selector("#choose")
        page.select_option("#metric", "new_paradigm_share")
        page.select_option("#a", "technological_transition")
        page.select_option("#b", "factor_reset")
        page.click("#show")
        page.wait_for_load_state("networkidle")
        assert page.locator("#metric").input_value() == "new_paradigm_share"
        assert "Fan chart of new_paradigm_share" in page.locator("#fan h2").inner_text()
        effect = page.locator("#compare .effect").inner_text()
        assert effect.startswith("factor_reset against technological_transition on new_paradigm")
        assert "P(factor_reset beats technological_transition) = " in effect
        assert "n = 16" in effect
        assert "technological_transition" in page.locator("#headline table").inner_text()
        assert "factor_reset" in page.locator("#robust table").first.inner_text()
        assert "Stylized facts" in page.locator("#facts").inner_text()
        for img in page.locator("img.figure").all():  # every figure loaded and drawn
            assert img.evaluate("i => i.complete && i.naturalWidth > 100"), img.get_attribute("src")
        page.screenshot(path=shots / "serve_store.png", full_page=True)
        page.locator("#compare").screenshot(path=shots / "serve_compare.png")

        page.goto(server + "store?name=damaged.zarr")
        assert "zarr.json is not JSON" in page.locator("#message").inner_text()
        page.screenshot(path=shots / "serve_damaged.png")
        page.goto(server + "store?name=../outside.zarr")
        assert "not a store under the results root" in page.locator("#message").inner_text()
        browser.close()
    print(f"screenshots of each view: {shots}")
    if os.environ.get("RESONANCE_SERVE_SCREENSHOTS"):
        out = Path(os.environ["RESONANCE_SERVE_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, out / shot.name)
