"""Real exports at scale: files joined on keys (Olist), lines aggregated into orders and
cancellation invoices as refunds (the Online Retail layout), checked against pandas from the files,
with the ledger balanced, on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import KEY, shared_data, write_project

from channelscope import Project
from channelscope.errors import ConfigError

OLIST_FILES = ("olist_orders_dataset.csv", "olist_order_items_dataset.csv", "olist_order_payments_dataset.csv")
CUSTOMERS = "olistcustomerdataset.csv"


def _pseudonym(value: str) -> str:
    return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def _money(values: pd.Series) -> Decimal:
    return sum((Decimal(str(v)) for v in values if str(v) != ""), Decimal("0"))


def _balanced(p: Project) -> pd.DataFrame:
    b = p.table("batches").to_pandas()
    assert (b.rows_in == b.loaded + b.quarantined + b.duplicates).all(), b
    return b


# ---- Olist: orders joined to items, payments and customers ---------------------------------------


def _olist_expected() -> pd.DataFrame:
    """Olist orders with the amount pandas computes from the files: items' price + freight, else
    the payments' sum; orders with neither have no amount."""
    folder = shared_data("olist-excerpt")

    def read(name: str) -> pd.DataFrame:
        f = pd.read_csv(folder / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return f[(f != "").any(axis=1)]

    orders, items, pays, cust = (read(n) for n in (*OLIST_FILES, CUSTOMERS))
    items = items.assign(price=items.price.map(Decimal), freight=items.freight_value.map(Decimal))
    by_items = items.groupby("order_id").agg(gross=("price", "sum"), shipping=("freight", "sum"))
    paid = pays.assign(v=pays.payment_value.map(Decimal)).groupby("order_id")["v"].sum()
    person = cust.drop_duplicates("customer_id").set_index("customer_id")["customer_unique_id"]
    o = orders.set_index("order_id").join(by_items).join(paid.rename("paid"))
    o["net"] = [
        g + s if isinstance(g, Decimal) else (p if isinstance(p, Decimal) else None)
        for g, s, p in zip(o.gross, o.shipping, o.paid, strict=True)
    ]
    o["person"] = o.customer_id.map(person)
    local = pd.to_datetime(o.order_purchase_timestamp, format="%m/%d/%Y %H:%M")
    o["month"] = local.dt.strftime("%Y-%m")
    return o


def test_olist_orders_get_their_amounts_from_the_joined_files(tmp_path: Path, warehouse_url: str) -> None:
    folder = shared_data("olist-excerpt")
    for name in (*OLIST_FILES, CUSTOMERS):
        (tmp_path / "olist").mkdir(exist_ok=True)
        (tmp_path / "olist" / name).symlink_to(folder / name)
    body = f"""
channels:
  - {{id: olist, name: Olist, kind: marketplace, platform: olist, currency: BRL, timezone: America/Sao_Paulo}}
sources:
  - {{name: sales, path: '{tmp_path / "olist" / OLIST_FILES[0]}', preset: olist_sales, channel_id: olist}}
"""
    root = write_project(tmp_path / "p", body, warehouse_url)
    cfg = root / "channelscope.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "base_currency: CNY, timezone: Asia/Shanghai", "base_currency: BRL, timezone: America/Sao_Paulo"
        )
    )
    want = _olist_expected()
    with_amount = want[want.net.notna()]
    with Project(root) as p:
        (r,) = p.ingest()
        assert r.status == "loaded", r.message
        b = _balanced(p)
        # every row of the orders file: 9,999 orders and 89,442 empty rows (the excerpt's padding)
        assert (r.rows_in, r.loaded, r.quarantined, r.duplicates) == (99_441, len(with_amount), 99_441 - 1_790, 0)
        assert len(with_amount) == 1_790
        assert len(json.loads(b.details.iloc[0])["joined_files"]) == 3
        o = p.table("orders").to_pandas().set_index("source_order_id").sort_index()
        assert list(o.index) == sorted(with_amount.index)
        assert [Decimal(str(v)) for v in o.net_amount] == with_amount.sort_index().net.tolist()
        assert _money(o.net_amount) == _money(with_amount.net) == Decimal("273711.68")
        # the person joins customers: the same pseudonym as the olist_customers preset gives
        known = with_amount.person.dropna()
        assert o.loc[known.index, "customer_key"].tolist() == [_pseudonym(v) for v in known]
        # an order without items or payments is quarantined, never loaded as 0
        q = p.quarantined(source="sales", limit=None)
        real = q[~q.reasons.str.contains("order_id: required")]
        assert len(real) == 9_999 - 1_790
        assert set(real.reasons) == {'["net_amount: required value is missing"]'}
        # GMV per month (支付金额): orders with a payment time (order_approved_at, whatever happened after, a
        # later cancellation included), else a status reached after payment; in the project's time zone
        kpi = p.kpis(["gmv", "paid_orders"], grain="month").set_index("period")
        paid = with_amount[
            with_amount.order_approved_at.fillna("").ne("")
            | with_amount.order_status.isin(["delivered", "shipped", "approved", "invoiced", "processing"])
        ]
        by_month = paid.groupby("month")["net"].apply(lambda s: sum(s, Decimal(0)))
        got = {str(k)[:7]: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in kpi.gmv.items() if v}
        assert got == {m: v for m, v in by_month.items()}
        assert int(kpi.paid_orders.sum()) == len(paid)


