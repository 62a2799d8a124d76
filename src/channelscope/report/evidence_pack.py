"""The evidence pack of a compliance case, as PDF and Excel: the case, the rule and the policy applied, and
every order line it holds (pseudonymous: order ids and regions, no buyer data), rebuilt from the warehouse
from the lines the case recorded, so the pack reads the same at any later date."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from channelscope.report.content import Column, Report, SectionResult

ACTION_TEXT = {
    "warning": ("警告", "Warning"),
    "fine": ("罚款", "Fine"),
    "suspend_commission": ("暂停佣金", "Suspend commission"),
    "terminate": ("终止合作", "Terminate"),
}


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


def evidence_lines(project: Any, case: dict[str, Any]) -> pd.DataFrame:
    """The case's order lines (price cases) or orders (region cases), from the warehouse, in order."""
    held = json.loads(case["evidence_json"] or "[]")
    orders = sorted({o for o, _ in held})
    c = project.analysis.compliance
    if case["kind"] == "price":
        t = c.priced_lines()
        t = t.filter(t.order_id.isin(orders), t.sku == case["sku"])
        f = t.to_pandas()
        keys = {(o, int(n)) for o, n in held}
        f = f[[(o, int(n)) in keys for o, n in zip(f["order_id"], f["line_no"], strict=True)]]
        cols = [
            "order_id",
            "line_no",
            "business_date",
            "sku",
            "quantity",
            "line_amount",
            "order_discount_share",
            "paid",
            "unit_paid",
            "map",
            "depth",
            "region",
        ]
        f = f.assign(business_date=pd.to_datetime(f["business_date"]).dt.date)
        return f.sort_values(["business_date", "order_id", "line_no"], ignore_index=True)[cols]
    o = project.table("orders")
    o = o.filter(o.order_id.isin(orders))
    f = o.select("order_id", "business_date", "region", "net_amount_base").to_pandas()
    f = f.assign(business_date=pd.to_datetime(f["business_date"]).dt.date)
    return f.sort_values(["business_date", "order_id"], ignore_index=True)


def evidence_report(project: Any, case: dict[str, Any], language: str = "zh-CN") -> Report:
    """The case as a ``Report`` (rendered by report.pdf / report.excel like every report)."""
    lines = evidence_lines(project, case)
    rule = json.loads(case["rule_json"] or "{}")
    zh, en = ACTION_TEXT.get(case["action"] or "warning", ("", ""))
    summary = pd.DataFrame(
        {
            "item": [
                "案件 Case",
                "经销商 Distributor",
                "SKU",
                "类型 Kind",
                "状态 Status",
                "处理 Action",
                "最深 Worst depth",
                "警告后重复天数 Repeat days",
                "首次 First seen",
                "最近 Last seen",
            ],
            "value": [
                case["case_id"],
                case["distributor_id"],
                case["sku"] or "—",
                case["kind"],
                case["status"],
                f"{zh} {en}"
                + (f" {case['fine']:.2f}" if case.get("fine") == case.get("fine") and case.get("fine") else ""),
                "—" if case["depth_worst"] is None or pd.isna(case["depth_worst"]) else f"{case['depth_worst']:.1%}",
                "—" if case["repeat_days"] is None or pd.isna(case["repeat_days"]) else str(int(case["repeat_days"])),
                case["first_seen"],
                case["last_seen"],
            ],
        }
    )
    if case["kind"] == "price":
        columns = [
            Column("order_id", _t("订单", "Order")),
            Column("line_no", _t("行", "Line"), "count"),
            Column("business_date", _t("日期", "Date"), "date"),
            Column("quantity", _t("数量", "Qty"), "count"),
            Column("line_amount", _t("行金额", "Line amount"), "money"),
            Column("order_discount_share", _t("分摊优惠", "Discount share"), "money"),
            Column("paid", _t("到手金额", "Paid"), "money"),
            Column("unit_paid", _t("到手价", "Unit paid"), "money"),
            Column("map", _t("最低限价", "MAP"), "money"),
            Column("depth", _t("低于限价", "Under MAP"), "percent"),
            Column("region", _t("地区", "Region")),
        ]
        rule_text = _t(
            "规则：到手价（订单优惠按行金额比例分摊，四舍五入到分，最后一行承担尾差）低于当日有效的最低限价（MAP）× 数量；"
            "豁免窗口内仅超过允许深度才计。",
            "Rule: the paid price (order discounts allocated pro rata to line amount, rounded half up to the fen, the "
            "last line takes the remainder) below MAP x quantity valid on the date; inside an exemption window only "
            "beyond its allowed depth.",
        )
    else:
        columns = [
            Column("order_id", _t("订单", "Order")),
            Column("business_date", _t("日期", "Date"), "date"),
            Column("region", _t("收货地区", "Ship-to region")),
            Column("net_amount_base", _t("实付金额", "Paid"), "money"),
        ]
        rule_text = _t(
            "规则：订单收货地区不在经销商当日有效的授权区域内。",
            "Rule: the order ships to a region outside the distributor's authorized regions on that date.",
        )
    policy = rule.get("applied") or {"action": case["action"]}
    today = dt.date.today()
    return Report(
        name=f"evidence-{case['case_id']}",
        title=_t(f"合规证据包 {case['case_id']}", f"Compliance evidence pack {case['case_id']}"),
        language=language,
        start=dt.date.fromisoformat(case["first_seen"]),
        end=dt.date.fromisoformat(case["last_seen"]),
        compare_start=None,
        compare_end=None,
        data_as_of=dt.date.fromisoformat(case["last_seen"]),
        generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        channels=[],
        currency=project.config.project.base_currency,
        sections=[
            SectionResult(
                "table",
                _t("案件", "Case"),
                summary,
                [Column("item", _t("项目", "Item")), Column("value", _t("内容", "Value"))],
                notes=[
                    rule_text,
                    _t(
                        f"适用处理：{json.dumps(policy, ensure_ascii=False)}",
                        f"Policy applied: {json.dumps(policy, ensure_ascii=False)}",
                    ),
                    _t(f"生成日期 {today}", f"Generated {today}"),
                ],
            ),
            SectionResult("table", _t(f"订单明细（{len(lines)}）", f"Orders ({len(lines)})"), lines, columns),
        ],
    )


def render_evidence(project: Any, case: dict[str, Any], fmt: str, language: str = "zh-CN") -> bytes:
    """The pack as ``pdf`` or ``xlsx`` bytes."""
    report = evidence_report(project, case, language)
    if fmt == "pdf":
        from channelscope.report.pdf import render_pdf

        return render_pdf(report)
    if fmt == "xlsx":
        from channelscope.report.excel import render_xlsx

        return render_xlsx(report)
    raise ValueError(f"evidence format must be pdf or xlsx, not '{fmt}'")
