"""Acquisition cohorts and repurchase, over the customer frame (``metrics.customers``).

The engine computes, per cohort (week or month of the first paid order) x acquisition dimension x
period since acquisition: active customers, orders and revenue; Python only adds the cohort size,
rates and cumulative revenue per customer to those aggregates. Repurchase is the declared frame
metric ``repurchase_Nd / eligible_Nd`` (a customer counts only once observable for N days), and the
days between consecutive purchase days is a histogram computed in the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import pandas as pd

from channelscope.errors import QueryError
from channelscope.metrics.customers import (
    FRAME_DIMENSIONS,
    acquisition_frame,
    customer_frame,
    customer_metrics,
    paid_orders,
)

GRAINS = ("week", "month")
WINDOWS: tuple[int, ...] = (30, 60, 90, 180)
#: histogram edges of the days between purchase days (left-closed bins; the last is open)
GAP_EDGES: tuple[int, ...] = (1, 8, 15, 31, 61, 91, 181, 366)


def cohort_table(
    con: ibis.BaseBackend,
    *,
    grain: str = "month",
    by: str | None = None,
    as_of: dt.date | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per cohort (x ``by``) x period: cohort, [by], period (0 = the acquisition week/month),
    cohort_size, customers (active in the period), orders, revenue (base currency, float rounded to
    cents), retention (customers / cohort_size, a fraction), revenue_per_customer and
    cumulative_revenue_per_customer (over the cohort size)."""
    if grain not in GRAINS:
        raise QueryError(f"unknown cohort grain '{grain}'; valid: {', '.join(GRAINS)}")
    if (by is not None and by not in FRAME_DIMENSIONS) or by in ("cohort_week", "cohort_month"):
        raise QueryError(f"cohorts cannot be cut by '{by}'; valid: acquisition_channel, _distributor, _campaign")
    # one window pass for the acquisition (not the full customer frame), one join, one aggregate; the cohort
    # size is the period-0 customers (every customer buys in their acquisition period)
    frame = acquisition_frame(con, as_of=as_of, channels=channels)
    o = paid_orders(con, as_of=as_of, channels=channels)
    cohort_col = "cohort_month" if grain == "month" else "cohort_week"
    keep = ["customer_key", cohort_col, *([FRAME_DIMENSIONS[by]] if by else [])]
    f = frame.select(*keep).rename(_ck="customer_key", cohort=cohort_col)
    t = o.join(f, o.customer_key == f._ck)
    if grain == "month":
        period = (t.day.year() * 12 + t.day.month()) - (t.cohort.year() * 12 + t.cohort.month())
    else:
        period = t.day.truncate("W").cast("date").delta(t.cohort, unit="day") // 7
    t = t.mutate(period=period.cast("int64"))
    keys = ["cohort", *([FRAME_DIMENSIONS[by]] if by else []), "period"]
    agg = (
        t.group_by(keys)
        .aggregate(customers=t.customer_key.nunique(), orders=t.count(), revenue=t.value.sum())
        .to_pandas()
    )
    size_keys = ["cohort", *([FRAME_DIMENSIONS[by]] if by else [])]
    sizes = agg[agg["period"] == 0][[*size_keys, "customers"]].rename(columns={"customers": "cohort_size"})
    out = agg.merge(sizes, on=size_keys, how="left")
    if by:
        out = out.rename(columns={FRAME_DIMENSIONS[by]: by})
        size_keys = ["cohort", by]
    out["cohort"] = pd.to_datetime(out["cohort"]).dt.date
    out["revenue"] = out["revenue"].astype("float64").round(2)
    out = out.sort_values([*size_keys, "period"], na_position="first").reset_index(drop=True)
    out["retention"] = out["customers"] / out["cohort_size"]
    out["revenue_per_customer"] = out["revenue"] / out["cohort_size"]
    out["cumulative_revenue_per_customer"] = (
        out.groupby(size_keys, dropna=False)["revenue"].cumsum() / out["cohort_size"]
    )
    cols = [*size_keys, "period", "cohort_size", "customers", "orders", "revenue", "retention"]
    return out[[*cols, "revenue_per_customer", "cumulative_revenue_per_customer"]]


def retention_matrix(table: pd.DataFrame, value: str = "retention") -> pd.DataFrame:
    """The heat map: cohorts as rows, periods since acquisition as columns (one ``by`` value at a time)."""
    return table.pivot_table(index="cohort", columns="period", values=value, aggfunc="sum")


def repurchase(
    con: ibis.BaseBackend,
    *,
    as_of: dt.date,
    windows: Sequence[int] = WINDOWS,
    by: str | None = "acquisition_channel",
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per ``by`` value (or in total): customers, repeat_customers and, per window N in days,
    ``eligible_Nd`` (first purchase at least N days before ``as_of``), ``repurchase_Nd`` (of them, bought
    again on a later day within N days) and ``rate_Nd`` (a fraction; empty when nobody is eligible)."""
    for n in windows:
        if f"repurchase_{n}d" not in _declared():
            raise QueryError(f"no repurchase window of {n} days; valid: 30, 60, 90, 180, 365")
    names = ["customers", "repeat_customers", *(f"{k}_{n}d" for n in windows for k in ("eligible", "repurchase"))]
    df = customer_metrics(con, names, by=[by] if by else [], as_of=as_of, channels=channels).to_pandas()
    for n in windows:
        e = df[f"eligible_{n}d"].astype("float64")
        df[f"rate_{n}d"] = (df[f"repurchase_{n}d"].astype("float64") / e.where(e > 0)).astype("float64")
    return df.reset_index(drop=True)


def _declared() -> set[str]:
    from channelscope.metrics.customers import CUSTOMER_METRICS

    return set(CUSTOMER_METRICS)


def days_between(
    con: ibis.BaseBackend,
    *,
    as_of: dt.date | None = None,
    by: str | None = "acquisition_channel",
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The distribution of days between consecutive purchase days of a customer: per ``by`` value and
    bin (``from_days``, ``to_days`` exclusive, None = open), the number of gaps and their share."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    d = o.group_by(["customer_key", "day"]).aggregate()
    d = d.mutate(_prev=d.day.lag().over(group_by=d.customer_key, order_by=d.day))
    d = d.filter(d._prev.notnull())
    d = d.mutate(gap=d.day.delta(d._prev, unit="day"))
    if by:
        f = customer_frame(con, as_of=as_of, channels=channels)
        f = f.select(_ck="customer_key", _by=FRAME_DIMENSIONS[by])
        d = d.join(f, d.customer_key == f._ck)
    edges = list(GAP_EDGES)
    case = ibis.cases(*((d.gap < e, i) for i, e in enumerate(edges[1:])), else_=len(edges) - 1)
    d = d.mutate(_bin=case)
    keys = (["_by"] if by else []) + ["_bin"]
    df = d.group_by(keys).aggregate(gaps=d.count(), median_days=d.gap.median()).to_pandas()
    df["from_days"] = [edges[i] for i in df["_bin"]]
    df["to_days"] = [edges[i + 1] if i + 1 < len(edges) else None for i in df["_bin"]]
    group = ["_by"] if by else []
    total = df.groupby(group)["gaps"].transform("sum") if by else df["gaps"].sum()
    df["share"] = df["gaps"] / total
    df = df.sort_values([*group, "_bin"]).drop(columns=["_bin", "median_days"]).reset_index(drop=True)
    return df.rename(columns={"_by": by}) if by else df
