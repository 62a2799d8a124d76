"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against a real uvicorn server
serving ``create_app`` on a copy of the ingested demo: log in, every page renders without console errors and
without a request leaving 127.0.0.1, the numbers shown equal the API's (and plain SQL on the warehouse), filters
change the numbers and the URL, the language switch changes the labels, an alert is acknowledged in the inbox.
Screenshots of every page at 1366x768 go to $CHANNELSCOPE_SCREENSHOTS (default: build/screenshots/<page>.png);
CHANNELSCOPE_SCREENSHOTS=docs/screenshots refreshes the ones the docs show."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import REPO, copy_demo
from tests.web.live import serving

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / os.environ.get("CHANNELSCOPE_SCREENSHOTS", "build/screenshots")
NOV = "start=2025-11-01&end=2025-11-30"
PASSWORD = "dashboard pass 1"
TARGETS = """
targets:
  - {metric: gmv, period: 2025-11, value: 800000}
  - {metric: paid_orders, period: 2025-11, value: 1500}
  - {metric: gmv, period: 2025-11, value: 200000, channel: tmall}
"""
#: page path -> (screenshot name, an element that exists once the page has its data)
PAGES = {
    "/": ("overview", "#card-gmv-value"),
    "/trends": ("trends", "#trend-chart .main-svg"),
    "/channels": ("channels", "#channel-portfolio .main-svg"),
    "/distributors": ("distributors", "#distributors-table"),
    "/funnel": ("funnel", "#funnel-chart .main-svg"),
    "/alerts": ("alerts", "#alerts-table"),
    "/health": ("health", "#quarantine-chart .main-svg"),
}
WAIT_MS = 90_000  # two cores shared with other test workers: a cold page can take a while

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
sync_api = pytest.importorskip("playwright.sync_api")
sync_api.expect.set_options(timeout=20_000)  # a page's callbacks query the engine; CI machines are busy


@dataclass
class Site:
    base: str
    tokens: dict[str, str]
    alerts: list[str]
    folder: Path
    truth: dict[str, float]  # plain SQL on the warehouse, computed before the server started
    errors: list[str] = field(default_factory=list)

    def api(self, path: str, user: str = "admin", **params: Any) -> dict[str, Any]:
        """GET /api/<path> with the user's API token (params: lists repeat the key)."""
        items = [(k, x) for k, v in params.items() for x in (v if isinstance(v, list) else [v])]
        r = httpx.get(f"{self.base}/api/{path}", params=items, headers={"Authorization": f"Bearer {self.tokens[user]}"})
        assert r.status_code == 200, r.text
        return r.json()


def _add_alerts(folder: Path) -> list[str]:
    """Two open alerts in the store (the monitor's own lifecycle functions), before the server owns the file."""
    from channelscope import Project
    from channelscope.monitor.dispatch import record_findings
    from channelscope.monitor.findings import Evaluation, Finding

    def finding(
        scope: dict[str, str], severity: str, value: float, en: str, zh: str, evidence: dict | None = None
    ) -> Finding:
        return Finding(
            rule="gmv_wow",
            kind="change",
            severity=severity,
            scope=scope,
            period="2025-W48",
            metric="gmv",
            value=value,
            expected=(evidence or {}).get("base_value", value * 1.6),
            lower=None,
            upper=None,
            title={"en": en, "zh-CN": zh},
            text={"en": en, "zh-CN": zh},
            evidence=evidence or {},
            auto_resolve=False,
        )

    evidence = _douyin_evidence(folder)
    fell = -evidence["change_pct"]
    findings = [
        finding(
            {"channel_id": "douyin"},
            "critical",
            evidence["value"],
            f"Douyin GMV fell {fell:.0%} week over week",
            f"抖音小店 GMV 周环比下降 {fell:.0%}",
            evidence,
        ),
        finding(
            {"channel_id": "tmall"},
            "warning",
            41200.0,
            "Tmall GMV fell 21% week over week",
            "天猫旗舰店 GMV 周环比下降 21%",
        ),
    ]
    with Project(folder) as project:
        record_findings(project, Evaluation(findings=findings, checked=["gmv_wow"]))
    return [f.key for f in findings]


#: the week after 双11 against the festival's week: Douyin's GMV fell by about half
WEEK, BASE_WEEK = ("2025-11-17", "2025-11-23"), ("2025-11-10", "2025-11-16")


