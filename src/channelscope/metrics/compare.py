"""Comparison periods (previous, same period last year, week over week) and to-date ranges."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from dateutil.relativedelta import relativedelta

from channelscope.errors import QueryError

COMPARES = ("previous", "yoy", "wow")
TO_DATE = ("mtd", "qtd", "ytd", "wtd")


def periods_in(start: dt.date, end: dt.date, grain: str) -> int:
    """How many whole grain periods the range spans (at least 1)."""
    if grain == "day" or grain == "total":
        return (end - start).days + 1
    if grain == "week":
        return max(1, ((end - start).days + 1) // 7)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return max(1, {"month": months, "quarter": months // 3, "year": months // 12}[grain])


def shift_for(compare: str, grain: str, start: dt.date, end: dt.date) -> relativedelta:
    """How far back the comparison range lies."""
    if compare == "yoy":
        return relativedelta(weeks=52) if grain == "week" else relativedelta(years=1)
    if compare == "wow":
        return relativedelta(weeks=1)
    if compare == "previous":
        n = periods_in(start, end, grain)
        return {
            "day": relativedelta(days=n),
            "total": relativedelta(days=n),
            "week": relativedelta(weeks=n),
            "month": relativedelta(months=n),
            "quarter": relativedelta(months=3 * n),
            "year": relativedelta(years=n),
        }[grain]
    raise QueryError(f"unknown comparison '{compare}'; valid: {', '.join(COMPARES)}")


def to_date_start(kind: str, end: dt.date) -> dt.date:
    """First day of the month/quarter/year/ISO week containing ``end``."""
    if kind == "mtd":
        return end.replace(day=1)
    if kind == "qtd":
        return dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    if kind == "ytd":
        return dt.date(end.year, 1, 1)
    if kind == "wtd":
        return end - dt.timedelta(days=end.weekday())
    raise QueryError(f"unknown to-date range '{kind}'; valid: {', '.join(TO_DATE)}")


def attach(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    keys: list[str],
    metrics: list[str],
    shift: relativedelta,
    has_period: bool,
) -> pd.DataFrame:
    """Add ``<m>_prev``, ``<m>_change`` and ``<m>_change_pct`` (empty where the base is 0)."""
    prev = previous.copy()
    if has_period:
        prev["period"] = [p + shift for p in prev["period"]]
    prev = prev.rename(columns={m: f"{m}_prev" for m in metrics})
    for k in keys:  # an empty side has float64 keys: give it the other side's type, so the merge works
        if k in prev.columns and k in current.columns and prev[k].dtype != current[k].dtype:
            if prev.empty:
                prev[k] = prev[k].astype(current[k].dtype)
            elif current.empty:
                current = current.assign(**{k: current[k].astype(prev[k].dtype)})
    out = current.merge(prev, on=keys, how="left") if keys else current.join(prev, how="left")
    for m in metrics:
        base = out[f"{m}_prev"]
        out[f"{m}_change"] = out[m] - base
        out[f"{m}_change_pct"] = (out[m] - base) / base.where(base != 0)
    return out
