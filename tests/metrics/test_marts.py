"""The BI marts on every backend: hand-computed numbers, plain SQL on the base tables, idempotency, empty tables."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis.expr.datatypes as dt_
import pytest
from tests.conftest import write_project

from channelscope import Project
from channelscope.metrics.marts import CUSTOMER, DAILY_CHANNEL, DISTRIBUTOR, MARTS, create_marts
from channelscope.warehouse import Warehouse, open_warehouse

CONFIG = """
channels:
  - {id: tmall, name: 天猫旗舰店, kind: marketplace, platform: tmall}
  - {id: own, name: Own store, kind: own_store, platform: shopify}
  - {id: dist, name: Resellers, kind: distributor, platform: wechat}
distributors:
  - {id: d1, channel_id: dist, name: East, kind: reseller, tier: 1}
  - {id: d2, channel_id: dist, name: East-2, kind: affiliate, tier: 2, parent_id: d1}
sources:
  - {name: products, path: data/products.csv, preset: canonical_products}
  - {name: orders, path: data/orders.csv, preset: canonical_orders}
  - {name: lines, path: data/lines.csv, preset: canonical_order_lines}
  - {name: refunds, path: data/refunds.csv, preset: canonical_refunds}
  - {name: traffic, path: data/traffic.csv, preset: canonical_traffic}
  - {name: ads, path: data/ads.csv, preset: canonical_ad_spend}
  - {name: fees, path: data/fees.csv, preset: canonical_fees}
