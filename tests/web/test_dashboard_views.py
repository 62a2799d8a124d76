"""Dashboard pages rendered in-process for views the browser tests do not cover (no browser needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.conftest import copy_demo
from tests.web.components import component_ids, find, find_all

from channelscope import Project
from channelscope.metrics.query import cuttable
from channelscope.web.auth import User
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.pages import channels, overview
from channelscope.web.dashboard.view import View


@pytest.fixture(scope="module")
def project(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(copy_demo(demo_shop, tmp_path_factory.mktemp("views") / "shop"))


def test_cuttable_leaves_out_what_has_no_distributor(project: Project) -> None:
    cards = list(overview.CARDS)
    assert cuttable(project.catalog, cards, []) == cards
    by_distributor = cuttable(project.catalog, cards, ["distributor"])
    # contribution margin needs ad spend, which is per channel and campaign, never per distributor
    assert "contribution_margin" not in by_distributor
    assert by_distributor == [m for m in cards if m != "contribution_margin"]


@pytest.mark.parametrize(
    "user",
    [
        User("admin", "admin"),
        User("wx", "channel_manager", distributors=("wx-r01",)),  # scoped to a distributor only
    ],
)
def test_overview_and_channels_render_for_a_distributor_view(project: Project, user: User) -> None:
    """A distributor filter or scope shows the cards that can be cut by distributor, not an error page
    (contribution margin asked for ad spend by distributor and failed the whole page)."""
    view = View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {"distributor": ("wx-r01",)}, "en")
    ctx = PageContext(project, user, view)
    ids = component_ids(overview.render(ctx))
    assert {"card-gmv-value", "card-paid_orders-value", "card-visitors-value", "card-aov-value"} <= ids
    assert "card-contribution_margin-value" not in ids
    gmv = project.kpis(["gmv"], start=view.start, end=view.end, filters={"distributor": ["wx-r01"]})["gmv"].iloc[0]
    assert float(gmv) > 0
    table = component_ids(channels.render(ctx))
    assert "chan-wechat_resellers-gmv" in table


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_renders_with_the_drill_down_options(project: Project, lang: str) -> None:
    """Each page with the options its drill-downs put in the URL (sort, vs, reason, alert) renders without
    an error page, and the context bar (quick ranges, comparison) is there."""
    from channelscope.web.dashboard import context_bar
    from channelscope.web.dashboard.pages import alerts, distributors, funnel, health, trends

    user = User("admin", "admin")
    nov = (dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    cases = [
        (overview, {"vs": "yoy"}),
        (trends, {"metric": "conversion_rate", "by": "campaign", "grain": "week"}),
        (channels, {"sort": "-refund_rate"}),
        (distributors, {"sort": "name"}),
        (funnel, {}),
        (alerts, {"status": "all", "alert": "nope"}),
        (health, {"reason": "missing …", "source": "tmall_orders"}),
    ]
    for page, options in cases:
        ctx = PageContext(project, user, View(*nov, {}, lang, options))
        ids = component_ids(page.render(ctx))
        assert "page-error" not in ids, page.__name__
    bar = component_ids(context_bar.bar(PageContext(project, user, View(*nov, {}, lang, {})), "/", nov[1]))
    assert {"quick-yesterday", "quick-7d", "quick-this_month", "quick-last_month", "quick-30d", "vs-yoy"} <= bar


def test_quick_ranges() -> None:
    from channelscope.web.dashboard.context_bar import quick_range

    d = dt.date(2025, 12, 14)
    assert quick_range("yesterday", d) == (d, d)
    assert quick_range("7d", d) == (dt.date(2025, 12, 8), d)
    assert quick_range("30d", d) == (dt.date(2025, 11, 15), d)
    assert quick_range("this_month", d) == (dt.date(2025, 12, 1), d)
    assert quick_range("last_month", d) == (dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    assert quick_range("last_month", dt.date(2025, 1, 3)) == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_missing_inputs_read_no_data_with_the_reason(project: Project, lang: str) -> None:
    """The demo's Tmall sends no order lines (no COGS), JD no refunds, the WeChat resellers no traffic: their
    margin rate, refund rate and conversion rate read 数据缺失 / no data with the reason, never 0 or 80%."""
    from channelscope.web.dashboard.pages import funnel

    ctx = PageContext(project, User("admin", "admin"), View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, lang, {}))
    page = channels.render(ctx)
    word = "no data" if lang == "en" else "数据缺失"
    reasons = project.kpi_coverage(
        ["contribution_margin_rate", "refund_rate", "conversion_rate"], start=ctx.start, end=ctx.end
    )
    col = "reason_en" if lang == "en" else "reason_zh"
    expected = {(r["channel"], r["metric"]): r[col] for r in reasons.to_dict("records")}
    assert ("tmall", "contribution_margin_rate") in expected
    assert ("jd", "refund_rate") in expected
    assert ("wechat_resellers", "conversion_rate") in expected
    for (channel, metric), why in expected.items():
        cell = find(page, f"chan-{channel}-{metric}")
        assert cell is not None and cell.children == word, (channel, metric)  # type: ignore[attr-defined]
        assert cell.title == why  # type: ignore[attr-defined]
    note = find(page, "portfolio-missing")
    assert note is not None and "天猫旗舰店" in str(note.children)  # type: ignore[attr-defined]
    # the overview: like-for-like totals say which channels they leave out; every card label has its basis
    cards = overview.render(ctx)
    conv = find(cards, "card-conversion_rate-coverage")
    assert conv is not None and ctx.channel_name("wechat_resellers") in str(conv.children)  # type: ignore[attr-defined]
    for m in overview.CARDS:
        label = find(cards, f"card-{m}-label")
        assert label is not None and str(label.title).startswith("Basis:" if lang == "en" else "口径：")  # type: ignore[attr-defined]
    # the funnel: JD's kept orders and the resellers' visitors
    table = funnel.render(ctx)
    kept = find(table, "funnel-jd-kept_orders")
    visitors = find(table, "funnel-wechat_resellers-visitors")
    assert kept is not None and kept.children == word  # type: ignore[attr-defined]
    assert visitors is not None and visitors.children == word  # type: ignore[attr-defined]


def test_health_shows_the_freshness_of_the_data(project: Project) -> None:
    """Data health lists each source and channel's latest business date and lag, as Project.data_as_of says:
    the demo's data ends in 2025, so its sources are stale now, whatever the time of their load."""
    from channelscope.web.dashboard.pages import health

    ctx = PageContext(project, User("admin", "admin"), View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, "en", {}))
    page = health.render(ctx)
    fresh = project.data_as_of()
    row = next(r for r in fresh["rows"] if r["source"] == "tmall_orders" and r["channel"] == "tmall")
    assert row["state"] == "stale"
    cell = find(page, "data-freshness-table-tmall_orders-tmall-state")
    assert cell is not None and "stale" in str(cell.children)  # type: ignore[attr-defined]
    lag = find(page, "data-tmall_orders-tmall-lag")
    assert lag is not None and float(lag.to_plotly_json()["props"]["data-value"]) == row["lag_days"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_funnel_chart_draws_a_missing_stage_as_no_data_not_zero(project: Project, lang: str) -> None:
    """The whole-business funnel is like for like (the channels that send traffic; the WeChat resellers are
    left out and named); JD sends no refunds, so the kept stage has no bar and reads 数据缺失 / no data with
    the reason, never 0, and no rate."""
    from channelscope.web.dashboard.pages import funnel

    ctx = PageContext(project, User("admin", "admin"), View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, lang, {}))
    page = funnel.render(ctx)
    chart = find(page, "funnel-chart")
    assert chart is not None
    fig = chart.figure  # type: ignore[attr-defined]
    trace = fig.data[0]
    xs = list(trace.x)
    assert xs[-1] is None and all(x is not None and x > 0 for x in xs[:-1])  # kept: no bar, not 0
    assert trace.text[-1] == ""
    nov = project.kpis(["visitors", "paid_orders"], by=["channel"], start=ctx.start, end=ctx.end)
    with_traffic = nov[nov["visitors"].notna()]
    assert xs[0] == float(with_traffic["visitors"].sum())  # like for like: traffic channels only
    assert xs[3] == float(with_traffic["paid_orders"].sum())
    word = "no data" if lang == "en" else "数据缺失"
    why = project.kpi_coverage(["refund_rate"], start=ctx.start, end=ctx.end)
    reason = why.loc[why.channel == "jd", "reason_en" if lang == "en" else "reason_zh"].iloc[0]
    (note,) = [a.text for a in fig.layout.annotations]
    assert note.startswith(word) and reason in note and ctx.channel_name("jd") in note
    left_out = find(page, "funnel-left-out")
    assert left_out is not None and ctx.channel_name("wechat_resellers") in str(left_out.children)  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_trends_by_a_cut_without_traffic_reads_no_data_with_the_reason(project: Project, lang: str) -> None:
    """Visitors by channel kind: the distributor network sends no traffic, so its line is not drawn at 0 and
    a note names it with the reason."""
    from channelscope.web.dashboard.pages import trends

    view = View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, lang, {"metric": "visitors", "by": "channel_kind"})
    ctx = PageContext(project, User("admin", "admin"), view)
    page = trends.render(ctx)
    fig = find(page, "trend-chart").figure  # type: ignore[union-attr]
    for trace in fig.data:
        assert all(y is None or y == y for y in trace.y)  # no NaN-as-0 trace
        assert all(y is None or y > 0 for y in trace.y), trace.name
    names = {trace.name for trace in fig.data}
    assert names == (
        {"Live stream", "Marketplace", "Own store"} if lang == "en" else {"直播电商", "平台店铺", "自营店铺"}
    )
    note = find(page, "trend-missing")
    assert note is not None
    text = str(note.children)  # type: ignore[attr-defined]
    assert ("no data" if lang == "en" else "数据缺失") in text
    assert ctx.channel_name("wechat_resellers") in text
    assert ("no traffic" if lang == "en" else "没有流量数据") in text


