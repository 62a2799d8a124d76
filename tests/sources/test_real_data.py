"""Real public data through the shipped presets, checked against pandas on the raw files.

The data sets (CDNOW, an Olist excerpt) live in ../shared/data beside the repository; see its
README. Each test builds a project in a temporary folder, ingests, and compares the warehouse
with an independent pandas reading of the same files: rows in the ledger, money totals per
month, category and payment method, customers after pseudonymization, and the quarantine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from decimal import Decimal
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from channelscope import Project

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
OLIST = DATA / "olist-excerpt"
CDNOW = DATA / "cdnow" / "CDNOW_master.txt"

OLIST_FILES = {
    "olist_sellers": ("olist_sellers_dataset.csv", "olist_sellers"),
    "olist_products": ("olist_products_dataset.csv", "olist_products"),
    "olist_customers": ("olistcustomerdataset.csv", "olist_customers"),
    "olist_orders": ("olist_orders_dataset.csv", "olist_orders"),
    "olist_items": ("olist_order_items_dataset.csv", "olist_order_items"),
    "olist_payments": ("olist_order_payments_dataset.csv", "olist_payments"),
}
OLIST_CONFIG = """
project: {name: olist, base_currency: BRL, timezone: America/Sao_Paulo, locale: en}
calendar: {first_date: 2016-01-01, last_date: 2018-12-31}
channels:
  - {id: olist, name: Olist, kind: marketplace, platform: olist, currency: BRL,
     timezone: America/Sao_Paulo}
"""
CDNOW_CONFIG = """
project: {name: cdnow, base_currency: USD, timezone: America/New_York, locale: en}
# a US record store of 1997: none of the Chinese commerce festivals (女王节 in March would make the monthly
# change rule compare April with the same month a year before, which CDNOW does not have)
calendar: {first_date: 1997-01-01, last_date: 1998-12-31, festivals: []}
channels:
  - {id: cdnow, name: CDNOW, kind: own_store, platform: cdnow, currency: USD,
     timezone: America/New_York}
alerts:
  language: en
  rules:
    - {name: month_drop, kind: change, metric: gmv, grain: month, complete: true, compare: previous, below: -0.3}
"""


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _need_data(monkeypatch: pytest.MonkeyPatch) -> None:
    if not DATA.is_dir():
        pytest.skip("../shared/data not found: the public data sets live beside the repository")
    # the key comes from each project's key file, never from the caller's environment
    monkeypatch.delenv("CHANNELSCOPE_PSEUDONYM_KEY", raising=False)


@pytest.fixture
def _pg_or_duck_url(warehouse_url: str) -> str:
    """The warehouse under test: conftest's backend matrix (DuckDB, and PostgreSQL started where none runs)."""
    return warehouse_url


def _project(folder: Path, config: str, sources: list[str], url: str) -> tuple[Project, str]:
    """A project folder with its config, sources and a fresh key; returns it opened, and the key."""
    folder.mkdir(parents=True)
    (folder / "secrets").mkdir()
    key = secrets.token_hex(32)
    (folder / "secrets" / "pseudonym.key").write_text(key + "\n")
    body = config + f"warehouse: {{url: '{url}'}}\nsources:\n" + "".join(f"  - {s}\n" for s in sources)
    (folder / "channelscope.yaml").write_text(body, encoding="utf-8")
    return Project(folder), key


def _olist_source(name: str) -> str:
    file, preset = OLIST_FILES[name]
    channel = "" if name in ("olist_products", "olist_customers") else ", channel_id: olist"
    return f"{{name: {name}, path: '{(OLIST / file).resolve()}', preset: {preset}{channel}}}"


# ---- the raw files, read by pandas --------------------------------------------------------------