# ---- a line-level export with cancellations (the public Online Retail layout) --------------------

RETAIL_MAPPING = """
    mapping:
      table: order_lines
      when: "source_order_id NOT LIKE 'C%'"
      columns:
        source_order_id: {from: InvoiceNo, type: code}
        line_no: {type: line_number}
        sku: {from: StockCode, type: code}
        quantity: Quantity
        unit_price: {from: UnitPrice, type: money}
        amount: {expr: "unit_price * quantity"}
      also:
        - table: orders
          collapse: true
          when: "source_order_id NOT LIKE 'C%'"
          let:
            qty: {from: Quantity, type: int}
            price: {from: UnitPrice, type: money}
          columns:
            source_order_id: {from: InvoiceNo, type: code}
            ordered_at: {from: InvoiceDate, format: "%m/%d/%Y %H:%M"}
            status: {const: completed}
            customer_key: {from: CustomerID, pii: id}
            region: Country
            gross_amount: {expr: "qty * price", aggregate: sum}
            net_amount: {expr: "qty * price", aggregate: sum}
        - table: refunds
          accounts: true
          when: "source_order_id LIKE 'C%'"
          let:
            qty: {from: Quantity, type: int}
            price: {from: UnitPrice, type: money}
            line: {type: line_number}
          columns:
            source_order_id: {from: InvoiceNo, type: code}
            refund_id: {expr: "CAST(line AS VARCHAR)"}
            refunded_at: {from: InvoiceDate, format: "%m/%d/%Y %H:%M"}
            amount: {expr: "-(qty * price)"}
            reason: {const: cancellation invoice}
"""


def _retail_file(path: Path, invoices: int = 400, seed: int = 11) -> pd.DataFrame:
    """Invoice lines as the Online Retail export writes them: 'C' invoices cancel earlier lines
    with negative quantities; a few exact repeats of a line; one unreadable quantity."""
    rng = random.Random(seed)
    stock = [(f"2{n:04d}", f"ITEM {n}", Decimal(rng.randint(39, 1995)) / 100) for n in range(60)]
    rows: list[list[str]] = []
    start = pd.Timestamp("2010-12-01 08:26")
    for i in range(invoices):
        ts = start + pd.Timedelta(minutes=97 * i)
        when = f"{ts.month}/{ts.day}/{ts.year} {ts.hour}:{ts.minute:02d}"
        cust = "" if rng.random() < 0.1 else f"{rng.randint(12346, 18287)}.0"
        country = rng.choice(["United Kingdom", "United Kingdom", "France", "Germany", "EIRE"])
        lines = []
        for code, desc, price in rng.sample(stock, rng.randint(1, 6)):
            lines.append([str(536365 + i), code, desc, str(rng.randint(1, 24)), when, f"{price}", cust, country])
        rows += lines
        if rng.random() < 0.12:  # a later cancellation of some of this invoice's lines
            later = ts + pd.Timedelta(hours=5)
            cwhen = f"{later.month}/{later.day}/{later.year} {later.hour}:{later.minute:02d}"
            for ln in rng.sample(lines, rng.randint(1, len(lines))):
                rows.append(
                    [f"C{581000 + i}", ln[1], ln[2], str(-rng.randint(1, int(ln[3]))), cwhen, ln[5], cust, country]
                )
        if rng.random() < 0.03:
            rows.append(list(rows[-1]))  # the export repeats a line now and then
    rows.append(["599999", "20001", "ITEM 1", "abc", "12/9/2011 12:50", "1.25", "12680.0", "France"])
    frame = pd.DataFrame(
        rows,
        columns=[
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
    )
    frame.to_csv(path, index=False)
    pd.DataFrame({"sku": [s[0] for s in stock], "name": [s[1] for s in stock]}).to_csv(
        path.parent / "products.csv", index=False
    )
    return frame


def _retail_project(tmp_path: Path, warehouse_url: str) -> tuple[Path, pd.DataFrame]:
    body = (
        "channels: [{id: uk, name: Online Retail, kind: own_store, platform: own, currency: GBP, timezone: Europe/London}]\n"
        "sources:\n"
        "  - {name: products, path: exports/products.csv, preset: canonical_products}\n"
        "  - name: retail\n    path: exports/retail.csv\n    channel_id: uk\n" + RETAIL_MAPPING
    )
    root = write_project(tmp_path / "shop", body, warehouse_url)
    cfg = root / "channelscope.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "base_currency: CNY, timezone: Asia/Shanghai", "base_currency: GBP, timezone: Europe/London"
        )
    )
    (root / "exports").mkdir()
    return root, _retail_file(root / "exports" / "retail.csv")


