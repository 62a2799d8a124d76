"""Report sections from the analyses: repurchase (cohorts), CLV against CAC, attribution, forecast against
target, the distributor compliance score and cases, inventory at risk (the inventory plan) and the budget shift
the media-mix allocator recommends.

Each section reads the same analysis the API answers (``Project.analysis``, ``Project.targets``, the compliance
case log), restricted to the report's channels, and draws its findings from the figures. A finding the data
cannot support (no customers, too little history, no targets, no distributors) is a ``not_supported`` finding
whose text is the reason: never a blank or a zero.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.report import format as F
from channelscope.report.content import Column, Finding, Report, SectionResult, Text

if TYPE_CHECKING:
    from channelscope.project import Project
    from channelscope.report.definitions import Section

#: a channel's repurchase rate is flagged below the overall by this share of it (and with this many eligible)
REPURCHASE_GAP = 0.15
MIN_ELIGIBLE = 100
#: the repurchase window a finding reads (days)
REPURCHASE_WINDOW = 90
#: CLV over CAC below this does not pay back the acquisition within a year
CLV_CAC_FLOOR = 1.0
#: an attribution model's credit differs from last-click's by this share of a channel's credit
ATTRIBUTION_GAP = 0.2
#: a forecast total falls short of its target by this share
SHORTFALL = 0.03
#: more days of cover than this is overstock (the inventory plan's default)
OVERSTOCK_DAYS = 120.0

TITLES: dict[str, Text] = {
    "repurchase": {"zh-CN": "复购（按获客渠道）", "en": "Repurchase (by acquisition channel)"},
    "clv": {"zh-CN": "客户终身价值与获客成本", "en": "Customer lifetime value vs acquisition cost"},
    "attribution": {"zh-CN": "归因（各模型的渠道贡献）", "en": "Attribution (channel credit by model)"},
    "forecast_targets": {"zh-CN": "预测与目标", "en": "Forecast vs target"},
    "compliance_score": {"zh-CN": "经销商合规评分", "en": "Distributor compliance score"},
    "compliance_cases": {"zh-CN": "合规案件", "en": "Compliance cases"},
    "inventory": {"zh-CN": "库存风险", "en": "Inventory at risk"},
    "budget": {"zh-CN": "广告预算分配", "en": "Ad budget allocation"},
}


def _names(project: Project) -> dict[str, str]:
    return {c.id: c.name or c.id for c in project.config.channels}


def _prefixed(kind: str, reason: Text) -> Text:
    return {
        "zh-CN": f"{TITLES[kind]['zh-CN']}：无法得出结论，{reason['zh-CN']}",
        "en": f"{TITLES[kind]['en']}: cannot be supported: {reason['en']}",
    }


def _unsupported(kind: str, reason: Text) -> tuple[SectionResult, list[Finding]]:
    return SectionResult(kind, TITLES[kind], None, [], [reason]), [
        Finding("not_supported", "info", _prefixed(kind, reason))
    ]


#: the reasons ``clv_cac`` gives for a channel without CLV/CAC, in Chinese
_CLV_REASONS_ZH = {
    "no ad spend recorded for this channel": "该渠道没有广告花费记录",
    "no CLV fit": "无法拟合 CLV 模型",
}


def _day(value: Any) -> str:
    """A date as ISO text, empty when missing (a distributor without a violation has no last one)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return pd.Timestamp(value).date().isoformat()


def _by(report: Report, days: int) -> dt.date:
    return report.end + dt.timedelta(days=days)


# ---- repurchase ---------------------------------------------------------------------------------------


def repurchase_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """Repurchase within 30/60/90/180 days per acquisition channel as of the report's end; a channel whose
    90-day rate lies REPURCHASE_GAP below the overall rate (MIN_ELIGIBLE eligible customers or more) is a
    finding with the customers it would win back."""
    customers = project.analysis.customers
    scope = report.channels or None
    df = customers.repurchase(as_of=report.end, channels=scope)
    total = customers.repurchase(as_of=report.end, channels=scope, by=None)
    if df.empty or total.empty or not int(total["customers"].sum()):
        return _unsupported(
            "repurchase", {"zh-CN": "本期末之前没有客户数据", "en": "no customer data up to the period's end"}
        )
    names = _names(project)
    df = df.sort_values("customers", ascending=False).reset_index(drop=True)
    df.insert(0, "channel_name", [names.get(c, c) for c in df["acquisition_channel"]])
    columns = [
        Column("channel_name", {"zh-CN": "获客渠道", "en": "Acquisition channel"}),
        Column("customers", {"zh-CN": "客户数", "en": "Customers"}, "count"),
        Column("repeat_customers", {"zh-CN": "复购客户", "en": "Repeat customers"}, "count"),
        *(
            Column(f"rate_{n}d", {"zh-CN": f"{n} 天复购率", "en": f"{n}-day repurchase"}, "percent")
            for n in (30, 60, 90, 180)
        ),
    ]
    w = REPURCHASE_WINDOW
    overall = total[f"rate_{w}d"].iloc[0]
    notes: list[Text] = [
        {
            "zh-CN": f"截至 {report.end}；{w} 天复购率整体 {F.percent(overall)}（首购至少 {w} 天前的客户中再次购买的比例）",
            "en": f"As of {report.end}; overall {w}-day repurchase {F.percent(overall)} (of customers whose first "
            f"purchase is {w} days or more before, the share who bought again)",
        }
    ]
    findings: list[Finding] = []
    if overall is None or pd.isna(overall) or int(total[f"eligible_{w}d"].iloc[0]) < MIN_ELIGIBLE:
        reason = {
            "zh-CN": f"首购早于 {w} 天的客户不足 {MIN_ELIGIBLE} 位（历史太短）",
            "en": f"fewer than {MIN_ELIGIBLE} customers first bought {w} days or more before (too little history)",
        }
        findings.append(Finding("not_supported", "info", _prefixed("repurchase", reason)))
        return SectionResult("repurchase", TITLES["repurchase"], df, columns, notes), findings
    for r in df.itertuples():
        rate, eligible = getattr(r, f"rate_{w}d"), int(getattr(r, f"eligible_{w}d"))
        if rate is None or pd.isna(rate) or eligible < MIN_ELIGIBLE or rate >= overall * (1 - REPURCHASE_GAP):
            continue
        won = round((overall - rate) * eligible)
        by = _by(report, w)
        name = names.get(r.acquisition_channel, r.acquisition_channel)
        findings.append(
            Finding(
                "repurchase_low",
                "warning",
                {
                    "zh-CN": f"{name} 获客的客户 {w} 天复购率 {F.percent(rate)}，低于整体的 {F.percent(overall)}"
                    f"（{eligible} 位可计入客户）",
                    "en": f"Customers acquired on {name} repurchase within {w} days at {F.percent(rate)}, below the "
                    f"overall {F.percent(overall)} ({eligible} eligible customers)",
                },
                r.acquisition_channel,
                {"rate": float(rate), "overall": float(overall), "eligible": eligible, "window_days": w},
                {
                    "zh-CN": f"对 {name} 的新客做首购后 30 天内的复购触达（会员券、复购提醒）",
                    "en": f"Re-engage {name}'s new customers within 30 days of their first purchase "
                    "(member coupon, replenishment reminder)",
                },
                {
                    "metric": f"repurchase_{w}d",
                    "size": won,
                    "by": by.isoformat(),
                    "text": {
                        "zh-CN": f"{w} 天复购率回到整体水平：约多 {won} 位复购客户（{by} 前复核）",
                        "en": f"{w}-day repurchase back to the overall rate: about {won} more repeat customers "
                        f"(check by {by})",
                    },
                },
            )
        )
    return SectionResult("repurchase", TITLES["repurchase"], df, columns, notes), findings


