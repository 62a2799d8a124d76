"""Findings and recommendations drawn from a report's figures.

* anomalies: days the seasonal model (``analysis.seasonal``, with the project's festivals and campaigns as
  planned events and ad spend as a driver) judges outside its interval, grouped per channel; the cause is the
  factor of GMV = visitors x conversion x AOV that moved most against its expectation;
* movers: a channel whose GMV moved by more than 4 robust standard deviations of its usual period-to-period
  swing (the last 26 periods of the same length) and at least 5% of the total, with no planned event in either
  period, with its decomposition;
* targets at risk: a target whose run-rate projection falls short, with the gap and the daily rate needed.

Each recommendation states its expected effect (metric, size, by when). A finding the data cannot support (too
little history) is a note that says so, never an invented number.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from channelscope.report import format as F
from channelscope.report.content import Finding, Report, Text

if TYPE_CHECKING:
    from channelscope.project import Project

#: anomaly judgement: the sensitivity the alert rules use by default, and the history the model needs
SENSITIVITY = 4.0
HISTORY_DAYS = 365
MIN_HISTORY = 56
MOVER_Z = 4.0
MOVER_SHARE = 0.05
SWING_PERIODS = 26
_METRICS = ("gmv", "paid_orders", "visitors")

_CAUSE: dict[str, Text] = {
    "visitors": {"zh-CN": "流量", "en": "traffic"},
    "conversion_rate": {"zh-CN": "转化率", "en": "conversion"},
    "aov": {"zh-CN": "客单价", "en": "order value"},
    "orders": {"zh-CN": "订单量", "en": "orders"},
}
_ACTIONS: dict[tuple[str, str], Text] = {
    ("visitors", "low"): {
        "zh-CN": "排查流量来源：搜索排名/降权、广告投放是否中断、活动资源位",
        "en": "Check traffic sources: search ranking or penalties, paused ads, campaign placements",
    },
    ("conversion_rate", "low"): {
        "zh-CN": "排查下单与支付链路、库存和价格设置",
        "en": "Check checkout and payment, stock and price settings",
    },
    ("aov", "low"): {
        "zh-CN": "核对价格与优惠券叠加（是否误设低价）",
        "en": "Check prices and stacked coupons (a price set too low?)",
    },
    ("orders", "low"): {
        "zh-CN": "联系渠道负责人核实订单下降原因（该渠道无访客数据）",
        "en": "Ask the channel's owner why orders fell (no traffic data for this channel)",
    },
    ("visitors", "high"): {
        "zh-CN": "找出带来流量的内容或活动并复制",
        "en": "Find the content or campaign that brought the traffic and repeat it",
    },
    ("conversion_rate", "high"): {
        "zh-CN": "复盘转化提升的原因并推广到其他渠道",
        "en": "Find what lifted conversion and apply it to other channels",
    },
    ("aov", "high"): {"zh-CN": "复盘客单价提升的原因", "en": "Find what lifted order value"},
    ("orders", "high"): {"zh-CN": "复盘订单增长的原因", "en": "Find what drove the extra orders"},
}
_BOT: Text = {
    "zh-CN": "访客激增而订单未变：疑似刷量/机器人流量，过滤后再看转化率",
    "en": "Visitors jumped while orders did not: likely bot traffic; filter it before reading conversion",
}


def anomaly_findings(
    project: Project, report: Report, filters: dict[str, Any]
) -> tuple[pd.DataFrame | None, list[Finding], list[Text]]:
    """Anomalous streaks of the period per channel and metric (a table), one finding per channel, and notes."""
    from channelscope.analysis.planned_events import project_events
    from channelscope.analysis.seasonal import detect_anomalies

    first = report.start - dt.timedelta(days=HISTORY_DAYS)
    metrics = [m for m in (*_METRICS, "ad_spend") if m in project.catalog]
    series = project.kpis(metrics, by=["channel"], grain="day", start=first, end=report.end, filters=filters)
    series = series[series["channel"].notna()]
    if series.empty:
        return None, [], [{"zh-CN": "本期没有数据", "en": "No data in this period"}]
    series["period"] = pd.to_datetime(series["period"])
    days = (pd.Timestamp(report.start) - series["period"].min()).days
    if days < MIN_HISTORY:
        note = {
            "zh-CN": f"历史数据不足：异常判断需要报告期前至少 {MIN_HISTORY} 天数据，现有 {max(days, 0)} 天",
            "en": f"Too little history: judging anomalies needs {MIN_HISTORY} days before the period, there are {max(days, 0)}",
        }
        return None, [Finding("not_supported", "info", note)], [note]
    events = project_events(project)
    frames = []
    for _channel, group in series.groupby("channel"):
        spend = group["ad_spend"].astype("float64").fillna(0) if "ad_spend" in group else None
        drivers = ["ad_spend"] if spend is not None and bool((spend > 0).any()) else []
        for metric in _METRICS:
            if metric not in group or group[metric].isna().all():
                continue
            g = group[["channel", "period", metric, *drivers]].copy()
            g[metric] = g[metric].astype("float64").fillna(0.0)
            for d in drivers:
                g[d] = g[d].astype("float64").fillna(0.0)
            out = detect_anomalies(
                g,
                value=metric,
                by=["channel"],
                festivals=events,
                sensitivity=SENSITIVITY,
                drivers=drivers,
                evaluate_from=report.start,
            )
            out["metric"] = metric
            frames.append(out)
    if not frames:
        return None, [], []
    judged = pd.concat(frames, ignore_index=True)
    judged["period"] = pd.to_datetime(judged["period"]).dt.date
    judged = judged[(judged["period"] >= report.start) & (judged["period"] <= report.end)]
    flagged = judged[judged["is_anomaly"].astype(bool)]
    notes: list[Text] = []
    if flagged.empty:
        notes.append(
            {"zh-CN": "季节模型在本期没有发现异常", "en": "The seasonal model found no anomaly in this period"}
        )
        return None, [], notes
    names = {c.id: c.name or c.id for c in project.config.channels}
    rows = []
    for (channel, metric), g in flagged.groupby(["channel", "metric"], sort=True):
        rows.append(
            {
                "channel": channel,
                "channel_name": names.get(channel, channel),
                "metric": metric,
                "metric_label_zh-CN": project.catalog.get(metric).label_zh,
                "metric_label_en": project.catalog.get(metric).label_en,
                "_unit": str(project.catalog.get(metric).unit),
                "first_day": min(g["period"]),
                "last_day": max(g["period"]),
                "value": float(g["value"].sum()),
                "expected": float(g["expected"].sum()),
            }
        )
    table = pd.DataFrame(rows)
    table["deviation"] = table["value"] / table["expected"].where(table["expected"] != 0) - 1
    findings = []
    for channel, g in flagged.groupby("channel", sort=True):
        days_flagged = sorted(set(g["period"]))
        mine = judged[(judged["channel"] == channel) & judged["period"].isin(days_flagged)]
        findings.append(
            _anomaly_finding(project, report, str(channel), names.get(channel, channel), mine, days_flagged)
        )
    return table, findings, notes


def _ratio(frame: pd.DataFrame, metric: str) -> float | None:
    f = frame[frame["metric"] == metric]
    if f.empty or f["expected"].isna().any():
        return None
    value, expected = float(f["value"].sum()), float(f["expected"].sum())
    return value / expected if expected > 0 and value > 0 else (0.0 if expected > 0 else None)


def _anomaly_finding(
    project: Project, report: Report, channel: str, name: str, judged: pd.DataFrame, days: list[dt.date]
) -> Finding:
    rv, ro, rg = _ratio(judged, "visitors"), _ratio(judged, "paid_orders"), _ratio(judged, "gmv")
    factors: dict[str, float] = {}
    if rv and ro:
        factors["visitors"] = rv
        factors["conversion_rate"] = ro / rv
    elif ro:
        factors["orders"] = ro
    if ro and rg:
        factors["aov"] = rg / ro
    logs = {k: abs(math.log(v)) for k, v in factors.items() if v > 0}
    cause = max(logs, key=lambda k: logs[k]) if logs else ("visitors" if rv is not None else "orders")
    ratio = factors.get(cause, 0.0)
    direction = "low" if ratio < 1 else "high"
    bot = cause == "conversion_rate" and rv is not None and rv > 1.5 and ro is not None and 0.7 < ro < 1.3
    if bot:
        cause, direction = "visitors", "high"
    g = judged[judged["metric"] == "gmv"]
    actual_gmv = float(g["value"].sum()) if len(g) else float("nan")
    expected_gmv = float(g["expected"].sum()) if len(g) else float("nan")
    span = f"{days[0]}" if len(days) == 1 else f"{days[0]} – {days[-1]}"
    cur = report.currency
    move = F.signed_percent(ratio - 1) if ratio else "—"
    text = {
        "zh-CN": f"{name}：{span} {_CAUSE[cause]['zh-CN']}{'异常偏低' if direction == 'low' else '异常偏高'}（相对预期 {move}）；"
        f"GMV 实际 {F.money(actual_gmv, cur)}，预期 {F.money(expected_gmv, cur)}",
        "en": f"{name}: {_CAUSE[cause]['en']} abnormally {direction} on {span} ({move} vs expected); "
        f"GMV {F.money(actual_gmv, cur)} vs {F.money(expected_gmv, cur)} expected",
    }
    by = report.end + dt.timedelta(days=7)
    loss = expected_gmv - actual_gmv
    if bot:
        rec: Text = _BOT
        expected: dict[str, Any] | None = {
            "metric": "conversion_rate",
            "size": None,
            "by": by.isoformat(),
            "text": {"zh-CN": "转化率回到过滤前水平", "en": "conversion rate back to its level before the bots"},
        }
        severity = "warning"
    elif direction == "low":
        rec = _ACTIONS[(cause, "low")]
        expected = {
            "metric": "gmv",
            "size": round(loss, 2) if not math.isnan(loss) else None,
            "by": by.isoformat(),
            "text": {
                "zh-CN": f"恢复后每出现一次同类情况可挽回约 {F.money(loss, cur)} GMV（{by} 前复核）",
                "en": f"fixing it recovers about {F.money(loss, cur)} of GMV per occurrence (check by {by})",
            },
        }
        severity = "warning"
    else:
        rec = _ACTIONS[(cause, "high")]
        expected = {
            "metric": "gmv",
            "size": round(-loss, 2) if not math.isnan(loss) else None,
            "by": by.isoformat(),
            "text": {
                "zh-CN": f"每复制一次约多 {F.money(-loss, cur)} GMV（{by} 前复核）",
                "en": f"about {F.money(-loss, cur)} more GMV each time it is repeated (check by {by})",
            },
        }
        severity = "info"
    evidence = {
        "days": [d.isoformat() for d in days],
        "ratios_vs_expected": {k: round(v, 4) for k, v in factors.items()},
        "gmv": actual_gmv,
        "gmv_expected": expected_gmv,
        "cause": cause,
        "direction": direction,
    }
    return Finding("anomaly", severity, text, channel, evidence, rec, expected)


def mover_findings(project: Project, movers: pd.DataFrame, report: Report, filters: dict[str, Any]) -> list[Finding]:
    """Channels whose GMV moved beyond MOVER_Z robust standard deviations of their usual swing and by at least
    MOVER_SHARE of the total, with no planned event in either period (a festival week is expected to differ)."""
    from channelscope.analysis.planned_events import project_events

    if movers.empty:
        return []
    total_before = float(movers["value_before"].sum()) or 1.0
    events = project_events(project)
    swing = usual_swing(project, report, filters)
    out = []
    assert report.compare_start is not None and report.compare_end is not None
    for r in movers.itertuples():
        pct = r.change_pct
        if pct is None or (isinstance(pct, float) and np.isnan(pct)):
            continue
        sd = swing.get(r.channel_id)
        if sd is None or abs(r.change) <= MOVER_Z * sd or abs(r.change) < MOVER_SHARE * total_before:
            continue
        planned = [
            e
            for e in events
            if (e.channel_id in (None, r.channel_id))
            and (
                (e.start <= report.end and e.end >= report.start)
                or (e.start <= report.compare_end and e.end >= report.compare_start)
            )
        ]
        if planned:
            continue
        driver = r.driver or "visitors"
        direction = "low" if r.change < 0 else "high"
        cur = report.currency
        action = _ACTIONS.get((driver if driver in _CAUSE else "orders", direction), _ACTIONS[("orders", direction)])
        cause = _CAUSE.get(driver, {"zh-CN": driver, "en": driver})
        text = {
            "zh-CN": f"{r.channel_name}：GMV {F.signed_percent(pct)}（{F.signed_money(r.change, cur)}），主要因素：{cause['zh-CN']}",
            "en": f"{r.channel_name}: GMV {F.signed_percent(pct)} ({F.signed_money(r.change, cur)}), driven by {cause['en']}",
        }
        by = report.end + dt.timedelta(days=(report.end - report.start).days + 1)
        expected = {
            "metric": "gmv",
            "size": round(-float(r.change), 2) if direction == "low" else None,
            "by": by.isoformat(),
            "text": {
                "zh-CN": f"下一期（{by} 前）GMV 回到 {F.money(r.value_before, cur)}"
                if direction == "low"
                else "保持本期水平",
                "en": f"GMV back to {F.money(r.value_before, cur)} in the next period (by {by})"
                if direction == "low"
                else "keep this period's level",
            },
        }
        evidence = {
            "before": float(r.value_before),
            "after": float(r.value_after),
            "change": float(r.change),
            "driver": driver,
            "usual_swing_sd": sd,
        }
        out.append(
            Finding(
                "mover", "warning" if direction == "low" else "info", text, r.channel_id, evidence, action, expected
            )
        )
    return out


def usual_swing(project: Project, report: Report, filters: dict[str, Any]) -> dict[str, float]:
    """Per channel, the robust standard deviation (1.4826 x MAD) of the change of GMV between consecutive periods
    as long as the report's, over the SWING_PERIODS before it; a channel with fewer than 8 such changes has none."""
    n = (report.end - report.start).days + 1
    first = report.start - dt.timedelta(days=n * (SWING_PERIODS + 1))
    end = report.start - dt.timedelta(days=1)
    daily = project.kpis(["gmv"], by=["channel"], grain="day", start=first, end=end, filters=filters)
    if daily.empty:
        return {}
    daily = daily[daily["channel"].notna()].copy()
    daily["block"] = (pd.Timestamp(end) - pd.to_datetime(daily["period"])).dt.days // n
    out = {}
    for channel, g in daily.groupby("channel"):
        sums = g.groupby("block")["gmv"].sum().astype("float64").sort_index()
        changes = sums.diff().dropna()
        if len(changes) >= 8:
            mad = float(np.median(np.abs(changes - np.median(changes))))
            out[str(channel)] = 1.4826 * mad
    return out


