"""Compose a report from a definition: resolve its period and scope, run each section's queries, draw findings.

Every figure is pulled through the semantic layer (``Project.kpis``, ``Project.explain``, ``Project.analysis``)
for the report's period and channels, so a report's number equals the API's for the same query.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd
from dateutil.relativedelta import relativedelta

from channelscope.errors import QueryError
from channelscope.metrics.periods import comparison_period, parse_period
from channelscope.report.content import Chart, Column, Finding, Report, SectionResult, Text
from channelscope.report.definitions import ReportDefinition, Section
from channelscope.report.findings import anomaly_findings, mover_findings, target_findings

if TYPE_CHECKING:
    from channelscope.project import Project

_SECTION_TITLES: dict[str, Text] = {
    "kpis": {"zh-CN": "核心指标", "en": "Key figures"},
    "channels": {"zh-CN": "分渠道表现", "en": "Channels"},
    "decomposition": {
        "zh-CN": "GMV 变化分解（访客 × 转化率 × 客单价）",
        "en": "Why GMV moved (visitors × conversion × AOV)",
    },
    "movers": {"zh-CN": "变化最大的渠道", "en": "Top movers"},
    "targets": {"zh-CN": "目标达成", "en": "Targets"},
    "anomalies": {"zh-CN": "异常（季节模型判断）", "en": "Anomalies (seasonal model)"},
    "alerts": {"zh-CN": "本期告警", "en": "Alerts of the period"},
    "trend": {"zh-CN": "每日走势", "en": "Daily trend"},
}
_COMPARE_TITLES: dict[str, Text] = {
    "previous": {"zh-CN": "环比", "en": "vs previous period"},
    "yoy": {"zh-CN": "同比", "en": "vs last year"},
    "wow": {"zh-CN": "周同比", "en": "vs a week earlier"},
}
_PARTS: dict[str, Text] = {
    "visitors": {"zh-CN": "访客", "en": "Visitors"},
    "conversion_rate": {"zh-CN": "转化率", "en": "Conversion rate"},
    "aov": {"zh-CN": "客单价", "en": "AOV"},
    "channel_mix": {"zh-CN": "渠道结构", "en": "Channel mix"},
    "new_or_lost": {"zh-CN": "新增或流失", "en": "New or lost"},
    "undecomposed": {"zh-CN": "无法分解（缺访客数据）", "en": "Not decomposable (no traffic data)"},
}


def resolve_period(text: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """A report period: 'yesterday', 'last_week' (the ISO week before the one of ``as_of``), 'last_month',
    'this_month' (to ``as_of`` - 1), or any period ``parse_period`` knows (2025-11, 2025-W46, START..END).
    A campaign's window ('last_campaign', 'campaign:<id>') needs the project: ``compose`` resolves it.
    ``as_of`` is the day the report is issued: its figures end the day before at the latest."""
    if text == "yesterday":
        day = as_of - dt.timedelta(days=1)
        return day, day
    if text == "last_week":
        monday = as_of - dt.timedelta(days=as_of.weekday())
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    if text == "last_month":
        first = as_of.replace(day=1)
        return first - relativedelta(months=1), first - dt.timedelta(days=1)
    if text == "this_month":
        return as_of.replace(day=1), as_of - dt.timedelta(days=1)
    return parse_period(text)


def compose(
    project: Project,
    definition: ReportDefinition,
    *,
    period: str | None = None,
    as_of: dt.date | None = None,
    channels: list[str] | None = None,
    language: str | None = None,
) -> Report:
    """The report of ``definition`` for ``period`` (default: the definition's), issued on ``as_of`` (default:
    the day after the latest business date with orders), restricted to ``channels`` (a reader's scope: the
    intersection with the definition's channels), in ``language``."""
    latest = project.latest_date()
    issued = as_of or ((latest + dt.timedelta(days=1)) if latest else dt.date.today())
    from channelscope.report.campaign import campaign_window

    text = period or definition.period
    window = campaign_window(project, text, issued)
    campaign: dict[str, Any] = {}
    if window is not None:
        start, end, campaign = window
    else:
        start, end = resolve_period(text, issued)
    scope = _scope(definition.channels, channels)
    filters = {"channel": scope} if scope else {}
    lang = language or definition.language
    cmp_start, cmp_end = comparison_period(start, end, "previous")
    title = dict(definition.title)
    if campaign:
        title = {
            k: f"{v}：{campaign['name']}" if k == "zh-CN" else f"{v}: {campaign['name']}" for k, v in title.items()
        }
    report = Report(
        name=definition.name,
        title=title,
        language=lang,
        start=start,
        end=end,
        compare_start=cmp_start,
        compare_end=cmp_end,
        data_as_of=latest,
        generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        channels=scope,
        currency=project.config.project.base_currency,
    )
    for section in definition.sections:
        result, findings = _SECTIONS[section.kind](project, section, report, filters)
        report.sections.append(result)
        report.findings.extend(findings)
    order = {"critical": 0, "warning": 1, "info": 2}
    report.findings.sort(key=lambda f: (order.get(f.severity, 3), f.kind))
    return report


def _scope(defined: list[str], reader: list[str] | None) -> list[str]:
    if reader is None:
        return list(defined)
    if not defined:
        return list(reader)
    both = [c for c in defined if c in reader]
    if not both:
        raise QueryError("the report covers no channel within your scope")
    return both


def _label(project: Project, metric: str) -> Text:
    m = project.catalog.get(metric)
    return {"zh-CN": m.label_zh, "en": m.label_en}


def _unit(project: Project, metric: str) -> str:
    return str(project.catalog.get(metric).unit)


def _kpis(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    df = project.kpis(section.metrics, start=report.start, end=report.end, filters=filters, compare=section.compare)
    prev_start, prev_end = (
        comparison_period(report.start, report.end, section.compare)
        if section.compare != "wow"
        else (report.start - dt.timedelta(days=7), report.end - dt.timedelta(days=7))
    )
    # a comparison period before the first order is missing (no data), never 0
    first = _first_date(project, report)
    before_data = first is None or prev_start < first
    rows = []
    for m in section.metrics:
        unit = _unit(project, m)
        value = _num(df, m)
        prev = None if before_data else _num(df, f"{m}_prev")
        change = None if value is None or prev is None else value - prev
        rows.append(
            {
                "metric": m,
                "label_zh-CN": _label(project, m)["zh-CN"],
                "label_en": _label(project, m)["en"],
                "_unit": unit,
                "value": value,
                "previous": prev,
                "change": change,
                # a change of a rate is read in percentage points; a relative change of a rate is not shown
                "change_pct": None if unit == "percent" or not prev or change is None else change / prev,
            }
        )
    title = {
        k: f"{_SECTION_TITLES['kpis'][k]}（{v}）" if k == "zh-CN" else f"{_SECTION_TITLES['kpis'][k]} ({v})"
        for k, v in _COMPARE_TITLES[section.compare].items()
    }
    notes = [
        {
            "zh-CN": f"对比期：{prev_start} 至 {prev_end}",
            "en": f"Compared with {prev_start} to {prev_end}",
        }
    ]
    if before_data:
        notes.append(
            {
                "zh-CN": f"对比期早于最早的数据（{first}），对比值为空",
                "en": f"The comparison period starts before the first data ({first}): no comparison",
            }
        )
    columns = [
        Column("label", {"zh-CN": "指标", "en": "Metric"}),
        Column("value", {"zh-CN": "本期", "en": "This period"}, "row"),
        Column("previous", {"zh-CN": "对比期", "en": "Compared with"}, "row"),
        Column("change", {"zh-CN": "变化", "en": "Change"}, "row_change"),
        Column("change_pct", {"zh-CN": "变化率", "en": "Change %"}, "percent"),
    ]
    return SectionResult("kpis", title, pd.DataFrame(rows), columns, notes), []


def _channels(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list]:
    metrics = section.metrics
    df = project.kpis(metrics, by=["channel"], start=report.start, end=report.end, filters=filters, compare="previous")
    df = df[df["channel"].notna()].sort_values(metrics[0], ascending=False).reset_index(drop=True)
    names = _channel_names(project)
    df.insert(0, "channel_name", [names.get(c, c) for c in df["channel"]])
    columns = [Column("channel_name", {"zh-CN": "渠道", "en": "Channel"})]
    for m in metrics:
        columns.append(Column(m, _label(project, m), _unit(project, m)))
    first = metrics[0]
    columns.append(
        Column(
            f"{first}_change_pct",
            {"zh-CN": f"{_label(project, first)['zh-CN']}环比", "en": f"{_label(project, first)['en']} vs prev."},
            "percent",
        )
    )
    keep = [c.key for c in columns]
    chart = Chart("bar", df[["channel_name", first]].copy(), "channel_name", [first], _unit(project, first))
    return SectionResult("channels", _SECTION_TITLES["channels"], df[keep], columns, [], chart), []


def _first_date(project: Project, report: Report) -> dt.date | None:
    """The first business date with orders (once per report: every KPI section compares against it)."""
    if "first_date" not in report.cache:
        first = project.warehouse.ibis.table("orders").business_date.min().execute()
        report.cache["first_date"] = None if first is None or pd.isna(first) else pd.Timestamp(first).date()
    return report.cache["first_date"]


def _explain(project: Project, report: Report, filters: dict[str, Any]) -> Any:
    """The GMV decomposition of the report's period against the previous one: computed once per report and
    read by both the decomposition and the movers sections."""
    key = f"explain:{sorted((k, tuple(v)) for k, v in filters.items())}"
    if key not in report.cache:
        report.cache[key], _ = project.explain(f"{report.start}..{report.end}", vs="previous", filters=filters)
    return report.cache[key]


def _decomposition(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list]:
    d = _explain(project, report, filters)
    rows = [
        {
            "part": p,
            "label_zh-CN": _PARTS.get(p, {"zh-CN": p})["zh-CN"],
            "label_en": _PARTS.get(p, {"en": p})["en"],
            "amount": float(d.total.get(p, 0.0)),
        }
        for p in ("visitors", "conversion_rate", "aov", "channel_mix", "new_or_lost", "undecomposed")
        if abs(float(d.total.get(p, 0.0))) > 0.005
    ]
    rows.append(
        {"part": "change", "label_zh-CN": "合计变化", "label_en": "Total change", "amount": float(d.total["change"])}
    )
    notes = [
        {"zh-CN": zh, "en": en}
        for zh, en in zip(d.explain("zh-CN", top=section.top), d.explain("en", top=section.top), strict=False)
    ]
    columns = [
        Column("label", {"zh-CN": "因素", "en": "Factor"}),
        Column("amount", {"zh-CN": "贡献", "en": "Contribution"}, "money"),
    ]
    chart = Chart(
        "bar", pd.DataFrame(rows)[["label_en", "amount"]].rename(columns={"label_en": "label"}), "label", ["amount"]
    )
    return SectionResult(
        "decomposition", _SECTION_TITLES["decomposition"], pd.DataFrame(rows), columns, notes, chart
    ), []


def _movers(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    d = _explain(project, report, filters)
    m = d.by_member.copy()
    m["abs"] = m["change"].abs()
    m = m.sort_values("abs", ascending=False).head(section.top).reset_index(drop=True)
    names = _channel_names(project)
    m["channel_name"] = [names.get(c, c) for c in m["channel_id"]]
    m["change_pct"] = [(c / b) if b else None for c, b in zip(m["change"], m["value_before"], strict=True)]
    m["driver"] = [_driver(r) for r in m.itertuples()]
    m["driver_zh-CN"] = [_PARTS.get(x, {"zh-CN": x})["zh-CN"] if x else "" for x in m["driver"]]
    m["driver_en"] = [_PARTS.get(x, {"en": x})["en"] if x else "" for x in m["driver"]]
    columns = [
        Column("channel_name", {"zh-CN": "渠道", "en": "Channel"}),
        Column("value_before", {"zh-CN": "上期 GMV", "en": "GMV before"}, "money"),
        Column("value_after", {"zh-CN": "本期 GMV", "en": "GMV now"}, "money"),
        Column("change", {"zh-CN": "变化", "en": "Change"}, "money"),
        Column("change_pct", {"zh-CN": "变化率", "en": "Change %"}, "percent"),
        Column("driver", {"zh-CN": "主要因素", "en": "Main driver"}, "lang"),
    ]
    findings = mover_findings(project, m, report, filters)
    return SectionResult("movers", _SECTION_TITLES["movers"], m, columns), findings


def _driver(row: Any) -> str | None:
    if row.status != "decomposed":
        return "undecomposed" if row.status == "undecomposed" else "new_or_lost"
    parts = {p: abs(float(getattr(row, p))) for p in ("visitors", "conversion_rate", "aov")}
    return max(parts, key=lambda k: parts[k])


def _targets(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    df = project.targets(as_of=report.end)
    columns = [
        Column("metric_label", {"zh-CN": "指标", "en": "Metric"}, "lang"),
        Column("period", {"zh-CN": "目标期", "en": "Period"}),
        Column("channel", {"zh-CN": "渠道", "en": "Channel"}),
        Column("owner", {"zh-CN": "负责人", "en": "Owner"}),
        Column("target", {"zh-CN": "目标", "en": "Target"}, "row"),
        Column("actual", {"zh-CN": "实际", "en": "Actual"}, "row"),
        Column("attainment", {"zh-CN": "达成率", "en": "Attainment"}, "percent"),
        Column("projected_attainment", {"zh-CN": "预计达成率", "en": "Projected attainment"}, "percent"),
    ]
    if df.empty:
        note = {
            "zh-CN": "未设置目标（channelscope.yaml 的 targets）",
            "en": "No targets are set (targets in channelscope.yaml)",
        }
        return SectionResult("targets", _SECTION_TITLES["targets"], None, columns, [note]), []
    if report.channels:
        df = df[df["channel"].isin(report.channels)]
    df = df.copy()
    df["_unit"] = [_unit(project, m) for m in df["metric"]]
    df["metric_label_zh-CN"] = [_label(project, m)["zh-CN"] for m in df["metric"]]
    df["metric_label_en"] = [_label(project, m)["en"] for m in df["metric"]]
    return SectionResult("targets", _SECTION_TITLES["targets"], df.reset_index(drop=True), columns), target_findings(
        project, df, report
    )


def _anomalies(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list]:
    table, findings, notes = anomaly_findings(project, report, filters)
    columns = [
        Column("channel_name", {"zh-CN": "渠道", "en": "Channel"}),
        Column("metric_label", {"zh-CN": "指标", "en": "Metric"}, "lang"),
        Column("first_day", {"zh-CN": "开始", "en": "From"}),
        Column("last_day", {"zh-CN": "结束", "en": "To"}),
        Column("value", {"zh-CN": "实际", "en": "Actual"}, "row"),
        Column("expected", {"zh-CN": "预期", "en": "Expected"}, "row"),
        Column("deviation", {"zh-CN": "偏离", "en": "Deviation"}, "percent"),
    ]
    return SectionResult("anomalies", _SECTION_TITLES["anomalies"], table, columns, notes), findings


def _alerts(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    from channelscope.report.alerts import alerts_in_period

    df = alerts_in_period(project, report)
    columns = [
        Column("severity", {"zh-CN": "级别", "en": "Severity"}),
        Column("status", {"zh-CN": "状态", "en": "Status"}),
        Column("channel_id", {"zh-CN": "渠道", "en": "Channel"}),
        Column("period", {"zh-CN": "期间", "en": "Period"}),
        Column("title", {"zh-CN": "告警", "en": "Alert"}, "lang"),
    ]
    notes = [] if len(df) else [{"zh-CN": "本期没有告警", "en": "No alert in this period"}]
    return SectionResult("alerts", _SECTION_TITLES["alerts"], df if len(df) else None, columns, notes), []


def _trend(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    metric = section.metrics[0]
    if report.start == report.end:
        note = {"zh-CN": "单日报告没有走势图", "en": "A one-day report has no trend"}
        return SectionResult("trend", _SECTION_TITLES["trend"], None, [], [note]), []
    df = project.kpis([metric], by=["channel"], grain="day", start=report.start, end=report.end, filters=filters)
    names = _channel_names(project)
    df["channel_name"] = [names.get(c, c) for c in df["channel"]]
    wide = df.pivot_table(index="period", columns="channel_name", values=metric, aggfunc="sum").reset_index()
    wide["period"] = pd.to_datetime(wide["period"]).dt.date
    series = [c for c in wide.columns if c != "period"]
    chart = Chart("line", wide, "period", series, _unit(project, metric))
    title = {k: f"{v} · {_label(project, metric)[k]}" for k, v in _SECTION_TITLES["trend"].items()}
    return SectionResult("trend", title, None, [], [], chart), []


def _actions(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    from channelscope.report.actions import action_section

    return action_section(project, report)


def _uplift(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
    from channelscope.report.campaign import uplift_section

    return uplift_section(project, report)


def _campaign_roi(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list]:
    from channelscope.report.campaign import roi_section

    return roi_section(project, report)


def _channel_names(project: Project) -> dict[str, str]:
    return {c.id: c.name or c.id for c in project.config.channels}


def _num(df: pd.DataFrame, col: str) -> float | None:
    if col not in df.columns or not len(df):
        return None
    v = df[col].iloc[0]
    return None if v is None or pd.isna(v) else float(v)


def _analysis(name: str) -> Any:
    def run(project: Project, section: Section, report: Report, filters: dict[str, Any]) -> tuple[SectionResult, list]:
        from channelscope.report import analysis_sections

        return getattr(analysis_sections, name)(project, section, report, filters)

    return run


_SECTIONS = {
    "kpis": _kpis,
    "channels": _channels,
    "decomposition": _decomposition,
    "movers": _movers,
    "targets": _targets,
    "anomalies": _anomalies,
    "alerts": _alerts,
    "trend": _trend,
    "actions": _actions,
    "uplift": _uplift,
    "campaign_roi": _campaign_roi,
    "repurchase": _analysis("repurchase_section"),
    "clv": _analysis("clv_section"),
    "attribution": _analysis("attribution_section"),
    "forecast_targets": _analysis("forecast_target_section"),
    "compliance_score": _analysis("compliance_score_section"),
    "compliance_cases": _analysis("compliance_cases_section"),
    "inventory": _analysis("inventory_section"),
    "budget": _analysis("budget_section"),
}

__all__ = ["Finding", "compose", "resolve_period"]