def test_line_level_export_with_cancellations(tmp_path: Path, warehouse_url: str) -> None:
    root, raw = _retail_project(tmp_path, warehouse_url)
    lines = raw.drop_duplicates()
    repeats = len(raw) - len(lines)
    bad = lines[lines.Quantity == "abc"]
    lines = lines[lines.Quantity != "abc"]
    value = lines.Quantity.astype(int) * lines.UnitPrice.map(Decimal)
    lines = lines.assign(value=value)
    sales = lines[~lines.InvoiceNo.str.startswith("C")]
    cancels = lines[lines.InvoiceNo.str.startswith("C")]
    assert len(cancels) > 20 and repeats > 3
    with Project(root) as p:
        r = p.ingest()[-1]
        assert r.status == "loaded", r.message
        _balanced(p)
        # every line: loaded as an order line or as a refund, quarantined, or a repeat
        assert (r.rows_in, r.loaded, r.quarantined, r.duplicates) == (len(raw), len(lines), len(bad), repeats)
        assert (
            json.loads(p.table("batches").to_pandas().set_index("source").details["retail"])["tables"]["orders"]["new"]
            == sales.InvoiceNo.nunique()
        )
        o = p.table("orders").to_pandas().set_index("source_order_id").sort_index()
        want = sales.groupby("InvoiceNo")["value"].apply(lambda s: sum(s, Decimal(0)))
        assert len(o) == len(want) and o.net_amount.map(lambda v: Decimal(str(v))).to_dict() == want.to_dict()
        refunds = p.table("refunds").to_pandas()
        assert len(refunds) == len(cancels)
        assert _money(refunds.amount) == -sum(cancels.value, Decimal(0)) > 0
        k = p.kpis(["gmv", "refunds", "net_sales", "paid_orders"]).iloc[0]
        gross = sum(sales.value, Decimal(0))
        assert Decimal(str(k.gmv)).quantize(Decimal("0.01")) == gross
        assert Decimal(str(k.refunds)).quantize(Decimal("0.01")) == -sum(cancels.value, Decimal(0))
        assert Decimal(str(k.net_sales)).quantize(Decimal("0.01")) == gross + sum(cancels.value, Decimal(0))
        assert int(k.paid_orders) == sales.InvoiceNo.nunique()
        # the unreadable quantity is quarantined with its reason, never a range error on a refund
        q = p.quarantined(source="retail", limit=None)
        assert [json.loads(x) for x in q.reasons] == [
            [
                "quantity: cannot read 'abc' as int",
                "quantity: required value is missing",
                "qty: cannot read 'abc' as int",
                "net_amount: required value is missing",
            ]
        ]
        # loading the same lines again changes nothing and counts them as duplicates
        (root / "exports" / "retail.csv").write_text((root / "exports" / "retail.csv").read_text() + "\n")
        again = p.ingest(["retail"])[-1]
        assert (again.loaded, again.duplicates + again.quarantined) == (0, again.rows_in)
        _balanced(p)


def test_collapse_on_the_primary_table_is_refused(tmp_path: Path) -> None:
    body = """
channels: [{id: own, name: Own, kind: own_store, platform: own}]
sources:
  - name: shop
    path: exports/orders.csv
    channel_id: own
    mapping:
      table: orders
      collapse: true
      columns: {source_order_id: Name, ordered_at: Created at, status: {const: paid}, net_amount: Total}
"""
    root = write_project(tmp_path / "shop", body)
    with Project(root) as p, pytest.raises(ConfigError, match="would count keys, not input rows"):
        p.ingest()