def target_findings(project: Project, targets: pd.DataFrame, report: Report) -> list[Finding]:
    """Targets whose run-rate projection falls short: the gap and the daily rate needed for the rest."""
    from channelscope.metrics.periods import parse_period

    out = []
    cur = report.currency
    for r in targets.itertuples():
        proj = r.projected_attainment
        if proj is None or (isinstance(proj, float) and np.isnan(proj)) or proj >= 1:
            continue
        start, end = parse_period(str(r.period))
        left = (end - r.as_of).days if isinstance(r.as_of, dt.date) else 0
        elapsed = (r.as_of - start).days + 1 if isinstance(r.as_of, dt.date) else 0
        unit = str(r._unit)
        gap = float(r.target) - float(r.projection)
        label = {"zh-CN": getattr(r, "_12", None), "en": None}
        label = {"zh-CN": project.catalog.get(r.metric).label_zh, "en": project.catalog.get(r.metric).label_en}
        who = r.channel or ""
        text = {
            "zh-CN": f"{who} {label['zh-CN']} 目标 {F.by_unit(r.target, unit, cur, 'zh-CN')}（{r.period}）预计达成 {F.percent(proj)}，缺口 {F.by_unit(gap, unit, cur, 'zh-CN')}",
            "en": f"{who} {label['en']} target {F.by_unit(r.target, unit, cur, 'en')} ({r.period}) is projected at {F.percent(proj)}, short by {F.by_unit(gap, unit, cur, 'en')}",
        }
        rec = None
        if left > 0 and elapsed > 0 and unit in ("money", "count"):
            now = float(r.actual) / elapsed
            need = (float(r.target) - float(r.actual)) / left
            rec = {
                "zh-CN": f"剩余 {left} 天日均需 {F.by_unit(need, unit, cur, 'zh-CN')}（当前 {F.by_unit(now, unit, cur, 'zh-CN')}）",
                "en": f"{left} days left: {F.by_unit(need, unit, cur, 'en')} a day needed (now {F.by_unit(now, unit, cur, 'en')})",
            }
        expected = {"metric": r.metric, "size": round(gap, 2), "by": end.isoformat()}
        evidence = {"target": float(r.target), "actual": float(r.actual), "projection": float(r.projection)}
        out.append(Finding("target_at_risk", "warning", text, r.channel, evidence, rec, expected))
    return out