# ---- CLV vs CAC ---------------------------------------------------------------------------------------


def clv_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """BG/NBD + Gamma-Gamma fitted on the history up to the report's end (no holdout), the 365-day value per
    customer against the CAC of the customers acquired in the period; a channel whose CLV/CAC is below 1 is a
    finding (its acquisition does not pay back within a year), the best and worst ratio a budget shift."""
    customers = project.analysis.customers
    scope = report.channels or None
    result = customers.clv(holdout_end=report.end, holdout_days=None, channels=scope)
    if result.reason:
        return _unsupported(
            "clv", {"zh-CN": f"模型无法拟合（{result.reason}）", "en": f"the model cannot be fitted ({result.reason})"}
        )
    df = customers.clv_cac(result, start=report.start, channels=scope)
    names = _names(project)
    df = df.reset_index(drop=True)
    df.insert(0, "channel_name", [names.get(c, c) for c in df["acquisition_channel"]])
    df["reason_text"] = df["reason"].where(df["reason"].notna(), "") if "reason" in df else ""
    columns = [
        Column("channel_name", {"zh-CN": "获客渠道", "en": "Acquisition channel"}),
        Column("new_customers", {"zh-CN": "新客", "en": "New customers"}, "count"),
        Column("ad_spend", {"zh-CN": "广告花费", "en": "Ad spend"}, "money"),
        Column("cac", {"zh-CN": "获客成本", "en": "CAC"}, "money"),
        Column("clv_365d", {"zh-CN": "365 天 CLV", "en": "365-day CLV"}, "money"),
        Column("clv_to_cac", {"zh-CN": "CLV/CAC", "en": "CLV/CAC"}, "ratio"),
        Column("payback_months", {"zh-CN": "回本月数", "en": "Payback (months)"}, "ratio"),
        Column("reason_text", {"zh-CN": "说明", "en": "Note"}),
    ]
    notes: list[Text] = [
        {
            "zh-CN": f"模型以 {result.calibration_end} 前的全部订单拟合；获客成本为 {report.start} 至 "
            f"{result.calibration_end} 的广告花费除以该期新客",
            "en": f"Fitted on every order up to {result.calibration_end}; CAC is the ad spend of {report.start} to "
            f"{result.calibration_end} over the customers acquired then",
        }
    ]
    findings: list[Finding] = []
    ok = df[df["clv_to_cac"].notna()]
    for r in df[df["clv_to_cac"].isna()].itertuples():
        name = names.get(r.acquisition_channel, r.acquisition_channel)
        why = r.reason if isinstance(r.reason, str) and r.reason else "no CAC"
        findings.append(
            Finding(
                "not_supported",
                "info",
                {
                    "zh-CN": f"{name} 的 CLV/CAC 无法计算：{_CLV_REASONS_ZH.get(why, why)}",
                    "en": f"{name}'s CLV/CAC cannot be supported: {why}",
                },
                r.acquisition_channel,
            )
        )
    for r in ok[ok["clv_to_cac"] < CLV_CAC_FLOOR].itertuples():
        name = names.get(r.acquisition_channel, r.acquisition_channel)
        by = _by(report, 30)
        findings.append(
            Finding(
                "clv_below_cac",
                "critical",
                {
                    "zh-CN": f"{name} 新客一年价值 {F.money(r.clv_365d, report.currency)} 低于获客成本 "
                    f"{F.money(r.cac, report.currency)}（CLV/CAC {r.clv_to_cac:.2f}）",
                    "en": f"A new {name} customer is worth {F.money(r.clv_365d, report.currency)} in a year, less "
                    f"than the {F.money(r.cac, report.currency)} it costs (CLV/CAC {r.clv_to_cac:.2f})",
                },
                r.acquisition_channel,
                {"clv_365d": float(r.clv_365d), "cac": float(r.cac), "clv_to_cac": float(r.clv_to_cac)},
                {
                    "zh-CN": f"降低 {name} 的拉新出价，或把预算移到 CLV/CAC 更高的渠道",
                    "en": f"Lower {name}'s acquisition bids or move budget to a channel with a higher CLV/CAC",
                },
                {
                    "metric": "cac",
                    "size": round(float(r.clv_365d) - float(r.cac), 2),
                    "by": by.isoformat(),
                    "text": {
                        "zh-CN": f"获客成本降到 {F.money(r.clv_365d, report.currency)} 以下（{by} 前复核）",
                        "en": f"CAC below {F.money(r.clv_365d, report.currency)} (check by {by})",
                    },
                },
            )
        )
    if len(ok) >= 2:
        best = ok.loc[ok["clv_to_cac"].idxmax()]
        worst = ok.loc[ok["clv_to_cac"].idxmin()]
        if float(best["clv_to_cac"]) >= 2 * float(worst["clv_to_cac"]):
            b, w = names.get(best["acquisition_channel"]), names.get(worst["acquisition_channel"])
            by = _by(report, 30)
            findings.append(
                Finding(
                    "clv_budget_shift",
                    "info",
                    {
                        "zh-CN": f"每元获客花费带来的一年价值：{b} {best['clv_to_cac']:.2f}，{w} {worst['clv_to_cac']:.2f}",
                        "en": f"One-year value per yuan of acquisition spend: {b} {best['clv_to_cac']:.2f}, "
                        f"{w} {worst['clv_to_cac']:.2f}",
                    },
                    str(worst["acquisition_channel"]),
                    {
                        "best": str(best["acquisition_channel"]),
                        "best_clv_to_cac": float(best["clv_to_cac"]),
                        "worst": str(worst["acquisition_channel"]),
                        "worst_clv_to_cac": float(worst["clv_to_cac"]),
                    },
                    {
                        "zh-CN": f"把 {w} 的部分拉新预算移到 {b}，一个月后比较新客一年价值",
                        "en": f"Move part of {w}'s acquisition budget to {b} and compare the new customers' "
                        "one-year value after a month",
                    },
                    {
                        "metric": "clv_to_cac",
                        "size": round(float(best["clv_to_cac"]) - float(worst["clv_to_cac"]), 2),
                        "by": by.isoformat(),
                        "text": {
                            "zh-CN": f"移动的每元花费多带来约 {float(best['clv_to_cac']) - float(worst['clv_to_cac']):.2f} "
                            f"元一年价值（{by} 前复核）",
                            "en": f"about {float(best['clv_to_cac']) - float(worst['clv_to_cac']):.2f} more yuan of "
                            f"one-year value per yuan moved (check by {by})",
                        },
                    },
                )
            )
    return SectionResult("clv", TITLES["clv"], df, columns, notes), findings


