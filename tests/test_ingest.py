"""The data path end to end on every backend: accounting, quarantine, dedupe, idempotency, privacy."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import KEY, write_project

from channelscope import Project

CONFIG = """
channels:
  - {id: tmall, name: 天猫, kind: marketplace, platform: tmall}
  - {id: own, name: Own, kind: own_store, platform: shopify, currency: USD}
sources:
  - {name: fx, path: exports/fx.csv, preset: canonical_fx_rates}
  - {name: products, path: exports/products.csv, preset: canonical_products}
  - {name: orders, path: "exports/orders*.csv", preset: canonical_orders, channel_id: tmall}
  - {name: lines, path: exports/lines.csv, preset: canonical_order_lines, channel_id: tmall}
  - {name: own_orders, path: exports/own.jsonl, preset: canonical_orders, channel_id: own}
"""

ORDERS1 = """source_order_id,customer_key,ordered_at,paid_at,updated_at,status,net_amount,gross_amount
1,+86 138-0013-8000,2024-01-05 13:00:00,2024-01-05 13:05:00,2024-01-05 13:05:00,paid,100,120
2,13800138001,2024/1/6 10:00,,2024-01-06 10:00:00,created,50.5,50.5
2,13800138001,2024/1/6 10:00,,2024-01-06 10:00:00,created,50.5,50.5
3,13800138002,junk,,2024-01-06 10:00:00,paid,-5,x
4,,2024-01-07 10:00:00,2024-01-06 10:00:00,,weird,10,10
5,13800138000,2024年1月8日 09:30,2024年1月8日 09:31,,completed,"1,234.50",1234.5
"""
ORDERS2 = """source_order_id,customer_key,ordered_at,paid_at,updated_at,status,net_amount,gross_amount
1,13800138000,2024-01-05 13:00:00,2024-01-05 13:05:00,2024-01-08 13:05:00,refunded,100,120
2,13800138001,2024/1/6 10:00,,2024-01-05 10:00:00,cancelled,50.5,50.5
"""
LINES = """source_order_id,line_no,sku,quantity,unit_price,amount
1,1,A1,1,100,100
2,1,B2,-1,50.5,50.5
2,2,ZZ,1,50,50
2,3,A1,1,1,1
"""


def build(folder: Path, url: str) -> Path:
    write_project(folder, CONFIG, url)
    ex = folder / "exports"
    ex.mkdir()
    (ex / "fx.csv").write_text("date,currency,rate_to_base\n2024-01-01,USD,7.10\n2024-01-07,USD,7.20\n")
    (ex / "products.csv").write_text("sku,name,list_price,unit_cost\nA1,Cream,100,30\nB2,Serum,200,50\n")
    (ex / "orders1.csv").write_text(ORDERS1)
    (ex / "orders2.csv").write_text(ORDERS2)
    (ex / "lines.csv").write_text(LINES)
    own = [
        {
            "source_order_id": "S1",
            "customer_key": "13800138000",
            "ordered_at": "2024-01-06T01:00:00Z",
            "status": "paid",
            "net_amount": "10.00",
            "paid_at": "2024-01-06T01:00:00Z",
        },
        {
            "source_order_id": "S2",
            "customer_key": "x@y.com",
            "ordered_at": "2024-01-08 12:00:00",
            "status": "paid",
            "net_amount": 20,
            "paid_at": "2024-01-08 12:00:00",
        },
    ]
    (ex / "own.jsonl").write_text("\n".join(json.dumps(r) for r in own) + "\n")
    return folder


def pseudonym(normalized: str) -> str:
    return hmac.new(KEY.encode(), normalized.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.fixture
def loaded(tmp_path: Path, warehouse_url: str):
    p = Project(build(tmp_path / "shop", warehouse_url))
    results = p.ingest()
    yield p, {(r.source, Path(r.file).name): r for r in results}
    p.close()


def test_every_row_is_accounted(loaded) -> None:
    p, res = loaded
    o1 = res[("orders", "orders1.csv")]
    assert (o1.rows_in, o1.loaded, o1.quarantined, o1.duplicates) == (6, 3, 2, 1)
    o2 = res[("orders", "orders2.csv")]
    # order 1 is newer (replaces), order 2 is an older export (stale): a duplicate
    assert (o2.rows_in, o2.loaded, o2.replaced, o2.duplicates) == (2, 1, 1, 1)
    ledger = p.table("batches").to_pandas()
    assert (ledger.rows_in == ledger.loaded + ledger.quarantined + ledger.duplicates).all()
    assert len(ledger) == 6


def test_latest_export_wins_and_values_are_exact(loaded) -> None:
    p, _ = loaded
    o = p.table("orders").to_pandas().set_index("order_id")
    assert o.loc["tmall:1", "status"] == "refunded"
    assert o.loc["tmall:2", "status"] == "created"  # the later file held an older version
    assert o.loc["tmall:5", "net_amount"] == Decimal("1234.50")
    # 2024年1月8日 09:30 in Asia/Shanghai is 01:30 UTC
    assert str(o.loc["tmall:5", "ordered_at"]) == "2024-01-08 01:30:00"
    assert str(o.loc["tmall:5", "business_date"])[:10] == "2024-01-08"


def test_money_is_converted_at_the_business_date(loaded) -> None:
    p, _ = loaded
    o = p.table("orders").to_pandas().set_index("order_id")
    # S1: 2024-01-06 09:00 Shanghai -> rate of 2024-01-01 (7.10); S2: 2024-01-08 -> 7.20
    assert o.loc["own:S1", "currency"] == "USD"
    assert o.loc["own:S1", "net_amount_base"] == Decimal("71.00")
    assert o.loc["own:S2", "net_amount_base"] == Decimal("144.00")


def test_quarantine_keeps_every_reason(loaded) -> None:
    p, _ = loaded
    q = p.quarantined(source="orders")
    reasons = {int(r.row_number): json.loads(r.reasons) for r in q.itertuples()}
    assert set(reasons) == {4, 5}
    assert "ordered_at: cannot read 'junk' as timestamp" in reasons[4]
    assert "gross_amount: cannot read 'x' as money" in reasons[4]
    assert "net_amount=-5.00: must be >= 0" in reasons[4]
    assert "paid_at is before ordered_at" in reasons[5]
    assert any(r.startswith("status=weird: is not one of") for r in reasons[5])
    lines = {int(r.row_number): json.loads(r.reasons) for r in p.quarantined(source="lines").itertuples()}
    assert lines == {
        2: ["quantity=-1: must be > 0"],
        3: ["unknown sku (not in products)"],
        4: ["unit_price is outside 0.1x-5x of the product's list_price (outlier)"],
    }


def test_personal_data_is_pseudonymized_and_joins_across_channels(loaded) -> None:
    p, _ = loaded
    o = p.table("orders").to_pandas().set_index("order_id")
    phone = pseudonym("13800138000")
    assert o.loc["tmall:1", "customer_key"] == phone  # '+86 138-0013-8000' normalized
    assert o.loc["own:S1", "customer_key"] == phone
    assert o.loc["own:S2", "customer_key"] == pseudonym("x@y.com")
    c = p.table("customers").to_pandas().set_index("customer_key")
    assert c.loc[phone, "acquisition_channel_id"] == "tmall"
    # no raw phone number anywhere in the warehouse, quarantine included
    for name in ("orders", "quarantine", "customers", "batches"):
        text = p.table(name).to_pandas().astype(str).to_csv()
        assert "13800138" not in text, name


def test_loading_again_changes_nothing(loaded) -> None:
    p, _ = loaded
    before = {
        t: p.table(t).to_pandas().sort_values(p.table(t).columns[0]).reset_index(drop=True)
        for t in ("orders", "order_lines", "quarantine")
    }
    again = p.ingest()
    assert {r.status for r in again} == {"skipped"}
    for t, df in before.items():
        pd.testing.assert_frame_equal(
            df, p.table(t).to_pandas().sort_values(p.table(t).columns[0]).reset_index(drop=True)
        )


def test_same_content_under_another_name_is_all_duplicates(loaded, tmp_path: Path) -> None:
    p, _ = loaded
    copy = p.folder / "exports" / "orders3.csv"
    head, *rows = ORDERS2.splitlines()
    copy.write_text("\n".join([head, *reversed(rows)]) + "\n")  # other bytes, same rows
    (r,) = p.ingest(["orders"])[-1:]
    assert r.file.endswith("orders3.csv")
    assert (r.rows_in, r.loaded, r.duplicates) == (2, 0, 2)


def test_fixed_quarantine_rows_load_on_reingest(loaded, tmp_path: Path) -> None:
    p, _ = loaded
    out = tmp_path / "fix.csv"
    assert p.export_quarantine(out, source="orders") == 2
    df = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    df.loc[df.source_order_id == "3", ["ordered_at", "net_amount", "gross_amount"]] = ["2024-01-06 10:00:00", "5", "5"]
    df = df[df.source_order_id == "3"]
    df.to_csv(out, index=False)
    (r,) = p.ingest(["orders"], files=[out])
    assert (r.rows_in, r.loaded, r.quarantined) == (1, 1, 0)
    o = p.table("orders").to_pandas().set_index("order_id")
    # the pseudonym exported in the quarantine is kept, not hashed twice
    assert o.loc["tmall:3", "customer_key"] == pseudonym("13800138002")
    # the fixed row's quarantine entry is resolved; the other one is still open
    assert p.quarantined(source="orders").source_key.tolist() == ["4"]


def test_file_formats_and_encodings(tmp_path: Path, warehouse_url: str) -> None:
    body = """
