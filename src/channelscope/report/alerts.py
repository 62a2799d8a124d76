"""The alerts of a report's period, read from the alert lifecycle tables (none if alerts never ran)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from channelscope.errors import QueryError
from channelscope.metrics.periods import parse_period
from channelscope.report.content import Report

if TYPE_CHECKING:
    from channelscope.project import Project


def alerts_in_period(project: Project, report: Report) -> pd.DataFrame:
    """Alerts whose period overlaps the report's, within its channels: severity, status, channel, period, title."""
    from channelscope.monitor.store import has_alert_tables

    wh = project.warehouse
    if not has_alert_tables(wh):
        return pd.DataFrame()
    df = wh.ibis.table("alerts").to_pandas()
    if df.empty:
        return df
    keep = []
    for period in df["period"]:
        try:
            s, e = parse_period(str(period).split("/")[0]) if period else (None, None)
        except QueryError:
            s = e = None
        keep.append(s is not None and e is not None and s <= report.end and e >= report.start)
    df = df[keep]
    if report.channels:
        df = df[df["channel_id"].isin(report.channels) | df["channel_id"].isna()]
    titles = [json.loads(t) if isinstance(t, str) and t else {} for t in df["title_json"]]
    out = df[["severity", "status", "channel_id", "period"]].copy()
    out["title_zh-CN"] = [t.get("zh-CN", "") for t in titles]
    out["title_en"] = [t.get("en", "") for t in titles]
    return out.sort_values(["period", "severity"]).reset_index(drop=True)
