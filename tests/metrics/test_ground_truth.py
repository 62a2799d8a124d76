"""The demo's ground_truth.json is the oracle: every figure it holds equals the KPI layer, on DuckDB and
PostgreSQL. The generator writes those figures from the orders it made (not from our warehouse), so a
difference is a bug in cleaning, loading or the metrics' basis.

An input a channel does not send (JD's export has no refunds) is empty in the KPI layer with a coverage
reason, where the ground truth counts 0 refunds: both say "nothing known", the KPI layer never says 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import demo_project

from channelscope import Project

NO_REFUND_FEED = {"jd"}  # the demo's JD export has no refund columns


@pytest.fixture(scope="module")
def shop(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with demo_project(request, backend, tmp_path_factory.mktemp("truth") / "shop") as folder:
        p = Project(folder)
        yield p
        p.close()


def truth(p: Project) -> dict:
    return json.loads((Path(p.folder) / "ground_truth.json").read_text(encoding="utf-8"))


def cents(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


COLS = ["orders", "paid_orders", "gmv", "refund_count", "refunds"]
TRUTH_COLS = ["orders", "paid_orders", "paid_gmv", "refund_count", "refunds"]


def _check_row(got: pd.Series, want: dict, where: str) -> None:
    channel = want.get("channel_id")
    for col, key in zip(COLS, TRUTH_COLS, strict=True):
        g = got[col]
        if channel in NO_REFUND_FEED and col in ("refunds", "refund_count"):
            assert pd.isna(g) and Decimal(str(want[key])) == 0, (where, col)  # unknown, never a made-up 0
            continue
        g = 0 if pd.isna(g) else g
        if col in ("gmv", "refunds"):
            assert cents(g) == cents(want[key]), (where, col, g, want[key])
        else:
            assert int(g) == int(want[key]), (where, col, g, want[key])


def test_totals_and_channels_equal_ground_truth(shop: Project) -> None:
    gt = truth(shop)
    total = shop.kpis(COLS).iloc[0]
    assert int(total.orders) == gt["totals"]["orders"] == 20088
    assert int(total.paid_orders) == gt["totals"]["paid_orders"]
    assert cents(total.gmv) == cents(gt["totals"]["paid_gmv"]) == Decimal("8121212.42")
    assert cents(total.refunds) == cents(gt["totals"]["refunds"])  # JD has none: its refunds are unknown
    assert int(total.refund_count) == gt["totals"]["refund_count"]
    by = shop.kpis(COLS, by=["channel"]).set_index("channel")
    assert sorted(by.index) == sorted(gt["totals_by_channel"])
    for channel, want in gt["totals_by_channel"].items():
        _check_row(by.loc[channel], {**want, "channel_id": channel}, channel)


def test_channel_by_month_equals_ground_truth(shop: Project) -> None:
    gt = truth(shop)
    got = shop.kpis(COLS, by=["channel"], grain="month")
    got["month"] = pd.to_datetime(got["period"]).dt.strftime("%Y-%m")
    got = got.set_index(["channel", "month"])
    assert len(gt["by_channel_month"]) == 85
    for want in gt["by_channel_month"]:
        key = (want["channel_id"], want["month"])
        assert key in got.index, key
        _check_row(got.loc[key], want, str(key))


def test_november_2025_gmv_per_channel(shop: Project) -> None:
    """The issue's figures: paid GMV ¥710,538.35 (Tmall ¥193,060.80), was ¥681,821.55 (¥180,091.40)."""
    gt = truth(shop)
    nov = [r for r in gt["by_channel_month"] if r["month"] == "2025-11"]
    got = shop.kpis(["gmv"], by=["channel"], start="2025-11-01", end="2025-11-30").set_index("channel")
    for r in nov:
        assert cents(got.loc[r["channel_id"], "gmv"]) == cents(r["paid_gmv"])
    total = shop.kpis(["gmv"], start="2025-11-01", end="2025-11-30").gmv.iloc[0]
    assert cents(total) == sum(cents(r["paid_gmv"]) for r in nov) == Decimal("710538.35")
    assert cents(got.loc["tmall", "gmv"]) == Decimal("193060.80")


def test_distributors_fees_and_ad_spend_equal_ground_truth(shop: Project) -> None:
    gt = truth(shop)
    dist = shop.kpis(["gmv"], by=["distributor"]).dropna(subset=["distributor"]).set_index("distributor")
    assert len(gt["paid_gmv_by_distributor"]) == 49
    for distributor, gmv in gt["paid_gmv_by_distributor"].items():
        assert cents(dist.loc[distributor, "gmv"]) == cents(gmv), distributor
    fees = shop.kpis(["channel_fees", "commissions"], by=["channel"]).set_index("channel")
    want_fees: dict[str, Decimal] = {}
    want_comm: dict[str, Decimal] = {}
    for key, amount in gt["fees"].items():
        channel, kind = key.split("/")
        bucket = want_comm if kind == "commission" else want_fees
        bucket[channel] = bucket.get(channel, Decimal(0)) + Decimal(amount)
    for channel in fees.index:
        assert cents(fees.loc[channel, "channel_fees"]) == cents(want_fees.get(channel, 0)), channel
        assert cents(fees.loc[channel, "commissions"]) == cents(want_comm.get(channel, 0)), channel
    ads = shop.kpis(["ad_spend"], by=["channel"]).set_index("channel")
    for channel, spend in gt["ad_spend"].items():
        assert cents(ads.loc[channel, "ad_spend"]) == cents(spend), channel
    assert "wechat_resellers" not in gt["ad_spend"]  # no ads (and no ad spend rows): nothing to compare


def test_table_counts_equal_ground_truth(shop: Project) -> None:
    gt = truth(shop)
    counts = shop.status()["counts"]
    for table, n in gt["tables"].items():
        assert counts[table] == n, table


def test_coverage_cases_are_empty_with_a_reason(shop: Project) -> None:
    """No order lines (Tmall) -> no COGS or margin; no refunds (JD) -> refund rate unknown; no traffic
    (WeChat resellers) -> no conversion rate. Totals of ratios are like for like."""
    kw = {"start": "2025-11-01", "end": "2025-11-30"}
    names = ["cogs", "contribution_margin_rate", "refund_rate", "conversion_rate", "paid_orders", "visitors"]
    by = shop.kpis(names, by=["channel"], **kw).set_index("channel")
    assert pd.isna(by.loc["tmall", "cogs"]) and pd.isna(by.loc["tmall", "contribution_margin_rate"])
    assert pd.isna(by.loc["jd", "refund_rate"]) and pd.isna(by.loc["wechat_resellers", "conversion_rate"])
    assert by.loc["douyin", "refund_rate"] > 0
    total = shop.kpis(["conversion_rate"], **kw).conversion_rate.iloc[0]
    with_traffic = by.drop(index="wechat_resellers")
    assert total == pytest.approx(with_traffic.paid_orders.sum() / with_traffic.visitors.sum())
    cov = shop.kpi_coverage(["contribution_margin_rate", "refund_rate", "conversion_rate", "gmv"], **kw)
    got = {(r.metric, r.channel, r.reason) for r in cov.itertuples()}
    assert got == {
        ("contribution_margin_rate", "tmall", "no_order_lines"),
        ("contribution_margin_rate", "jd", "no_refunds"),
        ("refund_rate", "jd", "no_refunds"),
        ("conversion_rate", "wechat_resellers", "no_traffic"),
    }
    assert cov.left_out_of_total.all() and cov.reason_zh.str.len().gt(0).all()