def test_funnel_alerts_and_ledger_tables_sort_and_export(project: Project) -> None:
    """The funnel, alerts and batch-ledger tables sort by a header link (descending first) and link to the
    CSV/Excel export of the rows shown, as the Channels table does."""
    from urllib.parse import parse_qs, urlparse

    from channelscope.monitor.evaluate import evaluate_rules
    from channelscope.web.dashboard.pages import alerts, funnel, health

    nov = (dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    ctx = PageContext(project, User("admin", "admin"), View(*nov, {}, "en", {"sort": "-visitors"}))
    page = funnel.render(ctx)
    ids = component_ids(page)
    assert {"funnel-export-csv", "funnel-export-xlsx", "sort-visitors", "sort-paid_orders"} <= ids
    href = parse_qs(urlparse(find(page, "funnel-export-xlsx").href).query)  # type: ignore[union-attr]
    assert href["by"] == ["channel"] and "visitors" in href["metric"] and href["format"] == ["xlsx"]
    nov_kpis = project.kpis(["visitors", "paid_orders"], by=["channel"], start=nov[0], end=nov[1])
    order = nov_kpis.sort_values("visitors", ascending=False, na_position="last")["channel"].tolist()
    shown = [c.id.split("-")[1] for c in find_all(find(page, "funnel-table"), "funnel-", "-visitors")]
    assert shown == [*order, "total"]
    up = funnel.render(PageContext(project, User("admin", "admin"), View(*nov, {}, "en", {"sort": "visitors"})))
    assert "↑" in str(find(up, "sort-visitors").children)  # type: ignore[union-attr]

    from channelscope.monitor.dispatch import record_findings

    ev = evaluate_rules(project, as_of=dt.date(2025, 3, 18))  # the demo's injected Tmall shock
    assert ev.findings
    record_findings(project, ev)
    view = View(*nov, {}, "zh-CN", {"status": "all", "sort": "-when"})
    page = alerts.render(PageContext(project, User("admin", "admin"), view))
    ids = component_ids(page)
    assert {"alerts-export-csv", "sort-severity", "sort-channel", "sort-when"} <= ids
    href = parse_qs(urlparse(find(page, "alerts-export-csv").href).query)  # type: ignore[union-attr]
    assert href == {"lang": ["zh-CN"], "sort": ["-when"], "format": ["csv"]}

    page = health.render(PageContext(project, User("admin", "admin"), View(*nov, {}, "en", {"sort": "-rows_in"})))
    assert {"ledger-export-csv", "ledger-export-xlsx", "sort-rows_in"} <= component_ids(page)
    ledger = find(page, "ledger-table")
    rows_in = [float(c.to_plotly_json()["props"]["data-value"]) for c in find_all(ledger, "batch-", "-rows_in")]
    assert rows_in == sorted(rows_in, reverse=True) and len(rows_in) > 3


def test_funnel_total_row_shows_no_rate_across_different_channels(project: Project) -> None:
    """The funnel table's total row: a step's rate only where both stages sum the same channels. Orders over
    add-to-cart would divide the resellers' orders by other channels' carts, kept over paid would leave JD's
    unknown kept orders out of one side only: both read –, while visitors -> add to cart and orders -> paid
    keep theirs."""
    from channelscope.web.dashboard.pages import funnel

    ctx = PageContext(project, User("admin", "admin"), View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, "en", {}))
    table = find(funnel.render(ctx), "funnel-table")

    def rate(col: str) -> str:
        cell = find(table, f"funnel-total-{col}")
        todo: list = [table]
        while todo:
            c = todo.pop()
            kids = getattr(c, "children", None)
            if isinstance(kids, list) and any(k is cell for k in kids):
                return str(kids[1].children).strip()
            todo += kids if isinstance(kids, list) else ([kids] if kids is not None else [])
        raise AssertionError(col)

    assert rate("add_to_cart").endswith("%") and rate("paid_orders").endswith("%")
    assert rate("orders") == "–" and rate("kept_orders") == "–"


def test_trends_by_distributor_draws_the_orders_without_one(project: Project) -> None:
    """GMV by distributor: the orders without a distributor (Tmall, JD...) are the largest member; they are a
    line named (none) / 未归属, not a legend entry left out, and the lines add up to the total."""
    from channelscope.web.dashboard.pages import trends

    for lang, none in (("en", "(none)"), ("zh-CN", "未归属")):
        opts = {"metric": "gmv", "by": "distributor", "grain": "month"}
        view = View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, lang, opts)
        ctx = PageContext(project, User("admin", "admin"), view)
        fig = find(trends.render(ctx), "trend-chart").figure  # type: ignore[union-attr]
        names = [tr.name for tr in fig.data]
        assert names[0] == none and len(names) == trends.TOP
        nov = project.kpis(["gmv"], by=["distributor"], start=ctx.start, end=ctx.end)
        assert list(fig.data[0].y) == [float(nov[nov["distributor"].isna()]["gmv"].iloc[0])]
