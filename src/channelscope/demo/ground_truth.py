"""ground_truth.json: what a correct ingest of the demo folder must reproduce, and the true
parameters behind the data (ad response curves, injected KPI shocks, festivals).

Totals are computed from the generator's own records of what each file holds, never by reading
the files back, so a test can compare both. Money is a string with two decimals (exact).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from channelscope.demo import demand as D
from channelscope.demo import world as W
from channelscope.demo.canonical import base_cents
from channelscope.demo.exports import FileLedger
from channelscope.demo.orders import Sales, _rate4_on

SCHEMA_VERSION = 1
#: Channels whose export carries refunds (JD's order export does not).
REFUND_CHANNELS = ("tmall", "douyin", "own_store")
DEFINITIONS = {
    "month": "business month (YYYY-MM) of ordered_at in Asia/Shanghai; refunds: of the refund's business date",
    "orders": "valid unique orders after dedup (exact repeats, re-exports: the latest export wins), any status",
    "paid_orders": "orders with paid_at set",
    "paid_gmv": "sum of net_amount_base (CNY) of paid_orders; USD at the day's fx_rates, rounded half up",
    "refunds": "sum of refunds.amount_base (CNY) by business month of refunded_at as mapped "
    "(platform exports: the payment time; canonical: the refund time)",
    "net_amount": "as the preset reads it: tmall = 买家实际支付金额 (0.00 while unpaid), jd = 应付金额, "
    "douyin = 订单应付金额, shopify = Total, canonical = net_amount",
    "row": "1-based data row of the file (header excluded), as staged",
    "exact_repeats": "rows identical to an earlier row of the same file",
    "orders_same": "orders already loaded from an earlier file with the same content",
    "orders_updated": "orders already loaded from an earlier file whose content changed (status)",
}


def cents(value: int | float | np.integer) -> str:
    c = round(float(value))
    sign = "-" if c < 0 else ""
    return f"{sign}{abs(c) // 100}.{abs(c) % 100:02d}"


def final_views(ledgers: list[FileLedger]) -> tuple[pd.DataFrame, list[dict]]:
    """The latest view of every valid order, and per-file new/same/updated counts."""
    order_files = sorted(
        (f for f in ledgers if f.views is not None and "status" in f.views), key=lambda f: (f.export_time, f.path)
    )
    parts = []
    for i, f in enumerate(order_files):
        v = f.views.assign(_file=i)  # type: ignore[union-attr]
        if "updated_at" not in v:
            v["updated_at"] = pd.NaT
        parts.append(v[["oid", "status", "refund_cents", "updated_at", "_file"]])
    views = pd.concat(parts, ignore_index=True)
    prev = views.groupby("oid")[["status", "refund_cents", "updated_at"]].shift()
    first = prev["status"].isna()
    same_time = (prev["updated_at"] == views["updated_at"]) | (prev["updated_at"].isna() & views["updated_at"].isna())
    same = ~first & (prev["status"] == views["status"]) & same_time
    refund_new = (views["refund_cents"] > 0) & (first | (prev["refund_cents"].fillna(0) == 0))
    counts = (
        pd.DataFrame(
            {"_file": views["_file"], "new": first, "same": same, "updated": ~first & ~same, "refund": refund_new}
        )
        .groupby("_file")
        .sum()
    )
    stats = []
    for i, f in enumerate(order_files):
        c = counts.loc[i]
        stats.append(
            {
                "file": f.path,
                "orders_new": int(c["new"]),
                "orders_same": int(c["same"]),
                "orders_updated": int(c["updated"]),
                "refunds_new": int(c["refund"]) if f.channel_id in REFUND_CHANNELS else 0,
            }
        )
    return views.drop_duplicates("oid", keep="last").set_index("oid"), stats


def _valid_orders(sales: Sales, views: pd.DataFrame) -> pd.DataFrame:
    o = sales.orders.loc[views.index].copy()
    o["status"] = views["status"]
    o["refund_seen"] = views["refund_cents"].astype(np.int64)
    paid = o["paid_at"].notna()
    o.loc[~paid & (o["channel_id"] == "tmall"), "net_cents"] = 0
    o["net_base"] = base_cents(o)
    o["paid"] = paid
    o["month"] = o["ordered_at"].dt.strftime("%Y-%m")
    return o


def _refunds(sales: Sales, valid: pd.DataFrame, canonical_done: pd.DataFrame) -> pd.DataFrame:
    plat = valid[valid["channel_id"].isin(REFUND_CHANNELS) & (valid["refund_seen"] > 0)]
    parts = [
        pd.DataFrame(
            {
                "channel_id": plat["channel_id"],
                "at": plat["paid_at"],
                "cents": plat["refund_seen"],
                "currency": plat["currency"],
            }
        ),
        pd.DataFrame(
            {
                "channel_id": canonical_done["channel_id"],
                "at": canonical_done["refund_at"],
                "cents": canonical_done["refund_cents"],
                "currency": canonical_done["currency"],
            }
        ),
    ]
    r = pd.concat(parts, ignore_index=True)
    rate = np.where(r["currency"] == "USD", _rate4_on(sales.fx, r["at"].to_numpy()), 10_000)
    r["base"] = (r["cents"].to_numpy().astype(np.int64) * rate * 2 + 10_000) // 20_000
    r["month"] = r["at"].dt.strftime("%Y-%m")
    return r


def _by_channel_month(valid: pd.DataFrame, refunds: pd.DataFrame) -> list[dict]:
    g = valid.groupby(["channel_id", "month"])
    paid = valid[valid["paid"]].groupby(["channel_id", "month"])
    frame = pd.DataFrame({"orders": g.size(), "paid_orders": paid.size(), "paid_gmv": paid["net_base"].sum()})
    rg = refunds.groupby(["channel_id", "month"])
    frame = frame.join(pd.DataFrame({"refund_count": rg.size(), "refunds": rg["base"].sum()}), how="outer")
    frame = frame.fillna(0)
    return [
        {
            "channel_id": c,
            "month": m,
            "orders": int(r.orders),
            "paid_orders": int(r.paid_orders),
            "paid_gmv": cents(r.paid_gmv),
            "refund_count": int(r.refund_count),
            "refunds": cents(r.refunds),
        }
        for (c, m), r in frame.sort_index().iterrows()
    ]


def _totals(rows: list[dict], key: str | None) -> dict:
    out: dict = {}
    for r in rows:
        k = r[key] if key else "all"
        t = out.setdefault(k, {"orders": 0, "paid_orders": 0, "paid_gmv": 0, "refund_count": 0, "refunds": 0})
        for f in ("orders", "paid_orders", "refund_count"):
            t[f] += r[f]
        for f in ("paid_gmv", "refunds"):
            t[f] += int(r[f].replace(".", ""))
    for t in out.values():
        t["paid_gmv"], t["refunds"] = cents(t["paid_gmv"]), cents(t["refunds"])
    return out


def _customers(sales: Sales, valid: pd.DataFrame) -> dict:
    per = valid.groupby("customer")
    channels = per["channel_id"].nunique()
    return {
        "distinct": len(channels),
        "multi_channel": int((channels > 1).sum()),
        "repeat": int((per.size() > 1).sum()),
        "pool": len(sales.customers),
        "key": "customer_key = HMAC pseudonym of the digits-only mobile number (+86 dropped)",
    }


def build(
    sales: Sales,
    demand: D.Demand,
    ledgers: list[FileLedger],
    tables: dict[str, pd.DataFrame],
    canonical_done: pd.DataFrame,
    size: str,
    seed: int,
) -> dict:
    """The ground truth document (a JSON-ready dict)."""
    views, file_stats = final_views(ledgers)
    valid = _valid_orders(sales, views)
    refunds = _refunds(sales, valid, canonical_done)
    rows = _by_channel_month(valid, refunds)
    line_level = valid[valid["channel_id"].isin(["jd", "douyin", "own_store", *("miniprogram", "wechat_resellers")])]
    n_lines = int(sales.lines["oid"].isin(line_level.index).sum())
    stats = {s["file"]: s for s in file_stats}
    files = []
    for f in sorted(ledgers, key=lambda f: f.path):
        entry = {
            "file": f.path,
            "source": f.source,
            "layout": f.layout,
            "channel_id": f.channel_id,
            "encoding": f.encoding,
            "table": f.table,
            "export_time": f.export_time.isoformat(sep=" "),
            "rows": f.rows,
            "exact_repeats": f.exact_repeats,
            "bad_rows": len(f.bad_rows),
        }
        entry.update({k: v for k, v in stats.get(f.path, {}).items() if k != "file"})
        files.append(entry)
    fees = tables["fees"]
    distributor_gmv = valid[valid["paid"] & valid["distributor_id"].notna()].groupby("distributor_id")["net_base"].sum()
    status_counts = {
        c: {str(k): int(v) for k, v in g.value_counts().sort_index().items()}
        for c, g in valid.groupby("channel_id")["status"]
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": {
            "size": size,
            "seed": seed,
            "first_date": W.START.isoformat(),
            "last_date": W.END.isoformat(),
            "as_of": W.AS_OF.isoformat(sep=" "),
            "base_currency": W.BASE_CURRENCY,
            "timezone": W.TIMEZONE,
            "generated_orders": len(sales.orders),
        },
        "definitions": DEFINITIONS,
        "tables": {
            "orders": len(valid),
            "order_lines": n_lines,
            "refunds": len(refunds),
            **{name: len(frame) for name, frame in tables.items()},
            "channels": len(W.CHANNELS),
            "distributors": len(sales.distributors),
        },
        "totals": _totals(rows, None)["all"],
        "totals_by_channel": _totals(rows, "channel_id"),
        "by_channel_month": rows,
        "status_counts": status_counts,
        "files": files,
        "bad_rows": [r for f in sorted(ledgers, key=lambda f: f.path) for r in f.bad_rows],
        "customers": _customers(sales, valid),
        "paid_gmv_by_distributor": {k: cents(v) for k, v in distributor_gmv.sort_index().items()},
        "fees": {f"{c}/{t}": cents(v) for (c, t), v in fees.groupby(["channel_id", "fee_type"])["cents"].sum().items()},
        "ad_spend": {
            c["channel_id"]: cents(demand.frames[c["channel_id"]]["spend_cents"].sum()) for c in demand.curves
        },
        "ad_response": demand.curves,
        "anomalies": D.shocks_as_records(),
        "festivals": D.festivals_as_records(),
        "festival_power": D.festival_power(),
        "tier1_override_commission": W.TIER1_OVERRIDE,
    }
