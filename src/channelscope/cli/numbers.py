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


def metric_basis(p: Project, names: list[str]) -> dict[str, dict[str, Any]]:
    """metric -> its basis as exports carry it (``metrics.basis.basis_record``: zh-CN, en and the fields)."""
    from channelscope.metrics.basis import basis_record

    info = p.config.project
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        record = basis_record(p.catalog.get(name).basis, currency=info.base_currency, timezone=info.timezone)
        if record is not None:
            out[name] = record
    return out


def with_basis_columns(df: pd.DataFrame, p: Project, metrics: list[str], locale: str) -> pd.DataFrame:
    """The KPI table as a CSV export holds it: a ``<metric>_basis`` column per metric after the figures, the
    basis sentence in ``locale`` on every row (so a row copied elsewhere keeps its 口径)."""
    out = df.copy()
    for name in metrics:
        out[f"{name}_basis"] = basis_text(p, p.catalog.get(name), locale)
    return out


def export_envelope(p: Project, df: pd.DataFrame, metrics: list[str], coverage: pd.DataFrame) -> dict[str, Any]:
    """A KPI table as ``--format json`` writes it, shaped like the API's answer: ``rows``, each metric's
    ``basis``, the ``coverage`` (why a value is empty), ``data_as_of``, ``timezone`` and ``currency``."""
    as_of = p.latest_date()
    return {
        "rows": df,
        "basis": metric_basis(p, metrics),
        "coverage": coverage.to_dict("records"),
        "data_as_of": None if as_of is None else as_of.isoformat(),
        "timezone": p.config.project.timezone,
        "currency": p.config.project.base_currency,
    }


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
