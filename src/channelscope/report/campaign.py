"""The campaign post-mortem: a campaign's window (``campaign:<id>``, or ``last_campaign``: the latest promotion
or festival campaign that ended before the issue date), what the promotion added against its counterfactual
(uplift with its 95% interval, the dip before it and the pull-forward after it, net of the three:
``analysis.uplift`` on the media mix model) and what each ad campaign returned in the window
(``analysis.marketing.roi_table``).

The uplift is brand-wide (the model is fitted on every channel's GMV), so a channel manager's report leaves
it out and says so; the ROI table holds only the campaigns of the report's channels.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from channelscope.errors import QueryError
from channelscope.report import format as F
from channelscope.report.content import Column, Finding, Report, SectionResult, Text

if TYPE_CHECKING:
    from channelscope.project import Project

TITLES: dict[str, Text] = {
    "uplift": {"zh-CN": "活动增量（相对反事实）", "en": "What the promotion added (against its counterfactual)"},
    "campaign_roi": {"zh-CN": "广告活动投入产出", "en": "Ad campaigns: spend and return"},
}
#: campaign kinds a post-mortem is about
KINDS = ("promotion", "festival")


def campaigns(project: Project) -> pd.DataFrame:
    """Campaigns with their window in business dates (the project's time zone): campaign_id, name, kind,
    channel_id, start, end."""
    tz = ZoneInfo(project.config.project.timezone)
    df = project.warehouse.ibis.table("campaigns").select(
        "campaign_id", "name", "kind", "channel_id", "starts_at", "ends_at"
    )
    frame = df.to_pandas()

    def day(v: Any) -> dt.date | None:
        if v is None or pd.isna(v):
            return None
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        return ts.tz_convert(tz).date()

    frame["start"] = [day(v) for v in frame["starts_at"]]
    frame["end"] = [day(v) for v in frame["ends_at"]]
    return frame.drop(columns=["starts_at", "ends_at"])


def campaign_window(project: Project, text: str, issued: dt.date) -> tuple[dt.date, dt.date, dict[str, Any]] | None:
    """The window of ``campaign:<id>`` or ``last_campaign``; None for any other period text."""
    if text != "last_campaign" and not text.startswith("campaign:"):
        return None
    c = campaigns(project)
    if text == "last_campaign":
        done = c[c["kind"].isin(KINDS) & c["end"].notna() & (c["end"] < issued)]
        if done.empty:
            raise QueryError(f"no promotion or festival campaign ended before {issued}")
        row = done.sort_values(["end", "start"]).iloc[-1]
    else:
        cid = text.split(":", 1)[1]
        hit = c[c["campaign_id"] == cid]
        if hit.empty:
            raise QueryError(f"unknown campaign '{cid}'", field="period")
        row = hit.iloc[0]
    if row["start"] is None or row["end"] is None:
        raise QueryError(f"campaign '{row['campaign_id']}' has no start or end", field="period")
    info = {k: (None if pd.isna(row[k]) else row[k]) for k in ("campaign_id", "name", "kind", "channel_id")}
    return row["start"], row["end"], info


def uplift_section(project: Project, report: Report) -> tuple[SectionResult, list[Finding]]:
    """Each promotion starting in the window: actual and counterfactual GMV, uplift with its interval, the
    dip before it, the pull-forward after it and the net uplift (yuan)."""
    columns = [
        Column("promotion", {"zh-CN": "活动", "en": "Promotion"}),
        Column("days", {"zh-CN": "天数", "en": "Days"}, "count"),
        Column("actual", {"zh-CN": "实际 GMV", "en": "Actual GMV"}, "money"),
        Column("counterfactual", {"zh-CN": "反事实 GMV", "en": "Counterfactual GMV"}, "money"),
        Column("uplift", {"zh-CN": "增量", "en": "Uplift"}, "money"),
        Column("uplift_low", {"zh-CN": "增量下限 (95%)", "en": "Uplift low (95%)"}, "money"),
        Column("uplift_high", {"zh-CN": "增量上限 (95%)", "en": "Uplift high (95%)"}, "money"),
        Column("uplift_pct", {"zh-CN": "增量占比", "en": "Uplift %"}, "percent"),
        Column("dip", {"zh-CN": "活动前（观望为负）", "en": "Before (waiting if negative)"}, "money"),
        Column("hangover", {"zh-CN": "活动后（提前透支为负）", "en": "After (pull-forward if negative)"}, "money"),
        Column("net_uplift", {"zh-CN": "净增量", "en": "Net uplift"}, "money"),
    ]
    title = TITLES["uplift"]
    if report.channels:
        note = {
            "zh-CN": "活动增量按全品牌 GMV 估计，含其他渠道，渠道报告不展示",
            "en": "The uplift is estimated on the whole brand's GMV (every channel), so a channel's report leaves it out",
        }
        return SectionResult("uplift", title, None, columns, [note]), []
    try:
        fit = project.analysis.media_mix()
        table, _daily = project.analysis.promotion_uplift(fit)
    except Exception as exc:  # the model needs ad spend and history: say why there is no uplift
        note = {"zh-CN": f"无法估计活动增量：{exc}", "en": f"The uplift cannot be estimated: {exc}"}
        return SectionResult("uplift", title, None, columns, [note]), [_unsupported(note)]
    if not table.empty:
        starts = pd.to_datetime(table["start"]).dt.date
        table = table[(starts >= report.start) & (starts <= report.end)].reset_index(drop=True)
    if table.empty:
        note = {
            "zh-CN": "报告期内没有促销活动（模型只为 promotion 类活动估计增量）",
            "en": "No promotion starts in this period (the model estimates uplift for promotion campaigns)",
        }
        return SectionResult("uplift", title, None, columns, [note]), []
    notes = [
        {
            "zh-CN": "反事实：媒体组合模型在去掉活动期及其前后各 3 天后重新拟合的预测；区间为 95%。",
            "en": "Counterfactual: the media mix model refitted without the window and the 3 days either side "
            "of it; intervals are 95%.",
        }
    ]
    return SectionResult("uplift", title, table, columns, notes), [_uplift_finding(r) for r in table.to_dict("records")]


def _uplift_finding(r: dict[str, Any]) -> Finding:
    paid = r["uplift_low"] > 0
    pulled = r.get("hangover") is not None and not pd.isna(r["hangover"]) and r["hangover"] < 0
    money = F.signed_money
    zh = (
        f"{r['promotion']}（{r['start']} 起 {r['days']} 天）增量 {money(r['uplift'], 'CNY')}"
        f"（95% 区间 {money(r['uplift_low'], 'CNY')} 至 {money(r['uplift_high'], 'CNY')}）"
    )
    en = (
        f"{r['promotion']} ({r['days']} days from {r['start']}) added {money(r['uplift'], 'CNY')} "
        f"(95% interval {money(r['uplift_low'], 'CNY')} to {money(r['uplift_high'], 'CNY')})"
    )
    if pulled:
        zh += f"，其后 3 天被提前透支 {F.money(-r['hangover'], 'CNY')}"
        en += f"; {F.money(-r['hangover'], 'CNY')} was pulled forward from the 3 days after"
    if paid:
        rec = {
            "zh-CN": "活动带来可测增量：保留该机制，下次按净增量评估预算。",
            "en": "The promotion added measurable GMV: keep the mechanism and budget the next one on its net uplift.",
        }
    else:
        rec = {
            "zh-CN": "活动增量不显著：缩减折扣力度或换用其他机制，下次活动前设对照。",
            "en": "The promotion did not pay measurably: cut the discount or change the mechanism, and plan a "
            "holdout for the next one.",
        }
    return Finding(
        kind="promotion",
        severity="info" if paid else "warning",
        text={"zh-CN": zh + "。", "en": en + "."},
        evidence={
            k: r.get(k) for k in ("start", "days", "uplift", "uplift_low", "uplift_high", "hangover", "net_uplift")
        },
        recommendation=rec,
        expected={"metric": "gmv", "size": float(r["net_uplift"]), "by": None},
    )


def _unsupported(note: Text) -> Finding:
    return Finding(kind="not_supported", severity="info", text=note)


def roi_section(project: Project, report: Report) -> tuple[SectionResult, list[Finding]]:
    """Ad campaigns of the report's channels in the window: spend, the platform's reported revenue, the GMV of
    orders carrying the campaign code, and both ROAS."""
    from channelscope.analysis.marketing import roi_table

    roi = roi_table(project, start=report.start, end=report.end)
    roi = roi[roi["kind"] == "ad"].copy()  # promotions are the uplift section's
    owner = campaigns(project).set_index("campaign_id")
    roi["channel_id"] = roi["campaign_id"].map(owner["channel_id"])
    roi["name"] = roi["campaign_id"].map(owner["name"]).fillna(roi["campaign_id"])
    if report.channels:
        roi = roi[roi["channel_id"].isin(report.channels)]
    names = {c.id: c.name or c.id for c in project.config.channels}
    roi = roi.assign(channel_name=[names.get(c, c) if isinstance(c, str) else "" for c in roi["channel_id"]])
    columns = [
        Column("name", {"zh-CN": "广告活动", "en": "Campaign"}),
        Column("channel_name", {"zh-CN": "渠道", "en": "Channel"}),
        Column("platform", {"zh-CN": "平台", "en": "Platform"}),
        Column("spend", {"zh-CN": "花费", "en": "Spend"}, "money"),
        Column("reported_revenue", {"zh-CN": "平台报告收入", "en": "Platform-reported revenue"}, "money"),
        Column("orders_revenue", {"zh-CN": "订单归属 GMV", "en": "GMV of orders with the code"}, "money"),
        Column("roas_platform", {"zh-CN": "ROAS（平台口径）", "en": "ROAS (platform)"}, "ratio"),
        Column("roas_orders", {"zh-CN": "ROAS（订单口径）", "en": "ROAS (orders)"}, "ratio"),
    ]
    notes = [
        {
            "zh-CN": "平台口径为平台自报（通常偏高）；订单口径为带活动码的已支付订单 GMV。",
            "en": "The platform basis is what the platform reports (usually too high); the orders basis is the "
            "paid GMV of orders carrying the campaign's code.",
        }
    ]
    if roi.empty:
        notes = [{"zh-CN": "报告期内没有广告花费", "en": "No ad spend in this period"}]
        return SectionResult("campaign_roi", TITLES["campaign_roi"], None, columns, notes), []
    return SectionResult("campaign_roi", TITLES["campaign_roi"], roi.reset_index(drop=True), columns, notes), []