def _douyin_evidence(folder: Path) -> dict[str, Any]:
    """Evidence like the change rule stores: Douyin's GMV of the last week of November against the week
    before, decomposed by the monitor's own function from the KPI layer's numbers."""
    from channelscope import Project
    from channelscope.monitor.evidence import decomposition

    parts = ["visitors", "paid_orders", "gmv"]
    with Project(folder) as project:
        kw: dict[str, Any] = {"filters": {"channel": ["douyin"]}}
        after = project.kpis(parts, start=WEEK[0], end=WEEK[1], **kw).iloc[0].to_dict()
        before = project.kpis(parts, start=BASE_WEEK[0], end=BASE_WEEK[1], **kw).iloc[0].to_dict()
    dec = decomposition(before, after, "gmv")
    assert dec is not None
    dec.pop("text")
    return {
        "value": float(after["gmv"]),
        "base_value": float(before["gmv"]),
        "change_pct": float(after["gmv"]) / float(before["gmv"]) - 1,
        "compare": "previous",
        "period": list(WEEK),
        "base_period": list(BASE_WEEK),
        "decomposition": dec,
    }


@pytest.fixture(scope="module")
def site(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve_site(demo_shop, tmp_path_factory)


def serve_site(
    demo_shop: Path, tmp_path_factory: pytest.TempPathFactory, prepare: Callable[[Path], None] | None = None
) -> Iterator[Site]:
    """The demo copy with targets and two alerts (``prepare``: more, before the server owns the files),
    served with an admin and a tmall channel manager."""
    from channelscope.web.app import create_app

    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("dash") / "shop")
    with (folder / "channelscope.yaml").open("a", encoding="utf-8") as fh:
        fh.write(TARGETS)
    alerts = _add_alerts(folder)
    if prepare is not None:
        prepare(folder)
    truth = _plain_sql(folder)
    app = create_app(folder, scheduler=False, events=False)
    store = app.state.store
    store.add_user("admin", "admin", PASSWORD)
    store.add_user("tm", "channel_manager", PASSWORD, channels=["tmall"], lang="en")
    tokens = {u: store.create_token(u, "browser test") for u in ("admin", "tm")}
    with serving(app) as base:
        yield Site(base, tokens, alerts, folder, truth)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh browser context at 1366x768 that records console errors and any request leaving 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    outside: list[str] = []
    pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith((site.base, "data:", "blob:")) else None)
    yield pg
    context.close()
    assert outside == [], f"requests left the machine: {outside[:5]}"


def login(page: Any, site: Site, user: str = "admin") -> None:
    """Log in through /login, then record console errors of the dashboard (the login page is not ours)."""
    page.goto(site.base + "/")
    assert "/login" in page.url  # not logged in: the middleware sends the browser to the login page
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#card-gmv-value")
    site.errors.clear()
    page.on("console", lambda m: site.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: site.errors.append(str(e)))


def expect(locator: Any) -> Any:
    return sync_api.expect(locator)


def shown(page: Any, element_id: str) -> float:
    """The exact number behind a shown value (its data-value attribute)."""
    value = page.locator(f"#{element_id}").get_attribute("data-value")
    assert value, f"#{element_id} shows no number"
    return float(value)


def assert_one_scale(page: Any, metrics: list[str], suffix: str) -> None:
    """The amount cards of a page share one scale (all in 万, or all in full), and each text reads back to
    its exact value (data-value) within half a unit of its last digit."""
    texts = {m: page.locator(f"#card-{m}-value").inner_text() for m in metrics}
    scaled = {m: t.endswith(suffix) for m, t in texts.items()}
    assert len(set(scaled.values())) == 1, texts
    for m, text in texts.items():
        divisor = {"万": 1e4, "K": 1e3}[suffix] if scaled[m] else 1.0
        back = float(text.replace("¥", "").removesuffix(suffix).replace(",", "")) * divisor
        assert abs(back - shown(page, f"card-{m}-value")) <= 0.005 * divisor + 1e-6, (m, text)


def api_value(site: Site, metric: str, user: str = "admin", **params: Any) -> float:
    rows = site.api("kpis", user, metric=metric, **params)["rows"]
    assert len(rows) == 1
    return float(rows[0][metric])


