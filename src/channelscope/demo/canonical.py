"""Files in the canonical layout (header = the table's mappable columns, see model/tables.py): the
brand's own systems (mini-program, reseller network) and the reference and marketing tables.

Customer keys are raw phone numbers here (pseudonymized on ingest); timestamps are
``YYYY-MM-DD HH:MM:SS`` in Asia/Shanghai; money is yuan with two decimals.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from channelscope.demo import exports as X
from channelscope.demo import world as W
from channelscope.demo.demand import CURVES, Demand
from channelscope.demo.orders import Sales, state_at
from channelscope.demo.text import money, ts
from channelscope.model import TABLES

CANONICAL_CHANNELS = ("miniprogram", "wechat_resellers")
#: (file date, first order day, last order day, export time) of the canonical order exports.
ORDER_FILES = (
    ("20250701", W.START, dt.date(2025, 6, 30), dt.datetime(2025, 7, 1, 9, 0)),
    ("20251203", dt.date(2025, 7, 1), W.END, W.AS_OF),
)
ORDER_DEFECTS = ("unknown_channel", "missing_order_id", "unparseable_date", "paid_before_ordered", "future_date")
LINE_DEFECTS = ("unknown_sku", "negative_quantity", "price_outlier")


def header(table: str) -> list[str]:
    return TABLES[table].mappable


def write(frame: pd.DataFrame, folder: Path, rel: str, table: str) -> None:
    X.write_table(X.to_table(frame[header(table)]), folder / rel, "utf-8")


def _orders_frame(sales: Sales, scope: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    phones = sales.customers["phone"].to_numpy()[scope["customer"].to_numpy()]
    return pd.DataFrame(
        {
            "source_order_id": scope["source_order_id"].to_numpy(),
            "channel_id": scope["channel_id"].to_numpy(),
            "distributor_id": scope["distributor_id"].to_numpy(),
            "customer_key": phones,
            "campaign_id": scope["campaign_id"].to_numpy(),
            "ordered_at": ts(scope["ordered_at"]),
            "paid_at": ts(scope["paid_at"]),
            "updated_at": ts(state["updated_at"]),
            "status": state["status"].to_numpy(),
            "currency": scope["currency"].to_numpy(),
            "gross_amount": money(scope["gross_cents"]),
            "discount_amount": money(scope["discount_cents"]),
            "shipping_amount": money(scope["shipping_cents"]),
            "net_amount": money(scope["net_cents"]),
            "region": scope["region"].to_numpy(),
            "utm_source": scope["utm_source"].to_numpy(),
            "utm_medium": scope["utm_medium"].to_numpy(),
        }
    )


def _corrupt_order(row: dict, defect: str, k: int) -> dict:
    row = dict(row)
    row["source_order_id"] = f"WX29{k:06d}"
    if defect == "unknown_channel":
        row["channel_id"], row["source_order_id"], row["distributor_id"] = "pinduoduo", f"PDD{k:08d}", ""
    elif defect == "missing_order_id":
        row["source_order_id"] = ""
    elif defect == "unparseable_date":
        row["ordered_at"] = "2025-02-30 12:00:00"
    elif defect == "paid_before_ordered":
        row["ordered_at"], row["paid_at"] = "2025-03-05 10:00:00", "2025-03-04 09:00:00"
    elif defect == "future_date":
        row["ordered_at"], row["paid_at"] = "2099-06-18 10:00:00", "2099-06-18 10:01:00"
    return row


def _views(scope: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "oid": scope.index.to_numpy(),
            "status": state["status"].to_numpy(),
            "refund_cents": 0,
            "updated_at": state["updated_at"].to_numpy(),
        }
    )


def order_exports(
    rng: np.random.Generator, sales: Sales, folder: Path, bad_share: float, repeat_share: float
) -> list[X.FileLedger]:
    """orders_*.csv (two exports and a file of later changes) and order_lines_*.csv."""
    orders = sales.orders[sales.orders["channel_id"].isin(CANONICAL_CHANNELS)]
    day = orders["ordered_at"].dt.date
    ledgers: list[X.FileLedger] = []
    k = 0
    first_state = None
    for stamp, first, last, when in ORDER_FILES:
        scope = orders[(day >= first) & (day <= last)]
        state = state_at(scope, when)
        first_state = first_state if first_state is not None else (scope, state)
        good = X.to_table(_orders_frame(sales, scope, state)[header("orders")])
        bad = []
        for _ in range(max(1, round(good.num_rows * bad_share))):
            k += 1
            defect = ORDER_DEFECTS[k % len(ORDER_DEFECTS)]
            row = _corrupt_order(good.slice(int(rng.integers(good.num_rows)), 1).to_pylist()[0], defect, k)
            sid = None if defect == "missing_order_id" else row["source_order_id"]
            bad.append((row, {"reason": defect, "source_order_id": sid, "tables": ["orders"]}))
        rows, records, repeats = X.assemble(rng, good, bad, repeat_share)
        rel = f"exports/canonical/orders_{stamp}.csv"
        X.write_table(rows, folder / rel, "utf-8")
        ledgers.append(
            X.FileLedger(
                rel,
                "wechat_orders",
                None,
                "canonical_orders",
                "utf-8",
                when,
                rows.num_rows,
                repeats,
                [{"file": rel, **r} for r in records],
                _views(scope, state),
            )
        )
        ledgers.append(_line_export(rng, sales, scope, folder, stamp, when, bad_share))
    scope, before = first_state  # type: ignore[misc]
    after = state_at(scope, W.AS_OF)
    changed = (after["status"] != before["status"]) | (after["updated_at"] != before["updated_at"])
    rel = "exports/canonical/orders_changes_20251203.csv"
    write(_orders_frame(sales, scope[changed], after[changed]), folder, rel, "orders")
    ledgers.append(
        X.FileLedger(
            rel,
            "wechat_orders",
            None,
            "canonical_orders",
            "utf-8",
            W.AS_OF,
            int(changed.sum()),
            0,
            [],
            _views(scope[changed], after[changed]),
        )
    )
    return ledgers


def _line_export(
    rng: np.random.Generator,
    sales: Sales,
    scope: pd.DataFrame,
    folder: Path,
    stamp: str,
    when: dt.datetime,
    bad_share: float,
) -> X.FileLedger:
    lines = sales.lines[sales.lines["oid"].isin(scope.index)]
    o = sales.orders.loc[lines["oid"]]
    good = X.to_table(
        pd.DataFrame(
            {
                "source_order_id": o["source_order_id"].to_numpy(),
                "channel_id": o["channel_id"].to_numpy(),
                "line_no": lines["line_no"].astype(str).to_numpy(),
                "sku": lines["sku"].to_numpy(),
                "quantity": lines["quantity"].astype(str).to_numpy(),
                "unit_price": money(lines["unit_cents"]),
                "discount_amount": "0.00",
                "amount": money(lines["amount_cents"]),
            }
        )[header("order_lines")]
    )
    n_lines = lines.groupby("oid").size()
    list_price = sales.products.set_index("sku")["list_cents"]
    line_oid = lines["oid"].to_numpy()
    bad = []
    for i in range(max(1, round(good.num_rows * bad_share))):
        defect = LINE_DEFECTS[i % len(LINE_DEFECTS)]
        oid = int(rng.choice(scope.index.to_numpy()))
        row = good.slice(int(np.searchsorted(line_oid, oid)), 1).to_pylist()[0]
        row["line_no"] = str(int(n_lines[oid]) + 1)
        if defect == "unknown_sku":
            row["sku"] = str(rng.choice(W.UNKNOWN_SKUS))
        elif defect == "negative_quantity":
            row["quantity"], row["amount"] = "-2", money(np.array([-2 * int(list_price[row["sku"]])]))[0]
        else:
            row["unit_price"] = money(np.array([int(list_price[row["sku"]]) * 50]))[0]
            row["amount"] = money(np.array([int(list_price[row["sku"]]) * 50 * int(row["quantity"])]))[0]
        bad.append((row, {"reason": defect, "source_order_id": row["source_order_id"], "tables": ["order_lines"]}))
    rows, records, repeats = X.assemble(rng, good, bad, 0.0)
    rel = f"exports/canonical/order_lines_{stamp}.csv"
    X.write_table(rows, folder / rel, "utf-8")
    ledger = X.FileLedger(
        rel,
        "wechat_order_lines",
        None,
        "canonical_order_lines",
        "utf-8",
        when,
        rows.num_rows,
        repeats,
        [{"file": rel, **r} for r in records],
        None,
        "order_lines",
    )
    ledger.views = pd.DataFrame({"oid": lines["oid"].to_numpy()})
    return ledger


def refunds_export(sales: Sales, folder: Path) -> tuple[X.FileLedger, pd.DataFrame]:
    """refunds_20251203.csv: every refund of the canonical channels done by the export time."""
    orders = sales.orders[sales.orders["channel_id"].isin(CANONICAL_CHANNELS)]
    done = orders[orders["refund_at"].notna() & (orders["refund_at"] <= pd.Timestamp(W.AS_OF))]
    reasons = np.array(["不想要了", "质量问题", "发错货", "物流太慢"])[done.index.to_numpy() % 4]
    frame = pd.DataFrame(
        {
            "source_order_id": done["source_order_id"].to_numpy(),
            "channel_id": done["channel_id"].to_numpy(),
            "refund_id": np.strings.add("RF", done["source_order_id"].to_numpy().astype(str)),
            "refunded_at": ts(done["refund_at"]),
            "currency": done["currency"].to_numpy(),
            "amount": money(done["refund_cents"]),
            "reason": reasons,
        }
    )
    rel = "exports/canonical/refunds_20251203.csv"
    write(frame, folder, rel, "refunds")
    ledger = X.FileLedger(
        rel, "wechat_refunds", None, "canonical_refunds", "utf-8", W.AS_OF, len(frame), 0, [], None, "refunds"
    )
    return ledger, done


def reference_tables(rng: np.random.Generator, sales: Sales, demand: Demand, folder: Path) -> dict[str, pd.DataFrame]:
    """products, fx_rates, campaigns, traffic, ad_spend and fees, written as canonical CSVs."""
    p = sales.products
    tables = {
        "products": pd.DataFrame(
            {
                "sku": p["sku"],
                "spu": p["spu"],
                "name": p["name"],
                "category": p["category"],
                "brand": p["brand"],
                "list_price": money(p["list_cents"]),
                "unit_cost": money(p["cost_cents"]),
                "min_advertised_price": money(p["map_cents"]),
            }
        ),
        "fx_rates": pd.DataFrame(
            {
                "date": sales.fx["date"].dt.strftime("%Y-%m-%d"),
                "currency": "USD",
                "rate_to_base": [f"{r / 10_000:.4f}" for r in sales.fx["rate4"]],
            }
        ),
        "campaigns": _campaigns(),
        "traffic": _traffic(demand),
        "ad_spend": _ad_spend(rng, demand),
        "fees": _fees(sales),
    }
    for name, frame in tables.items():
        write(frame, folder, f"exports/canonical/{name}.csv", name)
    return tables


def _campaigns() -> pd.DataFrame:
    rows = []
    for c in W.campaigns():
        rows.append(
            {
                "campaign_id": c.id,
                "name": c.name,
                "kind": c.kind,
                "channel_id": c.channel_id,
                "starts_at": c.starts_at.strftime("%Y-%m-%d %H:%M:%S"),
                "ends_at": c.ends_at.strftime("%Y-%m-%d %H:%M:%S"),
                "budget": None if c.budget_cents is None else money(np.array([c.budget_cents]))[0],
                "code": c.code,
            }
        )
    return pd.DataFrame(rows)


def live_viewers(demand: Demand) -> dict[str, int]:
    """Viewers of each Douyin live session: its share (``world.LIVE_VIEWER_SHARE``) of the day's Douyin
    visitors, rounded half up. No random draw: the other files stay as they were."""
    frame = demand.frames["douyin"]
    by_day = dict(zip(frame["date"].dt.strftime("%Y-%m-%d"), frame["visitors"].astype(int), strict=True))
    out = {}
    for c in W.campaigns():
        if c.kind == "live_session" and c.id in W.LIVE_VIEWER_SHARE:
            visitors = by_day.get(c.starts_at.strftime("%Y-%m-%d"), 0)
            out[c.id] = int(visitors * W.LIVE_VIEWER_SHARE[c.id] + 0.5)
    return out


def _traffic(demand: Demand) -> pd.DataFrame:
    parts = []
    viewers = live_viewers(demand) if "douyin" in demand.frames else {}
    sessions = {c.id: c.starts_at.strftime("%Y-%m-%d") for c in W.campaigns() if c.id in viewers}
    for cid, frame in demand.frames.items():
        if "visitors" not in frame:
            continue
        day = frame["date"].dt.strftime("%Y-%m-%d")
        visitors = frame["visitors"].to_numpy().copy()
        if cid == "douyin":  # the live rooms' viewers get their own rows, carved out of the day's visitors
            for session, n in viewers.items():
                visitors[(day == sessions[session]).to_numpy()] -= n
        parts.append(
            pd.DataFrame(
                {
                    "date": day,
                    "channel_id": cid,
                    "distributor_id": None,
                    "campaign_id": None,
                    "impressions": frame["impressions"],
                    "visitors": visitors,
                    "page_views": frame["page_views"],
                    "add_to_cart": frame["add_to_cart"],
                }
            )
        )
    if viewers:
        parts.append(
            pd.DataFrame(
                {
                    "date": [sessions[s] for s in viewers],
                    "channel_id": "douyin",
                    "distributor_id": None,
                    "campaign_id": list(viewers),
                    "impressions": None,
                    "visitors": list(viewers.values()),
                    "page_views": None,
                    "add_to_cart": None,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _ad_spend(rng: np.random.Generator, demand: Demand) -> pd.DataFrame:
    parts = []
    cpc = {"tmall": 180, "jd": 200, "douyin": 120, "own_store": 350, "miniprogram": 150}
    for curve in demand.curves:
        cid = curve["channel_id"]
        frame = demand.frames[cid]
        spend = frame["spend_cents"].to_numpy()
        n = len(spend)
        clicks = np.round(spend / cpc[cid] * rng.uniform(0.9, 1.1, n)).astype(np.int64)
        impressions = np.round(clicks / rng.uniform(0.015, 0.03, n)).astype(np.int64)
        true_gmv = frame["ad_orders"].to_numpy() * curve["aov_yuan"] * 100
        reported = np.round(true_gmv * CURVES[cid][3] * np.exp(rng.normal(0, 0.1, n))).astype(np.int64)
        parts.append(
            pd.DataFrame(
                {
                    "date": frame["date"].dt.strftime("%Y-%m-%d"),
                    "channel_id": cid,
                    "campaign_id": curve["campaign_id"],
                    "platform": curve["platform"],
                    "currency": "CNY",
                    "spend": money(spend),
                    "impressions": impressions,
                    "clicks": clicks,
                    "reported_conversions": np.round(reported / (curve["aov_yuan"] * 100)).astype(np.int64),
                    "reported_revenue": money(reported),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def base_cents(orders: pd.DataFrame) -> np.ndarray:
    """Net amount in CNY fen: FX at the order's date, rounded half up (as DECIMAL rounding)."""
    net = orders["net_cents"].to_numpy().astype(np.int64)
    rate = orders["rate4"].to_numpy().astype(np.int64)
    return (net * rate * 2 + 10_000) // 20_000


