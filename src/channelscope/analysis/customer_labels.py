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
    "channel_id": ("渠道", "Channel"),
    "category": ("品类", "Category"),
    "sessions": ("会话数", "Sessions"),
    "visitors": ("访客数", "Visitors"),
    "events": ("行为数", "Events"),
    "purchase_sessions": ("有购买的会话", "Sessions with a purchase"),
    "median_session_seconds": ("会话时长中位数(秒)", "Median session length (s)"),
    "conversion": ("浏览-购买转化率", "View-to-purchase conversion"),
    "viewed": ("浏览", "Viewed"),
    "carted": ("加购", "Added to cart"),
    "favorited": ("收藏", "Favourited"),
    "engaged": ("加购或收藏", "Cart or favourite"),
    "purchased": ("购买", "Purchased"),
    "purchased_direct": ("未加购直接购买", "Bought without cart/favourite"),
    "engage_rate": ("浏览-加购/收藏率", "View-to-cart/favourite rate"),
    "purchase_rate": ("加购/收藏-购买率", "Cart/favourite-to-purchase rate"),
    "median_view_to_engage_s": ("浏览到加购/收藏中位秒数", "Median view to cart/favourite (s)"),
    "median_engage_to_purchase_s": ("加购/收藏到购买中位秒数", "Median cart/favourite to purchase (s)"),
    "outcome": ("结果", "Outcome"),
    "path": ("路径", "Path"),
    "rank": ("排名", "Rank"),
    "step": ("步骤", "Step"),
    "source": ("起点", "From"),
    "target": ("终点", "To"),
}
_PATTERNS: list[tuple[str, str, str]] = [
    (r"rate_(\d+)d", "{}天复购率", "Repurchase rate {} days"),
    (r"repurchase_(\d+)d", "{}天复购客户", "Repurchased within {} days"),
    (r"eligible_(\d+)d", "{}天可观察客户", "Observable {} days"),
    (r"purchases_(\d+)d", "{}天预期购买", "Expected purchases {} days"),
    (r"value_(\d+)d_per_customer", "{}天人均预期价值", "Expected value per customer {} days"),
    (r"value_(\d+)d", "{}天预期价值", "Expected value {} days"),
]
KINDS = {
    "multi_channel": ("多渠道客户", "Multi-channel"),
    "single_channel": ("单渠道客户", "Single-channel"),
    "purchase": ("购买", "Purchase"),
    "drop_off": ("流失", "Drop-off"),
}
#: the event types of a path, for display
STEP_NAMES = {
    "view": ("浏览", "View"),
    "cart": ("加购", "Cart"),
    "favorite": ("收藏", "Favourite"),
    "purchase": ("购买", "Purchase"),
    "exit": ("离开", "Exit"),
    "...": ("…", "…"),
}


def path_label(path: str, lang: str) -> str:
    """'view>cart>purchase' as 浏览 → 加购 → 购买 (zh) or View → Cart → Purchase (en)."""
    i = 0 if lang.lower().startswith("zh") else 1
    return " → ".join(STEP_NAMES.get(s, (s, s))[i] for s in path.split(">"))


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
