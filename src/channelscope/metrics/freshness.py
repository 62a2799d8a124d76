"""Freshness of the data, not of the load: the latest business date each source brought per channel,
against the source's expected cadence, in the project's time zone.

A file loaded a minute ago whose newest order is three months old is stale. For each fact table
(orders, refunds, traffic, ad spend, fees) one query in the engine gives the latest business date per
source (through the batch ledger) and channel. A source's cadence is its ``expect_every`` (default 1d
for a source that lands facts): the data is fresh while its latest date is no older than today (project
time zone) minus the cadence in whole days, at least one day (a daily export holds yesterday).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

if TYPE_CHECKING:
    from channelscope.project import Project

#: fact table -> its business-date column
FACT_DATES = {
    "orders": "business_date",
    "refunds": "business_date",
    "traffic": "date",
    "ad_spend": "date",
    "fees": "date",
}
DEFAULT_CADENCE = "1d"
STATES = {
    "fresh": ("正常", "fresh"),
    "stale": ("数据滞后", "stale"),
    "never": ("未加载", "never loaded"),
    "dimension": ("维度表", "dimension"),
}


def today_in(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the project's time zone (``now`` is UTC, naive or aware)."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(ZoneInfo(timezone)).date()


def cadence_days(every: str | None) -> int:
    """Whole days of lag a cadence allows: 1h or 1d -> 1, 7d -> 7 (at least one)."""
    every = every or DEFAULT_CADENCE
    n, unit = int(every[:-1]), every[-1]
    hours = n * {"m": 1 / 60, "h": 1, "d": 24}[unit]
    return max(1, math.ceil(hours / 24))


def latest_dates(project: Project) -> pd.DataFrame:
    """source, table, channel_id, latest_date: the newest business date each source holds per channel (one
    small aggregate per fact table; a source's batches are found through the ledger)."""
    con = project.warehouse.ibis
    b = con.table("batches")
    b = b.filter(b.status == "loaded").select("batch_id", "source")
    frames = []
    o = con.table("orders")
    for table, col in [*FACT_DATES.items(), ("order_lines", "business_date")]:
        t = con.table(table)
        if table == "order_lines":  # lines are dated and placed in a channel by their order
            lo = o.select("order_id", "channel_id", _d=o.business_date)
            j = (
                t.select("batch_id", "order_id")
                .join(lo, "order_id")
                .select("batch_id", "channel_id", "_d")
                .join(b, "batch_id")
            )
        else:
            j = t.select("batch_id", "channel_id", _d=t[col]).join(b, "batch_id")
        agg = j.group_by(["source", "channel_id"]).aggregate(latest_date=j._d.max()).to_pandas()
        agg["table"] = table
        frames.append(agg)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(out):
        out["latest_date"] = pd.to_datetime(out["latest_date"]).dt.date
    return out[["source", "table", "channel_id", "latest_date"]] if len(out) else out


def data_freshness(project: Project, now: dt.datetime | None = None) -> dict[str, Any]:
    """``data_as_of`` (the latest business date with orders), ``today`` (project time zone), ``timezone`` and
    ``rows``: per source and channel its latest business date over the tables it lands (``table``), lag in
    days, cadence and state (fresh, stale, never, dimension: a source of reference data, loaded, undated)."""
    tz = project.config.project.timezone
    today = today_in(tz, now)
    latest = latest_dates(project)
    rows: list[dict[str, Any]] = []
    for src in project.config.sources:
        mine = latest[latest["source"] == src.name] if len(latest) else latest
        allowed = cadence_days(src.expect_every)
        if not len(mine):
            loaded = _loaded(project, src.name)
            rows.append(_row(src.name, None, None, None, None, src.expect_every, "dimension" if loaded else "never"))
            continue
        per = mine.groupby("channel_id", dropna=False).agg(
            latest_date=("latest_date", "max"), tables=("table", lambda s: ",".join(sorted(set(s))))
        )
        for channel, r in per.iterrows():
            lag = (today - r.latest_date).days
            state = "stale" if lag > allowed else "fresh"
            rows.append(_row(src.name, channel, r.tables, r.latest_date, lag, src.expect_every, state))
    as_of = project.latest_date()
    return {"data_as_of": as_of, "today": today, "timezone": tz, "rows": rows}


def _row(source: str, channel: Any, table: Any, latest: Any, lag: Any, every: str | None, state: str) -> dict:
    zh, en = STATES[state]
    return {
        "source": source,
        "channel": None if channel is None or pd.isna(channel) else str(channel),
        "table": table,
        "latest_date": latest,
        "lag_days": lag,
        "expect_every": every or (DEFAULT_CADENCE if state in ("fresh", "stale") else None),
        "state": state,
        "state_zh": zh,
        "state_en": en,
    }


def _loaded(project: Project, source: str) -> bool:
    b = project.warehouse.ibis.table("batches")
    return bool(b.filter((b.source == source) & (b.status == "loaded")).count().execute())