def _fees(sales: Sales) -> pd.DataFrame:
    """Platform, payment and logistics fees per channel and day; commissions per distributor."""
    o = sales.orders[sales.orders["paid_at"].notna() & (sales.orders["paid_at"] <= pd.Timestamp(W.AS_OF))].copy()
    o["date"] = o["paid_at"].dt.strftime("%Y-%m-%d")
    o["base"] = base_cents(o)
    rows = []
    by_day = o.groupby(["date", "channel_id"])
    net = by_day["base"].sum()
    count = by_day.size()
    for (date, cid), total in net.items():
        spec = W.channel(str(cid))
        if spec.fee_rate:
            kind = "payment" if spec.kind == "own_store" else "platform"
            rows.append((date, cid, None, kind, round(total * spec.fee_rate)))
        rows.append((date, cid, None, "logistics", 550 * int(count[(date, cid)])))
    dists = {d.id: d for d in sales.distributors}
    sold = o[o["distributor_id"].notna()].groupby(["date", "channel_id", "distributor_id"])["base"].sum()
    commission: dict[tuple, float] = {}
    for (date, cid, did), total in sold.items():
        d = dists[did]
        commission[(date, cid, did)] = commission.get((date, cid, did), 0) + total * d.commission_rate
        if d.parent_id:
            key = (date, cid, d.parent_id)
            commission[key] = commission.get(key, 0) + total * W.TIER1_OVERRIDE
    rows += [(date, cid, did, "commission", round(v)) for (date, cid, did), v in commission.items() if v > 0]
    frame = pd.DataFrame(rows, columns=["date", "channel_id", "distributor_id", "fee_type", "cents"])
    frame = frame.sort_values(["date", "channel_id", "fee_type", "distributor_id"], na_position="first")
    frame["currency"] = "CNY"
    frame["amount"] = money(frame["cents"].to_numpy())
    return frame.reset_index(drop=True)