@cache
def _raw(file: str) -> pd.DataFrame:
    """An Olist file as text; `_row` is the 1-based data row, `_empty` marks all-empty rows."""
    frame = pd.read_csv(OLIST / file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame = frame.apply(lambda c: c.str.strip())
    frame["_empty"] = (frame == "").all(axis=1)
    frame["_row"] = range(1, len(frame) + 1)
    return frame


@cache
def _cdnow() -> pd.DataFrame:
    frame = pd.read_csv(CDNOW, sep=r"\s+", dtype=str)
    frame["day"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["usd"] = frame["dollar_value"].map(Decimal)
    return frame


def _money(values: pd.Series) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal("0"))


def _batch(p: Project, source: str) -> dict:
    b = p.table("batches").to_pandas()
    rows = b[b.source == source]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def _pseudonym(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def _reasons(p: Project, source: str) -> dict[int, list[str]]:
    q = p.quarantined(source=source, limit=None)
    return {int(r.row_number): json.loads(r.reasons) for r in q.itertuples()}


# ---- CDNOW: one ingest, checked against the file ---------------------------------------------


def test_cdnow_against_the_file(tmp_path: Path, _pg_or_duck_url: str, subtests: pytest.Subtests) -> None:
    source = f"{{name: cdnow, path: '{CDNOW.resolve()}', preset: cdnow_transactions, channel_id: cdnow}}"
    p, key = _project(tmp_path / "cdnow", CDNOW_CONFIG, [source], _pg_or_duck_url)
    try:
        p.ingest()
        for name, check in CDNOW_CHECKS.items():
            with subtests.test(name):
                check(p, key)
        with subtests.test("loading again changes nothing"):
            (again,) = p.ingest()
            assert again.status == "skipped"
            assert p.table("orders").count().execute() == 69_404
            assert p.table("batches").count().execute() == 1
    finally:
        p.close()


def _kept(raw: pd.DataFrame) -> pd.DataFrame:
    """The lines the clean step keeps: all but exact repeats of an earlier line."""
    return raw.drop_duplicates(subset=["customer_id", "date", "number_of_cds", "dollar_value"])


def _cdnow_every_line_is_accounted(p: Project, key: str) -> None:
    raw = _cdnow()
    assert len(raw) == 69_659
    repeats = int(raw.duplicated(subset=["customer_id", "date", "number_of_cds", "dollar_value"]).sum())
    assert repeats == 255
    b = _batch(p, "cdnow")
    assert b["status"] == "loaded"
    assert b["rows_in"] == len(raw) == b["loaded"] + b["quarantined"] + b["duplicates"]
    # a line identical to an earlier line of the file is ledgered as a duplicate (see the preset)
    assert (b["loaded"], b["quarantined"], b["duplicates"]) == (69_404, 0, repeats)
    assert p.table("orders").count().execute() == 69_404


def _cdnow_totals_match(p: Project, key: str) -> None:
    raw = _cdnow()
    o = p.table("orders")
    assert _money([o.net_amount.sum().execute()]) == _kept(raw)["usd"].sum() == Decimal("2495982.75")
    # the 255 exact repeats hold the rest of the data set's 2,500,315.63 dollars
    assert raw["usd"].sum() == Decimal("2500315.63")
    assert _money([o.net_amount_base.sum().execute()]) == Decimal("2495982.75")  # base is USD
    assert set(o.currency.to_pandas()) == {"USD"}
    assert set(o.status.to_pandas()) == {"completed"}
    assert set(o.channel_id.to_pandas()) == {"cdnow"}


def _cdnow_months_match(p: Project, key: str) -> None:
    kept = _kept(_cdnow())
    month = kept["day"].dt.strftime("%Y-%m")
    want = kept.groupby(month).agg(n=("usd", "size"), usd=("usd", "sum"))
    o = p.table("orders")
    got = (
        o.group_by(y=o.business_date.year(), m=o.business_date.month())
        .aggregate(n=o.count(), usd=o.net_amount.sum())
        .to_pandas()
    )
    got.index = [f"{y:04d}-{m:02d}" for y, m in zip(got.y, got.m, strict=True)]
    got = got.sort_index()
    months = [f"1997-{m:02d}" for m in range(1, 13)] + [f"1998-{m:02d}" for m in range(1, 7)]
    assert list(got.index) == list(want.index) == months
    assert got["n"].tolist() == want["n"].tolist()
    assert [Decimal(str(v)) for v in got["usd"]] == want["usd"].tolist()
    assert got.loc["1997-01", "n"] == 8_914
    assert Decimal(str(got.loc["1997-01", "usd"])) == Decimal("298793.76")


def _cdnow_customers_are_pseudonyms(p: Project, key: str) -> None:
    raw = _cdnow()
    o = p.table("orders")
    assert o.customer_key.nunique().execute() == 23_570 == raw["customer_id"].nunique()
    c = p.table("customers").to_pandas()
    assert len(c) == 23_570
    assert set(c.acquisition_channel_id) == {"cdnow"}
    # the Q1 1997 cohort: first purchases by month, as in the file
    first = raw.groupby("customer_id")["day"].min().dt.strftime("%Y-%m").value_counts()
    got = pd.to_datetime(c.first_order_at).dt.strftime("%Y-%m").value_counts()
    assert got.to_dict() == first.to_dict() == {"1997-01": 7_846, "1997-02": 8_476, "1997-03": 7_248}
    # customer 00001: one order of 11.77 on 1 Jan 1997, midnight in New York = 05:00 UTC
    mine = o.filter(o.customer_key == _pseudonym(key, "00001")).to_pandas()
    assert len(mine) == 1
    assert mine.iloc[0]["net_amount"] == Decimal("11.77")
    assert str(mine.iloc[0]["ordered_at"]) == "1997-01-01 05:00:00"
    assert str(mine.iloc[0]["business_date"])[:10] == "1997-01-01"
    # no raw customer id in the warehouse: keys are 32 hex digits, none a CDNOW id
    assert c.customer_key.str.fullmatch(r"[0-9a-f]{32}").all()
    assert not c.customer_key.isin(raw["customer_id"]).any()


def _cdnow_same_day_orders_are_numbered(p: Project, key: str) -> None:
    o = p.table("orders")
    # customer 00002 bought twice on 12 Jan 1997: 1 CD for 12.00, then 5 CDs for 77.00
    who = _pseudonym(key, "00002")
    two = o.filter(o.customer_key == who).to_pandas().sort_values("source_order_id")
    prefix = f"{who}-19970112-"
    assert two["source_order_id"].tolist() == [prefix + "1", prefix + "2"]
    assert two["net_amount"].tolist() == [Decimal("12.00"), Decimal("77.00")]
    assert two["order_id"].iloc[0] == "cdnow:" + prefix + "1"
    assert o.order_id.nunique().execute() == o.count().execute()


def _cdnow_kpis_match(p: Project, key: str) -> None:
    """The metrics layer on real data: GMV, orders, buyers, AOV, new and repeat buyers by month."""
    kept = _kept(_cdnow())
    kept = kept.assign(month=kept["day"].dt.to_period("M").dt.start_time.dt.date)
    per_month = kept.groupby("month")
    first = kept.groupby("customer_id")["day"].min().dt.to_period("M").dt.start_time.dt.date
    per_cust_month = kept.groupby(["month", "customer_id"]).size()
    want = pd.DataFrame(
        {
            "gmv": per_month["usd"].sum().map(float),
            "paid_orders": per_month.size(),
            "buyers": per_month["customer_id"].nunique(),
            "new_buyers": first.value_counts(),
            "repeat_buyers": (per_cust_month >= 2).groupby(level=0).sum(),
        }
    ).fillna(0)
    got = p.kpis(["gmv", "paid_orders", "buyers", "new_buyers", "repeat_buyers", "aov"], grain="month")
    got = got.set_index("period")
    assert len(got) == 18
    assert got["gmv"].round(2).tolist() == want["gmv"].round(2).tolist()
    for col in ("paid_orders", "buyers", "new_buyers", "repeat_buyers"):
        assert got[col].tolist() == want[col].astype(int).tolist(), col
    assert got["aov"].tolist() == pytest.approx((want["gmv"] / want["paid_orders"]).tolist(), abs=0.005)


def _cdnow_month_drop_alert(p: Project, key: str) -> None:
    """A monthly change rule on real data: its value, base and change equal pandas over the file."""
    from channelscope.monitor.evaluate import evaluate_rules

    kept = _kept(_cdnow())
    usd = kept.groupby(kept["day"].dt.strftime("%Y-%m"))["usd"].sum()
    ev = evaluate_rules(p, as_of=dt.date(1997, 5, 15))  # judges April 1997 (complete) against March
    assert ev.errors == [] and ev.checked == ["month_drop"]
    change = float(usd["1997-04"] / usd["1997-03"] - 1)
    assert change < -0.3  # CDNOW's first-purchase cohort stops buying after March 1997
    (f,) = ev.findings
    assert f.period == "1997-04" and f.scope == {}  # no `by`: the whole business
    assert f.value == pytest.approx(float(usd["1997-04"]), abs=0.005)
    assert f.expected == pytest.approx(float(usd["1997-03"]), abs=0.005)
    assert f.evidence["change_pct"] == pytest.approx(change, abs=1e-9)
    assert evaluate_rules(p, as_of=dt.date(1997, 4, 15)).findings == []  # March rose on February


CDNOW_CHECKS = {
    "a monthly drop alert matches pandas": _cdnow_month_drop_alert,
    "KPIs by month match pandas": _cdnow_kpis_match,
    "every line is accounted": _cdnow_every_line_is_accounted,
    "totals match the file": _cdnow_totals_match,
    "months match the file": _cdnow_months_match,
    "customers are pseudonyms with their first order": _cdnow_customers_are_pseudonyms,
    "same-day orders are numbered": _cdnow_same_day_orders_are_numbered,
}


# ---- Olist: one ingest, checked against the files --------------------------------------------


def test_olist_against_the_files(tmp_path: Path, _pg_or_duck_url: str, subtests: pytest.Subtests) -> None:
    # payments are left out: their load fails in the clean step (see test_olist_payments_load)
    names = [n for n in OLIST_FILES if n != "olist_payments"]
    p, _ = _project(tmp_path / "olist", OLIST_CONFIG, [_olist_source(n) for n in names], _pg_or_duck_url)
    try:
        p.ingest()
        for source, (file, rows_in, loaded) in OLIST_LEDGER.items():
            with subtests.test(f"every row of {file} is accounted"):
                _olist_every_row_is_accounted(p, source, file, rows_in, loaded)
        for name, check in OLIST_CHECKS.items():
            with subtests.test(name):
                check(p)
    finally:
        p.close()


#: source -> (file, data rows in the file, rows loaded)
OLIST_LEDGER = {
    "olist_sellers": ("olist_sellers_dataset.csv", 3_095, 3_095),
    "olist_products": ("olist_products_dataset.csv", 32_951, 1_499),
    "olist_customers": ("olistcustomerdataset.csv", 99_395, 9_963),
    "olist_orders": ("olist_orders_dataset.csv", 99_441, 9_999),
    "olist_items": ("olist_order_items_dataset.csv", 112_650, 477),
}


def _olist_every_row_is_accounted(p: Project, source: str, file: str, rows_in: int, loaded: int) -> None:
    raw = _raw(file)
    empty = raw["_empty"]
    assert not raw[~empty].drop(columns="_row").duplicated().any()  # no real row repeats another
    b = _batch(p, source)
    assert b["status"] == "loaded"
    assert b["rows_in"] == len(raw) == rows_in
    assert b["rows_in"] == b["loaded"] + b["quarantined"] + b["duplicates"]
    assert b["loaded"] == loaded
    in_file = json.loads(b["details"])["in_file"]
    quarantined = set(_reasons(p, source))
    assert len(quarantined) == b["quarantined"]
    empty_rows = set(raw.loc[empty, "_row"])
    # a real row is loaded, quarantined with reasons, or superseded by a later row of its key
    real_out = len(quarantined - empty_rows)
    assert b["loaded"] + real_out + in_file["superseded"] == int((~empty).sum())
    # an empty row is never loaded: quarantined, or ledgered as a repeat of the first empty row
    assert len(quarantined & empty_rows) + in_file["exact_repeats"] == len(empty_rows)


def _olist_sellers_are_distributors(p: Project) -> None:
    raw = _raw("olist_sellers_dataset.csv")
    d = p.table("distributors").to_pandas()
    assert len(d) == 3_095 == raw["seller_id"].nunique()
    assert set(d.channel_id) == {"olist"}
    assert set(d.kind) == {"store"}
    # ids and states came through the quoted headers and values intact
    assert set(d.distributor_id) == set(raw["seller_id"])
    assert d.region.value_counts().to_dict() == raw["seller_state"].value_counts().to_dict()
    assert d.region.value_counts().head(3).to_dict() == {"SP": 1_849, "PR": 349, "MG": 244}


def _olist_products_and_the_row_without_an_id(p: Project) -> None:
    raw = _raw("olist_products_dataset.csv")
    prods = p.table("products").to_pandas()
    real = raw[raw["product_id"] != ""]
    assert len(prods) == 1_499 == len(real)
    cats = prods.category.fillna("").value_counts().to_dict()
    assert cats == real["product_category_name"].value_counts().to_dict()
    # the file's last row has a category but no product id: quarantined with its reason
    last = raw.iloc[-1]
    assert (last["product_id"], last["product_category_name"]) == ("", "cama_mesa_banho")
    q = p.quarantined(source="olist_products", limit=None).set_index("row_number")
    assert json.loads(q.loc[32_951, "reasons"]) == ["sku: required value is missing"]
    assert json.loads(q.loc[32_951, "record"])["product_category_name"] == "cama_mesa_banho"


def _olist_customers_are_persons(p: Project) -> None:
    raw = _raw("olistcustomerdataset.csv")
    real = raw[~raw["_empty"]]
    c = p.table("customers").to_pandas()
    # one customer per person (customer_unique_id), not per order (customer_id)
    assert len(real) == 9_999
    assert len(c) == 9_963 == real["customer_unique_id"].nunique()
    assert c.customer_key.nunique() == len(c)
    assert c.customer_key.str.fullmatch(r"[0-9a-f]{32}").all()
    last = real.drop_duplicates("customer_unique_id", keep="last")
    assert c.region.value_counts().to_dict() == last["customer_state"].value_counts().to_dict()
    assert c.region.value_counts().head(3).to_dict() == {"SP": 4_208, "RJ": 1_349, "MG": 1_167}
    # the later rows of the same person are ledgered as superseded
    assert json.loads(_batch(p, "olist_customers")["details"])["in_file"]["superseded"] == 36


def _olist_orders_fill_shipments_in_utc(p: Project) -> None:
    raw = _raw("olist_orders_dataset.csv")
    real = raw[~raw["_empty"]]
    s = p.table("shipments").to_pandas().set_index("source_order_id")
    assert len(s) == 9_999 == len(real)
    assert set(s.channel_id) == {"olist"}
    assert s.status.value_counts().to_dict() == {
        "delivered": 9_718,
        "shipped": 106,
        "cancelled": 58 + 55,
        "pending": 32 + 28 + 2,
    }
    # 4 Oct 2017 19:55 in Sao Paulo (UTC-3); 22 Nov 2017 13:39 in summer time (UTC-2)
    first, summer = "e481f51cbdc54678b7cc49136f2d6af7", "949d5b44dbf5de918fe9c16f97b45f8a"
    assert str(s.loc[first, "shipped_at"]) == "2017-10-04 22:55:00"
    assert str(s.loc[first, "delivered_at"]) == "2017-10-11 00:25:00"
    assert str(s.loc[summer, "shipped_at"]) == "2017-11-22 15:39:00"
    assert str(s.loc[summer, "delivered_at"]) == "2017-12-02 02:28:00"
    # every date was read: as many per month (UTC) as in the file
    assert s.shipped_at.notna().sum() == 9_835
    assert s.delivered_at.notna().sum() == 9_722
    for col, src in (
        ("shipped_at", "order_delivered_carrier_date"),
        ("delivered_at", "order_delivered_customer_date"),
    ):
        local = pd.to_datetime(real[src].replace("", None), format="%m/%d/%Y %H:%M")
        zoned = local.dt.tz_localize("America/Sao_Paulo", ambiguous=False, nonexistent="shift_forward")
        want = zoned.dt.tz_convert("UTC").dt.strftime("%Y-%m").value_counts()
        got = pd.to_datetime(s[col]).dt.strftime("%Y-%m").value_counts()
        assert got.to_dict() == want.to_dict(), col


def _olist_lines_and_orphan_products(p: Project) -> None:
    raw = _raw("olist_order_items_dataset.csv")
    products = _raw("olist_products_dataset.csv")
    skus = set(products["product_id"]) - {""}
    real = raw[~raw["_empty"]]
    valid = real[real["product_id"].isin(skus)]
    orphan = real[~real["product_id"].isin(skus)]
    assert (len(real), len(valid), len(orphan)) == (9_998, 477, 9_521)
    lines = p.table("order_lines")
    assert lines.count().execute() == 477
    assert _money([lines.amount.sum().execute()]) == _money(valid["price"]) == Decimal("51516.62")
    assert _money([lines.unit_price.sum().execute()]) == Decimal("51516.62")
    assert lines.quantity.sum().execute() == 477
    assert set(lines.channel_id.to_pandas()) == {"olist"}
    # lines whose product is not in the products excerpt are flagged, with that one reason
    reasons = _reasons(p, "olist_items")
    flagged = [reasons.get(r) for r in orphan["_row"]]
    assert all(why == ["unknown sku (not in products)"] for why in flagged)
    # sales per category (lines joined to products) as in the files
    prods = p.table("products")
    j = lines.join(prods, lines.sku == prods.sku)
    got = j.group_by(j.category).aggregate(total=j.amount.sum()).to_pandas()
    got_map = {(k if isinstance(k, str) else ""): Decimal(str(v)) for k, v in zip(got.category, got.total, strict=True)}
    category = products[products["product_id"] != ""].set_index("product_id")["product_category_name"]
    want = valid.assign(cat=valid["product_id"].map(category)).groupby("cat")["price"].apply(_money)
    assert got_map == want.to_dict()
    # line numbers are Olist's order_item_id, under the channel's order id
    mine = lines.filter(lines.source_order_id == "00010242fe8c5a6d1ba2dd792cb16214").to_pandas()
    in_file = valid[valid["order_id"] == "00010242fe8c5a6d1ba2dd792cb16214"]
    assert sorted(mine.line_no) == sorted(in_file["order_item_id"].astype(int))
    assert set(mine.order_id) <= {"olist:00010242fe8c5a6d1ba2dd792cb16214"}


def _olist_quarantine_keeps_no_location(p: Project) -> None:
    records = [json.loads(r) for r in p.table("quarantine").to_pandas().record]
    assert records
    assert not any({"customer_zip_code_prefix", "customer_city", "customer_id"} & set(r) for r in records)


OLIST_CHECKS = {
    "sellers are the channel's distributors": _olist_sellers_are_distributors,
    "products, and the row without an id": _olist_products_and_the_row_without_an_id,
    "customers are persons by region": _olist_customers_are_persons,
    "orders fill shipments, in UTC": _olist_orders_fill_shipments_in_utc,
    "order lines, and lines of unknown products": _olist_lines_and_orphan_products,
    "quarantine keeps no location": _olist_quarantine_keeps_no_location,
}

# ---- known gaps of the pipeline (strict: they fail loudly once fixed) ----------------------------


def test_olist_payments_load(tmp_path: Path) -> None:
    p, _ = _project(tmp_path / "pay", OLIST_CONFIG, [_olist_source("olist_payments")], "duckdb:///w.duckdb")
    try:
        (b,) = p.ingest()
        assert b.status == "loaded", b.message
        raw = _raw("olist_order_payments_dataset.csv")
        real = raw[~raw["_empty"]]
        assert (b.rows_in, b.loaded) == (103_848, 9_998)
        pay = p.table("payments")
        assert _money([pay.amount.sum().execute()]) == _money(real["payment_value"]) == Decimal("1553105.37")
        got = pay.group_by("method").aggregate(total=pay.amount.sum()).to_pandas()
        want = real.groupby("payment_type")["payment_value"].apply(_money).to_dict()
        assert {m: Decimal(str(v)) for m, v in zip(got.method, got.total, strict=True)} == want
    finally:
        p.close()


def test_olist_empty_rows_are_quarantined(tmp_path: Path) -> None:
    p, _ = _project(tmp_path / "prod", OLIST_CONFIG, [_olist_source("olist_products")], "duckdb:///w.duckdb")
    try:
        (b,) = p.ingest()
        raw = _raw("olist_products_dataset.csv")
        assert int(raw["_empty"].sum()) == 31_451
        assert (b.loaded, b.quarantined, b.duplicates) == (1_499, 31_452, 0)
        reasons = _reasons(p, "olist_products")
        assert all(reasons[r] == ["sku: required value is missing"] for r in raw.loc[raw["_empty"], "_row"])
    finally:
        p.close()


def test_olist_customer_ids_are_pseudonymized(tmp_path: Path) -> None:
    p, key = _project(tmp_path / "cust", OLIST_CONFIG, [_olist_source("olist_customers")], "duckdb:///w.duckdb")
    try:
        p.ingest()
        raw = _raw("olistcustomerdataset.csv")
        ids = set(raw["customer_unique_id"]) - {""}
        keys = set(p.table("customers").to_pandas().customer_key)
        assert not keys & ids
        assert keys == {_pseudonym(key, i) for i in ids}
    finally:
        p.close()