def _plain_sql(folder: Path) -> dict[str, float]:
    """November 2025 paid GMV and paid orders per channel and in total, by hand (not through the metrics layer)."""
    import duckdb

    paid = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT channel_id, sum(net_amount_base), count(*) FROM orders "
            f"WHERE {paid} AND business_date BETWEEN DATE '2025-11-01' AND DATE '2025-11-30' "
            "GROUP BY ROLLUP (channel_id)"
        ).fetchall()
        latest = con.execute("SELECT max(business_date) FROM orders").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    out = {"latest": float(latest.toordinal())}  # the latest business date with orders (quick ranges)
    for channel, gmv, n in rows:
        key = "total" if channel is None else channel
        out[f"gmv:{key}"] = float(gmv)
        out[f"paid_orders:{key}"] = float(n)
    return out


def test_every_page_renders_offline_without_errors(page: Any, site: Site) -> None:
    login(page, site)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path, (name, ready) in PAGES.items():
        extra = "&by=channel&compare=previous" if name == "trends" else ""
        page.goto(f"{site.base}{path}?{NOV}{extra}")
        page.wait_for_selector(ready, state="attached")
        expect(page.locator(f"#nav-{name}")).to_have_class("active")
        # 数据截至: the latest business date with orders, on every page
        expect(page.locator("#data-as-of")).to_contain_text(f"数据截至 {_latest(site)}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        assert (SHOTS / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert site.errors == []
    # Plotly's bundle came from the app itself (serve_locally), not from a CDN
    scripts = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
    assert any("plotly" in s for s in [*scripts, page.content()]) or page.locator(".js-plotly-plot").count()
    assert all(s.startswith(site.base) for s in scripts)


def test_kpi_cards_equal_the_api_and_the_ground_truth(page: Any, site: Site) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}&channel=tmall")
    api_gmv = api_value(site, "gmv", start="2025-11-01", end="2025-11-30", filter="channel=tmall")
    assert api_gmv == pytest.approx(site.truth["gmv:tmall"], abs=0.005)
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(api_gmv))
    # one 万 rule for the page: every amount card in the same unit, each reading back to its value
    assert_one_scale(page, ["gmv", "net_sales", "contribution_margin"], "万")
    assert page.locator("#card-gmv").get_attribute("title").startswith(f"¥{api_gmv:,.2f}")
    rows = site.api(
        "kpis",
        metric=["paid_orders", "conversion_rate"],
        start="2025-11-01",
        end="2025-11-30",
        filter="channel=tmall",
        compare="previous",
    )["rows"]
    assert shown(page, "card-paid_orders-value") == rows[0]["paid_orders"]
    assert shown(page, "card-conversion_rate-value") == pytest.approx(
        rows[0]["conversion_rate"], rel=1e-8
    )  # the API rounds JSON floats to 10 digits
    assert shown(page, "card-paid_orders-change") == pytest.approx(
        rows[0]["paid_orders_change_pct"], rel=1e-8
    )  # the API rounds JSON floats to 10 digits
    # a target for all channels says nothing about tmall alone: no target on a filtered view
    assert page.locator("#card-gmv-target").count() == 0

    page.goto(f"{site.base}/?{NOV}")
    total = api_value(site, "gmv", start="2025-11-01", end="2025-11-30")
    assert total == pytest.approx(site.truth["gmv:total"], abs=0.005)
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(total))
    assert shown(page, "card-paid_orders-value") == site.truth["paid_orders:total"]
    target = site.api("targets", as_of="2025-11-30")["rows"]
    whole = next(r for r in target if r["metric"] == "gmv" and r["channel"] is None)
    assert shown(page, "card-gmv-target") == 800000
    assert shown(page, "card-gmv-attainment") == pytest.approx(
        whole["attainment"], rel=1e-8
    )  # the API rounds JSON floats to 10 digits
    assert shown(page, "card-gmv-attainment") == pytest.approx(
        total / 800000, rel=1e-8
    )  # the API rounds JSON floats to 10 digits

    page.goto(f"{site.base}/channels?{NOV}")
    page.wait_for_selector("#channels-table")
    by_channel = site.api("kpis", metric="gmv", by="channel", start="2025-11-01", end="2025-11-30")["rows"]
    for row in by_channel:
        assert shown(page, f"chan-{row['channel']}-gmv") == row["gmv"]
    assert sum(shown(page, f"chan-{r['channel']}-share") for r in by_channel) == pytest.approx(1.0)
    # Tmall sends no order lines: its margin rate reads 数据缺失 with the reason, never a good-looking 80%
    rate = page.locator("#chan-tmall-contribution_margin_rate")
    expect(rate).to_have_text("数据缺失")
    assert "订单明细" in rate.get_attribute("title")
    assert page.locator("#sort-gmv").get_attribute("title").startswith("口径：")

    page.goto(f"{site.base}/distributors?{NOV}")
    page.wait_for_selector("#distributors-table")
    board = site.api("distributors", start="2025-11-01", end="2025-11-30")["rows"]
    top = board[0]
    assert shown(page, f"dist-{top['distributor']}-gmv") == top["gmv"]
    assert shown(page, f"dist-{top['distributor']}-commissions") == top["commissions"]
    assert shown(page, f"dist-{top['distributor']}-active_days") == top["active_days"]
    assert 1 <= top["active_days"] <= 30
    assert site.errors == []


