"""The basis (口径) of a KPI: which rows it counts, dated by which timestamp, gross or net of refunds,
the attribution of ad figures, the currency, and the inputs a channel must provide for it.

Every metric of the catalog carries one (``metric.basis``); ``Basis.text(lang)`` is the sentence shown by
``channelscope metrics``, the API's catalog, exports and the dashboard's tooltips. The built-in metrics
declare the parts that cannot be inferred (net of refunds, attribution); the rest is inferred from the
measure's table and filter, so a project's own metrics get a basis too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Rows = Literal["paid_orders", "all_orders", "refunds", "traffic", "ad_spend", "fees", "events"]
DateBasis = Literal["order_date", "refund_date", "report_date"]
Refunds = Literal["gross", "net", "refunds", "not_applicable"]
Attribution = Literal["not_applicable", "spend_as_billed", "channel_gmv_not_attributed", "platform_reported"]

#: tables whose absence for a channel means "not provided" (a KPI over them is empty for that channel);
#: a channel without rows in ad_spend or fees simply spent nothing there
COVERAGE_TABLES: tuple[str, ...] = ("order_lines", "refunds", "traffic")

_ROWS = {
    "paid_orders": (
        "有支付时间的订单（之后取消或退款的仍计入，与平台“支付金额”一致；来源无支付时间时按已支付状态）",
        "orders with a payment time (later cancelled or refunded ones included, as the platforms' 支付金额; "
        "where a source has no payment time, a status reached after payment)",
    ),
    "all_orders": ("所有有效订单（任何状态）", "all valid orders, any status"),
    "refunds": ("退款记录（每笔退款计一次）", "refund records, each refund counted once"),
    "traffic": ("平台流量报表", "the platform's traffic report"),
    "ad_spend": ("广告平台账单", "the ad platforms' bills"),
    "fees": ("平台与物流费用记录", "platform, payment, logistics and commission fee records"),
    "events": ("访客行为事件", "visitor events"),
}
_DATE = {
    "order_date": ("按下单时间的业务日（{tz}）", "dated by the order's business date ({tz})"),
    "refund_date": ("按退款业务日（{tz}）", "dated by the refund's business date ({tz})"),
    "report_date": ("按报表日期", "dated by the report's date"),
}
_REFUNDS = {
    "gross": ("未扣退款", "gross of refunds"),
    "net": ("已扣退款（每笔退款只扣一次，记在退款日）", "net of refunds (each refund once, on its refund date)"),
    "refunds": ("", ""),
    "not_applicable": ("", ""),
}
_ATTRIBUTION = {
    "not_applicable": ("", ""),
    "spend_as_billed": (
        "花费为广告平台账单金额，无归因窗口",
        "spend as billed by the ad platform, no attribution window",
    ),
    "channel_gmv_not_attributed": (
        "分子为渠道全部支付金额，非广告归因收入（无归因窗口）",
        "the numerator is all paid GMV of the channel, not ad-attributed revenue (no attribution window)",
    ),
    "platform_reported": (
        "广告平台回传数据，归因窗口 {window} 天",
        "as reported by the ad platform, {window}-day attribution window",
    ),
}
_TABLE_NAMES = {
    "order_lines": ("订单明细", "order lines"),
    "refunds": ("退款数据", "refunds"),
    "traffic": ("流量数据", "traffic"),
}


class Basis(BaseModel):
    """What a KPI counts. ``needs`` are the inputs (COVERAGE_TABLES) a channel must provide, else the KPI is
    empty for it; ``money`` says the value is in the project's base currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: tuple[Rows, ...]
    dates: tuple[DateBasis, ...]
    refunds: Refunds = "not_applicable"
    attribution: Attribution = "not_applicable"
    attribution_window_days: int | None = None
    money: bool = False
    needs: tuple[str, ...] = ()
    note_zh: str = ""
    note_en: str = ""

    def text(self, lang: str = "zh-CN", *, currency: str | None = None, timezone: str | None = None) -> str:
        """The basis as one sentence in ``lang`` (zh-CN or en), naming the base currency and time zone."""
        zh = lang == "zh-CN"
        i = 0 if zh else 1
        tz = timezone or ("项目时区" if zh else "project time zone")
        parts = ["、".join(_ROWS[r][i] for r in self.rows) if zh else "; ".join(_ROWS[r][i] for r in self.rows)]
        parts += [_DATE[d][i].format(tz=tz) for d in self.dates]
        parts.append(_REFUNDS[self.refunds][i])
        parts.append(_ATTRIBUTION[self.attribution][i].format(window=self.attribution_window_days or "?"))
        if self.money:
            cur = currency or ("基础币种" if zh else "the base currency")
            parts.append(
                f"金额以 {cur} 计（外币按当日汇率折算）" if zh else f"in {cur} (other currencies at the day's rate)"
            )
        if self.needs:
            names = [_TABLE_NAMES.get(t, (t, t))[i] for t in self.needs]
            parts.append(
                f"缺少{'、'.join(names)}的渠道为空（不计 0），合计只含数据齐全的渠道"
                if zh
                else f"empty (never 0) for a channel without {', '.join(names)}; totals over the channels that have them"
            )
        note = self.note_zh if zh else self.note_en
        if note:
            parts.append(note)
        body = ("；" if zh else "; ").join(p for p in parts if p)
        return f"口径：{body}。" if zh else f"Basis: {body}."


def merge(bases: list[Basis], *, refunds: Refunds | None = None, attribution: Attribution | None = None) -> Basis:
    """The basis of a metric computed from others: the union of their rows, dates and needs."""

    def union(items: list[tuple[str, ...]]) -> tuple[str, ...]:
        out: list[str] = []
        for t in items:
            out += [x for x in t if x not in out]
        return tuple(out)

    ref = refunds
    if ref is None:
        kinds = {b.refunds for b in bases} - {"not_applicable"}
        if "net" in kinds or {"gross", "refunds"} <= kinds:
            ref = "net"
        else:
            ref = "gross" if "gross" in kinds else ("refunds" if kinds else "not_applicable")
    att = attribution or next((b.attribution for b in bases if b.attribution != "not_applicable"), "not_applicable")
    return Basis(
        rows=union([b.rows for b in bases]),
        dates=union([b.dates for b in bases]),
        refunds=ref,
        attribution=att,
        money=any(b.money for b in bases),
        needs=union([b.needs for b in bases]),
    )


def basis_record(basis: Basis | None, *, currency: str, timezone: str) -> dict[str, object] | None:
    """The basis as exports and API answers carry it: the sentence in zh-CN and en (naming the base currency
    and time zone) and the typed fields as JSON; None for a metric without a basis."""
    if basis is None:
        return None
    out: dict[str, object] = {lang: basis.text(lang, currency=currency, timezone=timezone) for lang in ("zh-CN", "en")}
    out["fields"] = basis.model_dump(mode="json")
    return out