"""

PRODUCTS = """sku,name,list_price,unit_cost,min_advertised_price
A,Cream,100,30,90
B,Serum,50,10,
"""
# times are the channel's local time (Asia/Shanghai); O2 at 01:30 is 2024-03-01 17:30 UTC but business date 03-02
ORDERS = """source_order_id,channel_id,distributor_id,customer_key,ordered_at,status,net_amount
T1,tmall,,alice,2024-02-10 10:00:00,paid,100.10
T2,tmall,,bob,2024-02-10 11:00:00,created,50.00
T3,tmall,,alice,2024-02-10 12:00:00,completed,20.05
T4,tmall,,carol,2024-03-01 09:00:00,refunded,80.00
T5,tmall,,bob,2024-03-01 10:00:00,cancelled,30.00
O1,own,,alice,2024-03-01 20:00:00,shipped,200.00
O2,own,,dave,2024-03-02 01:30:00,paid,15.50
D1,dist,d1,erin,2024-03-01 10:00:00,paid,185.00
D2,dist,d2,frank,2024-03-01 11:00:00,paid,95.00
D3,dist,d2,frank,2024-03-02 11:00:00,cancelled,80.00
D4,dist,d1,erin,2024-03-02 12:00:00,completed,88.00
"""
# product A's minimum advertised price is 90: T4 (no distributor), D1 and D4 (paid) and D3 (cancelled) sell below it
LINES = """source_order_id,channel_id,line_no,sku,quantity,unit_price,amount
T1,tmall,1,A,1,100.10,100.10
T4,tmall,1,A,1,80,80
D1,dist,1,A,2,85,170
D1,dist,2,B,1,15,15
D2,dist,1,A,1,95,95
D3,dist,1,A,1,80,80
D4,dist,1,A,1,88,88
"""
REFUNDS = """source_order_id,channel_id,refund_id,refunded_at,amount
T4,tmall,r1,2024-03-03 10:00:00,80.00
O1,own,r1,2024-03-01 21:00:00,50.00
D1,dist,r1,2024-03-02 10:00:00,85.00
"""
TRAFFIC = """date,channel_id,distributor_id,impressions,visitors,page_views,add_to_cart
2024-02-10,tmall,,1000,100,300,20
2024-03-01,tmall,,2000,200,600,40
2024-03-01,dist,d1,500,50,100,10
2024-03-01,dist,d2,300,30,60,6
2024-03-04,own,,400,40,80,8
"""
ADS = """date,channel_id,platform,spend,impressions,clicks
2024-03-01,tmall,ztc,120.50,5000,100
2024-03-01,tmall,ylmf,30.00,1000,10
2024-03-05,own,google,10.00,200,5
"""
FEES = """date,channel_id,distributor_id,fee_type,amount
2024-03-01,tmall,,platform,5.00
2024-03-01,tmall,,payment,0.60
2024-03-01,tmall,,logistics,8.00
2024-03-01,dist,d1,commission,18.50
2024-03-01,dist,d2,commission,9.50
2024-03-02,dist,d1,commission,8.80
2024-03-02,own,,advertising,3.00
2024-03-06,dist,d2,commission,1.00
"""
PAID = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
PAID_O = "(o.paid_at IS NOT NULL OR o.status IN ('paid', 'shipped', 'completed', 'refunded'))"
COUNTS_DAILY = ["visitors", "impressions", "page_views", "add_to_cart", "orders", "paid_orders", "buyers"]
MONEY_DAILY = ["gmv", "refunds", "net_sales", "ad_spend", "channel_fees", "commissions", "other_fees"]


def build(folder: Path, url: str) -> Path:
    write_project(folder, CONFIG, url)
    data = folder / "data"
    data.mkdir()
    for name, text in {
        "products": PRODUCTS,
        "orders": ORDERS,
        "lines": LINES,
        "refunds": REFUNDS,
        "traffic": TRAFFIC,
        "ads": ADS,
        "fees": FEES,
    }.items():
        (data / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def shop(tmp_path: Path, warehouse_url: str):
    p = Project(build(tmp_path / "shop", warehouse_url))
    results = p.ingest()
    assert all(r.status == "loaded" and r.quarantined == 0 for r in results), [(r.source, r.message) for r in results]
    assert create_marts(p.warehouse) == [DAILY_CHANNEL, DISTRIBUTOR, CUSTOMER]
    yield p
    p.close()


def rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    """Rows of a query as dicts, named by the columns Ibis reports for it."""
    names = list(wh.ibis.sql(sql).schema().names)
    return [dict(zip(names, r, strict=True)) for r in wh.execute(sql)]


def view(wh: Warehouse, name: str, order: str) -> dict[tuple, dict[str, Any]]:
    keys = [k.strip() for k in order.split(",")]
    return {tuple(r[k] for k in keys): r for r in rows(wh, f"SELECT * FROM {name} ORDER BY {order}")}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


M = Decimal


def customer_keys(wh: Warehouse) -> dict[str, str]:
    """Pseudonym of each test customer, found through their first order."""
    first = {"alice": "T1", "bob": "T2", "carol": "T4", "dave": "O2", "erin": "D1", "frank": "D2"}
    keys = dict(wh.execute("SELECT source_order_id, customer_key FROM orders"))
    return {name: keys[order] for name, order in first.items()}


# ---- hand-computed numbers --------------------------------------------------------------------


def test_daily_channel_matches_hand_computed_numbers(shop: Project) -> None:
    m = view(shop.warehouse, DAILY_CHANNEL, "date, channel_id")
    assert list(m) == [
        (d("2024-02-10"), "tmall"),
        (d("2024-03-01"), "dist"),
        (d("2024-03-01"), "own"),
        (d("2024-03-01"), "tmall"),
        (d("2024-03-02"), "dist"),
        (d("2024-03-02"), "own"),
        (d("2024-03-03"), "tmall"),  # a refund alone
        (d("2024-03-04"), "own"),  # traffic alone
        (d("2024-03-05"), "own"),  # ad spend alone
        (d("2024-03-06"), "dist"),  # a commission alone
    ]
    cols = [*COUNTS_DAILY, *MONEY_DAILY]
    # fmt: off
    expected = {
        ("2024-02-10", "tmall"): (100, 1000, 300, 20, 3, 2, 1, M("120.15"), 0, M("120.15"), 0, 0, 0, 0),
        ("2024-03-01", "tmall"): (200, 2000, 600, 40, 2, 1, 1, M("80.00"), 0, M("80.00"), M("150.50"), M("13.60"), 0, 0),
        ("2024-03-03", "tmall"): (0, 0, 0, 0, 0, 0, 0, 0, M("80.00"), M("-80.00"), 0, 0, 0, 0),
        ("2024-03-01", "own"): (0, 0, 0, 0, 1, 1, 1, M("200.00"), M("50.00"), M("150.00"), 0, 0, 0, 0),
        ("2024-03-02", "own"): (0, 0, 0, 0, 1, 1, 1, M("15.50"), 0, M("15.50"), 0, 0, 0, M("3.00")),
        ("2024-03-04", "own"): (40, 400, 80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        ("2024-03-05", "own"): (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, M("10.00"), 0, 0, 0),
        ("2024-03-01", "dist"): (80, 800, 160, 16, 2, 2, 2, M("280.00"), 0, M("280.00"), 0, 0, M("28.00"), 0),
        ("2024-03-02", "dist"): (0, 0, 0, 0, 2, 1, 1, M("88.00"), M("85.00"), M("3.00"), 0, 0, M("8.80"), 0),
        ("2024-03-06", "dist"): (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, M("1.00"), 0),
    }
    # fmt: on
    for (day, channel), values in expected.items():
        row = m[(d(day), channel)]
        assert tuple(row[c] for c in cols) == values, (day, channel)
        for c in MONEY_DAILY:
            assert isinstance(row[c], Decimal), c  # money stays exact
    first = m[(d("2024-02-10"), "tmall")]
    assert (first["channel_name"], first["channel_kind"], first["platform"]) == ("天猫旗舰店", "marketplace", "tmall")
    assert (first["iso_week"], first["month"], first["year"], first["is_weekend"]) == ("2024-W06", 2, 2024, True)
    assert first["festival"] == "春节" and first["festival_en"] == "Spring Festival"
    friday = m[(d("2024-03-01"), "own")]
    assert (friday["is_weekend"], friday["festival"], friday["iso_week"]) == (False, None, "2024-W09")


def test_distributor_matches_hand_computed_numbers(shop: Project) -> None:
    m = view(shop.warehouse, DISTRIBUTOR, "date, distributor_id")
    cols = ["orders", "paid_orders", "gmv", "refunds", "net_sales", "commission", "lines_sold", "lines_below_map"]
    expected = {
        ("2024-03-01", "d1"): (1, 1, M("185.00"), 0, M("185.00"), M("18.50"), 2, 1),  # D1: A at 85 < 90; B no MAP
        ("2024-03-01", "d2"): (1, 1, M("95.00"), 0, M("95.00"), M("9.50"), 1, 0),
        ("2024-03-02", "d1"): (1, 1, M("88.00"), M("85.00"), M("3.00"), M("8.80"), 1, 1),  # D1's refund, D4 at 88
        ("2024-03-02", "d2"): (1, 0, 0, 0, 0, 0, 0, 0),  # D3 was cancelled: its line below MAP was not sold
        ("2024-03-06", "d2"): (0, 0, 0, 0, 0, M("1.00"), 0, 0),
    }
    assert list(m) == [(d(k[0]), k[1]) for k in expected]
    for (day, dist), values in expected.items():
        assert tuple(m[(d(day), dist)][c] for c in cols) == values, (day, dist)
    d2 = m[(d("2024-03-01"), "d2")]
    assert (d2["distributor_name"], d2["distributor_kind"], d2["tier"], d2["parent_id"], d2["channel_id"]) == (
        "East-2",
        "affiliate",
        2,
        "d1",
        "dist",
    )
    assert m[(d("2024-03-01"), "d1")]["parent_id"] is None


def test_customer_matches_hand_computed_numbers(shop: Project) -> None:
    wh = shop.warehouse
    k = customer_keys(wh)
    m = view(wh, CUSTOMER, "customer_key")
    assert set(m) == {(v,) for v in k.values()}
    cols = ["orders", "paid_orders", "gmv", "refunds", "net_sales", "channels_used", "days_since_last_order"]
    cols += ["acquisition_channel_id", "first_order_at", "last_order_at"]
    ts = dt.datetime.fromisoformat
    # fmt: off
    expected = {
        # the latest business date in orders is 2024-03-02; times are UTC
        "alice": (3, 3, M("320.15"), M("50.00"), M("270.15"), 2, 1, "tmall", ts("2024-02-10 02:00"), ts("2024-03-01 12:00")),
        "bob": (2, 0, 0, 0, 0, 1, 1, "tmall", ts("2024-02-10 03:00"), ts("2024-03-01 02:00")),
        "carol": (1, 1, M("80.00"), M("80.00"), 0, 1, 1, "tmall", ts("2024-03-01 01:00"), ts("2024-03-01 01:00")),
        "dave": (1, 1, M("15.50"), 0, M("15.50"), 1, 0, "own", ts("2024-03-01 17:30"), ts("2024-03-01 17:30")),
        "erin": (2, 2, M("273.00"), M("85.00"), M("188.00"), 1, 0, "dist", ts("2024-03-01 02:00"), ts("2024-03-02 04:00")),
        "frank": (2, 1, M("95.00"), 0, M("95.00"), 1, 0, "dist", ts("2024-03-01 03:00"), ts("2024-03-02 03:00")),
    }
    # fmt: on
    for name, values in expected.items():
        row = m[(k[name],)]
        got = tuple(row[c] for c in cols)
        assert got[:-2] == values[:-2], name
        assert [_naive(x) for x in got[-2:]] == list(values[-2:]), name
    # business dates (Asia/Shanghai), for cohorts: dave's first order is 03-01 in UTC but 03-02 locally
    dave, alice = m[(k["dave"],)], m[(k["alice"],)]
    assert (dave["first_order_date"], dave["last_order_date"]) == (d("2024-03-02"), d("2024-03-02"))
    assert (alice["first_order_date"], alice["last_order_date"]) == (d("2024-02-10"), d("2024-03-01"))


def _naive(value: Any) -> dt.datetime:
    return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


# ---- against plain SQL on the base tables --------------------------------------------------------


def _eq(plain: list[tuple], mart: list[tuple]) -> None:
    """Same rows (numbers compare by value: 2 == Decimal('2.00'))."""
    assert mart == plain
    assert plain  # the comparison is not vacuous


def test_marts_agree_with_plain_sql_on_the_base_tables(shop: Project) -> None:
    wh = shop.warehouse
    # daily channel: totals per channel, each from its own table
    _eq(
        wh.execute(
            f"SELECT channel_id, count(*), sum(CASE WHEN {PAID} THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN {PAID} THEN net_amount_base ELSE 0 END) FROM orders GROUP BY 1 ORDER BY 1"
        ),
        wh.execute(
            f"SELECT channel_id, sum(orders), sum(paid_orders), sum(gmv) FROM {DAILY_CHANNEL} "
            "GROUP BY 1 HAVING sum(orders) > 0 ORDER BY 1"
        ),
    )
    for table, amount, mart_col in (
        ("refunds", "amount_base", "refunds"),
        ("ad_spend", "spend_base", "ad_spend"),
        ("traffic", "visitors", "visitors"),
        ("traffic", "add_to_cart", "add_to_cart"),
    ):
        day = "business_date" if table == "refunds" else "date"
        _eq(
            wh.execute(f"SELECT {day}, channel_id, sum({amount}) FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"),
            wh.execute(f"SELECT date, channel_id, {mart_col} FROM {DAILY_CHANNEL} WHERE {mart_col} <> 0 ORDER BY 1, 2"),
        )
    _eq(
        wh.execute(
            "SELECT channel_id, sum(CASE WHEN fee_type IN ('platform', 'payment', 'logistics') THEN amount_base ELSE 0 END), "
            "sum(CASE WHEN fee_type = 'commission' THEN amount_base ELSE 0 END), "
            "sum(CASE WHEN fee_type NOT IN ('platform', 'payment', 'logistics', 'commission') THEN amount_base ELSE 0 END) "
            "FROM fees GROUP BY 1 ORDER BY 1"
        ),
        wh.execute(
            f"SELECT channel_id, sum(channel_fees), sum(commissions), sum(other_fees) FROM {DAILY_CHANNEL} "
            "GROUP BY 1 HAVING sum(channel_fees) + sum(commissions) + sum(other_fees) <> 0 ORDER BY 1"
        ),
    )
    # buyers of one day and channel: distinct paid customers
    _eq(
        wh.execute(
            f"SELECT business_date, channel_id, count(DISTINCT customer_key) FROM orders WHERE {PAID} "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        wh.execute(f"SELECT date, channel_id, buyers FROM {DAILY_CHANNEL} WHERE buyers > 0 ORDER BY 1, 2"),
    )
    # net_sales is gmv - refunds on every row
    assert wh.execute(f"SELECT count(*) FROM {DAILY_CHANNEL} WHERE net_sales <> gmv - refunds")[0][0] == 0
    # distributor: gmv, refunds (through the refunded order), commission and MAP breaches
    _eq(
        wh.execute(
            f"SELECT distributor_id, sum(net_amount_base) FROM orders WHERE distributor_id IS NOT NULL "
            f"AND {PAID} GROUP BY 1 ORDER BY 1"
        ),
        wh.execute(f"SELECT distributor_id, sum(gmv) FROM {DISTRIBUTOR} GROUP BY 1 ORDER BY 1"),
    )
    _eq(
        wh.execute(
            "SELECT r.business_date, o.distributor_id, sum(r.amount_base) FROM refunds r JOIN orders o "
            "ON o.order_id = r.order_id WHERE o.distributor_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        wh.execute(f"SELECT date, distributor_id, refunds FROM {DISTRIBUTOR} WHERE refunds <> 0 ORDER BY 1, 2"),
    )
    _eq(
        wh.execute(
            "SELECT date, distributor_id, sum(amount_base) FROM fees WHERE fee_type = 'commission' "
            "AND distributor_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        wh.execute(f"SELECT date, distributor_id, commission FROM {DISTRIBUTOR} WHERE commission <> 0 ORDER BY 1, 2"),
    )
    _eq(
        wh.execute(
            "SELECT o.business_date, o.distributor_id, count(*) FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
            "JOIN products p ON p.sku = l.sku WHERE l.unit_price < p.min_advertised_price "
            f"AND o.distributor_id IS NOT NULL AND {PAID_O} GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        wh.execute(
            f"SELECT date, distributor_id, lines_below_map FROM {DISTRIBUTOR} WHERE lines_below_map > 0 ORDER BY 1, 2"
        ),
    )
    _eq(
        wh.execute(
            "SELECT o.distributor_id, count(*) FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
            f"WHERE o.distributor_id IS NOT NULL AND {PAID_O} GROUP BY 1 ORDER BY 1"
        ),
        wh.execute(f"SELECT distributor_id, sum(lines_sold) FROM {DISTRIBUTOR} GROUP BY 1 ORDER BY 1"),
    )
    # customer: one row per buyer, lifetime sums, distinct channels, first order's channel
    _eq(
        wh.execute(
            f"SELECT customer_key, count(*), sum(CASE WHEN {PAID} THEN net_amount_base ELSE 0 END), "
            "count(DISTINCT channel_id), min(ordered_at), max(ordered_at) FROM orders "
            "WHERE customer_key IS NOT NULL GROUP BY 1 ORDER BY 1"
        ),
        wh.execute(
            f"SELECT customer_key, orders, gmv, channels_used, first_order_at, last_order_at FROM {CUSTOMER} ORDER BY 1"
        ),
    )
    _eq(
        wh.execute("SELECT customer_key, acquisition_channel_id FROM customers ORDER BY 1"),
        wh.execute(f"SELECT customer_key, acquisition_channel_id FROM {CUSTOMER} ORDER BY 1"),
    )
    _eq(
        wh.execute(
            "SELECT o.customer_key, sum(r.amount_base) FROM refunds r JOIN orders o ON o.order_id = r.order_id "
            "GROUP BY 1 ORDER BY 1"
        ),
        wh.execute(f"SELECT customer_key, refunds FROM {CUSTOMER} WHERE refunds <> 0 ORDER BY 1"),
    )


def test_column_types_are_the_same_on_every_backend(shop: Project) -> None:
    money = dt_.Decimal(18, 2)
    for name in MARTS:
        schema = shop.warehouse.ibis.table(name).schema()
        for col, typ in schema.items():
            if col in (*MONEY_DAILY, "commission"):
                assert typ.copy(nullable=True) == money, (name, col, typ)
            if col in (*COUNTS_DAILY, "channels_used", "lines_sold", "lines_below_map", "days_since_last_order"):
                assert typ.copy(nullable=True) == dt_.int64, (name, col, typ)
        assert "date" not in schema or schema["date"].is_date()


# ---- idempotency and empty tables ---------------------------------------------------------------


def test_creating_the_marts_again_changes_nothing(shop: Project) -> None:
    wh = shop.warehouse
    before = {n: wh.execute(f"SELECT * FROM {n} ORDER BY 1, 2") for n in MARTS}
    assert create_marts(wh) == list(MARTS)
    assert create_marts(wh) == list(MARTS)
    assert {n: wh.execute(f"SELECT * FROM {n} ORDER BY 1, 2") for n in MARTS} == before


def test_a_view_with_other_columns_is_replaced(shop: Project) -> None:
    """An older mart with other columns (PostgreSQL cannot CREATE OR REPLACE it) is dropped and created
    again; on PostgreSQL a BI role's SELECT on it is kept."""
    wh = shop.warehouse
    wh.ibis.drop_view(CUSTOMER)
    wh.execute(f"CREATE VIEW {CUSTOMER} AS SELECT 'x' AS customer_key, 1 AS old_column")
    role = f"cs_bi_{uuid.uuid4().hex[:8]}"
    if wh.name == "postgres":
        wh.execute(f"CREATE ROLE {role} NOLOGIN")
        wh.execute(f"GRANT SELECT ON {CUSTOMER} TO {role}")
    try:
        create_marts(wh)
        assert "old_column" not in wh.ibis.table(CUSTOMER).columns
        assert wh.execute(f"SELECT count(*) FROM {CUSTOMER}")[0][0] == 6
        if wh.name == "postgres":
            assert wh.execute(f"SELECT has_table_privilege('{role}', '{CUSTOMER}', 'SELECT')") == [(True,)]
    finally:
        if wh.name == "postgres":
            wh.execute(f"REVOKE ALL ON {CUSTOMER} FROM {role}")
            wh.execute(f"DROP ROLE {role}")


