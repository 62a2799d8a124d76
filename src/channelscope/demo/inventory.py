"""The demo's stock: on hand per SKU and warehouse at the data's last day, lead times, and a few
planted stock-outs with their lost sales (``inventory_truth.json``).

Drawn from its own seeded stream (``default_rng([seed, 16])``) after everything else is written, so
every existing file of the demo stays byte-for-byte the same. The stock-outs are planted after the
data's last day: a SKU's stock covers fewer days than its lead time, so it runs out before a
replenishment ordered on the first day after the data could arrive. Demand after the last day is
projected as the SKU's average paid units per day over the last 14 days.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from channelscope.demo import world as W

LOCATIONS = (("WH-SH", 0.7), ("WH-GZ", 0.3))
STOCKOUTS = 3
#: the last 14 days (after 双11 and its hangover): the demand a buyer would project into December
RECENT_DAYS = 14


def recent_daily_units(orders: pd.DataFrame, lines: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """sku, daily_units (paid units per day over the last 14 days), unit_price (yuan, the paid average)."""
    last = (W.END - W.START).days  # ``day`` is the day's number from W.START
    paid = orders[orders["paid_at"].notna()].reset_index(names="oid")
    paid = paid[paid["day"] > last - RECENT_DAYS]
    sold = lines.merge(paid[["oid"]], on="oid")
    agg = sold.groupby("sku").agg(units=("quantity", "sum"), cents=("amount_cents", "sum"))
    out = pd.DataFrame({"sku": products["sku"]}).merge(agg, left_on="sku", right_index=True, how="left").fillna(0)
    out["daily_units"] = out["units"] / RECENT_DAYS
    out["unit_price"] = np.where(out["units"] > 0, out["cents"] / out["units"].clip(lower=1) / 100, 0.0)
    return out[["sku", "daily_units", "unit_price"]].reset_index(drop=True)


def write_inventory(folder: Path, seed: int, orders: pd.DataFrame, lines: pd.DataFrame, products: pd.DataFrame) -> dict:
    """Write exports/canonical/inventory.csv, exports/canonical/lead_times.csv and inventory_truth.json."""
    rng = np.random.default_rng([seed, 16])
    demand = recent_daily_units(orders, lines, products)
    n = len(demand)
    lead = rng.integers(7, 36, n)
    case = rng.choice([6, 12, 24], n)
    cover = rng.uniform(1.4, 3.0, n) * (lead + 14)
    candidates = np.flatnonzero(demand["daily_units"].to_numpy() >= 1.0)
    planted = rng.choice(candidates, size=min(STOCKOUTS, len(candidates)), replace=False)
    for j in planted:
        cover[j] = rng.uniform(0.25, 0.5) * lead[j]
    over = [j for j in np.argsort(-demand["daily_units"].to_numpy()) if j not in planted][-1]
    cover[over] = 400.0
    on_hand = np.floor(demand["daily_units"].to_numpy() * cover).astype(np.int64)
    rows = []
    for j, sku in enumerate(demand["sku"]):
        first = int(np.rint(on_hand[j] * LOCATIONS[0][1]))
        rows += [
            (W.END.isoformat(), sku, LOCATIONS[0][0], first),
            (W.END.isoformat(), sku, LOCATIONS[1][0], int(on_hand[j]) - first),
        ]
    out = folder / "exports" / "canonical"
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["date", "sku", "location", "on_hand"]).to_csv(out / "inventory.csv", index=False)
    cats = products.set_index("sku")["category"]
    pd.DataFrame(
        {
            "sku": demand["sku"],
            "supplier": [f"SUP-{cats[s]}" for s in demand["sku"]],
            "lead_time_days": lead,
            "case_pack": case,
            "on_order": 0,
        }
    ).to_csv(out / "lead_times.csv", index=False)
    truth = {
        "as_of": W.END.isoformat(),
        "demand_basis": f"paid units per day over the last {RECENT_DAYS} days, projected after the last day",
        "stockouts": [_stockout(demand.iloc[j], int(on_hand[j]), int(lead[j])) for j in sorted(planted)],
        "overstock": [{"sku": demand["sku"].iloc[over], "on_hand": int(on_hand[over]), "days_of_cover": 400}],
    }
    (folder / "inventory_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def _stockout(row: pd.Series, on_hand: int, lead: int) -> dict:
    daily = float(row["daily_units"])
    days = int(np.floor(on_hand / daily))  # full days the stock lasts after the last day of data
    out_on = W.END + dt.timedelta(days=days + 1)
    arrives = W.END + dt.timedelta(days=1 + lead)  # ordered the day after the data ends
    lost_days = max((arrives - out_on).days, 0)
    lost_units = round(daily * lost_days, 2)
    return {
        "sku": str(row["sku"]),
        "on_hand": on_hand,
        "daily_units": round(daily, 4),
        "lead_time_days": lead,
        "stockout_date": out_on.isoformat(),
        "replenishment_arrives": arrives.isoformat(),
        "lost_units": lost_units,
        "lost_sales": round(lost_units * float(row["unit_price"]), 2),
    }