# ---- attribution --------------------------------------------------------------------------------------


def attribution_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """GMV credited per channel by each model over the report's period; a channel that a data-driven model
    (Markov) credits ATTRIBUTION_GAP more than last-click is a finding (last-click undervalues it). When every
    path is a single touch the models cannot differ: the section says so."""
    result = project.analysis.attribution(start=report.start, end=report.end)
    if result.credits.empty:
        return _unsupported(
            "attribution", {"zh-CN": "本期没有可归因的订单", "en": "no attributable order in the period"}
        )
    wide = result.table("revenue").reset_index()
    if report.channels:
        wide = wide[wide["label"].isin(report.channels)]
    names = _names(project)
    wide.insert(0, "channel_name", [names.get(c, c) for c in wide["label"]])
    models = [m for m in wide.columns if m not in ("label", "channel_name")]
    model_names = {
        "first": ("首次触点", "First touch"),
        "last": ("末次触点", "Last touch"),
        "last_non_direct": ("末次非直接", "Last non-direct"),
        "linear": ("线性", "Linear"),
        "time_decay": ("时间衰减", "Time decay"),
        "position": ("位置", "Position"),
        "markov": ("马尔可夫", "Markov"),
        "shapley": ("Shapley", "Shapley"),
    }
    columns = [Column("channel_name", {"zh-CN": "渠道", "en": "Channel"})] + [
        Column(m, {"zh-CN": model_names.get(m, (m, m))[0], "en": model_names.get(m, (m, m))[1]}, "money")
        for m in models
    ]
    wide = wide.sort_values(models[0] if models else "label", ascending=False).reset_index(drop=True)
    last_credits = result.credits[result.credits["model"] == "last"]
    if report.channels:
        last_credits = last_credits[last_credits["label"].isin(report.channels)]
    conversions = round(float(last_credits["conversions"].sum()))
    lengths = result.paths["path"].astype(str).str.count(">") if "path" in result.paths else pd.Series(dtype=int)
    multi = int((lengths > 0).sum()) if len(lengths) else 0
    notes: list[Text] = [
        {
            "zh-CN": f"{report.start} 至 {report.end} 的 {conversions} 笔转化，回看 "
            f"{result.basis.get('lookback_days')} 天的触点",
            "en": f"{conversions} conversions of {report.start} to {report.end}, touches in the "
            f"{result.basis.get('lookback_days')} days before",
        }
    ]
    findings: list[Finding] = []
    if not multi:
        reason = {
            "zh-CN": "所有转化路径都只有一个触点（没有跨渠道触点数据），各模型的结果相同",
            "en": "every conversion path has a single touch (no cross-channel touch data): the models agree",
        }
        notes.append(reason)
        findings.append(Finding("not_supported", "info", _prefixed("attribution", reason)))
        return SectionResult("attribution", TITLES["attribution"], wide, columns, notes), findings
    if "markov" in wide and "last" in wide:
        for r in wide.itertuples():
            last, markov = float(r.last), float(r.markov)
            if last <= 0 or (markov - last) / last < ATTRIBUTION_GAP:
                continue
            by = _by(report, 30)
            findings.append(
                Finding(
                    "attribution_undervalued",
                    "info",
                    {
                        "zh-CN": f"{r.channel_name} 在马尔可夫模型中贡献 {F.money(markov, report.currency)}，"
                        f"末次触点只记 {F.money(last, report.currency)}：它多在路径前段起作用",
                        "en": f"The Markov model credits {r.channel_name} with {F.money(markov, report.currency)}, "
                        f"last-click only {F.money(last, report.currency)}: it works early in the path",
                    },
                    str(r.label),
                    {"last": last, "markov": markov},
                    {
                        "zh-CN": f"评估 {r.channel_name} 的预算时用数据驱动归因，而不是末次触点",
                        "en": f"Judge {r.channel_name}'s budget on data-driven attribution, not last-click",
                    },
                    {
                        "metric": "gmv",
                        "size": round(markov - last, 2),
                        "by": by.isoformat(),
                        "text": {
                            "zh-CN": f"按模型计入的 GMV 多 {F.money(markov - last, report.currency)}（{by} 前复核）",
                            "en": f"{F.money(markov - last, report.currency)} more GMV credited (check by {by})",
                        },
                    },
                )
            )
    return SectionResult("attribution", TITLES["attribution"], wide, columns, notes), findings


# ---- forecast vs target -------------------------------------------------------------------------------

_FORECASTABLE = ("gmv", "paid_orders", "units")