def test_marts_on_an_empty_warehouse(tmp_path: Path, warehouse_url: str) -> None:
    folder = write_project(tmp_path / "empty", "channels: []\nsources: []\n", warehouse_url)
    wh = open_warehouse(warehouse_url, folder)  # not even the canonical tables yet
    try:
        assert create_marts(wh) == list(MARTS)
        assert create_marts(wh) == list(MARTS)
        for name in MARTS:
            assert wh.execute(f"SELECT count(*) FROM {name}")[0][0] == 0
            assert wh.ibis.table(name).to_pandas().empty
        assert wh.execute(f"SELECT sum(gmv), sum(visitors) FROM {DAILY_CHANNEL}") == [(None, None)]
    finally:
        wh.close()


def test_the_views_follow_the_tables(tmp_path: Path, warehouse_url: str) -> None:
    """Created once on empty tables, the marts show data loaded afterwards: BI never needs a refresh."""
    with Project(build(tmp_path / "shop", warehouse_url)) as p:
        create_marts(p.warehouse)
        assert p.warehouse.execute(f"SELECT count(*) FROM {DAILY_CHANNEL}")[0][0] == 0
        p.ingest()
        assert p.warehouse.execute(f"SELECT count(*), sum(gmv) FROM {DAILY_CHANNEL}") == [(10, M("783.65"))]
