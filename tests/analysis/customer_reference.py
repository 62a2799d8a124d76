"""Independent pandas computations of the customer analyses, from a plain frame of paid orders.

The frame has one row per paid order with a customer: customer_key, channel_id, distributor_id,
campaign_id, ordered_at, order_id, day (datetime64, the business date) and cents (int64, exact money).
Nothing here uses channelscope; the tests compare the engine's results with these.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

SEGMENTS = {
    (True, True, True): "important_value",
    (True, False, True): "important_develop",
    (False, True, True): "important_keep",
    (False, False, True): "important_winback",
    (True, True, False): "general_value",
    (True, False, False): "general_develop",
    (False, True, False): "general_keep",
    (False, False, False): "general_winback",
}


def upto(p: pd.DataFrame, as_of: dt.date | None) -> pd.DataFrame:
    return p if as_of is None else p[p["day"] <= pd.Timestamp(as_of)]


def frame(p: pd.DataFrame, as_of: dt.date | None = None) -> pd.DataFrame:
    """Per customer: first_day, acquisition channel, second_day (next later purchase day), last_day, orders, cents."""
    p = upto(p, as_of).sort_values(["customer_key", "ordered_at", "order_id"])
    g = p.groupby("customer_key")
    out = pd.DataFrame(
        {
            "first_day": g["day"].min(),
            "last_day": g["day"].max(),
            "orders": g.size(),
            "cents": g["cents"].sum(),
            "acquisition_channel": g["channel_id"].first(),
        }
    )
    days = p[["customer_key", "day"]].drop_duplicates().sort_values(["customer_key", "day"])
    n = days.groupby("customer_key").cumcount()
    out["second_day"] = days[n == 1].set_index("customer_key")["day"]
    return out


def cohorts(p: pd.DataFrame, grain: str = "month", by_channel: bool = False) -> pd.DataFrame:
    f = frame(p)
    o = p.merge(f[["first_day", "acquisition_channel"]], left_on="customer_key", right_index=True)
    if grain == "month":
        o["cohort"] = o["first_day"].dt.to_period("M").dt.start_time.dt.date
        o["period"] = (o["day"].dt.year * 12 + o["day"].dt.month) - (
            o["first_day"].dt.year * 12 + o["first_day"].dt.month
        )
    else:
        monday = o["first_day"] - pd.to_timedelta(o["first_day"].dt.weekday, unit="D")
        oweek = o["day"] - pd.to_timedelta(o["day"].dt.weekday, unit="D")
        o["cohort"] = monday.dt.date
        o["period"] = (oweek - monday).dt.days // 7
    keys = ["cohort", *(["acquisition_channel"] if by_channel else []), "period"]
    out = o.groupby(keys).agg(customers=("customer_key", "nunique"), orders=("cents", "size"), cents=("cents", "sum"))
    return out.reset_index()


def repurchase(p: pd.DataFrame, as_of: dt.date, windows: tuple[int, ...]) -> pd.DataFrame:
    f = frame(p, as_of)
    gap = (f["second_day"] - f["first_day"]).dt.days
    rows = {"customers": f.groupby("acquisition_channel").size()}
    rows["repeat_customers"] = f["second_day"].notna().groupby(f["acquisition_channel"]).sum()
    for n in windows:
        eligible = f["first_day"] <= pd.Timestamp(as_of - dt.timedelta(days=n))
        rows[f"eligible_{n}d"] = eligible.groupby(f["acquisition_channel"]).sum()
        rows[f"repurchase_{n}d"] = (eligible & (gap <= n)).groupby(f["acquisition_channel"]).sum()
    return pd.DataFrame(rows).astype("int64")


def gaps(p: pd.DataFrame, edges: tuple[int, ...]) -> pd.Series:
    days = p[["customer_key", "day"]].drop_duplicates().sort_values(["customer_key", "day"])
    d = days.groupby("customer_key")["day"].diff().dt.days.dropna()
    bins = np.searchsorted(np.array(edges), d.to_numpy(), side="right") - 1
    return pd.Series(bins).value_counts().sort_index()


def rfm(p: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Per customer: recency_days, frequency, monetary and the segment with mean cuts."""
    f = frame(p, as_of)
    out = pd.DataFrame(
        {
            "recency_days": (pd.Timestamp(as_of) - f["last_day"]).dt.days,
            "frequency": f["orders"],
            "monetary": f["cents"] / 100,
        }
    )
    hr = out["recency_days"] <= out["recency_days"].mean()
    hf = out["frequency"] >= out["frequency"].mean()
    hm = out["monetary"] >= out["monetary"].mean()
    out["segment"] = [SEGMENTS[(a, b, c)] for a, b, c in zip(hr, hf, hm, strict=True)]
    return out
