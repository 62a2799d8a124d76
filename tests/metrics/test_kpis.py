"""Every built-in KPI equals hand-written SQL over the canonical tables, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import demo_project

from channelscope import Project, QueryError

START, END = dt.date(2025, 1, 1), dt.date(2025, 6, 30)
PAID = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
PAID_O = "(o.paid_at IS NOT NULL OR o.status IN ('paid', 'shipped', 'completed', 'refunded'))"
RANGE = f"BETWEEN DATE '{START}' AND DATE '{END}'"


@pytest.fixture(scope="module")
def project(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """The small demo brand, ingested once per run and backend, copied."""
    with demo_project(request, backend, tmp_path_factory.mktemp("kpi") / "shop") as folder:
        p = Project(folder)
        yield p
        p.close()


def sql_frame(p: Project, sql: str, cols: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(p.warehouse.execute(sql), columns=["channel", "period", *cols])
    df["period"] = pd.to_datetime(df["period"]).dt.date
    for c in cols:
        df[c] = df[c].astype("float64")
    return df.set_index(["channel", "period"])


def hand_sql(p: Project) -> pd.DataFrame:
    """Base measures by channel and month, written by hand in SQL both engines speak."""
    m = "CAST(date_trunc('month', {}) AS DATE)"
    q = {
        "traffic": (
            f"SELECT channel_id, {m.format('date')}, sum(impressions), sum(visitors), sum(page_views), "
            f"sum(add_to_cart) FROM traffic WHERE date {RANGE} GROUP BY 1, 2",
            ["impressions", "visitors", "page_views", "add_to_cart"],
        ),
        "orders": (
            f"SELECT channel_id, {m.format('business_date')}, count(*), "
            f"sum(CASE WHEN {PAID} THEN 1 ELSE 0 END), count(DISTINCT CASE WHEN {PAID} THEN customer_key END), "
            f"sum(net_amount_base), sum(CASE WHEN {PAID} THEN net_amount_base END), "
            f"count(DISTINCT CASE WHEN {PAID} THEN distributor_id END) "
            f"FROM orders WHERE business_date {RANGE} GROUP BY 1, 2",
            ["orders", "paid_orders", "buyers", "gmv_ordered", "gmv", "active_distributors"],
        ),
        "lines": (
            f"SELECT o.channel_id, {m.format('o.business_date')}, sum(l.quantity), "
            "sum(l.quantity * p.unit_cost) FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
            f"LEFT JOIN products p ON p.sku = l.sku WHERE {PAID_O} AND o.business_date {RANGE} GROUP BY 1, 2",
            ["units", "cogs"],
        ),
        "refunds": (
            f"SELECT channel_id, {m.format('business_date')}, sum(amount_base), count(*) FROM refunds "
            f"WHERE business_date {RANGE} GROUP BY 1, 2",
            ["refunds", "refund_count"],
        ),
        "ads": (
            f"SELECT channel_id, {m.format('date')}, sum(spend_base), sum(clicks) FROM ad_spend "
            f"WHERE date {RANGE} GROUP BY 1, 2",
            ["ad_spend", "ad_clicks"],
        ),
        "fees": (
            f"SELECT channel_id, {m.format('date')}, "
            "sum(CASE WHEN fee_type IN ('platform', 'payment', 'logistics') THEN amount_base END), "
            f"sum(CASE WHEN fee_type = 'commission' THEN amount_base END) FROM fees WHERE date {RANGE} "
            "GROUP BY 1, 2",
            ["channel_fees", "commissions"],
        ),
        "new": (
            "WITH f AS (SELECT customer_key, min(business_date) AS first_day FROM orders "
            f"WHERE {PAID} GROUP BY 1), o AS (SELECT channel_id, {m.format('business_date')} AS mon, customer_key "
            f"FROM orders WHERE {PAID} AND business_date {RANGE}) "
            "SELECT o.channel_id, o.mon, count(DISTINCT CASE WHEN f.first_day >= o.mon THEN o.customer_key END), "
            "count(DISTINCT CASE WHEN f.first_day < o.mon THEN o.customer_key END) "
            "FROM o JOIN f ON f.customer_key = o.customer_key GROUP BY 1, 2",
            ["new_buyers", "returning_buyers"],
        ),
        "repeat": (
            f"SELECT channel_id, mon, sum(CASE WHEN n >= 2 THEN 1 ELSE 0 END) FROM (SELECT channel_id, "
            f"{m.format('business_date')} AS mon, customer_key, count(*) AS n FROM orders WHERE {PAID} "
            f"AND business_date {RANGE} GROUP BY 1, 2, 3) x GROUP BY 1, 2",
            ["repeat_buyers"],
        ),
    }
    frames = [sql_frame(p, sql, cols) for sql, cols in q.values()]
    out = pd.concat(frames, axis=1).fillna(0.0)
    # coverage: a channel that never sent traffic, order lines or refunds has those measures unknown, not 0
    provides = {
        "traffic": "SELECT DISTINCT channel_id FROM traffic",
        "lines": "SELECT DISTINCT o.channel_id FROM order_lines l JOIN orders o ON o.order_id = l.order_id",
        "refunds": "SELECT DISTINCT channel_id FROM refunds",
    }
    channel = out.index.get_level_values("channel")
    for table, sql in provides.items():
        have = {r[0] for r in p.warehouse.execute(sql)}
        out.loc[~channel.isin(have), q[table][1]] = np.nan
    # derived metrics, written again here from their business definitions
    div = lambda a, b: a / b.replace(0, np.nan)  # noqa: E731
    out["net_sales"] = out.gmv - out.refunds
    out["conversion_rate"] = div(out.paid_orders, out.visitors)
    out["cart_rate"] = div(out.add_to_cart, out.visitors)
    out["aov"] = div(out.gmv, out.paid_orders)
    out["units_per_order"] = div(out.units, out.paid_orders)
    out["refund_rate"] = div(out.refunds, out.gmv)
    out["repurchase_rate"] = div(out.repeat_buyers, out.buyers)
    out["gmv_per_buyer"] = div(out.gmv, out.buyers)
    out["visitor_value"] = div(out.gmv, out.visitors)
    out["new_buyer_share"] = div(out.new_buyers, out.buyers)
    out["roas"] = div(out.gmv, out.ad_spend)
    out["cac"] = div(out.ad_spend, out.new_buyers)
    out["gross_profit"] = out.net_sales - out.cogs
    out["gross_margin"] = div(out.gross_profit, out.net_sales)
    out["contribution_margin"] = out.net_sales - out.cogs - out.channel_fees - out.commissions - out.ad_spend
    out["contribution_margin_rate"] = div(out.contribution_margin, out.net_sales)
    out["sales_per_distributor"] = div(out.gmv, out.active_distributors)
    return out


def test_every_builtin_kpi_equals_hand_written_sql(project: Project) -> None:
    names = list(project.catalog.metrics)
    got = project.kpis(names, by=["channel"], grain="month", start=START, end=END)
    got = got.set_index(["channel", "period"]).sort_index()
    want = hand_sql(project).reindex(got.index)
    assert len(got) == 6 * 6  # six channels x six months
    checked = 0
    for name in names:
        g, w = got[name].astype("float64"), want[name].astype("float64")
        assert np.allclose(g.fillna(-1), w.fillna(-1), rtol=1e-9, atol=0.006), name
        checked += 1
    assert checked == 38


_RATIOS = {
    "conversion_rate",
    "cart_rate",
    "aov",
    "units_per_order",
    "refund_rate",
    "repurchase_rate",
    "gmv_per_buyer",
    "visitor_value",
    "new_buyer_share",
    "roas",
    "cac",
    "gross_margin",
    "contribution_margin_rate",
    "sales_per_distributor",
}


def test_ratios_are_from_summed_parts_at_every_grain(project: Project) -> None:
    total = project.kpis(["gmv", "paid_orders", "aov", "conversion_rate", "visitors"], start=START, end=END)
    row = total.iloc[0]
    assert row.aov == pytest.approx(row.gmv / row.paid_orders, abs=0.005)  # money: rounded to cents
    monthly = project.kpis(["aov"], grain="month", start=START, end=END)
    assert row.aov != pytest.approx(monthly.aov.mean())  # not an average of monthly ratios
    # a channel without traffic data has no conversion rate: empty, not inf
    ch = project.kpis(["conversion_rate"], by=["channel"], start=START, end=END).set_index("channel")
    assert pd.isna(ch.loc["wechat_resellers", "conversion_rate"])


def test_comparisons_and_to_date(project: Project) -> None:
    cur = project.kpis(["gmv"], grain="month", start="2025-06-01", end="2025-06-30", compare="previous")
    may = project.kpis(["gmv"], start="2025-05-01", end="2025-05-31").gmv.iloc[0]
    assert cur.gmv_prev.iloc[0] == pytest.approx(may)
    assert cur.gmv_change.iloc[0] == pytest.approx(cur.gmv.iloc[0] - may)
    yoy = project.kpis(["gmv"], start="2025-11-01", end="2025-11-30", compare="yoy")
    last_year = project.kpis(["gmv"], start="2024-11-01", end="2024-11-30").gmv.iloc[0]
    assert yoy.gmv_prev.iloc[0] == pytest.approx(last_year)
    mtd = project.kpis(["gmv"], to_date="mtd", end="2025-06-15").gmv.iloc[0]
    assert mtd == pytest.approx(project.kpis(["gmv"], start="2025-06-01", end="2025-06-15").gmv.iloc[0])


def test_dimensions_filters_and_errors(project: Project) -> None:
    by_cat = project.kpis(["units", "cogs"], by=["category"], start=START, end=END)
    total = project.kpis(["units", "cogs"], start=START, end=END)
    assert by_cat.units.sum() == total.units.iloc[0]
    tmall = project.kpis(["gmv"], filters={"channel": "tmall"}, start=START, end=END).gmv.iloc[0]
    by_ch = project.kpis(["gmv"], by=["channel"], start=START, end=END).set_index("channel")
    assert tmall == pytest.approx(by_ch.loc["tmall", "gmv"])
    kinds = project.kpis(["gmv"], by=["channel_kind"], start=START, end=END)
    assert kinds.gmv.sum() == pytest.approx(by_ch.gmv.sum())
    with pytest.raises(QueryError, match=r"unknown metric 'gmvv'; valid: .*gmv"):
        project.kpis(["gmvv"])
    with pytest.raises(QueryError, match="unknown dimension 'colour'"):
        project.kpis(["gmv"], by=["colour"])
    with pytest.raises(QueryError, match="unknown grain 'fortnight'"):
        project.kpis(["gmv"], grain="fortnight")
    with pytest.raises(QueryError, match="cannot be cut by category"):
        project.kpis(["visitors"], by=["category"])


def test_new_plus_returning_is_buyers(project: Project) -> None:
    df = project.kpis(["buyers", "new_buyers", "returning_buyers"], by=["channel"], grain="week", start=START, end=END)
    assert (df.buyers == df.new_buyers + df.returning_buyers).all()


def test_project_metrics_from_yaml(tmp_path: Path) -> None:
    from tests.conftest import write_project

    from channelscope.errors import ConfigError

    body = """
