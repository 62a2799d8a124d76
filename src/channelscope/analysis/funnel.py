"""The conversion funnel: impressions -> visitors -> add to cart -> orders -> paid orders (-> kept).

Pure functions over a KPI frame pulled once through the semantic layer (``Project.kpis``): the
analysis never reads facts itself, and the web layer only adds scope and caching around it.
"""

from __future__ import annotations

import itertools

import pandas as pd

#: the funnel's steps, in order; each is a metric of the catalog
STAGES: tuple[str, ...] = ("impressions", "visitors", "add_to_cart", "orders", "paid_orders")
#: the metrics a per-channel funnel needs (the steps, and refunds for the "kept" step)
BY_CHANNEL_METRICS: tuple[str, ...] = (*STAGES, "refund_count")


def funnel_steps(totals: pd.DataFrame) -> pd.DataFrame:
    """One row per stage: ``value`` and ``rate_from_previous`` (a fraction; None where the step before is 0
    or unknown). ``totals`` is a one-row KPI frame holding the STAGES (grain total, no dimension)."""
    values = [_value(totals, m) for m in STAGES]
    rates: list[float | None] = [None]
    for a, b in itertools.pairwise(values):
        rates.append(b / a if a and b is not None else None)
    return pd.DataFrame({"stage": list(STAGES), "value": values, "rate_from_previous": rates})


def funnel_by_channel(frame: pd.DataFrame) -> pd.DataFrame:
    """Per channel, the STAGES and ``kept_orders`` (paid orders minus refunds counted in the same period, at
    least 0). ``frame`` is a KPI frame by channel holding BY_CHANNEL_METRICS."""
    df = frame[frame["channel"].notna()].copy()
    df["kept_orders"] = (df["paid_orders"].astype("float64") - df["refund_count"].astype("float64")).clip(lower=0)
    return df.drop(columns=["refund_count"]).reset_index(drop=True)


def _value(df: pd.DataFrame, metric: str) -> float | None:
    if not len(df) or metric not in df.columns:
        return 0.0
    v = df[metric].iloc[0]
    return None if pd.isna(v) else float(v)
