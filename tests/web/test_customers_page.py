"""The 客户/Customers dashboard page in headless Chromium: it renders its charts without errors, its RFM table
equals the API, a channel manager sees only their channel's customers, and the screenshot is taken."""

from __future__ import annotations

from typing import Any

from tests.web.test_dashboard import SHOTS, Site, browser, expect, login, page, site  # noqa: F401

AS_OF = "start=2025-11-01&end=2025-11-30"


def test_customers_page_renders_and_equals_the_api(page: Any, site: Site) -> None:  # noqa: F811
    login(page, site)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{site.base}/customers?{AS_OF}")
    page.wait_for_selector("#cust-cohort-heatmap .main-svg", state="attached")
    for element in (
        "#cust-retention .main-svg",
        "#cust-rfm-treemap .main-svg",
        "#cust-migration .main-svg",
        "#cust-overlap .main-svg",
        "#cust-paths-sankey .main-svg",
    ):
        page.wait_for_selector(element, state="attached")
    expect(page.locator("#nav-customers")).to_have_class("active")
    page.wait_for_selector("#cust-clv-bars .main-svg, #cust-clv-reason", state="attached")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "customers.png"), full_page=True)
    api = site.api("customers/rfm", as_of="2025-11-30")
    want = {r["segment"]: r["customers"] for r in api["rows"]}
    got = {seg: int(page.inner_text(f"#cust-rfm-table-{seg}-customers").replace(",", "")) for seg in want}
    assert got == want
    funnel = site.api("customers/funnel", start="2025-11-01", end="2025-11-30", by="channel")["rows"]
    assert funnel
    for row in funnel:
        shown = page.inner_text(f"#cust-funnel-{row['channel_id']}-viewed").replace(",", "")
        assert int(shown) == row["viewed"]
    paths = site.api("customers/paths", start="2025-11-01", end="2025-11-30", top=5)["rows"]
    first = next(r for r in paths if r["outcome"] == "purchase" and r["rank"] == 1)
    shown = page.inner_text("#cust-top-paths-purchase-1-sessions").replace(",", "")
    assert int(shown) == first["sessions"]
    assert "浏览 → " in page.inner_text("#cust-top-paths-purchase-1-path")
    assert site.errors == []


def test_customers_page_in_a_channel_managers_scope(page: Any, site: Site) -> None:  # noqa: F811
    login(page, site, "tm")
    page.goto(f"{site.base}/customers?{AS_OF}&lang=en")
    page.wait_for_selector("#cust-rfm-table", state="attached")
    api = site.api("customers/rfm", user="tm", as_of="2025-11-30")
    total = sum(r["customers"] for r in api["rows"])
    everyone = sum(r["customers"] for r in site.api("customers/rfm", as_of="2025-11-30")["rows"])
    assert 0 < total < everyone
    got = sum(int(page.inner_text(f"#cust-rfm-table-{r['segment']}-customers").replace(",", "")) for r in api["rows"])
    assert got == total
    expect(page.locator("#nav-customers")).to_have_text("Customers")
