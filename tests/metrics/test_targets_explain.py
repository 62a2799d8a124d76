"""Targets and pacing, period names, and the explain path from the warehouse to the LMDI parts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.conftest import write_project

from channelscope import ConfigError, Project, QueryError
from channelscope.metrics.periods import comparison_period, parse_period

D = dt.date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025-06-18", D(2025, 6, 18), D(2025, 6, 18)),
        ("2025-W23", D(2025, 6, 2), D(2025, 6, 8)),
        ("2025-06", D(2025, 6, 1), D(2025, 6, 30)),
        ("2024-02", D(2024, 2, 1), D(2024, 2, 29)),
        ("2025-Q4", D(2025, 10, 1), D(2025, 12, 31)),
        ("2025", D(2025, 1, 1), D(2025, 12, 31)),
        ("2025-06-01..2025-06-18", D(2025, 6, 1), D(2025, 6, 18)),
    ],
)
def test_period_names(text: str, start: dt.date, end: dt.date) -> None:
    assert parse_period(text) == (start, end)


def test_comparison_periods() -> None:
    assert comparison_period(D(2025, 6, 1), D(2025, 6, 30), "previous") == (D(2025, 5, 1), D(2025, 5, 31))
    assert comparison_period(D(2025, 6, 2), D(2025, 6, 8), "previous") == (D(2025, 5, 26), D(2025, 6, 1))
    assert comparison_period(D(2025, 6, 2), D(2025, 6, 8), "yoy") == (D(2024, 6, 3), D(2024, 6, 9))  # 2024-W23
    assert comparison_period(D(2025, 11, 1), D(2025, 11, 30), "yoy") == (D(2024, 11, 1), D(2024, 11, 30))
    assert comparison_period(D(2025, 6, 10), D(2025, 6, 10), "wow") == (D(2025, 6, 3), D(2025, 6, 3))
    with pytest.raises(QueryError, match="not understood"):
        parse_period("June")


BODY = """
channels:
  - {id: a, name: A, kind: marketplace, platform: x}
  - {id: b, name: B, kind: own_store, platform: y}
sources:
  - {name: orders, path: exports/orders.csv, preset: canonical_orders}
  - {name: traffic, path: exports/traffic.csv, preset: canonical_traffic}
targets:
  - {metric: gmv, period: 2025-06, value: 3000}
  - {metric: gmv, period: 2025-06, channel: a, value: 1000, pacing: last_year, owner: Li}
  - {metric: aov, period: 2025-06, value: 100}
  - {file: targets.csv}
