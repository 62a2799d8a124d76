"""The rows a dashboard table shows, as a file: the alerts inbox and the batch ledger (the KPI tables export
through ``/api/kpis/export``). Same columns, labels, language and order as on the page, so an exported file
reads like the table it came from; ``service.export_bytes`` neutralizes formula injection."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

#: the columns each table shows and exports: key -> (zh-CN header, en header)
ALERT_COLUMNS: dict[str, tuple[str, str]] = {
    "severity": ("级别", "Severity"),
    "title": ("告警", "Alert"),
    "channel": ("渠道", "Channel"),
    "period": ("周期", "Period"),
    "when": ("最近发生", "Last seen"),
    "status": ("状态", "Status"),
}
LEDGER_COLUMNS: dict[str, tuple[str, str]] = {
    "started_at": ("开始", "Started"),
    "source": ("数据源", "Source"),
    "file": ("文件", "File"),
    "status": ("状态", "Status"),
    "rows_in": ("输入行数", "Rows in"),
    "loaded": ("已加载", "Loaded"),
    "quarantined": ("已隔离", "Quarantined"),
    "duplicates": ("重复", "Duplicates"),
}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def sort_frame(df: pd.DataFrame, sort: str, columns: list[str]) -> pd.DataFrame:
    """``df`` ordered by ``sort`` (``when`` ascending, ``-when`` descending), missing values last either way,
    as the dashboard's sortable headers order the page; an unknown column keeps the order as it is."""
    key, desc = sort.lstrip("-"), sort.startswith("-")
    if key not in columns or key not in df.columns:
        return df
    by = df[key].map(lambda v: SEVERITY_ORDER.get(v, 9)) if key == "severity" else df[key]
    order = by.sort_values(ascending=not desc, na_position="last", kind="stable").index
    return df.loc[order].reset_index(drop=True)


def alert_rows(df: pd.DataFrame, lang: str, channel_name: Any) -> pd.DataFrame:
    """The inbox's columns from ``service.alerts_table`` (decoded as the page decodes them): severity, title in
    ``lang``, channel name, period, when (last seen, UTC), status."""
    rows = []
    for r in df.to_dict("records"):
        title = r.get("title", r.get("title_json"))
        if isinstance(title, str):
            try:
                title = json.loads(title)
            except ValueError:
                title = {"en": title, "zh-CN": title}
        text = title.get(lang) or title.get("zh-CN") or title.get("en") if isinstance(title, dict) else None
        when = r.get("last_seen_at") or r.get("first_seen_at") or r.get("opened_at")
        rows.append(
            {
                "id": str(r.get("alert_id") or r.get("id")),
                "severity": r.get("severity") or "info",
                "title": text or r.get("rule"),
                "channel": channel_name(r.get("channel_id")) if r.get("channel_id") else "",
                "period": r.get("period") or "",
                "when": None if when is None or (not isinstance(when, str) and pd.isna(when)) else pd.Timestamp(when),
                "status": r.get("status"),
            }
        )
    return pd.DataFrame(rows)


def shown(df: pd.DataFrame, columns: dict[str, tuple[str, str]], lang: str, timezone: str) -> pd.DataFrame:
    """Only the shown columns, headed in ``lang``; times in the project's ``timezone`` (named in the header),
    ``YYYY-MM-DD HH:MM``, as the page shows them."""
    from channelscope.web.dashboard.data import local_time

    out = df.reindex(columns=list(columns)).copy()
    heads = {k: v[1] if lang == "en" else v[0] for k, v in columns.items()}
    for c in out.columns:
        if c in ("when", "started_at"):
            out[c] = out[c].map(lambda v: "" if local_time(v, timezone) == "–" else local_time(v, timezone))
            heads[c] = f"{heads[c]} ({timezone})" if lang == "en" else f"{heads[c]}（{timezone}）"
    return out.rename(columns=heads)
