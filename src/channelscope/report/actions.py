"""The action-log section of a report (the "act" of PDCA): the verdict of every action whose deadline fell in
the period, with its measured effect and the next step, and the actions still open.

A verdict already recorded (``channelscope action check`` or the scheduler) is shown as stored; an action due
in the period without one is measured now (no write), so a report on a read-only project still judges it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.plan.actions import (
    REASON_TEXT,
    STATUS_TEXT,
    VERDICT_TEXT,
    list_actions,
    measure,
    next_step,
)
from channelscope.report import format as F
from channelscope.report.content import Column, Finding, Report, SectionResult, Text

if TYPE_CHECKING:
    from channelscope.project import Project

TITLE: Text = {"zh-CN": "行动复盘（PDCA）", "en": "Actions and their effect (PDCA)"}
_SEVERITY = {"worse": "warning", "no_effect": "info", "worked": "info", "not_measurable": "info"}


def _value(v: Any) -> Any:
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def action_section(project: Project, report: Report) -> tuple[SectionResult, list[Finding]]:
    """The actions due in the report's period (with verdict and next step) and those still open after it."""
    log = list_actions(project, channels=report.channels or None)
    start, end = report.start.isoformat(), report.end.isoformat()
    log = log[(log["status"] != "cancelled") & (log["start_date"] <= end)]
    due = log[(log["deadline"] >= start) & (log["deadline"] <= end)]
    still_open = log[log["deadline"] > end]
    columns = [
        Column("what", {"zh-CN": "行动", "en": "Action"}),
        Column("owner", {"zh-CN": "负责人", "en": "Owner"}),
        Column("scope", {"zh-CN": "范围", "en": "Scope"}),
        Column("window", {"zh-CN": "期间", "en": "Window"}),
        Column("status_label", {"zh-CN": "状态", "en": "Status"}, "lang"),
        Column("expected_change_pct", {"zh-CN": "预期变化", "en": "Expected"}, "percent"),
        Column("effect_change_pct", {"zh-CN": "实测效果", "en": "Measured"}, "percent"),
        Column("interval", {"zh-CN": "95% 区间", "en": "95% interval"}),
        Column("verdict_label", {"zh-CN": "结论", "en": "Verdict"}, "lang"),
        Column("next_label", {"zh-CN": "下一步", "en": "Next step"}, "lang"),
    ]
    rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for a in [{k: _value(v) for k, v in r.items()} for r in due.to_dict("records")]:
        verdict, effect, lower, upper, reason = a["verdict"], a["effect"], a["effect_lower"], a["effect_upper"], None
        if verdict is None:
            chk = measure(project, a, log=log)
            verdict, reason = chk.verdict, chk.reason
            effect, lower, upper = chk.effect.effect, chk.effect.lower, chk.effect.upper
        step = next_step(a, verdict, effect)
        why = REASON_TEXT.get(reason or "", None)
        rows.append(_row(a, verdict, effect, lower, upper, step, why))
        findings.append(_finding(a, verdict, effect, lower, upper, step, why))
    for a in [{k: _value(v) for k, v in r.items()} for r in still_open.to_dict("records")]:
        rows.append(_row(a, None, None, None, None, None, None))
    notes: list[Text] = []
    if not rows:
        notes.append({"zh-CN": "本期没有到期或进行中的行动", "en": "No action was due or open in this period"})
    else:
        notes.append(
            {
                "zh-CN": "效果为双重差分：行动范围相对未受影响的可比渠道（开始前 56 天的比例）的变化，95% 区间。",
                "en": "Effect by difference-in-differences: the change of the scope against comparable untreated "
                "channels (their ratio over the 56 days before the start), with a 95% interval.",
            }
        )
    table = pd.DataFrame(rows) if rows else None
    return SectionResult("actions", TITLE, table, columns, notes), findings


def _row(
    a: dict[str, Any],
    verdict: str | None,
    effect: float | None,
    lower: float | None,
    upper: float | None,
    step: Text | None,
    why: Text | None,
) -> dict[str, Any]:
    verdict_text = VERDICT_TEXT[verdict] if verdict else {"zh-CN": "", "en": ""}
    if why:
        verdict_text = {k: f"{v}（{why[k]}）" if k == "zh-CN" else f"{v} ({why[k]})" for k, v in verdict_text.items()}
    return {
        "action_id": a["action_id"],
        "what": a["what"],
        "owner": a["owner"],
        "scope": f"{a['scope_kind']}:{a['scope_id']}",
        "channel": a["channel_id"],
        "window": f"{a['start_date']}..{a['deadline']}",
        "status_label_zh-CN": STATUS_TEXT[a["status"]]["zh-CN"],
        "status_label_en": STATUS_TEXT[a["status"]]["en"],
        "expected_change_pct": a["expected_change"],
        "effect_change_pct": effect,
        "interval": "" if lower is None else f"{F.signed_percent(lower)} … {F.signed_percent(upper)}",
        "verdict": verdict,
        "verdict_label_zh-CN": verdict_text["zh-CN"],
        "verdict_label_en": verdict_text["en"],
        "next_label_zh-CN": (step or {}).get("zh-CN", ""),
        "next_label_en": (step or {}).get("en", ""),
    }


def _finding(
    a: dict[str, Any],
    verdict: str,
    effect: float | None,
    lower: float | None,
    upper: float | None,
    step: Text,
    why: Text | None,
) -> Finding:
    measured = (
        {
            "zh-CN": f"，实测 {F.signed_percent(effect)}（95% 区间 {F.signed_percent(lower)} 至 {F.signed_percent(upper)}）",
            "en": f", measured {F.signed_percent(effect)} (95% interval {F.signed_percent(lower)} to "
            f"{F.signed_percent(upper)})",
        }
        if effect is not None
        else {"zh-CN": f"（{why['zh-CN']}）" if why else "", "en": f" ({why['en']})" if why else ""}
    )
    text = {
        "zh-CN": f"行动「{a['what']}」（{a['owner']}，{a['start_date']} 至 {a['deadline']}）："
        f"{VERDICT_TEXT[verdict]['zh-CN']}{measured['zh-CN']}。",
        "en": f"Action '{a['what']}' ({a['owner']}, {a['start_date']} to {a['deadline']}): "
        f"{VERDICT_TEXT[verdict]['en']}{measured['en']}.",
    }
    by = dt.date.fromisoformat(a["deadline"]) + dt.timedelta(days=28)
    return Finding(
        kind="action_verdict",
        severity=_SEVERITY[verdict],
        text=text,
        channel=a["channel_id"],
        evidence={
            "action_id": a["action_id"],
            "verdict": verdict,
            "effect": effect,
            "lower": lower,
            "upper": upper,
            "metric": a["metric"],
        },
        recommendation=step,
        expected={
            "metric": a["metric"],
            "size": None,
            "by": by.isoformat(),
            "text": {"zh-CN": f"{by} 前复查下一步的效果", "en": f"check the next step's effect by {by}"},
        },
    )