def test_filters_change_the_numbers_and_the_url(page: Any, site: Site) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}")
    total = api_value(site, "gmv", start="2025-11-01", end="2025-11-30")
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(total))
    page.click("#f-channel")
    page.get_by_role("option", name="京东旗舰店").click()
    page.keyboard.press("Escape")
    page.wait_for_url("**channel=jd**")
    jd = api_value(site, "gmv", start="2025-11-01", end="2025-11-30", filter="channel=jd")
    assert jd < total
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(jd))
    # the view is shareable: the same URL in a fresh page shows the same filter and number
    url = page.url
    assert "start=2025-11-01" in url and "end=2025-11-30" in url
    page.goto(url)
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(jd))
    expect(page.locator("#f-channel")).to_contain_text("京东旗舰店")
    # dates typed into the range picker
    page.fill("#f-start", "2025-11-10")
    page.keyboard.press("Enter")
    page.wait_for_url("**start=2025-11-10**")
    expect(page.locator("#range-note")).to_contain_text("2025-11-10")
    page.fill("#f-end", "2025-11-20")
    page.keyboard.press("Enter")
    page.wait_for_url("**end=2025-11-20**")
    part = api_value(site, "gmv", start="2025-11-10", end="2025-11-20", filter="channel=jd")
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(part))
    assert part < jd
    # navigation keeps the filters
    page.click("#nav-channels")
    page.wait_for_url("**/channels?**channel=jd**")
    page.wait_for_selector("#chan-jd-gmv")
    assert page.locator("#channels-table tbody tr").count() == 1
    # a page's own choice goes into the URL too
    page.click("#nav-trends")
    page.wait_for_selector("#trend-chart .main-svg")
    page.get_by_text("月", exact=True).click()
    page.wait_for_url("**grain=month**")
    expect(page.locator("#trend-total-value")).to_have_attribute("data-value", repr(part))
    assert site.errors == []


def test_language_switch_changes_the_labels(page: Any, site: Site) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}")
    expect(page.locator("#nav-overview")).to_have_text("总览")
    expect(page.locator("#card-gmv .card-label")).to_have_text("支付金额(GMV)")
    page.get_by_text("English", exact=True).click()
    page.wait_for_url("**lang=en**")
    expect(page.locator("#nav-overview")).to_have_text("Overview")
    expect(page.locator("#lbl-channel")).to_have_text("Channel")
    expect(page.locator("#card-gmv .card-label")).to_have_text("Paid GMV")
    total = api_value(site, "gmv", start="2025-11-01", end="2025-11-30")
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(total))
    assert_one_scale(page, ["gmv", "net_sales", "contribution_margin"], "K")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "overview-en.png"))
    page.click("#nav-alerts")
    expect(page.locator(f"#alert-{site.alerts[0]}-status")).to_have_text("Open")
    assert page.get_by_text(re.compile(r"^Douyin GMV fell \d+% week over week$")).count() == 1
    assert site.errors == []


