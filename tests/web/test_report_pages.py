"""The 报告/Reports and 行动/Actions pages in a real headless Chromium against a real uvicorn server: the archive
lists only the reports of the user's scope and downloads them through the API's route (another scope's report is
not found); an action is planned in the form, started and checked with buttons; a channel manager sees and plans
only on their channel; a viewer has no form. zh-CN (admin) and en (channel manager); screenshots go to
$CHANNELSCOPE_SHOTS_18 (default /tmp/shots-18)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import copy_demo
from tests.web.live import serving

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("CHANNELSCOPE_SHOTS_18", "/tmp/shots-18"))
PASSWORD = "report pages 1"
WAIT_MS = 90_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:

    from channelscope import Project
    from channelscope.plan.actions import add_action, check_action
    from channelscope.report import issue_report
    from channelscope.web.app import create_app

    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("pages") / "shop")
    as_of = dt.date(2025, 12, 1)
    with Project(folder) as p:
        whole = issue_report(
            p, "weekly_channel_review", period="2025-W37", as_of=as_of, formats=("html", "pdf", "xlsx")
        )
        tmall = issue_report(
            p,
            "daily_brief",
            period="2025-11-20",
            as_of=as_of,
            channels=["tmall"],
            language="en",
            formats=("html", "pdf"),
        )
        a = add_action(
            p,
            what="抖音爆款短视频加投",
            owner="王五",
            scope_kind="channel",
            scope_id="douyin",
            start="2025-09-13",
            deadline="2025-09-13",
            expected_change=1.0,
        )
        check_action(p, a["action_id"])
    app = create_app(folder, scheduler=False, events=False)
    store = app.state.store
    store.add_user("admin", "admin", PASSWORD)
    store.add_user("tm", "channel_manager", PASSWORD, channels=["tmall"], lang="en")
    store.add_user("viewer", "viewer", PASSWORD)
    with serving(app) as base:
        yield {"base": base, "whole": whole.archive_id, "tmall": tmall.archive_id}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, site: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert errors == [], errors


def login(page: Any, site: dict[str, Any], user: str) -> None:
    page.goto(site["base"] + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#card-gmv-value")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_admin_zh_reports_and_actions(page: Any, site: dict[str, Any]) -> None:
    expect = sync_api.expect
    login(page, site, "admin")
    page.click("#nav-reports")
    page.wait_for_selector("#reports-table")
    expect(page.locator("#nav-reports")).to_have_text("报告")
    assert page.locator("#reports-table tbody tr").count() == 2
    expect(page.locator(f"#reports-table-{site['whole']}-title")).to_have_text("渠道周报")
    href = page.locator(f"#report-{site['whole']}-pdf").get_attribute("href")
    assert href == f"/api/reports/{site['whole']}/pdf"
    pdf = page.request.get(site["base"] + href)  # the browser's session cookie signs it
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    xlsx = page.request.get(site["base"] + f"/api/reports/{site['whole']}/xlsx")
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    shot(page, "reports-zh-CN")

    page.click("#nav-actions")
    page.wait_for_selector("#actions-table")
    expect(page.locator("#nav-actions")).to_have_text("行动")
    assert page.locator("#actions-table").inner_text().count("有效") == 1  # the checked douyin action worked
    page.fill("#ac-what", "京东详情页改版")
    page.click("#ac-channel")
    page.get_by_role("option", name="京东旗舰店").click()
    expect(page.locator("#ac-channel")).to_contain_text("京东旗舰店")
    page.fill("#ac-start", "2025-09-15")
    page.fill("#ac-deadline", "2025-09-28")
    page.click("#ac-add")
    row = page.locator("#actions-table tbody tr", has_text="京东详情页改版")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("计划中")
    row.get_by_role("button", name="开始执行").click()
    expect(page.locator("#actions-table tbody tr", has_text="京东详情页改版")).to_contain_text("执行中")
    page.locator("#actions-table tbody tr", has_text="京东详情页改版").get_by_role("button", name="检查效果").click()
    expect(page.locator("#actions-table tbody tr", has_text="京东详情页改版")).to_contain_text("无明显效果")
    page.fill("#ac-what", "bad dates")
    page.fill("#ac-deadline", "2025-01-01")
    page.click("#ac-add")
    expect(page.locator("#ac-msg")).to_contain_text("截止日 2025-01-01 早于开始日")
    shot(page, "actions-zh-CN")


def test_channel_manager_en_sees_only_their_scope(page: Any, site: dict[str, Any]) -> None:
    expect = sync_api.expect
    login(page, site, "tm")
    page.click("#nav-reports")
    page.wait_for_selector("#reports-table")
    expect(page.locator("#nav-reports")).to_have_text("Reports")
    assert page.locator("#reports-table tbody tr").count() == 1
    expect(page.locator(f"#reports-table-{site['tmall']}-scope")).to_have_text("天猫旗舰店")
    assert page.request.get(site["base"] + f"/api/reports/{site['tmall']}/pdf").status == 200
    assert page.request.get(site["base"] + f"/api/reports/{site['whole']}/pdf").status == 404
    shot(page, "reports-en-channel-manager")

    page.click("#nav-actions")
    page.wait_for_selector("#actions-form")
    assert "抖音" not in page.locator("#page").inner_text()  # the douyin action is not theirs
    page.fill("#ac-what", "Tmall banner refresh")
    page.fill("#ac-start", "2025-10-13")
    page.fill("#ac-deadline", "2025-10-19")
    page.click("#ac-add")
    row = page.locator("#actions-table tbody tr", has_text="Tmall banner refresh")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("planned")
    page.click("#ac-channel")
    offered = page.get_by_role("option").all_inner_texts()
    assert "天猫旗舰店" in offered and not {"京东旗舰店", "抖音小店", "品牌官网"} & set(offered)  # only their channel
    page.keyboard.press("Escape")
    shot(page, "actions-en-channel-manager")


def test_viewer_has_no_form(page: Any, site: dict[str, Any]) -> None:
    login(page, site, "viewer")
    page.click("#nav-actions")
    page.wait_for_selector("#actions-table")
    assert page.locator("#actions-form").count() == 0
    assert page.locator("#actions-table button").count() == 0
