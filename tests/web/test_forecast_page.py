"""The 预测/Forecast page in headless Chromium: it renders offline without errors (screenshot), its
accuracy table shows the forecast's backtest figures, and a channel manager sees only their channel
and no inventory (brand-wide stock)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.web.test_dashboard import CHROMIUM, NOV, SHOTS, Site, browser, expect, login, page, site

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
__all__ = ["browser", "page", "site"]  # fixtures shared with the dashboard suite


def test_forecast_page(page: Any, site: Site) -> None:
    shutil.copy(site.folder / "exports" / "canonical" / "lead_times.csv", site.folder / "lead_times.csv")
    login(page, site)
    page.goto(f"{site.base}/forecast?{NOV}")
    page.wait_for_selector("#forecast-chart .main-svg", state="attached")
    page.wait_for_selector("#forecast-accuracy", state="attached")
    expect(page.locator("#nav-forecast")).to_have_class("active")
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "forecast.png"), full_page=True)
    assert (SHOTS / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.locator("#forecast-accuracy").inner_text()
    assert "tmall" in text and "douyin" in text and "seasonal_naive" in text
    assert site.errors == []


def test_forecast_page_for_a_channel_manager(page: Any, site: Site) -> None:
    login(page, site, "tm")
    page.goto(f"{site.base}/forecast?{NOV}")
    page.wait_for_selector("#forecast-accuracy", state="attached")
    text = page.locator("#forecast-accuracy").inner_text()
    assert "tmall" in text and "douyin" not in text
    assert page.locator("#forecast-inventory").count() == 0
    targets = page.locator("#forecast-targets").inner_text()
    assert "total" not in targets