"""


@pytest.fixture
def shop(tmp_path: Path, warehouse_url: str) -> Project:
    folder = write_project(tmp_path / "shop", BODY, warehouse_url)
    ex = folder / "exports"
    ex.mkdir()
    rows = ["source_order_id,channel_id,customer_key,ordered_at,paid_at,status,net_amount"]
    # last year: June 2024 channel a sells 100 on the 1st-10th and 300 on the 11th-30th (25% by the 10th)
    rows += [
        f"L{d},a,c{d},2024-06-{d:02d} 12:00:00,2024-06-{d:02d} 12:00:00,paid,{10 if d <= 10 else 15}"
        for d in range(1, 31)
    ]
    # this year, to the 10th: a: 10 orders of 40, b: 10 orders of 60
    rows += [f"A{d},a,c{d},2025-06-{d:02d} 12:00:00,2025-06-{d:02d} 12:00:00,paid,40" for d in range(1, 11)]
    rows += [f"B{d},b,c{d},2025-06-{d:02d} 12:00:00,2025-06-{d:02d} 12:00:00,paid,60" for d in range(1, 11)]
    # May 2025 for explain: a: 5 orders of 40 from 100 visitors; b: 10 orders of 50 from 200 visitors
    rows += [f"MA{d},a,c{d},2025-05-{d:02d} 12:00:00,2025-05-{d:02d} 12:00:00,paid,40" for d in range(1, 6)]
    rows += [f"MB{d},b,c{d},2025-05-{d:02d} 12:00:00,2025-05-{d:02d} 12:00:00,paid,50" for d in range(1, 11)]
    (ex / "orders.csv").write_text("\n".join(rows) + "\n")
    traffic = ["date,channel_id,visitors"]
    traffic += ["2025-05-01,a,100", "2025-05-01,b,200", "2025-06-01,a,200", "2025-06-01,b,200"]
    (ex / "traffic.csv").write_text("\n".join(traffic) + "\n")
    (folder / "targets.csv").write_text("metric,period,channel,value\npaid_orders,2025-06,b,30\n")
    p = Project(folder)
    p.ingest()
    return p


def test_attainment_pacing_and_run_rate(shop: Project) -> None:
    t = shop.targets(as_of="2025-06-10").set_index(["metric", "channel"], drop=False)
    total = t.loc[("gmv", None)] if ("gmv", None) in t.index else t[(t.metric == "gmv") & t.channel.isna()].iloc[0]
    # actual 400 + 600 = 1000 of 3000; linear pacing: 10 of 30 days -> expected 1000, gap 0, run-rate 3000
    assert total.actual == 1000 and total.attainment == pytest.approx(1 / 3)
    assert total.expected_to_date == pytest.approx(1000) and total.gap == pytest.approx(0)
    assert total.projection == pytest.approx(3000)
    a = t[(t.metric == "gmv") & (t.channel == "a")].iloc[0]
    # last year's shape: 100 of 400 by the 10th -> 25% -> expected 250; actual 400; run-rate 1600
    assert a.elapsed_share == pytest.approx(0.25) and a.expected_to_date == pytest.approx(250)
    assert a.projection == pytest.approx(1600) and a.owner == "Li"
    aov = t[t.metric == "aov"].iloc[0]
    # a ratio is not paced: expected = target, projection = actual (1000 / 20 orders = 50)
    assert aov.actual == pytest.approx(50) and aov.expected_to_date == 100 and aov.projection == pytest.approx(50)
    from_csv = t[t.metric == "paid_orders"].iloc[0]
    assert from_csv.actual == 10 and from_csv.projected_attainment == pytest.approx(1.0)


def test_explain_adds_up_from_the_warehouse(shop: Project) -> None:
    result, periods = shop.explain("2025-06-01..2025-06-10", vs="2025-05-01..2025-05-10")
    assert periods["vs"] == (D(2025, 5, 1), D(2025, 5, 10))
    total = result.total
    assert total["value_before"] == 700 and total["value_after"] == 1000 and total["change"] == 300
    parts = ["visitors", "channel_mix", "conversion_rate", "aov", "new_or_lost", "undecomposed"]
    assert sum(total[k] for k in parts) == pytest.approx(300, abs=1e-9)
    a = result.by_member.set_index("channel_id").loc["a"]
    # channel a: visitors doubled, conversion halved (5/100 -> 10/200 is equal!), AOV equal: all from visitors
    assert a.change == 200 and a.visitors == pytest.approx(200) and a.aov == pytest.approx(0)
    assert result.explain("en")[0].startswith("GMV +42.9% (+¥300.00)")  # money in the base currency


def test_bad_targets_are_named(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "x", BODY.replace("metric: aov", "metric: aovv"))
    (folder / "targets.csv").write_text("metric,period,value\ngmv,2025-06,1\n")
    with pytest.raises(ConfigError, match="unknown metric 'aovv'"):
        Project(folder).targets()


def test_edges_found_in_review(shop: Project) -> None:
    # a comparison without a start: month to date (June 1-10) against the 10 days before (no sales: 0)
    cmp = shop.kpis(["gmv"], compare="previous")
    assert cmp.gmv.iloc[0] == 1000 and cmp.gmv_prev.iloc[0] == 0
    whole = shop.kpis(["gmv"], start="2025-06-01", end="2025-06-30", compare="previous")
    assert whole.gmv_prev.iloc[0] == 700  # a whole month against the whole month before
    with pytest.raises(QueryError, match="week over week"):
        shop.kpis(["gmv"], grain="month", start="2025-06-01", end="2025-06-30", compare="wow")
    # refunds (and any table) can be cut by a distributor attribute without a distributor column asked for
    shop.kpis(["refunds", "gmv"], by=["distributor_tier"], start="2025-06-01", end="2025-06-30")
    # a target over a period with no data at all is 0 attained, not a crash
    empty = shop.targets(as_of="2025-06-10")
    assert len(empty) == 4


def test_custom_metric_edges(tmp_path: Path) -> None:
    body = """
