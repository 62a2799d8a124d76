"""Dashboard pages rendered in-process for views the browser tests do not cover (no browser needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.metrics.query import cuttable
from channelscope.web.auth import User
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.pages import channels, overview
from channelscope.web.dashboard.view import View


@pytest.fixture(scope="module")
def project(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(copy_demo(demo_shop, tmp_path_factory.mktemp("views") / "shop"))


def _ids(component: object) -> set[str]:
    out: set[str] = set()
    todo = [component]
    while todo:
        c = todo.pop()
        if isinstance(c, list | tuple):
            todo += list(c)
            continue
        cid = getattr(c, "id", None)
        if isinstance(cid, str):
            out.add(cid)
        children = getattr(c, "children", None)
        if children is not None:
            todo.append(children)
    return out


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
    ids = _ids(overview.render(ctx))
    assert {"card-gmv-value", "card-paid_orders-value", "card-visitors-value", "card-aov-value"} <= ids
    assert "card-contribution_margin-value" not in ids
    gmv = project.kpis(["gmv"], start=view.start, end=view.end, filters={"distributor": ["wx-r01"]})["gmv"].iloc[0]
    assert float(gmv) > 0
    table = _ids(channels.render(ctx))
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
        ids = _ids(page.render(ctx))
        assert "page-error" not in ids, page.__name__
    bar = _ids(context_bar.bar(PageContext(project, user, View(*nov, {}, lang, {})), "/", nov[1]))
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


def _find(component: object, id_: str) -> object | None:
    todo = [component]
    while todo:
        c = todo.pop()
        if isinstance(c, list | tuple):
            todo += list(c)
            continue
        if getattr(c, "id", None) == id_:
            return c
        children = getattr(c, "children", None)
        if children is not None:
            todo.append(children)
    return None


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
        cell = _find(page, f"chan-{channel}-{metric}")
        assert cell is not None and cell.children == word, (channel, metric)  # type: ignore[attr-defined]
        assert cell.title == why  # type: ignore[attr-defined]
    note = _find(page, "portfolio-missing")
    assert note is not None and "天猫旗舰店" in str(note.children)  # type: ignore[attr-defined]
    # the overview: like-for-like totals say which channels they leave out; every card label has its basis
    cards = overview.render(ctx)
    conv = _find(cards, "card-conversion_rate-coverage")
    assert conv is not None and ctx.channel_name("wechat_resellers") in str(conv.children)  # type: ignore[attr-defined]
    for m in overview.CARDS:
        label = _find(cards, f"card-{m}-label")
        assert label is not None and str(label.title).startswith("Basis:" if lang == "en" else "口径：")  # type: ignore[attr-defined]
    # the funnel: JD's kept orders and the resellers' visitors
    table = funnel.render(ctx)
    kept = _find(table, "funnel-jd-kept_orders")
    visitors = _find(table, "funnel-wechat_resellers-visitors")
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
    cell = _find(page, "data-freshness-table-tmall_orders-tmall-state")
    assert cell is not None and "stale" in str(cell.children)  # type: ignore[attr-defined]
    lag = _find(page, "data-tmall_orders-tmall-lag")
    assert lag is not None and float(lag.to_plotly_json()["props"]["data-value"]) == row["lag_days"]  # type: ignore[attr-defined]
