"""The 预测/Forecast page in headless Chromium: it renders offline without errors (screenshot), its
accuracy table shows the forecast's backtest figures, and a channel manager sees only their channel
and no inventory (brand-wide stock)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.test_dashboard import CHROMIUM, NOV, SHOTS, Site, browser, expect, login, page, serve_site

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
__all__ = ["browser", "page"]  # fixtures shared with the dashboard suite


def _scored_run(folder: Path) -> None:
    """A channel forecast made 14 days before the data's end, stored and scored against those 14 days."""
    import datetime as dt

    from channelscope import Project
    from channelscope.plan.forecasts import save_run, track_accuracy

    with Project(folder) as p:
        end = p.latest_date()
        assert end is not None
        save_run(p, p.analysis.forecast("gmv", hierarchy="channel", horizon=14, end=end - dt.timedelta(days=14)))
        assert len(track_accuracy(p))


@pytest.fixture(scope="module")
def site(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve_site(demo_shop, tmp_path_factory, _scored_run)


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
    # the stored run scored against the 14 days that arrived after it: whole window and days 1-7, 8-14
    tracked = page.locator("#forecast-tracked-table").inner_text()
    assert "gmv" in tracked and "1-7" in tracked and "8-14" in tracked and "channel" in tracked
    assert site.errors == []


def test_forecast_page_for_a_channel_manager(page: Any, site: Site) -> None:
    login(page, site, "tm")
    page.goto(f"{site.base}/forecast?{NOV}")
    page.wait_for_selector("#forecast-accuracy", state="attached")
    text = page.locator("#forecast-accuracy").inner_text()
    assert "tmall" in text and "douyin" not in text
    assert page.locator("#forecast-inventory").count() == 0
    assert page.locator("#forecast-tracked").count() == 0  # errors summed over every channel
    targets = page.locator("#forecast-targets").inner_text()
    assert "total" not in targets


def test_the_channel_filter_picks_the_channels_drawn(page: Any, site: Site) -> None:
    """An admin who filters on jd sees jd's forecast, accuracy and targets; the drawn curve is jd's own."""
    login(page, site)
    page.goto(f"{site.base}/forecast?{NOV}&channel=jd")
    page.wait_for_selector("#forecast-accuracy", state="attached")
    accuracy = page.locator("#forecast-accuracy").inner_text()
    assert "jd" in accuracy and "tmall" not in accuracy and "douyin" not in accuracy
    targets = page.locator("#forecast-targets").inner_text()
    assert "jd" in targets and "total" not in targets and "tmall" not in targets
    data = site.api("forecasts", metric="gmv", horizon=28)
    jd = sum(r["mean"] for r in data["rows"] if r["level"] == "channel" and r["channel"] == "jd")
    page.wait_for_selector("#forecast-chart .main-svg", state="attached")
    drawn = page.evaluate(
        "() => { const g = document.querySelector('#forecast-chart .js-plotly-plot')"
        " || document.querySelector('#forecast-chart'); return Array.from(g._fullData.find(t => t.x.length === 28).y)"
        ".reduce((a, b) => a + b, 0); }"
    )
    assert abs(drawn - jd) < 0.01 * 28
    assert site.errors == []