def forecast_target_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """Each target on gmv / paid_orders / units whose period runs past the report's end: the actual to the end,
    the forecast (made with the data up to the end) of the days left, their sum against the target; a sum
    SHORTFALL below it is a finding with the gap and the daily run-rate needed to close it."""
    targets = project.targets(as_of=report.end)
    if targets.empty:
        return _unsupported(
            "forecast_targets",
            {
                "zh-CN": "未设置目标（channelscope.yaml 的 targets）",
                "en": "no targets are set (targets in channelscope.yaml)",
            },
        )
    from channelscope.metrics.periods import parse_period

    targets = targets.copy()
    targets["period_end"] = [parse_period(p)[1] for p in targets["period"]]
    targets["period_start"] = [parse_period(p)[0] for p in targets["period"]]
    open_ = targets[
        (targets["period_end"] > report.end)
        & (targets["period_start"] <= report.end)
        & targets["metric"].isin(_FORECASTABLE)
        & targets["distributor"].isna()
    ]
    if report.channels:
        open_ = open_[open_["channel"].isna() | open_["channel"].isin(report.channels)]
        open_ = open_[open_["channel"].notna() | (len(report.channels) == len(project.config.channels))]
    if open_.empty:
        return _unsupported(
            "forecast_targets",
            {
                "zh-CN": f"没有跨过 {report.end} 且可预测（GMV、订单、件数）的渠道目标",
                "en": f"no channel target on GMV, orders or units runs past {report.end}",
            },
        )
    rows, findings = [], []
    names = _names(project)
    for metric, group in open_.groupby("metric"):
        horizon = int((group["period_end"].max() - report.end).days)
        run = project.analysis.forecast(str(metric), horizon=horizon, windows=1, end=report.end)
        fc = run.forecast.copy()
        fc["period"] = pd.to_datetime(fc["period"]).dt.date
        for t in group.itertuples():
            series = t.channel if isinstance(t.channel, str) else "total"
            f = fc[(fc["series"] == series) & (fc["period"] > report.end) & (fc["period"] <= t.period_end)]
            rest = float(f["mean"].sum()) if len(f) else None
            projected = None if rest is None else float(t.actual) + rest
            gap = None if projected is None else projected - float(t.target)
            days_left = (t.period_end - report.end).days
            rows.append(
                {
                    "metric": metric,
                    "metric_label_zh-CN": project.catalog.get(str(metric)).label_zh,
                    "metric_label_en": project.catalog.get(str(metric)).label_en,
                    "_unit": str(project.catalog.get(str(metric)).unit),
                    "period": t.period,
                    "channel_name": names.get(t.channel, t.channel) if isinstance(t.channel, str) else "",
                    "target": float(t.target),
                    "actual": float(t.actual),
                    "forecast_rest": rest,
                    "projected": projected,
                    "projected_attainment": None if projected is None or not t.target else projected / float(t.target),
                    "gap": gap,
                }
            )
            if gap is None or gap >= -SHORTFALL * float(t.target):
                continue
            need = -gap / days_left if days_left else math.nan
            label = rows[-1]["channel_name"] or {"zh-CN": "全部渠道", "en": "all channels"}
            lab = {k: label if isinstance(label, str) else label[k] for k in ("zh-CN", "en")}
            fmt = (lambda v: F.money(v, report.currency)) if rows[-1]["_unit"] == "money" else (lambda v: F.count(v))
            findings.append(
                Finding(
                    "forecast_shortfall",
                    "warning",
                    {
                        "zh-CN": f"{lab['zh-CN']} {t.period} 的{rows[-1]['metric_label_zh-CN']}预计 {fmt(projected)}，"
                        f"比目标 {fmt(float(t.target))} 少 {fmt(-gap)}",
                        "en": f"{lab['en']}'s {rows[-1]['metric_label_en']} for {t.period} is forecast at "
                        f"{fmt(projected)}, {fmt(-gap)} short of the {fmt(float(t.target))} target",
                    },
                    t.channel if isinstance(t.channel, str) else None,
                    {"target": float(t.target), "actual": float(t.actual), "forecast_rest": rest, "gap": gap},
                    {
                        "zh-CN": f"剩余 {days_left} 天每天需多做 {fmt(need)}：加推广或调整目标",
                        "en": f"{fmt(need)} more a day over the {days_left} days left: push promotion or revise the target",
                    },
                    {
                        "metric": str(metric),
                        "size": round(-gap, 2),
                        "by": t.period_end.isoformat(),
                        "text": {
                            "zh-CN": f"{t.period_end} 前补上 {fmt(-gap)}",
                            "en": f"close the {fmt(-gap)} gap by {t.period_end}",
                        },
                    },
                )
            )
    columns = [
        Column("metric_label", {"zh-CN": "指标", "en": "Metric"}, "lang"),
        Column("period", {"zh-CN": "目标期", "en": "Period"}),
        Column("channel_name", {"zh-CN": "渠道", "en": "Channel"}),
        Column("target", {"zh-CN": "目标", "en": "Target"}, "row"),
        Column("actual", {"zh-CN": "已完成", "en": "Actual so far"}, "row"),
        Column("forecast_rest", {"zh-CN": "剩余预测", "en": "Forecast, rest"}, "row"),
        Column("projected", {"zh-CN": "预计合计", "en": "Projected"}, "row"),
        Column("projected_attainment", {"zh-CN": "预计达成率", "en": "Projected attainment"}, "percent"),
    ]
    notes: list[Text] = [
        {
            "zh-CN": f"预测以 {report.end} 前的数据做出（对账后的分层预测均值）",
            "en": f"Forecast made with the data up to {report.end} (reconciled hierarchical mean)",
        }
    ]
    return SectionResult("forecast_targets", TITLES["forecast_targets"], pd.DataFrame(rows), columns, notes), findings


# ---- distributor compliance ---------------------------------------------------------------------------


def _distributor_channels(project: Project) -> dict[str, str]:
    with project.warehouse.reading() as tx:
        df = tx.query("SELECT distributor_id, channel_id FROM distributors")
    return dict(zip(df["distributor_id"].astype(str), df["channel_id"].astype(str), strict=False))


