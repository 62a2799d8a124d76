"""The inventory plan: demand over lead time from the forecast, safety stock, reorder point, days of
cover, stock-out risk, overstock and a purchase suggestion (exportable to Excel).

Per SKU (all channels and locations together), with the daily units forecast (mean and standard
deviation per day) and the lead time L (days):

* demand over lead time  D_L = sum of the daily means over the first L days after the data;
* its standard deviation  s_L = sqrt(sum of the daily variances over those days) (days independent);
* safety stock  SS = z x s_L, z the standard normal quantile of the service level (0.95 -> 1.645);
* reorder point  ROP = D_L + SS;  position = on hand + on order;
* days of cover = on hand / mean daily forecast over the horizon (empty when no demand is forecast);
* stock-out date: the first day the cumulative mean forecast exceeds the on-hand stock;
* at risk: that day comes before a replenishment ordered now arrives (within L days);
* overstock: more than ``overstock_days`` days of cover;
* suggested order = ROP + mean demand over ``review_days`` - position, rounded up to the case pack
  (0 when the position covers it).

A daily standard deviation is read off the forecast's 80% interval: (p90 - p10) / 2.563.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import norm

from channelscope.errors import ConfigError, QueryError

if TYPE_CHECKING:
    from channelscope.project import Project

WIDTH80 = 2.5631
COLUMNS = [
    "sku",
    "on_hand",
    "on_order",
    "lead_time_days",
    "daily_demand",
    "demand_over_lead_time",
    "sd_over_lead_time",
    "safety_stock",
    "reorder_point",
    "days_of_cover",
    "stockout_date",
    "at_risk",
    "overstock",
    "reorder_now",
    "suggested_order",
]


def plan(
    on_hand: pd.DataFrame,
    lead_times: pd.DataFrame,
    daily: pd.DataFrame,
    *,
    service_level: float = 0.95,
    review_days: int = 7,
    overstock_days: float = 120.0,
    default_lead_time: int = 14,
) -> pd.DataFrame:
    """The plan, one row per SKU of ``on_hand`` (sku, on_hand).

    ``lead_times``: sku, lead_time_days[, on_order, case_pack]; ``daily``: sku, period, mean, sd
    (units per day, from the first day after the data).
    """
    if not 0.5 <= service_level < 1:
        raise QueryError("service level must be between 0.5 and 1 (e.g. 0.95)")
    z = float(norm.ppf(service_level))
    stock = on_hand.groupby("sku", as_index=False)["on_hand"].sum()
    lt = lead_times.set_index("sku") if len(lead_times) else pd.DataFrame(index=pd.Index([], name="sku"))
    fc = daily.sort_values(["sku", "period"])
    groups = {str(k): g for k, g in fc.groupby("sku")}
    rows = []
    for r in stock.itertuples(index=False):
        sku, have = str(r.sku), float(r.on_hand)
        lead = int(lt.at[sku, "lead_time_days"]) if sku in lt.index else default_lead_time
        on_order = float(lt.at[sku, "on_order"]) if sku in lt.index and "on_order" in lt else 0.0
        case = int(lt.at[sku, "case_pack"]) if sku in lt.index and "case_pack" in lt else 1
        g = groups.get(sku)
        if g is None or g.empty:
            rows.append(
                dict.fromkeys(COLUMNS) | {"sku": sku, "on_hand": have, "on_order": on_order, "lead_time_days": lead}
            )
            continue
        mean = g["mean"].to_numpy(dtype=float)
        sd = g["sd"].to_numpy(dtype=float)
        periods = pd.to_datetime(g["period"]).dt.date.to_numpy()
        d_l = float(mean[:lead].sum())
        s_l = math.sqrt(float((sd[:lead] ** 2).sum()))
        safety = z * s_l
        rop = d_l + safety
        avg = float(mean.mean())
        cum = np.cumsum(mean)
        out_idx = np.flatnonzero(cum > have)
        out_on = periods[out_idx[0]] if len(out_idx) else None
        arrival = periods[0] + dt.timedelta(days=lead - 1) if len(periods) else None
        position = have + on_order
        need = rop + float(mean[lead : lead + review_days].sum()) - position
        order = int(math.ceil(need / case) * case) if need > 0 else 0
        cover = have / avg if avg > 0 else None
        rows.append(
            {
                "sku": sku,
                "on_hand": have,
                "on_order": on_order,
                "lead_time_days": lead,
                "daily_demand": round(avg, 4),
                "demand_over_lead_time": round(d_l, 4),
                "sd_over_lead_time": round(s_l, 4),
                "safety_stock": round(safety, 4),
                "reorder_point": round(rop, 4),
                "days_of_cover": None if cover is None else round(cover, 1),
                "stockout_date": out_on,
                "at_risk": bool(out_on is not None and arrival is not None and out_on <= arrival and position < d_l),
                "overstock": bool(cover is not None and cover > overstock_days),
                "reorder_now": bool(position <= rop),
                "suggested_order": order,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise ConfigError("file not found", file=str(path))
    frame = pd.read_csv(path, encoding="utf-8-sig")
    for col in required:
        if col not in frame.columns:
            raise ConfigError(f"missing column '{col}'", file=str(path), field=col)
    for i, row in enumerate(frame.to_dict("records"), start=2):
        for col in required[1:]:
            value = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
            if pd.isna(value) or value < 0:
                raise ConfigError(f"'{row[col]}' is not a non-negative number", file=str(path), row=i, field=col)
    return frame


def on_hand_of(project: Project, path: Path | None = None) -> pd.DataFrame:
    """On hand per SKU and location: the latest date of the ``inventory`` table, or a CSV
    (date, sku, location, on_hand) when ``path`` is given."""
    if path is not None:
        frame = _read_csv(path, ["sku", "on_hand"])
        if "date" in frame:
            frame = frame[frame["date"] == frame["date"].max()]
        return frame
    t = project.warehouse.ibis.table("inventory")
    last = t.date.max().execute()
    if last is None or pd.isna(last):
        raise QueryError("the inventory table is empty: load inventory or pass --on-hand FILE")
    return t.filter(t.date == last).select("date", "sku", "location", "on_hand").execute()


def lead_times_of(path: Path) -> pd.DataFrame:
    """Lead times per SKU from a CSV (sku, lead_time_days[, supplier, case_pack, on_order])."""
    return _read_csv(path, ["sku", "lead_time_days"])


def lead_times_in(project: Project) -> pd.DataFrame:
    """Lead times per SKU from the ``lead_times`` table (a SKU without one gets ``plan``'s default lead time)."""
    t = project.warehouse.ibis.table("lead_times")
    frame = t.select("sku", "supplier", "lead_time_days", "case_pack", "on_order").execute()
    frame["lead_time_days"] = pd.to_numeric(frame["lead_time_days"]).astype(float)
    frame["case_pack"] = pd.to_numeric(frame["case_pack"]).astype(float).fillna(1.0)  # no case: single units
    frame["on_order"] = pd.to_numeric(frame["on_order"]).astype(float).fillna(0.0)
    return frame


def sku_daily_forecast(project: Project, horizon: int = 90) -> pd.DataFrame:
    """Units per SKU and day (every channel together): sku, period, mean, sd, from the product
    hierarchy's reconciled forecast (the channels' variances add: channels independent)."""
    run = project.analysis.forecast("units", hierarchy="product", horizon=horizon)
    fc = run.forecast[run.forecast["level"] == "sku"].copy()
    fc["var"] = ((fc["p90"] - fc["p10"]) / WIDTH80) ** 2
    out = fc.groupby(["sku", "period"], as_index=False).agg(mean=("mean", "sum"), var=("var", "sum"))
    out["sd"] = np.sqrt(out["var"])
    return out[["sku", "period", "mean", "sd"]]


def inventory_plan(
    project: Project,
    *,
    on_hand: Path | None = None,
    lead_times: Path | None = None,
    service_level: float = 0.95,
    review_days: int = 7,
    overstock_days: float = 120.0,
    horizon: int = 90,
) -> pd.DataFrame:
    """The project's inventory plan (see ``plan``)."""
    stock = on_hand_of(project, on_hand)
    leads = (
        lead_times_of(lead_times) if lead_times is not None else lead_times_in(project)
    )  # bad files fail before any fit
    daily = sku_daily_forecast(project, horizon)
    return plan(
        stock,
        leads,
        daily,
        service_level=service_level,
        review_days=review_days,
        overstock_days=overstock_days,
    )


def to_excel(frame: pd.DataFrame, path: Path) -> Path:
    """The purchase suggestion as an Excel sheet (SKUs to order first)."""
    order = frame.sort_values(["at_risk", "suggested_order"], ascending=[False, False])
    with pd.ExcelWriter(path, engine="xlsxwriter") as xl:
        order.to_excel(xl, sheet_name="purchase", index=False)
    return path
