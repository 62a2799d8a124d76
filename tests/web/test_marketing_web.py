"""/api/marketing/... and the 营销/Marketing dashboard page on the ingested media scenario: numbers equal the
analysis and the scenario's truth and files, permissions and scope, errors that name the parameter; the page
in a real headless Chromium (screenshot in build/screenshots/marketing.png)."""

from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import KEY, REPO, _free_port

from channelscope.demo.media import generate_media_demo

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "marketing pass 1"
CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / os.environ.get("CHANNELSCOPE_SCREENSHOTS", "build/screenshots")
USERS = {"analyst": ("analyst", ()), "viewer": ("viewer", ()), "tm": ("channel_manager", ("tmall",))}


def media_project(folder: Path, warehouse_url: str = "duckdb:///warehouse.duckdb") -> tuple[Path, dict]:
    from channelscope import Project

    truth = generate_media_demo(folder, seed=7, aov_scale=20)
    (folder / "secrets").mkdir(exist_ok=True)
    (folder / "secrets" / "pseudonym.key").write_text(KEY + "\n")
    cfg = (folder / "channelscope.yaml").read_text(encoding="utf-8")
    (folder / "channelscope.yaml").write_text(
        cfg.replace("url: duckdb:///warehouse.duckdb", f"url: '{warehouse_url}'"), encoding="utf-8"
    )
    with Project(folder) as p:
        p.ingest()
    return folder, truth


def _app(folder: Path, *, dashboard: bool = False) -> Any:
    from channelscope.web.app import create_app

    app = create_app(folder, scheduler=False, events=False, dashboard=dashboard)
    for name, (role, channels) in USERS.items():
        app.state.store.add_user(name, role, PASSWORD, channels=channels)
    return app


def test_marketing_api(tmp_path: Path, warehouse_url: str) -> None:
    folder, truth = media_project(tmp_path / "media", warehouse_url)
    app = _app(folder)
    with TestClient(app) as c:
        tokens = {u: app.state.store.create_token(u) for u in USERS}

        def get(path: str, user: str = "analyst", **params: Any) -> Any:
            return c.get(f"/api/marketing/{path}", params=params, headers={"Authorization": f"Bearer {tokens[user]}"})

        r = get("mmm")
        assert r.status_code == 200, r.text
        body = r.json()
        roas = pd.DataFrame(body["rows"]).set_index("platform")["roas"]
        true = pd.Series({p["platform"]: p["true_roas"] for p in truth["platforms"]})
        assert ((roas / true - 1).abs() < 0.2).all()
        assert body["fit"]["r2"] > 0.98 and len(body["response_curves"]) == 6 * 21

        every = pd.DataFrame(get("roi", "viewer", margin_rate=0.5).json()["rows"]).set_index("campaign_id")
        roi = every[every["kind"] == "ad"]
        ads = pd.read_csv(folder / "exports/canonical/ad_spend.csv", dtype=str)
        spend = ads.assign(s=ads["spend"].astype(float)).groupby("campaign_id")["s"].sum()
        assert roi["spend"].to_dict() == pytest.approx(spend.to_dict(), abs=0.01)
        assert roi["roas_incremental"].to_dict() == pytest.approx(
            {c: roas[roi.loc[c, "platform"]] for c in roi.index}, rel=1e-9
        )

        att = get("attribution", by="campaign").json()
        assert att["conversions"] == truth["orders"]
        credits = pd.DataFrame(att["rows"])
        assert credits.groupby("model")["conversions"].sum().to_dict() == pytest.approx(
            {m: float(truth["orders"]) for m in credits["model"].unique()}
        )

        up = pd.DataFrame(get("uplift").json()["rows"]).set_index("start")
        t = pd.DataFrame(truth["promotions"]).set_index("start")["true_uplift_gmv"].reindex(up.index)
        assert ((up["uplift"] / t - 1).abs() < 0.15).all()

        plan = get("allocation", fixed="alimama", min="baidu=1000000").json()
        rows = pd.DataFrame(plan["rows"]).set_index("platform")
        assert rows.loc["alimama", "scale"] == pytest.approx(1.0)
        assert rows.loc["baidu", "recommended_spend"] >= 1_000_000 - 0.01
        assert plan["gain_low"] <= plan["expected_gain"] <= plan["gain_high"]

        # a channel manager would see numbers of every channel: denied, and logged
        assert get("mmm", "tm").status_code == 403
        assert get("roi", "tm").status_code == 403
        # errors name the parameter, never a 500
        bad = get("attribution", by="region")
        assert bad.status_code == 400 and "by" in bad.text
        assert get("allocation", min="baidu").status_code == 400
        assert get("allocation", fixed="weibo").status_code == 400
        unknown = get("mmm", channel="jd")
        assert unknown.status_code == 400 and "channel" in unknown.text
        assert c.get("/api/marketing/mmm").status_code == 401


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_marketing_page_in_a_browser(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    import uvicorn

    folder, truth = media_project(tmp_path / "media")
    app = _app(folder, dashboard=True)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_context(viewport={"width": 1366, "height": 1800}, locale="zh-CN").new_page()
            page.set_default_timeout(120_000)
            page.goto(base + "/marketing")
            page.fill("#username", "analyst")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/marketing")
            page.wait_for_selector("#mkt-roi", state="attached")
            page.wait_for_selector("#mkt-curves .main-svg", state="attached")
            page.wait_for_load_state("networkidle")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "marketing.png"), full_page=True)
            # the ROI table shows the API's incremental ROAS for the biggest campaign
            shown = page.locator("#mkt-roi-ali-wxt-roas_incremental").inner_text()
            assert shown in {"2.23", "2.24"}
            sync_api.expect(page.locator("#nav-marketing")).to_have_class("active")
            assert page.locator("#mkt-uplift tbody tr").count() == len(truth["promotions"])
            # a channel manager is told why there is nothing
            ctx = browser.new_context(locale="zh-CN")
            other = ctx.new_page()
            other.set_default_timeout(120_000)
            other.goto(base + "/marketing")
            other.fill("#username", "tm")
            other.fill("#password", PASSWORD)
            other.click("button[type=submit]")
            other.goto(base + "/marketing")
            sync_api.expect(other.locator(".empty")).to_contain_text("全部渠道")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(30)
    assert errors == []
