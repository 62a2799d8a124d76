"""What the CLI prints around a number: its basis (口径), why it is empty for a channel (coverage) and how
recent the data is (数据截至 / data as of), in zh-CN or en."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from channelscope.metrics.definitions import Metric
    from channelscope.project import Project


def basis_text(p: Project, m: Metric, locale: str) -> str:
    """The metric's basis sentence with the project's currency and time zone."""
    info = p.config.project
    return m.basis.text(locale, currency=info.base_currency, timezone=info.timezone) if m.basis else ""


def data_as_of_line(p: Project, locale: str) -> str:
    """``数据截至 2025-11-30（Asia/Shanghai）`` / ``data as of 2025-11-30 (Asia/Shanghai)``."""
    as_of = p.latest_date()
    tz = p.config.project.timezone
    value = "-" if as_of is None else as_of.isoformat()
    return f"数据截至 {value}（{tz}）" if locale == "zh-CN" else f"data as of {value} ({tz})"


def kpi_notes(p: Project, metrics: list[str], coverage: pd.DataFrame, locale: str) -> list[str]:
    """Lines printed under a KPI table: data as of, each empty value's reason, each metric's basis."""
    zh = locale == "zh-CN"
    lines = [data_as_of_line(p, locale)]
    if len(coverage):
        lines.append("数据缺失（不计 0，合计不含该渠道）：" if zh else "no data (never 0; left out of totals):")
        for r in coverage.itertuples(index=False):
            label = p.catalog.get(r.metric).label_zh if zh else p.catalog.get(r.metric).label_en
            lines.append(f"  {label} · {r.channel}: {r.reason_zh if zh else r.reason_en} [{r.reason}]")
    for name in metrics:
        m = p.catalog.get(name)
        lines.append(f"{m.label_zh if zh else m.label_en}: {basis_text(p, m, locale)}")
    return lines


def data_freshness_title(data: dict[str, Any]) -> str:
    return f"Data freshness 数据新鲜度 (data as of {data['data_as_of']}, today {data['today']} {data['timezone']})"


def data_freshness_frame(data: dict[str, Any]) -> pd.DataFrame:
    """One row per source and channel: latest business date, lag in days, cadence, state (zh-CN / en)."""
    df = pd.DataFrame(data["rows"])
    if not len(df):
        return df
    df["state"] = df["state_zh"] + " / " + df["state_en"]
    return df.drop(columns=["state_zh", "state_en"])
