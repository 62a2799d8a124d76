"""The demo generator: deterministic, complete, fast, and its ground truth adds up.

The canonical files are re-read here with plain pandas and an independent reading of the rules
(dedupe, quarantine, latest wins), and must give the totals ground_truth.json states.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from channelscope.config import load_config
from channelscope.demo import generate_demo
from channelscope.sources.mapping import load_mapping

CANONICAL = ("miniprogram", "wechat_resellers")
TS = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return generate_demo(tmp_path_factory.mktemp("demo") / "shop", "small", seed=7)


@pytest.fixture(scope="module")
def truth(demo) -> dict:  # type: ignore[no-untyped-def]
    return json.loads((demo.folder / "ground_truth.json").read_text(encoding="utf-8"))


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_small_runs_under_ten_seconds(demo) -> None:  # type: ignore[no-untyped-def]
    # ~3 s on an idle 2-core machine; the bound leaves room for a loaded CI box
    assert demo.seconds < 30
    assert 18_000 < demo.orders < 22_000


def test_same_seed_same_bytes_other_seed_other_data(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    again = generate_demo(tmp_path / "again", "small", seed=7)
    assert _digests(again.folder) == _digests(demo.folder)
    other = generate_demo(tmp_path / "other", "small", seed=8)
    assert other.ground_truth["totals"] != demo.ground_truth["totals"]


def test_config_loads_and_every_source_has_files(demo) -> None:  # type: ignore[no-untyped-def]
    config = load_config(demo.folder)
    assert config.project.base_currency == "CNY" and config.project.timezone == "Asia/Shanghai"
    kinds = {c.id: c.kind for c in config.channels}
    assert kinds == {
        "tmall": "marketplace",
        "jd": "marketplace",
        "douyin": "live_stream",
        "own_store": "own_store",
        "miniprogram": "own_store",
        "wechat_resellers": "distributor",
    }
    tier2 = [d for d in config.distributors if d.tier == 2]
    tier1 = {d.id for d in config.distributors if d.tier == 1 and d.channel_id == "wechat_resellers"}
    assert tier2 and all(d.parent_id in tier1 for d in tier2)
    assert any(d.kind == "live_host" and d.channel_id == "douyin" for d in config.distributors)
    for source in config.sources:
        assert glob.glob(str(demo.folder / source.path)), source.name
        load_mapping(source.preset, None)  # shipped presets and generated canonical_* ones


def test_every_file_in_the_truth_is_written_with_its_rows(demo, truth) -> None:  # type: ignore[no-untyped-def]
    written = {p.as_posix() for p in demo.files}
    assert {"channelscope.yaml", "ground_truth.json"} <= written
    for f in truth["files"]:
        assert f["file"] in written
        path = demo.folder / f["file"]
        if path.suffix == ".xlsx":
            frame = pd.read_excel(path, dtype=str)
        else:
            encoding = "gbk" if f["encoding"] == "gbk" else "utf-8-sig"
            frame = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
        assert len(frame) == f["rows"], f["file"]
    for name in ("products", "fx_rates", "campaigns", "traffic", "ad_spend", "fees"):
        frame = pd.read_csv(demo.folder / f"exports/canonical/{name}.csv", dtype=str)
        assert len(frame) == truth["tables"][name]


def test_tmall_export_is_gbk_with_chinese_headers_and_mixed_dates(demo) -> None:  # type: ignore[no-untyped-def]
    path = next((demo.folder / "exports/tmall").glob("ExportOrderList*.csv"))
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert text.splitlines()[0].split(",")[0].strip('"') == "订单编号"
    frame = pd.read_csv(path, dtype=str, encoding="gbk", keep_default_na=False)
    created = frame["订单创建时间"]
    assert created.str.contains("/").any() and created.str.contains("年").any()
    assert created.str.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").any()
    statuses = set(load_mapping("tmall_orders", None).columns["status"].map or {})
    assert set(frame["订单状态"]) <= statuses


def test_truth_totals_are_sums_of_their_parts(truth) -> None:  # type: ignore[no-untyped-def]
    rows = truth["by_channel_month"]
    assert truth["totals"]["orders"] == sum(r["orders"] for r in rows) == truth["tables"]["orders"]
    assert Decimal(truth["totals"]["paid_gmv"]) == sum(Decimal(r["paid_gmv"]) for r in rows)
    assert truth["tables"]["refunds"] == sum(r["refund_count"] for r in rows)
    for channel, total in truth["totals_by_channel"].items():
        assert sum(truth["status_counts"][channel].values()) == total["orders"]
    assert {r["reason"] for r in truth["bad_rows"]} == {
        "missing_order_id",
        "unparseable_date",
        "paid_before_ordered",
        "future_date",
        "unknown_sku",
        "negative_quantity",
        "price_outlier",
        "unknown_channel",
    }
    assert sum(f["exact_repeats"] for f in truth["files"]) > 0
    assert any(f["orders_updated"] for f in truth["files"] if f["source"] == "tmall_orders")
    assert {a["curve"] for a in truth["ad_response"]} == {"power", "hill"}
    assert truth["customers"]["multi_channel"] > 0 and truth["anomalies"]


def _read(folder: Path, pattern: str) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob(pattern)):
        f = pd.read_csv(path, dtype=str, keep_default_na=False)
        f["_file"] = path.relative_to(folder).as_posix()
        f["_row"] = range(1, len(f) + 1)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def test_canonical_files_give_the_truth_independently(demo, truth) -> None:  # type: ignore[no-untyped-def]
    folder = demo.folder
    channels = {c.id for c in load_config(folder).channels}
    orders = _read(folder, "exports/canonical/orders_*.csv")
    data = [c for c in orders.columns if not c.startswith("_")]
    orders = orders[~orders.duplicated(subset=[*data, "_file"])]
    ordered = pd.to_datetime(orders["ordered_at"], format=TS, errors="coerce")
    paid = pd.to_datetime(orders["paid_at"].replace("", None), format=TS, errors="coerce")
    now = dt.datetime.now() + dt.timedelta(days=1)
    bad = (
        (orders["source_order_id"] == "")
        | ~orders["channel_id"].isin(channels)
        | ordered.isna()
        | (paid < ordered)
        | (ordered > now)
    )
    want_bad = {(b["file"], b["row"]) for b in truth["bad_rows"] if "canonical/orders_" in b["file"]}
    assert set(zip(orders.loc[bad, "_file"], orders.loc[bad, "_row"], strict=True)) == want_bad

    good = orders[~bad].assign(_ordered=ordered[~bad])
    good = good.sort_values("updated_at", kind="stable").drop_duplicates(["channel_id", "source_order_id"], keep="last")
    good["month"] = good["_ordered"].dt.strftime("%Y-%m")
    good["net"] = good["net_amount"].map(Decimal)
    refunds = _read(folder, "exports/canonical/refunds_*.csv")
    refunds["month"] = refunds["refunded_at"].str[:7]
    refunds["amount"] = refunds["amount"].map(Decimal)
    for r in truth["by_channel_month"]:
        if r["channel_id"] not in CANONICAL:
            continue
        mine = good[(good["channel_id"] == r["channel_id"]) & (good["month"] == r["month"])]
        assert len(mine) == r["orders"]
        assert (mine["paid_at"] != "").sum() == r["paid_orders"]
        assert sum(mine.loc[mine["paid_at"] != "", "net"], Decimal(0)) == Decimal(r["paid_gmv"])
        back = refunds[(refunds["channel_id"] == r["channel_id"]) & (refunds["month"] == r["month"])]
        assert (len(back), sum(back["amount"], Decimal(0))) == (r["refund_count"], Decimal(r["refunds"]))

    lines = _read(folder, "exports/canonical/order_lines_*.csv")
    products = pd.read_csv(folder / "exports/canonical/products.csv", dtype=str).set_index("sku")
    price = lines["unit_price"].astype(float)
    listed = lines["sku"].map(products["list_price"]).astype(float)
    bad_line = listed.isna() | (lines["quantity"].astype(int) <= 0) | (price > 5 * listed) | (price < 0.1 * listed)
    want = {(b["file"], b["row"]) for b in truth["bad_rows"] if "order_lines_" in b["file"]}
    assert set(zip(lines.loc[bad_line, "_file"], lines.loc[bad_line, "_row"], strict=True)) == want
    keys = set(zip(good["channel_id"], good["source_order_id"], strict=True))
    assert set(zip(lines["channel_id"], lines["source_order_id"], strict=True)) <= keys


def test_customers_cross_channels_by_phone(demo, truth) -> None:  # type: ignore[no-untyped-def]
    douyin = pd.concat(
        pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        for p in sorted((demo.folder / "exports/douyin").glob("*.csv.gz"))
    )
    jd = pd.concat(
        pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        for p in sorted((demo.folder / "exports/jd").glob("*.csv"))
    )
    shared = set(douyin["收件人手机号"]) & set(jd["联系电话"])
    assert len(shared) > 10
    assert truth["customers"]["repeat"] > truth["customers"]["multi_channel"] > 0


@pytest.mark.slow
def test_ingest_reproduces_the_truth(demo, truth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from channelscope import Project

    folder = tmp_path / "shop"
    shutil.copytree(demo.folder, folder)
    monkeypatch.setenv("CHANNELSCOPE_PSEUDONYM_KEY", "demo-key-0123456789abcdef")
    with Project(folder) as project:
        results = project.ingest()
        assert all(r.status == "loaded" for r in results)

        def one(sql: str):  # type: ignore[no-untyped-def]
            return project.warehouse.execute(sql)

        for table, n in truth["tables"].items():
            assert one(f"SELECT count(*) FROM {table}")[0][0] == n, table
        got = {
            (c, m): (n, p, Decimal(g))
            for c, m, n, p, g in one(
                "SELECT channel_id, strftime(business_date, '%Y-%m'), count(*), count(paid_at), "
                "coalesce(sum(net_amount_base) FILTER (WHERE paid_at IS NOT NULL), 0) FROM orders GROUP BY 1, 2"
            )
        }
        refunds = {
            (c, m): (n, Decimal(a))
            for c, m, n, a in one(
                "SELECT channel_id, strftime(business_date, '%Y-%m'), count(*), sum(amount_base) FROM refunds "
                "GROUP BY 1, 2"
            )
        }
        for r in truth["by_channel_month"]:
            key = (r["channel_id"], r["month"])
            if r["orders"]:
                assert got[key] == (r["orders"], r["paid_orders"], Decimal(r["paid_gmv"])), key
            if r["refund_count"]:
                assert refunds[key] == (r["refund_count"], Decimal(r["refunds"])), key
        quarantined = {
            (Path(f).relative_to(folder).as_posix(), int(row))
            for f, row in one("SELECT file, row_number FROM quarantine")
        }
        assert quarantined == {(b["file"], b["row"]) for b in truth["bad_rows"]}
        customers = one(
            "SELECT count(DISTINCT customer_key), (SELECT count(*) FROM (SELECT customer_key FROM orders "
            "GROUP BY 1 HAVING count(DISTINCT channel_id) > 1)) FROM orders"
        )[0]
        assert customers == (truth["customers"]["distinct"], truth["customers"]["multi_channel"])
