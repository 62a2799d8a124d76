"""The Distributors page as a network page in a real headless Chromium (Playwright) against uvicorn serving
``create_app`` on a copy of the ingested demo: the tree, the score leaderboard, violations with their depth,
the cases inbox (with the manager each case is routed to) and the live hosts and sessions (viewers, GPM) equal
the analyses and ground_truth.json; zh-CN for the admin, en for a distributor-scoped manager who sees their
node and its children only. Screenshots: build/screenshots/network.png and network_scoped.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO, copy_demo
from tests.web.live import serving

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "build" / "screenshots"
PASSWORD = "network pass 1"
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def site(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:

    from channelscope import Project
    from channelscope.monitor.compliance_cases import list_cases, refresh_cases
    from channelscope.web.app import create_app

    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("network") / "shop")
    with Project(folder) as p:
        refresh_cases(p)
        expected = {  # what the page must show, read before the server holds the warehouse
            "truth": json.loads((p.folder / "ground_truth.json").read_text(encoding="utf-8"))["channel_order"],
            "tree": p.analysis.network.tree(),
            "violations": p.analysis.compliance.violations(),
            "cases": list_cases(p),
            "distributors": p.table("distributors").select("distributor_id", "parent_id").to_pandas(),
        }
    app = create_app(folder, scheduler=False, events=False)
    store = app.state.store
    store.add_user("admin", "admin", PASSWORD)
    store.add_user("wang", "channel_manager", PASSWORD, distributors=["wx-r01"], lang="en")
    with serving(app) as base:
        yield {"base": base, "folder": folder, **expected}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


def _open(browser: Any, site: dict[str, Any], user: str, locale: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(site["base"] + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#card-gmv-value")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site["base"] + "/distributors")
    for table in ("#network-table", "#score-table", "#violations-table", "#cases-table", "#live-sessions-table"):
        page.wait_for_selector(table)
    return context, page, errors


def _cell_values(page: Any, selector: str) -> dict[str, float]:
    out = {}
    for el in page.locator(selector).all():
        value = el.get_attribute("data-value")
        out[str(el.get_attribute("id"))] = float(value) if value else float("nan")
    return out


def test_network_page_for_the_admin_in_chinese(browser: Any, site: dict[str, Any]) -> None:
    truth, tree, viol, cases = site["truth"], site["tree"], site["violations"], site["cases"]
    context, page, errors = _open(browser, site, "admin", "zh-CN")
    try:
        text = page.inner_text("body")
        for label in ("合规案件", "合规分排行", "低于最低限价（按深度）", "直播场次（观看、GPM）", "乱价", "窜货"):
            assert label in text, label
        # the tree: every node once (up to the page's limit), in depth-first order
        assert page.locator("#network-table tbody tr").count() == min(len(tree), 60)
        # violations with their depth: the worst depth of each group, as the analysis has it
        depths = _cell_values(page, "#violations-table span[id$='-depth']")
        want = {f"viol-{r.distributor_id}-{r.sku}-depth": float(r.depth_worst) for r in viol.itertuples()}
        assert depths.keys() == want.keys() and all(abs(depths[k] - want[k]) < 1e-9 for k in want)
        # the cases inbox: every case
        assert page.locator("#cases-table tbody tr").count() == len(cases)
        # live sessions: viewers and GPM equal the ground truth
        shown = _cell_values(page, "#live-sessions-table span[id$='-gpm']")
        views = _cell_values(page, "#live-sessions-table span[id$='-viewers']")
        assert len(shown) == len(truth["live_sessions"]) >= 10
        for r in truth["live_sessions"]:
            key = f"live-{r['session']}-{r['distributor_id']}"
            assert abs(shown[f"{key}-gpm"] - r["gpm"]) < 1e-4 and views[f"{key}-viewers"] == r["viewers"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#cases-panel").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "network.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()


def test_network_page_for_a_distributor_scoped_manager_in_english(browser: Any, site: dict[str, Any]) -> None:
    d, cases = site["distributors"], site["cases"]
    mine = {"wx-r01", *d.loc[d["parent_id"] == "wx-r01", "distributor_id"]}
    others = set(d["distributor_id"]) - mine
    context, page, errors = _open(browser, site, "wang", "en")
    try:
        text = page.inner_text("body")
        for label in ("Compliance cases", "Price violations by depth", "Live sessions (viewers, GPM)"):
            assert label in text, label
        assert page.locator("#network-table tbody tr").count() == len(mine)
        ids = {str(el.get_attribute("id")) for el in page.locator("#network-table span[id^='net-']").all()}
        assert {i.split("-sales")[0].removeprefix("net-") for i in ids if i.endswith("-sales")} == mine
        scores = {str(el.get_attribute("id")).removeprefix("score-") for el in page.locator("#score-table span").all()}
        assert scores and scores <= mine and not scores & others
        listed = {a.inner_text() for a in page.locator("#cases-table tbody a").all()}
        assert listed == set(cases.loc[cases["distributor_id"].isin(mine), "case_id"]) and listed
        assert page.locator("#live-sessions-table tbody tr").count() == 0  # no live host below wx-r01
        page.screenshot(path=str(SHOTS / "network_scoped.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()


def test_a_case_without_a_manager_shows_a_dash() -> None:
    from channelscope.web.dashboard.pages.network import _name

    assert [_name(v) for v in (None, float("nan"), "", " ", "li")] == ["—", "—", "—", "—", "li"]