def test_acknowledge_an_alert_in_the_inbox(page: Any, site: Site) -> None:
    login(page, site)
    alert = site.alerts[1]
    page.goto(f"{site.base}/alerts")
    expect(page.locator(f"#alert-{alert}-status")).to_have_text("未处理")
    page.click(f"button[data-alert='{alert}'][data-to='acknowledged']")
    expect(page.locator(f"#alert-{alert}-status")).to_have_count(0)  # gone from the open inbox
    acknowledged = site.api("alerts", status="acknowledged")["rows"]
    assert [r["alert_id"] for r in acknowledged] == [alert]
    page.get_by_text("已确认", exact=True).click()
    page.wait_for_url("**status=acknowledged**")
    expect(page.locator(f"#alert-{alert}-status")).to_have_text("已确认")
    assert site.errors == []


def test_channel_manager_sees_only_their_channel(page: Any, site: Site) -> None:
    login(page, site, "tm")
    page.goto(f"{site.base}/channels?{NOV}")
    page.wait_for_selector("#chan-tmall-gmv")
    assert page.locator("#channels-table tbody tr").count() == 1
    expect(page.locator("#nav-overview")).to_have_text("Overview")  # the user's language
    tmall = api_value(site, "gmv", "tm", start="2025-11-01", end="2025-11-30")
    assert shown(page, "chan-tmall-gmv") == tmall == pytest.approx(site.truth["gmv:tmall"], abs=0.005)
    page.goto(f"{site.base}/alerts")
    page.wait_for_selector(f"#alert-{site.alerts[0]}-status", state="detached")
    assert page.locator("#alerts-table tbody tr").count() <= 1  # douyin's alert is not theirs
    assert site.errors == []


# ---- drill-downs (issue 10) ------------------------------------------------------------------------------


def _latest(site: Site) -> Any:
    import datetime as dt

    return dt.date.fromordinal(int(site.truth["latest"]))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_card_opens_trends_for_its_metric(page: Any, site: Site, lang: str) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}&channel=tmall&lang={lang}")
    page.wait_for_selector("#card-conversion_rate-value")
    page.click("#card-conversion_rate-link")
    page.wait_for_url("**/trends?**metric=conversion_rate**")
    assert "channel=tmall" in page.url and "start=2025-11-01" in page.url and f"lang={lang}" in page.url
    page.wait_for_selector("#trend-chart .main-svg")
    rate = api_value(site, "conversion_rate", start="2025-11-01", end="2025-11-30", filter="channel=tmall")
    assert shown(page, "trend-total-value") == pytest.approx(rate, rel=1e-8)
    expect(page.locator("#nav-trends")).to_have_text("Trends" if lang == "en" else "趋势")
    assert site.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_rate_change_reads_in_percentage_points(page: Any, site: Site, lang: str) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}&lang={lang}")
    page.wait_for_selector("#card-refund_rate-change")
    rows = site.api("kpis", metric="refund_rate", start="2025-11-01", end="2025-11-30", compare="previous")["rows"]
    pp = rows[0]["refund_rate"] - rows[0]["refund_rate_prev"]
    assert shown(page, "card-refund_rate-change") == pytest.approx(pp, abs=1e-9)
    word = " pp" if lang == "en" else "个百分点"
    expect(page.locator("#card-refund_rate-change")).to_have_text(f"{round(pp * 100, 1) + 0.0:+.1f}{word}")
    # an amount's change stays relative
    expect(page.locator("#card-gmv-change")).to_have_text(_pct(site))
    assert site.errors == []


def _pct(site: Site) -> str:
    row = site.api("kpis", metric="gmv", start="2025-11-01", end="2025-11-30", compare="previous")["rows"][0]
    return f"{round(row['gmv_change_pct'] * 100, 1) + 0.0:+.1f}%"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_decomposition_opens_a_channel_and_a_driver(page: Any, site: Site, lang: str) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}&lang={lang}")
    link = page.locator("#explain-text a").first
    link.wait_for()
    channel = link.get_attribute("id").removeprefix("explain-")
    name = next(c.name for c in _config(site).channels if c.id == channel)
    expect(link).to_contain_text(name)  # the channel's name, never its id in brackets
    assert f"[{channel}]" not in page.locator("#explain-text").inner_text()
    link.click()
    page.wait_for_url(f"**channel={channel}**")
    gmv = api_value(site, "gmv", start="2025-11-01", end="2025-11-30", filter=f"channel={channel}")
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(gmv))
    # a bar of the waterfall opens Trends for that driver, by channel
    page.goto(f"{site.base}/?{NOV}&lang={lang}")
    page.wait_for_selector("#decomposition .main-svg")
    bars = page.locator("#decomposition g.point")
    bars.nth(1).click(force=True)
    page.wait_for_url("**/trends?**by=channel**")
    page.wait_for_selector("#trend-chart .main-svg")
    assert site.errors == []