channels: [{id: tmall, name: 天猫, kind: marketplace, platform: tmall}]
sources:
  - name: gbk
    path: "exports/*"
    channel_id: tmall
    mapping:
      table: orders
      columns:
        source_order_id: 订单编号
        customer_key: {from: 联系手机, pii: phone}
        ordered_at: 订单创建时间
        status: {from: 订单状态, map: {交易成功: completed, 等待买家付款: created}}
        net_amount: {from: 买家实际支付金额}
"""
    folder = write_project(tmp_path / "shop", body, warehouse_url)
    ex = folder / "exports"
    ex.mkdir()
    header = "订单编号,联系手机,订单创建时间,订单状态,买家实际支付金额\n"
    rows = ["A1,13800000001,2024/1/5 13:00,交易成功,99.00\n", "A2,13800000002,2024-01-06 08:00:00,等待买家付款,10\n"]
    (ex / "a.csv").write_bytes((header + rows[0]).encode("gbk"))
    (ex / "b.csv").write_bytes((header + rows[1]).encode("utf-8-sig"))
    with gzip.open(ex / "c.csv.gz", "wb") as fh:
        fh.write((header + "A3,13800000003,2024年1月7日,交易成功,1\n").encode("gb18030"))
    with zipfile.ZipFile(ex / "d.zip", "w") as z:
        z.writestr("d1.csv", header + "A4,13800000004,2024-01-08,交易成功,2\n")
    frame = pd.DataFrame(
        [["A5", "13800000005", "2024-01-09 10:00", "交易成功", "3.5"]], columns=header.strip().split(",")
    )
    frame.to_excel(ex / "e.xlsx", index=False)
    frame.assign(订单编号="A6").to_parquet(ex / "f.parquet")
    with Project(folder) as p:
        results = p.ingest()
        assert [r.status for r in results] == ["loaded"] * 6, [r.message for r in results]
        o = p.table("orders").to_pandas().set_index("source_order_id")
    assert sorted(o.index) == ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert o.loc["A1", "status"] == "completed" and o.loc["A2", "status"] == "created"
    assert o.loc["A5", "net_amount"] == Decimal("3.50")


def test_an_excel_column_left_empty_loads_as_empty(tmp_path: Path) -> None:
    """A workbook column with no value at all (no payment times yet) is text like the others, not a number
    column that the cleaning rules cannot read (pandas 2 types it as float NaN)."""
    body = """