def compliance_score_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """The compliance score of every distributor (of the report's channels) with data up to the report's end,
    lowest first, and the price violations last seen in the period; a distributor that repeated a violation
    after a warning is a repeat offender: a finding with the policy's next step."""
    if not project.warehouse.has_tables("distributors"):
        return _unsupported("compliance_score", {"zh-CN": "没有经销商数据", "en": "there is no distributor data"})
    ca = project.analysis.compliance.scoped(channels=report.channels or None)
    score = ca.score(as_of=report.end)
    if score.empty:
        return _unsupported(
            "compliance_score",
            {"zh-CN": f"{report.end} 前没有经销商订单", "en": f"no distributor order up to {report.end}"},
        )
    score = score.sort_values(["score", "distributor_id"]).head(max(section.top, 10)).reset_index(drop=True)
    score["last_violation"] = [_day(v) for v in score["last_violation"]]
    columns = [
        Column("distributor_id", {"zh-CN": "经销商", "en": "Distributor"}),
        Column("score", {"zh-CN": "评分", "en": "Score"}, "ratio"),
        Column("lines", {"zh-CN": "订单行", "en": "Order lines"}, "count"),
        Column("violation_lines", {"zh-CN": "违规行", "en": "Violating lines"}, "count"),
        Column("depth_worst", {"zh-CN": "最深破价", "en": "Worst depth"}, "percent"),
        Column("repeat_days", {"zh-CN": "警告后再犯天数", "en": "Repeat days after warning"}, "count"),
        Column("out_of_region_orders", {"zh-CN": "跨区订单", "en": "Out-of-region orders"}, "count"),
        Column("last_violation", {"zh-CN": "最近违规", "en": "Last violation"}, "date"),
    ]
    notes: list[Text] = [
        {
            "zh-CN": f"评分截至 {report.end}（100 分为满分，分数最低的在前）",
            "en": f"Scores as of {report.end} (100 is best; lowest first)",
        }
    ]
    from channelscope.analysis.compliance import policy_step

    findings: list[Finding] = []
    for r in score[score["repeat_days"].fillna(0) > 0].itertuples():
        step = policy_step(float(r.depth_worst or 0.0), int(r.repeat_days), ca.config)
        action = {
            "warning": ("书面警告", "a written warning"),
            "fine": (f"罚款 {F.money(step.fine, report.currency)}", f"a fine of {F.money(step.fine, report.currency)}"),
            "suspend_commission": ("暂停佣金", "suspending its commission"),
            "terminate": ("终止合作", "ending the partnership"),
        }.get(step.action, (step.action, step.action))
        by = _by(report, 30)
        findings.append(
            Finding(
                "repeat_offender",
                "critical" if step.action in ("suspend_commission", "terminate") else "warning",
                {
                    "zh-CN": f"经销商 {r.distributor_id} 警告后仍破价 {int(r.repeat_days)} 天（最深 "
                    f"{F.percent(r.depth_worst)}，评分 {r.score:.1f}）",
                    "en": f"Distributor {r.distributor_id} sold below the minimum price on {int(r.repeat_days)} "
                    f"day(s) after a warning (worst {F.percent(r.depth_worst)}, score {r.score:.1f})",
                },
                None,
                {
                    "distributor": r.distributor_id,
                    "repeat_days": int(r.repeat_days),
                    "depth_worst": float(r.depth_worst or 0.0),
                    "score": float(r.score),
                    "policy_step": step.action,
                },
                {
                    "zh-CN": f"按渠道政策执行：{action[0]}",
                    "en": f"Apply the channel policy: {action[1]}",
                },
                {
                    "metric": "violation_lines",
                    "size": 0,
                    "by": by.isoformat(),
                    "text": {
                        "zh-CN": f"{by} 前不再出现违规订单行",
                        "en": f"no violating order line by {by}",
                    },
                },
            )
        )
    return SectionResult("compliance_score", TITLES["compliance_score"], score, columns, notes), findings


_CASE_KINDS: dict[str, Text] = {
    "price": {"zh-CN": "破价", "en": "Price"},
    "region": {"zh-CN": "跨区销售", "en": "Region"},
    "commission": {"zh-CN": "佣金", "en": "Commission"},
}
_CASE_WORDS: dict[str, dict[str, Text]] = {
    "status": {
        "open": {"zh-CN": "未结", "en": "Open"},
        "acknowledged": {"zh-CN": "已确认", "en": "Acknowledged"},
        "resolved": {"zh-CN": "已结案", "en": "Resolved"},
        "notified": {"zh-CN": "已通知", "en": "Notified"},
        "appealed": {"zh-CN": "申诉中", "en": "Appealed"},
    },
    "severity": {
        "critical": {"zh-CN": "严重", "en": "Critical"},
        "warning": {"zh-CN": "警告", "en": "Warning"},
        "info": {"zh-CN": "提示", "en": "Info"},
    },
    "action": {
        "warning": {"zh-CN": "警告", "en": "Warning"},
        "fine": {"zh-CN": "罚款", "en": "Fine"},
        "suspend_commission": {"zh-CN": "暂停佣金", "en": "Suspend commission"},
        "terminate": {"zh-CN": "终止合作", "en": "Terminate"},
    },
}


