"""The dashboard's words in zh-CN and en, and number formats (money in the base currency, rates in %)."""

from __future__ import annotations

import math
from typing import Any

LANGS = ("zh-CN", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # key: (zh-CN, en)
    "app_title": ("渠道经营看板", "Channel dashboard"),
    "nav_overview": ("总览", "Overview"),
    "nav_trends": ("趋势", "Trends"),
    "nav_channels": ("渠道", "Channels"),
    "nav_distributors": ("分销商", "Distributors"),
    "nav_funnel": ("转化漏斗", "Funnel"),
    "nav_alerts": ("告警", "Alerts"),
    "nav_health": ("数据健康", "Data health"),
    "dates": ("日期", "Dates"),
    "channel": ("渠道", "Channel"),
    "distributor": ("分销商", "Distributor"),
    "campaign": ("活动", "Campaign"),
    "all": ("全部", "All"),
    "language": ("语言", "Language"),
    "logout": ("退出", "Log out"),
    "vs_previous": ("较上期", "vs previous"),
    "previous_period": ("上期", "Previous period"),
    "no_data": ("所选范围内没有数据", "No data in the selected range"),
    "target": ("目标", "Target"),
    "attainment": ("达成率", "Attainment"),
    "pacing": ("进度", "Pacing"),
    "expected_to_date": ("应达进度", "Expected to date"),
    "projection": ("预计达成", "Projected"),
    "no_target": ("未设目标", "No target"),
    "change_decomposition": ("GMV 变化拆解（访客 × 转化率 × 客单价）", "GMV change: visitors × conversion × AOV"),
    "part_visitors": ("访客", "Visitors"),
    "part_channel_mix": ("渠道结构", "Channel mix"),
    "part_conversion_rate": ("转化率", "Conversion rate"),
    "part_aov": ("客单价", "AOV"),
    "part_keep_rate": ("留存率", "Keep rate"),
    "part_new_or_lost": ("新增/流失", "New or lost"),
    "part_undecomposed": ("未拆解", "Undecomposed"),
    "before": ("上期", "Before"),
    "after": ("本期", "After"),
    "metric": ("指标", "Metric"),
    "dimension": ("维度", "Dimension"),
    "grain": ("粒度", "Grain"),
    "compare": ("对比", "Compare"),
    "none": ("无", "None"),
    "grain_day": ("日", "Day"),
    "grain_week": ("周", "Week"),
    "grain_month": ("月", "Month"),
    "grain_quarter": ("季", "Quarter"),
    "compare_previous": ("上一期", "Previous period"),
    "compare_yoy": ("同比", "Year over year"),
    "compare_wow": ("周环比", "Week over week"),
    "total": ("合计", "Total"),
    "dim_channel_kind": ("渠道类型", "Channel kind"),
    "dim_platform": ("平台", "Platform"),
    "dim_region": ("地区", "Region"),
    "dim_category": ("品类", "Category"),
    "dim_customer_type": ("新老客", "New / returning"),
    "dim_distributor_tier": ("分销层级", "Distributor tier"),
    "share": ("GMV 占比", "GMV share"),
    "growth": ("GMV 增长", "GMV growth"),
    "portfolio": (
        "渠道组合：增长 × 贡献利润率（气泡 = GMV）",
        "Channel portfolio: growth × contribution margin rate (size = GMV)",
    ),
    "channel_table": ("渠道对比", "Channel comparison"),
    "leaderboard": ("分销商排行", "Distributor leaderboard"),
    "active_days": ("动销天数", "Active days"),
    "below_map": ("低于最低限价", "Below min. price"),
    "top_distributors": ("GMV 前 15 分销商", "Top 15 distributors by GMV"),
    "funnel_title": ("转化漏斗", "Conversion funnel"),
    "funnel_rates": ("各渠道加购率与支付转化率", "Cart and conversion rate by channel"),
    "funnel_table": ("各渠道转化", "Conversion by channel"),
    "stage_impressions": ("曝光", "Impressions"),
    "stage_visitors": ("访客", "Visitors"),
    "stage_cart": ("加购", "Add to cart"),
    "stage_orders": ("下单", "Orders"),
    "stage_paid": ("支付", "Paid"),
    "stage_kept": ("未退款", "Kept"),
    "alerts_title": ("告警收件箱", "Alerts inbox"),
    "status": ("状态", "Status"),
    "status_open": ("未处理", "Open"),
    "status_acknowledged": ("已确认", "Acknowledged"),
    "status_resolved": ("已解决", "Resolved"),
    "status_all": ("全部", "All"),
    "severity": ("级别", "Severity"),
    "severity_critical": ("严重", "Critical"),
    "severity_warning": ("警告", "Warning"),
    "severity_info": ("提示", "Info"),
    "alert": ("告警", "Alert"),
    "expected": ("预期", "expected"),
    "period": ("周期", "Period"),
    "opened": ("最近发生 (UTC)", "Last seen (UTC)"),
    "actions": ("操作", "Actions"),
    "acknowledge": ("确认", "Acknowledge"),
    "resolve": ("解决", "Resolve"),
    "no_alerts": ("没有告警", "No alerts"),
    "freshness": ("数据新鲜度", "Freshness"),
    "source": ("数据源", "Source"),
    "last_loaded": ("最近加载 (UTC)", "Last loaded (UTC)"),
    "age_hours": ("距今(小时)", "Age (hours)"),
    "expect_every": ("预期间隔", "Expected every"),
    "state": ("状态", "State"),
    "state_fresh": ("正常", "Fresh"),
    "state_stale": ("过期", "Stale"),
    "state_never": ("从未加载", "Never loaded"),
    "batches": ("批次", "Batches"),
    "rows": ("行数", "Rows"),
    "ledger": ("加载台账", "Batch ledger"),
    "quarantine": ("隔离区（按原因）", "Quarantine by reason"),
    "reason": ("原因", "Reason"),
    "file": ("文件", "File"),
    "started": ("开始 (UTC)", "Started (UTC)"),
    "rows_in": ("输入", "Rows in"),
    "loaded": ("已加载", "Loaded"),
    "quarantined": ("已隔离", "Quarantined"),
    "duplicates": ("重复", "Duplicates"),
    "nothing_quarantined": ("隔离区为空", "Nothing in quarantine"),
    "error": ("出错了", "Something went wrong"),
    "forbidden": ("无权查看", "Not allowed"),
    # marketing page
    "nav_marketing": ("营销", "Marketing"),
    "mkt_scoped": (
        "营销模型覆盖全部渠道，渠道范围内的账号无法查看。",
        "The marketing models cover every channel; a channel-scoped account cannot see them.",
    ),
    "mkt_note": (
        "模型基于全部历史（{days} 天，不随日期筛选变化）：R² {r2:.3f}，MAPE {mape:.2f}%，样本外 MAPE {oos:.2f}%，拟合 {secs:.1f} 秒。",
        "Models use the whole history ({days} days, not the date filter): R² {r2:.3f}, MAPE {mape:.2f}%, "
        "out-of-sample MAPE {oos:.2f}%, fitted in {secs:.1f} s.",
    ),
    "mkt_unreliable": (
        "模型解释力不足（R² 低于 0.8 或样本外误差高于 15%）：以下 ROAS、增量和分配建议不可作为预算依据。",
        "The model explains too little (R² below 0.8 or out-of-sample error above 15%): do not base budgets "
        "on the ROAS, uplift and allocation below.",
    ),
    "mkt_roi": (
        "各口径 ROI（平台报告 / 订单 / 归因 / 增量）",
        "ROI by basis (platform-reported / orders / attributed / incremental)",
    ),
    "mkt_platform": ("广告平台", "Ad platform"),
    "mkt_spend": ("花费", "Spend"),
    "mkt_roas_platform": ("ROAS 平台口径", "ROAS platform"),
    "mkt_roas_orders": ("ROAS 订单口径", "ROAS orders"),
    "mkt_roas_attributed": ("ROAS 归因口径", "ROAS attributed"),
    "mkt_roas_incremental": ("ROAS 增量口径", "ROAS incremental"),
    "mkt_marginal": ("边际 ROAS", "Marginal ROAS"),
    "mkt_attribution": ("归因模型对比（订单数）", "Attribution models compared (orders)"),
    "mkt_curves": ("响应曲线（点 = 当前花费）", "Response curves (dot = today's spend)"),
    "mkt_contribution": ("贡献 GMV", "Contribution GMV"),
    "mkt_uplift": ("促销增量与反事实", "Promotion uplift against the counterfactual"),
    "mkt_promotion": ("促销", "Promotion"),
    "mkt_uplift_value": ("增量 GMV", "Uplift GMV"),
    "mkt_uplift_pct": ("增幅", "Uplift %"),
    "mkt_interval": ("95% 区间", "95% interval"),
    "mkt_hangover": ("之后透支", "Hangover after"),
    "mkt_net": ("净增量", "Net uplift"),
    "mkt_counterfactual": ("反事实（无促销）", "Counterfactual (no promotion)"),
    "mkt_actual": ("实际", "Actual"),
    "mkt_allocator": ("预算分配建议（总额不变）", "Budget allocation (same total)"),
    "mkt_gain": (
        "预期增量 GMV {gain}（95% 区间 {low} – {high}）",
        "Expected extra GMV {gain} (95% interval {low} – {high})",
    ),
    "mkt_current": ("当前花费", "Current spend"),
    "mkt_recommended": ("建议花费", "Recommended spend"),
    "mkt_model_first": ("首次触点", "First touch"),
    "mkt_model_last": ("末次触点", "Last touch"),
    "mkt_model_last_non_direct": ("末次非直接", "Last non-direct"),
    "mkt_model_linear": ("线性", "Linear"),
    "mkt_model_time_decay": ("时间衰减", "Time decay"),
    "mkt_model_position": ("位置（U 型）", "Position based"),
    "mkt_model_markov": ("马尔可夫", "Markov"),
    "mkt_model_shapley": ("Shapley", "Shapley"),
}