channels:
  - {id: mp, name: MP, kind: own_store, platform: wechat_miniprogram}
sources:
  - {name: orders, path: "exports/*.xlsx", preset: canonical_orders}
"""
    folder = write_project(tmp_path / "shop", body)
    (folder / "exports").mkdir()
    pd.DataFrame(
        {
            "source_order_id": ["X1", "X2"],
            "channel_id": ["mp", "mp"],
            "ordered_at": ["2025-03-01 10:00:00", "2025-03-02 11:00:00"],
            "paid_at": [None, None],
            "status": ["created", "created"],
            "net_amount": ["10.00", "20.50"],
        }
    ).to_excel(folder / "exports" / "o.xlsx", index=False)
    with Project(folder) as p:
        (r,) = p.ingest()
        assert r.status == "loaded", r.message
        o = p.table("orders").to_pandas()
    assert sorted(o["source_order_id"]) == ["X1", "X2"] and o["paid_at"].isna().all()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"\x00\x01\x02\xff\xfe\x00junk" * 100, "binary"),
    ],
)
def test_unreadable_files_fail_with_a_clear_message(tmp_path: Path, content: bytes, expected: str) -> None:
    folder = write_project(tmp_path / "shop", CONFIG)
    (folder / "exports").mkdir()
    (folder / "exports" / "orders_bad.csv").write_bytes(content)
    with Project(folder) as p:
        (r,) = p.ingest(["orders"])
        assert r.status == "failed"
        assert expected in r.message and "orders_bad.csv" in r.message
        ledger = p.table("batches").to_pandas()
        assert ledger.status.tolist() == ["failed"]


def test_a_line_level_order_loads_whole_or_not_at_all(tmp_path: Path, warehouse_url: str) -> None:
    body = """