def compliance_cases_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """The compliance cases not yet resolved, and those resolved but last seen in the period, of the distributors of
    the report's channels (read from the case log; ``monitor`` refreshes it)."""
    from channelscope.monitor.compliance_cases import CASE_TABLES, list_cases

    if not project.warehouse.has_tables(*CASE_TABLES):
        return _unsupported(
            "compliance_cases",
            {
                "zh-CN": "尚未建立合规案件（运行 channelscope monitor 后生成）",
                "en": "no compliance case has been opened yet (channelscope monitor opens them)",
            },
        )
    cases = list_cases(project)
    if report.channels and not cases.empty:
        owner = _distributor_channels(project)
        cases = cases[[owner.get(str(d)) in report.channels for d in cases["distributor_id"]]]
    if not cases.empty:
        last = pd.to_datetime(cases["last_seen"]).dt.date
        cases = cases[(cases["status"] != "resolved") | ((last >= report.start) & (last <= report.end))].copy()
    if cases.empty:
        note = {"zh-CN": "没有未结或本期出现的合规案件", "en": "No open compliance case and none seen in the period"}
        return SectionResult("compliance_cases", TITLES["compliance_cases"], None, [], [note]), []
    cases["kind_zh-CN"] = [_CASE_KINDS.get(k, {"zh-CN": k})["zh-CN"] for k in cases["kind"]]
    cases["kind_en"] = [_CASE_KINDS.get(k, {"en": k})["en"] for k in cases["kind"]]
    cases["sku"] = cases["sku"].where(cases["sku"].notna(), "")
    cases["action"] = cases["action"].where(cases["action"].notna(), "")
    for col, words in _CASE_WORDS.items():
        for lang in ("zh-CN", "en"):
            cases[f"{col}_{lang}"] = [words.get(str(v), {lang: str(v)})[lang] for v in cases[col]]
    order = {"critical": 0, "warning": 1, "info": 2}
    cases = cases.sort_values(
        ["severity", "last_seen"], key=lambda s: s.map(order) if s.name == "severity" else s, ascending=[True, False]
    ).reset_index(drop=True)
    cases["last_seen"] = [_day(v) for v in cases["last_seen"]]
    columns = [
        Column("case_id", {"zh-CN": "案件", "en": "Case"}),
        Column("kind", {"zh-CN": "类型", "en": "Kind"}, "lang"),
        Column("distributor_id", {"zh-CN": "经销商", "en": "Distributor"}),
        Column("sku", {"zh-CN": "SKU", "en": "SKU"}),
        Column("status", {"zh-CN": "状态", "en": "Status"}, "lang"),
        Column("severity", {"zh-CN": "级别", "en": "Severity"}, "lang"),
        Column("action", {"zh-CN": "政策措施", "en": "Policy step"}, "lang"),
        Column("value", {"zh-CN": "涉及金额", "en": "Value"}, "money"),
        Column("last_seen", {"zh-CN": "最近出现", "en": "Last seen"}, "date"),
    ]
    n_open = int((cases["status"] != "resolved").sum())
    notes: list[Text] = [
        {"zh-CN": f"未结案件 {n_open} 件", "en": f"{n_open} case(s) open"},
    ]
    findings: list[Finding] = []
    critical = cases[(cases["severity"] == "critical") & (cases["status"] != "resolved")]
    if len(critical):
        ids = ", ".join(sorted(set(critical["distributor_id"].astype(str))))
        by = _by(report, 14)
        findings.append(
            Finding(
                "compliance_cases_open",
                "critical",
                {
                    "zh-CN": f"{len(critical)} 件严重合规案件未结（经销商 {ids}）",
                    "en": f"{len(critical)} critical compliance case(s) open (distributors {ids})",
                },
                None,
                {"cases": critical["case_id"].tolist()},
                {
                    "zh-CN": "逐件确认并执行政策措施，在案件中记录处理结果",
                    "en": "Confirm each case, apply its policy step and record the outcome in the case",
                },
                {
                    "metric": "open_critical_cases",
                    "size": -len(critical),
                    "by": by.isoformat(),
                    "text": {"zh-CN": f"{by} 前全部结案", "en": f"all closed by {by}"},
                },
            )
        )
    return SectionResult("compliance_cases", TITLES["compliance_cases"], cases, columns, notes), findings


# ---- inventory at risk ----------------------------------------------------------------------------------


