"""zh-CN and English names of the customer analyses' columns, shared by the CLI, the API and the dashboard
(like the metric labels of ``metrics.definitions``)."""

from __future__ import annotations

import re

COLUMNS: dict[str, tuple[str, str]] = {
    "cohort": ("获客批次", "Cohort"),
    "period": ("获客后期数", "Periods since acquisition"),
    "cohort_size": ("批次客户数", "Cohort size"),
    "customers": ("客户数", "Customers"),
    "orders": ("订单数", "Orders"),
    "revenue": ("金额", "Revenue"),
    "retention": ("留存率", "Retention"),
    "revenue_per_customer": ("人均金额", "Revenue per customer"),
    "cumulative_revenue_per_customer": ("累计人均金额", "Cumulative revenue per customer"),
    "acquisition_channel": ("获客渠道", "Acquisition channel"),
    "acquisition_distributor": ("获客分销商", "Acquisition distributor"),
    "acquisition_campaign": ("获客活动", "Acquisition campaign"),
    "repeat_customers": ("复购客户数", "Repeat customers"),
    "segment": ("分群", "Segment"),
    "label": ("分群名称", "Segment name"),
    "share": ("占比", "Share"),
    "monetary": ("消费金额", "Monetary"),
    "recency_days": ("最近购买距今天数", "Recency (days)"),
    "frequency": ("购买次数", "Frequency"),
    "gaps": ("间隔次数", "Gaps"),
    "from_days": ("起(天)", "From (days)"),
    "to_days": ("止(天)", "To (days)"),
    "x_holdout": ("验证期实际购买", "Actual holdout purchases"),
    "bucket": ("校准期复购次数", "Calibration repeat purchases"),
    "predicted": ("预测购买", "Predicted purchases"),
    "actual": ("实际购买", "Actual purchases"),
    "predicted_per_customer": ("人均预测", "Predicted per customer"),
    "actual_per_customer": ("人均实际", "Actual per customer"),
    "new_customers": ("新客数", "New customers"),
    "ad_spend": ("广告花费", "Ad spend"),
    "cac": ("获客成本(CAC)", "CAC"),
    "clv_365d": ("365天CLV", "365-day CLV"),
    "clv_to_cac": ("CLV/CAC", "CLV / CAC"),
    "payback_months": ("回本月数", "Months to pay back"),
    "reason": ("说明", "Reason"),
    "kind": ("类型", "Kind"),
    "orders_per_customer": ("人均订单", "Orders per customer"),
    "value": ("金额", "Value"),
    "value_per_customer": ("人均金额", "Value per customer"),
    "distributor_id": ("分销商", "Distributor"),
    "bought_own_store_before": ("此前在自营店购买", "Bought in own store before"),
}
_PATTERNS: list[tuple[str, str, str]] = [
    (r"rate_(\d+)d", "{}天复购率", "Repurchase rate {} days"),
    (r"repurchase_(\d+)d", "{}天复购客户", "Repurchased within {} days"),
    (r"eligible_(\d+)d", "{}天可观察客户", "Observable {} days"),
    (r"purchases_(\d+)d", "{}天预期购买", "Expected purchases {} days"),
    (r"value_(\d+)d_per_customer", "{}天人均预期价值", "Expected value per customer {} days"),
    (r"value_(\d+)d", "{}天预期价值", "Expected value {} days"),
]
KINDS = {"multi_channel": ("多渠道客户", "Multi-channel"), "single_channel": ("单渠道客户", "Single-channel")}


def column_label(name: str, lang: str = "zh") -> str:
    """The column's name in zh-CN (``zh``/``zh-CN``) or English; unknown names are returned as they are."""
    zh = lang.lower().startswith("zh")
    if name in COLUMNS:
        return COLUMNS[name][0 if zh else 1]
    for pattern, z, e in _PATTERNS:
        m = re.fullmatch(pattern, name)
        if m:
            return (z if zh else e).format(m.group(1))
    return name