channels: [{id: own, name: Own, kind: own_store, platform: shopify}]
sources:
  - name: products
    path: exports/products.csv
    preset: canonical_products
  - name: shop
    path: exports/orders.csv
    channel_id: own
    mapping:
      table: order_lines
      columns:
        source_order_id: Name
        line_no: {type: line_number}
        sku: Lineitem sku
        quantity: Lineitem quantity
        unit_price: Lineitem price
      also:
        - table: orders
          collapse: true
          columns:
            source_order_id: Name
            ordered_at: Created at
            status: {const: paid}
            net_amount: Total
"""
    folder = write_project(tmp_path / "shop", body, warehouse_url)
    (folder / "exports").mkdir()
    (folder / "exports" / "products.csv").write_text("sku,list_price\nA,10\nB,20\n")
    (folder / "exports" / "orders.csv").write_text(
        "Name,Created at,Total,Lineitem sku,Lineitem quantity,Lineitem price\n"
        "#1,2024-05-01 10:00:00 +0800,30,A,1,10\n"
        "#1,,,B,1,20\n"
        "#2,2024-05-02 10:00:00 +0800,10,A,1,10\n"
        "#2,,,B,-1,20\n"
    )
    with Project(folder) as p:
        r = p.ingest()[-1]
        assert r.status == "loaded", r.message
        assert (r.rows_in, r.loaded, r.quarantined) == (4, 2, 2)
        o = p.table("orders").to_pandas()
        assert o.order_id.tolist() == ["own:#1"] and o.net_amount.tolist() == [Decimal("30.00")]
        assert sorted(p.table("order_lines").to_pandas().line_no) == [1, 2]
        q = {int(x.row_number): json.loads(x.reasons) for x in p.quarantined().itertuples()}
        assert q == {3: ["another row of the same order_id was quarantined (row 4)"], 4: ["quantity=-1: must be > 0"]}


def test_malformed_lines_are_quarantined_not_lost(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "shop", CONFIG)
    (folder / "exports").mkdir()
    huge = "x" * 200_000
    text = (
        ORDERS1.splitlines()[0]
        + "\n"
        + "\n".join(
            [
                "10,13800138000,2024-01-05 13:00:00,,,paid,1,1",
                "11,13800138000,2024-01-05 13:00:00,,,paid,1,1,extra,fields,here",
                "12,13800138000",  # truncated
                f"13,{huge},2024-01-05 13:00:00,,,paid,1,1",
            ]
        )
        + "\n"
    )
    (folder / "exports" / "orders_x.csv").write_text(text)
    with Project(folder) as p:
        (r,) = p.ingest(["orders"])
        assert r.status == "loaded"
        assert r.rows_in == r.loaded + r.quarantined + r.duplicates == 4
        assert r.loaded == 2 and r.quarantined == 2