def _config(site: Site) -> Any:
    from channelscope.config import load_config

    return load_config(site.folder)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_an_alert_opens_its_evidence_and_decomposition(page: Any, site: Site, lang: str) -> None:
    login(page, site)
    alert = site.alerts[0]  # douyin's, with the evidence a change rule stores
    page.goto(f"{site.base}/alerts?status=all&lang={lang}")
    page.click(f"#alert-{alert}-open")
    page.wait_for_url(f"**alert={alert}**")
    page.wait_for_selector("#alert-detail")
    before = site.api("kpis", metric="gmv", start=BASE_WEEK[0], end=BASE_WEEK[1], filter="channel=douyin")["rows"][0]
    after = site.api("kpis", metric="gmv", start=WEEK[0], end=WEEK[1], filter="channel=douyin")["rows"][0]
    assert shown(page, "alert-value") == pytest.approx(after["gmv"], abs=0.005)
    assert shown(page, "alert-base") == pytest.approx(before["gmv"], abs=0.005)
    assert shown(page, "alert-change") == pytest.approx(after["gmv"] / before["gmv"] - 1, rel=1e-6)
    # the decomposition's parts add up to the change, to the cent
    parts = [shown(page, f"alert-dec-{k}") for k in ("visitors", "conversion_rate", "aov")]
    assert shown(page, "alert-dec-before") + sum(parts) == pytest.approx(shown(page, "alert-dec-after"), abs=0.01)
    expect(page.locator("#alert-facts")).to_contain_text("抖音小店")  # the channel's name, not its id
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"alert-evidence{'-en' if lang == 'en' else ''}.png"), full_page=True)
    page.click("#alert-open-trends")
    page.wait_for_url("**/trends?**channel=douyin**")
    assert f"start={WEEK[0]}" in page.url and "metric=gmv" in page.url
    page.wait_for_selector("#trend-chart .main-svg")
    assert shown(page, "trend-total-value") == pytest.approx(after["gmv"], abs=0.005)
    assert site.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_quarantine_reason_opens_its_rows(page: Any, site: Site, lang: str) -> None:
    login(page, site)
    page.goto(f"{site.base}/health?lang={lang}")
    page.wait_for_selector("#reasons-table")
    reasons = site.api("ingestion/status")["quarantine_by_reason"]
    top = max(reasons, key=lambda r: r["rows"])
    expect(page.locator("#reasons-table tbody tr").first).to_contain_text(top["source"])
    assert shown(page, "reason-0-rows") == top["rows"]
    page.click("#reason-0")
    page.wait_for_url("**reason=**")
    page.wait_for_selector("#rows-panel")
    n = page.locator("#quarantine-rows tbody tr").count()
    assert n == min(top["rows"], 50)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"health-rows{'-en' if lang == 'en' else ''}.png"), full_page=True)
    first = page.locator("#quarantine-rows tbody tr").first.inner_text()
    assert all(p.strip() in first for p in top["reason"].replace("line N", "…").split("…") if p.strip())
    assert site.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_quick_ranges_and_the_comparison(page: Any, site: Site, lang: str) -> None:
    import datetime as dt

    login(page, site)
    latest = _latest(site)
    page.goto(f"{site.base}/?{NOV}&lang={lang}")
    expect(page.locator("#quick-last_month")).to_have_text("Last month" if lang == "en" else "上月")
    page.click("#quick-last_month")
    first = latest.replace(day=1)
    last = first - dt.timedelta(days=1)
    page.wait_for_url(f"**start={last.replace(day=1)}**")
    assert f"end={last}" in page.url
    gmv = api_value(site, "gmv", start=str(last.replace(day=1)), end=str(last))
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(gmv))
    expect(page.locator("#quick-last_month")).to_have_class("pill active")
    page.click("#quick-7d")
    page.wait_for_url(f"**start={latest - dt.timedelta(days=6)}**")
    week = api_value(site, "gmv", start=str(latest - dt.timedelta(days=6)), end=str(latest))
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(week))
    # the same period last year
    page.click("#vs-yoy")
    page.wait_for_url("**vs=yoy**")
    row = site.api("kpis", metric="gmv", start=str(latest - dt.timedelta(days=6)), end=str(latest), compare="yoy")[
        "rows"
    ][0]
    expect(page.locator("#card-gmv-prev")).to_have_attribute("data-value", repr(row["gmv_prev"]))
    # the note names the dates the API compared with: an ISO week against the same ISO week a year before
    start = latest - dt.timedelta(days=6)
    iso = start.isocalendar()
    base = (
        dt.date.fromisocalendar(iso.year - 1, iso.week, 1)
        if start.weekday() == 0
        else start.replace(year=start.year - 1)
    )
    expect(page.locator("#range-note")).to_contain_text(str(base))
    assert site.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_date_picker_speaks_the_page_language(page: Any, site: Site, lang: str) -> None:
    login(page, site)
    page.goto(f"{site.base}/?{NOV}&lang={lang}")
    page.wait_for_selector("#card-gmv-value")
    page.click("#f-start")
    caption = "November 2025" if lang == "en" else "2025年11月"
    expect(page.get_by_text(caption).first).to_be_visible()
    page.keyboard.press("Escape")
    assert site.errors == []