def inventory_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """The inventory plan (``plan.inventory``) of the stock on hand at the latest inventory date: the SKUs at risk
    of a stock-out before a replenishment ordered now arrives (a finding each, with the order to place now) and
    the overstocked ones (one info finding). Stock is held for every channel together, so a channel's report
    leaves it out."""
    from channelscope.errors import QueryError
    from channelscope.plan.inventory import lead_times_in, on_hand_of, plan, sku_daily_forecast

    if report.channels:
        return _unsupported(
            "inventory",
            {
                "zh-CN": "库存为全渠道共用，渠道报告不展示库存计划",
                "en": "stock is held for every channel together, so it is not shown in a channel's report",
            },
        )
    if not project.warehouse.has_tables("inventory"):
        return _unsupported(
            "inventory",
            {
                "zh-CN": "没有库存数据（未导入 inventory 表）",
                "en": "no inventory data (the inventory table is not loaded)",
            },
        )
    try:
        stock = on_hand_of(project)
        if project.warehouse.has_tables("lead_times"):
            leads = lead_times_in(project)
        else:  # every SKU takes the plan's default lead time (said in the notes)
            leads = pd.DataFrame({"sku": pd.Series(dtype=str), "lead_time_days": pd.Series(dtype=float)})
        daily = sku_daily_forecast(project)
    except QueryError as exc:
        return _unsupported(
            "inventory", {"zh-CN": f"无法生成库存计划（{exc}）", "en": f"the inventory plan cannot be made ({exc})"}
        )
    full = plan(stock, leads, daily, overstock_days=OVERSTOCK_DAYS)
    as_of = pd.Timestamp(stock["date"].max()).date() if "date" in stock and len(stock) else None
    first_day = pd.Timestamp(daily["period"].min()).date() if len(daily) else None
    rows = full[full["at_risk"] | full["overstock"]].copy()
    rows = rows.sort_values(["at_risk", "stockout_date", "days_of_cover"], ascending=[False, True, False])
    rows = rows.reset_index(drop=True)
    rows["status_zh-CN"] = ["缺货风险" if r else "积压" for r in rows["at_risk"]]
    rows["status_en"] = ["Stock-out risk" if r else "Overstock" for r in rows["at_risk"]]
    rows["stockout_day"] = [_day(v) for v in rows["stockout_date"]]
    columns = [
        Column("sku", {"zh-CN": "SKU", "en": "SKU"}),
        Column("status", {"zh-CN": "状态", "en": "Status"}, "lang"),
        Column("on_hand", {"zh-CN": "在库", "en": "On hand"}, "count"),
        Column("days_of_cover", {"zh-CN": "可售天数", "en": "Days of cover"}, "ratio"),
        Column("stockout_day", {"zh-CN": "预计断货日", "en": "Stock-out date"}, "date"),
        Column("lead_time_days", {"zh-CN": "补货周期（天）", "en": "Lead time (days)"}, "count"),
        Column("reorder_point", {"zh-CN": "再订货点", "en": "Reorder point"}, "count"),
        Column("suggested_order", {"zh-CN": "建议采购", "en": "Suggested order"}, "count"),
    ]
    notes: list[Text] = [
        {
            "zh-CN": f"库存为 {as_of} 的在库数（全渠道）；需求为 {first_day} 起的产品层级销量预测；"
            f"安全库存按 95% 服务水平，可售天数超过 {OVERSTOCK_DAYS:.0f} 天为积压",
            "en": f"Stock on hand on {as_of} (every channel); demand is the product forecast of units from "
            f"{first_day}; safety stock for a 95% service level; more than {OVERSTOCK_DAYS:.0f} days of cover is "
            "overstock",
        }
    ]
    if not project.warehouse.has_tables("lead_times"):
        notes.append(
            {
                "zh-CN": "未导入补货周期（lead_times 表），所有 SKU 按 14 天计",
                "en": "No lead times loaded (lead_times table): every SKU takes 14 days",
            }
        )
    if rows.empty:
        notes.append({"zh-CN": "没有缺货风险或积压的 SKU", "en": "No SKU at risk of a stock-out or overstocked"})
    findings: list[Finding] = []
    risky = rows[rows["at_risk"]]  # earliest stock-out first
    for r in risky.head(section.top).itertuples():
        lead, order = int(r.lead_time_days), int(r.suggested_order)
        arrival = (first_day or report.end) + dt.timedelta(days=lead - 1)
        out = _day(r.stockout_date)
        findings.append(
            Finding(
                "inventory_at_risk",
                "critical",
                {
                    "zh-CN": f"SKU {r.sku} 预计 {out} 断货，早于现在下单的补货到货（补货周期 {lead} 天）："
                    f"立即采购 {order} 件",
                    "en": f"SKU {r.sku} runs out on {out}, before a replenishment ordered now arrives (lead time "
                    f"{lead} days): order {order} units now",
                },
                None,
                {
                    "sku": r.sku,
                    "on_hand": float(r.on_hand),
                    "on_order": float(r.on_order),
                    "daily_demand": float(r.daily_demand),
                    "days_of_cover": None if pd.isna(r.days_of_cover) else float(r.days_of_cover),
                    "stockout_date": out,
                    "lead_time_days": lead,
                    "arrival_if_ordered_now": arrival.isoformat(),
                    "reorder_point": float(r.reorder_point),
                    "safety_stock": float(r.safety_stock),
                    "stock_as_of": None if as_of is None else as_of.isoformat(),
                },
                {
                    "zh-CN": f"今天向供应商下单 {order} 件 {r.sku}，并在到货前控制该 SKU 的促销",
                    "en": f"Place a purchase order for {order} units of {r.sku} today and hold its promotions "
                    "until the stock arrives",
                },
                {
                    "metric": "units",
                    "size": order,
                    "by": arrival.isoformat(),
                    "text": {
                        "zh-CN": f"{arrival} 前到货 {order} 件，缩短断货天数",
                        "en": f"{order} units in stock by {arrival}, shortening the stock-out",
                    },
                },
            )
        )
    rest = risky.iloc[section.top :]
    if len(rest):  # a finding each for the first ones; the others in one, so a large catalog does not flood the report
        skus = ", ".join(rest["sku"].astype(str))
        by = (first_day or report.end) + dt.timedelta(days=int(rest["lead_time_days"].max()) - 1)
        units = int(rest["suggested_order"].sum())
        findings.append(
            Finding(
                "inventory_at_risk",
                "critical",
                {
                    "zh-CN": f"另有 {len(rest)} 个 SKU 在现在下单的补货到货前断货：{skus}（明细见表）",
                    "en": f"{len(rest)} more SKU(s) run out before a replenishment ordered now arrives: {skus} "
                    "(see the table)",
                },
                None,
                {"skus": rest["sku"].astype(str).tolist(), "stockout_dates": [_day(v) for v in rest["stockout_date"]]},
                {
                    "zh-CN": f"按表中的建议采购量下单，共 {units} 件",
                    "en": f"Place the suggested orders of the table, {units} units in all",
                },
                {
                    "metric": "units",
                    "size": units,
                    "by": by.isoformat(),
                    "text": {"zh-CN": f"{by} 前到货 {units} 件", "en": f"{units} units in stock by {by}"},
                },
            )
        )
    over = rows[rows["overstock"]]
    if len(over):
        excess = {
            str(r.sku): round(float(r.on_hand) - OVERSTOCK_DAYS * float(r.daily_demand)) for r in over.itertuples()
        }
        cover = {str(r.sku): float(r.days_of_cover) for r in over.itertuples()}
        listed = ", ".join(f"{k} ({v:.0f})" for k, v in cover.items())
        total = int(sum(excess.values()))
        by = _by(report, 90)
        findings.append(
            Finding(
                "overstock",
                "info",
                {
                    "zh-CN": f"{len(over)} 个 SKU 积压（可售天数超过 {OVERSTOCK_DAYS:.0f} 天）：{listed}",
                    "en": f"{len(over)} SKU(s) overstocked (more than {OVERSTOCK_DAYS:.0f} days of cover): {listed}",
                },
                None,
                {"days_of_cover": cover, "excess_units": excess, "stock_as_of": None if as_of is None else str(as_of)},
                {
                    "zh-CN": f"暂停这些 SKU 的采购，用组合装或会员活动消化超出 {OVERSTOCK_DAYS:.0f} 天的库存",
                    "en": "Pause purchase orders for these SKUs and sell down the stock beyond "
                    f"{OVERSTOCK_DAYS:.0f} days of cover (bundles, member offers)",
                },
                {
                    "metric": "excess_units",
                    "size": -total,
                    "by": by.isoformat(),
                    "text": {
                        "zh-CN": f"{by} 前减少超额库存约 {total} 件",
                        "en": f"about {total} excess units sold down by {by}",
                    },
                },
            )
        )
    return SectionResult("inventory", TITLES["inventory"], rows, columns, notes), findings


# ---- budget shifts from the allocator ----------------------------------------------------------------

#: the finding states the shift and its gain per this many days (the allocator's figures are over the model's days)
BUDGET_DAYS = 30