channels: [{id: a, name: A, kind: marketplace, platform: x}]
sources: [{name: orders, path: exports/orders.csv, preset: canonical_orders, channel_id: a}]
kpis:
  metrics:
    - {name: discounts, label_zh: 优惠, label_en: Discounts, table: orders, agg: sum, column: discount_amount}
targets:
  - {metric: discounts, period: 2025, value: 10}
  - {metric: discounts, period: 2025-06-18, value: 1}
  - {metric: discounts, period: 2026-01, value: 1, pacing: last_year}
"""
    folder = write_project(tmp_path / "a", body)
    (folder / "exports").mkdir()
    (folder / "exports" / "orders.csv").write_text(
        "source_order_id,ordered_at,status,net_amount,discount_amount\n1,2025-06-18 10:00:00,paid,10,2.55\n"
    )
    p = Project(folder)
    p.ingest()
    assert p.kpis(["discounts"]).discounts.iloc[0] == pytest.approx(2.55)  # money, though no unit was given
    t = p.targets(as_of="2025-06-18")
    assert t.period.tolist() == ["2025", "2025-06-18", "2026-01"] and t.actual.tolist()[:2] == [2.55, 2.55]
    bad = body.replace(
        "column: discount_amount}",
        "column: discount_amount}\n    - {name: m, label_zh: m, label_en: m, formula: max(discounts)}",
    )
    with pytest.raises(ConfigError, match="only"):
        _ = Project(write_project(tmp_path / "b", bad)).catalog


def test_explain_net_sales_leaves_out_a_channel_without_refunds(demo_shop: Path) -> None:
    """JD sends no refund feed: its net sales are unknown, so explain leaves it out (and says so) instead of
    decomposing its GMV as net sales with refunds read as 0; the total is the other channels' change."""
    with Project(demo_shop, read_only=True) as p:
        result, info = p.explain("2025-11", vs="previous", metric="net_sales")
        assert info["left_out"] == {"members": ["jd"], "reason": "no_refunds"}
        assert "jd" not in set(result.by_member["channel_id"])
        paid = "(o.paid_at IS NOT NULL OR o.status IN ('paid', 'shipped', 'completed', 'refunded'))"

        def net(start: str, end: str) -> float:
            g = p.warehouse.execute(
                f"SELECT coalesce(sum(o.net_amount_base), 0) FROM orders o WHERE {paid} AND o.channel_id <> 'jd' "
                f"AND o.business_date BETWEEN DATE '{start}' AND DATE '{end}'"
            )[0][0]
            r = p.warehouse.execute(
                "SELECT coalesce(sum(amount_base), 0) FROM refunds WHERE channel_id <> 'jd' "
                f"AND business_date BETWEEN DATE '{start}' AND DATE '{end}'"
            )[0][0]
            return float(g) - float(r)

        change = net("2025-11-01", "2025-11-30") - net("2025-10-01", "2025-10-31")
        assert float(result.total["change"]) == pytest.approx(change, abs=0.01)
        gmv, gmv_info = p.explain("2025-11", vs="previous", metric="gmv")
        assert "left_out" not in gmv_info and "jd" in set(gmv.by_member["channel_id"])