def test_sortable_tables_export_what_is_shown(page: Any, site: Site) -> None:
    import csv
    import io

    login(page, site)
    page.goto(f"{site.base}/channels?{NOV}")
    page.wait_for_selector("#channels-table")
    rows = site.api("kpis", metric="gmv", by="channel", start="2025-11-01", end="2025-11-30")["rows"]
    by_gmv = sorted(rows, key=lambda r: r["gmv"])
    first = page.locator("#channels-table tbody tr").first
    expect(first.locator("a")).to_have_attribute("id", f"chan-{by_gmv[-1]['channel']}-open")  # GMV, largest first
    page.click("#sort-gmv")  # again: smallest first
    page.wait_for_url("**sort=gmv**")
    expect(page.locator("#channels-table tbody tr").first.locator("a")).to_have_attribute(
        "id", f"chan-{by_gmv[0]['channel']}-open"
    )
    page.click("#sort-refund_rate")
    page.wait_for_url("**sort=-refund_rate**")
    # the export link is the API's authorized export of the same rows (the browser's session signs it)
    href = page.locator("#channels-export-csv").get_attribute("href")
    assert href.startswith("/api/kpis/export?")
    r = page.request.get(site.base + href)
    assert r.status == 200 and "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.body().decode("utf-8-sig"))))
    assert {t["channel"]: float(t["gmv"]) for t in table} == pytest.approx({x["channel"]: x["gmv"] for x in rows})
    xlsx = page.request.get(site.base + page.locator("#channels-export-xlsx").get_attribute("href"))
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    # distributors: sortable too
    page.goto(f"{site.base}/distributors?{NOV}&sort=-active_days")
    page.wait_for_selector("#distributors-table")
    cells = page.locator("#distributors-table tbody span[id$='-active_days']").all()
    days = [float(x.get_attribute("data-value")) for x in cells]
    assert days == sorted(days, reverse=True) and len(days) > 1
    assert site.errors == []