def dropdown_labels(lang: str) -> Any:
    """The words inside Dash's dropdown (search box, select all...), which default to English."""
    if lang == "en":
        return {}
    return {
        "select_all": "全选",
        "deselect_all": "全部取消",
        "selected_count": "已选 {num_selected} 项",
        "search": "搜索",
        "clear_search": "清除搜索",
        "clear_selection": "清除选择",
        "no_options_found": "没有匹配项",
    }


def lang_of(value: str | None) -> str:
    """A supported language: zh-CN unless the value starts with 'en'."""
    return "en" if value and value.lower().startswith("en") else "zh-CN"


def t(key: str, lang: str) -> str:
    """The text of ``key`` in ``lang`` (zh-CN or en); the key itself when unknown, so a gap shows, not crashes."""
    pair = _TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def metric_label(catalog: Any, name: str, lang: str) -> str:
    """The label of a KPI from the project's catalog (one definition per KPI, one name everywhere)."""
    try:
        m = catalog.get(name)
    except KeyError:
        return name
    return str(m.label_en if lang == "en" else m.label_zh)


def metric_unit(catalog: Any, name: str) -> str:
    """money | count | quantity | percent | ratio (as declared in the catalog)."""
    try:
        return str(catalog.get(name).unit)
    except KeyError:
        return "count"


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def fmt_value(value: Any, unit: str, *, compact: bool = False, lang: str = "zh-CN") -> str:
    """A number as people read it: money ¥1,234.56 (-¥12.00), counts 1,234, percent 12.3%, ratio 1.23.
    ``compact`` shortens big money: ¥68.2万 in Chinese, ¥682.2K / ¥1.2M in English. Empty: '–'."""
    if is_missing(value):
        return "–"
    x = float(value)
    if unit == "percent":
        return f"{x * 100:.1f}%"
    if unit == "money":
        sign, a = ("-" if x < 0 else ""), abs(x)
        if compact and a >= 100_000:
            if lang == "en":
                return f"{sign}¥{a / 1e6:,.2f}M" if a >= 1e6 else f"{sign}¥{a / 1e3:,.1f}K"
            return f"{sign}¥{a / 1e8:,.2f}亿" if a >= 1e8 else f"{sign}¥{a / 1e4:,.1f}万"
        return f"{sign}¥{a:,.2f}"
    if unit == "ratio":
        return f"{x:,.2f}"
    return f"{x:,.0f}"


def fmt_change(value: Any) -> str:
    """A relative change as +12.3% / -4.0%; '–' when there is nothing to compare with."""
    if is_missing(value):
        return "–"
    return f"{float(value) * 100:+.1f}%"