def budget_section(
    project: Project, section: Section, report: Report, filters: dict[str, Any]
) -> tuple[SectionResult, list[Finding]]:
    """The media mix model fitted on the history up to the report's end and the allocator's split of the same
    total: today's spend against the recommended per platform, with the expected gain and its 95% interval. A
    shift whose gain interval lies above 0 is a finding (per 30 days); an unreliable fit is said, not used. The
    model reads the whole brand's GMV, so a channel's report leaves it out."""
    from channelscope.errors import QueryError

    if report.channels:
        return _unsupported(
            "budget",
            {
                "zh-CN": "预算模型按全品牌 GMV 拟合（含其他渠道），渠道报告不展示",
                "en": "the budget model is fitted on the whole brand's GMV (every channel), so a channel's "
                "report leaves it out",
            },
        )
    try:
        fit = project.analysis.media_mix(end=report.end)
        plan = project.analysis.allocate_budget(fit)
    except (QueryError, ValueError, ArithmeticError) as exc:  # too little history, no ad spend: say why
        return _unsupported(
            "budget", {"zh-CN": f"无法拟合媒体组合模型（{exc}）", "en": f"the media mix model cannot be fitted ({exc})"}
        )
    table = plan.platforms.copy().reset_index(drop=True)
    table["change"] = table["recommended_spend"] - table["current_spend"]
    columns = [
        Column("platform", {"zh-CN": "广告平台", "en": "Platform"}),
        Column("current_spend", {"zh-CN": "当前花费", "en": "Current spend"}, "money"),
        Column("recommended_spend", {"zh-CN": "建议花费", "en": "Recommended spend"}, "money"),
        Column("change", {"zh-CN": "调整", "en": "Change"}, "money"),
        Column("scale", {"zh-CN": "倍数", "en": "Scale"}, "ratio"),
        Column("current_contribution", {"zh-CN": "当前贡献 GMV", "en": "Current contribution"}, "money"),
        Column("expected_contribution", {"zh-CN": "预期贡献 GMV", "en": "Expected contribution"}, "money"),
    ]
    first, last, days = fit.dates[0].date(), fit.dates[-1].date(), len(fit.dates)
    cur = report.currency
    r2, mape = fit.fit.get("r2"), fit.fit.get("mape_out_of_sample")
    notes: list[Text] = [
        {
            "zh-CN": f"模型期 {first} 至 {last}（{days} 天），总预算 {F.money(plan.total, cur)} 不变，重新分配；"
            f"预期增量 GMV {F.signed_money(plan.expected_gain, cur)}（95% 区间 {F.money(plan.gain_low, cur)} 至 "
            f"{F.money(plan.gain_high, cur)}）；拟合 R² {F.percent(r2)}，样本外 MAPE {F.percent(mape)}",
            "en": f"Model period {first} to {last} ({days} days), the total of {F.money(plan.total, cur)} kept and "
            f"reallocated; expected gain {F.signed_money(plan.expected_gain, cur)} GMV (95% interval "
            f"{F.money(plan.gain_low, cur)} to {F.money(plan.gain_high, cur)}); fit R² {F.percent(r2)}, "
            f"out-of-sample MAPE {F.percent(mape)}",
        }
    ]
    findings: list[Finding] = []
    if not fit.fit.get("reliable"):
        reason = {
            "zh-CN": f"媒体组合模型拟合不可靠（R² {F.percent(r2)}，样本外 MAPE {F.percent(mape)}），不据此调整预算",
            "en": f"the media mix model's fit is unreliable (R² {F.percent(r2)}, out-of-sample MAPE "
            f"{F.percent(mape)}), not a basis for moving budget",
        }
        findings.append(Finding("not_supported", "info", _prefixed("budget", reason)))
        notes.append(
            {
                "zh-CN": f"{reason['zh-CN']}：下表仅供参考，不是建议",
                "en": f"The {reason['en']}: the split below is for reference, not a recommendation",
            }
        )
        return SectionResult("budget", TITLES["budget"], table, columns, notes), findings
    if not plan.gain_low > 0:
        notes.append(
            {
                "zh-CN": "预期增量的区间包含 0：维持当前分配",
                "en": "The expected gain's interval includes 0: keep today's split",
            }
        )
        return SectionResult("budget", TITLES["budget"], table, columns, notes), findings
    per = BUDGET_DAYS / days
    cuts = table[table["change"] < 0].sort_values("change")
    adds = table[table["change"] > 0].sort_values("change", ascending=False)
    moved = float(adds["change"].sum()) * per
    gain, low, high = plan.expected_gain * per, plan.gain_low * per, plan.gain_high * per
    src, dst = ", ".join(cuts["platform"]), ", ".join(adds["platform"])
    by = _by(report, BUDGET_DAYS)
    findings.append(
        Finding(
            "budget_shift",
            "warning",
            {
                "zh-CN": f"每 {BUDGET_DAYS} 天把 {F.money(moved, cur)} 广告预算从 {src} 移到 {dst}："
                f"预期 GMV {F.signed_money(gain, cur)}（{F.money(low, cur)} 至 {F.money(high, cur)}），{by} 前见效",
                "en": f"Move {F.money(moved, cur)} per {BUDGET_DAYS} days of ad budget from {src} to {dst}: "
                f"expected {F.signed_money(gain, cur)} GMV [{F.money(low, cur)}, {F.money(high, cur)}] by {by}",
            },
            None,
            {
                "model_start": first.isoformat(),
                "model_end": last.isoformat(),
                "model_days": days,
                "total": plan.total,
                "expected_gain": plan.expected_gain,
                "gain_low": plan.gain_low,
                "gain_high": plan.gain_high,
                "split": dict(plan.split),
                "r2": r2,
                "mape_out_of_sample": mape,
            },
            {
                "zh-CN": f"按建议倍数调整各平台的日预算（{src} 减少，{dst} 增加），总预算不变",
                "en": f"Scale each platform's daily budget by the recommended factor ({src} down, {dst} up), "
                "the total unchanged",
            },
            {
                "metric": "gmv",
                "size": round(gain, 2),
                "low": round(low, 2),
                "high": round(high, 2),
                "by": by.isoformat(),
                "text": {
                    "zh-CN": f"{by} 前 GMV {F.signed_money(gain, cur)}（95% 区间 {F.money(low, cur)} 至 "
                    f"{F.money(high, cur)}）",
                    "en": f"{F.signed_money(gain, cur)} GMV by {by} (95% interval {F.money(low, cur)} to "
                    f"{F.money(high, cur)})",
                },
            },
        )
    )
    return SectionResult("budget", TITLES["budget"], table, columns, notes), findings