def test_a_channel_manager_sees_their_scope_and_an_out_of_scope_link_says_so(page: Any, site: Site) -> None:
    login(page, site, "tm")
    for path in PAGES:
        page.goto(f"{site.base}{path}?{NOV}")
        expect(page.locator("#scope-note")).to_contain_text("天猫旗舰店")
        expect(page.locator("#data-as-of")).to_contain_text("Data as of")
    page.goto(f"{site.base}/?{NOV}&channel=jd")
    expect(page.locator("#scope-error")).to_contain_text("jd")  # the id the link gives, not the channel's name
    expect(page.locator("#scope-error")).not_to_contain_text("京东")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "out-of-scope-en.png"))
    expect(page.locator("#scope-error")).to_contain_text("outside your scope")
    assert page.locator("#card-gmv-value").count() == 0  # nothing of jd, and not tmall's numbers under jd's link
    page.click("#scope-fix")
    page.wait_for_selector("#card-gmv-value")
    assert "channel=jd" not in page.url
    tmall = api_value(site, "gmv", "tm", start="2025-11-01", end="2025-11-30")
    expect(page.locator("#card-gmv-value")).to_have_attribute("data-value", repr(tmall))
    assert site.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_in_each_language(page: Any, site: Site, lang: str) -> None:
    """Every page (and the drill-down views: a metric by a cut, an alert's evidence) in zh-CN and en,
    screenshotted whole for a person to look at: labels in the page's language, names not ids, no 0 where
    an input is missing."""
    login(page, site)
    SHOTS.mkdir(parents=True, exist_ok=True)
    views = {
        **{path: (name, ready) for path, (name, ready) in PAGES.items()},
        "/trends?metric=visitors&by=channel_kind&grain=week": ("trends-cut", "#trend-missing"),
        "/trends?metric=gmv&by=distributor&grain=week": ("trends-distributor", "#trend-chart .main-svg"),
        f"/alerts?status=all&alert={site.alerts[0]}": ("alert-detail", "#alert-detail"),
    }
    suffix = "-en" if lang == "en" else "-zh"
    for path, (name, ready) in views.items():
        sep = "&" if "?" in path else "?"
        page.goto(f"{site.base}{path}{sep}{NOV}&lang={lang}")
        page.wait_for_selector(ready, state="attached")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / f"{name}{suffix}.png"), full_page=True)
        body = page.locator("body").inner_text()
        assert ("数据截至" if lang == "zh-CN" else "Data as of") in body, name
        assert "[wechat_resellers]" not in body and "[tmall]" not in body, name  # names, never ids in brackets
    assert site.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_missing_stages_and_cuts_read_no_data_with_the_reason(page: Any, site: Site, lang: str) -> None:
    """The funnel chart draws JD's unknown kept orders as 数据缺失 / no data with the reason (never a 0 bar)
    and names the channels it leaves out; visitors by channel kind leave the distributor network out with
    its reason instead of a line at 0."""
    login(page, site)
    word, no_refunds = ("no data", "no refunds") if lang == "en" else ("数据缺失", "没有退款数据")
    page.goto(f"{site.base}/funnel?{NOV}&lang={lang}")
    page.wait_for_selector("#funnel-chart .main-svg")
    note = page.locator("#funnel-chart .annotation-text").first
    expect(note).to_contain_text(word)
    expect(note).to_contain_text(no_refunds)
    expect(page.locator("#funnel-left-out")).to_contain_text("微信分销")
    page.goto(f"{site.base}/trends?{NOV}&metric=visitors&by=channel_kind&lang={lang}")
    page.wait_for_selector("#trend-chart .main-svg")
    expect(page.locator("#trend-missing")).to_contain_text(word)
    expect(page.locator("#trend-chart .legendtext").first).to_be_attached()
    legend = page.locator("#trend-chart .legendtext").all_text_contents()
    assert legend == (
        ["Live stream", "Marketplace", "Own store"] if lang == "en" else ["直播电商", "平台店铺", "自营店铺"]
    )
    assert site.errors == []


def test_alerts_and_ledger_sort_and_export_what_is_shown(page: Any, site: Site) -> None:
    import csv
    import io

    login(page, site)
    page.goto(f"{site.base}/alerts?status=all&lang=en")
    page.wait_for_selector("#alerts-table")
    page.click("#sort-channel")
    page.wait_for_url("**sort=-channel**")
    expect(page.locator("#alerts-export-csv")).to_have_attribute("href", re.compile("sort=-channel"))
    href = page.locator("#alerts-export-csv").get_attribute("href")
    assert href.startswith("/api/alerts/export?") and "sort=-channel" in href
    r = page.request.get(site.base + href)
    assert r.status == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.body().decode("utf-8-sig"))))
    shown_titles = page.locator("#alerts-table a.alert-title").all_inner_texts()
    assert [x["Alert"] for x in rows] == shown_titles  # the same rows, in the same order
    page.goto(f"{site.base}/health?lang=zh-CN&sort=-rows_in")
    page.wait_for_selector("#ledger-table")
    cells = page.locator("#ledger-table tbody span[id$='-rows_in']").all()
    values = [float(x.get_attribute("data-value")) for x in cells]
    assert values == sorted(values, reverse=True)
    x = page.request.get(site.base + page.locator("#ledger-export-xlsx").get_attribute("href"))
    assert x.status == 200 and x.body()[:2] == b"PK"
    assert site.errors == []