channels: [{id: t, name: t, kind: marketplace, platform: t}]
kpis:
  metrics:
    - {name: completed_orders, label_zh: 完成订单, label_en: Completed orders, table: orders, agg: count,
       filter: {status: completed}}
    - {name: completion_rate, label_zh: 完成率, label_en: Completion rate, formula: completed_orders / orders}
"""
    p = Project(write_project(tmp_path / "a", body))
    assert "completion_rate" in p.catalog
    bad = body.replace("completed_orders / orders", "completed_orders / nosuch")
    with pytest.raises(ConfigError, match="unknown metric"):
        _ = Project(write_project(tmp_path / "b", bad)).catalog
    cyc = body.replace("table: orders, agg: count,\n       filter: {status: completed}", "formula: completion_rate * 1")
    with pytest.raises(ConfigError, match="cycle"):
        _ = Project(write_project(tmp_path / "c", cyc)).catalog
    col = body.replace("filter: {status: completed}", "column: colour")
    with pytest.raises(ConfigError, match="no column 'colour'") as err:
        _ = Project(write_project(tmp_path / "d", col)).catalog
    assert err.value.line is not None


def test_cuts_other_than_channel_are_empty_where_the_input_is_missing(project: Project) -> None:
    """By channel kind, platform or distributor, a row whose channels send no traffic (no refunds, no order
    lines) is empty, never 0; where the input is there, the figure equals hand SQL; coverage says why."""
    kind = project.kpis(["visitors", "paid_orders", "conversion_rate"], by=["channel_kind"], start=START, end=END)
    kind = kind.set_index("channel_kind")
    sql = (
        "SELECT c.kind, sum(t.visitors) FROM traffic t JOIN channels c ON c.channel_id = t.channel_id "
        f"WHERE t.date {RANGE} GROUP BY 1"
    )
    want = {str(k): float(v) for k, v in project.warehouse.execute(sql)}
    assert "distributor" not in want  # the WeChat distributor network sends no traffic
    assert pd.isna(kind.loc["distributor", "visitors"]) and pd.isna(kind.loc["distributor", "conversion_rate"])
    assert kind.loc["distributor", "paid_orders"] > 0
    assert {k: float(v) for k, v in kind["visitors"].dropna().items()} == want
    plat = project.kpis(["refunds", "cogs", "visitors"], by=["platform"], start=START, end=END).set_index("platform")
    assert pd.isna(plat.loc["jd", "refunds"]) and plat.loc["jd", "cogs"] > 0  # JD: no refund feed
    assert pd.isna(plat.loc["tmall", "cogs"]) and plat.loc["tmall", "refunds"] > 0  # Tmall: no order lines
    dist = project.kpis(["visitors", "refunds", "paid_orders"], by=["distributor"], start=START, end=END)
    named = dist[dist["distributor"].notna()]
    assert len(named) > 5 and named["visitors"].isna().all()  # traffic is per channel, not per distributor
    assert (named["refunds"].notna()).all() and (named["refunds"] == 0).any()  # a feed with no refund: a real 0
    assert dist[dist["distributor"].isna()]["visitors"].iloc[0] > 0
    cov = project.kpi_coverage(["visitors"], by=["distributor"], start=START, end=END)
    reasons = {(r.channel, r.reason) for r in cov.itertuples()}
    assert ("douyin", "no_traffic_by_distributor") in reasons and ("wechat_resellers", "no_traffic") in reasons
    zh = cov[cov.reason == "no_traffic_by_distributor"].reason_zh.iloc[0]
    assert zh == "该渠道的流量数据不按分销商细分（无访客数）"
